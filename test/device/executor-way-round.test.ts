// The leg from where the drone is to its route's next waypoint, which no committed plan knows (its way
// to the route, or on after the obstacle reflex stopped it), goes round the committed keep-outs
// (runtime/mission/hazards.ts wayFrom). On the simulated multirotor, 20x faster than the wall clock.
// Before, the executor flew that leg straight: fleet-sim's default scenario flew f08 into the mast.

import { afterEach, describe, expect, it } from 'vitest';
import { Executor, type ExecReport } from '../../runtime/device/executor.js';
import { SimMultirotor } from '../../hal/sim/multirotor.js';
import { createSimDevices } from '../../hal/sim/sim-devices.js';
import { Prng } from '../../runtime/lib/prng.js';
import { keepOuts } from '../../runtime/mission/hazards.js';

const origin = { latDeg: 47.397742, lonDeg: 8.545594 };
const timeScale = 20;
const timers: NodeJS.Timeout[] = [];
afterEach(() => timers.splice(0).forEach((t) => clearInterval(t)));

describe('executor: the leg from the drone to its route', () => {
  it('goes round a committed keep-out across it, and arrives', async () => {
    // A mast 40 m north of the pad, on the way to the first waypoint 80 m north.
    const vehicle = new SimMultirotor({ origin: { ...origin, altMslM: 488 }, obstacles: [{ northM: 40, eastM: 0, radiusM: 4, heightM: 60 }] }, new Prng(9), 0, { northM: 0, eastM: 0 });
    const devices = createSimDevices(vehicle);
    for (const d of [devices.position, devices.attitude, devices.battery, devices.range, devices.flight]) await d.start();
    const t0 = Date.now();
    const track: { northM: number; eastM: number }[] = [];
    const reports: ExecReport[] = [];
    const ex = new Executor(devices, origin, (r) => reports.push(r), () => undefined);
    // The committed hazard: the 5 m cells round the mast (cellDm 50), as the swarm commits them.
    const zones = keepOuts({ cellDm: 50, cells: [[7, -1], [7, 0], [8, -1], [8, 0]] });
    expect(zones).toHaveLength(1);
    ex.keepFence(null, 0, zones);
    timers.push(
      setInterval(() => {
        vehicle.step((Date.now() - t0) * timeScale);
        const p = ex.position();
        if (p) track.push(p);
      }, 10),
    );
    ex.run('m1', { type: 'waypoints', mission: 'm1', waypoints: [{ n: 800, e: 0 }, { n: 800, e: 300 }], altDm: 200, speedDmps: 80, then: 'hold' });
    for (const start = Date.now(); Date.now() - start < 25_000 && !reports.some((r) => r.stage === 'done' || r.stage === 'failed'); ) await new Promise((r) => setTimeout(r, 20));
    expect(reports.map((r) => r.stage), JSON.stringify(reports.slice(-2))).toContain('done');
    expect(vehicle.strikes()).toEqual([]);
    // Abeam the mast it was well off the straight line (the keep-out's radius, margin included).
    const z = zones[0] as { n: number; e: number; r: number };
    const abeam = track.filter((p) => Math.abs(p.northM - z.n / 10) < 3);
    expect(abeam.length).toBeGreaterThan(0);
    for (const p of abeam) expect(Math.hypot(p.northM - z.n / 10, p.eastM - z.e / 10)).toBeGreaterThan(z.r / 10 - 3);
  }, 40_000);
});
