// Strategic deconfliction: every drone of a mission gets a transit altitude, so that no two drones fly
// the same airspace on their way to their routes. A drone climbs (from its pad, or from where it hovers)
// straight up to its transit layer, flies the leg to its route's first waypoint there, descends to the
// mission altitude and flies its route. Routes are the allocator's business (survey lanes are apart
// by construction; a group goto shares its waypoints on purpose) and all stay at the mission altitude.
//
// Layers are `separation` apart, from the mission altitude (layer 0) up to the ceiling (the
// geofence's, or the highest mission altitude allowed). Two legs in one layer conflict when they come
// closer than the separation horizontally, and so does a leg in layer 0 with another drone's route.
// Drones are placed in id order, each in the lowest layer where its leg conflicts with nothing placed
// before it; where every layer conflicts, the one with the fewest conflicts (the lowest of those). A
// drone whose position is not known yet (no committed telemetry) has a leg nobody can draw: it gets a
// layer of its own, above the others'.
//
// Not modelled: time (two legs in one layer may conflict on paper and never meet), and the vertical
// columns a drone climbs and descends in (another drone's leg may pass over a pad while its drone is
// still climbing). fleet-sim's reports measure what is left: the closest two airborne drones came.
//
// Pure and deterministic: integer inputs, squared distances in IEEE doubles (no Math.sqrt, no
// transcendental functions), drones in id order.

import { compareIds } from '../lib/ids.js';
import { paramOf, paramSpecs, toDm } from './params.js';
import type { MissionState, PointDm } from './types.js';

export interface TransitInput {
  readonly node: string;
  /** Where the drone is (its committed position), or null when it has reported none. */
  readonly from: PointDm | null;
  /** Its route; the first waypoint is where the leg ends. */
  readonly route: readonly PointDm[];
}

/** Planning is quadratic in the drones of one mission; larger missions fly at the mission altitude. */
export const deconflictDronesMax = 128;

interface Seg {
  readonly a: PointDm;
  readonly b: PointDm;
}

/** Squared distance from p to segment s. */
export function pointSeg2(p: PointDm, s: Seg): number {
  const dn = s.b.n - s.a.n;
  const de = s.b.e - s.a.e;
  const pn = p.n - s.a.n;
  const pe = p.e - s.a.e;
  const len2 = dn * dn + de * de;
  const dot = pn * dn + pe * de;
  if (len2 === 0 || dot <= 0) return pn * pn + pe * pe;
  if (dot >= len2) {
    const qn = p.n - s.b.n;
    const qe = p.e - s.b.e;
    return qn * qn + qe * qe;
  }
  const cross = pn * de - pe * dn;
  return (cross * cross) / len2;
}

const orient = (a: PointDm, b: PointDm, c: PointDm): number => Math.sign((b.n - a.n) * (c.e - a.e) - (b.e - a.e) * (c.n - a.n));

/** Squared distance between two segments: zero when they cross. */
export function segSeg2(s: Seg, t: Seg): number {
  if (orient(s.a, s.b, t.a) * orient(s.a, s.b, t.b) < 0 && orient(t.a, t.b, s.a) * orient(t.a, t.b, s.b) < 0) return 0;
  return Math.min(pointSeg2(s.a, t), pointSeg2(s.b, t), pointSeg2(t.a, s), pointSeg2(t.b, s));
}

function routeSegs(route: readonly PointDm[]): Seg[] {
  if (route.length === 1) return [{ a: route[0] as PointDm, b: route[0] as PointDm }];
  const out: Seg[] = [];
  for (let i = 1; i < route.length; i++) out.push({ a: route[i - 1] as PointDm, b: route[i] as PointDm });
  return out;
}

/**
 * Transit altitude (dm) of each drone, in the order given. `separationDm` is both the horizontal
 * clearance and the vertical spacing of layers; no layer is above `ceilingDm`.
 */
export function transitAltitudes(drones: readonly TransitInput[], altDm: number, separationDm: number, ceilingDm: number): number[] {
  const layersMax = Math.max(0, Math.floor((ceilingDm - altDm) / separationDm));
  if (drones.length > deconflictDronesMax || layersMax === 0) return drones.map(() => altDm);
  const sep2 = separationDm * separationDm;
  const near = (a: Seg, b: Seg): boolean => segSeg2(a, b) < sep2;
  const legs = drones.map((d): Seg | null => (d.from && d.route[0] ? { a: d.from, b: d.route[0] } : null));
  const routes = drones.map((d) => routeSegs(d.route));
  const byId = drones.map((_, i) => i).sort((a, b) => compareIds((drones[a] as TransitInput).node, (drones[b] as TransitInput).node));
  const layer = new Array<number>(drones.length).fill(0);
  const placed = new Array<boolean>(drones.length).fill(false);
  for (const i of byId) {
    const leg = legs[i];
    if (!leg) continue;
    let best = 0;
    let bestCount = Infinity;
    for (let k = 0; k <= layersMax && bestCount > 0; k++) {
      // Drones whose placed leg in this layer, or whose route (layer 0 holds every route), comes near.
      let count = 0;
      for (let j = 0; j < drones.length; j++) {
        if (j === i) continue;
        const other = legs[j];
        if ((placed[j] && layer[j] === k && other && near(leg, other)) || (k === 0 && routes[j]!.some((r) => near(leg, r)))) count++;
      }
      if (count < bestCount) {
        best = k;
        bestCount = count;
      }
    }
    layer[i] = best;
    placed[i] = true;
  }
  // Drones with no known position: each a layer of its own above every placed leg, while there are any.
  let top = Math.max(0, ...layer);
  for (const i of byId) {
    if (legs[i] || !drones[i]!.route[0]) continue;
    top = Math.min(top + 1, layersMax);
    layer[i] = top;
  }
  return layer.map((k) => altDm + k * separationDm);
}

/**
 * The altitude a drone returns home at (its flight controller's return-to-launch altitude). Returns
 * are not planned like legs: a reflex may send any drone home at any moment. So each drone of the
 * fleet has a layer of its own, `separation` apart in the committed (id) order of the fleet, from one
 * layer above the mission altitude (the active mission's, or the altitudeM parameter when higher) up
 * to the ceiling, wrapping round when the fleet has more drones than there are layers. A returning
 * drone climbs or descends to its layer where it is, flies home at it and lands on its own pad, so
 * two drones returning at once cross each other's paths `separation` apart vertically.
 *
 * Not modelled: a drone descending onto its pad passes down through the layers below its own, where
 * another returning drone may be crossing over that pad.
 */
export function returnAltDm(slot: number, fleetSize: number, missionAltDm: number, separationDm: number, ceilingDm: number): number {
  const base = missionAltDm + separationDm;
  if (base > ceilingDm) return Math.min(missionAltDm, ceilingDm);
  const layers = Math.floor((ceilingDm - base) / separationDm) + 1;
  // A drone not in the committed fleet yet (slot -1) takes the top layer until it is.
  return base + (slot < 0 || slot >= fleetSize ? layers - 1 : slot % layers) * separationDm;
}

/** The most segment pairs joinAltitude weighs (about 0.1 s of work); past it the part is flown at the
 *  taker's return altitude. */
export const joinSegmentPairsMax = 1_000_000;

/** Another drone's use of a layer a taken part might go in: a path flown at `altDm`, or, when its
 *  path is not known (a drone on its way home: the machine does not know its pad), all of the layer. */
export interface LayerUse {
  readonly altDm: number;
  readonly path: readonly PointDm[] | null;
}

/**
 * The altitude of a part taken over from a lost drone and of the way to it (reassign.ts), kept as
 * legs are: in a layer above the mission altitude (a lost drone may still hover on its lane there)
 * where the path keeps `separation` clear horizontally of every other drone's path in that layer, a
 * layer whose user's path is unknown counting as taken. The layer with the fewest conflicts wins;
 * among equals the taker's own return layer (`ownDm`: no other drone returns at it while the fleet
 * has no more drones than layers), then the lowest. With no layer above the mission altitude, or
 * more uses than deconflictDronesMax or segment pairs than joinSegmentPairsMax to weigh (each pair is
 * weighed once or twice), it is `ownDm`.
 */
export function joinAltitude(path: readonly PointDm[], ownDm: number, others: readonly LayerUse[], altDm: number, separationDm: number, ceilingDm: number): number {
  const layersMax = Math.max(0, Math.floor((ceilingDm - altDm) / separationDm));
  if (layersMax === 0 || others.length > deconflictDronesMax || path.length === 0) return ownDm;
  const sep2 = separationDm * separationDm;
  const mine = routeSegs(path);
  const theirs = others.map((o) => (o.path && o.path.length > 0 ? routeSegs(o.path) : null));
  if (mine.length * theirs.reduce((n, t) => n + (t?.length ?? 0), 0) > joinSegmentPairsMax) return ownDm;
  const conflicts = (dm: number): number => {
    let n = 0;
    others.forEach((o, i) => {
      if (o.altDm !== dm) return;
      const segs = theirs[i];
      if (!segs || segs.some((t) => mine.some((s) => segSeg2(s, t) < sep2))) n++;
    });
    return n;
  };
  let best = ownDm;
  let bestCount = ownDm > altDm && ownDm <= ceilingDm ? conflicts(ownDm) : Infinity;
  for (let k = 1; k <= layersMax && bestCount > 0; k++) {
    const dm = altDm + k * separationDm;
    const count = conflicts(dm);
    if (count < bestCount) {
      best = dm;
      bestCount = count;
    }
  }
  return best;
}

/** A drone's return-to-launch altitude in decimetres under the committed state (deconflict.ts): the
 *  device sets its flight controller's to it, the simulator its vehicles'. `slot` is the drone's index
 *  in `s.drones` (callers with many drones look it up once per fleet change). */
export function returnAltitudeDm(s: MissionState, slot: number): number {
  const missionAltDm = Math.max(s.mission?.altDm ?? 0, toDm(paramOf(s.params, 'altitudeM')));
  const ceilingDm = s.geofence ? s.geofenceAltDmMax : toDm(paramSpecs.altitudeM!.max);
  return returnAltDm(slot, s.drones.length, missionAltDm, toDm(paramOf(s.params, 'separationM')), ceilingDm);
}
