// fenceCut: the parts of a route's leg inside a fence the drone keeps on its own, as points to fly.

import { describe, expect, it } from 'vitest';
import { fenceCut, insideFence, inSight, legFrom, wayInside, type FencePoint } from '../../runtime/mission/fence-cut.js';
import { Prng } from '../../runtime/lib/prng.js';
import { distanceToSegment, pt, randomStarCase } from '../support/fence-cases.js';

/** The geofence scenario's fence: east up to 180 m. */
const fence = [pt(-60, -60), pt(-60, 180), pt(260, 180), pt(260, -60)];
const near = (ps: FencePoint[]): Array<[number, number]> => ps.map((p) => [Math.round(p.northM * 1000) / 1000, Math.round(p.eastM * 1000) / 1000]);

describe('fenceCut', () => {
  it('a leg inside is the leg: its end', () => {
    expect(fenceCut(pt(0, 0), pt(0, 150), fence)).toEqual([pt(0, 150)]);
  });

  it('a lane whose end is past the fence is flown to the fence, the margin short of it (10 m unless said)', () => {
    expect(near(fenceCut(pt(0, 0), pt(0, 300), fence))).toEqual([[0, 170]]);
    expect(near(fenceCut(pt(0, 0), pt(0, 300), fence, 2))).toEqual([[0, 178]]);
  });

  it('a lane that starts past the fence is flown from where it comes in, to its end', () => {
    expect(near(fenceCut(pt(25, 300), pt(25, 0), fence, 2))).toEqual([
      [25, 178],
      [25, 0],
    ]);
  });

  it('a leg with both ends past the fence: the stretch across it, or nothing', () => {
    expect(near(fenceCut(pt(100, -100), pt(100, 300), fence, 2))).toEqual([
      [100, -58],
      [100, 178],
    ]);
    expect(fenceCut(pt(0, 200), pt(25, 300), fence, 2)).toEqual([]); // along the outside
  });

  it('a concave fence: a leg across a notch is flown round it inside the fence, the margin from it', () => {
    // A U: two arms north of a notch between east 40 and 60, joined by a bar 20 m wide in the south.
    const u = [pt(0, 0), pt(0, 100), pt(100, 100), pt(100, 60), pt(20, 60), pt(20, 40), pt(100, 40), pt(100, 0)];
    // Round the notch's two inner corners, each moved in until it is the margin from both its edges.
    // Before: [50, 2] and [50, 38] only; the east arm was never flown.
    const round = [
      [17.96, 37.96],
      [17.96, 62.04],
    ];
    expect(near(fenceCut(pt(50, -20), pt(50, 120), u, 2))).toEqual([[50, 2], [50, 38], ...round, [50, 62], [50, 98]]);
    expect(near(fenceCut(pt(50, 80), pt(50, -20), u, 2))).toEqual([[50, 62], ...[...round].reverse(), [50, 38], [50, 2]]);
    expect(near(fenceCut(pt(10, -20), pt(10, 120), u, 2))).toEqual([
      [10, 2],
      [10, 98],
    ]);
    // Both ends in: round the notch (before, straight across it, out of the fence).
    expect(near(fenceCut(pt(50, 10), pt(50, 90), u, 2))).toEqual([...round, [50, 90]]);
    // A bar 20 m wide has no way through it 10 m from both its sides: nothing past the notch is flown.
    expect(fenceCut(pt(50, 10), pt(50, 90), u)).toEqual([]);
    expect(near(fenceCut(pt(50, -20), pt(50, 120), u))).toEqual([
      [50, 10],
      [50, 30],
    ]);
  });

  it('wayInside: [] in sight, the corners round a notch, or null with no way that keeps the margin', () => {
    const u = [pt(0, 0), pt(0, 100), pt(100, 100), pt(100, 60), pt(40, 60), pt(40, 40), pt(100, 40), pt(100, 0)];
    expect(wayInside(pt(10, 10), pt(10, 90), u)).toEqual([]);
    expect(near(wayInside(pt(70, 20), pt(70, 80), u) ?? [])).toEqual([
      [29.8, 29.8],
      [29.8, 70.2],
    ]);
    expect(wayInside(pt(70, 20), pt(70, 80), u, 25)).toBeNull(); // the bar is 40 m wide
  });

  it('legFrom: a drone inside flies round a notch to the cut\'s first point, one outside or without a position the cut alone, and none when no way keeps the margin', () => {
    const u = [pt(0, 0), pt(0, 100), pt(100, 100), pt(100, 60), pt(40, 60), pt(40, 40), pt(100, 40), pt(100, 0)];
    const cut = [pt(70, 80), pt(90, 80)];
    const leg = legFrom(pt(70, 20), cut, u);
    expect(near(leg ?? [])).toEqual([[29.8, 29.8], [29.8, 70.2], [70, 80], [90, 80]]);
    expect(leg?.[2]).toBe(cut[0]); // the cut's own points, as they were: callers know their waypoint by them
    expect(legFrom(pt(80, 90), cut, u)).toEqual(cut); // in sight, in the same arm
    expect(legFrom(pt(-30, 20), cut, u)).toEqual(cut); // outside the fence: nothing to go round from there
    expect(legFrom(null, cut, u)).toEqual(cut);
    expect(legFrom(pt(70, 20), [], u)).toEqual([]);
    expect(legFrom(pt(70, 20), cut, u, 25)).toBeNull(); // the bar is 40 m wide
  });

  it('wayInside: a way in sight that passes a notch\'s corner nearer than the margin goes round it as one across the notch does', () => {
    const u = [pt(0, 0), pt(0, 100), pt(100, 100), pt(100, 60), pt(40, 60), pt(40, 40), pt(100, 40), pt(100, 0)];
    // Half a metre south of the notch's corners [40, 40] and [40, 60]. Before: [] (straight, 0.5 m from
    // the fence), while the same leg a metre north, across the notch, went round 10 m clear of it.
    const round = [
      [29.8, 29.8],
      [29.8, 70.2],
    ];
    expect(near(wayInside(pt(39.5, 20), pt(39.5, 80), u) ?? [])).toEqual(round);
    expect(near(wayInside(pt(40.5, 20), pt(40.5, 80), u) ?? [])).toEqual(round);
    expect(near(fenceCut(pt(39.5, 20), pt(39.5, 80), u))).toEqual([...round, [39.5, 80]]);
    // 10 m south of them (the margin): straight; and where no way round keeps the margin (a 25 m
    // margin in a bar 40 m wide), straight too, inside the fence, as before.
    expect(wayInside(pt(30, 20), pt(30, 80), u)).toEqual([]);
    expect(wayInside(pt(39.5, 20), pt(39.5, 80), u, 25)).toEqual([]);
    // A leg that ends near a corner may pass it that near (the drone is there, or the leg goes there).
    expect(wayInside(pt(39.5, 38), pt(20, 20), u)).toEqual([]);
  });

  it('a notch sharper than a right angle (a V, a slit) with 30 m below its tip: a way round it, the margin from the fence, near the tip', () => {
    // A square 100 m across with a V notch from the north edge down to [30, 50] (walls 40 m apart at the
    // edge; 32 degrees at the tip), or a slit 1 m wide. Before: null (the one bend point, on the tip's
    // bisector 37 m or 40 m out, lay outside the fence), so nothing past the notch was flown.
    const v = [pt(0, 0), pt(0, 100), pt(100, 100), pt(100, 70), pt(30, 50), pt(100, 30), pt(100, 0)];
    const slit = [pt(0, 0), pt(0, 100), pt(100, 100), pt(100, 50.5), pt(30, 50), pt(100, 49.5), pt(100, 0)];
    for (const [name, f] of [['V', v], ['slit', slit]] as const) {
      const from = pt(60, 20);
      const to = pt(60, 80);
      const way = wayInside(from, to, f);
      const why = `${name}: ${JSON.stringify(way)}`;
      expect(way, why).not.toBeNull();
      const flown = [from, ...(way ?? []), to];
      for (const p of way ?? []) {
        expect(insideFence(p, f), why).toBe(true);
        expect(Math.min(...f.map((s, i) => distanceToSegment(p, s, f[(i + 1) % f.length] as FencePoint))), why).toBeGreaterThanOrEqual(10);
      }
      for (let i = 0; i + 1 < flown.length; i++) {
        expect(inSight(flown[i] as FencePoint, flown[i + 1] as FencePoint, f), why).toBe(true);
        expect(distanceToSegment(pt(30, 50), flown[i] as FencePoint, flown[i + 1] as FencePoint), why).toBeGreaterThanOrEqual(10);
      }
      // Round the tip, not far below it: the south-most point at most 12 m below it.
      expect(Math.min(...(way ?? []).map((p) => p.northM)), why).toBeGreaterThan(18);
      // And a lane straight across it is flown on past it.
      const cut = fenceCut(pt(60, -20), pt(60, 120), f);
      expect(cut.at(-1)?.eastM, `${name}: ${JSON.stringify(cut)}`).toBeCloseTo(90, 6);
    }
  });

  it('a leg from a waypoint on the fence itself (a slanted edge, in decimetres) to one inside is flown, in a convex fence or a concave one', () => {
    // [18.9, 63] lies on the edge [0, 0]-[30, 100]; in floating point the leg from it "crosses" that
    // edge 1e-17 of the way along. Before: fenceCut gave [] (wayInside null: not in sight, and no way
    // round), so the leg was skipped, where before wayInside it was [b].
    const slanted = [pt(0, 0), pt(30, 100), pt(130, 100), pt(100, 0)];
    expect(insideFence(pt(18.9, 63), slanted)).toBe(true);
    expect(wayInside(pt(18.9, 63), pt(60, 50), slanted)).toEqual([]);
    expect(fenceCut(pt(18.9, 63), pt(60, 50), slanted)).toEqual([pt(60, 50)]);
    expect(fenceCut(pt(60, 50), pt(18.9, 63), slanted)).toEqual([pt(18.9, 63)]);
    // A notch in the north: the same from the slanted edge, round the notch when it is in the way.
    const notched = [pt(0, 0), pt(30, 100), pt(130, 100), pt(130, 60), pt(70, 60), pt(70, 40), pt(130, 40), pt(100, 0)];
    expect(fenceCut(pt(18.9, 63), pt(40, 50), notched)).toEqual([pt(40, 50)]);
    // (That leg passes 3.6 m from the notch's corner [70, 40]: round it, 10 m clear.)
    expect(near(fenceCut(pt(18.9, 63), pt(100, 20), notched))).toEqual([
      [59.8, 29.8],
      [100, 20],
    ]);
  });

  it('fenceCut: a stretch of a leg inside the fence that passes a notch\'s corner nearer than the margin goes round it', () => {
    const u = [pt(0, 0), pt(0, 100), pt(100, 100), pt(100, 60), pt(40, 60), pt(40, 40), pt(100, 40), pt(100, 0)];
    const round = [
      [29.8, 29.8],
      [29.8, 70.2],
    ];
    // In through the west side and out through the east, half a metre south of the notch. Before:
    // [39.5, 10] then [39.5, 90], straight past its corners 0.5 m from the fence.
    expect(near(fenceCut(pt(39.5, -20), pt(39.5, 120), u))).toEqual([[39.5, 10], ...round, [39.5, 90]]);
    // From inside out through the east side, and from the west side in to a waypoint inside.
    expect(near(fenceCut(pt(39.5, 20), pt(39.5, 120), u))).toEqual([...round, [39.5, 90]]);
    expect(near(fenceCut(pt(39.5, -20), pt(39.5, 80), u))).toEqual([[39.5, 10], ...round, [39.5, 80]]);
    // 10 m south of the corners: straight, as before.
    expect(near(fenceCut(pt(30, -20), pt(30, 120), u))).toEqual([[30, 10], [30, 90]]);
  });

  it('random legs through random star-shaped (concave) fences: every point made is inside, the margin from every edge, and the way from each to the next stays inside', () => {
    const seed = 11;
    const rng = new Prng(seed);
    let made = 0;
    let rounded = 0;
    for (let k = 0; k < 1000; k++) {
      const { fence, a, b } = randomStarCase(rng);
      const n = fence.length;
      const cut = fenceCut(a, b, fence);
      const why = `seed ${seed} case ${k}: fence ${JSON.stringify(fence)} leg ${JSON.stringify([a, b])} cut ${JSON.stringify(cut)}`;
      for (const p of cut) {
        if (p === b) continue;
        made++;
        const d = Math.min(...fence.map((s, i) => distanceToSegment(p, s, fence[(i + 1) % n] as FencePoint)));
        expect(insideFence(p, fence), why).toBe(true);
        expect(d, why).toBeGreaterThanOrEqual(10 - 1e-6);
      }
      for (let i = 0; i + 1 < cut.length; i++) expect(inSight(cut[i] as FencePoint, cut[i + 1] as FencePoint, fence), why).toBe(true);
      if (insideFence(a, fence) && cut.length > 0) expect(inSight(a, cut[0] as FencePoint, fence), why).toBe(true);
      // A point off the leg's line: a way round a notch.
      const off = (p: FencePoint): number => Math.abs((b.northM - a.northM) * (p.eastM - a.eastM) - (b.eastM - a.eastM) * (p.northM - a.northM)) / Math.hypot(b.northM - a.northM, b.eastM - a.eastM);
      if (cut.some((p) => off(p) > 1)) rounded++;
    }
    expect(made).toBeGreaterThan(100);
    expect(rounded).toBeGreaterThan(10);
  });

  it('a leg meeting the fence at a shallow angle stops the margin from the fence, not the margin along the leg', () => {
    const cut = fenceCut(pt(0, 170), pt(200, 190), fence, 2); // crosses east 180 at north 100, at about 5.7 degrees
    expect(cut).toHaveLength(1);
    const end = cut[0] as FencePoint;
    expect(180 - end.eastM).toBeCloseTo(2, 6);
    expect(end.northM).toBeCloseTo(80, 6);
  });

  it('a leg along an edge of the fence, or nearer to one than the margin all the way, is not flown', () => {
    const square = [pt(0, 0), pt(0, 100), pt(100, 100), pt(100, 0)];
    // On the south edge itself (even-odd counts it inside): before, flown from 10 to 90 m east on the
    // fence line, where any error in position is a breach.
    expect(fenceCut(pt(0, -50), pt(0, 150), square)).toEqual([]);
    expect(fenceCut(pt(3, 150), pt(3, -50), square)).toEqual([]); // 3 m inside it
    expect(fenceCut(pt(100, -50), pt(100, 150), square)).toEqual([]); // on the north edge (counted outside)
    // Far enough in, it is flown, every point it makes the margin from every edge.
    expect(near(fenceCut(pt(10, -50), pt(10, 150), square))).toEqual([
      [10, 10],
      [10, 90],
    ]);
  });

  it('a point it makes is the margin from every edge, not only from the one the leg crosses', () => {
    const square = [pt(0, 0), pt(0, 100), pt(100, 100), pt(100, 0)];
    const distance = (p: FencePoint): number => Math.min(p.northM, 100 - p.northM, p.eastM, 100 - p.eastM);
    // In across the west edge 4 m from the south-west corner, at 11 degrees to the south edge: the
    // margin from the west edge alone (before: [6, 10]) leaves the point 6 m from the south edge.
    const inward = fenceCut(pt(0, -20), pt(20, 80), square);
    expect(near(inward)).toEqual([
      [10, 30],
      [20, 80],
    ]);
    const outward = fenceCut(pt(20, 80), pt(0, -20), square);
    expect(near(outward)).toEqual([[10, 30]]);
    expect([...inward, ...outward].map(distance).every((d) => d >= 10 - 1e-9)).toBe(true);
  });

  it('a sliver inside, with less than the margin left once cut, is not flown', () => {
    // Across the fence's north-east corner: 7.8 m inside, 6.2 m of it within 2 m of an edge.
    expect(fenceCut(pt(262, 170), pt(250, 190), fence, 2)).toEqual([]);
    expect(fenceCut(pt(262, 170), pt(250, 190), fence, 1)).toHaveLength(2);
  });

  it('random legs through random convex fences: every point it makes is inside, the margin from every edge', () => {
    const seed = 7;
    const rng = new Prng(seed);
    const r = (lo: number, hi: number): number => lo + (hi - lo) * rng.next();
    let made = 0;
    for (let k = 0; k < 500; k++) {
      // A convex polygon: points on an ellipse at sorted angles.
      const n = 3 + Math.floor(r(0, 6));
      const angles = Array.from({ length: n }, () => r(0, 2 * Math.PI)).sort((x, y) => x - y);
      const rn = r(20, 200);
      const re = r(20, 200);
      const fence = angles.map((t) => pt(rn * Math.cos(t), re * Math.sin(t)));
      const a = pt(r(-300, 300), r(-300, 300));
      const b = pt(r(-300, 300), r(-300, 300));
      const cut = fenceCut(a, b, fence);
      for (const p of cut) {
        if (p === b) continue;
        made++;
        const d = Math.min(...fence.map((s, i) => distanceToSegment(p, s, fence[(i + 1) % n] as FencePoint)));
        const why = `seed ${seed} case ${k}: fence ${JSON.stringify(fence)} leg ${JSON.stringify([a, b])} cut ${JSON.stringify(cut)}`;
        expect(insideFence(p, fence), why).toBe(true);
        expect(d, why).toBeGreaterThanOrEqual(10 - 1e-6);
      }
    }
    expect(made).toBeGreaterThan(100);
  });
});
