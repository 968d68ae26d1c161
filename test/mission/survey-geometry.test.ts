// Survey geometry: routes (and the way to them) that stay inside a concave committed geofence, or are
// refused with the reason.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { insidePolygon, legOutside } from '../../runtime/mission/geometry.js';
import { applyBlock, initialMissionState } from '../../runtime/mission/machine.js';
import type { ApplyResult, Decision, MissionBlock, MissionCommand, MissionEffect, MissionState, MissionTx, PointDm } from '../../runtime/mission/types.js';

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
const dm = (pts: readonly (readonly [number, number])[]): PointDm[] => pts.map(([n, e]) => ({ n: n * 10, e: e * 10 }));

/** A star-shaped polygon round (cn, ce): `radii.length` points at equal angles, decimetres. */
function star(cn: number, ce: number, radii: readonly number[]): PointDm[] {
  return radii.map((r, i) => {
    const a = (2 * Math.PI * i) / radii.length;
    return { n: cn + Math.round(r * Math.cos(a)), e: ce + Math.round(r * Math.sin(a)) };
  });
}

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
