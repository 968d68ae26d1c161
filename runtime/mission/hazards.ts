// Committed hazards in the mission plan. The swarm commits hazard cells (agents/swarm/hazard-commit.ts,
// f+1 distinct devices); the mission machine turns the committed set into keep-out circles, one per
// cluster of nearby cells, and routes every waypoint list around them: waypoints inside a circle are
// dropped and a leg that crosses one goes round it by two corner points on the side away from its
// centre. Integer decimetres and an integer square root throughout, so every device plans the same
// detour bit for bit (STYLE.md §8).

import type { HazardSet, PointDm } from './types.js';

/** A circle no route may cross: centre and radius in decimetres. */
export interface KeepOut {
  readonly n: number;
  readonly e: number;
  readonly r: number;
}

/** Clearance kept from a hazard cell's edge, decimetres. */
export const hazardMarginDm = 80;
/** Cells this many cells apart (Chebyshev) or closer belong to one hazard. */
const clusterGapCells = 2;
/** Detours nest at most this deep for one leg; past it the leg is left as it is. */
const detourDepthMax = 4;

/** floor(sqrt(n)) for an integer 0 <= n < 2^53, exactly. */
export function isqrt(n: number): number {
  if (n <= 0) return 0;
  let x = Math.floor(Math.sqrt(n));
  while (x * x > n) x--;
  while ((x + 1) * (x + 1) <= n) x++;
  return x;
}

/** floor(a / b) for integers, exactly (b > 0). */
function idiv(a: number, b: number): number {
  let q = Math.floor(a / b);
  while (q * b > a) q--;
  while ((q + 1) * b <= a) q++;
  return q;
}

export function sameHazards(a: HazardSet | null, b: HazardSet | null): boolean {
  if (a === null || b === null) return a === b;
  if (a.cellDm !== b.cellDm || a.cells.length !== b.cells.length) return false;
  return a.cells.every((c, i) => c[0] === b.cells[i]?.[0] && c[1] === b.cells[i]?.[1]);
}

/** One keep-out circle per cluster of committed cells, in the order of each cluster's first cell. */
export function keepOuts(h: HazardSet | null): KeepOut[] {
  if (h === null || h.cells.length === 0) return [];
  const cells = [...h.cells].sort((x, y) => x[0] - y[0] || x[1] - y[1]);
  const parent = cells.map((_, i) => i);
  const root = (i: number): number => (parent[i] === i ? i : (parent[i] = root(parent[i] as number)));
  for (let i = 0; i < cells.length; i++) {
    for (let j = i + 1; j < cells.length; j++) {
      const a = cells[i] as readonly [number, number];
      const b = cells[j] as readonly [number, number];
      if (Math.max(Math.abs(a[0] - b[0]), Math.abs(a[1] - b[1])) <= clusterGapCells) parent[root(j)] = root(i);
    }
  }
  const half = idiv(h.cellDm, 2);
  const centre = (c: readonly [number, number]): PointDm => ({ n: c[0] * h.cellDm + half, e: c[1] * h.cellDm + half });
  const halfDiagonal = isqrt(2 * half * half) + 1;
  const zones: KeepOut[] = [];
  const seen = new Set<number>();
  for (let i = 0; i < cells.length; i++) {
    const r0 = root(i);
    if (seen.has(r0)) continue;
    seen.add(r0);
    const members = cells.filter((_, j) => root(j) === r0).map(centre);
    const n = idiv(members.reduce((s, p) => s + p.n, 0), members.length);
    const e = idiv(members.reduce((s, p) => s + p.e, 0), members.length);
    const spread = Math.max(...members.map((p) => isqrt((p.n - n) * (p.n - n) + (p.e - e) * (p.e - e))));
    zones.push({ n, e, r: spread + halfDiagonal + hazardMarginDm });
  }
  return zones;
}

const inside = (p: PointDm, z: KeepOut): boolean => (p.n - z.n) * (p.n - z.n) + (p.e - z.e) * (p.e - z.e) < z.r * z.r;

/** The first circle (along the leg) that the leg a -> b passes through, and on which side of the leg it lies. */
function firstCrossing(a: PointDm, b: PointDm, zones: readonly KeepOut[]): { z: KeepOut; cross: number; len: number } | null {
  const dn = b.n - a.n;
  const de = b.e - a.e;
  const len2 = dn * dn + de * de;
  if (len2 === 0) return null;
  const len = isqrt(len2);
  let best: { z: KeepOut; cross: number; len: number; along: number } | null = null;
  for (const z of zones) {
    const along = (z.n - a.n) * dn + (z.e - a.e) * de;
    // The closest point of the leg is an end point (outside every circle) unless the centre projects inside it.
    if (along <= 0 || along >= len2) continue;
    const cross = dn * (z.e - a.e) - de * (z.n - a.n);
    if (Math.abs(cross) >= z.r * len) continue;
    if (!best || along < best.along) best = { z, cross, len, along };
  }
  return best;
}

/** Points to fly between a and b so the path stays outside every circle (as far as depth allows). */
function detour(a: PointDm, b: PointDm, zones: readonly KeepOut[], depth: number): PointDm[] {
  const hit = depth < detourDepthMax ? firstCrossing(a, b, zones) : null;
  if (!hit) return [];
  const { z, cross, len } = hit;
  const dn = b.n - a.n;
  const de = b.e - a.e;
  const r = z.r + 1;
  // Unit vectors scaled to r: u along the leg, v across it; go round on the side away from the centre.
  const side = cross > 0 ? -1 : 1;
  const u = { n: idiv(dn * r, len), e: idiv(de * r, len) };
  const v = { n: side * idiv(-de * r, len), e: side * idiv(dn * r, len) };
  const d1 = { n: z.n + v.n - u.n, e: z.e + v.e - u.e };
  const d2 = { n: z.n + v.n + u.n, e: z.e + v.e + u.e };
  return [...detour(a, d1, zones, depth + 1), d1, ...detour(d1, d2, zones, depth + 1), d2, ...detour(d2, b, zones, depth + 1)];
}

/** The route with waypoints inside a keep-out dropped and every crossing leg routed round it. */
export function avoidKeepOuts(route: readonly PointDm[], zones: readonly KeepOut[]): PointDm[] {
  if (zones.length === 0) return [...route];
  const kept = route.filter((p) => !zones.some((z) => inside(p, z)));
  const out: PointDm[] = [];
  kept.forEach((p, i) => {
    const prev = kept[i - 1];
    if (prev) out.push(...detour(prev, p, zones, 0));
    out.push(p);
  });
  return out;
}

/** Where a re-planned route continues: just after the last waypoint of the old route that the drone
 *  had passed (before index oldNext) and the new route still holds, so detour points inserted after
 *  it come next; 0 when it holds none of them. */
export function resumeIndex<P>(old: readonly P[], oldNext: number, route: readonly P[], same: (a: P, b: P) => boolean): number {
  for (let k = Math.min(oldNext, old.length) - 1; k >= 0; k--) {
    const p = old[k] as P;
    const at = route.findIndex((q) => same(p, q));
    if (at >= 0) return at + 1;
  }
  return 0;
}
