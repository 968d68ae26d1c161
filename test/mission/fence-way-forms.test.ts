// wayInside and fenceCut on the same fence written in other ways: clockwise rather than
// counter-clockwise, closed (its first point repeated at the end), a corner written twice, a point in the
// middle of an edge. Each is the same fence to the operator and must give the same way.

import { describe, expect, it } from 'vitest';
import { fenceCut, type FencePoint } from '../../runtime/mission/fence-cut.js';
import { Prng } from '../../runtime/lib/prng.js';

const pt = (northM: number, eastM: number): FencePoint => ({ northM, eastM });
const round = (ps: readonly FencePoint[] | null): Array<[number, number]> | null => (ps === null ? null : ps.map((p) => [Math.round(p.northM * 100) / 100, Math.round(p.eastM * 100) / 100]));

/** The same fence written in other ways. */
function forms(fence: readonly FencePoint[], rng: Prng): Array<{ name: string; fence: FencePoint[] }> {
  const n = fence.length;
  const k = Math.floor(rng.next() * n);
  const twice = [...fence.slice(0, k + 1), fence[k] as FencePoint, ...fence.slice(k + 1)];
  const a = fence[k] as FencePoint;
  const b = fence[(k + 1) % n] as FencePoint;
  const mid = [...fence.slice(0, k + 1), pt((a.northM + b.northM) / 2, (a.eastM + b.eastM) / 2), ...fence.slice(k + 1)];
  return [
    { name: 'reversed', fence: [...fence].reverse() },
    { name: 'closed', fence: [...fence, fence[0] as FencePoint] },
    { name: `corner ${k} twice`, fence: twice },
    { name: `a point in the middle of edge ${k}`, fence: mid },
  ];
}

describe('a fence written in other ways gives the same way', () => {
  it('the U fence, closed or with the corner a way bends at written twice: the same way round the notch', () => {
    const u = [pt(0, 0), pt(0, 100), pt(100, 100), pt(100, 60), pt(20, 60), pt(20, 40), pt(100, 40), pt(100, 0)];
    const want = round(fenceCut(pt(50, -20), pt(50, 120), u, 2));
    expect(want?.length).toBe(6);
    // The notch's inner corner [20, 40] first: a closed ring, and the corner written twice.
    const rotated = [...u.slice(5), ...u.slice(0, 5)];
    expect(round(fenceCut(pt(50, -20), pt(50, 120), [...rotated, rotated[0] as FencePoint], 2))).toEqual(want);
    expect(round(fenceCut(pt(50, -20), pt(50, 120), [...u.slice(0, 5), pt(20, 40), ...u.slice(5)], 2))).toEqual(want);
  });

  it('random legs through random star-shaped fences', () => {
    const seed = 23;
    const rng = new Prng(seed);
    const r = (lo: number, hi: number): number => lo + (hi - lo) * rng.next();
    let rounded = 0;
    for (let c = 0; c < 600; c++) {
      const n = 5 + Math.floor(r(0, 8));
      const angles = Array.from({ length: n }, () => r(0, 2 * Math.PI)).sort((x, y) => x - y);
      const fence = angles.map((t) => {
        const radius = r(60, 300);
        return pt(radius * Math.cos(t), radius * Math.sin(t));
      });
      const a = pt(r(-350, 350), r(-350, 350));
      const b = pt(r(-350, 350), r(-350, 350));
      const want = round(fenceCut(a, b, fence));
      if ((want?.length ?? 0) > 2) rounded++;
      for (const f of forms(fence, rng)) {
        const got = round(fenceCut(a, b, f.fence));
        expect(got, `seed ${seed} case ${c}, the fence ${f.name}: fence ${JSON.stringify(fence)} leg ${JSON.stringify([a, b])}`).toEqual(want);
      }
    }
    expect(rounded).toBeGreaterThan(10);
  });
});
