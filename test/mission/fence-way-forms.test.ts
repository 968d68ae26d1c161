// wayInside and fenceCut on the same fence written in other ways: clockwise rather than
// counter-clockwise, closed (its first point repeated at the end), a corner written twice, a point in the
// middle of an edge. Each is the same fence to the operator and must give the same way.

import { describe, expect, it } from 'vitest';
import { fenceCut, insideFence, type FencePoint } from '../../runtime/mission/fence-cut.js';
import { Prng } from '../../runtime/lib/prng.js';
import { distanceToSegment, pt, randomStarCase } from '../support/fence-cases.js';

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
    let rounded = 0;
    for (let c = 0; c < 600; c++) {
      const { fence, a, b } = randomStarCase(rng);
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

describe('the margin from a notch\'s corners', () => {
  it('random legs through random star-shaped fences: no stretch flown passes a reflex corner nearer than the margin, but near a point of the leg itself (where the drone is, or the leg goes)', () => {
    const seed = 31;
    const rng = new Prng(seed);
    const m = 10;
    const d = (p: FencePoint, q: FencePoint): number => Math.hypot(p.northM - q.northM, p.eastM - q.eastM);
    let passedNear = 0;
    let straightNear = 0;
    for (let c = 0; c < 1500; c++) {
      const { fence, a, b } = randomStarCase(rng);
      const n = fence.length;
      let area2 = 0;
      fence.forEach((p, i) => {
        const q = fence[(i + 1) % n] as FencePoint;
        area2 += p.eastM * q.northM - q.eastM * p.northM;
      });
      const reflex = fence.filter((v, i) => {
        const p = fence[(i + n - 1) % n] as FencePoint;
        const q = fence[(i + 1) % n] as FencePoint;
        return ((v.eastM - p.eastM) * (q.northM - v.northM) - (v.northM - p.northM) * (q.eastM - v.eastM)) * area2 < 0;
      });
      const cut = fenceCut(a, b, fence, m);
      const flown = [...(insideFence(a, fence) ? [a] : []), ...cut];
      // Points on the leg's line (a, b, where the leg comes in or goes out): the ends of each stretch.
      const onLeg = flown.map((p) => Math.abs((b.northM - a.northM) * (p.eastM - a.eastM) - (b.eastM - a.eastM) * (p.northM - a.northM)) / d(a, b) < 1e-6);
      for (let i = 0; i + 1 < flown.length; i++) {
        let e1 = i;
        while (!onLeg[e1]) e1--;
        let e2 = i + 1;
        while (!onLeg[e2]) e2++;
        for (const v of reflex) {
          const endNear = Math.min(d(v, flown[e1] as FencePoint), d(v, flown[e2] as FencePoint));
          const got = distanceToSegment(v, flown[i] as FencePoint, flown[i + 1] as FencePoint);
          if (got < m) passedNear++;
          const need = 0.99 * Math.min(m, endNear);
          // Straight from one end of a stretch to the other: wayInside leaves it so when no way round
          // the corner keeps the margin (a narrow neck, or an end too near the corner), as before it.
          // Counted; a way that bends (a point off the leg) always keeps it.
          if (got < need && e1 === i && e2 === i + 1) {
            straightNear++;
            continue;
          }
          expect(got, `seed ${seed} case ${c}: corner ${JSON.stringify(v)}, segment ${i} of ${JSON.stringify(flown)}; fence ${JSON.stringify(fence)} leg ${JSON.stringify([a, b])}`).toBeGreaterThanOrEqual(need);
        }
      }
    }
    expect(passedNear).toBeGreaterThan(0); // near the leg's own points: the exemption is exercised
    // 0 or 1 in 1500 legs (seeds 31, 101-105); before b2a94ba and c087756 (review6), 12 to 27.
    expect(straightNear, `seed ${seed}: stretches left straight past a corner`).toBeLessThan(5);
  });
});
