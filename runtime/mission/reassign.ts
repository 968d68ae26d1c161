// A drone lost from a mission, and who flies the rest of its part. Decided by the mission machine from
// committed inputs only (block time, committed telemetry, the manifest in force, parameters): every
// device reaches the same verdict and the same new routes at the same height.
//
// A drone assigned to the mission that has not finished its part is lost when
//   - the manifest in force no longer names it (fleet.update removed it),
//   - its committed battery is below the reserve (batteryReservePct; its battery reflex sends it home
//     or soon will), or
//   - no telemetry of it was committed for lostAfterS of block time since the mission started (it
//     crashed, or its device is down or cut off: a device reports at least every 30 s, hovering), or
//     since its last report for one already silent that long at the start (allocation leaves such a
//     drone out of a new mission: allocate.ts silenceProblem), or
//   - with the reassignHandedOver parameter at 1, its telemetry committed in this block says it was
//     handed over from the mission (a pilot or its flight controller's own failsafe took the vehicle,
//     or a restart found it on the ground after it flew for the mission and left it there:
//     runtime/device/executor.ts handedOver). Judged before the battery and the silence, since what
//     the drone is told differs (below).
// A lost drone leaves the mission and, unless the manifest removed it or it was handed over, is told
// to return home (so a drone only cut off does not fly the part it lost when it hears the chain
// again). A handed-over drone is told nothing: any task for it, a return home included, gives the
// vehicle back to its executor (executor.ts run), which would switch the flight controller out of
// the pilot's mode or its own failsafe landing, or take off a drone deliberately left on the ground.
// Whoever has it brings it down; the device's status says it is handed over and why. A survey's lost
// part goes on: the planned waypoints it has not flown (from the start of the leg it was on, as a
// restart resumes: progress.ts) are appended to the route of the unfinished, not lost drone with
// enough battery nearest to their first waypoint (ties to the smaller id), which climbs where it is to
// a layer above the mission altitude and flies the way there and the taken part at it: a lost drone
// may still hover on its lane at the mission altitude (a crashed device's flight controller holds).
// The layer keeps the planner's separation (deconflict.ts joinAltitude): clear of the legs to their
// routes other drones have still to fly, of other taken parts and of the return layers of drones on
// their way home, its own return layer first among equals. A goto's or formation's part
// is its drone's own place: it is dropped. No drone left to take it: dropped too, and the effect says so.

import { compareIds } from '../lib/ids.js';
import { batteryProblem, believedPos } from './allocate.js';
import { thenOf } from './commands.js';
import { joinAltitude, returnAltitudeDm, type LayerUse } from './deconflict.js';
import { dist2 } from './geometry.js';
import { hazardCellsText, hazardMarginDm, keepOuts, routeAround } from './hazards.js';
import { paramOf, paramSpecs, toDm } from './params.js';
import type { ActiveMission, Assignment, DroneState, LostCause, MissionEffect, MissionState, PointDm, Task } from './types.js';

export type { LostCause } from './types.js';

/** Causes after which the drone is told to return home (machine.ts loseDrones): not one no longer in
 *  the fleet, nor one handed over (a task would take the vehicle back from whoever has it). */
export const sentHome = (cause: LostCause): boolean => cause === 'battery' || cause === 'silent';

export interface Lost {
  readonly node: string;
  readonly cause: LostCause;
  readonly reason: string;
}

/** The mission's unfinished drones that are lost at block time `timeMs` (in id order). `handedOver`:
 *  the drones whose telemetry committed in this block says they were handed over from `m` (empty
 *  unless reassignHandedOver is 1). */
export function lostDrones(s: MissionState, m: ActiveMission, members: ReadonlySet<string>, timeMs: number, reservePermille: number, lostAfterMs: number, handedOver: ReadonlySet<string> = new Set()): Lost[] {
  const out: Lost[] = [];
  const byId = new Map(s.drones.map((d) => [d.id, d]));
  const done = new Set(m.done);
  for (const a of m.assignments) {
    if (done.has(a.node)) continue;
    if (!members.has(a.node)) {
      out.push({ node: a.node, cause: 'removed', reason: `${a.node} is not in the manifest in force` });
      continue;
    }
    const d = byId.get(a.node);
    if (!d) continue;
    if (handedOver.has(a.node)) {
      out.push({ node: a.node, cause: 'handed-over', reason: `${a.node} was handed over from mission ${m.id} (its committed telemetry says a pilot or its flight controller's own failsafe has the vehicle, or a restart left it on the ground after it flew for the mission; its status says why): it is told nothing, so the swarm does not take it back` });
      continue;
    }
    const low = batteryProblem(d, reservePermille);
    if (low) {
      out.push({ node: a.node, cause: 'battery', reason: low });
      continue;
    }
    // Silence counts from the mission's start (a drone parked reports less often than one flying),
    // but not for a drone already silent for lostAfterS then: it is not given a fresh lostAfterS, by
    // which time the others may have finished and nobody would take its part. (A snapshot older than
    // these times restores startMs as its own block time: mission-snapshot.ts.)
    const silentAtStart = d.telemetryMs > 0 && m.startMs - d.telemetryMs > lostAfterMs;
    const heard = silentAtStart ? d.telemetryMs : Math.max(d.telemetryMs, m.startMs);
    if (heard > 0 && timeMs - heard > lostAfterMs) out.push({ node: a.node, cause: 'silent', reason: `no telemetry of ${a.node} committed for ${Math.floor((timeMs - heard) / 1000)} s (lostAfterS ${lostAfterMs / 1000})` });
  }
  return out.sort((x, y) => compareIds(x.node, y.node));
}

/** The layers a taken part may go in, above the mission's altitude: their spacing (separationM), the
 *  ceiling, and each drone's return altitude (machine.ts returnAltitudeDm). */
export interface JoinLayers {
  readonly separationDm: number;
  readonly ceilingDm: number;
  readonly returnAltDm: (node: string) => number;
}

/** The join layers under the committed state `s` (its mission the one losing drones). */
export function joinLayersOf(s: MissionState): JoinLayers {
  const slot = new Map(s.drones.map((d, i) => [d.id, i]));
  return {
    separationDm: toDm(paramOf(s.params, 'separationM')),
    ceilingDm: s.geofence ? s.geofenceAltDmMax : toDm(paramSpecs.altitudeM!.max),
    returnAltDm: (node: string) => returnAltitudeDm(s, slot.get(node) ?? -1),
  };
}

/** Who else uses the layers above the mission altitude while `taker` flies a taken part: the legs to
 *  their routes of drones not on them yet (no committed progress), other taken parts not flown yet,
 *  and drones on their way home (lost now, told to return, or done with their survey part), whose
 *  path home the machine does not know, so all of their return layer. From committed state only. */
function layerUses(m: ActiveMission, assignments: readonly Assignment[], drones: readonly DroneState[], lost: ReadonlySet<string>, lostHome: ReadonlySet<string>, taker: string, layers: JoinLayers): LayerUse[] {
  const uses: LayerUse[] = [];
  const byId = new Map(drones.map((d) => [d.id, d]));
  for (const x of assignments) {
    // A lost drone flies no more of its plan (one going home is counted below).
    if (x.node === taker || m.done.includes(x.node) || lost.has(x.node)) continue;
    const pos = byId.get(x.node)?.pos ?? null;
    const first = x.waypoints[0];
    if ((x.flown ?? 0) === 0 && first) uses.push({ altDm: x.transitAltDm, path: pos ? [pos, first] : null });
    const parts = x.joins ?? [];
    parts.forEach((j, k) => {
      const end = parts[k + 1]?.at ?? x.waypoints.length;
      if ((x.flown ?? 0) < end) uses.push({ altDm: j.altDm, path: x.waypoints.slice(Math.max(0, j.at - 1), end) });
    });
  }
  for (const d of drones) {
    if (d.id === taker) continue;
    const home = d.activity === 'returning' || lostHome.has(d.id) || (m.kind === 'survey' && m.done.includes(d.id));
    if (home) uses.push({ altDm: layers.returnAltDm(d.id), path: null });
  }
  return uses;
}

/** What a reassign effect says, for the device's log and the audit (the decision log). */
export function reassignText(e: Extract<MissionEffect, { type: 'reassign' }>): string {
  return `${e.reason}: ${e.from} leaves mission ${e.mission}; ${e.to ? `${e.to} flies its ${e.waypoints} unflown waypoints` : `its ${e.waypoints} unflown waypoints are dropped`}`;
}

/** What the machine does about lost drones: the mission after (null when nothing is left to fly), the
 *  drones whose routes grew (to re-task) and the effects naming each decision. */
export function reassign(m: ActiveMission, lost: readonly Lost[], drones: readonly DroneState[], reservePermille: number, height: number, layers: JoinLayers): { mission: ActiveMission | null; grown: string[]; effects: MissionEffect[] } {
  const effects: MissionEffect[] = [];
  const lostIds = new Set(lost.map((l) => l.node));
  const lostHome = new Set(lost.filter((l) => sentHome(l.cause)).map((l) => l.node));
  let assignments = m.assignments.slice();
  const grown = new Set<string>();
  for (const l of lost) {
    const a = assignments.find((x) => x.node === l.node);
    if (!a) continue;
    const flown = Math.min(a.flown ?? 0, a.waypoints.length);
    // Flown to its end: nothing left but its report. Else from the start of the leg it was on.
    const rest = flown >= a.waypoints.length ? [] : a.waypoints.slice(Math.max(0, flown - 1));
    let to: string | null = null;
    if (m.kind === 'survey' && rest.length > 0) {
      const first = rest[0] as PointDm;
      let best = Infinity;
      for (const x of assignments) {
        if (lostIds.has(x.node) || m.done.includes(x.node)) continue;
        const d = drones.find((y) => y.id === x.node);
        if (!d || batteryProblem(d, reservePermille)) continue;
        const d2 = dist2(believedPos(d), first);
        if (d2 < best || (d2 === best && to !== null && compareIds(x.node, to) < 0)) {
          best = d2;
          to = x.node;
        }
      }
    }
    assignments = assignments.filter((x) => x.node !== l.node);
    if (to !== null) {
      const taker = to;
      const own = assignments.find((x) => x.node === taker) as Assignment;
      // The way to the taken part (from its own last waypoint) and the part itself are flown in a layer
      // above the mission altitude that keeps clear of the other drones' paths there.
      const path = [...own.waypoints.slice(-1), ...rest];
      const altDm = joinAltitude(path, layers.returnAltDm(taker), layerUses(m, assignments, drones, lostIds, lostHome, taker, layers), m.altDm, layers.separationDm, layers.ceilingDm);
      assignments = assignments.map((x) => (x.node === taker ? { ...x, waypoints: [...x.waypoints, ...rest], joins: [...(x.joins ?? []), { at: x.waypoints.length, altDm }] } : x));
      grown.add(taker);
    }
    effects.push({ type: 'reassign', height, mission: m.id, from: l.node, cause: l.cause, reason: l.reason, to, waypoints: rest.length });
  }
  const done = m.done.filter((id) => !lostIds.has(id));
  const mission = done.length === assignments.length ? null : { ...m, assignments, done };
  return { mission, grown: [...grown].sort(compareIds), effects };
}

/**
 * The waypoints task for an assignment's part from planned waypoint `start` on (0: all of it), round
 * the committed keep-outs inside the fence (hazards.ts routeAround), with its blocked legs and its join
 * legs (the way to a part taken from a lost drone, flown at the altitude the assignment gives it) in
 * the route's indices. What the machine re-tasks a drone with, and what a restarted device resumes
 * (from planned waypoint `start`: a taken part it is inside of is still flown at its altitude).
 */
export function assignmentTask(s: MissionState, m: ActiveMission, a: Assignment, start: number, replan: boolean): Extract<Task, { type: 'waypoints' }> {
  const planned = a.waypoints.slice(start);
  const { route, blocked, index } = routeAround(planned, keepOuts(s.hazards), s.geofence);
  const joins: { from: number; to: number; altDm: number }[] = [];
  const parts = a.joins ?? [];
  parts.forEach((j, i) => {
    // The taken part runs from its first planned waypoint to the one before the next taken part.
    const first = Math.max(0, j.at - start);
    const last = (parts[i + 1]?.at ?? a.waypoints.length) - 1 - start;
    if (last < 0) return;
    // In the route: from just after the last kept planned waypoint before it (the way there included)
    // to its last kept one.
    const to = index.slice(first, last + 1).filter((k) => k >= 0).at(-1);
    if (to === undefined) return;
    const before = index.slice(0, first).filter((k) => k >= 0).at(-1) ?? -1;
    joins.push({ from: before + 1, to, altDm: j.altDm });
  });
  // The planned waypoints after the last one the route keeps: inside a keep-out, so a drone that had
  // them ahead has nothing left to fly and must not report its part done (Task droppedEnd).
  const kept = index.findLastIndex((k) => k >= 0);
  const tail = planned.slice(kept + 1);
  const droppedEnd = tail.length > 0 ? `every waypoint left for ${a.node} lies inside the keep-out round ${hazardCellsText(s.hazards, tail)} (routes keep ${hazardMarginDm / 10} m from its edge): ${tail.map((p) => `[${p.n / 10}, ${p.e / 10}] m`).join(', ')}` : null;
  return {
    type: 'waypoints',
    mission: m.id,
    waypoints: route,
    altDm: m.altDm,
    transitAltDm: a.transitAltDm,
    speedDmps: m.speedDmps,
    then: thenOf(m.kind),
    ...(replan ? { replan: true as const } : {}),
    ...(blocked.length > 0 ? { blocked } : {}),
    ...(joins.length > 0 ? { joins } : {}),
    ...(droppedEnd !== null ? { droppedEnd } : {}),
  };
}
