// A survey lane past this device's own fence is flown up to the fence (fenceCut) with the mission-reflexes
// agent watching the same fence, as on a device: the agent holds a drone whose position 2 s ahead lies
// outside and keeps it held, so the lane must end far enough inside (fenceCutMarginM) that a drone
// braking to it is not predicted across. With the cut 2 m short of the fence the agent held the drone
// 7 m before it and the task never finished. The agent, the scheduler and the executor wired as
// runtime/device/device.ts wires them, on a simulated multirotor 20x faster than the wall clock.

import { afterEach, describe, expect, it } from 'vitest';
import { Executor, type ExecReport } from '../../runtime/device/executor.js';
import { executorRig, origin, reflexesOn, stopRigs, until } from './executor-rig.js';

afterEach(() => stopRigs());

describe("executor and the reflexes at this device's own fence", () => {
  it('flies each lane up to the fence and back in from it, with no reflex hold, and finishes', async () => {
    const { vehicle, devices } = await executorRig();
    const fence = [{ northM: -20, eastM: -20 }, { northM: 120, eastM: -20 }, { northM: 120, eastM: 30 }, { northM: -20, eastM: 30 }];
    const reports: ExecReport[] = [];
    const logs: string[] = [];
    const ex = new Executor(devices, origin, (r) => reports.push(r), (m) => logs.push(m), { fence });
    let eastMost = -Infinity;
    const actions = await reflexesOn(vehicle, devices, ex, { fence }, () => (eastMost = Math.max(eastMost, vehicle.state().eastM)));
    // Two lanes whose far ends (60 m east) lie past the fence at 30 m east, at 8 m/s.
    ex.run('m1', { type: 'waypoints', mission: 'm1', waypoints: [{ n: 400, e: 0 }, { n: 400, e: 600 }, { n: 800, e: 600 }, { n: 800, e: 0 }], altDm: 200, speedDmps: 80, then: 'hold' });
    const finished = await until(() => reports.some((r) => r.stage === 'done' || r.stage === 'failed'), 30_000);
    const why = `actions ${JSON.stringify(actions.slice(0, 8))} logs ${JSON.stringify(logs.slice(0, 8))} reports ${JSON.stringify(reports.slice(-2))} east-most ${eastMost.toFixed(1)} m`;
    expect(finished, why).toBe(true);
    expect(reports.map((r) => r.stage), why).toContain('done');
    expect(actions, why).toEqual([]); // before (the cut 2 m short): "hold by mission-reflexes (...geofence...)", and no done
    expect(eastMost, why).toBeGreaterThan(17);
    expect(eastMost, why).toBeLessThan(25);
  }, 60_000);
});
