// A leg of a route cut at a fence the drone keeps on its own (device.yaml `geofence`, fleet-sim's world
// geofence): the parts of the straight leg from `a` to `b` that lie inside the polygon, as the points to
// fly. A survey lane whose end lies past the fence is flown up to the fence, and the next lane from where
// it comes back in: before, a waypoint outside was skipped, and a lane with both ends past the fence, or
// one end, was not flown at all (the geofence scenario covered 3% of its field).

import { wayFrom, type KeepOut } from './hazards.js';
import type { PointDm } from './types.js';

/** A point in local metres (north, east). */
export interface FencePoint {
  readonly northM: number;
  readonly eastM: number;
}

/**
 * How far inside the fence (from the edge its leg crosses) a cut point lies, metres. The mission-reflexes
 * agent holds a drone whose position `geofenceLookaheadS` (2 s) ahead at its velocity lies outside a
 * fence, and keeps it held: a vehicle braking at a to its target sees that point up to a·T²/2 past the
 * target (8 m at the simulated multirotor's 4 m/s², 6 m at PX4's default 3 m/s²), so a cut point
 * closer to the fence than that would stop the drone short of it for good. 10 m leaves the hold to
 * real breaches, and a stop a little past the target (GNSS, position control) inside.
 */
export const fenceCutMarginM = 10;

/**
 * The points to fly for the leg a→b inside `fence`: for each stretch of the leg inside it, where the
 * stretch begins (unless at `a`, where the drone already is) and where it ends (`b` itself when `b` is
 * inside), each moved along the leg until it is `marginM` from the edge it crosses, and on (or back)
 * until it is that from every other edge too. A stretch with less than a margin left once cut is left
 * out. Between a stretch flown out through the fence and the next (a concave fence's notch: the leg
 * goes on outside), the way round the notch inside the fence (wayInside); with none, nothing further
 * on is flown. Empty when no part of the leg is inside. A leg whose ends are both inside yields [b], or
 * the way round a notch between them and b, or nothing when no way inside keeps the margin. Before, a
 * notch ended the leg there, or (both ends inside) was flown across, out of the fence.
 */
export function fenceCut(a: FencePoint, b: FencePoint, fence: readonly FencePoint[], marginM = fenceCutMarginM): FencePoint[] {
  const aIn = insideFence(a, fence);
  const bIn = insideFence(b, fence);
  if (aIn && bIn) {
    const way = wayInside(a, b, fence, marginM);
    return way === null ? [] : [...way, b];
  }
  const len = Math.hypot(b.northM - a.northM, b.eastM - a.eastM);
  if (len === 0) return bIn ? [b] : [];
  // Each crossing with how far along the leg (a fraction of it) the margin from the fence's edge lies:
  // a leg that meets the edge at a shallow angle goes further before it is marginM from it.
  const cs = [{ t: 0, step: 0 }, ...crossings(a, b, fence).map((c) => ({ t: c.t, step: marginM / (len * c.sin) })), { t: 1, step: 0 }].sort((x, y) => x.t - y.t);
  const at = (t: number): FencePoint => ({ northM: a.northM + (b.northM - a.northM) * t, eastM: a.eastM + (b.eastM - a.eastM) * t });
  // Where along the leg it is nearer than the margin to each edge: a point made there is moved on (or
  // back) out of it, so it is the margin from every edge, not only from the one the leg crosses (a leg
  // in near a corner, or along an edge, whose stretch inside is all nearer than that).
  const nears = fence.map((p, i) => nearEdge(a, b, p, fence[(i + 1) % fence.length] as FencePoint, marginM)).filter((x): x is readonly [number, number] => x !== null);
  const clear = (t: number, dir: 1 | -1): number => {
    for (let moved = true, n = 0; moved && n <= nears.length; n++) {
      moved = false;
      for (const [lo, hi] of nears) {
        if (lo < t && t < hi) {
          t = dir > 0 ? hi : lo;
          moved = true;
        }
      }
    }
    return t;
  };
  const out: FencePoint[] = [];
  for (let i = 0; i + 1 < cs.length; i++) {
    const s = cs[i] as { t: number; step: number };
    const e = cs[i + 1] as { t: number; step: number };
    if (e.t - s.t <= 1e-9 || !insideFence(at((s.t + e.t) / 2), fence)) continue;
    // `a` (where the drone is) and `b` (the plan's waypoint) inside are kept as they are.
    const from = s.t === 0 ? 0 : clear(s.t + s.step, 1);
    const to = e.t === 1 ? 1 : clear(e.t - e.step, -1);
    if ((to - from) * len < marginM) continue; // a sliver: nothing worth flying
    if (from > 0) {
      // Where the drone is inside the fence by then (the last point flown, or `a`), the leg went on
      // outside (a concave fence's notch, or a sliver left out): it flies round inside, or no further.
      const entry = at(from);
      const there = out[out.length - 1] ?? (aIn ? a : null);
      if (there !== null) {
        const way = wayInside(there, entry, fence, marginM);
        if (way === null) break;
        out.push(...way);
      }
      out.push(entry);
    }
    // Along the stretch, round a notch's corner it passes nearer than the margin (wayInside; straight
    // with no way round). Before, only the way from one stretch to the next went round: a stretch
    // flew past a corner as near as it passed it.
    const start = from > 0 ? (out[out.length - 1] as FencePoint) : a;
    const end = to === 1 ? b : at(to);
    out.push(...(wayInside(start, end, fence, marginM) ?? []), end);
  }
  return out;
}

/**
 * The way inside `fence` from `from` to `to` (both inside) where the straight one leaves it (across a
 * concave fence's notch, or past a notch's corner nearer than `marginM`): the points to fly between
 * them, [] when `to` is in sight and the way there that far from the notches' corners (or in sight with
 * no way round them), or null when no
 * way inside keeps `marginM` from the fence. A shortest such way bends only round the fence's reflex
 * corners (the inner corners of a notch), so its points are those corners moved into the fence until
 * they are the margin from both edges that meet there; each straight stretch of it stays inside and
 * keeps the margin from every corner of the fence (less only near `from` or `to`, where the drone
 * already is or the leg goes). Dijkstra over them: a fence has tens of corners, not thousands.
 */
export function wayInside(from: FencePoint, to: FencePoint, fence: readonly FencePoint[], marginM = fenceCutMarginM): FencePoint[] | null {
  const dist = (p: FencePoint, q: FencePoint): number => Math.hypot(p.northM - q.northM, p.eastM - q.eastM);
  // In sight, and the margin from the inner corners of the fence's notches (less only near `from` or
  // `to`): straight. One that passes a notch's corner nearer is flown round it as one across the notch
  // is, or straight when no way round keeps the margin. Before, a leg that missed a notch's corner by
  // centimetres flew past it there, and one that crossed it by as little was flown 10 m clear of it.
  const direct = inSight(from, to, fence);
  if (direct && reflexCorners(fence).every(({ v }) => distanceToSegment(v, from, to) >= 0.99 * Math.min(marginM, dist(v, from), dist(v, to)))) return [];
  const nodes = [from, ...innerCorners(fence, marginM), to];
  const clear = (p: FencePoint, q: FencePoint): boolean =>
    inSight(p, q, fence) && fence.every((v) => distanceToSegment(v, p, q) >= 0.99 * Math.min(marginM, dist(v, from), dist(v, to)));
  const n = nodes.length;
  const best = nodes.map((_, i) => (i === 0 ? 0 : Number.POSITIVE_INFINITY));
  const via = nodes.map(() => -1);
  const done = nodes.map(() => false);
  for (;;) {
    let k = -1;
    for (let i = 0; i < n; i++) if (!done[i] && Number.isFinite(best[i] as number) && (k < 0 || (best[i] as number) < (best[k] as number))) k = i;
    if (k < 0) return direct ? [] : null;
    if (k === n - 1) break;
    done[k] = true;
    const p = nodes[k] as FencePoint;
    for (let i = 1; i < n; i++) {
      const q = nodes[i] as FencePoint;
      const d = (best[k] as number) + dist(p, q);
      if (done[i] || d >= (best[i] as number) || !clear(p, q)) continue;
      best[i] = d;
      via[i] = k;
    }
  }
  const way: FencePoint[] = [];
  for (let i = via[n - 1] as number; i > 0; i = via[i] as number) way.unshift(nodes[i] as FencePoint);
  return way;
}

/** The fence's reflex corners (interior angle over 180 degrees), each with the nearest other corners
 *  before and after it. */
function reflexCorners(fence: readonly FencePoint[]): Array<{ v: FencePoint; prev: FencePoint; next: FencePoint }> {
  const n = fence.length;
  let area2 = 0;
  for (let i = 0; i < n; i++) {
    const p = fence[i] as FencePoint;
    const q = fence[(i + 1) % n] as FencePoint;
    area2 += p.eastM * q.northM - q.eastM * p.northM;
  }
  const out: Array<{ v: FencePoint; prev: FencePoint; next: FencePoint }> = [];
  // A corner written twice in a row (a fence given closed, its first point repeated at the end, or a
  // point repeated) is one corner, between the nearest other points either side. Before, each copy had
  // an edge of no length beside it and was passed over, so no way bent round that corner.
  const same = (p: FencePoint, q: FencePoint): boolean => p.northM === q.northM && p.eastM === q.eastM;
  const other = (i: number, step: 1 | -1): FencePoint => {
    const v = fence[i] as FencePoint;
    let j = i;
    for (let k = 1; k < n; k++) {
      j = (j + step + n) % n;
      if (!same(fence[j] as FencePoint, v)) break;
    }
    return fence[j] as FencePoint;
  };
  for (let i = 0; i < n; i++) {
    const v = fence[i] as FencePoint;
    if (same(v, fence[(i + n - 1) % n] as FencePoint)) continue; // the corner's first copy stands for it
    const prev = other(i, -1);
    const next = other(i, 1);
    const turn = (v.eastM - prev.eastM) * (next.northM - v.northM) - (v.northM - prev.northM) * (next.eastM - v.eastM);
    if (turn * area2 >= 0) continue; // convex (or straight): no way bends round it
    out.push({ v, prev, next });
  }
  return out;
}

/**
 * The fence's reflex corners (interior angle over 180 degrees: where a notch's sides meet), each moved
 * into the fence along its bisector to where it is the margin (and a little) from both edges' lines:
 * the points a way round a notch bends at. One too near another edge (a narrow neck) is left out.
 */
function innerCorners(fence: readonly FencePoint[], marginM: number): FencePoint[] {
  const n = fence.length;
  const out: FencePoint[] = [];
  for (const { v, prev, next } of reflexCorners(fence)) {
    const l1 = Math.hypot(prev.northM - v.northM, prev.eastM - v.eastM);
    const l2 = Math.hypot(next.northM - v.northM, next.eastM - v.eastM);
    if (l1 === 0 || l2 === 0) continue;
    const u1 = { n: (prev.northM - v.northM) / l1, e: (prev.eastM - v.eastM) / l1 };
    const u2 = { n: (next.northM - v.northM) / l2, e: (next.eastM - v.eastM) / l2 };
    const bl = Math.hypot(u1.n + u2.n, u1.e + u2.e);
    if (bl < 1e-9) continue;
    const b = { n: -(u1.n + u2.n) / bl, e: -(u1.e + u2.e) / bl };
    // The bisector meets each edge's line at the half angle: moved d along it, a point is d·sin from it.
    const sin = Math.abs(b.n * u1.e - b.e * u1.n);
    const d = Math.min((1.02 * marginM) / Math.max(sin, 1e-9), 4 * marginM);
    const at = (dir: { n: number; e: number }, r: number): FencePoint => ({ northM: v.northM + dir.n * r, eastM: v.eastM + dir.e * r });
    const points = [at(b, d)];
    // A corner sharper than a right-angled notch's (a V-shaped notch, a slit): the bisector's point lies
    // far out (up to the 4-margin cap), often outside the fence or too near its far side, and a way
    // round the tip needs a bend on each side of it. Points on an arc round the corner, the margin
    // (and a little) out: from where it is the margin from one edge's line to where it is from the
    // other's, at most 45 degrees apart, far enough out that the way between two keeps the margin from
    // the corner. Before, a V notch or a slit whose tip was 30 m from the fence's far side (margin 10)
    // had no way round it at all.
    const phi = Math.PI - Math.acos(Math.max(-1, Math.min(1, u1.n * u2.n + u1.e * u2.e)));
    if (phi > Math.PI / 2 + 1e-9) {
      const p1 = { n: -u1.e, e: u1.n };
      const n1 = p1.n * b.n + p1.e * b.e >= 0 ? p1 : { n: -p1.n, e: -p1.e };
      const turn = n1.n * b.e - n1.e * b.n >= 0 ? 1 : -1;
      const k = Math.ceil(phi / (Math.PI / 4));
      const step = phi / k;
      const r = (1.02 * marginM) / Math.cos(step / 2);
      for (let j = 0; j <= k; j++) {
        const t = turn * j * step;
        points.push(at({ n: n1.n * Math.cos(t) - n1.e * Math.sin(t), e: n1.n * Math.sin(t) + n1.e * Math.cos(t) }, r));
      }
    }
    for (const c of points) {
      if (!insideFence(c, fence)) continue;
      if (fence.some((s, j) => distanceToSegment(c, s, fence[(j + 1) % n] as FencePoint) < marginM)) continue;
      out.push(c);
    }
  }
  return out;
}

/**
 * The points to fly for a leg cut at the fence (fenceCut's `cut`) by a drone at `here`, which is not
 * always where the plan's leg begins (a resume, a reflex's stop, a waypoint skipped before): with the
 * drone inside the fence, the way round a concave fence's notch to the cut's first point (wayInside)
 * and then the cut; outside the fence or with no position, the cut alone. Null: no way inside keeps
 * `marginM` from the fence, and nothing of the leg is flown. The cut's own points are kept as they are
 * (callers know their waypoint by identity). The device's executor and fleet-sim's flight layer both
 * fly legs this way.
 */
export function legFrom(here: FencePoint | null, cut: readonly FencePoint[], fence: readonly FencePoint[], marginM = fenceCutMarginM): FencePoint[] | null {
  const first = cut[0];
  if (here === null || first === undefined || !insideFence(here, fence)) return [...cut];
  const way = wayInside(here, first, fence, marginM);
  return way === null ? null : [...way, ...cut];
}

/** The distance from p to the segment s→e. */
function distanceToSegment(p: FencePoint, s: FencePoint, e: FencePoint): number {
  const dn = e.northM - s.northM;
  const de = e.eastM - s.eastM;
  const l2 = dn * dn + de * de;
  const u = l2 === 0 ? 0 : Math.max(0, Math.min(1, ((p.northM - s.northM) * dn + (p.eastM - s.eastM) * de) / l2));
  return Math.hypot(p.northM - s.northM - u * dn, p.eastM - s.eastM - u * de);
}

/** Whether the straight way from p to q stays inside the fence: it crosses (or touches) no edge, and
 *  its middle is inside. One that does not (across a concave fence's notch) is flown round (wayInside). */
export function inSight(p: FencePoint, q: FencePoint, fence: readonly FencePoint[]): boolean {
  // A crossing within a micrometre of either end is the end lying on an edge (a waypoint on the fence,
  // which floating point puts 1e-17 of the way along): not a crossing. Before, such a leg was out of
  // sight of everything, and wayInside found no way at all: the leg was not flown.
  const len = Math.hypot(q.northM - p.northM, q.eastM - p.eastM);
  const ends = 1e-6 / Math.max(len, 1e-6);
  return crossings(p, q, fence).every((c) => c.t <= ends || c.t >= 1 - ends) && insideFence({ northM: (p.northM + q.northM) / 2, eastM: (p.eastM + q.eastM) / 2 }, fence);
}

/** Ray casting (even-odd); a point exactly on an edge may fall either way, so fences carry a margin.
 *  (agents/builtin/mission-reflexes.ts's insidePolygon.) */
export function insideFence(p: FencePoint, poly: readonly FencePoint[]): boolean {
  let c = false;
  for (let i = 0, j = poly.length - 1; i < poly.length; j = i++) {
    const pi = poly[i] as FencePoint;
    const pj = poly[j] as FencePoint;
    if (pi.eastM > p.eastM !== pj.eastM > p.eastM && p.northM < ((pj.northM - pi.northM) * (p.eastM - pi.eastM)) / (pj.eastM - pi.eastM) + pi.northM) c = !c;
  }
  return c;
}

/**
 * The open range of t along the line a + t·(b - a) where it is nearer than `m` to the edge p→q (the
 * line meets the round-ended band round the edge: a convex set, so one range), or null.
 */
function nearEdge(a: FencePoint, b: FencePoint, p: FencePoint, q: FencePoint, m: number): readonly [number, number] | null {
  const dn = b.northM - a.northM;
  const de = b.eastM - a.eastM;
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  const widen = (r: readonly [number, number] | null): void => {
    if (r === null || !(r[0] < r[1])) return;
    lo = Math.min(lo, r[0]);
    hi = Math.max(hi, r[1]);
  };
  // Within m of an end: |a - c + t·d|² < m².
  for (const c of [p, q]) {
    const wn = a.northM - c.northM;
    const we = a.eastM - c.eastM;
    const dd = dn * dn + de * de;
    const half = wn * dn + we * de;
    const disc = half * half - dd * (wn * wn + we * we - m * m);
    if (disc > 0) widen([(-half - Math.sqrt(disc)) / dd, (-half + Math.sqrt(disc)) / dd]);
  }
  // Within m of the edge's line, across its length.
  const en = q.northM - p.northM;
  const ee = q.eastM - p.eastM;
  const el = Math.hypot(en, ee);
  if (el > 0) {
    const wn = a.northM - p.northM;
    const we = a.eastM - p.eastM;
    const between = (v0: number, v1: number, lo0: number, hi0: number): readonly [number, number] | null => {
      // {t : lo0 < v0 + v1·t < hi0}
      if (v1 === 0) return lo0 < v0 && v0 < hi0 ? [Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY] : null;
      const x = (lo0 - v0) / v1;
      const y = (hi0 - v0) / v1;
      return [Math.min(x, y), Math.max(x, y)];
    };
    const side = between((en * we - ee * wn) / el, (en * de - ee * dn) / el, -m, m);
    const along = between((en * wn + ee * we) / (el * el), (en * dn + ee * de) / (el * el), 0, 1);
    if (side && along) widen([Math.max(side[0], along[0]), Math.min(side[1], along[1])]);
  }
  return lo < hi ? [lo, hi] : null;
}

/** Where a→b crosses an edge of the polygon: the fraction along it (strictly between 0 and 1), and the
 *  sine of the angle between the leg and that edge. */
function crossings(a: FencePoint, b: FencePoint, poly: readonly FencePoint[]): Array<{ t: number; sin: number }> {
  const out: Array<{ t: number; sin: number }> = [];
  const dn = b.northM - a.northM;
  const de = b.eastM - a.eastM;
  for (let i = 0, j = poly.length - 1; i < poly.length; j = i++) {
    const p = poly[j] as FencePoint;
    const q = poly[i] as FencePoint;
    const en = q.northM - p.northM;
    const ee = q.eastM - p.eastM;
    const den = dn * ee - de * en;
    if (den === 0) continue; // parallel: no single crossing
    const t = ((p.northM - a.northM) * ee - (p.eastM - a.eastM) * en) / den;
    const u = ((p.northM - a.northM) * de - (p.eastM - a.eastM) * dn) / den;
    if (t > 0 && t < 1 && u >= 0 && u <= 1) out.push({ t, sin: Math.abs(den) / (Math.hypot(dn, de) * Math.hypot(en, ee)) });
  }
  return out;
}

/**
 * The points a drone at `here` flies before its flight controller's straight return `home` (metres):
 * round the committed keep-outs in the way (hazards.ts wayFrom, decimetres), else, with none or no way
 * round them inside the committed fence, round a concave fence's notch inside it (wayInside). `via`:
 * which way it is (null: straight home); `keepOutsBlocked`: keep-outs were in the way with no way round
 * them. The device's executor and fleet-sim's flight layer both go home this way. Before, a fence's
 * notch was gone round only with no keep-outs at all, and the straight return across it had the fence
 * reflex hold the drone at the notch's edge for good.
 */
export function wayHome(here: FencePoint, home: FencePoint, zones: readonly KeepOut[], fence: readonly PointDm[] | null): { points: FencePoint[]; via: 'keep-outs' | 'notch' | null; keepOutsBlocked: boolean } {
  const dm = (p: FencePoint): PointDm => ({ n: Math.round(p.northM * 10), e: Math.round(p.eastM * 10) });
  if (zones.length > 0) {
    const way = wayFrom(dm(here), dm(home), zones, fence);
    if (way !== null) return { points: way.map((p) => ({ northM: p.n / 10, eastM: p.e / 10 })), via: way.length > 0 ? 'keep-outs' : null, keepOutsBlocked: false };
  }
  const fenceM = fence?.map((p) => ({ northM: p.n / 10, eastM: p.e / 10 }));
  const inside = fenceM && insideFence(here, fenceM) && insideFence(home, fenceM) ? wayInside(here, home, fenceM) : null;
  const points = inside ?? [];
  return { points, via: points.length > 0 ? 'notch' : null, keepOutsBlocked: zones.length > 0 };
}
