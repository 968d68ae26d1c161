// Strategic deconfliction (runtime/mission/deconflict.ts): which transit altitude each drone's leg to
// its route gets. Geometry in decimetres; layers 30 dm apart above a 300 dm mission altitude.

import { describe, expect, it } from 'vitest';
import { joinAltitude, joinSegmentPairsMax, returnAltDm, segSeg2, transitAltitudes, type TransitInput } from '../../runtime/mission/deconflict.js';
import { applyBlock, initialMissionState, returnAltitudeDm } from '../../runtime/mission/machine.js';
import type { ApplyResult, MissionTx } from '../../runtime/mission/types.js';

const p = (n: number, e: number) => ({ n, e });
const alt = (xs: TransitInput[], ceiling = 1_200) => transitAltitudes(xs, 300, 30, ceiling);

describe('segment distance', () => {
  it('is zero for crossing segments and the gap for apart ones', () => {
    expect(segSeg2({ a: p(0, 0), b: p(100, 100) }, { a: p(0, 100), b: p(100, 0) })).toBe(0);
    expect(segSeg2({ a: p(0, 0), b: p(100, 0) }, { a: p(0, 40), b: p(100, 40) })).toBe(1_600);
    expect(segSeg2({ a: p(0, 0), b: p(100, 0) }, { a: p(150, 0), b: p(200, 0) })).toBe(2_500);
    expect(segSeg2({ a: p(0, 0), b: p(0, 0) }, { a: p(-50, 30), b: p(50, 30) })).toBe(900);
  });
});

describe('transit altitudes', () => {
  it('legs far apart all stay at the mission altitude', () => {
    const xs = [
      { node: 'a', from: p(0, 0), route: [p(1_000, 0), p(1_000, 500)] },
      { node: 'b', from: p(0, 2_000), route: [p(1_000, 2_000), p(1_000, 2_500)] },
    ];
    expect(alt(xs)).toEqual([300, 300]);
  });

  it('crossing legs are put in different layers, the first by id keeping the mission altitude', () => {
    const xs = [
      { node: 'b', from: p(0, 1_000), route: [p(1_000, 0)] },
      { node: 'a', from: p(0, 0), route: [p(1_000, 1_000)] },
    ];
    expect(alt(xs)).toEqual([330, 300]);
  });

  it('legs closer than the separation conflict even when they do not cross', () => {
    const xs = [
      { node: 'a', from: p(0, 0), route: [p(1_000, 0)] },
      { node: 'b', from: p(500, 20), route: [p(1_000, 500)] }, // starts 2 m beside a's leg
      { node: 'c', from: p(0, 60), route: [p(400, 60)] }, // 6 m beside a's leg
    ];
    expect(alt(xs)).toEqual([300, 330, 300]);
  });

  it('a leg across another drone route at the mission altitude goes over it', () => {
    const xs = [
      { node: 'a', from: p(200, -100), route: [p(200, 0), p(200, 1_000)] }, // a lane east at 20 m north
      { node: 'b', from: p(0, 300), route: [p(800, 300), p(800, 900)] }, // its leg crosses a's lane
    ];
    expect(alt(xs)).toEqual([300, 330]);
  });

  it('a fan of crossing legs uses as many layers as it needs, none above the ceiling', () => {
    const xs = Array.from({ length: 6 }, (_, i) => ({ node: `d${i}`, from: p(0, i * 100), route: [p(1_000, (5 - i) * 100)] }));
    const out = alt(xs);
    expect(new Set(out).size).toBe(6); // every leg crosses every other
    expect(Math.max(...out)).toBe(450);
    // With room for only two layers above the mission altitude, the rest share the least crowded ones.
    const low = alt(xs, 360);
    expect(Math.max(...low)).toBe(360);
    expect(low.every((x) => x >= 300)).toBe(true);
  });

  it('a drone with no known position gets a layer of its own above the others', () => {
    const xs = [
      { node: 'a', from: p(0, 0), route: [p(1_000, 1_000)] },
      { node: 'b', from: null, route: [p(1_000, 0)] },
      { node: 'c', from: p(0, 1_000), route: [p(1_000, 0)] },
      { node: 'd', from: null, route: [p(500, 0)] },
    ];
    expect(alt(xs)).toEqual([300, 360, 330, 390]);
  });

  it('does not depend on the order drones are listed in', () => {
    const xs = Array.from({ length: 8 }, (_, i) => ({ node: `d${i}`, from: p(-(i % 3) * 60, -(i >> 1) * 60), route: [p(1_000 + i * 150, i % 2 === 0 ? 0 : 3_000)] }));
    const forward = alt(xs);
    const reversed = alt([...xs].reverse()).reverse();
    expect(reversed).toEqual(forward);
  });
});

describe('in the mission machine', () => {
  const members = { epoch: 1, devices: ['d1', 'd2', 'd3', 'd4'], operators: [{ id: 'ops', roles: ['operator' as const, 'admin' as const] }] };
  let seq = 0;
  const cmd = (type: string, args: Record<string, unknown>): MissionTx => ({ kind: 'command', id: `c${++seq}`, operator: 'ops', type, args, issuedAt: 1_000, expiresAt: 1_000_000 });
  // Four drones on a 2 x 2 pad grid 6 m apart, south-west of the area, as fleet-sim places them.
  const pads: MissionTx[] = [
    { kind: 'telemetry', node: 'd1', pos: p(-200, -200), altDm: 0, batteryPermille: 900, completed: null },
    { kind: 'telemetry', node: 'd2', pos: p(-200, -140), altDm: 0, batteryPermille: 900, completed: null },
    { kind: 'telemetry', node: 'd3', pos: p(-260, -200), altDm: 0, batteryPermille: 900, completed: null },
    { kind: 'telemetry', node: 'd4', pos: p(-260, -140), altDm: 0, batteryPermille: 900, completed: null },
  ];
  const run = (...blocks: MissionTx[][]): ApplyResult => {
    let r: ApplyResult = { state: initialMissionState(), effects: [] };
    for (const txs of blocks) r = applyBlock(r.state, { height: r.state.height + 1, timeMs: 10_000 + r.state.height, members, txs });
    return r;
  };
  const area = [
    [0, 0],
    [0, 200],
    [120, 200],
    [120, 0],
  ];

  it('a survey from a pad grid gives each drone a transit altitude, kept in the assignment and sent in its task', () => {
    const r = run(pads, [cmd('mission.survey', { area, spacingM: 15, altM: 30 })]);
    const m = r.state.mission;
    expect(m?.assignments.length).toBe(4);
    const transit = m?.assignments.map((a) => a.transitAltDm) ?? [];
    // The default separation is 3 m: layers at 30, 33, 36 .. m.
    expect(transit.every((t) => t >= 300 && (t - 300) % 30 === 0), `transit altitudes ${transit}`).toBe(true);
    expect(new Set(transit).size, `transit altitudes ${transit}`).toBeGreaterThan(1); // the fan from the pads crosses
    const sent = r.effects.flatMap((e) => (e.type === 'task' && e.task.type === 'waypoints' ? [[e.node, e.task.transitAltDm]] : []));
    expect(sent).toEqual(m?.assignments.map((a) => [a.node, a.transitAltDm]));
  });

  it('keeps every layer under the geofence ceiling, and a wider separation spreads the layers further', () => {
    const fence = cmd('geofence.set', { polygon: [[-100, -100], [-100, 300], [300, 300], [300, -100]], altMaxM: 33 });
    const capped = run(pads, [fence], [cmd('mission.survey', { area, spacingM: 15, altM: 30 })]).state.mission;
    const cappedAlts = capped?.assignments.map((a) => a.transitAltDm) ?? [];
    expect(cappedAlts.length).toBe(4);
    expect(new Set(cappedAlts), `transit altitudes ${cappedAlts}`).toEqual(new Set([300, 330]));
    const wide = run(pads, [cmd('param.set', { key: 'separationM', value: 10 })], [cmd('mission.survey', { area, spacingM: 15, altM: 30 })]).state.mission;
    expect(wide?.assignments.map((a) => a.transitAltDm).every((t) => (t - 300) % 100 === 0)).toBe(true);
    expect(Math.max(...(wide?.assignments.map((a) => a.transitAltDm) ?? []))).toBeGreaterThan(300);
  });

  it('gives every drone of the fleet its own return altitude above the mission, under the fence ceiling', () => {
    const idle = run(pads);
    const alts = [0, 1, 2, 3].map((i) => returnAltitudeDm(idle.state, i));
    expect(alts).toEqual([330, 360, 390, 420]); // one layer above the 30 m altitude parameter, 3 m apart
    const high = run(pads, [cmd('mission.survey', { area, spacingM: 15, altM: 50 })]);
    expect(returnAltitudeDm(high.state, 0)).toBe(530); // above the active mission's altitude
    const fence = cmd('geofence.set', { polygon: [[-100, -100], [-100, 300], [300, 300], [300, -100]], altMaxM: 36 });
    const capped = [0, 1, 2, 3].map((i) => returnAltitudeDm(run(pads, [fence]).state, i));
    expect(capped).toEqual([330, 360, 330, 360]); // two layers fit under 36 m: they wrap
  });
});

describe('return altitudes', () => {
  it('are a layer per slot, wrap at the ceiling, and put a drone outside the fleet on the top layer', () => {
    expect([0, 1, 2].map((i) => returnAltDm(i, 3, 300, 30, 1_200))).toEqual([330, 360, 390]);
    expect([0, 29, 30].map((i) => returnAltDm(i, 40, 300, 30, 1_200))).toEqual([330, 1_200, 330]);
    expect(returnAltDm(-1, 3, 300, 30, 1_200)).toBe(1_200);
    // No room above the mission altitude: return at it (or the ceiling, when that is lower).
    expect(returnAltDm(0, 3, 300, 30, 320)).toBe(300);
    expect(returnAltDm(0, 3, 300, 30, 250)).toBe(250);
  });
});

describe('the altitude of a part taken over from a lost drone (joinAltitude)', () => {
  // The taker's path: from its last waypoint (0, 0) east to (0, 1000) and on north to (500, 1000).
  const path = [p(0, 0), p(0, 1_000), p(500, 1_000)];
  const across = [p(-300, 500), p(300, 500)]; // another drone's leg to its route, crossing the path
  const apart = [p(-300, 3_000), p(300, 3_000)];

  it('keeps its own return layer when nothing else flies there', () => {
    expect(joinAltitude(path, 360, [{ altDm: 330, path: across }], 300, 30, 1_200)).toBe(360);
    expect(joinAltitude(path, 360, [{ altDm: 360, path: apart }], 300, 30, 1_200)).toBe(360);
  });

  it("leaves its return layer for the lowest clear one when another drone's leg there comes within the separation", () => {
    expect(joinAltitude(path, 330, [{ altDm: 330, path: across }], 300, 30, 1_200)).toBe(360);
    // 2.9 m beside the path is too close; 3 m is clear.
    expect(joinAltitude(path, 330, [{ altDm: 330, path: [p(-29, 200), p(-29, 800)] }], 300, 30, 1_200)).toBe(360);
    expect(joinAltitude(path, 330, [{ altDm: 330, path: [p(-30, 200), p(-30, 800)] }], 300, 30, 1_200)).toBe(330);
    // 360 has a taken part across it and 390 a drone on its way home (its path unknown): 420.
    expect(joinAltitude(path, 330, [{ altDm: 330, path: across }, { altDm: 360, path: [p(250, -500), p(250, 1_500)] }, { altDm: 390, path: null }], 300, 30, 1_200)).toBe(420);
  });

  it('never goes to the mission altitude (a lost drone may hover there) nor above the ceiling; with every layer taken, the fewest conflicts', () => {
    const uses = [{ altDm: 330, path: across }, { altDm: 330, path: null }, { altDm: 360, path: across }];
    expect(joinAltitude(path, 330, uses, 300, 30, 360)).toBe(360);
    expect(joinAltitude(path, 360, [{ altDm: 330, path: across }, { altDm: 360, path: across }], 300, 30, 360)).toBe(360); // equal: its own
    // No layer above the mission altitude under the ceiling: its return altitude, as before.
    expect(joinAltitude(path, 300, [{ altDm: 300, path: across }], 300, 30, 320)).toBe(300);
  });

  it('past the work bound it flies at its return altitude without weighing', () => {
    const long = Array.from({ length: 1_001 }, (_, i) => p(i % 2 === 0 ? -300 : 300, i));
    const longPath = Array.from({ length: 1_001 }, (_, i) => p(0, i));
    expect((longPath.length - 1) * (long.length - 1)).toBeGreaterThan(joinSegmentPairsMax / 2);
    expect(joinAltitude(longPath, 330, [{ altDm: 330, path: long }, { altDm: 330, path: long }], 300, 30, 1_200)).toBe(330);
    expect(joinAltitude(longPath.slice(0, 400), 330, [{ altDm: 330, path: long }], 300, 30, 1_200)).toBe(360);
  });
});
