// The device's path for an obstacle only this drone sees (the swarm never commits it: f+1 devices must
// attest a hazard): the mission-reflexes agent backs the drone off and reports where its beam hit
// (an `obstacle` output); the executor keeps a keep-out of its own there (sawObstacle) and, released,
// flies its leg round it. The agent, the scheduler and the executor wired as runtime/device/device.ts
// wires them, on a simulated multirotor with the 16-beam range ring, 20x faster than the wall clock.
// Before, released, the drone flew at the mast again, backed off again, and never finished its route.

import { afterEach, describe, expect, it } from 'vitest';
import { hazardRangeRing } from '../../agents/features/range.js';
import { executorRig, reflexesOn, stopRigs, until } from './executor-rig.js';

afterEach(() => stopRigs());

describe('executor and the obstacle back-off: an obstacle no other drone sees', () => {
  it('the drone gets round the mast on its route and finishes, without a strike, nothing committed', async () => {
    const mast = { northM: 0, eastM: 100, radiusM: 1.5, heightM: 60 };
    const { vehicle, devices, ex, reports, logs } = await executorRig([mast], { range: hazardRangeRing });
    const actions = await reflexesOn(vehicle, devices, ex);
    ex.run('g', { type: 'waypoints', mission: 'g', waypoints: [{ n: 0, e: 2_000 }], altDm: 200, speedDmps: 80, then: 'hold' });
    const done = await until(() => reports.some((r) => r.stage === 'done' || r.stage === 'failed'), 30_000);
    const why = `actions ${JSON.stringify(actions.slice(0, 8))} logs ${JSON.stringify(logs.slice(0, 8))} reports ${JSON.stringify(reports.slice(-2))}`;
    expect(done, why).toBe(true);
    expect(reports.map((r) => r.stage), why).toContain('done');
    expect(vehicle.strikes(), why).toEqual([]);
    expect(actions.some((a) => a.startsWith('velocity by mission-reflexes (obstacle at')), why).toBe(true);
    expect(logs.some((l) => l.includes("this drone's routing keeps clear of it")), why).toBe(true);
    const st = vehicle.state();
    expect(Math.hypot(st.northM, st.eastM - 200), why).toBeLessThan(3.5);
  }, 60_000);
});
