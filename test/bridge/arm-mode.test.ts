// ArduCopter refuses to arm in RTL, SMART_RTL, AUTO_RTL, LAND and (by default) AUTO: "Arm: Mode not
// armable" (Mode::allows_arming). A copter that came home on its return, or landed, stays in that mode
// on the ground, so the next task's arm was refused, asked again once a second for the executor's
// arming wait (120 s), and the task failed with that text. The driver's arm takes such a vehicle to
// GUIDED first, the mode its take-off flies in anyway. The simulated FC (ArduPilot, which refuses as
// ArduCopter does) runs in this process, joined to the companion in memory; the test leaves it in
// each of those modes on the ground, as ArduCopter is after landing in it.

import { afterEach, describe, expect, it } from 'vitest';
import { inMemoryFc, waitFor } from './companion.js';

const cleanup: Array<() => void> = [];
afterEach(() => cleanup.splice(0).forEach((f) => f()));

describe('arming an ArduPilot copter left in a mode it does not arm in', () => {
  for (const mode of ['return', 'land', 'mission'] as const) {
    it(`from ${mode} on the ground: armed (in guided), and it takes off`, async () => {
      const { fc, vehicle, stop } = inMemoryFc({ fc: { speedFactor: 4 } });
      cleanup.push(stop);
      await waitFor('the FC heard, with a position', () => vehicle.connected() && vehicle.telemetry.position !== null, 10_000);
      fc.vehicle.setMode(mode); // where ArduCopter stays after landing in it
      await waitFor(`the companion sees mode ${mode}`, () => vehicle.mode() === mode, 5_000);
      const arm = await vehicle.execute({ type: 'arm' });
      expect(arm.ok ? 'armed' : arm.error.message).toBe('armed'); // before: 'COMPONENT_ARM_DISARM: DENIED (the flight controller said "Arm: Mode not armable")'
      expect(fc.vehicle.state().mode).toBe('guided');
      expect((await vehicle.execute({ type: 'takeoff', relAltM: 5 })).ok).toBe(true);
      await waitFor('4.5 m up', () => (vehicle.telemetry.position?.relativeAlt ?? 0) > 4_500, 20_000);
    }, 30_000);
  }
});
