// A task that finds the drone in its last metres of a landing (a survey sent just after an abort) waits
// for the touchdown and takes off from the ground. Before, its first goto went to a vehicle below
// 0.5 m, which refused it as not flying, and the task failed (a flake of test/device/e2e.test.ts in a
// clean-clone CI run). The simulated multirotor runs 20x faster than the wall clock (executor-rig).

import { describe, expect, it } from 'vitest';
import { defaultSimConfig } from '../../hal/sim/sim-config.js';
import { testRig, until } from './executor-rig.js';
import type { FlightAction } from '../../hal/devices.js';

describe('a task given while the drone is landing', () => {
  it('low in its landing: waits for the touchdown, takes off again and flies the task', async ({ onTestFinished }) => {
    // Its landing slowed to 5 cm/s, so its last half metre (where a goto is refused) lasts 8 simulated
    // seconds (0.4 s of the wall clock) and the test catches it there on a loaded machine too.
    const { vehicle, devices, ex, reports, logs } = await testRig(onTestFinished, [], { limits: { ...defaultSimConfig.limits, descentMpsMax: 0.05 } });
    expect(vehicle.arm().ok).toBe(true);
    expect(vehicle.takeoff(3).ok).toBe(true);
    expect(await until(() => vehicle.state().upM > 2.5, 10_000), 'up').toBe(true);
    expect(vehicle.land().ok).toBe(true);
    const low = (): boolean => {
      const s = devices.flight.state();
      return s.ok && s.value.landed === 'landing' && vehicle.state().upM < 0.45;
    };
    expect(await until(low, 20_000), 'landing, below 0.45 m').toBe(true);
    ex.run('m1', { type: 'waypoints', mission: 'm1', waypoints: [{ n: 100, e: 0 }], altDm: 100, speedDmps: 80, then: 'hold' });
    expect(await until(() => reports.some((r) => r.stage === 'done' || r.stage === 'failed'), 30_000), JSON.stringify(reports)).toBe(true);
    expect(reports.filter((r) => r.stage === 'failed'), logs.join('\n')).toEqual([]); // before: failed, "goto: goto refused: not flying"
    expect(reports.some((r) => r.stage === 'done')).toBe(true);
    expect(vehicle.state().northM).toBeGreaterThan(5); // flown toward its waypoint 10 m north (done within the arrival radius)
  }, 60_000);

  it('higher in its landing, touched down before the first goto reached it: takes off again and flies the task', async ({ onTestFinished }) => {
    // Found landing above 2 m it is flown on from the air; but a fast descent (at e2e's timeScale 20 one
    // 100 ms device tick is 3 m of it) can put it down before the goto arrives, which a vehicle below
    // 0.5 m refuses as not flying: the e2e flake of 2026-12-06 ("goto: goto refused: not flying").
    // Here the first goto is held until the touchdown, so it arrives after it every time.
    const { vehicle, devices, ex, reports, logs } = await testRig(onTestFinished);
    expect(vehicle.arm().ok).toBe(true);
    expect(vehicle.takeoff(4).ok).toBe(true);
    expect(await until(() => vehicle.state().upM > 3.5, 10_000), 'up').toBe(true);
    expect(vehicle.land().ok).toBe(true);
    const high = (): boolean => {
      const s = devices.flight.state();
      return s.ok && s.value.landed === 'landing' && vehicle.state().upM > 2.2;
    };
    expect(await until(high, 20_000), 'landing, above 2 m').toBe(true);
    const execute = devices.flight.execute.bind(devices.flight);
    let held = false;
    devices.flight.execute = async (a: FlightAction) => {
      if (a.type === 'goto' && !held) {
        held = true;
        await until(() => vehicle.state().upM < 0.1, 20_000); // the goto on its way while the drone touches down
      }
      return execute(a);
    };
    ex.run('m1', { type: 'waypoints', mission: 'm1', waypoints: [{ n: 100, e: 0 }], altDm: 100, speedDmps: 80, then: 'hold' });
    expect(await until(() => reports.some((r) => r.stage === 'done' || r.stage === 'failed'), 30_000), JSON.stringify(reports)).toBe(true);
    expect(held).toBe(true);
    expect(reports.filter((r) => r.stage === 'failed'), logs.join('\n')).toEqual([]); // before: failed, "goto: goto refused: not flying"
    expect(logs.join('\n')).toMatch(/the vehicle touched down before the first goto \(goto: goto refused: not flying\): taking off again/);
    expect(reports.some((r) => r.stage === 'done')).toBe(true);
    expect(vehicle.state().northM).toBeGreaterThan(5);
  }, 60_000);
});
