// Deterministic task allocation from committed state: which drones may fly, how survey lanes are
// split among them, which formation slot each takes. Every device runs this on the same committed
// inputs and gets the same answer; ties break by device id, never by iteration order.

import { compareIds } from '../lib/ids.js';
import { dist2, type Lane } from './geometry.js';
import { isqrt } from './hazards.js';
import type { DroneState, PointDm, Route } from './types.js';

export const originDm: PointDm = { n: 0, e: 0 };

/** Where allocation believes a drone is: its committed position, or the fleet origin before any. */
export const believedPos = (d: DroneState): PointDm => d.pos ?? originDm;

/**
 * A drone may take a new task when its committed battery is at or above the reserve. A drone that has
 * not reported yet (or cannot estimate its battery, -1) is assumed able to; its own local battery
 * reflex still lands it if that is wrong (local reflexes never wait for consensus).
 */
export function batteryProblem(d: DroneState, reservePermille: number): string | null {
  if (d.batteryPermille < 0 || d.batteryPermille >= reservePermille) return null;
  return `${d.id} battery ${Math.floor(d.batteryPermille / 10)}% is below the ${Math.floor(reservePermille / 10)}% reserve`;
}

/**
 * Why a drone's committed telemetry is too old for it to take a new task: none committed for more than
 * `lostAfterMs` of block time (the silence after which a drone of a mission is lost: reassign.ts). A
 * drone that has never reported (0) is not judged here: its silence counts from the mission's start.
 */
export function silenceProblem(d: DroneState, timeMs: number, lostAfterMs: number): string | null {
  if (d.telemetryMs <= 0 || timeMs - d.telemetryMs <= lostAfterMs) return null;
  return `no telemetry of ${d.id} committed for ${Math.floor((timeMs - d.telemetryMs) / 1000)} s (lostAfterS ${Math.floor(lostAfterMs / 1000)})`;
}

/** The drones that may take a part of a new mission at block time `timeMs` (of `only`, when given),
 *  in id order, and why each other one may not: battery under the reserve, or silent (silenceProblem). */
export function availableDrones(drones: readonly DroneState[], reservePermille: number, only: readonly string[] | null, timeMs: number, lostAfterMs: number): { ok: DroneState[]; excluded: string[] } {
  const ok: DroneState[] = [];
  const excluded: string[] = [];
  for (const d of drones) {
    if (only && !only.includes(d.id)) continue;
    const p = batteryProblem(d, reservePermille) ?? silenceProblem(d, timeMs, lostAfterMs);
    if (p) excluded.push(p);
    else ok.push(d);
  }
  ok.sort((a, b) => compareIds(a.id, b.id));
  return { ok, excluded };
}

/**
 * Greedy nearest matching: targets in order each take the nearest still-free drone (squared integer
 * distance, ties to the smaller id). Returns drone index per target.
 */
export function matchNearest(targets: readonly PointDm[], drones: readonly DroneState[]): number[] {
  const taken = new Array<boolean>(drones.length).fill(false);
  const out: number[] = [];
  for (const t of targets) {
    let best = -1;
    let bestD = Infinity;
    for (let i = 0; i < drones.length; i++) {
      if (taken[i]) continue;
      const d = dist2(believedPos(drones[i] as DroneState), t);
      if (d < bestD) {
        best = i;
        bestD = d;
      }
    }
    if (best < 0) break;
    taken[best] = true;
    out.push(best);
  }
  return out;
}

/** Decimetres flown along a lane (west to east or back). */
const laneDm = (l: Lane): number => Math.abs(l.to - l.from);

/** Decimetres of the turn from the end of lane `a` to the start of lane `b` (integer square root). */
const turnDm = (a: Lane, b: Lane): number => isqrt(dist2({ n: a.n, e: a.to }, { n: b.n, e: b.from }));

/** How many contiguous groups of at most `capDm` each (lanes plus the turns inside a group) the
 *  lanes take, packing each group as full as it goes. */
function groupsWithin(lanes: readonly Lane[], capDm: number): number {
  let groups = 0;
  let load = Infinity;
  for (let i = 0; i < lanes.length; i++) {
    const l = lanes[i] as Lane;
    const more = load === Infinity ? Infinity : turnDm(lanes[i - 1] as Lane, l) + laneDm(l);
    if (load + more <= capDm) load += more;
    else {
      groups++;
      load = laneDm(l);
    }
  }
  return groups;
}

/** Decimetres of lanes `from`..`to` - 1 flown as one group: the lanes and the turns between them. */
function groupDm(lanes: readonly Lane[], from: number, to: number): number {
  let sum = 0;
  for (let i = from; i < to; i++) sum += laneDm(lanes[i] as Lane) + (i > from ? turnDm(lanes[i - 1] as Lane, lanes[i] as Lane) : 0);
  return sum;
}

/**
 * Splits lanes, in order, into contiguous groups, one per drone (`groups` of them, one per lane when
 * there are fewer lanes), by flight length (each group's lanes plus the turns between them), not by
 * lane count: a count alone gave one drone of a triangle 6 times the flight of another. Integer
 * decimetres throughout. First the smallest cap on a group's length that the lanes fit under in
 * `groups` groups (binary search); then each group, in order, takes lanes while that brings it nearer
 * its fair share of what is left (what is left over the groups left), never past the cap, and always
 * leaving the rest a way to fit under the cap in the groups after it, each with at least one lane.
 */
export function splitLanes(lanes: readonly Lane[], groups: number): Lane[][] {
  const count = Math.min(groups, lanes.length);
  if (count <= 0) return [];
  let lo = Math.max(...lanes.map(laneDm));
  let hi = groupDm(lanes, 0, lanes.length);
  // At most about 53 rounds: the bounds are integers below 2^53.
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    if (groupsWithin(lanes, mid) <= count) hi = mid;
    else lo = mid + 1;
  }
  const cap = lo;
  const out: Lane[][] = [];
  let start = 0;
  for (let g = 0; g < count; g++) {
    const groupsLeft = count - g; // this one included
    if (groupsLeft === 1) {
      out.push(lanes.slice(start));
      break;
    }
    // The fair share is left / groupsLeft; compared times groupsLeft to stay in integers.
    const left = groupDm(lanes, start, lanes.length);
    let end = start + 1;
    let load = laneDm(lanes[start] as Lane);
    while (end < lanes.length - (groupsLeft - 1)) {
      const next = load + turnDm(lanes[end - 1] as Lane, lanes[end] as Lane) + laneDm(lanes[end] as Lane);
      if (next > cap) break;
      const mustTake = groupsWithin(lanes.slice(end), cap) > groupsLeft - 1;
      const nearer = Math.abs(next * groupsLeft - left) < Math.abs(load * groupsLeft - left);
      if (!mustTake && !nearer) break;
      load = next;
      end++;
    }
    out.push(lanes.slice(start, end));
    start = end;
  }
  return out;
}

export function lanesToWaypoints(lanes: readonly Lane[]): PointDm[] {
  const wps: PointDm[] = [];
  for (const l of lanes) wps.push({ n: l.n, e: l.from }, { n: l.n, e: l.to });
  return wps;
}

export function allocateSurvey(lanes: readonly Lane[], drones: readonly DroneState[]): Route[] {
  const groups = splitLanes(lanes, drones.length).map(lanesToWaypoints);
  const match = matchNearest(
    groups.map((g) => g[0] as PointDm),
    drones,
  );
  const out: Route[] = groups.map((g, i) => ({ node: (drones[match[i] as number] as DroneState).id, waypoints: g }));
  return out.sort((a, b) => compareIds(a.node, b.node));
}

export function allocateSlots(slots: readonly PointDm[], drones: readonly DroneState[]): Route[] {
  const match = matchNearest(slots, drones);
  const out: Route[] = slots.map((s, i) => ({ node: (drones[match[i] as number] as DroneState).id, waypoints: [s] }));
  return out.sort((a, b) => compareIds(a.node, b.node));
}
