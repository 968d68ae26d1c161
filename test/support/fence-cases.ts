// Random fences and legs for the fence cut's property tests (test/mission), from a seeded Prng.

import type { FencePoint } from '../../runtime/mission/fence-cut.js';
import type { Prng } from '../../runtime/lib/prng.js';

export const pt = (northM: number, eastM: number): FencePoint => ({ northM, eastM });

/** The distance from p to the segment s→e. */
export function distanceToSegment(p: FencePoint, s: FencePoint, e: FencePoint): number {
  const dn = e.northM - s.northM;
  const de = e.eastM - s.eastM;
  const l2 = dn * dn + de * de;
  const u = l2 === 0 ? 0 : Math.max(0, Math.min(1, ((p.northM - s.northM) * dn + (p.eastM - s.eastM) * de) / l2));
  return Math.hypot(p.northM - s.northM - u * dn, p.eastM - s.eastM - u * de);
}

/** A star-shaped fence of 5 to 12 corners (random radii at sorted angles: concave, notches and all)
 *  and a leg from and to anywhere round it. */
export function randomStarCase(rng: Prng): { fence: FencePoint[]; a: FencePoint; b: FencePoint } {
  const r = (lo: number, hi: number): number => lo + (hi - lo) * rng.next();
  const n = 5 + Math.floor(r(0, 8));
  const angles = Array.from({ length: n }, () => r(0, 2 * Math.PI)).sort((x, y) => x - y);
  const fence = angles.map((t) => {
    const radius = r(60, 300);
    return pt(radius * Math.cos(t), radius * Math.sin(t));
  });
  return { fence, a: pt(r(-350, 350), r(-350, 350)), b: pt(r(-350, 350), r(-350, 350)) };
}
