// A leg of a route cut at a fence the drone keeps on its own (device.yaml `geofence`, fleet-sim's world
// geofence): the parts of the straight leg from `a` to `b` that lie inside the polygon, as the points to
// fly. A survey lane whose end lies past the fence is flown up to the fence, and the next lane from where
// it comes back in: before, a waypoint outside was skipped, and a lane with both ends past the fence, or
// one end, was not flown at all (the geofence scenario covered 3% of its field).

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
 * until it is that from every other edge too. A stretch with less than a margin left once
 * cut is left out, and so is every stretch after one flown out through the fence (a concave fence's
 * notch: the way on along the leg is outside). Empty when no part of the leg is inside. A leg whose ends
 * are both inside yields [b] (a concave fence's notch between them is not flown round: the leg is the
 * plan's).
 */
export function fenceCut(a: FencePoint, b: FencePoint, fence: readonly FencePoint[], marginM = fenceCutMarginM): FencePoint[] {
  const aIn = insideFence(a, fence);
  const bIn = insideFence(b, fence);
  if (aIn && bIn) return [b];
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
    if (from > 0) out.push(at(from));
    if (to === 1) out.push(b);
    else {
      // Out through the fence here: a stretch further on (past a concave fence's notch) is reached
      // only across the outside, so it is not flown.
      out.push(at(to));
      break;
    }
  }
  return out;
}

/** Whether the straight way from p to q stays inside the fence: it crosses (or touches) no edge, and
 *  its middle is inside. A way a cut made up (to where a leg comes in through the fence, from where the
 *  drone is) that does not is not flown: across a concave fence's notch it would leave the fence. */
export function inSight(p: FencePoint, q: FencePoint, fence: readonly FencePoint[]): boolean {
  return crossings(p, q, fence).length === 0 && insideFence({ northM: (p.northM + q.northM) / 2, eastM: (p.eastM + q.eastM) / 2 }, fence);
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
