// Allocation from committed state: how a survey's lanes are split among its drones (by flight length,
// in whole decimetres) and which drones may take a part at all.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { splitLanes } from '../../runtime/mission/allocate.js';
import { lawnmowerLanes, type Lane } from '../../runtime/mission/geometry.js';
import type { PointDm } from '../../runtime/mission/types.js';

const dm = (pts: readonly (readonly [number, number])[]): PointDm[] => pts.map(([n, e]) => ({ n: n * 10, e: e * 10 }));

/** A group's flight in decimetres, as a drone flies it: each lane, and the straight turn to the next. */
function flownDm(group: readonly Lane[]): number {
  let sum = 0;
  group.forEach((l, i) => {
    sum += Math.abs(l.to - l.from);
    const prev = group[i - 1];
    if (prev) sum += Math.floor(Math.hypot(l.n - prev.n, l.from - prev.to));
  });
  return sum;
}

describe('splitLanes', () => {
  it('splits a triangle by flight length, not lane count: the longest part is at most 1.5 times the shortest (was 6.4 times)', () => {
    const lanes = lawnmowerLanes(dm([[0, 0], [0, 200], [200, 0]]), 100, 1_000) as Lane[];
    const groups = splitLanes(lanes, 5);
    expect(groups).toHaveLength(5);
    expect(groups.flat()).toEqual(lanes);
    const lengths = groups.map(flownDm);
    expect(Math.max(...lengths)).toBeLessThanOrEqual(Math.min(...lengths) * 1.5);
  });

  it('keeps lanes in order, every lane once, one group per drone (or per lane when fewer), none empty, and no longer than the longest lane count split gives', () => {
    const lane = fc.record({ n: fc.integer({ min: 0, max: 5_000 }), from: fc.integer({ min: -5_000, max: 5_000 }), to: fc.integer({ min: -5_000, max: 5_000 }) });
    fc.assert(
      fc.property(fc.array(lane, { minLength: 1, maxLength: 40 }), fc.integer({ min: 1, max: 12 }), (lanes, drones) => {
        const groups = splitLanes(lanes, drones);
        expect(groups).toHaveLength(Math.min(drones, lanes.length));
        expect(groups.every((g) => g.length > 0)).toBe(true);
        expect(groups.flat()).toEqual(lanes);
        // The count split (the first lanes % drones groups one lane more) as a bound on the longest part.
        const count = Math.min(drones, lanes.length);
        const byCount: Lane[][] = [];
        let at = 0;
        for (let g = 0; g < count; g++) {
          const size = Math.floor(lanes.length / count) + (g < lanes.length % count ? 1 : 0);
          byCount.push(lanes.slice(at, at + size));
          at += size;
        }
        expect(Math.max(...groups.map(flownDm))).toBeLessThanOrEqual(Math.max(...byCount.map(flownDm)) + groups.length);
      }),
      { numRuns: 300, seed: 7 },
    );
  });
});
