// The next flight of a drone the executor landed on ArduCopter, end to end: the simulated ArduCopter as
// its own process on a socat pty, the device's executor on the MAVLink drivers over it. ArduCopter stays,
// landed and disarmed, in the mode it landed in (RTL or LAND: AP_Arming_Copter::disarm changes no mode)
// and arms in neither ("Arm: Mode not armable"). The executor flies a route, brings the drone down with
// an operator's rtl or land, and is then given the next task: MavlinkVehicle.arm switches to GUIDED
// first, the task takes off and flies its route, and the executor's own-modes judgement (OwnModes) takes
// neither the RTL or LAND on the ground nor the switch out of it as someone else's: nothing is handed
// over. Before, the simulated ArduCopter showed LOITER after every landing, so this path went untried.

import { describe, expect, it } from 'vitest';
import { geoToLocal } from '../../hal/geo.js';
import { defaultSimConfig } from '../../hal/sim/sim-config.js';
import { mavlinkExecutor, simFcRig, waitFor } from '../bridge/companion.js';

const cases = [
  { down: 'rtl', landsIn: 'return' },
  { down: 'land', landsIn: 'land' },
] as const;

describe.concurrent('the next task of a drone the executor landed on ArduCopter (left in RTL or LAND)', () => {
  for (const c of cases) {
    it(`landed by ${c.down === 'rtl' ? 'an rtl' : 'a land'}, disarmed in ${c.landsIn}: the next task arms (GUIDED first), takes off and flies its route; nothing handed over`, { timeout: 60_000 }, async (t) => {
      const cleanup: Array<() => Promise<void> | void> = [];
      t.onTestFinished(async () => {
        for (const f of cleanup.splice(0).reverse()) await f();
      });
      const rig = await simFcRig(['--autopilot', 'ardupilot', '--seed', '21', '--speed', '8', '--heartbeat-ms', '200'], 200);
      cleanup.push(() => rig.stop());
      const { ex, reports, logs } = await mavlinkExecutor(rig, cleanup);
      const { vehicle } = rig;
      const stages = (command: string): string[] => reports.filter((r) => r.command === command).map((r) => r.stage);
      const out = (): string => `\nreports ${JSON.stringify(reports)}\nlogs ${logs.join('\n')}`;

      ex.keepReturnAltitude(8); // the committed layer's, as a device keeps it: home at the route's 8 m
      await waitFor('the return altitude set', () => logs.some((l) => l.includes('return altitude set to 8 m')), 10_000).catch((e: Error) => expect.fail(`${e.message}${out()}`));
      ex.run('m1', { type: 'waypoints', mission: 'm1', waypoints: [{ n: 0, e: 150 }], altDm: 80, speedDmps: 80, then: 'hold' }, null, 'operator');
      await waitFor('the first route flown', () => stages('m1').includes('done'), 30_000).catch((e: Error) => expect.fail(`${e.message}${out()}`));
      ex.run('down', { type: c.down }, null, 'operator');
      await waitFor(`landed and disarmed in ${c.landsIn}`, () => !vehicle.armed() && vehicle.landed() === 'on-ground' && vehicle.mode() === c.landsIn, 40_000).catch((e: Error) => expect.fail(`${e.message} (mode ${vehicle.mode()})${out()}`));
      await waitFor(`the ${c.down} done`, () => stages('down').includes('done'), 5_000).catch((e: Error) => expect.fail(`${e.message}${out()}`));
      // Still there a second later: the FC does not leave it on its own.
      await new Promise((r) => setTimeout(r, 1_000));
      expect(vehicle.mode()).toBe(c.landsIn);

      const modesArmed: string[] = [];
      const watch = setInterval(() => {
        const m = vehicle.mode();
        if (vehicle.armed() && modesArmed.at(-1) !== m) modesArmed.push(m);
      }, 10);
      cleanup.push(() => clearInterval(watch));
      ex.run('m2', { type: 'waypoints', mission: 'm2', waypoints: [{ n: 200, e: 0 }], altDm: 80, speedDmps: 80, then: 'hold' }, null, 'operator');
      // An arming refused ("Arm: Mode not armable" in RTL or LAND) ends the wait at once: the executor
      // would ask again each second for its 120 s arming wait.
      await waitFor('the next route flown', () => stages('m2').includes('done') || stages('m2').includes('failed') || logs.some((l) => l.includes('arming refused')), 40_000).catch((e: Error) => expect.fail(`${e.message}${out()}`));
      expect(stages('m2').filter((s) => s !== 'progress'), out()).toEqual(['started', 'done']);
      // Armed in GUIDED (the driver's switch out of RTL or LAND), taken off and flown in it: no other mode.
      expect(modesArmed, out()).toEqual(['guided']);
      const p = vehicle.telemetry.position;
      const at = p ? geoToLocal(defaultSimConfig.origin, p.lat / 1e7, p.lon / 1e7) : null;
      expect(at && Math.hypot(at.northM - 20, at.eastM), JSON.stringify(at)).toBeLessThan(3);
      expect((p?.relativeAlt ?? 0) / 1000).toBeGreaterThan(6);
      expect(ex.handedOverBecause(), out()).toBeNull();
      expect(logs.filter((l) => l.includes("left the executor's control") || l.includes('arming refused')), out()).toEqual([]);
    });
  }
});
