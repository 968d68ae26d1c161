// Committed hazards in the mission plan. The swarm commits hazard cells (agents/swarm/hazard-commit.ts,
// f+1 distinct devices); the mission machine turns the committed set into keep-out circles, one per
// cluster of nearby cells, and routes every waypoint list around them: waypoints inside a circle are
// dropped and a leg that crosses one goes round it by two corner points on the side away from its
// centre, or on the other side when that one would leave the geofence or enter another keep-out; a leg
// with no such way round is blocked (the drone holds before it). Integer decimetres and an integer square root throughout, so every device plans the same
// detour bit for bit (STYLE.md §8).

import { insidePolygon, legOutside } from './geometry.js';
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
/** Detours nest at most this deep for one leg; past it the leg has no way round (routeAround). */
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

/** The committed cell nearest `p` (ties: the first in the set's order), or null when there is none:
 *  the hazard a point inside a keep-out is named by. */
export function nearestHazardCell(h: HazardSet | null, p: PointDm): readonly [number, number] | null {
  let best: readonly [number, number] | null = null;
  let bestD2 = Infinity;
  const half = h ? idiv(h.cellDm, 2) : 0;
  for (const c of h?.cells ?? []) {
    const dn = c[0] * (h as HazardSet).cellDm + half - p.n;
    const de = c[1] * (h as HazardSet).cellDm + half - p.e;
    if (dn * dn + de * de < bestD2) [best, bestD2] = [c, dn * dn + de * de];
  }
  return best;
}

/** "committed hazard cell 3,2", or "committed hazard cells 3,2 and 7,7": those nearest `points`. */
export function hazardCellsText(h: HazardSet | null, points: readonly PointDm[]): string {
  const cells = [...new Set(points.map((p) => nearestHazardCell(h, p)?.join(',') ?? '?'))];
  return `committed hazard ${cells.length === 1 ? 'cell' : 'cells'} ${cells.join(' and ')}`;
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

/** The two corner points round the circle the leg a -> b crosses: on the side away from its centre
 *  (`flip` 0), or on the other (1). */
function corners(a: PointDm, b: PointDm, hit: { z: KeepOut; cross: number; len: number }, flip: 0 | 1): [PointDm, PointDm] {
  const { z, cross, len } = hit;
  const dn = b.n - a.n;
  const de = b.e - a.e;
  const r = z.r + 1;
  // Unit vectors scaled to r: u along the leg, v across it; go round on the side away from the centre.
  const side = (cross > 0 ? -1 : 1) * (flip === 0 ? 1 : -1);
  const u = { n: idiv(dn * r, len), e: idiv(de * r, len) };
  const v = { n: side * idiv(-de * r, len), e: side * idiv(dn * r, len) };
  return [
    { n: z.n + v.n - u.n, e: z.e + v.e - u.e },
    { n: z.n + v.n + u.n, e: z.e + v.e + u.e },
  ];
}

/** A leg of a route that cannot be flown: the one into route point `to`, and why. */
export interface BlockedLeg {
  readonly to: number;
  readonly reason: string;
}

const atM = (p: PointDm): string => `[${p.n / 10}, ${p.e / 10}] m`;

/**
 * A way from a to b outside every circle and, with a fence, inside it (no point outside, no leg
 * across its edge): the detour points between them, or null when there is none within
 * detourDepthMax. Each circle is tried on the side away from its centre first, then on the other.
 */
function clearDetour(a: PointDm, b: PointDm, zones: readonly KeepOut[], fence: readonly PointDm[] | null, depth: number): PointDm[] | null {
  const hit = firstCrossing(a, b, zones);
  if (!hit) return fence && legOutside(a, b, fence) ? null : [];
  if (depth >= detourDepthMax) return null;
  for (const flip of [0, 1] as const) {
    const [d1, d2] = corners(a, b, hit, flip);
    if ([d1, d2].some((p) => zones.some((z) => inside(p, z)) || (fence !== null && !insidePolygon(p, fence)))) continue;
    const p1 = clearDetour(a, d1, zones, fence, depth + 1);
    const p2 = p1 && clearDetour(d1, d2, zones, fence, depth + 1);
    const p3 = p2 && clearDetour(d2, b, zones, fence, depth + 1);
    if (p1 && p2 && p3) return [...p1, d1, ...p2, d2, ...p3];
  }
  return null;
}

/**
 * The way from where a drone is (`from`, which may be inside a keep-out it is leaving) to the next point
 * of its route, round the committed keep-outs and, with a fence, inside it: the detour points to fly
 * before `to` ([] when the straight leg is clear), or null when there is none. routeAround plans the
 * legs between route points; this is the leg into the route a drone flies from its own position (its
 * way to the first waypoint, or on after a reflex stopped it), which no plan knows. The fence binds the
 * way only when the drone is inside it (a drone on a pad outside it must still reach the route). Not
 * part of the committed plan: each device works it out for itself, and fleet-sim's flight layer the
 * same way.
 */
export function wayFrom(from: PointDm, to: PointDm, zones: readonly KeepOut[], fence: readonly PointDm[] | null): PointDm[] | null {
  return clearDetour(from, to, zones, fence && insidePolygon(from, fence) ? fence : null, 0);
}

/**
 * The route a drone flies round the committed keep-outs, inside the fence when there is one: waypoints
 * inside a keep-out dropped, and each leg that crosses one replaced by a detour that keeps outside
 * every keep-out and inside the fence (the side away from the centre first, else the other). A leg
 * with no such detour stays in the route as it is, listed in `blocked`: the drone holds before it
 * (its task's `blocked`), it never flies it. What the machine plans and re-plans, and what a
 * restarted device resumes. `index`: where each given waypoint is in the route, -1 when dropped.
 */
export function routeAround(route: readonly PointDm[], zones: readonly KeepOut[], fence: readonly PointDm[] | null): { route: PointDm[]; blocked: BlockedLeg[]; index: number[] } {
  const index = route.map(() => -1);
  const kept: PointDm[] = [];
  route.forEach((p, i) => {
    if (zones.some((z) => inside(p, z))) return;
    index[i] = kept.length;
    kept.push(p);
  });
  const out: PointDm[] = [];
  const blocked: BlockedLeg[] = [];
  const at: number[] = [];
  kept.forEach((p, i) => {
    const prev = kept[i - 1];
    if (prev) {
      const way = clearDetour(prev, p, zones, fence, 0);
      if (way) out.push(...way);
      else blocked.push({ to: out.length, reason: `no way round the committed hazards from ${atM(prev)} to ${atM(p)} keeps ${fence ? 'inside the geofence and ' : ''}outside every keep-out` });
    }
    at.push(out.length);
    out.push(p);
  });
  return { route: out, blocked, index: index.map((k) => (k < 0 ? -1 : (at[k] as number))) };
}

/** How far behind the point a range beam hit the centre of a local keep-out lies, and its radius,
 *  decimetres: a thin mast is well inside it; a wide obstacle is met again at another point, and that
 *  sighting adds a keep-out of its own. */
const localBehindDm = 30;
const localRadiusDm = 120;
/** A local keep-out met again in its outer half grows, up to this radius, decimetres. */
export const localRadiusMaxDm = 600;
/** Local keep-outs a drone keeps, the newest. */
export const localKeepOutsMax = 16;

/**
 * The keep-outs a drone adds for itself after its obstacle back-off (agents/builtin/mission-reflexes.ts):
 * a circle round the point its range beam hit, pushed a little along the beam into the obstacle. Its
 * own routing (wayFrom: the leg from where it is, its way home) goes round them from then on, as round
 * the committed ones; nothing about them goes to consensus (the swarm commits hazards from f+1
 * devices' attestations), so a drone alone with an obstacle no other drone sees still gets past it.
 * A hit inside a committed keep-out, or in the inner half of one of its own (the obstacle it already
 * keeps clear of), adds nothing (null). A hit in the outer half of one of its own says the obstacle
 * reaches out of it (a wide building: the way round the circle met it again): that circle grows to
 * enclose the new one, up to localRadiusMaxDm (past it, null), and counts as the newest. Before, such a
 * hit added nothing and the drone flew the same way round into the building again, for good. The
 * oldest goes past localKeepOutsMax.
 */
export function withLocalKeepOut(local: readonly KeepOut[], committed: readonly KeepOut[], hitNorthM: number, hitEastM: number, beamRad: number): KeepOut[] | null {
  const hit = { n: Math.round(hitNorthM * 10), e: Math.round(hitEastM * 10) };
  if (committed.some((z) => inside(hit, z))) return null;
  const z = { n: hit.n + Math.round(Math.cos(beamRad) * localBehindDm), e: hit.e + Math.round(Math.sin(beamRad) * localBehindDm), r: localRadiusDm };
  const at = local.findIndex((x) => inside(hit, x));
  if (at < 0) return [...local, z].slice(-localKeepOutsMax);
  const old = local[at] as KeepOut;
  const hn = hit.n - old.n;
  const he = hit.e - old.e;
  if (4 * (hn * hn + he * he) < old.r * old.r) return null;
  // The smallest circle round both (integer decimetres, rounded out).
  const dn = z.n - old.n;
  const de = z.e - old.e;
  const d = isqrt(dn * dn + de * de) + 1;
  if (d + z.r <= old.r) return null;
  const r = idiv(d + old.r + z.r + 1, 2);
  if (r > localRadiusMaxDm) return null;
  const grown = { n: old.n + idiv(dn * (r - old.r), d), e: old.e + idiv(de * (r - old.r), d), r };
  return [...local.filter((_, i) => i !== at), grown].slice(-localKeepOutsMax);
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

/** Whether the leg to point `i` of `old` is the leg to point `j` of `route`: the same point, from the
 *  same one before it (or none at both). A re-plan that keeps the leg a drone is on keeps what it had
 *  of that leg (its cut at a fence). */
export function sameLeg<P>(old: readonly P[], i: number, route: readonly P[], j: number, same: (a: P, b: P) => boolean): boolean {
  const eq = (p: P | undefined, q: P | undefined): boolean => (p === undefined ? q === undefined : q !== undefined && same(p, q));
  return old[i] !== undefined && eq(old[i], route[j]) && eq(old[i - 1], route[j - 1]);
}
