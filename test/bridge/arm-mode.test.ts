// A vehicle left in a return or landing mode on the ground (ArduCopter stays in the one it landed in;
// PX4 goes back to the mode before it once disarmed, UserModeIntention::onDisarm, but a ground station
// may switch it there), and neither autopilot arms there.
// ArduCopter refuses in RTL, SMART_RTL, AUTO_RTL, LAND and (by default) AUTO: "Arm: Mode not armable"
// (Mode::allows_arming); PX4 in the modes its mode requirements mark prevent-arming, AUTO.RTL and
// AUTO.LAND among them ("Mode not suitable for arming", ModeChecks). So the next task's arm was refused,
// asked again once a second for the executor's arming wait (120 s), and the task failed with that text.
// The driver's arm takes such a vehicle first to ArduPilot's GUIDED, the mode its take-off flies in
// anyway, or to PX4's hold (AUTO.LOITER). The simulated FC (refusing as each autopilot does) runs in
// this process, joined to the companion in memory; the test leaves it in each of those modes on the
// ground.

import { describe, expect, it } from 'vitest';
import { inMemoryFc, waitFor } from './companion.js';

const cases = [
  { family: 'ardupilot', mode: 'return', armsIn: 'guided' },
  { family: 'ardupilot', mode: 'land', armsIn: 'guided' },
  { family: 'ardupilot', mode: 'mission', armsIn: 'guided' },
  { family: 'px4', mode: 'return', armsIn: 'hold' },
  { family: 'px4', mode: 'land', armsIn: 'hold' },
] as const;

// Each case flies its own simulated FC, so the cases run at once (describe.concurrent); each stops its
// own FC at its end, passed or failed, through the test's onTestFinished.
describe.concurrent('arming a copter left in a mode it does not arm in', () => {
  for (const c of cases) {
    it(`${c.family}, from ${c.mode} on the ground: armed (in ${c.armsIn}), and it takes off`, async ({ onTestFinished }) => {
      const { fc, vehicle, stop } = inMemoryFc({ fc: { family: c.family, speedFactor: 4 } });
      onTestFinished(stop);
      await waitFor('the FC heard, with a position', () => vehicle.connected() && vehicle.telemetry.position !== null, 10_000);
      fc.vehicle.setMode(c.mode); // where the autopilot stays after landing in it
      await waitFor(`the companion sees mode ${c.mode}`, () => vehicle.mode() === c.mode, 5_000);
      const arm = await vehicle.execute({ type: 'arm' });
      // before: 'COMPONENT_ARM_DISARM: DENIED (the flight controller said "Arm: Mode not armable")', or
      // on PX4 '... "Preflight Fail: Mode not suitable for arming"'
      expect(arm.ok ? 'armed' : arm.error.message).toBe('armed');
      expect(fc.vehicle.state().mode).toBe(c.armsIn);
      expect((await vehicle.execute({ type: 'takeoff', relAltM: 5 })).ok).toBe(true);
      await waitFor('4.5 m up', () => (vehicle.telemetry.position?.relativeAlt ?? 0) > 4_500, 20_000);
    }, 30_000);
  }
});
