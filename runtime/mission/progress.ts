// How far a drone has flown its part of a mission, and where it flies on from after its device
// restarted. Progress is counted in the assignment's planned waypoints (what the allocator gave it),
// not in the route flown (which adds detour points round committed hazards and changes with them):
// a device reports in its signed telemetry how many of them it has passed, the mission machine keeps
// the highest count committed (Assignment.flown), and a device that restarted mid-mission resumes
// from it. Pure and integer: the committed count decides, the device's own position only refines it.

import { pointSeg2 } from './deconflict.js';
import type { ActiveMission, Assignment, MissionProgress, PointDm } from './types.js';

const same = (a: PointDm, b: PointDm): boolean => a.n === b.n && a.e === b.e;

/**
 * How many of `planned` the drone has passed, flying `route` (the planned waypoints in order, some
 * dropped inside keep-outs, detour points between them) with `next` the index of the route point it
 * is heading to. Each passed route point that is a planned waypoint (the first match at or after the
 * last one found) moves the count past it; a planned waypoint dropped before it counts as passed.
 */
export function plannedPassed(planned: readonly PointDm[], route: readonly PointDm[], next: number): number {
  let j = 0;
  for (let k = 0; k < Math.min(next, route.length); k++) {
    const p = route[k] as PointDm;
    for (let t = j; t < planned.length; t++) {
      if (same(planned[t] as PointDm, p)) {
        j = t + 1;
        break;
      }
    }
  }
  return j;
}

/** Within this of the interrupted leg (decimetres, the executor's arrival tolerance), and airborne,
 *  a restarted drone is still on it. */
export const onLegDm = 30;

/**
 * The planned waypoint a drone restarted mid-mission flies on from, having passed `flown` of them.
 * Nothing already flown is flown again, nothing not flown is skipped: the leg it was on when it
 * stopped (from waypoint flown - 1 to waypoint flown) is flown again from its start, since the drone
 * may have left it (landed on a failsafe, gone home, drifted), unless it is still airborne on that
 * leg (`at`, its own position, within onLegDm of it), when it carries on to waypoint `flown`. With
 * nothing flown it starts at the first; with everything flown there is nothing left (the length).
 */
export function resumeStart(planned: readonly PointDm[], flown: number, at: { readonly pos: PointDm; readonly airborne: boolean } | null): number {
  const k = Math.max(0, Math.min(flown, planned.length));
  if (k === 0 || k === planned.length) return k;
  if (at?.airborne && pointSeg2(at.pos, { a: planned[k - 1] as PointDm, b: planned[k] as PointDm }) <= onLegDm * onLegDm) return k;
  return k - 1;
}

/**
 * Whether a drone's report that it finished mission `m` covers its part as committed now. A part that
 * grew (a lost drone's taken on: reassign.ts) counts as finished only once the committed progress has
 * passed all of its planned waypoints: a "completed" the drone signed for its own part just before it
 * heard the grown route, committed after it, said nothing of the taken lanes and ended the mission
 * with them unflown. A part that never grew is covered by any report of it.
 */
export function completionCovers(a: Assignment): boolean {
  return (a.joins ?? []).length === 0 || (a.flown ?? 0) >= a.waypoints.length;
}

/**
 * What a drone whose route is flown to its end reports for `m` before its "completed": all of its
 * planned waypoints passed, while its part grew and the committed progress has not counted them all
 * (completionCovers), so the completion that follows counts. `covered`: how many of its part's
 * planned waypoints the route it flew covers (the committed part's length when that route was taken);
 * a route of the part from before it grew covers fewer and says nothing. Null: report "completed".
 */
export function finishedProgress(m: ActiveMission, node: string, covered: number): MissionProgress | null {
  const mine = m.assignments.find((a) => a.node === node);
  if (!mine || m.done.includes(node) || completionCovers(mine) || covered !== mine.waypoints.length) return null;
  return { mission: m.id, flown: mine.waypoints.length };
}
