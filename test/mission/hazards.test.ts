// Committed hazards in the mission machine: keep-out circles from committed cells, routes that go round
// them with integer geometry, and the re-plan of an active survey when a block commits a hazard.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hazardMarginDm, isqrt, keepOuts, localKeepOutsMax, localRadiusMaxDm, routeAround, withLocalKeepOut, type KeepOut } from '../../runtime/mission/hazards.js';
import { applyBlock, initialMissionState } from '../../runtime/mission/machine.js';
import type { HazardSet, MissionBlock, MissionEffect, MissionState, MissionTx, PointDm, Task } from '../../runtime/mission/types.js';
import { resumeIndex } from '../../fleet-sim/flight/flight-layer.js';
import { resumeIndex as resumeOnDevice } from '../../runtime/mission/hazards.js';

/** Does the segment a-b pass strictly inside the circle (float geometry, for checking only)? */
function crosses(a: PointDm, b: PointDm, z: KeepOut): boolean {
  const dn = b.n - a.n;
  const de = b.e - a.e;
  const len2 = dn * dn + de * de;
  const t = len2 === 0 ? 0 : Math.max(0, Math.min(1, ((z.n - a.n) * dn + (z.e - a.e) * de) / len2));
  return Math.hypot(a.n + t * dn - z.n, a.e + t * de - z.e) < z.r - 1;
}

describe('hazard geometry (integer)', () => {
  it('isqrt is the exact floor square root', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 2 ** 52 }), (n) => {
      const r = isqrt(n);
      return r * r <= n && (r + 1) * (r + 1) > n;
    }));
  });

  it('one keep-out per cluster of cells, centred on them, with the margin', () => {
    const zones = keepOuts({ cellDm: 50, cells: [[10, 10], [10, 11], [11, 10], [40, 40]] });
    expect(zones).toHaveLength(2);
    const [a, b] = zones as [KeepOut, KeepOut];
    expect(a.n).toBe(541); // mean of 525, 525, 575 (floored)
    expect(a.e).toBe(541);
    expect(b).toEqual({ n: 2025, e: 2025, r: 36 + hazardMarginDm });
    expect(keepOuts(null)).toEqual([]);
  });

  it('routes a lane through a hazard round it, and drops a waypoint inside it', () => {
    const zone: KeepOut = { n: 1000, e: 1500, r: 150 };
    const lane = [{ n: 1000, e: 0 }, { n: 1000, e: 1500 }, { n: 1000, e: 3000 }];
    const { route, blocked } = routeAround(lane, [zone], null);
    expect(blocked).toEqual([]);
    expect(route[0]).toEqual({ n: 1000, e: 0 });
    expect(route.at(-1)).toEqual({ n: 1000, e: 3000 });
    expect(route.some((p) => p.e === 1500 && p.n === 1000)).toBe(false); // the waypoint inside went
    for (let i = 1; i < route.length; i++) expect(crosses(route[i - 1] as PointDm, route[i] as PointDm, zone), JSON.stringify(route)).toBe(false);
    expect(route.every((p) => Number.isInteger(p.n) && Number.isInteger(p.e))).toBe(true);
  });

  it('never flies a leg through any keep-out or out of the fence, for random lanes, hazards and fences', () => {
    const pt = fc.record({ n: fc.integer({ min: -5_000, max: 5_000 }), e: fc.integer({ min: -5_000, max: 5_000 }) });
    const zone = fc.record({ n: fc.integer({ min: -5_000, max: 5_000 }), e: fc.integer({ min: -5_000, max: 5_000 }), r: fc.integer({ min: 50, max: 400 }) });
    // A rectangle round every lane point, from tight to roomy (or none).
    const margin = fc.option(fc.integer({ min: 0, max: 800 }), { nil: null });
    fc.assert(
      fc.property(fc.array(pt, { minLength: 2, maxLength: 6 }), fc.array(zone, { minLength: 1, maxLength: 3 }), margin, (lane, zones, m) => {
        const ns = lane.map((p) => p.n);
        const es = lane.map((p) => p.e);
        const fence = m === null ? null : [{ n: Math.min(...ns) - m, e: Math.min(...es) - m }, { n: Math.min(...ns) - m, e: Math.max(...es) + m }, { n: Math.max(...ns) + m, e: Math.max(...es) + m }, { n: Math.max(...ns) + m, e: Math.min(...es) - m }];
        const { route, blocked } = routeAround(lane, zones, fence);
        for (let i = 1; i < route.length; i++) {
          if (blocked.some((b) => b.to === i)) continue;
          if (zones.some((z) => crosses(route[i - 1] as PointDm, route[i] as PointDm, z))) return false;
        }
        if (fence) for (const p of route) if (p.n < fence[0]!.n || p.n > fence[2]!.n || p.e < fence[0]!.e || p.e > fence[2]!.e) return false;
        return true;
      }),
    );
  });
});

const devices = ['d1', 'd2', 'd3'];
const members = { epoch: 1, devices, operators: [{ id: 'ops', roles: ['operator' as const] }] };
const survey: MissionTx = { kind: 'command', id: 's1', operator: 'ops', type: 'mission.survey', args: { area: [[0, 0], [0, 300], [200, 300], [200, 0]], spacingM: 20 }, issuedAt: 0, expiresAt: 1e12 };
const block = (s: MissionState, txs: MissionTx[], hazards?: HazardSet): MissionBlock => ({ height: s.height + 1, timeMs: 1_000 + s.height, members, txs, ...(hazards ? { hazards } : {}) });
const taskOf = (fx: readonly MissionEffect[]): { node: string; task: Task }[] => fx.flatMap((e) => (e.type === 'task' ? [{ node: e.node, task: e.task }] : []));

describe('the mission machine re-plans around committed hazards', () => {
  // A hazard cell 5 m wide at 50 m north, 100 m east: the lane at 50 m north runs through it.
  const mast: HazardSet = { cellDm: 50, cells: [[10, 20]] };

  it('an active survey: the drones whose lanes cross it get new routes, the rest nothing', () => {
    const start = applyBlock(initialMissionState(), block(initialMissionState(), [survey]));
    const r = applyBlock(start.state, block(start.state, [], mast));
    expect(r.state.hazards).toEqual(mast);
    const replan = r.effects.find((e) => e.type === 'replan');
    expect(replan).toMatchObject({ type: 'replan', mission: 's1', keepOuts: 1 });
    const changed = taskOf(r.effects);
    expect(changed.length).toBeGreaterThan(0);
    expect(changed.length).toBeLessThan(devices.length);
    const zone = keepOuts(mast)[0] as KeepOut;
    for (const { task } of changed) {
      expect(task).toMatchObject({ type: 'waypoints', mission: 's1', replan: true });
      if (task.type !== 'waypoints') continue;
      for (let i = 1; i < task.waypoints.length; i++) expect(crosses(task.waypoints[i - 1] as PointDm, task.waypoints[i] as PointDm, zone)).toBe(false);
    }
    // The same set again changes nothing.
    const again = applyBlock(r.state, block(r.state, [], mast));
    expect(again.effects).toEqual([]);
  });

  it('a survey started after the commit is planned round it from the start; the plan is the same on every device', () => {
    const withMast = applyBlock(initialMissionState(), block(initialMissionState(), [], mast));
    expect(withMast.effects).toEqual([]); // no mission yet: nothing to re-plan
    const a = applyBlock(withMast.state, block(withMast.state, [survey]));
    const b = applyBlock(withMast.state, block(withMast.state, [survey]));
    expect(a).toEqual(b);
    const zone = keepOuts(mast)[0] as KeepOut;
    for (const { task } of taskOf(a.effects)) {
      if (task.type !== 'waypoints') continue;
      expect(task.replan).toBeUndefined();
      for (let i = 1; i < task.waypoints.length; i++) expect(crosses(task.waypoints[i - 1] as PointDm, task.waypoints[i] as PointDm, zone)).toBe(false);
    }
  });

  it('a held survey: a hazard committed while it is held re-plans it, so a resume flies round it', () => {
    const hold: MissionTx = { ...survey, id: 'h1', type: 'hold', args: {} };
    const resume: MissionTx = { ...survey, id: 'r1', type: 'resume', args: {} };
    const start = applyBlock(initialMissionState(), block(initialMissionState(), [survey]));
    const held = applyBlock(start.state, block(start.state, [hold]));
    const hazard = applyBlock(held.state, block(held.state, [], mast));
    const resumed = applyBlock(hazard.state, block(hazard.state, [resume]));
    // Each drone flies the last route it was given: none may still cross the committed hazard.
    const last = new Map<string, PointDm[]>();
    for (const fx of [start.effects, held.effects, hazard.effects, resumed.effects]) {
      for (const { node, task } of taskOf(fx)) if (task.type === 'waypoints') last.set(node, [...task.waypoints]);
    }
    expect([...last.keys()].sort()).toEqual(devices);
    const zone = keepOuts(mast)[0] as KeepOut;
    for (const [node, route] of last) {
      for (let i = 1; i < route.length; i++) expect(crosses(route[i - 1] as PointDm, route[i] as PointDm, zone), `${node} leg ${i}`).toBe(false);
    }
    expect(resumed.state.mission?.status).toBe('active');
  });

  it('the flight layer carries on after the last waypoint it passed, detour first', () => {
    const old = [[0, 0], [0, 100], [20, 100], [20, 0]] as const;
    const route = [[0, 0], [5, 40], [5, 60], [0, 100], [20, 100], [20, 0]] as const;
    expect(resumeIndex(old, 1, route)).toBe(1); // passed [0, 0]: the detour comes next
    expect(resumeIndex(old, 3, route)).toBe(5);
    expect(resumeIndex(old, 0, route)).toBe(0);
    // The device's executor does the same on integer decimetres.
    const dm = (p: readonly [number, number]): PointDm => ({ n: p[0] * 10, e: p[1] * 10 });
    const sameDm = (a: PointDm, b: PointDm): boolean => a.n === b.n && a.e === b.e;
    expect(resumeOnDevice(old.map(dm), 3, route.map(dm), sameDm)).toBe(5);
    expect(resumeOnDevice(old.map(dm), 1, route.map(dm), sameDm)).toBe(1);
  });
});

describe('a re-plan round a committed hazard keeps inside the geofence', () => {
  const fenceCmd = (polygon: number[][], id = 'f1'): MissionTx => ({ kind: 'command', id, operator: 'boss', type: 'geofence.set', args: { polygon }, issuedAt: 0, expiresAt: 1e12 });
  const goto: MissionTx = { kind: 'command', id: 'g1', operator: 'ops', type: 'mission.goto', args: { waypoints: [[0, 0], [0, 200]], node: 'd1' }, issuedAt: 0, expiresAt: 1e12 };
  const withBoss = { ...members, operators: [...members.operators, { id: 'boss', roles: ['admin' as const] }] };
  const at = (s: MissionState, txs: MissionTx[], hazards?: HazardSet) => applyBlock(s, { ...block(s, txs, hazards), members: withBoss });
  const inside = (p: PointDm, fence: number[][]): boolean => {
    const ns = fence.map((q) => q[0]! * 10);
    const es = fence.map((q) => q[1]! * 10);
    return p.n >= Math.min(...ns) && p.n <= Math.max(...ns) && p.e >= Math.min(...es) && p.e <= Math.max(...es);
  };

  it('goes round on the side inside the fence when the side away from the centre is past it', () => {
    // The drone flies east along n = 0, 5 m inside the fence's south edge; a 5 m hazard cell just north of its line.
    const fence = [[-5, -5], [-5, 300], [300, 300], [300, -5]];
    const s1 = at(initialMissionState(), [fenceCmd(fence), goto]);
    expect(s1.effects.filter((e) => e.type === 'decision').map((e) => e.type === 'decision' && e.decision.outcome)).toEqual(['accepted', 'accepted']);
    const hazard: HazardSet = { cellDm: 50, cells: [[0, 20]] };
    const r = at(s1.state, [], hazard);
    const task = taskOf(r.effects).find((t) => t.node === 'd1')?.task;
    expect(task?.type).toBe('waypoints');
    const route = task?.type === 'waypoints' ? task.waypoints : [];
    expect(route.length).toBeGreaterThan(2);
    for (const p of route) expect(inside(p, fence), `[${p.n}, ${p.e}]`).toBe(true);
    const zone = keepOuts(hazard)[0] as KeepOut;
    for (let i = 1; i < route.length; i++) expect(crosses(route[i - 1] as PointDm, route[i] as PointDm, zone)).toBe(false);
    expect(task?.type === 'waypoints' && task.blocked).toBeFalsy();
  });

  it('with no way round inside the fence, the drone holds before that leg and its task says why', () => {
    // A corridor 12 m wide; the hazard's keep-out spans it.
    const fence = [[-6, -5], [-6, 300], [6, 300], [6, -5]];
    const s1 = at(initialMissionState(), [fenceCmd(fence), goto]);
    const r = at(s1.state, [], { cellDm: 50, cells: [[0, 20]] });
    const task = taskOf(r.effects).find((t) => t.node === 'd1')?.task;
    expect(task?.type).toBe('waypoints');
    if (task?.type !== 'waypoints') return;
    // Nothing it is told to fly leaves the fence.
    const flyable = task.waypoints.slice(0, task.blocked?.[0]?.to ?? task.waypoints.length);
    for (const p of flyable) expect(inside(p, fence), `[${p.n}, ${p.e}]`).toBe(true);
    expect(task.blocked).toEqual([{ to: 1, reason: 'no way round the committed hazards from [0, 0] m to [0, 200] m keeps inside the geofence and outside every keep-out' }]);
  });

  // The blocked leg is re-planned, with no operator, when a committed change gives it a way: the hazard
  // cleared from the committed set, or a new fence with room to go round.
  const blockedIn = (fence: number[][]): MissionState => {
    const s1 = at(initialMissionState(), [fenceCmd(fence), goto]);
    const r = at(s1.state, [], { cellDm: 50, cells: [[0, 20]] });
    const t = taskOf(r.effects).find((x) => x.node === 'd1')?.task;
    expect(t?.type === 'waypoints' && t.blocked?.length).toBe(1);
    return r.state;
  };
  const corridor = [[-6, -5], [-6, 300], [6, 300], [6, -5]];

  it('a blocked leg is re-planned when the hazard leaves the committed set: the same route, not blocked', () => {
    const r = at(blockedIn(corridor), [], { cellDm: 50, cells: [] });
    expect(r.effects.find((e) => e.type === 'replan')).toMatchObject({ mission: 'g1', nodes: ['d1'], keepOuts: 0 });
    const task = taskOf(r.effects).find((t) => t.node === 'd1')?.task;
    expect(task).toMatchObject({ type: 'waypoints', mission: 'g1', waypoints: [{ n: 0, e: 0 }, { n: 0, e: 2_000 }], replan: true });
    expect(task?.type === 'waypoints' && task.blocked).toBeUndefined();
  });

  it('a blocked leg is re-planned when a new geofence leaves room round the hazard: a detour inside it, not blocked', () => {
    const wide = [[-40, -5], [-40, 300], [6, 300], [6, -5]];
    const s = blockedIn(corridor);
    const fenceWide = fenceCmd(wide, 'f2');
    const r = at(s, [fenceWide]);
    expect(r.effects.filter((e) => e.type === 'decision').map((e) => e.type === 'decision' && e.decision.outcome)).toEqual(['accepted']);
    expect(r.effects.map((e) => e.type)).toEqual(['decision', 'geofence', 'replan', 'task']);
    const task = taskOf(r.effects).find((t) => t.node === 'd1')?.task;
    expect(task).toMatchObject({ type: 'waypoints', mission: 'g1', replan: true });
    if (task?.type !== 'waypoints') return;
    expect(task.blocked).toBeUndefined();
    expect(task.waypoints.length).toBeGreaterThan(2);
    for (const p of task.waypoints) expect(inside(p, wide), `[${p.n}, ${p.e}]`).toBe(true);
    const zone = keepOuts(r.state.hazards)[0] as KeepOut;
    for (let i = 1; i < task.waypoints.length; i++) expect(crosses(task.waypoints[i - 1] as PointDm, task.waypoints[i] as PointDm, zone)).toBe(false);
    // Every device applies the same block to the same state: the same re-plan.
    expect(at(s, [fenceWide])).toEqual(r);
    // A new fence that changes no route re-tasks nobody.
    const same = at(r.state, [fenceCmd(wide, 'f3')]);
    expect(same.effects.map((e) => e.type)).toEqual(['decision', 'geofence']);
  });
});

describe('a re-plan that leaves a drone no waypoint outside the keep-outs', () => {
  // The part's last waypoint, [0, 200] m, lies in hazard cell 0,40 (5 m cells) once it is committed.
  const fire: HazardSet = { cellDm: 50, cells: [[0, 40]] };
  const reason = 'every waypoint left for d1 lies inside the keep-out round committed hazard cell 0,40 (routes keep 8 m from its edge): [0, 200] m';
  const goto = (waypoints: number[][]): MissionTx => ({ kind: 'command', id: 'g1', operator: 'ops', type: 'mission.goto', args: { waypoints, node: 'd1' }, issuedAt: 0, expiresAt: 1e12 });
  const replanOf = (s: MissionState): Extract<Task, { type: 'waypoints' }> => {
    const r = applyBlock(s, block(s, [], fire));
    const task = taskOf(r.effects).find((t) => t.node === 'd1')?.task;
    if (task?.type !== 'waypoints') throw new Error(`no re-planned route for d1: ${JSON.stringify(r.effects)}`);
    return task;
  };

  it("a goto's only waypoint: an empty route that says why, so the drone holds rather than report its part done", () => {
    const s = applyBlock(initialMissionState(), block(initialMissionState(), [goto([[0, 200]])])).state;
    expect(replanOf(s)).toMatchObject({ waypoints: [], replan: true, droppedEnd: reason });
  });

  it('the waypoints ahead of a drone that passed the first: the route keeps the first and says why the rest are gone', () => {
    const s = applyBlock(initialMissionState(), block(initialMissionState(), [goto([[0, 0], [0, 200]])])).state;
    expect(replanOf(s)).toMatchObject({ waypoints: [{ n: 0, e: 0 }], replan: true, droppedEnd: reason });
  });

  it('a waypoint dropped in the middle of the route says nothing: the drone flies on to its last one', () => {
    const s = applyBlock(initialMissionState(), block(initialMissionState(), [goto([[0, 0], [0, 200], [0, 300]])])).state;
    expect(replanOf(s).droppedEnd).toBeUndefined();
  });
});

describe("a drone's own keep-outs (withLocalKeepOut)", () => {
  it('puts a circle behind the hit point along the beam, adds nothing for a hit inside one it has, and keeps the newest', () => {
    // A beam pointing east hit at [0, 50] m: the circle's centre is 3 m further east.
    const one = withLocalKeepOut([], [], 0, 50, Math.PI / 2);
    expect(one).toEqual([{ n: 0, e: 530, r: 120 }]);
    // Another hit on the same mast, inside that circle, or inside a committed keep-out: nothing new.
    expect(withLocalKeepOut(one ?? [], [], 1, 52, Math.PI / 2)).toBeNull();
    expect(withLocalKeepOut([], [{ n: 0, e: 500, r: 116 }], 0, 50, 0)).toBeNull();
    // A hit 30 m on: a second circle.
    expect(withLocalKeepOut(one ?? [], [], 0, 80, Math.PI / 2)).toHaveLength(2);
    let many: KeepOut[] = [];
    for (let i = 0; i < localKeepOutsMax + 3; i++) many = withLocalKeepOut(many, [], i * 100, 0, 0) ?? many;
    expect(many).toHaveLength(localKeepOutsMax);
    expect(many[0]?.n).toBe(3 * 1000 + 30); // the three oldest went
  });

  it('grows a circle met again in its outer half (a wide building) to enclose the new one, up to its largest', () => {
    // Before, such a hit added nothing: the way round the 12 m circle met the building again, for good.
    const one = withLocalKeepOut([], [], 0, 50, Math.PI / 2) ?? [];
    // The way round it met the building again 11 m north of that circle's centre, looking east.
    const two = withLocalKeepOut(one, [], 11, 53, Math.PI / 2);
    expect(two).toHaveLength(1);
    const g = two?.[0] as KeepOut;
    const hitCircle = { n: 110, e: 560, r: 120 };
    for (const c of [one[0] as KeepOut, hitCircle]) expect(Math.hypot(g.n - c.n, g.e - c.e) + c.r).toBeLessThanOrEqual(g.r + 1);
    expect(g.r).toBeLessThan(200);
    // The newest: an older circle elsewhere stays first.
    const other = withLocalKeepOut([{ n: 5_000, e: 0, r: 120 }, ...one], [], 11, 53, Math.PI / 2);
    expect(other?.map((z) => z.n)).toEqual([5_000, g.n]);
    // Grown as far as it may go, a hit at its edge adds nothing.
    const big = [{ n: 0, e: 0, r: localRadiusMaxDm }];
    expect(withLocalKeepOut(big, [], 59, 0, 0)).toBeNull();
  });
});
