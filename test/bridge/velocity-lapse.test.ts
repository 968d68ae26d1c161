// A velocity setpoint not renewed lapses after 1.5 s: the stream stops and the vehicle is told to hold
// (MavlinkVehicle.sendSetpoint). Only out of the mode the stream put it in: a pilot who switched to a
// manual mode meanwhile, or the FC's own failsafe return, keeps the vehicle. The device stops renewing
// a reflex's velocity exactly then (Executor.reflexAction refuses it once a pilot or the FC's failsafe
// has the vehicle), so the lapse follows every such takeover. The simulated FC (ArduPilot) runs in this
// process, joined to the companion in memory; the test switches its mode as a pilot or its failsafe would.

import { describe, expect, it } from 'vitest';
import type { FlightMode } from '../../hal/devices.js';
import { mavCmd } from '../../firmware-bridge/mavlink/vehicle.js';
import { airborne, inMemoryFc, longCommand, waitFor } from './companion.js';

// Each test flies its own simulated FC, so the two run at once (describe.concurrent); each stops its
// own FC at its end, passed or failed, through the test's onTestFinished.
describe.concurrent('a velocity not renewed after the vehicle left guided', () => {
  for (const [who, mode] of [['a pilot’s switch to a manual mode', 'manual'], ['the FC’s own failsafe return', 'return']] as const) {
    it(`stops streaming and leaves the vehicle in ${who}`, async ({ onTestFinished }) => {
      let modeCommands = 0;
      const { fc, vehicle, stop } = inMemoryFc({
        fc: { speedFactor: 4 },
        fromCompanion: (f, pass) => {
          if (longCommand(f) === mavCmd.doSetMode) modeCommands++;
          pass(f);
        },
      });
      onTestFinished(stop);
      await airborne(vehicle, 10);
      expect((await vehicle.execute({ type: 'velocity', northMps: 0, eastMps: 2, downMps: 0 })).ok).toBe(true);
      expect(vehicle.mode()).toBe('guided');
      // The pilot's switch, or the FC's failsafe, 0.2 s into the velocity.
      await new Promise((r) => setTimeout(r, 200));
      if (mode === 'manual') fc.vehicle.setMode('manual');
      else expect(fc.vehicle.returnToLaunch().ok).toBe(true);
      await waitFor(`the companion sees mode ${mode}`, () => vehicle.mode() === mode, 5_000);
      const commandedBefore = modeCommands;
      const modes = new Set<FlightMode>();
      for (const t0 = Date.now(); Date.now() - t0 < 3_000; await new Promise((r) => setTimeout(r, 20))) modes.add(fc.vehicle.state().mode);
      expect(vehicle.velocityLapses).toBe(1); // the stream stopped
      expect(modeCommands - commandedBefore).toBe(0); // before: 1, DO_SET_MODE hold, 1.5 s after the velocity
      // The simulated multirotor ends a velocity target in a hold of its own whatever its mode (its
      // 'manual' has no sticks), so the FC's mode is checked where the FC itself sets a new target.
      if (mode === 'return') expect([...modes]).toEqual(['return']); // before: return, then hold
    }, 60_000);
  }
});
