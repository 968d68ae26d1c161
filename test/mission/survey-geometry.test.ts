// Survey geometry: lawnmower lanes that leave no strip of the area unseen, and routes (and the way to
// them) that stay inside a concave committed geofence, or are refused with the reason.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { insidePolygon, lawnmowerLanes, legOutside, type Lane } from '../../runtime/mission/geometry.js';
import { applyBlock, initialMissionState } from '../../runtime/mission/machine.js';
import type { ApplyResult, Decision, MissionBlock, MissionCommand, MissionEffect, MissionState, MissionTx, PointDm, Task } from '../../runtime/mission/types.js';

const members = { epoch: 1, devices: ['d1', 'd2', 'd3', 'd4'], operators: [{ id: 'ops', roles: ['operator' as const] }, { id: 'boss', roles: ['admin' as const] }] };

let seq = 0;
const cmd = (type: string, args: Record<string, unknown>, operator = 'ops'): MissionCommand => ({ kind: 'command', id: `g${++seq}`, operator, type, args, issuedAt: 1_000, expiresAt: 1_000_000 });
const telemetry = (node: string, n: number, e: number): MissionTx => ({ kind: 'telemetry', node, pos: { n: n * 10, e: e * 10 }, altDm: 0, batteryPermille: 900, completed: null });

function run(state: MissionState, ...blocks: MissionTx[][]): ApplyResult {
  let r: ApplyResult = { state, effects: [] };
  for (const txs of blocks) {
    const block: MissionBlock = { height: r.state.height + 1, timeMs: 10_000 + r.state.height, members, txs };
    r = applyBlock(r.state, block);
  }
  return r;
}

const decision = (fx: readonly MissionEffect[]): Decision => {
  const d = fx.flatMap((e) => (e.type === 'decision' ? [e.decision] : []));
  expect(d).toHaveLength(1);
  return d[0] as Decision;
};
const tasks = (fx: readonly MissionEffect[]): { node: string; task: Task }[] => fx.flatMap((e) => (e.type === 'task' ? [{ node: e.node, task: e.task }] : []));
const dm = (pts: readonly (readonly [number, number])[]): PointDm[] => pts.map(([n, e]) => ({ n: n * 10, e: e * 10 }));

/** The points of a grid over the polygon (every `stepDm`) inside it that no lane's footprint sees: a
 *  lane sees the band from half a spacing south of it to half a spacing north, between its ends. */
function unseen(poly: readonly PointDm[], lanes: readonly Lane[], spacingDm: number, stepDm: number): PointDm[] {
  const half = Math.floor(spacingDm / 2);
  const ns = poly.map((p) => p.n);
  const es = poly.map((p) => p.e);
  const out: PointDm[] = [];
  for (let n = Math.min(...ns); n <= Math.max(...ns); n += stepDm) {
    for (let e = Math.min(...es); e <= Math.max(...es); e += stepDm) {
      const p = { n, e };
      if (!insidePolygon(p, poly)) continue;
      const seen = lanes.some((l) => l.n - half <= n && n <= l.n - half + spacingDm && Math.min(l.from, l.to) <= e && e <= Math.max(l.from, l.to));
      if (!seen) out.push(p);
    }
  }
  return out;
}

/** A star-shaped polygon round (cn, ce): `radii.length` points at equal angles, decimetres. */
function star(cn: number, ce: number, radii: readonly number[]): PointDm[] {
  return radii.map((r, i) => {
    const a = (2 * Math.PI * i) / radii.length;
    return { n: cn + Math.round(r * Math.cos(a)), e: ce + Math.round(r * Math.sin(a)) };
  });
}

describe('lawnmower lanes', () => {
  it('fly the whole field: no strip at the north edge is left when its height is not a multiple of the spacing', () => {
    // 70 m x 60 m at 20 m: lanes were at 10, 30 and 50 m, and 60-70 m was never flown (85.9% seen).
    const field = dm([[0, 0], [0, 60], [70, 60], [70, 0]]);
    const lanes = lawnmowerLanes(field, 200, 1_000) as Lane[];
    expect(lanes.map((l) => l.n)).toEqual([50, 250, 450, 650]);
    expect(unseen(field, lanes, 200, 5)).toEqual([]);
    // A multiple of the spacing keeps its lanes where they were: 400 m at 20 m, north 10 .. 390 m.
    const square = dm([[0, 0], [0, 400], [400, 400], [400, 0]]);
    expect((lawnmowerLanes(square, 200, 1_000) as Lane[]).map((l) => l.n)).toEqual(Array.from({ length: 20 }, (_, i) => 100 + 200 * i));
  });

  it('see a corner or a thin arm that the band holds but the lane line misses', () => {
    // An L whose 10 m arm runs north: at 20 m spacing the lanes along it were only as long as the arm
    // is wide where they cross it, and the foot's strip along the south edge (0-10 m) only from its lane.
    const l = dm([[0, 0], [0, 100], [10, 100], [10, 10], [100, 10], [100, 0]]);
    expect(unseen(l, lawnmowerLanes(l, 200, 1_000) as Lane[], 200, 5)).toEqual([]);
    const triangle = dm([[0, 0], [0, 200], [150, 0]]);
    expect(unseen(triangle, lawnmowerLanes(triangle, 200, 1_000) as Lane[], 200, 10)).toEqual([]);
  });

  it('leave no point of any star-shaped area unseen, at any spacing', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 100, max: 1_500 }), { minLength: 3, maxLength: 12 }), fc.integer({ min: 50, max: 400 }), (radii, spacing) => {
        const poly = star(0, 0, radii);
        const lanes = lawnmowerLanes(poly, spacing, 1_000) as Lane[];
        expect(unseen(poly, lanes, spacing, 37)).toEqual([]);
      }),
      { numRuns: 150, seed: 20261207 },
    );
  });

  it('are never a point: a spike of the area (an edge out and back along one line) gives no lane of no length', () => {
    // Found by fuzzing: the spike [80,160]-[80,80]-[80,40]-[80,80] gave lanes with from === to.
    const poly = [[80, 160], [160, 160], [80, 160], [80, 80], [80, 40], [80, 80], [0, 40]].map(([n, e]) => ({ n: n!, e: e! }));
    const lanes = lawnmowerLanes(poly, 20, 100);
    expect(lanes).not.toBeNull();
    expect(lanes!.filter((l) => l.from === l.to)).toEqual([]);
  });

  it('give an area thinner than one spacing a single lane along its middle, and the survey is accepted', () => {
    // 9 m tall at 20 m spacing: refused as 'narrower than one lane spacing', though one lane sees it all.
    const strip = [[0, 0], [0, 100], [9, 100], [9, 0]];
    const lanes = lawnmowerLanes(dm(strip as [number, number][]), 200, 1_000) as Lane[];
    expect(lanes).toEqual([{ n: 45, from: 0, to: 1_000 }]);
    const r = run(initialMissionState(), [telemetry('d1', 0, 0)], [cmd('mission.survey', { area: strip, spacingM: 20, drones: ['d1'] })]);
    expect(decision(r.effects).outcome).toBe('accepted');
  });

  it('are cut to a committed geofence drawn round the area, so widened lanes over a slanting edge do not leave it', () => {
    const triangle = [[0, 0], [0, 200], [150, 0]];
    const fenced = run(initialMissionState(), [telemetry('d1', 0, 0)], [cmd('geofence.set', { polygon: triangle }, 'boss')]);
    const r = run(fenced.state, [cmd('mission.survey', { area: triangle, spacingM: 20, drones: ['d1'] })]);
    expect(decision(r.effects).outcome).toBe('accepted');
    const wps = tasks(r.effects).flatMap((x) => (x.task.type === 'waypoints' ? x.task.waypoints : []));
    expect(wps.length).toBeGreaterThan(0);
    expect(wps.filter((p) => !insidePolygon(p, dm(triangle as [number, number][])))).toEqual([]);
    // An area that itself reaches past the fence is still refused, not cut short to fit.
    const past = run(fenced.state, [cmd('mission.survey', { area: [[0, 0], [0, 200], [40, 200], [40, 0]], spacingM: 20, drones: ['d1'] })]);
    expect(decision(past.effects).reason).toMatch(/^waypoint \[[\d.]+, [\d.]+\] m for d1 is outside the geofence$/);
  });
});

// A U open to the north: both arms inside, the notch between them (north 40-100 m, east 30-70 m) not.
const u = [[0, 0], [0, 100], [100, 100], [100, 70], [40, 70], [40, 30], [100, 30], [100, 0]];

describe('a concave geofence', () => {
  it('legOutside: a leg from edge to edge across the notch, or through a vertex, leaves it; one along an edge does not', () => {
    const fence = dm(u as [number, number][]);
    expect(legOutside({ n: 500, e: 300 }, { n: 500, e: 700 }, fence)).toBe(true); // ends on the notch's edges
    expect(legOutside({ n: 300, e: 0 }, { n: 500, e: 1_000 }, fence)).toBe(true); // a proper crossing
    expect(legOutside({ n: 300, e: 200 }, { n: 500, e: 400 }, fence)).toBe(true); // through the corner [40, 30]
    expect(legOutside({ n: 400, e: 300 }, { n: 400, e: 700 }, fence)).toBe(false); // along the notch's floor
    expect(legOutside({ n: 1_000, e: 0 }, { n: 1_000, e: 300 }, fence)).toBe(false); // along the outer edge
    expect(legOutside({ n: 100, e: 100 }, { n: 300, e: 900 }, fence)).toBe(false);
  });

  it('legOutside agrees with points sampled along random legs in random star-shaped fences', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 50, max: 400 }), { minLength: 3, maxLength: 10 }),
        fc.tuple(fc.integer({ min: -400, max: 400 }), fc.integer({ min: -400, max: 400 }), fc.integer({ min: -400, max: 400 }), fc.integer({ min: -400, max: 400 })),
        (radii, [an, ae, bn, be]) => {
          const fence = star(0, 0, radii);
          const a = { n: an, e: ae };
          const b = { n: bn, e: be };
          if (!insidePolygon(a, fence) || !insidePolygon(b, fence)) return;
          // 64 points along the leg, at 64 times the scale so they stay integers.
          const big = fence.map((p) => ({ n: 64 * p.n, e: 64 * p.e }));
          const sampledOut = Array.from({ length: 65 }, (_, k) => ({ n: a.n * (64 - k) + b.n * k, e: a.e * (64 - k) + b.e * k })).some((p) => !insidePolygon(p, big));
          if (sampledOut) expect(legOutside(a, b, fence)).toBe(true);
        },
      ),
      { numRuns: 400, seed: 7 },
    );
  });

  it('refuses a survey whose route crosses the notch between two lanes ending on the fence', () => {
    const fenced = run(initialMissionState(), [telemetry('d1', 5, 10)], [cmd('geofence.set', { polygon: u }, 'boss')]);
    const r = run(fenced.state, [cmd('mission.survey', { area: u, spacingM: 20, drones: ['d1'] })]);
    // Accepted before: the fence reflex held d1 at the notch and the mission never ended.
    expect(decision(r.effects).reason).toBe('the leg from [50, 30] m to [50, 70] m for d1 leaves the geofence');
  });

  it('refuses a mission whose way from a drone\'s position to its first waypoint crosses the notch', () => {
    const fenced = run(initialMissionState(), [telemetry('d1', 50, 10)], [cmd('geofence.set', { polygon: u }, 'boss')]);
    const r = run(fenced.state, [cmd('mission.survey', { area: [[50, 75], [50, 95], [90, 95], [90, 75]], spacingM: 10, drones: ['d1'] })]);
    expect(decision(r.effects).reason).toBe("the way from d1's position [50, 10] m to its first waypoint [55, 75] m leaves the geofence; send it nearer first (mission.goto)");
    // From the right arm it is accepted.
    const near = run(fenced.state, [telemetry('d1', 50, 90)], [cmd('mission.survey', { area: [[50, 75], [50, 95], [90, 95], [90, 75]], spacingM: 10, drones: ['d1'] })]);
    expect(decision(near.effects).outcome).toBe('accepted');
  });

  it('refuses a new geofence that the way from a drone to its next waypoint would leave', () => {
    const box = run(initialMissionState(), [telemetry('d1', 50, 10)], [cmd('mission.goto', { waypoints: [[80, 90]], node: 'd1' })]);
    expect(decision(box.effects).outcome).toBe('accepted');
    const r = run(box.state, [cmd('geofence.set', { polygon: u }, 'boss')]);
    expect(decision(r.effects).reason).toBe(`the way from d1's position [50, 10] m to its next waypoint [80, 90] m of mission ${box.state.mission?.id} leaves the new geofence; abort or replace the mission first`);
  });
});
