// The application side of a device: applies committed blocks to the mission machine, publishes the
// decision acks (naming the block) and one proof per deciding block (block + certificate), runs this device's own tasks through the executor and
// acks their progress, and explains refusals of commands at intake.

import type { Logger as PinoLogger } from 'pino';
import type { DeviceError, FlightAction, FlightState } from '../../hal/devices.js';
import type { GeoOrigin } from '../../hal/geo.js';
import type { Verifier } from '../crypto/sodium.js';
import { toHex } from '../lib/bytes.js';
import type { Manifest } from '../manifest/manifest.js';
import type { CommittedBlock } from '../consensus/types.js';
import { applyBlock, initialMissionState, isNewReport, returnAltitudeDm } from '../mission/machine.js';
import { assignedModel } from '../mission/models.js';
import type { ActiveMission, Assignment, HazardSet, MissionBlock, MissionEffect, MissionState, PointDm, Task, TaskOrigin } from '../mission/types.js';
import type { Storage } from '../node/ports.js';
import { keepOuts, type KeepOut } from '../mission/hazards.js';
import { assignmentTask, reassignText } from '../mission/reassign.js';
import { manifestDecision } from './manifest-decision.js';
import { finishedProgress, plannedPassed, resumeStart } from '../mission/progress.js';
import type { NodeShell } from '../node/shell.js';
import type { AckStage } from '../wire/ack.js';
import type { ControlPlane } from './control-plane.js';
import type { DecisionJson, StatusJson } from './control-topics.js';
import { Executor, type ExecReport, type RestartResume } from './executor.js';
import type { Point } from '../../agents/api/agent.js';
import type { Hal } from './hal-setup.js';
import type { TelemetryFacts } from './telemetry-gate.js';
import { intakeCommand } from './intake.js';
import { endedParts } from './ended-parts.js';
import { missionBlockOf } from './mission-adapter.js';
import type { DeviceMetrics } from './observability.js';
import { decodeMissionSnapshot, encodeMissionSnapshot } from './mission-snapshot.js';
import { decodeOwnReturn, encodeOwnReturn, ownReturnFile, type OwnReturn } from './own-return.js';
import { ok, type Result } from '../lib/result.js';
import { AckBudget, CountedOnce, refusalAckBudget, RepeatLog, summarySpan, type RepeatSummary } from './repeat-limits.js';
import { agentTxOf, applyAgentBlock, type AgentTx } from '../../agents/swarm/swarm-state.js';
import { cellCentre, clearHazards, committedHazards, emptyHazardState, hazardCellM, hazardWordSuperseded, type HazardEvent, type HazardState } from '../../agents/swarm/hazard-commit.js';
import { decodeCbor } from '../wire/cbor.js';
import { parseWith } from '../wire/fields.js';
import { kinds } from '../wire/kinds.js';
import { parseTelemetryBody } from '../wire/telemetry.js';
import { parseAttestationBody } from '../wire/attestation.js';

export interface MissionRunnerOptions {
  readonly id: string;
  readonly fleet: string;
  readonly manifest: Manifest;
  readonly verifier: Verifier;
  readonly control: ControlPlane;
  readonly hal: Hal;
  readonly origin: GeoOrigin;
  /** This device's own fence (device.yaml geofence): the executor skips waypoints outside it. */
  readonly fence: readonly Point[] | null;
  readonly log: PinoLogger;
  readonly metrics: DeviceMetrics;
  /** Hands an envelope to consensus as a transaction (and gossips it). */
  readonly submit: (envelope: Uint8Array) => void;
  /** The data directory (file `flying`: the mission this device last had its drone in the air for,
   *  read by a restart that finds the drone on the ground, the mission held or active: resumeOwnTask;
   *  file `own-return`: the executor's own last return or landing, own-return.ts). */
  readonly storage?: Storage;
}

/** The data directory's file naming the mission this device last had its drone in the air for. */
export const flyingFile = 'flying';
/** A committed report this high (decimetres above home, as resumeStart's `airborne`) is in the air. */
const reportedAirborneDm = 20;

const committedRefsMax = 100_000; // command refs remembered for replay answers; oldest evicted
const decisionsKept = 200; // newest decisions in the retained JSON log and in snapshots; older ones only in the proofs published at commit (proof/<height>), for an archive to keep
const explainedMax = 1_024; // refusals recently explained (one ack per arrival burst); oldest forgotten
const progressKeptMax = 64; // commands whose progress is remembered (progressOf), and missions whose part ended (partEnded); oldest forgotten
const resumePollMs = 200; // a restart's resume asks for the drone's position this often...
const resumePositionWaitMs = 10_000; // ...for this long, then resumes from the committed progress alone
/** A refusal with the same key (a command, or one reason for payloads that name none) is explained at
 *  most this often per device: a resend after this long is explained again, and a flood of garbage
 *  does not make every device flood replies. */
export const explainAgainMs = 2_000;

/** Enough of the flight state to decide what a restart resumes: its landed state, or what a flight
 *  controller that sends none (no EXTENDED_SYS_STATE) still tells once heard: disarmed (on the
 *  ground), or armed in its return or landing. Before, such an FC held every resume for 10 s. */
function flightKnown(fs: Result<FlightState, DeviceError> | undefined): boolean {
  const v = fs?.ok ? fs.value : null;
  return v !== null && (v.landed !== 'unknown' || (v.mode !== 'unknown' && (!v.armed || v.mode === 'return' || v.mode === 'land')));
}

/** Sets `key` to `value` as the newest entry of `m`, forgetting the oldest once `m` holds `max`. */
function setNewest<V>(m: Map<string, V>, key: string, value: V, max: number): void {
  m.delete(key);
  if (m.size >= max) m.delete(m.keys().next().value as string);
  m.set(key, value);
}

interface StrangerRefusal {
  readonly sender: string;
  readonly kind: string;
  readonly reason: string;
}

/** The claimed sender of bytes on the commands topic that name none; and of senders past RepeatLog's firstsMax. */
const unreadableSender = '(unreadable)';
const otherSenders = '(others)';

/** A hazard event as `murmurctl log` says it: the cell, where it is, and whose attestations did it. */
export function hazardText(e: HazardEvent): string {
  const [northM, eastM] = cellCentre(e.cell);
  const where = `cell ${e.cell.join(',')} at [${northM}, ${eastM}] m`;
  if (e.type === 'hazard-cleared' && e.by !== undefined) return `${where} cleared by ${e.by} (hazard.clear ${e.command ?? '?'})`;
  const what = e.type === 'hazard-committed' ? 'committed on the attestations of' : 'cleared on the denials of';
  return `${where} ${what} ${e.attesters.join(', ')}`;
}

export class MissionRunner {
  /** True while the WAL replays: state is rebuilt, nothing is executed or published again. */
  replaying = false;
  state: MissionState = initialMissionState();
  /** The hazard rule's state (attestations counted per cell, agents/swarm/hazard-commit.ts): every
   *  device derives it from the same committed attestations, so it is part of the snapshot. */
  hazardState: HazardState = emptyHazardState;
  /** The keep-out circles of the committed hazard set `zonesOf` (hazards.ts keepOuts), kept on the FC with the fence. */
  private zones: KeepOut[] = [];
  private zonesOf: HazardSet | null = null;
  private readonly executor: Executor;
  private readonly committed = new Map<string, number>();
  private readonly decisions: DecisionJson[] = [];
  /** Refusal key -> when it was last explained. */
  private readonly explained = new Map<string, number>();
  /** Refused commands counted (murmur_commands_refused_total): each once, whichever path and copy. */
  private readonly counted = new CountedOnce();
  /** Refusals of commands no member signed, by claimed sender and kind: logged in full once, then counted. */
  private readonly strangers = new RepeatLog<StrangerRefusal>();
  /** Their acks: a few a second per claimed sender and in all (a flood must not make the fleet sign thousands). */
  private readonly strangerAcks = new AckBudget(refusalAckBudget, Date.now());
  /** The most progress this device has reported of each command it executes, per mille: its acks and
   *  the status say this, never less. Before, a route grown on a reassign (4 waypoints to 8) fell back
   *  (progress 250, started 125), and the status said 0% while the mission was held (the hold's own ack
   *  was the last). */
  private readonly progressOf = new Map<string, number>();
  /** Missions whose part of this device's a committed block ended (endedParts): its executor's later
   *  reports of the mission command (a lost drone's rtl carries the mission's id) are not acked as if
   *  the part went on or was done (only a failure is). */
  private readonly partEnded = new Set<string>();
  /** The height of the block whose task the executor flies, per command (onExec acks it). */
  private readonly taskHeights = new Map<string, number>();
  /** The planned waypoint the executor's route starts at (runTask). */
  private routeBase = 0;
  /** The last waypoints task's route (by its waypoints) and the length of this drone's committed part
   *  when it was taken (runTask): whether a route flown to its end covers the part (finishedProgress). */
  private routePart: { readonly waypoints: readonly PointDm[]; readonly planned: number } | null = null;
  /** A resume waiting for the drone's position (resumeOwnTask). */
  private resumeTimer: NodeJS.Timeout | null = null;

  /** The mission named in the data directory's `flying` file (flyingFile), as last read or written. */
  private flownFor: string | null;

  constructor(private readonly o: MissionRunnerOptions) {
    const stored = o.storage?.read(flyingFile);
    this.flownFor = stored ? new TextDecoder().decode(stored) : null;
    const ownReturn = { found: this.readOwnReturn(), keep: (r: OwnReturn | null) => this.keepOwnReturn(r) };
    this.executor = new Executor(o.hal.devices, o.origin, (r) => this.onExec(r), (m, level = 'warn') => o.log[level](m), { fence: o.fence, flying: (mission) => this.recordFlying(mission), ownReturn });
  }

  /** The executor's own last return or landing from the data directory (own-return.ts), or null: none,
   *  or a file that cannot be read (cut short, damaged, another format), which is logged and emptied:
   *  without it a restart does what it did before there was one (a return found is handed over). */
  private readOwnReturn(): OwnReturn | null {
    const b = this.o.storage?.read(ownReturnFile);
    if (b === undefined) return null;
    const r = decodeOwnReturn(b);
    if (r.ok) return r.value;
    this.o.log.warn({ event: 'own-return-unreadable', file: ownReturnFile }, `${ownReturnFile} in the data directory ${r.error}: ignored and emptied; a return or landing found at this start is taken as not this device's`);
    this.keepOwnReturn(null);
    return null;
  }

  /** Writes the executor's own-return record (null: empties it). A failed write is logged, not fatal:
   *  it only weakens what a restart knows (a return of its own then reads as someone else's). */
  private keepOwnReturn(r: OwnReturn | null): void {
    if (!this.o.storage) return;
    try {
      this.o.storage.replace(ownReturnFile, r === null ? new Uint8Array(0) : encodeOwnReturn(r));
    } catch (e) {
      this.o.log.warn({ event: 'own-return-record-failed', file: ownReturnFile }, `could not ${r === null ? 'empty' : 'write'} ${ownReturnFile} in the data directory${r === null ? '' : ` (this device's ${r.what})`}: ${(e as Error).message}`);
    }
  }

  /** The drone is in the air for `mission` (Executor's `flying`): kept in the data directory, once per
   *  mission. A failed write is logged, not fatal: it only weakens what a restart knows (flewBefore). */
  private recordFlying(mission: string): void {
    if (mission === this.flownFor || !this.o.storage) return;
    this.flownFor = mission;
    try {
      this.o.storage.replace(flyingFile, new TextEncoder().encode(mission));
    } catch (e) {
      this.o.log.warn({ event: 'flying-record-failed', file: flyingFile }, `could not record in the data directory that the drone flew for mission ${mission}: ${(e as Error).message}`);
    }
  }

  /**
   * Why this device knows its drone flew for mission `m` before (so, found on the ground after a restart,
   * under the mission's hold or with it active, someone or something landed it), or null: its committed progress has waypoints
   * passed, its last committed report since the mission began had it in the air (its height then, or,
   * not known then, the last one it knew, held: heldAltDm), or its data directory
   * says this device had it in the air for it. With none of them it never took off for the mission as
   * far as anything kept tells. Never for the simulated vehicle in this process, which a restart puts
   * back on the ground.
   */
  private flewBefore(m: ActiveMission, mine: Assignment): string | null {
    // The simulated vehicle (hal.sim) lives in this device's process: it starts anew with the device,
    // on the ground where it started, so finding it there says nothing of a landing (test/device/
    // e2e.test.ts kills such a device mid-survey, and it flies its part on). A flight controller of its
    // own (MAVLink: the simulated ArduPilot or PX4, or a real one) outlives the device's restarts.
    if (this.o.hal.devices.flight?.driver === 'sim') return null;
    if ((mine.flown ?? 0) > 0) return `${mine.flown} of its ${mine.waypoints.length} waypoints committed as passed`;
    const me = this.state.drones.find((d) => d.id === this.o.id);
    if (me && me.telemetryMs >= m.startMs && me.altDm > reportedAirborneDm) return `its last committed report, since the mission began, had it ${(me.altDm / 10).toFixed(1)} m up`;
    if (this.flownFor === m.id) return 'this device flew it before it restarted';
    return null;
  }

  /** True when the command may go on to consensus; otherwise the operator has been told why not. */
  intake(bytes: Uint8Array, shell: NodeShell): boolean {
    return this.check(bytes, shell);
  }

  /** Commands read on the control plane: only refusals are reported (the link path submits). */
  explain(bytes: Uint8Array, shell: NodeShell, framed = true): void {
    this.check(bytes, shell, framed);
  }

  private check(bytes: Uint8Array, shell: NodeShell, framed = true): boolean {
    const r = intakeCommand(bytes, {
      unframed: !framed,
      fleet: this.o.fleet,
      now: () => Date.now(),
      checkTx: (b) => shell.edge.checkTx(b),
      committedAt: (k) => {
        const at = this.committed.get(k);
        if (at !== undefined) return { height: at, exact: true };
        return shell.core.chain.nonceSeen(k) ? { height: shell.core.chain.height, exact: false } : undefined;
      },
      liveCommands: () => shell.core.chain.liveCommands,
    });
    if (r.verdict === 'pass') return true;
    // Counted once per command (its bytes), apart from when it is explained again below.
    if (this.counted.first(bytes)) {
      this.o.metrics.commands.inc({ outcome: 'refused' });
      this.o.metrics.commandsRefused.inc({ reason: r.kind });
    }
    // The same bytes usually arrive on both paths (link and control plane): explain them once.
    const key = r.verdict === 'refused' ? `${r.operator}/${r.nonceHex} ${r.kind}` : r.reason;
    const now = Date.now();
    const last = this.explained.get(key);
    if (last !== undefined && now - last < explainAgainMs) return false;
    setNewest(this.explained, key, now, explainedMax);
    if (r.verdict === 'refused' && r.signed) {
      // A member's own command: its operator is told each time (each has a nonce of its own, signed).
      // A command already committed comes again whenever an operator's outbox resends what it did not
      // hear committed (every device, for every command committed while the broker was down): the ack
      // tells the operator, and at warn it buried the refusals that matter. Those stay warnings.
      const level = r.kind === 'replayed' ? 'info' : 'warn';
      this.o.log[level]({ event: 'command-refused', kind: r.kind, reason: r.reason }, 'command refused');
      this.ack({ command: `${r.operator}/${r.nonceHex}`, stage: 'refused', height: 0, reason: r.reason });
      return false;
    }
    // Anyone can publish these (a stranger's command, a forged one, another fleet's, unreadable bytes),
    // each with a fresh nonce: explained per claimed sender and kind, the first in full, then counted
    // (reportRefusals), and answered at a bounded rate. Before, a flood of 5,000 had every device log
    // 5,000 warnings and sign 5,000 acks. The first of each sender is answered while the device's
    // own budget lasts (a flood under many names can spend it), so an operator whose key is not in the
    // manifest hears why unless such a flood is going on.
    const sender = r.verdict === 'refused' ? r.operator : unreadableSender;
    const v = this.strangers.note(`${sender} ${r.kind}`, `${otherSenders} ${r.kind}`, { sender, kind: r.kind, reason: r.reason }, now);
    if (v.say === 'first') this.o.log.warn({ event: 'command-refused', kind: r.kind, reason: r.reason, from: sender }, 'command refused');
    else if (v.say === 'summary') this.logStrangers(v, now);
    if (!this.strangerAcks.take(sender, now)) {
      this.o.metrics.refusalAcksWithheld.inc();
      return false;
    }
    if (r.verdict === 'unreadable') this.o.control.refused(r.reason);
    else this.ack({ command: `${r.operator}/${r.nonceHex}`, stage: 'refused', height: 0, reason: r.reason });
    return false;
  }

  /** Logs the counts of refused commands nobody in the fleet signed whose minute is over (the device
   *  calls this every second or so). */
  reportRefusals(now: number = Date.now()): void {
    for (const s of this.strangers.due(now)) this.logStrangers(s, now);
  }

  private logStrangers(s: RepeatSummary<StrangerRefusal>, now: number): void {
    const { sender, kind, reason } = s.last;
    const from = s.keys > 1 ? `${s.keys} other senders` : sender === unreadableSender ? 'unreadable bytes on the commands topic' : `"${sender}"`;
    this.o.log.warn({ event: 'commands-refused', kind, from: s.keys > 1 ? otherSenders : sender, count: s.count, sinceMs: s.sinceMs, lastAtMs: s.lastAtMs, lastReason: reason }, `${s.count} more commands from ${from} refused (${kind}) ${summarySpan(s, now)}: ${reason}`);
  }

  onCommit(cb: CommittedBlock, shell: NodeShell): void {
    const ctx = { manifestAt: (h: number) => shell.core.chain.manifestAt(h), verifier: this.o.verifier, authority: this.o.manifest.body.authority };
    let mb = missionBlockOf(cb, ctx, this.o.fleet);
    // Committed attestations first through the hazard rule (f+1 distinct devices), then the mission
    // machine with the committed hazard set when it changed, so it re-plans (as fleet-sim's world does).
    const agentTxs = cb.txs.map((t) => agentTxOf(t.bytes)).filter((t): t is AgentTx => t !== null);
    let hazardEvents: HazardEvent[] = [];
    if (agentTxs.length > 0) {
      const m = ctx.manifestAt(cb.block.height).body;
      const power = m.validators.reduce((sum, v) => sum + v.power, 0);
      const devices = [...m.validators.map((v) => v.id), ...m.followers.map((x) => x.id)];
      const a = applyAgentBlock({ hazards: this.hazardState, degraded: {}, degradedReports: {}, estimates: {} }, { height: cb.block.height, f: Math.floor((power - 1) / 3), devices, txs: agentTxs });
      this.hazardState = a.state.hazards;
      const changed = a.events.filter((e): e is HazardEvent => e.type === 'hazard-committed' || e.type === 'hazard-cleared');
      hazardEvents = changed;
      if (changed.length > 0) {
        mb = { ...mb, hazards: { cellDm: hazardCellM * 10, cells: committedHazards(this.hazardState) } };
        if (!this.replaying) for (const e of changed) this.o.log.info({ event: e.type, cell: e.cell, attesters: e.attesters }, `${e.type === 'hazard-committed' ? 'hazard committed' : 'hazard cleared'} at cell ${e.cell.join(',')}`);
      }
    }
    const missionBefore = this.state.mission;
    const r = applyBlock(this.state, mb);
    this.state = r.state;
    // An accepted hazard.clear: the hazard rule's record too, so its sightings do not commit it again.
    for (const e of r.effects) {
      if (e.type !== 'hazard-clear') continue;
      const c = clearHazards(this.hazardState, cb.block.height, e.cells, e.operator, e.command);
      this.hazardState = c.state;
      hazardEvents.push(...c.events);
      if (!this.replaying) for (const x of c.events) this.o.log.info({ event: x.type, cell: x.cell, by: e.operator, command: e.command }, `hazard cleared at cell ${x.cell.join(',')} by ${e.operator}`);
    }
    for (const tx of mb.txs) {
      if (tx.kind !== 'command') continue;
      if (this.committed.size >= committedRefsMax) this.committed.delete(this.committed.keys().next().value as string);
      this.committed.set(tx.id, cb.block.height);
    }
    const blockHash = toHex(cb.hash);
    const fresh: DecisionJson[] = [];
    for (const e of r.effects) {
      if (e.type !== 'decision') continue;
      const d = e.decision;
      fresh.push({ height: d.height, index: d.index, command: d.id, operator: d.operator, type: d.type, outcome: d.outcome, reason: d.reason, blockHash });
    }
    // A drone lost from the mission, and who flies its part or that nobody does, is the machine's own
    // decision from the block: in the audit too, after the block's transactions (its index past them).
    let after = mb.txs.length;
    for (const e of r.effects) {
      if (e.type !== 'reassign') continue;
      fresh.push({ height: e.height, index: after++, command: e.mission, operator: 'swarm', type: 'reassign', outcome: 'accepted', reason: reassignText(e), blockHash });
    }
    // So is a hazard committed or cleared by the devices' attestations: `murmurctl log` shows who.
    for (const e of hazardEvents) fresh.push({ height: e.height, index: after++, command: `hazard/${e.cell.join(',')}`, operator: 'swarm', type: e.type === 'hazard-committed' ? 'hazard.committed' : 'hazard.cleared', outcome: 'accepted', reason: hazardText(e), blockHash });
    // A manifest the block committed, under the id of the fleet.update that named it (ChainState).
    // None for one no fleet.update named (an older release's block, replayed): older devices logged none.
    if (cb.txs.some((t) => t.kind === 'manifest')) for (const m of shell.core.chain.lastAppliedManifests) if (m.command !== '') fresh.push(manifestDecision(m, cb.block.height, after++, blockHash));
    this.decisions.push(...fresh);
    if (this.decisions.length > decisionsKept) this.decisions.splice(0, this.decisions.length - decisionsKept);
    if (this.replaying) return;
    this.executor.keepReturnAltitude(returnAltitudeDm(this.state, this.state.drones.findIndex((d) => d.id === this.o.id)) / 10);
    // The committed hazards' keep-outs go with the fence: worked out again only when the set changed.
    if (this.state.hazards !== this.zonesOf) {
      this.zonesOf = this.state.hazards;
      this.zones = keepOuts(this.state.hazards);
    }
    this.executor.keepFence(this.state.geofence, this.state.geofenceAltDmMax, this.zones);
    if (r.effects.some((e) => e.type === 'decision')) this.o.control.proof(cb.certificate.height, cb.proof);
    // Before the block's tasks run: a task under the mission's id for a drone whose part ended (a lost
    // drone's rtl) is not acked as that part (onExec).
    this.sayEnded(missionBefore, cb.block.height, mb.txs, r.effects, () => ctx.manifestAt(cb.block.height).body.validators.some((v) => v.id === this.o.id));
    for (const e of r.effects) {
      switch (e.type) {
        case 'decision': {
          const d = e.decision;
          this.o.metrics.commands.inc({ outcome: d.outcome });
          // The command's own tasks: a mission started in this block has its id, and so do the machine's
          // automatic tasks of it (a drone lost in the same block sent home: TaskOrigin).
          const assigned = r.effects.flatMap((x) => (x.type === 'task' && x.command === d.id && x.origin === 'operator' ? [x.node] : []));
          this.o.log.info({ event: 'decision', command: d.id, type: d.type, outcome: d.outcome, reason: d.reason, assigned }, `command ${d.outcome}`);
          this.ack({ command: d.id, stage: d.outcome, height: d.height, reason: d.reason, assigned, blockHash: cb.certificate.blockHash });
          break;
        }
        case 'task':
          if (e.node !== this.o.id) break;
          // A re-plan of a held mission goes to the route the executor holds; one that holds none
          // (restarted while held) must not start flying: the resume gives it its part.
          if (e.task.type === 'waypoints' && e.task.replan && this.state.mission?.id === e.task.mission && this.state.mission.status === 'held' && !this.executor.hasTask(e.task.mission)) break;
          // Just restarted, its resume waiting for the drone's position: a re-plan of the mission is
          // left to that resume (it builds the route from this state, from where the drone is; run now,
          // with no route held, it would fly the whole part again from its first waypoint). Any other
          // task for it replaces the resume.
          if (this.resumeTimer) {
            if (e.task.type === 'waypoints' && e.task.replan && this.state.mission?.id === e.task.mission) break;
            this.cancelResume();
          }
          this.runTask(e.command, e.task, 0, null, e.origin);
          // Restarted while the mission was held, the executor has no route to fly on: it takes its
          // part from the committed state, as after a restart during an active mission.
          // Not when the vehicle was taken meanwhile (adoptHold): the resume is not carried out there.
          if (e.task.type === 'resume' && !this.executor.hasTask(e.task.mission) && this.executor.handedOverBecause() === null) this.resumeOwnTask();
          break;
        case 'fleet-update':
          this.o.log.info({ event: 'fleet-update', epoch: e.epoch, earliestFromHeight: e.earliestFromHeight }, `submitting the manifest of epoch ${e.epoch} to consensus: in force two heights after the block that commits it (height ${e.earliestFromHeight} at the earliest)`);
          this.o.submit(e.manifest);
          break;
        case 'model-rollout': {
          // The agents read the committed rollout on their next tick and load what it assigns this device.
          const mine = assignedModel(this.state.models, e.rollout.model, this.o.id);
          const canary = e.rollout.canary?.nodes ?? [];
          this.o.log.info({ event: 'model-rollout', action: e.action, model: e.rollout.model, canary, assigned: mine ? `${mine.version} sha256:${mine.sha256}` : 'as shipped' }, `model rollout committed: ${e.action} ${e.rollout.model}`);
          break;
        }
        case 'replan':
          // The new routes arrive as task effects of the same block (this device flies its own above).
          this.o.log.info({ event: 'replan', mission: e.mission, nodes: e.nodes, keepOuts: e.keepOuts }, `committed hazards re-routed ${e.nodes.length} drones around ${e.keepOuts} keep-out zones`);
          break;
        case 'reassign':
          this.o.log.warn({ event: 'reassign', mission: e.mission, from: e.from, cause: e.cause, to: e.to, waypoints: e.waypoints }, reassignText(e));
          break;
        case 'param':
        case 'geofence':
          this.o.log.info({ event: e.type, detail: e }, `${e.type} committed`);
          break;
      }
    }
    if (fresh.length > 0) this.o.control.log(this.decisions, fresh);
  }

  /**
   * The parts of `before` (the mission before the block at `height`) that the block ended unflown
   * (endedParts), said in acks of the mission command: this device's own part as failed, with the
   * reason and the progress it made; and, from a validator, each ended part (its own too) as `ended`,
   * which murmurctl believes once validators holding more power than the faulty ones may hold say the
   * same, so a silent drone's part is accounted for too. Before, no device said anything of such a
   * part, and `murmurctl send --wait executed` waited for it until --timeout (exit 4). `isValidator`:
   * whether this device is one under the manifest in force at `height`.
   */
  private sayEnded(before: ActiveMission | null, height: number, txs: MissionBlock['txs'], effects: readonly MissionEffect[], isValidator: () => boolean): void {
    if (before === null) return;
    const ended = endedParts(before, this.state.mission, height, txs, effects);
    const validator = ended.length > 0 && isValidator();
    for (const p of ended) {
      if (p.node === this.o.id) {
        const progress = this.keepProgress(before.id, p.progress);
        if (this.partEnded.size >= progressKeptMax) this.partEnded.delete(this.partEnded.values().next().value as string);
        this.partEnded.add(before.id);
        this.o.log.info({ event: 'part-ended', mission: before.id, reason: p.reason, progress }, `its part of mission ${before.id} ended: ${p.reason}`);
        // A part handed on to another drone is not failed: the validators' `ended` acks say who flies
        // it (murmurctl then waits for that drone). Acked `failed` here, it reached murmurctl before them
        // and ended the wait (exit 1) while the other drone flew the part.
        if (p.to === null) this.ack({ command: before.id, stage: 'failed', height, reason: p.reason, progress });
      }
      if (validator) this.ack({ command: before.id, stage: 'ended', height, reason: p.reason, progress: p.progress, assigned: p.to !== null ? [p.node, p.to] : [p.node] });
    }
  }

  /** The progress of `command` this device says: the most it said before, or `progress` if more. */
  private keepProgress(command: string, progress: number): number {
    const kept = Math.max(this.progressOf.get(command) ?? 0, progress);
    setNewest(this.progressOf, command, kept, progressKeptMax);
    return kept;
  }

  /**
   * Why a device's report (telemetry, or a hazard attestation) can change nothing the fleet has
   * committed, read from its body before its signature is checked, or null when it may. Telemetry not
   * after the drone's last committed report (by session, then seq) and a hazard word the rule would never
   * count again (hazardWordSuperseded) stay so for good: the edge drops them, so a replay by anyone on the
   * broker takes no place in the mempool or a block. Before, replayed copies were committed again (the
   * machines ignored them), and a stream of them filled the device's share of the mempool, so its new
   * reports were refused while they waited (NodeShell's Application.superseded).
   */
  superseded(kind: 'attestation' | 'telemetry', sender: string, body: Uint8Array, nextHeight: number): string | null {
    const d = decodeCbor(body, kinds[kind].bodyBytesMax);
    if (!d.ok) return null; // the edge's own checks say what is wrong with it
    if (kind === 'telemetry') {
      const t = parseWith('telemetry', d.value, parseTelemetryBody);
      if (!t.ok || t.value.node !== sender) return null;
      const sent = { session: t.value.session, seq: t.value.seq };
      return isNewReport(this.state, { node: sender, sent }) ? null : `telemetry of ${sender} (session ${sent.session}, seq ${sent.seq}) is not after its last committed report`;
    }
    const a = parseWith('attestation', d.value, parseAttestationBody);
    const why = a.ok && a.value.obs.type === 'hazard' ? hazardWordSuperseded(this.hazardState, sender, a.value, nextHeight) : null;
    return why === null || !a.ok || a.value.obs.type !== 'hazard' ? null : `hazard word of ${sender} about cell ${a.value.obs.cell.join(',')} can no longer count: ${why}`;
  }

  /**
   * The application state for snapshots: the mission state and the newest decisions (the log the
   * device publishes). The command refs for replay answers are not part of it: after a restore,
   * intake falls back to the chain's committed nonces, which cover every command that is not expired.
   */
  exportState(): Uint8Array {
    return encodeMissionSnapshot({ mission: this.state, decisions: this.decisions, hazardRule: this.hazardState });
  }

  importState(bytes: Uint8Array): Result<void> {
    const d = decodeMissionSnapshot(bytes);
    if (!d.ok) return d;
    this.state = d.value.mission;
    this.hazardState = d.value.hazardRule;
    this.decisions.length = 0;
    this.decisions.push(...d.value.decisions.slice(-decisionsKept));
    this.committed.clear();
    if (!this.replaying) {
      // State sync while running: publish the log it brought and fly this device's part, if any.
      this.o.control.log(this.decisions);
      this.resumeOwnTask();
    }
    return ok(undefined);
  }

  /** `base`: the planned waypoint a waypoints task's route starts at (resumeOwnTask), 0 for a task
   *  from the committed effects (its whole part). `restart`: a restart's resume of a part the drone
   *  flew for before (Executor.run). `origin`: who decided it (TaskOrigin; Executor.run). */
  private runTask(command: string, task: Task, base = 0, restart: RestartResume | null = null, origin: TaskOrigin = 'automatic'): void {
    this.o.log.info({ event: 'task', command, task: task.type, origin }, `executing ${task.type}`);
    setNewest(this.taskHeights, command, this.state.height, progressKeptMax);
    if (task.type === 'waypoints') {
      this.routeBase = base;
      const m = this.state.mission;
      this.routePart = { waypoints: task.waypoints, planned: m?.id === task.mission ? (m.assignments.find((a) => a.node === this.o.id)?.waypoints.length ?? 0) : 0 };
    }
    this.executor.run(command, task, restart, origin);
  }

  /** After a restart, fly on with this device's part of a mission still active in the committed state.
   *  `waitedMs`: how long it has waited for the drone's position (below). */
  resumeOwnTask(waitedMs = 0): void {
    this.cancelResume();
    const m = this.state.mission;
    const mine = m?.assignments.find((a) => a.node === this.o.id);
    if (!m || !mine) {
      // Not in the mission, and the committed state says it was told to return or land (an rtl, land
      // or abort, or lost from the mission, at a height a state sync skipped): it does so now, rather
      // than hover where its flight controller held it while the device was behind.
      const me = this.state.drones.find((d) => d.id === this.o.id);
      if (!me || (me.activity !== 'returning' && me.activity !== 'landing')) return;
      // Once the flight controller is heard (the resume's wait below): whose return the vehicle flies
      // (this device's own from before the restart: Executor.carryOut lets it go on; someone else's)
      // is asked of its mode. Before, a device restarted on a MAVLink FC sent the return before the FC's
      // first HEARTBEAT, which the driver refused ("no HEARTBEAT from the flight controller yet").
      if (this.o.hal.devices.flight && !flightKnown(this.o.hal.devices.flight.state()) && waitedMs < resumePositionWaitMs) return this.resumeLater(waitedMs);
      this.executor.carryOut(me.activity === 'returning' ? 'rtl' : 'land');
      return;
    }
    if ((m.status !== 'active' && m.status !== 'held') || m.done.includes(this.o.id)) return;
    // A state sync while the executor flies this mission: carry on from where it is (as a re-plan
    // does). Otherwise (restarted) from its committed progress, not from the first waypoint: the leg
    // it was on is flown again from its start unless it is still airborne on it (progress.ts). The
    // way to that point is a transit leg (take off or climb to the transit altitude, come down there).
    const carrying = this.executor.hasTask(m.id);
    // Handed over from its part of this mission with no route of it held (a pilot landed it under the
    // hold before a restart: adoptHold), a state sync of the mission is no new task for this drone: it
    // stays where it is. Before, the sync's resume armed it and took it off again.
    if (!carrying && this.executor.handedOverFor(m.id)) {
      this.o.log.info({ event: 'resume', mission: m.id, handedOver: true }, `mission ${m.id} is not flown on: ${this.executor.handedOverBecause() ?? ''}`);
      return;
    }
    const here = this.executor.position();
    const fs = this.o.hal.devices.flight?.state();
    const fsv = fs?.ok ? fs.value : null;
    if (!carrying && this.o.hal.devices.flight && (here === null || !this.executor.heightKnown() || !flightKnown(fs)) && waitedMs < resumePositionWaitMs) {
      // Just started: a flight controller's telemetry (MAVLink) is not in yet, and where the drone is,
      // and how high, decides where its route resumes (still airborne on a leg: from there, not from the
      // leg's start).
      return this.resumeLater(waitedMs);
    }
    const progress = mine.waypoints.length === 0 ? 0 : Math.floor(((mine.flown ?? 0) * 1000) / mine.waypoints.length);
    if (m.status === 'held') {
      // Restarted while the swarm holds the mission: nothing to fly until its resume, but the hold this
      // device sent before is watched again (a pilot taking the drone meanwhile keeps it).
      if (!carrying) this.o.log.info({ event: 'resume', mission: m.id, held: true }, `mission ${m.id} is held: ${this.executor.adoptHold(m.id, progress, this.flewBefore(m, mine))}`);
      return;
    }
    const airborne = fsv !== null && (fsv.landed === 'in-air' || fsv.landed === 'landing' || (fsv.landed === 'unknown' && fsv.armed));
    if (!carrying && fsv !== null && airborne && (fsv.mode === 'return' || fsv.mode === 'land')) {
      // Returning or landing when this device started: the flight controller's own failsafe, a pilot's
      // switch, or a failsafe of this device before the restart (a reflex latched it, and re-asserts
      // it). Resumed, the mission would override the FC's return. Handed over (Executor.adoptReturn),
      // as when the FC's failsafe takes the drone while the device flies it: the task fails, and only
      // an operator's command for this drone takes it back (before, the resume was only skipped, and
      // the mission's hold and resume then took the drone out of the FC's return with a goto).
      // Unless its data directory says this device put it there, and it flies that still: its own
      // return goes on, not handed over (adoptReturn says why).
      const reason = this.executor.adoptReturn(m.id, progress);
      const handedOver = this.executor.handedOverBecause() !== null;
      this.o.log.info({ event: 'resume', mission: m.id, skipped: fsv.mode, handedOver, ...(handedOver ? {} : { ownReturn: true }) }, `mission ${m.id} not resumed after a restart: ${reason}`);
      return;
    }
    // Its height not known (the FC's estimator says so, and stayed so through the wait above): airborne
    // by its flight state, not by a number the FC does not vouch for.
    const at = here ? { pos: { n: Math.round(here.northM * 10), e: Math.round(here.eastM * 10) }, airborne: here.upM === null ? airborne : here.upM > 2 } : null;
    const start = carrying ? 0 : resumeStart(mine.waypoints, mine.flown ?? 0, at);
    if (start > 0) this.o.log.info({ event: 'resume', mission: m.id, from: start, of: mine.waypoints.length }, `resuming mission ${m.id} from waypoint ${start + 1} of ${mine.waypoints.length} (committed progress ${mine.flown ?? 0})`);
    // Restarted (no route of the mission held) after the drone flew for it: found on the ground when the
    // executor would take it off (with the flight controller heard late too, after this wait), someone
    // or something landed it while the device was down (an FC left flying holds its last goto). It is
    // handed over and its task fails, as under the mission's hold (adoptHold), rather than taken off
    // again. Never flown for it (restarted before its take-off), the task's take-off is its own. In the
    // air it carries on along its leg.
    const flew = carrying ? null : this.flewBefore(m, mine);
    if (flew !== null) this.o.log.info({ event: 'resume', mission: m.id, flewBefore: flew }, `resuming mission ${m.id} after a restart: it flew for it before (${flew}): if it is on the ground, it is handed over, not taken off again`);
    // The assignment keeps the allocator's plan (and parts taken over from lost drones); the route flown
    // goes round the committed hazards inside the fence, as the committed tasks did (reassign.ts).
    // A restart's or state sync's resume is the device's own, not an operator's (TaskOrigin).
    this.runTask(m.id, assignmentTask(this.state, m, mine, start, carrying), start, flew === null ? null : { why: flew, progress }, 'automatic');
  }

  /** resumeOwnTask asked again shortly, having waited `waitedMs` for the flight controller; a task the
   *  swarm commits meanwhile replaces this (onCommit). */
  private resumeLater(waitedMs: number): void {
    this.resumeTimer = setTimeout(() => {
      this.resumeTimer = null;
      this.resumeOwnTask(waitedMs + resumePollMs);
    }, resumePollMs);
  }

  /** This device's progress on its part of the committed mission, for its telemetry: how many of the
   *  assignment's planned waypoints it has passed; null when it flies none, or has flown it all. */
  missionProgress(): { mission: string; flown: number } | null {
    const m = this.state.mission;
    const r = this.executor.route();
    if (!m || !r || r.mission !== m.id) return null;
    // Flown to its end: "completed", unless its part grew and that would not count yet (progress.ts).
    if (r.next >= r.waypoints.length) return finishedProgress(m, this.o.id, this.routePart?.waypoints === r.waypoints ? this.routePart.planned : 0);
    const mine = m.assignments.find((a) => a.node === this.o.id);
    if (!mine) return null;
    return { mission: m.id, flown: this.routeBase + plannedPassed(mine.waypoints.slice(this.routeBase), r.waypoints, r.next) };
  }

  private onExec(r: ExecReport): void {
    if (this.partEnded.has(r.command) && r.stage !== 'failed') {
      // Its part ended and was acked so (sayEnded): what the executor does under the mission's id now
      // (the rtl of a drone lost from it) is not its part going on, nor done. A failure of it is still
      // said (an automatic rtl not carried out: a pilot has the vehicle).
      this.o.log.info({ event: 'exec-report', command: r.command, stage: r.stage, reason: r.reason }, `task ${r.command}: ${r.stage}${r.reason ? ` (${r.reason})` : ''}, after its part of the mission ended: not acked`);
      return;
    }
    const progress = this.keepProgress(r.command, r.stage === 'done' ? 1000 : r.progress);
    // The height of the block whose task it flies: the command's commit, or a later block that grew its
    // part (a lost drone's lanes handed to it). A `done` of its route from before is then told apart from
    // the grown part's (murmurctl waits for one at or past the height that handed the part on).
    const height = Math.max(this.committed.get(r.command) ?? 0, this.taskHeights.get(r.command) ?? 0);
    this.ack({ command: r.command, stage: r.stage, height, reason: r.reason, progress });
  }

  private ack(a: { command: string; stage: AckStage; height: number; reason: string; progress?: number; assigned?: string[]; blockHash?: Uint8Array }): void {
    this.o.control.ack({
      command: a.command,
      node: this.o.id,
      stage: a.stage,
      height: a.height,
      reason: a.reason,
      progress: a.progress ?? 0,
      assigned: a.assigned ?? [],
      blockHash: a.blockHash ?? null,
    });
  }

  /** Where the drone is (Executor.position); upM null while its flight controller says its height is not known. */
  positionM(): { northM: number; eastM: number; upM: number | null } | null {
    return this.executor.position();
  }

  homeM(): Point | null {
    return this.executor.home();
  }

  batteryPermille(): number {
    return this.executor.batteryPermille();
  }

  completed(): string {
    return this.executor.completed;
  }

  /** Hazard cells the swarm committed (the hazard rule's, newest last), at most `max`, with their centres
   *  in metres from the origin. */
  committedHazards(max: number): NonNullable<StatusJson['hazards']> {
    const out: { cell: readonly [number, number]; northM: number; eastM: number; committedAt: number; attesters: string[] }[] = [];
    for (const r of Object.values(this.hazardState.cells)) {
      if (r.committedAt === null) continue;
      const [northM, eastM] = cellCentre(r.cell);
      // Who committed it (kept in the record): not who has a live "present" word about it now, which
      // changes with every denial and sighting and is empty 120 heights on.
      out.push({ cell: r.cell, northM, eastM, committedAt: r.committedAt, attesters: [...(r.committedBy ?? [])] });
    }
    out.sort((a, b) => a.committedAt - b.committedAt || a.cell[0] - b.cell[0] || a.cell[1] - b.cell[1]);
    return out.slice(-max);
  }

  /** A local failsafe's return to launch (a reflex): home round the committed keep-outs, as a
   *  committed rtl goes (Executor.returnHome). */
  returnHome(why: string): void {
    this.executor.returnHome(why);
  }

  /** A reflex's hold or velocity, straight to the flight controller (Executor.reflexAction). */
  reflexAction(action: FlightAction): void {
    this.executor.reflexAction(action);
  }

  /** A local failsafe's landing (a reflex): where the drone is (Executor.landHere). */
  landHere(why: string): void {
    this.executor.landHere(why);
  }

  /** The obstacle back-off found an obstacle in the drone's way: its routing keeps clear of it
   *  (Executor.sawObstacle). */
  sawObstacle(at: { readonly northM: number; readonly eastM: number; readonly beamRad: number }): void {
    this.executor.sawObstacle(at.northM, at.eastM, at.beamRad);
  }

  /** A reflex's hold is over: the executor flies on with its task (unless a committed hold paused it). */
  resumeAfterReflex(): void {
    this.executor.resumeAfterReflex();
  }

  /** The mission this device's vehicle was handed over from, for its telemetry, while the committed
   *  mission still holds an unfinished part of this drone's, or null: none, the part finished before
   *  (a pilot taking the drone on its way home leaves no part to hand on), or the swarm took the drone
   *  out of the mission already (handed on, an operator's rtl, another mission): nothing to say then. */
  handedOverFrom(): string | null {
    const from = this.executor.handedOverFrom();
    const m = this.state.mission;
    if (from === null || from === this.executor.completed || !m || m.id !== from) return null;
    return m.assignments.some((a) => a.node === this.o.id) && !m.done.includes(this.o.id) ? from : null;
  }

  /**
   * The number the telemetry's sixth element carries while the flight controller says the height is
   * not known (the eleventh element, heightUnknown, says so): the last height this device knew
   * (Executor.heldUpM), else, restarted since, the one its last committed report carried, else 0.
   * Why held, not 0: the committed state stores this number, as every version reads it (a node of a
   * version before the eleventh element reads only it, so what is committed must not depend on that
   * element: ARCHITECTURE.md, "Wire format evolution"), and every reader takes it for the drone's
   * height. A held number was true when the FC last vouched for it, and is near what a version before
   * the eleventh element sent in the same case (the FC's relative_alt, held, or drifting, from the loss). 0 would put a drone
   * still in the air on the ground: flewBefore, a restart's evidence that the drone flew for the
   * mission, would lose "its last committed report had it N m up", and a drone a pilot or its FC's
   * failsafe landed while the device was down could be taken off again. The price: a drone that lands
   * while its height is not known stays committed at the held height until it is known again, which
   * errs the safe way there (taken for having flown: handed over, not flown).
   */
  private heldAltDm(): number {
    const up = this.executor.heldUpM();
    if (up !== null) return Math.round(up * 10);
    return this.state.drones.find((d) => d.id === this.o.id)?.altDm ?? 0;
  }

  /** What this device's next telemetry report says (device.ts signs it when the gate lets it:
   *  telemetry-gate.ts), or null with no position yet. Integers in the fleet's frame. */
  telemetryFacts(): TelemetryFacts | null {
    const pos = this.positionM();
    if (!pos) return null;
    const progress = this.missionProgress();
    const handedOver = this.handedOverFrom();
    return {
      northDm: Math.round(pos.northM * 10),
      eastDm: Math.round(pos.eastM * 10),
      ...(pos.upM !== null ? { altDm: Math.round(pos.upM * 10) } : { altDm: this.heldAltDm(), heightUnknown: true as const }),
      batteryPermille: this.batteryPermille(),
      // While it flies a part of the mission it reports how far (what a restart resumes from); the
      // mission it finished before is old news then, and both would not fit telemetryBytesMax.
      // Handed over from a part (a pilot or the FC's failsafe has the vehicle, or a restart left it on
      // the ground), it says so instead: its progress stands still, and the mission machine may hand
      // the part on (runtime/mission/reassign.ts, reassignHandedOver).
      ...(handedOver !== null ? { completed: '', handedOver } : progress ? { completed: '', progress } : { completed: this.completed() }),
    };
  }

  /** Why the vehicle is out of this device's hands until an operator's command for it (Executor.handedOverBecause), or null. */
  handedOver(): string | null {
    return this.executor.handedOverBecause();
  }

  missionSummary(): StatusJson['mission'] {
    const m = this.state.mission;
    if (!m) return null;
    // Of the mission, whatever command this device acked last (a hold's own ack said 0% before), and at
    // least what its committed telemetry says it flew (a restart remembers no ack).
    const mine = m.assignments.find((a) => a.node === this.o.id);
    const committed = mine && mine.waypoints.length > 0 ? Math.floor(((mine.flown ?? 0) * 1000) / mine.waypoints.length) : 0;
    const p = m.done.includes(this.o.id) ? 1000 : Math.max(this.progressOf.get(m.id) ?? 0, committed);
    return { id: m.id, status: m.status, progressPct: Math.floor(p / 10) };
  }

  stop(): void {
    this.cancelResume();
    this.executor.stop();
  }

  /** Drops a resume waiting for the drone's position (resumeOwnTask), if one is. */
  private cancelResume(): void {
    if (this.resumeTimer) clearTimeout(this.resumeTimer);
    this.resumeTimer = null;
  }
}
