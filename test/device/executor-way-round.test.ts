// The leg from where the drone is to its route's next waypoint, which no committed plan knows (its way
// to the route, or on after the obstacle reflex stopped it), goes round the committed keep-outs
// (runtime/mission/hazards.ts wayFrom). On the executor rig's simulated multirotor (20x the wall clock).
// Before, the executor flew that leg straight: fleet-sim's default scenario flew f08 into the mast.

import { afterEach, describe, expect, it } from 'vitest';
import { keepOuts } from '../../runtime/mission/hazards.js';
import { executorRig, stopRigs, until } from './executor-rig.js';

afterEach(stopRigs);

describe('executor: the leg from the drone to its route', () => {
  it('goes round a committed keep-out across it, and arrives', async () => {
    // The committed hazard: the 5 m cells round a mast 40 m north of the pad (cellDm 50), as the swarm
    // commits them, on the way to the first waypoint 80 m north.
    const zones = keepOuts({ cellDm: 50, cells: [[7, -1], [7, 0], [8, -1], [8, 0]] });
    expect(zones).toHaveLength(1);
    const z = zones[0] as { n: number; e: number; r: number };
    // The keep-out less 3 m of position-controller error, as a second obstacle: the simulated vehicle
    // counts any entry into it at every physics step, so no strike means the drone went round the
    // keep-out (margin included), not merely past the mast.
    const probe = { northM: z.n / 10, eastM: z.e / 10, radiusM: z.r / 10 - 3, heightM: 60 };
    const { vehicle, ex, reports } = await executorRig([{ northM: 40, eastM: 0, radiusM: 4, heightM: 60 }, probe]);
    ex.keepFence(null, 0, zones);
    ex.run('m1', { type: 'waypoints', mission: 'm1', waypoints: [{ n: 800, e: 0 }, { n: 800, e: 300 }], altDm: 200, speedDmps: 80, then: 'hold' });
    await until(() => reports.some((r) => r.stage === 'done' || r.stage === 'failed'), 25_000);
    expect(reports.map((r) => r.stage), JSON.stringify(reports.slice(-2))).toContain('done');
    expect(vehicle.strikes()).toEqual([]);
  }, 40_000);
});
