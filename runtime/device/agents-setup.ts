// Runs the built-in agents (agents/) on a device: hazard detection, telemetry anomaly, mission reflexes.
// Their reflex actions go straight to the HAL (never waiting for consensus); their attestations are
// signed and submitted as block transactions. Inputs come from the HAL and the committed mission state,
// including the model rollout: each agent runs the version committed for this device, loaded from
// `modelsDir/<name>/<version>/` only when the file's sha256 is the committed one.

import type { DeviceSet, FlightAction } from '../../hal/devices.js';
import type { AgentInputs, CommittedView, LinkState, Point } from '../../agents/api/agent.js';
import { signedAttestationSink } from '../../agents/api/attest-sink.js';
import { AgentScheduler, type AgentReport } from '../../agents/api/scheduler.js';
import { FileStateStore } from '../../agents/api/state-store.js';
import { hazardDetectAgent } from '../../agents/builtin/hazard-detect.js';
import { hazardCellM } from '../../agents/swarm/hazard-commit.js';
import { missionReflexAgent } from '../../agents/builtin/mission-reflexes.js';
import { defaultTelemetryAnomalyConfig, telemetryAnomalyAgent } from '../../agents/builtin/telemetry-anomaly.js';
import { OrtWorker } from '../../agents/inference/ort-worker.js';
import { committedModelDir, type CommittedModel } from '../../agents/models/registry.js';
import type { Signer } from '../crypto/sodium.js';
import { assignedModel } from '../mission/models.js';
import type { MissionState } from '../mission/types.js';
import type { AgentStatusJson } from './control-topics.js';

export interface AgentsOptions {
  readonly id: string;
  readonly fleet: string;
  readonly dir: string;
  /** Where rolled-out model versions are installed: `<modelsDir>/<name>/<version>/`. */
  readonly modelsDir: string;
  /** The best engine to try (device.yaml agents.engine): onnxruntime in a worker thread, pure-ts in
   *  another (no onnxruntime loaded: about 30 MB less resident memory), or rules only. */
  readonly engine: 'onnxruntime' | 'pure-ts' | 'rules';
  /** This device's own fence (device.yaml geofence), which its reflexes keep to. */
  readonly fence: readonly Point[] | null;
  readonly devices: DeviceSet;
  readonly signer: Signer;
  readonly submit: (envelope: Uint8Array) => void;
  readonly validators: number;
  /** Local position in metres, altitude above home (the executor's reading; upM null while the flight
   *  controller says its height is not known). */
  readonly position: () => { northM: number; eastM: number; upM: number | null } | null;
  /** Where the flight controller returns to, local metres (the pad it armed on), or null before it has one. */
  readonly home: () => Point | null;
  readonly committed: () => { height: number; mission: MissionState; lastCommitMs: number };
  readonly onAction: (action: FlightAction, agent: string, reason: string) => void;
  /** A hold an agent asked for is over: resume the mission task. */
  readonly onRelease: (agent: string, reason: string) => void;
  /** An obstacle an agent's range sensor hit in the drone's way: the executor's routing keeps clear of it. */
  readonly onObstacle?: (agent: string, at: { readonly northM: number; readonly eastM: number; readonly beamRad: number }) => void;
  readonly onReport: (r: AgentReport) => void;
  /** A monotonic clock, ms (performance.now by default): quorum silence is measured on it. */
  readonly monoClock?: () => number;
}

/** An own degraded attestation counts for this long: twice the anomaly agent's re-attest period. */
const selfDegradedHoldMs = 2 * defaultTelemetryAnomalyConfig.reattestMs;

/**
 * One inference worker of a kind per process, shared by its devices' agents: a device process has one
 * device, but fleet-sim's in-process real-time mode runs many, and a worker thread each would load
 * onnxruntime many times over. Counted, so the last device to stop closes it.
 */
class SharedWorker {
  private worker: OrtWorker | null = null;
  private users = 0;
  constructor(private readonly create: () => OrtWorker) {}

  acquire(): OrtWorker {
    this.users++;
    this.worker ??= this.create();
    return this.worker;
  }

  async release(): Promise<void> {
    this.users--;
    if (this.users > 0 || !this.worker) return;
    const w = this.worker;
    this.worker = null;
    await w.close();
  }
}

const sharedOrt = new SharedWorker(() => new OrtWorker());
/** The same for the pure-TypeScript engine: its models run off the main thread too (run on it, a heavy
 *  model held consensus and the reflexes for seconds). */
const sharedTs = new SharedWorker(() => OrtWorker.pureTs());
/** The agents that run a model, by the model's name (agent and model share it). */
const modelNames = ['hazard-detect', 'telemetry-anomaly'] as const;

export class DeviceAgents {
  readonly scheduler: AgentScheduler;
  /** onnxruntime-node in a worker thread shared by the models, so inference never holds consensus's
   *  thread; null when agents.engine chose not to load it. */
  private readonly ort: OrtWorker | null;
  /** The pure-TypeScript engine's worker thread; null with agents.engine rules. */
  private readonly tsWorker: OrtWorker | null;
  /** The model agents' half of a pass is running (it awaits inference): the next passes run only the reflexes. */
  private busy = false;
  private reflexesBusy = false;
  private othersDone: Promise<void> = Promise.resolve();
  private ownDegraded: { severity: 'minor' | 'severe'; reason: string; atMs: number } | null = null;
  /** Time of the last IMU sample handed to the agents: the HAL repeats its newest one until a new one comes. */
  private lastImuMs = -Infinity;
  /** The last commit time seen (node clock) and the monotonic time it was seen at, less the silence then. */
  private commitSeen: { wallMs: number; monoMs: number } | null = null;
  private readonly mono: () => number;

  constructor(private readonly o: AgentsOptions) {
    this.ort = o.engine === 'onnxruntime' ? sharedOrt.acquire() : null;
    this.tsWorker = o.engine === 'rules' ? null : sharedTs.acquire();
    this.mono = o.monoClock ?? (() => performance.now());
    const engines = { onnxruntime: ['onnxruntime', 'pure-ts', 'rules'], 'pure-ts': ['pure-ts', 'rules'], rules: ['rules'] } as const;
    const inference = { prefer: engines[o.engine], ...(this.ort ? { ort: this.ort } : {}), ...(this.tsWorker ? { tsWorker: this.tsWorker } : {}) };
    const sink = signedAttestationSink(o.fleet, o.id, o.signer, o.submit);
    this.scheduler = new AgentScheduler({
      store: new FileStateStore(o.dir),
      act: (action, agent, reason) => o.onAction(action, agent, reason),
      release: (agent, reason) => o.onRelease(agent, reason),
      obstacle: (agent, at) => o.onObstacle?.(agent, at),
      attest: (body) => {
        // The device's own health (heartbeats) follows what its agents attest about it.
        if (body.obs.type === 'degraded' && body.obs.device === o.id) this.ownDegraded = { severity: body.obs.severity, reason: body.obs.reason, atMs: body.observedAt };
        sink(body);
      },
      cpuClock: () => performance.now(),
      onReport: o.onReport,
      tickTimeoutMs: 1_000,
    });
    const modelDirFor = (ref: CommittedModel): string => committedModelDir(o.modelsDir, ref);
    this.scheduler.add(hazardDetectAgent({ cellM: hazardCellM, modelDirFor, ...inference }));
    this.scheduler.add(telemetryAnomalyAgent({ deviceId: o.id, modelDirFor, ...inference }));
    this.scheduler.add(missionReflexAgent(this.o.fence ? { fence: this.o.fence } : {}));
  }

  start(nowMs: number): Promise<void> {
    return this.scheduler.start(nowMs);
  }

  /**
   * One scheduler pass: the reflexes always, the model agents unless their half of an earlier pass is
   * still running (no pile-up; inference slow or stuck must not hold the reflexes back). The device
   * does not wait; the promise (the reflexes' half; it never rejects) and idle() are for tests.
   */
  tick(nowMs: number): Promise<void> {
    if (this.reflexesBusy) return Promise.resolve();
    const inputs = this.inputs(nowMs);
    // Not awaited by the device: a rejection would be unhandled, which ends the process (Node 20).
    const report = (e: unknown): void => this.o.onReport({ atMs: nowMs, agent: 'scheduler', kind: 'crashed', message: e instanceof Error ? e.message : String(e) });
    const others = !this.busy;
    const p = this.scheduler.pass(inputs, others);
    this.reflexesBusy = true;
    const reflexes = p.reflexes.catch(report).finally(() => {
      this.reflexesBusy = false;
    });
    if (others) {
      this.busy = true;
      this.othersDone = p.others.catch(() => undefined).finally(() => {
        this.busy = false;
      });
    }
    return reflexes;
  }

  /** Resolves when the model agents' half of the latest pass has ended (tests). */
  idle(): Promise<void> {
    return this.othersDone;
  }

  private inputs(nowMs: number): AgentInputs {
    const d = this.o.devices;
    const c = this.o.committed();
    const fix = d.position?.fix();
    const att = d.attitude?.attitude();
    const battery = d.battery?.state();
    const range = d.range?.readings();
    const flight = d.flight?.state();
    const read = d.attitude?.imu();
    // A new sample is one with another time, not a later one: MAVLink stamps samples with the wall
    // clock, and after it stepped back "later only" held every sample back until it caught up.
    const imu = read?.ok && read.value.timeMs !== this.lastImuMs ? read : undefined;
    if (imu) this.lastImuMs = imu.value.timeMs;
    let position: AgentInputs['position'];
    const local = this.o.position();
    if (fix?.ok && local) {
      const course = (fix.value.courseDeg * Math.PI) / 180;
      position = {
        timeMs: nowMs,
        northM: local.northM,
        eastM: local.eastM,
        altM: local.upM ?? Number.NaN, // unknown, not 0 (see LocalPosition)
        headingRad: att?.ok ? att.value.yawRad : Number.NaN, // unknown, not north (see LocalPosition)
        velocityNorthMps: fix.value.groundSpeedMps * Math.cos(course),
        velocityEastMps: fix.value.groundSpeedMps * Math.sin(course),
      };
    }
    const m = c.mission;
    const committed: CommittedView = {
      height: c.height,
      f: Math.floor((this.o.validators - 1) / 3),
      hazards: m.hazards?.cells ?? [],
      cellM: hazardCellM,
      geofence: m.geofence ? m.geofence.map((p) => ({ northM: p.n / 10, eastM: p.e / 10 })) : null,
      home: this.o.home(),
      models: this.committedModels(m),
    };
    return {
      nowMs,
      ...(imu?.ok ? { imu: [imu.value] } : {}),
      ...(battery?.ok ? { battery: battery.value } : {}),
      ...(range?.ok ? { range: range.value } : {}),
      ...(position ? { position } : {}),
      ...(flight?.ok ? { flight: flight.value } : {}),
      link: this.link(nowMs, c.lastCommitMs),
      committed,
    };
  }

  /**
   * Quorum contact for the link-loss reflex, on the agents' clock (nowMs) but measured on a monotonic
   * one. nowMs and the commit time are the node's wall clock, which NTP steps: stepped back, the silence
   * came out negative and no link loss was seen until the clock caught up (an hour behind: an hour
   * without the failsafe); stepped ahead, a link just heard from looked lost for that long (an RTL).
   */
  private link(nowMs: number, lastCommitMs: number): LinkState {
    const mono = this.mono();
    if (this.commitSeen === null || this.commitSeen.wallMs !== lastCommitMs) this.commitSeen = { wallMs: lastCommitMs, monoMs: mono - Math.max(0, nowMs - lastCommitMs) };
    return { lastQuorumContactMs: nowMs - (mono - this.commitSeen.monoMs) };
  }

  /** This device's latest degraded attestation about itself, while it is recent. */
  selfDegraded(nowMs: number): { severity: 'minor' | 'severe'; reason: string } | null {
    const d = this.ownDegraded;
    return d !== null && nowMs - d.atMs <= selfDegradedHoldMs ? { severity: d.severity, reason: d.reason } : null;
  }

  /** The scheduler's view of every agent, for the status topic, /health and metrics. */
  status(): AgentStatusJson[] {
    return this.scheduler.status().map((a) => ({ name: a.name, engine: a.engine, state: a.status, model: a.model, modelRefused: a.modelRefused, engineReasons: a.engineReasons, restarts: a.restarts, ticks: a.ticks, overruns: a.overruns, lastError: a.lastError }));
  }

  /** The version of each model the committed rollout assigns to this device (null: as shipped). */
  private committedModels(m: MissionState): Record<string, CommittedModel | null> {
    const out: Record<string, CommittedModel | null> = {};
    for (const name of modelNames) {
      const v = assignedModel(m.models, name, this.o.id);
      out[name] = v ? { name, version: v.version, hashHex: v.sha256 } : null;
    }
    return out;
  }

  async stop(nowMs: number): Promise<void> {
    await this.scheduler.stop(nowMs);
    if (this.ort) await sharedOrt.release();
    if (this.tsWorker) await sharedTs.release();
  }
}
