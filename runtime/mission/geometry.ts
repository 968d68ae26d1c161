// Integer geometry for mission planning: point-in-polygon, lawnmower lanes, formation slots. Inputs
// and outputs are integer decimetres; divisions are floored so every device gets identical results.

import { isqrt } from './hazards.js';
import type { PointDm } from './types.js';

/** sin(d degrees) * 1e6 for d = 0..90, rounded: a fixed table, since Math.sin may differ by platform. */
const sinTable = [
  0, 17452, 34899, 52336, 69756, 87156, 104528, 121869, 139173, 156434, 173648, 190809, 207912, 224951, 241922, 258819, 275637, 292372,
  309017, 325568, 342020, 358368, 374607, 390731, 406737, 422618, 438371, 453990, 469472, 484810, 500000, 515038, 529919, 544639, 559193,
  573576, 587785, 601815, 615661, 629320, 642788, 656059, 669131, 681998, 694658, 707107, 719340, 731354, 743145, 754710, 766044, 777146,
  788011, 798636, 809017, 819152, 829038, 838671, 848048, 857167, 866025, 874620, 882948, 891007, 898794, 906308, 913545, 920505, 927184,
  933580, 939693, 945519, 951057, 956305, 961262, 965926, 970296, 974370, 978148, 981627, 984808, 987688, 990268, 992546, 994522, 996195,
  997564, 998630, 999391, 999848, 1000000,
] as const;

/** Integer sine of whole degrees, scaled by 1e6. */
export function sinMicro(deg: number): number {
  const d = ((deg % 360) + 360) % 360;
  if (d <= 90) return sinTable[d] as number;
  if (d <= 180) return sinTable[180 - d] as number;
  if (d <= 270) return -(sinTable[d - 180] as number);
  return -(sinTable[360 - d] as number);
}

export const cosMicro = (deg: number): number => sinMicro(deg + 90);

export function dist2(a: PointDm, b: PointDm): number {
  const dn = a.n - b.n;
  const de = a.e - b.e;
  return dn * dn + de * de;
}

/** Ray casting with a half-open rule per edge; points exactly on an edge count as inside. */
export function insidePolygon(p: PointDm, poly: readonly PointDm[]): boolean {
  let inside = false;
  for (let i = 0, j = poly.length - 1; i < poly.length; j = i++) {
    const a = poly[i] as PointDm;
    const b = poly[j] as PointDm;
    if (onSegment(p, a, b)) return true;
    if (a.n > p.n !== b.n > p.n) {
      // Cross-multiplied comparison keeps it in integers: is p.e left of the edge at p.n?
      const lhs = (p.e - a.e) * (b.n - a.n);
      const rhs = (b.e - a.e) * (p.n - a.n);
      if (b.n - a.n > 0 ? lhs < rhs : lhs > rhs) inside = !inside;
    }
  }
  return inside;
}

function onSegment(p: PointDm, a: PointDm, b: PointDm): boolean {
  const cross = (b.n - a.n) * (p.e - a.e) - (b.e - a.e) * (p.n - a.n);
  if (cross !== 0) return false;
  return Math.min(a.n, b.n) <= p.n && p.n <= Math.max(a.n, b.n) && Math.min(a.e, b.e) <= p.e && p.e <= Math.max(a.e, b.e);
}

const orient = (a: PointDm, b: PointDm, c: PointDm): number => Math.sign((b.n - a.n) * (c.e - a.e) - (b.e - a.e) * (c.n - a.n));

/**
 * The first two edges of the polygon that cross each other (each edge i runs from point i to point
 * i + 1, the last back to point 0), as indices, or null. Only proper crossings count: a vertex on an
 * edge, or a ring closed by repeating its first point, is not one. Exact integer orientation tests;
 * at most 64 points, so the pairwise check is cheap.
 */
export function selfCrossing(poly: readonly PointDm[]): readonly [number, number] | null {
  const n = poly.length;
  for (let i = 0; i < n; i++) {
    const a = poly[i] as PointDm;
    const b = poly[(i + 1) % n] as PointDm;
    for (let j = i + 2; j < n; j++) {
      if (i === 0 && j === n - 1) continue; // they share point 0
      const c = poly[j] as PointDm;
      const d = poly[(j + 1) % n] as PointDm;
      if (orient(a, b, c) * orient(a, b, d) < 0 && orient(c, d, a) * orient(c, d, b) < 0) return [i, j];
    }
  }
  return null;
}

/** A polygon that crosses itself bounds two areas where the operator drew one (and its inside would
 *  be decided by the even-odd rule): refused, naming the two edges by their points, counted from 1. */
export function crossingProblem(poly: readonly PointDm[], what: string): string | null {
  const x = selfCrossing(poly);
  if (!x) return null;
  const edge = (i: number): string => `point ${i + 1} to point ${((i + 1) % poly.length) + 1}`;
  return `${what} crosses itself: the edge from ${edge(x[0])} crosses the edge from ${edge(x[1])}`;
}

/** The first edge of the polygon that the segment a-b properly crosses, as an index, or -1. A leg
 *  between two points inside a concave polygon that crosses an edge leaves it on the way. (A leg that
 *  only touches the edge at a vertex or at its own ends is not caught here: see legOutside.) */
export function legCrossing(a: PointDm, b: PointDm, poly: readonly PointDm[]): number {
  for (let i = 0; i < poly.length; i++) {
    const c = poly[i] as PointDm;
    const d = poly[(i + 1) % poly.length] as PointDm;
    if (orient(a, b, c) * orient(a, b, d) < 0 && orient(c, d, a) * orient(c, d, b) < 0) return i;
  }
  return -1;
}

/**
 * Whether the straight leg a-b, whose ends are inside the polygon (or on its edge), leaves it on the
 * way. A proper crossing of an edge leaves it. Without one the leg meets the edge only at its own ends
 * and at polygon points lying on it, so between two neighbouring such points it is all inside or all
 * outside: the midpoint of each piece decides (tested at twice the scale, so it stays an integer).
 * This catches a leg from edge to edge across a concave fence's notch, and one through a vertex, which
 * legCrossing alone lets pass.
 */
export function legOutside(a: PointDm, b: PointDm, poly: readonly PointDm[]): boolean {
  if (legCrossing(a, b, poly) >= 0) return true;
  const dn = b.n - a.n;
  const de = b.e - a.e;
  const along = (p: PointDm): number => (p.n - a.n) * dn + (p.e - a.e) * de;
  const stops = [a, b, ...poly.filter((p) => onSegment(p, a, b))].sort((x, y) => along(x) - along(y));
  const twice = poly.map((p) => ({ n: 2 * p.n, e: 2 * p.e }));
  for (let k = 1; k < stops.length; k++) {
    const p = stops[k - 1] as PointDm;
    const q = stops[k] as PointDm;
    if (p.n === q.n && p.e === q.e) continue;
    if (!insidePolygon({ n: p.n + q.n, e: p.e + q.e }, twice)) return true;
  }
  return false;
}

/** Twice the signed area; zero means the polygon is degenerate. */
export function doubleArea(poly: readonly PointDm[]): number {
  let s = 0;
  for (let i = 0, j = poly.length - 1; i < poly.length; j = i++) {
    const a = poly[i] as PointDm;
    const b = poly[j] as PointDm;
    s += (b.e + a.e) * (b.n - a.n);
  }
  return s;
}

/** One sweep across the polygon at a fixed north, from `from` to `to` (east, decimetres). */
export interface Lane {
  readonly n: number;
  readonly from: number;
  readonly to: number;
}

/** floor(a / b) for integers, b > 0, exactly (a float quotient may round up to the next integer). */
function floorDiv(a: number, b: number): number {
  let q = Math.floor(a / b);
  while (q * b > a) q--;
  while ((q + 1) * b <= a) q++;
  return q;
}

/** An east-west stretch, decimetres, west <= east. */
interface Span {
  readonly w: number;
  readonly e: number;
}

/**
 * The polygon's inside along the line at north `n`, as spans west to east. `side` picks which edges
 * an edge ending exactly on the line counts, so a vertex on it is seen as from just above ('above') or
 * just below ('below'). `round` 'out' floors each west end and ceils each east end (a span at least as
 * wide as the exact one), 'in' does the opposite (a span inside the exact one).
 */
function spansAt(poly: readonly PointDm[], n: number, side: 'above' | 'below', round: 'out' | 'in'): Span[] {
  const xs: { lo: number; hi: number }[] = [];
  for (let i = 0, j = poly.length - 1; i < poly.length; j = i++) {
    const a = poly[i] as PointDm;
    const b = poly[j] as PointDm;
    const crosses = side === 'above' ? a.n > n !== b.n > n : a.n >= n !== b.n >= n;
    if (!crosses) continue;
    // e = a.e + (n - a.n)(b.e - a.e) / (b.n - a.n), exactly between lo and hi.
    const den = Math.abs(b.n - a.n);
    const num = a.e * den + (n - a.n) * (b.e - a.e) * Math.sign(b.n - a.n);
    const lo = floorDiv(num, den);
    xs.push({ lo, hi: lo * den === num ? lo : lo + 1 });
  }
  xs.sort((x, y) => x.lo - y.lo || x.hi - y.hi);
  const spans: Span[] = [];
  for (let k = 0; k + 1 < xs.length; k += 2) {
    const west = xs[k] as { lo: number; hi: number };
    const east = xs[k + 1] as { lo: number; hi: number };
    const span = round === 'out' ? { w: west.lo, e: east.hi } : { w: west.hi, e: east.lo };
    if (span.w <= span.e) spans.push(span);
  }
  return spans;
}

/** The spans sorted west to east, overlapping or touching ones joined. */
function joined(spans: readonly Span[]): Span[] {
  const out: Span[] = [];
  for (const s of [...spans].sort((x, y) => x.w - y.w || x.e - y.e)) {
    const last = out[out.length - 1];
    if (last && s.w <= last.e) out[out.length - 1] = { w: last.w, e: Math.max(last.e, s.e) };
    else out.push(s);
  }
  return out;
}

/**
 * The east-west extent of the polygon within the band of north from `lo` to `hi`: the spans a lane
 * along the band's middle must fly for its footprint to see every part of the polygon in the band.
 * Cut at the heights of the vertices inside the band, the polygon's inside is trapezoids: between two
 * neighbouring heights the same edges cross, in the same order, so the k-th span at the lower height
 * and the k-th at the upper one bound one trapezoid, whose extent is from the western of their west
 * ends to the eastern of their east ends. The band's extent is those joined.
 */
function bandSpans(poly: readonly PointDm[], lo: number, hi: number): Span[] {
  const heights = [...new Set([lo, ...poly.map((v) => v.n).filter((n) => n > lo && n < hi), hi])].sort((x, y) => x - y);
  const spans: Span[] = [];
  for (let i = 0; i + 1 < heights.length; i++) {
    const below = spansAt(poly, heights[i] as number, 'above', 'out');
    const above = spansAt(poly, heights[i + 1] as number, 'below', 'out');
    if (below.length !== above.length) {
      spans.push(...below, ...above); // not met in a simple polygon; the ends at least
      continue;
    }
    below.forEach((x, k) => {
      const y = above[k] as Span;
      spans.push({ w: Math.min(x.w, y.w), e: Math.max(x.e, y.e) });
    });
  }
  return joined(spans);
}

/** The parts of the spans `a` that lie within the spans `b` (each sorted and disjoint). */
function within(a: readonly Span[], b: readonly Span[]): Span[] {
  const out: Span[] = [];
  for (const x of a) {
    for (const y of b) {
      const w = Math.max(x.w, y.w);
      const e = Math.min(x.e, y.e);
      if (w <= e) out.push({ w, e });
    }
  }
  return out;
}

/**
 * Lawnmower coverage: east-west lanes `spacingDm` apart, each seeing the band half a spacing either
 * side of it. There are ceil(height / spacing) rows (one for an area thinner than a spacing), centred
 * on the area's north-south extent, so every band of the area has a lane: before, rows began half a
 * spacing in from the south edge, and up to a spacing at the north edge got none (a 70 m field at
 * 20 m had lanes at 10, 30 and 50 m; 60-70 m was never flown). A lane spans the area's east-west
 * extent over its whole band, not just along its own line, so a corner or protrusion that the band
 * holds is seen. A band that a concave area splits yields one lane per part. With a `fence`, a lane
 * reaches past the area's own line only as far as the fence's inside along its line (rounded
 * inwards), so a lane widened over a slanting edge does not leave a fence drawn round the area. Directions alternate (boustrophedon) by row, and a
 * row's spans come in its direction. Returns null past `lanesMax`.
 */
export function lawnmowerLanes(poly: readonly PointDm[], spacingDm: number, lanesMax: number, fence: readonly PointDm[] | null = null): Lane[] | null {
  let minN = Infinity;
  let maxN = -Infinity;
  for (const p of poly) {
    minN = Math.min(minN, p.n);
    maxN = Math.max(maxN, p.n);
  }
  const height = maxN - minN;
  const rows = Math.max(1, Math.ceil(height / spacingDm));
  if (rows > lanesMax) return null;
  // The rows' bands together reach (rows * spacing - height) / 2 past each edge.
  const first = minN + Math.floor((height - (rows - 1) * spacingDm) / 2);
  const half = Math.floor(spacingDm / 2);
  const lanes: Lane[] = [];
  for (let row = 0; row < rows; row++) {
    const n = first + row * spacingDm;
    const band = bandSpans(poly, n - half, n - half + spacingDm);
    // With a fence, the lane is widened past the area's own line only inside the fence; the area's
    // own line is kept, so an area reaching past the fence is still refused for it, not cut short.
    const spans = fence ? within(band, joined([...spansAt(fence, n, 'above', 'in'), ...spansAt(poly, n, 'above', 'in')])) : band;
    // A row's spans in the row's direction: west to east on even rows, east to west on odd ones.
    for (let s = 0; s < spans.length; s++) {
      const span = spans[row % 2 === 0 ? s : spans.length - 1 - s] as Span;
      // A span of no width (a spike of the polygon, an edge out and back along one line) is no lane:
      // it gave a route two equal waypoints in a row.
      if (span.w === span.e) continue;
      lanes.push(row % 2 === 0 ? { n, from: span.w, to: span.e } : { n, from: span.e, to: span.w });
      if (lanes.length > lanesMax) return null;
    }
  }
  return lanes;
}

export type FormationShape = 'line' | 'grid' | 'circle';

/** The most drones a circle formation places: one slot per whole degree. */
export const circleSlotsMax = 360;

/**
 * The radius of a circle of `count` slots at whole degrees: `spacingDm`, or more when that would put
 * two neighbouring slots closer than `spacingDm` (more than six drones). The closest two slots are
 * g = floor(360 / count) degrees apart, a chord of r * sqrt(2 (1 - cos g)): the smallest integer r
 * with r^2 * 2 (1e6 - cosMicro(g)) >= spacing^2 * 1e6, exactly in integers.
 */
export function circleRadiusDm(count: number, spacingDm: number): number {
  if (count <= 1 || count > circleSlotsMax) return spacingDm;
  const k = 2 * (1_000_000 - cosMicro(Math.floor(360 / count)));
  const need = spacingDm * spacingDm * 1_000_000;
  let r = isqrt(Math.floor(need / k));
  while (r * r * k < need) r++;
  return Math.max(spacingDm, r);
}

/**
 * Slot positions for `count` drones around `center`: a line along east, a square-ish grid, or a
 * circle (slots at whole degrees, from north clockwise) whose neighbouring slots are `spacingDm`
 * apart or more (circleRadiusDm); at most circleSlotsMax drones on a circle.
 */
export function formationSlots(shape: FormationShape, center: PointDm, count: number, spacingDm: number): PointDm[] {
  const slots: PointDm[] = [];
  if (shape === 'line') {
    const first = -Math.floor(((count - 1) * spacingDm) / 2);
    for (let i = 0; i < count; i++) slots.push({ n: center.n, e: center.e + first + i * spacingDm });
  } else if (shape === 'grid') {
    let cols = 1;
    while (cols * cols < count) cols++;
    const rows = Math.ceil(count / cols);
    const n0 = -Math.floor(((rows - 1) * spacingDm) / 2);
    const e0 = -Math.floor(((cols - 1) * spacingDm) / 2);
    for (let i = 0; i < count; i++) slots.push({ n: center.n + n0 + Math.floor(i / cols) * spacingDm, e: center.e + e0 + (i % cols) * spacingDm });
  } else {
    const r = circleRadiusDm(count, spacingDm);
    for (let i = 0; i < count; i++) {
      const deg = Math.floor((i * 360) / count);
      slots.push({ n: center.n + Math.floor((r * cosMicro(deg)) / 1_000_000), e: center.e + Math.floor((r * sinMicro(deg)) / 1_000_000) });
    }
  }
  return slots;
}
