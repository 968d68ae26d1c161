// Runs a device's agents: each on its period, with only its declared inputs, within its CPU budget.
// An agent that throws, fails to start or keeps overrunning is stopped, reported and restarted with
// exponential backoff from its last good state; nothing an agent does can stop the node.
// Local actions go straight to the HAL, the reflexes' before the other agents are awaited (highest
// priority wins within a pass, but an avoidance move goes before a land or return-to-launch; those
// latch); attestations go to the sink that signs and proposes them.

import type { FlightAction } from '../../hal/devices.js';
import { assert } from '../../runtime/lib/assert.js';
import { limits } from '../../runtime/lib/limits.js';
import type { AttestationBody } from '../../runtime/wire/attestation.js';
import type { EngineKind } from '../inference/engine.js';
import { actionPriority, type Agent, type AgentInputs, type AgentOutput } from './agent.js';
import type { StateStore } from './state-store.js';
import { metered, type TickMeter } from './tick-meter.js';

export type AgentStatusName = 'starting' | 'running' | 'backoff' | 'stopped';

export interface AgentStatus {
  readonly name: string;
  readonly status: AgentStatusName;
  readonly engine: EngineKind | 'none';
  readonly model: string | null;
  readonly modelRefused: string | null;
  /** Why better engines were passed over (onnxruntime missing, unsupported operator, ...). */
  readonly engineReasons: readonly string[];
  readonly ticks: number;
  readonly restarts: number;
  readonly overruns: number;
  readonly lastTickMs: number;
  readonly lastError: string | null;
  /** When a backing-off agent is restarted (node clock). */
  readonly restartAtMs: number | null;
}

export type ReportKind = 'started' | 'crashed' | 'start-failed' | 'overrun' | 'restarting' | 'state-reset' | 'state-too-large' | 'state-not-saved' | 'outputs-dropped' | 'action-suppressed' | 'action-deferred' | 'model-refused' | 'model-loaded' | 'latch-cleared' | 'stopped';

export interface AgentReport {
  readonly atMs: number;
  readonly agent: string;
  readonly kind: ReportKind;
  readonly message: string;
}

export interface SchedulerPorts {
  readonly store: StateStore;
  /** Executes a flight action through the HAL; errors are reported, never thrown into the scheduler. */
  readonly act: (action: FlightAction, agent: string, reason: string) => void | Promise<unknown>;
  /** A hold an agent asked for is over: the device resumes what it was doing (unset: nothing to resume). */
  readonly release?: (agent: string, reason: string) => void;
  /** An obstacle an agent's range sensor hit in the drone's way (unset: no routing to tell). */
  readonly obstacle?: (agent: string, at: { readonly northM: number; readonly eastM: number; readonly beamRad: number }) => void;
  /** Signs and proposes an attestation (see attest-sink.ts). */
  readonly attest: (body: AttestationBody) => void;
  /** A monotonic clock for a tick's work (performance.now on a device, less the waiting the tick
   *  meter subtracts, see tick-meter.ts; scripted in tests and the simulators). */
  readonly cpuClock: () => number;
  readonly onReport?: (r: AgentReport) => void;
  /**
   * On a device: an asynchronous tick that has not settled after this many ms counts as a crash, and a
   * start() as a failed start (a stop() is given up on), so a hung await cannot stall the other
   * agents. Unset in the simulator, where ticks settle at once.
   */
  readonly tickTimeoutMs?: number;
}

export interface SchedulerOptions {
  readonly backoffBaseMs: number;
  readonly backoffMaxMs: number;
  /** Consecutive overruns that count as a failure. */
  readonly overrunsToRestart: number;
  /** Consecutive failures after which the persisted state is discarded (it may be what crashes). */
  readonly failuresToResetState: number;
  /** An agent that runs this long without failing has its backoff reset. */
  readonly healthyResetMs: number;
}

export const defaultSchedulerOptions: SchedulerOptions = { backoffBaseMs: 500, backoffMaxMs: 30_000, overrunsToRestart: 3, failuresToResetState: 3, healthyResetMs: 60_000 };

interface Slot {
  readonly agent: Agent;
  status: AgentStatusName;
  state: unknown;
  nextTickMs: number;
  ticks: number;
  restarts: number;
  overruns: number;
  consecutiveOverruns: number;
  failures: number;
  lastFailureMs: number;
  lastTickMs: number;
  lastError: string | null;
  restartAtMs: number | null;
  /** The model the committed rollout assigned this agent when it last failed (JSON; see assignment). */
  assignmentAtFailure: string;
  /** The last model that ran (kept across the rules), so each switch is reported once. */
  lastModel: string | null;
  /** Engine, model and refusal as last seen: each new refusal is reported once, and status shows
   *  them while the agent waits to restart (a stopped agent has released its model). */
  seen: ModelView;
  /** IMU samples that arrived since the agent's last tick; bounded, oldest dropped. */
  pendingImu: NonNullable<AgentInputs['imu']>[number][];
  /** The state last written to the store and when; a newer one waiting for its turn (see persist). */
  savedJson: string | null;
  savedAtMs: number;
  unsavedJson: string | null;
  /** Why the store last failed to write this agent's state (reported once per new reason), or null. */
  saveError: string | null;
}

const streamBacklogMax = 1_024;

/** An action an agent asked for in this pass (`again`: the latched failsafe, sent after an avoidance
 *  move that passed it or went before it). */
interface Proposed {
  readonly action: FlightAction;
  readonly agent: string;
  readonly reason: string;
  readonly avoidance: boolean;
  readonly again: boolean;
}

/** What one pass has sent to the HAL so far (its reflex half first). */
interface Sent {
  priority: number;
  from?: string;
  type?: FlightAction['type'];
  reason?: string;
  avoidance?: boolean;
}

const isFailsafe = (t: FlightAction['type']): boolean => t === 'land' || t === 'return-to-launch';

type ModelView = Pick<AgentStatus, 'engine' | 'model' | 'modelRefused'>;

/** What an agent runs right now, as status shows it. */
function modelView(agent: Agent): ModelView {
  const m = agent.model?.();
  return { engine: agent.engine?.() ?? 'none', model: m ? `${m.name}@${m.version}` : null, modelRefused: agent.modelRefusal?.() ?? null };
}

const message = (e: unknown): string => (e instanceof Error ? e.message : String(e));

export class AgentScheduler {
  private readonly slots: Slot[] = [];
  private readonly reports: AgentReport[] = [];
  private readonly opts: SchedulerOptions;
  /** The latched failsafe (land or return-to-launch): lower-priority actions are suppressed until cleared,
   *  but for a collision avoidance move (`avoidance`). */
  private latched: FlightAction | null = null;
  /** The agent whose avoidance move passed the latched failsafe (or went before it), and when it sent
   *  its last one: its release sends the failsafe, and so does its silence for limits.avoidanceLapseMs
   *  (an agent that crashed or lost its sensor mid-move may never release). */
  private avoiding: { readonly agent: string; lastMs: number } | null = null;
  /** The latched failsafe as its agent asked for it, not sent yet: it fired in the pass of an avoidance
   *  move, which went first. Sent, by that agent and with its reason, when the avoidance is over. */
  private deferred: Proposed | null = null;
  /** Set by stop(): a tick in flight that fails from then on fails because the device is stopping. */
  private stopping = false;
  private basis = 0;
  /** The committed view of the latest tick, handed to an agent that (re)starts. */
  private committed: AgentInputs['committed'];

  constructor(
    private readonly ports: SchedulerPorts,
    opts: Partial<SchedulerOptions> = {},
  ) {
    this.opts = { ...defaultSchedulerOptions, ...opts };
  }

  add<S>(typed: Agent<S>): void {
    // Each agent's state type is its own business; the scheduler only stores and persists it.
    const agent = typed as unknown as Agent;
    assert(this.slots.length < limits.agentsMax, `at most ${limits.agentsMax} agents per device`);
    assert(!this.slots.some((s) => s.agent.name === agent.name), `agent ${agent.name} is already registered`);
    assert(agent.periodMs > 0 && agent.budgetMs > 0, `agent ${agent.name}: periodMs and budgetMs must be positive`);
    this.slots.push({ agent, status: 'stopped', state: undefined, nextTickMs: 0, ticks: 0, restarts: 0, overruns: 0, consecutiveOverruns: 0, failures: 0, lastFailureMs: 0, lastTickMs: 0, lastError: null, restartAtMs: null, assignmentAtFailure: '', lastModel: null, seen: { engine: 'none', model: null, modelRefused: null }, pendingImu: [], savedJson: null, savedAtMs: -Infinity, unsavedJson: null, saveError: null });
    // Fixed order (by name) so a simulated run never depends on registration order.
    this.slots.sort((a, b) => (a.agent.name < b.agent.name ? -1 : 1));
  }

  private report(atMs: number, agent: string, kind: ReportKind, msg: string): void {
    const r = { atMs, agent, kind, message: msg };
    if (this.reports.length >= limits.agentReportsMax) this.reports.shift(); // overflow: oldest dropped
    this.reports.push(r);
    this.ports.onReport?.(r);
  }

  async start(nowMs: number): Promise<void> {
    this.stopping = false;
    for (const s of this.slots) await this.startSlot(s, nowMs);
  }

  private async startSlot(s: Slot, nowMs: number): Promise<void> {
    s.status = 'starting';
    let restored: unknown;
    try {
      restored = this.ports.store.load(s.agent.name) ?? undefined;
    } catch {
      restored = undefined;
    }
    try {
      // Bounded like a tick: a restart awaits what may have hung the tick (the inference worker
      // releasing the old session), and the scheduler, reflexes included, must not wait on it.
      s.state = await this.withTimeout(s.agent.start({ nowMs, restored, ...(this.committed ? { committed: this.committed } : {}) }), s.agent.name, 'start');
      s.status = 'running';
      s.restartAtMs = null;
      s.nextTickMs = nowMs;
      this.report(nowMs, s.agent.name, 'started', `engine ${s.agent.engine?.() ?? 'none'}${restored === undefined ? '' : ', state restored'}`);
      this.noteModel(s, nowMs);
    } catch (e) {
      this.fail(s, nowMs, 'start-failed', message(e));
    }
  }

  private fail(s: Slot, nowMs: number, kind: ReportKind, why: string): void {
    if (nowMs - s.lastFailureMs > this.opts.healthyResetMs) s.failures = 0;
    s.failures++;
    s.lastFailureMs = nowMs;
    s.lastError = why;
    s.assignmentAtFailure = this.assignment(s);
    s.consecutiveOverruns = 0;
    const delay = Math.min(this.opts.backoffMaxMs, this.opts.backoffBaseMs * 2 ** (s.failures - 1));
    s.status = 'backoff';
    s.restartAtMs = nowMs + delay;
    this.report(nowMs, s.agent.name, kind, why);
    this.report(nowMs, s.agent.name, 'restarting', `restart in ${delay} ms (failure ${s.failures})`);
    try {
      void Promise.resolve(s.agent.stop?.()).catch(() => undefined);
    } catch {
      // a stop() that throws changes nothing: the agent is already out of service
    }
    // The restart resumes from the last good state: the one still waiting for its turn is written now.
    if (s.unsavedJson !== null) this.write(s, s.unsavedJson, nowMs);
    if (s.failures >= this.opts.failuresToResetState) {
      s.savedJson = null;
      s.unsavedJson = null;
      this.storeOp(s, nowMs, () => this.ports.store.remove(s.agent.name));
      this.report(nowMs, s.agent.name, 'state-reset', `persisted state discarded after ${s.failures} consecutive failures`);
    }
  }

  /** Runs every agent that is due at `inputs.nowMs`, restarts those whose backoff has passed: the
   *  reflex agents first, their actions sent at once, then the others. */
  async tick(inputs: AgentInputs): Promise<void> {
    const p = this.pass(inputs, true);
    await p.reflexes;
    await p.others;
  }

  /**
   * One pass in two halves. The reflex agents (`reflex: true`: rules only, synchronous) tick first and
   * their actions go to the HAL at once; the other agents, whose ticks await inference, tick after
   * them, and only when `others` is true. A device passes false while the previous pass's other half
   * is still running (inference slow or stuck), so its reflexes keep running and acting meanwhile: a
   * pass used to be skipped whole, and a reflex's action waited for every agent of its pass.
   * `others` settles after `reflexes`; neither rejects on an agent's account.
   */
  pass(inputs: AgentInputs, others: boolean): { reflexes: Promise<void>; others: Promise<void> } {
    const now = inputs.nowMs;
    if (this.stopping) return { reflexes: Promise.resolve(), others: Promise.resolve() };
    if (inputs.committed) {
      this.basis = inputs.committed.height;
      this.committed = inputs.committed;
    }
    // A disarmed vehicle has ended its flight: the latched landing or return ran its course (or an
    // operator disarmed it), and the next flight must not start with its reflexes suppressed.
    if (this.latched && inputs.flight && !inputs.flight.armed) {
      this.report(now, 'scheduler', 'latch-cleared', `${this.latched.type} no longer latched: the vehicle is disarmed`);
      this.clearLatch();
    }
    // Streams accumulate between an agent's ticks, so a slow agent (or one whose half of the pass was
    // not run) still sees every sample.
    for (const s of this.slots) if (inputs.imu && s.agent.inputs.includes('imu')) s.pendingImu = [...s.pendingImu, ...inputs.imu].slice(-streamBacklogMax);
    const sent: Sent = { priority: -1 };
    const reflexes = this.half(inputs, true, sent);
    return { reflexes, others: others ? reflexes.then(() => this.half(inputs, false, sent)) : reflexes };
  }

  private async half(inputs: AgentInputs, reflexes: boolean, sent: Sent): Promise<void> {
    const now = inputs.nowMs;
    const actions: Proposed[] = [];
    for (const s of this.slots) {
      if (this.stopping) return;
      if ((s.agent.reflex === true) !== reflexes) continue;
      // The node clock stepped back (NTP, an RTC that was ahead): what was due at the old time is due
      // now. Left alone, every agent, reflexes included, would wait until the clock caught up.
      if (s.nextTickMs - now > s.agent.periodMs) s.nextTickMs = now;
      if (s.restartAtMs !== null && s.restartAtMs - now > this.opts.backoffMaxMs) s.restartAtMs = now;
      // A new committed model assignment (a rollback, a fix) restarts a backing-off agent at once: the
      // model may be what failed, and waiting out a 30 s backoff left its hazard detection off for it.
      if (s.status === 'backoff' && s.restartAtMs !== null && (now >= s.restartAtMs || this.assignment(s) !== s.assignmentAtFailure)) {
        s.restarts++;
        await this.startSlot(s, now);
      }
      if (s.status !== 'running' || now < s.nextTickMs) continue;
      s.nextTickMs = Math.max(s.nextTickMs + s.agent.periodMs, now); // no catch-up bursts after a stall
      const view = this.inputsFor(s, inputs);
      const meter: TickMeter = { waitedMs: 0 };
      const t0 = this.ports.cpuClock();
      let result;
      try {
        result = await this.withTimeout(metered(meter, () => s.agent.tick(s.state, view)), s.agent.name, 'tick');
      } catch (e) {
        // Stopping the agents (the shared inference worker first) fails requests still in flight: that is
        // the shutdown, not a crash to report and restart from.
        if (this.stopping) return;
        this.fail(s, now, 'crashed', message(e));
        continue;
      }
      // The tick's own work: what it awaited from shared resources (the inference worker's queue) is not.
      const took = Math.max(0, this.ports.cpuClock() - t0 - meter.waitedMs);
      s.lastTickMs = took;
      s.ticks++;
      if (!result || typeof result !== 'object' || !('state' in result)) {
        this.fail(s, now, 'crashed', 'tick() returned no { state }');
        continue;
      }
      s.state = result.state;
      this.persist(s, now);
      this.noteModel(s, now);
      if (took > s.agent.budgetMs) {
        s.overruns++;
        s.consecutiveOverruns++;
        this.report(now, s.agent.name, 'overrun', `tick took ${took.toFixed(1)} ms (budget ${s.agent.budgetMs} ms)`);
      } else s.consecutiveOverruns = 0;
      // Outputs of an overrunning tick still count: a late land is better than none.
      this.collect(s, now, result.outputs ?? [], actions);
      if (s.consecutiveOverruns >= this.opts.overrunsToRestart) this.fail(s, now, 'overrun', `${s.consecutiveOverruns} consecutive ticks over budget`);
    }
    if (reflexes) this.avoidanceLapsed(now, actions);
    await this.dispatch(now, actions, sent);
  }

  /** The model the committed view assigns this agent (agent and model share a name), as a string to compare. */
  private assignment(s: Slot): string {
    return JSON.stringify(this.committed?.models[s.agent.name] ?? null);
  }

  /** Reports a model switch or a refused model file once per change (status shows the current one). */
  private noteModel(s: Slot, now: number): void {
    const v = modelView(s.agent);
    const { model, modelRefused: refusal } = v;
    if (model !== s.lastModel && s.lastModel !== null && model !== null) this.report(now, s.agent.name, 'model-loaded', `now running ${model} (was ${s.lastModel}), engine ${v.engine}`);
    if (refusal !== null && refusal !== s.seen.modelRefused) this.report(now, s.agent.name, 'model-refused', `${refusal}; still running ${model ?? 'the rules'}`);
    s.lastModel = model ?? s.lastModel;
    s.seen = v;
  }

  private withTimeout<T>(v: T | Promise<T>, name: string, what: 'tick' | 'start' | 'stop'): T | Promise<T> {
    const ms = this.ports.tickTimeoutMs;
    if (ms === undefined || !(v instanceof Promise)) return v;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${name}: ${what} did not finish within ${ms} ms`)), ms);
    });
    return Promise.race([v, timeout]).finally(() => clearTimeout(timer));
  }

  private inputsFor(s: Slot, inputs: AgentInputs): AgentInputs {
    const view: Record<string, unknown> = { nowMs: inputs.nowMs };
    for (const k of s.agent.inputs) if (inputs[k] !== undefined) view[k] = inputs[k];
    if (s.agent.inputs.includes('imu')) {
      view.imu = s.pendingImu;
      s.pendingImu = [];
    }
    return view as unknown as AgentInputs;
  }

  private persist(s: Slot, now: number): void {
    let json: string;
    try {
      json = JSON.stringify(s.state ?? null);
    } catch (e) {
      this.report(now, s.agent.name, 'state-too-large', `state is not serialisable: ${message(e)}`);
      return;
    }
    if (json.length > limits.agentStateBytesMax) {
      this.report(now, s.agent.name, 'state-too-large', `state is ${json.length} bytes (limit ${limits.agentStateBytesMax}); not saved`);
      return;
    }
    // Written when it changed, at most once per agentStateSaveEveryMs (the newest then; the rest at stop):
    // a write and rename per tick of every agent wore SD cards and, twenty devices in one fleet-sim
    // process, blocked its event loop. A crash loses at most that much state, which is soft anyway (an
    // agent without its state starts fresh).
    if (json === s.savedJson) {
      s.unsavedJson = null;
      return;
    }
    if (now - s.savedAtMs < limits.agentStateSaveEveryMs && now >= s.savedAtMs) {
      s.unsavedJson = json;
      return;
    }
    this.write(s, json, now);
  }

  private write(s: Slot, json: string, now: number): void {
    s.savedAtMs = now; // a failed write is tried again no sooner than a good one would be
    if (!this.storeOp(s, now, () => this.ports.store.save(s.agent.name, json))) {
      s.unsavedJson = json;
      return;
    }
    s.savedJson = json;
    s.unsavedJson = null;
  }

  /** A store that fails (disk full, read-only card) costs the state, never the pass: a throw here would
   *  end the scheduler's pass and, on a device, the process. Reported once per new reason. */
  private storeOp(s: Slot, now: number, op: () => void): boolean {
    try {
      op();
      s.saveError = null;
      return true;
    } catch (e) {
      const why = message(e);
      if (why !== s.saveError) this.report(now, s.agent.name, 'state-not-saved', `state store failed: ${why}`);
      s.saveError = why;
      return false;
    }
  }

  private collect(s: Slot, now: number, outputs: readonly AgentOutput[], actions: Proposed[]): void {
    if (outputs.length > limits.agentOutputsPerTickMax) this.report(now, s.agent.name, 'outputs-dropped', `${outputs.length - limits.agentOutputsPerTickMax} outputs over the limit of ${limits.agentOutputsPerTickMax} dropped`);
    for (const o of outputs.slice(0, limits.agentOutputsPerTickMax)) {
      if (o.type === 'action') actions.push({ action: o.action, agent: s.agent.name, reason: o.reason, avoidance: o.avoidance === true, again: false });
      else if (o.type === 'release') {
        // Never past a latched failsafe: return-to-launch and land end only by an operator's command.
        // An avoidance move that passed it is over: the failsafe goes on from where the drone is.
        if (this.latched && this.avoiding?.agent === s.agent.name) actions.push(this.failsafeAfterAvoidance(o.reason));
        else if (this.latched) this.report(now, s.agent.name, 'action-suppressed', `release (${o.reason}) suppressed: ${this.latched.type} is latched`);
        else this.ports.release?.(s.agent.name, o.reason);
      } else if (o.type === 'obstacle') this.ports.obstacle?.(s.agent.name, { northM: o.northM, eastM: o.eastM, beamRad: o.beamRad });
      else {
        const body: AttestationBody = { agent: s.agent.name, observedAt: Math.max(0, Math.floor(now)), basis: this.basis, obs: o.obs, ...(o.model ? { model: o.model } : {}) };
        try {
          this.ports.attest(body);
        } catch (e) {
          this.report(now, s.agent.name, 'outputs-dropped', `attestation refused: ${message(e)}`);
        }
      }
    }
  }

  /** The latched failsafe, to send now that the avoidance move that passed it or went before it is over
   *  (`why`): as its agent asked for it if it was never sent, else again, from the scheduler. */
  private failsafeAfterAvoidance(why: string): Proposed {
    const latched = this.latched as FlightAction;
    const d = this.deferred;
    this.avoiding = null;
    this.deferred = null;
    if (d) return { ...d, reason: `${d.reason}; sent after ${why}`, again: true };
    return { action: latched, agent: 'scheduler', reason: `${latched.type} latched, again after ${why}`, avoidance: false, again: true };
  }

  /** An avoidance move that passed (or went before) the latched failsafe, and stopped coming without a
   *  release for limits.avoidanceLapseMs: the failsafe is sent, so no back-off holds it back for good. */
  private avoidanceLapsed(now: number, actions: Proposed[]): void {
    const a = this.avoiding;
    if (!a || !this.latched || now - a.lastMs < limits.avoidanceLapseMs) return;
    if (actions.some((p) => p.avoidance && p.agent === a.agent)) return;
    actions.push(this.failsafeAfterAvoidance(`no avoidance move from ${a.agent} for ${now - a.lastMs} ms`));
  }

  /**
   * A land or return-to-launch that fired in the pass of an avoidance move (`by`: this half's, or the
   * one the reflex half sent): latched now, so nothing lesser but the avoidance passes it, and sent when
   * the avoidance is over (released, or lapsed), as a failsafe latched on an earlier tick is.
   */
  private holdBack(now: number, failsafe: Proposed, by: { readonly agent: string; readonly reason: string }): void {
    const type = failsafe.action.type;
    if (!this.latched || actionPriority[type] > actionPriority[this.latched.type] || (failsafe.again && type === this.latched.type)) {
      this.latched = failsafe.action;
      this.deferred = failsafe;
      this.report(now, failsafe.agent, 'action-deferred', `${type} (${failsafe.reason}) latched; sent when the avoidance move (${by.reason}) from ${by.agent} is over`);
    } else if (type !== this.latched.type) this.report(now, failsafe.agent, 'action-suppressed', `${type} (${failsafe.reason}) suppressed: ${this.latched.type} is latched`);
    this.avoiding = { agent: by.agent, lastMs: now };
  }

  /** Sends the best of a half-pass's actions; `sent` is what the pass sent already (its reflex half). */
  private async dispatch(now: number, actions: Proposed[], sent: Sent): Promise<void> {
    if (actions.length === 0) return;
    // Highest priority first; ties keep agent-name order (the slots are sorted), so the choice is deterministic.
    const ranked = actions.map((a, i) => ({ ...a, i })).sort((a, b) => actionPriority[b.action.type] - actionPriority[a.action.type] || a.i - b.i);
    let best = ranked[0] as (typeof ranked)[number];
    let held: Proposed | null = null; // a failsafe that waits for an avoidance move of this pass
    // Out of a collision's way first, also when the failsafe fires in the same pass (a battery,
    // link-loss, geofence or anomaly return on the tick an obstacle is 0.7 m away): before, only a
    // failsafe latched on an earlier tick let the back-off through, and on the tick one fired the
    // back-off was dropped and the return sent. A geofence return included: a back-off is short and
    // slow, a collision is not undone (ARCHITECTURE.md, Agents).
    if (isFailsafe(best.action.type)) {
      const avoidance = ranked.find((r) => r.avoidance);
      if (avoidance) {
        this.holdBack(now, best, avoidance);
        held = best;
        best = avoidance;
      } else if (sent.avoidance && sent.from !== undefined) {
        // The reflex half of this pass sent the avoidance: it stands.
        this.holdBack(now, best, { agent: sent.from, reason: sent.reason ?? '' });
        for (const r of ranked.slice(1)) if (r.action.type !== best.action.type) this.report(now, r.agent, 'action-suppressed', `${r.action.type} (${r.reason}) yielded to ${best.action.type} from ${best.agent}`);
        return;
      }
    }
    for (const r of ranked) if (r !== best && r !== held && r.action.type !== best.action.type) this.report(now, r.agent, 'action-suppressed', `${r.action.type} (${r.reason}) yielded to ${best.action.type} from ${best.agent}`);
    // One pass, one winner: the other half does not undo what the reflex half sent with something lesser.
    if (actionPriority[best.action.type] < sent.priority) {
      this.report(now, best.agent, 'action-suppressed', `${best.action.type} (${best.reason}) yielded to ${sent.type} from ${sent.from}`);
      return;
    }
    if (actionPriority[best.action.type] === sent.priority && best.action.type === sent.type) return; // already sent this pass
    sent.priority = actionPriority[best.action.type];
    sent.from = best.agent;
    sent.type = best.action.type;
    sent.reason = best.reason;
    sent.avoidance = best.avoidance;
    if (this.latched && actionPriority[best.action.type] < actionPriority[this.latched.type]) {
      if (!best.avoidance) {
        this.report(now, best.agent, 'action-suppressed', `${best.action.type} (${best.reason}) suppressed: ${this.latched.type} is latched`);
        return;
      }
      // Out of a collision's way first (a battery return straight at a mast no one committed yet); the
      // failsafe is sent (again) when the agent releases.
      this.avoiding = { agent: best.agent, lastMs: now };
    }
    if (this.latched?.type === best.action.type && !best.again) return; // already doing it
    if (isFailsafe(best.action.type)) {
      this.latched = best.action;
      this.deferred = null; // sent now
    }
    try {
      await this.ports.act(best.action, best.agent, best.reason);
    } catch (e) {
      this.report(now, best.agent, 'action-suppressed', `HAL refused ${best.action.type}: ${message(e)}`);
    }
  }

  /** The latched failsafe, if any; it ends when the vehicle reports itself disarmed. */
  latchedAction(): FlightAction | null {
    return this.latched;
  }

  clearLatch(): void {
    this.latched = null;
    this.avoiding = null;
    this.deferred = null;
  }

  async stop(nowMs: number): Promise<void> {
    this.stopping = true;
    for (const s of this.slots) {
      if (s.status === 'running') {
        try {
          await this.withTimeout(s.agent.stop?.(), s.agent.name, 'stop');
        } catch (e) {
          this.report(nowMs, s.agent.name, 'stopped', `stop() threw: ${message(e)}`);
        }
      }
      if (s.unsavedJson !== null) this.write(s, s.unsavedJson, nowMs);
      s.status = 'stopped';
      this.report(nowMs, s.agent.name, 'stopped', 'scheduler stopped');
    }
  }

  status(): AgentStatus[] {
    return this.slots.map((s) => ({
      name: s.agent.name,
      status: s.status,
      // A running agent says what it runs now; one out of service, what it ran last.
      ...(s.status === 'running' ? modelView(s.agent) : s.seen),
      engineReasons: s.agent.engineReasons?.() ?? [],
      ticks: s.ticks,
      restarts: s.restarts,
      overruns: s.overruns,
      lastTickMs: s.lastTickMs,
      lastError: s.lastError,
      restartAtMs: s.restartAtMs,
    }));
  }

  recentReports(): readonly AgentReport[] {
    return this.reports;
  }
}
