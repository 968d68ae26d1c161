// Which drones' parts of a mission one committed block ended before they were flown, and why: an
// abort, an rtl or land of the drone, a mission that replaced it, or the swarm taking the part away
// (reassign.ts: handed on to another drone, or dropped). Read from what the mission machine already
// emits (the state before and after, its decisions, tasks and reassign effects); the devices say each
// such end in their acks of the mission command (MissionRunner.onCommit), so `murmurctl send --wait
// executed` learns that a part will never report done. Before, it waited for it until --timeout.

import { completionCovers } from '../mission/progress.js';
import type { ActiveMission, MissionEffect, MissionTx } from '../mission/types.js';

export interface EndedPart {
  readonly node: string;
  /** The drone that flies the part on (taken over: reassign.ts), or null: it is not flown. */
  readonly to: string | null;
  /** What ended it, for the operator: "aborted by abort ops/… at height 57", "handed to d2: …". */
  readonly reason: string;
  /** How much of the part its committed telemetry says was flown, per mille of its planned waypoints. */
  readonly progress: number;
}

/** What each command type that can take a drone out of a mission does to its part, in a reason. */
const endedBy: Readonly<Record<string, string>> = {
  abort: 'aborted by',
  rtl: 'sent home by',
  land: 'landed by',
  'mission.survey': 'replaced by',
  'mission.goto': 'replaced by',
  formation: 'replaced by',
};

/**
 * The parts of `before` (the mission in force before the block at `height`) that the block ended
 * unfinished, sorted by node: assigned, not done, and after the block no longer assigned in the same
 * mission, unless the drone's telemetry in the block reported the part flown (`txs`). `after` is the
 * mission in force after the block, `effects` the block's effects (MissionEffect).
 */
export function endedParts(before: ActiveMission | null, after: ActiveMission | null, height: number, txs: readonly MissionTx[], effects: readonly MissionEffect[]): EndedPart[] {
  if (before === null) return [];
  const finished = new Set(txs.flatMap((t) => (t.kind === 'telemetry' && t.completed === before.id ? [t.node] : [])));
  const accepted = effects.flatMap((e) => (e.type === 'decision' && e.decision.outcome === 'accepted' && endedBy[e.decision.type] !== undefined ? [e.decision] : []));
  const out: EndedPart[] = [];
  for (const a of before.assignments) {
    // A completion counts only when it covers the part as it is now (a taker's of its old route does
    // not: completionCovers), as in the machine; else that part went unsaid and a wait for it hung.
    if (before.done.includes(a.node) || (finished.has(a.node) && completionCovers(a))) continue;
    if (after !== null && after.id === before.id && after.assignments.some((x) => x.node === a.node)) continue;
    const progress = a.waypoints.length === 0 ? 0 : Math.floor(((a.flown ?? 0) * 1000) / a.waypoints.length);
    const lost = effects.find((e) => e.type === 'reassign' && e.mission === before.id && e.from === a.node);
    // A part handed on is said as such; one an operator's rtl or land took and nobody flies on is said
    // by that command (below), as an abort's is.
    if (lost?.type === 'reassign' && (lost.to !== null || lost.cause !== 'operator')) {
      const reason = lost.to !== null ? `handed to ${lost.to}: ${lost.reason}` : `dropped: ${lost.reason}; its ${lost.waypoints} unflown waypoints are not flown`;
      out.push({ node: a.node, to: lost.to, reason, progress });
      continue;
    }
    // The command of this block that tasked the drone (its rtl, the abort, the new mission), else the
    // last one of this block that can end a part (a replacing mission that gave it no task).
    const tasked = accepted.filter((d) => effects.some((e) => e.type === 'task' && e.node === a.node && e.command === d.id && e.origin === 'operator'));
    const d = tasked.at(-1) ?? accepted.at(-1);
    const reason = d !== undefined ? `${endedBy[d.type] ?? 'ended by'} ${d.type} ${d.id} at height ${height}` : `left the mission at height ${height}`;
    out.push({ node: a.node, to: null, reason, progress });
  }
  return out;
}
