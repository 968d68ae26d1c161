// The leg from where the drone is to its route's next waypoint, which no committed plan knows (its way
// to the route, or on after the obstacle reflex stopped it), goes round the committed keep-outs
// (runtime/mission/hazards.ts wayFrom). On the executor rig's simulated multirotor (20x the wall clock).
// Before, the executor flew that leg straight: fleet-sim's default scenario flew f08 into the mast.

import { afterEach, describe, expect, it } from 'vitest';
import { keepOuts } from '../../runtime/mission/hazards.js';
import { executorRig, stopRigs, until } from './executor-rig.js';

const samplers: NodeJS.Timeout[] = [];
afterEach(() => {
  stopRigs();
  samplers.splice(0).forEach((t) => clearInterval(t));
});

describe('executor: the leg from the drone to its route', () => {
  it('goes round a committed keep-out across it, and arrives', async () => {
    // A mast 40 m north of the pad, on the way to the first waypoint 80 m north.
    const { vehicle, ex, reports } = await executorRig([{ northM: 40, eastM: 0, radiusM: 4, heightM: 60 }]);
    // The committed hazard: the 5 m cells round the mast (cellDm 50), as the swarm commits them.
    const zones = keepOuts({ cellDm: 50, cells: [[7, -1], [7, 0], [8, -1], [8, 0]] });
    expect(zones).toHaveLength(1);
    ex.keepFence(null, 0, zones);
    const track: { northM: number; eastM: number }[] = [];
    samplers.push(
      setInterval(() => {
        const p = ex.position();
        if (p) track.push(p);
      }, 10),
    );
    ex.run('m1', { type: 'waypoints', mission: 'm1', waypoints: [{ n: 800, e: 0 }, { n: 800, e: 300 }], altDm: 200, speedDmps: 80, then: 'hold' });
    await until(() => reports.some((r) => r.stage === 'done' || r.stage === 'failed'), 25_000);
    expect(reports.map((r) => r.stage), JSON.stringify(reports.slice(-2))).toContain('done');
    expect(vehicle.strikes()).toEqual([]);
    // Abeam the mast it was well off the straight line (the keep-out's radius, margin included).
    const z = zones[0] as { n: number; e: number; r: number };
    const abeam = track.filter((p) => Math.abs(p.northM - z.n / 10) < 3);
    expect(abeam.length).toBeGreaterThan(0);
    for (const p of abeam) expect(Math.hypot(p.northM - z.n / 10, p.eastM - z.e / 10)).toBeGreaterThan(z.r / 10 - 3);
  }, 40_000);
});
