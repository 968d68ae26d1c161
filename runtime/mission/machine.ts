// The mission state machine: applyBlock(state, committedBlock) -> {state, effects}. Pure and
// deterministic: every device applies the same committed blocks and reaches the same state, tasks
// and audit decisions. A command that fails a check is committed as rejected, with its reason.

import { assert } from '../lib/assert.js';
import { compareIds } from '../lib/ids.js';
import { runCommand } from './commands.js';
import { assignmentTask, joinLayersOf, lostDrones, reassign, sentHome } from './reassign.js';
import { keepOuts, routeAround, sameHazards } from './hazards.js';
import { completionCovers } from './progress.js';
import { initialParams, paramOf } from './params.js';

export { returnAltitudeDm } from './deconflict.js';
import type { ApplyResult, Decision, DroneState, HazardSet, MissionBlock, MissionCommand, MissionEffect, MissionState, MissionTelemetry, OperatorRoleName } from './types.js';

/** Which operator roles may send which command types (the manifest gives each operator its roles). */
export const commandRoles: Readonly<Record<string, readonly OperatorRoleName[]>> = {
  noop: ['operator', 'admin'],
  'mission.survey': ['operator', 'admin'],
  'mission.goto': ['operator', 'admin'],
  formation: ['operator', 'admin'],
  hold: ['operator', 'admin'],
  resume: ['operator', 'admin'],
  rtl: ['operator', 'admin'],
  land: ['operator', 'admin'],
  abort: ['operator', 'admin'],
  'geofence.set': ['admin'],
  'hazard.clear': ['admin'],
  'param.set': ['admin'],
  'fleet.update': ['admin'],
  'agent.model': ['admin'],
};

export const commandTypes = Object.keys(commandRoles).sort();

export function initialMissionState(): MissionState {
  return { height: 0, timeMs: 0, drones: [], mission: null, geofence: null, geofenceAltDmMax: 1200, params: initialParams(), models: [], hazards: null, accepted: 0, rejected: 0 };
}

const newDrone = (id: string): DroneState => ({ id, pos: null, altDm: 0, batteryPermille: -1, telemetryHeight: 0, telemetryMs: 0, activity: 'idle' });

export function applyBlock(prev: MissionState, block: MissionBlock): ApplyResult {
  assert(block.height === prev.height + 1, `mission: applying block ${block.height} after ${prev.height}`);
  let s: MissionState = { ...prev, height: block.height, timeMs: block.timeMs, drones: syncDrones(prev.drones, block.members.devices) };
  const effects: MissionEffect[] = [];
  // Which mission each drone's telemetry in this block says it was handed over from (loseDrones). Kept
  // with the mission's id: one that replaces it later in the block (args.replace) tasks the drone anew,
  // and that task gives the vehicle back, so a report from the old mission says nothing of the new.
  const handedOver: { readonly node: string; readonly mission: string }[] = [];
  // The block with the committed hazard set after it so far: an accepted hazard.clear takes its cells
  // out, so a later command of the block sees them gone; the set is applied (and routes re-planned)
  // after the block's transactions, as one the attestations changed.
  let blk = block;
  block.txs.forEach((tx, index) => {
    if (tx.kind === 'telemetry') {
      // A report not after the drone's last one is old news: a replay by anyone on the broker (the
      // signature is the device's, so it verifies) or a report committed late. It must not bring a
      // stopped drone back to life, nor move it, nor hand it over.
      if (!isNewReport(s, tx)) return;
      s = applyTelemetry(s, tx, block.height, block.timeMs);
      if (tx.handedOver) handedOver.push({ node: tx.node, mission: tx.handedOver });
      return;
    }
    const problem = authorize(tx, block);
    const outcome = problem === null ? runCommand(s, tx, blk) : { ok: false as const, reason: problem };
    const decision: Decision = {
      height: block.height,
      index,
      id: tx.id,
      operator: tx.operator,
      type: tx.type,
      outcome: outcome.ok ? 'accepted' : 'rejected',
      reason: outcome.ok ? (outcome.note ?? '') : outcome.reason,
    };
    effects.push({ type: 'decision', decision });
    if (outcome.ok) {
      const before = s;
      s = { ...outcome.state, accepted: s.accepted + 1 };
      effects.push(...outcome.effects);
      for (const e of outcome.effects) {
        const h = blk.hazards ?? s.hazards;
        if (e.type === 'hazard-clear' && h) blk = { ...blk, hazards: withoutCells(h, e.cells) };
      }
      // A new fence may give a blocked leg its way round (or change which side a detour takes).
      if (tx.type === 'geofence.set') {
        const r = replan(before, s, block.height);
        s = r.state;
        effects.push(...r.effects);
      }
    } else {
      s = { ...s, rejected: s.rejected + 1 };
    }
  });
  if (blk.hazards && !sameHazards(s.hazards, blk.hazards)) {
    const r = replan(s, { ...s, hazards: blk.hazards }, block.height);
    s = r.state;
    effects.push(...r.effects);
  }
  const r = loseDrones(s, block, handedOver);
  s = r.state;
  effects.push(...r.effects);
  return { state: s, effects };
}

/**
 * The mission's lost drones (removed by the manifest in force, handed over, battery below the
 * reserve, silent for lostAfterS: reassign.ts) leave it, those low on battery or silent told to
 * return home, and a survey's unflown part of each goes to the nearest drone still flying the
 * mission, re-tasked with its longer route (carrying on from where it is). From committed inputs
 * only, after the block's transactions. `handedOver`: drones whose telemetry in this block says they
 * were handed over from a mission; they count for the mission in force after the block's
 * transactions (the one they name), and only under reassignHandedOver 1 (params.ts: a node
 * of an older version does not read the report's handover, so the switch waits for the whole fleet).
 */
function loseDrones(s: MissionState, block: MissionBlock, handedOver: readonly { readonly node: string; readonly mission: string }[]): { state: MissionState; effects: MissionEffect[] } {
  const m = s.mission;
  if (!m) return { state: s, effects: [] };
  const reserve = Math.round(paramOf(s.params, 'batteryReservePct') * 10);
  const handed = new Set(paramOf(s.params, 'reassignHandedOver') === 1 ? handedOver.filter((h) => h.mission === m.id).map((h) => h.node) : []);
  const lost = lostDrones(s, m, new Set(block.members.devices), block.timeMs, reserve, paramOf(s.params, 'lostAfterS') * 1000, handed);
  if (lost.length === 0) return { state: s, effects: [] };
  const r = reassign(m, lost, s.drones, reserve, block.height, joinLayersOf(s));
  const effects: MissionEffect[] = [...r.effects];
  const state0: MissionState = { ...s, mission: r.mission };
  for (const node of r.grown) {
    const a = r.mission?.assignments.find((x) => x.node === node);
    if (r.mission && a) effects.push({ type: 'task', node, command: m.id, task: assignmentTask(state0, r.mission, a, 0, true), origin: 'automatic' });
  }
  const home = new Set(lost.filter((l) => sentHome(l.cause)).map((l) => l.node));
  for (const node of [...home].sort(compareIds)) effects.push({ type: 'task', node, command: m.id, task: { type: 'rtl' }, origin: 'automatic' });
  // A handed-over drone gets no task (reassign.ts: one would take the vehicle back from whoever has
  // it) and is no longer the mission's: idle to the machine, whatever its pilot does with it.
  const idle = new Set(lost.filter((l) => l.cause === 'handed-over').map((l) => l.node));
  const drones = s.drones.map((d) => (home.has(d.id) ? { ...d, activity: 'returning' as const } : idle.has(d.id) ? { ...d, activity: 'idle' as const } : d));
  return { state: { ...state0, drones }, effects };
}

/** A changed committed hazard set or geofence re-routes every unfinished part of the mission, active or
 *  held (a held drone keeps holding and flies the new route on resume: a hold must not keep the old
 *  one), from each assignment's planned waypoints, so successive re-plans never stack detours. A leg
 *  blocked before (no way round inside the fence) that now has one is re-planned so, with no operator:
 *  the drone holding before it flies on (its ack says it resumed). `state` is `prev` with the new set
 *  or fence. */
function replan(prev: MissionState, state: MissionState, height: number): { state: MissionState; effects: MissionEffect[] } {
  const m = state.mission;
  if (!m) return { state, effects: [] };
  const before = keepOuts(prev.hazards);
  const after = keepOuts(state.hazards);
  const effects: MissionEffect[] = [];
  const nodes: string[] = [];
  for (const a of m.assignments) {
    if (m.done.includes(a.node)) continue;
    // Round the keep-outs inside the fence, or, where no way round keeps inside it, the drone holds
    // before that leg with the reason (routeAround): it never flies out of the fence.
    const old = routeAround(a.waypoints, before, prev.geofence);
    const { route, blocked } = routeAround(a.waypoints, after, state.geofence);
    if (JSON.stringify({ route: old.route, blocked: old.blocked }) === JSON.stringify({ route, blocked })) continue;
    nodes.push(a.node);
    effects.push({ type: 'task', node: a.node, command: m.id, task: assignmentTask(state, m, a, 0, true), origin: 'automatic' });
  }
  if (nodes.length > 0) effects.unshift({ type: 'replan', height, mission: m.id, nodes, keepOuts: after.length });
  return { state, effects };
}

/** The committed set without `cells`. */
function withoutCells(h: HazardSet, cells: readonly (readonly [number, number])[]): HazardSet {
  return { cellDm: h.cellDm, cells: h.cells.filter((c) => !cells.some((x) => x[0] === c[0] && x[1] === c[1])) };
}

/** The role and time checks every command passes before its own checks. */
function authorize(c: MissionCommand, block: MissionBlock): string | null {
  const op = block.members.operators.find((o) => o.id === c.operator);
  if (!op) return `operator "${c.operator}" is not in the fleet manifest (epoch ${block.members.epoch})`;
  // Own keys only: a type like "constructor" passes the wire's pattern and must not find Object.prototype's.
  const allowed = Object.hasOwn(commandRoles, c.type) ? commandRoles[c.type] : undefined;
  if (!allowed) return `unknown command type "${c.type}"; known: ${commandTypes.join(', ')}`;
  if (!op.roles.some((r) => allowed.includes(r))) return `operator "${c.operator}" has role ${op.roles.join('+') || 'none'}; ${c.type} needs ${allowed.join(' or ')}`;
  if (block.timeMs >= c.expiresAt) return `command expired at ${c.expiresAt}, before block time ${block.timeMs}`;
  return null;
}

/** Drones follow the manifest in force: new devices appear idle, removed ones are dropped. */
function syncDrones(drones: readonly DroneState[], devices: readonly string[]): DroneState[] {
  const byId = new Map(drones.map((d) => [d.id, d]));
  return [...devices].sort(compareIds).map((id) => byId.get(id) ?? newDrone(id));
}

/**
 * Whether a report is after the last one applied for its drone: a later boot session, or the same
 * session and a higher seq (as the membership view takes heartbeats: membership-view.ts). The session
 * grows with every start (runtime/device/session-number.ts: at least the Unix time in seconds, and past
 * the stored one), so a restarted device's seq starting again is new; a device whose data directory was
 * wiped while its clock is set back before its last session is refused until that time, as its
 * heartbeats are (removing it from the manifest and adding it again forgets its reports).
 */
export function isNewReport(s: MissionState, t: Pick<MissionTelemetry, 'node' | 'sent'>): boolean {
  const last = s.drones.find((d) => d.id === t.node)?.telemetrySent;
  if (t.sent === undefined || last === undefined) return true;
  return t.sent.session > last.session || (t.sent.session === last.session && t.sent.seq > last.seq);
}

function applyTelemetry(s: MissionState, t: MissionTelemetry, height: number, timeMs: number): MissionState {
  const i = s.drones.findIndex((d) => d.id === t.node);
  if (i < 0) return s; // not a device under the manifest in force: ignored
  const old = s.drones[i] as DroneState;
  let activity = old.activity;
  let mission = s.mission;
  // A completion counts when it covers the drone's part as committed now (progress.ts completionCovers).
  const part = mission?.assignments.find((x) => x.node === t.node);
  if (mission && t.completed === mission.id && part && completionCovers(part) && !mission.done.includes(t.node)) {
    const done = [...mission.done, t.node].sort(compareIds);
    activity = 'idle';
    // Every assigned drone finished: the mission is over and the fleet may take a new one.
    mission = done.length === mission.assignments.length ? null : { ...mission, done };
  }
  // Progress only grows (a report signed before a later one may be committed after it), and only
  // counts for the mission it names, for this drone's part of it, up to its length.
  const p = t.progress;
  if (mission && p && p.mission === mission.id && !mission.done.includes(t.node)) {
    const m = mission;
    const at = m.assignments.findIndex((x) => x.node === t.node);
    const a = m.assignments[at];
    const flown = a ? Math.min(p.flown, a.waypoints.length) : 0;
    if (a && flown > (a.flown ?? 0)) {
      const assignments = m.assignments.slice();
      assignments[at] = { ...a, flown };
      mission = { ...m, assignments };
    }
  }
  const drone: DroneState = { ...old, pos: t.pos, altDm: t.altDm, batteryPermille: t.batteryPermille, telemetryHeight: height, telemetryMs: timeMs, ...(t.sent ? { telemetrySent: t.sent } : {}), activity };
  const drones = s.drones.slice();
  drones[i] = drone;
  return { ...s, drones, mission };
}
