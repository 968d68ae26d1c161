// fenceCut: the parts of a route's leg inside a fence the drone keeps on its own, as points to fly.

import { describe, expect, it } from 'vitest';
import { fenceCut, type FencePoint } from '../../runtime/mission/fence-cut.js';

const pt = (northM: number, eastM: number): FencePoint => ({ northM, eastM });
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

  it('a concave fence: each stretch inside, in order along the leg', () => {
    // A U: two arms north of a notch between east 40 and 60.
    const u = [pt(0, 0), pt(0, 100), pt(100, 100), pt(100, 60), pt(20, 60), pt(20, 40), pt(100, 40), pt(100, 0)];
    expect(near(fenceCut(pt(50, -20), pt(50, 120), u, 2))).toEqual([
      [50, 2],
      [50, 38],
      [50, 62],
      [50, 98],
    ]);
    expect(fenceCut(pt(50, 10), pt(50, 90), u)).toEqual([pt(50, 90)]); // both ends in: the plan's leg
  });

  it('a leg meeting the fence at a shallow angle stops the margin from the fence, not the margin along the leg', () => {
    const cut = fenceCut(pt(0, 170), pt(200, 190), fence, 2); // crosses east 180 at north 100, at about 5.7 degrees
    expect(cut).toHaveLength(1);
    const end = cut[0] as FencePoint;
    expect(180 - end.eastM).toBeCloseTo(2, 6);
    expect(end.northM).toBeCloseTo(80, 6);
  });

  it('a sliver inside, with less than the margin left once cut, is not flown', () => {
    // Across the fence's north-east corner: 7.8 m inside, 6.2 m of it within 2 m of an edge.
    expect(fenceCut(pt(262, 170), pt(250, 190), fence, 2)).toEqual([]);
    expect(fenceCut(pt(262, 170), pt(250, 190), fence, 1)).toHaveLength(2);
  });
});
