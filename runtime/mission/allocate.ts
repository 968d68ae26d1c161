// Deterministic task allocation from committed state: which drones may fly, how survey lanes are
// split among them, which formation slot each takes. Every device runs this on the same committed
// inputs and gets the same answer; ties break by device id, never by iteration order.

import { compareIds } from '../lib/ids.js';
import { dist2, type Lane } from './geometry.js';
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

export function availableDrones(drones: readonly DroneState[], reservePermille: number, only: readonly string[] | null): { ok: DroneState[]; excluded: string[] } {
  const ok: DroneState[] = [];
  const excluded: string[] = [];
  for (const d of drones) {
    if (only && !only.includes(d.id)) continue;
    const p = batteryProblem(d, reservePermille);
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

/** Splits lanes into contiguous groups, one per drone (the first `lanes % drones` get one more). */
export function splitLanes(lanes: readonly Lane[], groups: number): Lane[][] {
  const out: Lane[][] = [];
  const base = Math.floor(lanes.length / groups);
  const extra = lanes.length % groups;
  let at = 0;
  for (let g = 0; g < groups; g++) {
    const size = base + (g < extra ? 1 : 0);
    if (size === 0) break;
    out.push(lanes.slice(at, at + size));
    at += size;
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
