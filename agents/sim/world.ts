// A deterministic world for agent scenarios: devices fly waypoints past round obstacles, each runs the
// built-in agents through a real AgentScheduler with simulated sensors, and a stand-in for consensus
// orders every signed attestation into a block every `blockMs` (verified with openEnvelope, applied
// with the hazard-commit rule). Byzantine devices sign lies with their real keys. One seed decides all.
// With `consensus` set, the real Tendermint shells of fleet-sim's world order the attestations instead
// (test/agents/consensus-hazards.test.ts); the rules applied to committed blocks are the same.

import type { FlightAction } from '../../hal/devices.js';
import { Prng } from '../../runtime/lib/prng.js';
import { keyLookup } from '../../runtime/manifest/manifest.js';
import { encodeAttestationBody, type AttestationBody } from '../../runtime/wire/attestation.js';
import { openEnvelope, sealEnvelope } from '../../runtime/wire/envelope.js';
import type { Agent, AgentInputs, CommittedView, Point } from '../api/agent.js';
import { signedAttestationSink } from '../api/attest-sink.js';
import { AgentScheduler, type AgentReport } from '../api/scheduler.js';
import { MemoryStateStore } from '../api/state-store.js';
import { cellOf, hazardDetectAgent } from '../builtin/hazard-detect.js';
import { missionReflexAgent } from '../builtin/mission-reflexes.js';
import { telemetryAnomalyAgent } from '../builtin/telemetry-anomaly.js';
import type { EngineKind } from '../inference/engine.js';
import { applyHazardAttestations, committedHazards, defaultHazardRule, emptyHazardState, type CommittedAttestation, type HazardEvent, type HazardRuleConfig, type HazardState } from '../swarm/hazard-commit.js';
import { makeSimFleet, type SimFleet } from './fleet.js';
import { castScan, cleanScan, telemetryBase, telemetryWindow, type Condition, type FaultKind, type Obstacle, type ScanFaults, type TelemetryBase } from './sensors.js';

export type ByzantineBehaviour = 'fake-hazards' | 'deny-hazards';

export interface SimDeviceSpec {
  readonly start: Point;
  readonly waypoints: readonly Point[];
  readonly speedMps: number;
  readonly byzantine?: readonly ByzantineBehaviour[];
  readonly scanFaults?: ScanFaults;
  /** The device hears no quorum (sends nothing, receives no blocks) in [from, until). */
  readonly linkDown?: { readonly fromMs: number; readonly untilMs: number };
  readonly telemetry?: { readonly fromMs: number; readonly condition: Condition; readonly fault?: FaultKind };
  /** Extra agents (tests add a crashing one). */
  readonly extraAgents?: () => Agent<unknown>[];
}

export interface WorldConfig {
  readonly seed: number;
  readonly validators: number;
  readonly followers: number;
  readonly devices: readonly SimDeviceSpec[];
  readonly obstacles: readonly Obstacle[];
  readonly stepMs?: number;
  readonly blockMs?: number;
  readonly cellM?: number;
  readonly geofence?: readonly Point[] | null;
  readonly hazardRule?: HazardRuleConfig;
  readonly prefer?: readonly EngineKind[];
  /** Use this fleet (keys and manifest) instead of a generated one, e.g. fleet-sim's. */
  readonly fleet?: SimFleet;
  /**
   * Real consensus instead of the stand-in: attestations go to `submit`, and the driver calls
   * applyCommitted() with each committed block's attestations (see test/agents/consensus-hazards.test.ts).
   */
  readonly consensus?: { readonly submit: (envelope: Uint8Array) => void };
}

export interface SimDevice {
  readonly id: string;
  readonly spec: SimDeviceSpec;
  readonly scheduler: AgentScheduler;
  readonly prng: Prng;
  /** Seeds the device's telemetry fault, so a fault stays the same fault from window to window. */
  readonly faultSeed: number;
  northM: number;
  eastM: number;
  headingRad: number;
  mode: 'mission' | 'hold' | 'return-to-launch' | 'land' | 'landed';
  waypoint: number;
  avoid: { northMps: number; eastMps: number; untilMs: number } | null;
  lastQuorumContactMs: number;
  /** The committed view as of the last block this device received. */
  view: CommittedView;
  readonly actions: { atMs: number; action: FlightAction['type']; agent: string; reason: string }[];
  readonly reports: AgentReport[];
  outbox: Uint8Array[];
  telemetryQueue: AgentInputs['imu'][];
}

export class AgentWorld {
  readonly fleet: SimFleet;
  readonly devices: SimDevice[] = [];
  readonly hazardEvents: (HazardEvent & { atMs: number })[] = [];
  /** Every committed attestation that is not a hazard (degraded devices, estimates), in block order. */
  readonly committedOther: (CommittedAttestation & { height: number })[] = [];
  readonly f: number;
  nowMs = 0;
  height = 0;
  hazards: HazardState = emptyHazardState;
  private readonly stepMs: number;
  private readonly blockMs: number;
  private readonly cellM: number;
  private readonly prng: Prng;

  constructor(readonly cfg: WorldConfig) {
    this.prng = new Prng(cfg.seed);
    this.fleet = cfg.fleet ?? makeSimFleet(this.prng.split('fleet'), cfg.validators, cfg.followers);
    this.f = Math.floor((cfg.validators - 1) / 3);
    this.stepMs = cfg.stepMs ?? 100;
    this.blockMs = cfg.blockMs ?? 500;
    this.cellM = cfg.cellM ?? 5;
  }

  private view(): CommittedView {
    return { height: this.height, f: this.f, hazards: committedHazards(this.hazards), cellM: this.cellM, geofence: this.cfg.geofence ?? null, home: { northM: 0, eastM: 0 }, models: {} };
  }

  async start(): Promise<void> {
    const ids = this.fleet.devices;
    for (const [i, spec] of this.cfg.devices.entries()) {
      const id = ids[i];
      if (id === undefined) throw new Error(`world has ${ids.length} devices but ${this.cfg.devices.length} specs`);
      const signer = this.fleet.signers.get(id);
      if (!signer) throw new Error(`no key for ${id}`);
      const d: SimDevice = {
        id, spec, prng: this.prng.split(`device/${id}`), faultSeed: this.prng.split(`fault/${id}`).nextU32(), northM: spec.start.northM, eastM: spec.start.eastM, headingRad: 0, mode: 'mission', waypoint: 0, avoid: null,
        lastQuorumContactMs: 0, view: this.view(), actions: [], reports: [], outbox: [], telemetryQueue: [],
        scheduler: undefined as unknown as AgentScheduler,
      };
      const scheduler = new AgentScheduler({
        store: new MemoryStateStore(),
        act: (action, agent, reason) => this.act(d, action, agent, reason),
        attest: signedAttestationSink(this.fleet.fleet, id, signer, (env) => d.outbox.push(env)),
        cpuClock: () => 0, // simulated CPU time: agents never overrun unless a test scripts it
        onReport: (r) => d.reports.push(r),
      });
      (d as { scheduler: AgentScheduler }).scheduler = scheduler;
      const prefer = this.cfg.prefer ?? ['pure-ts', 'rules'];
      if (!spec.byzantine?.length) scheduler.add(hazardDetectAgent({ prefer, cellM: this.cellM }));
      scheduler.add(telemetryAnomalyAgent({ deviceId: id, prefer }));
      scheduler.add(missionReflexAgent());
      for (const a of spec.extraAgents?.() ?? []) scheduler.add(a);
      await scheduler.start(0);
      this.devices.push(d);
    }
  }

  private act(d: SimDevice, action: FlightAction, agent: string, reason: string): void {
    d.actions.push({ atMs: this.nowMs, action: action.type, agent, reason });
    if (action.type === 'hold' || action.type === 'return-to-launch' || action.type === 'land') d.mode = action.type;
    if (action.type === 'velocity') d.avoid = { northMps: action.northMps, eastMps: action.eastMps, untilMs: this.nowMs + 1000 };
  }

  linkUp(d: SimDevice): boolean {
    const l = d.spec.linkDown;
    return !l || this.nowMs < l.fromMs || this.nowMs >= l.untilMs;
  }

  private move(d: SimDevice): void {
    const dt = this.stepMs / 1000;
    let target: Point | undefined;
    if (d.mode === 'mission') target = d.spec.waypoints[d.waypoint];
    if (d.mode === 'return-to-launch') target = { northM: 0, eastM: 0 };
    let vn = 0;
    let ve = 0;
    if (d.avoid && this.nowMs < d.avoid.untilMs && d.mode !== 'land' && d.mode !== 'landed') {
      vn = d.avoid.northMps;
      ve = d.avoid.eastMps;
    } else if (target) {
      const dn = target.northM - d.northM;
      const de = target.eastM - d.eastM;
      const dist = Math.hypot(dn, de);
      if (dist < 0.5) {
        if (d.mode === 'mission') d.waypoint = Math.min(d.waypoint + 1, d.spec.waypoints.length);
        if (d.mode === 'return-to-launch') d.mode = 'land';
      } else {
        const v = Math.min(d.spec.speedMps, dist / dt);
        vn = (v * dn) / dist;
        ve = (v * de) / dist;
        d.headingRad = Math.atan2(de, dn);
      }
    }
    d.northM += vn * dt;
    d.eastM += ve * dt;
  }

  private inputs(d: SimDevice): AgentInputs {
    const scan = castScan(d.prng, this.nowMs, d.northM, d.eastM, d.headingRad, this.cfg.obstacles, d.spec.scanFaults ?? cleanScan);
    const t = d.spec.telemetry;
    if (this.nowMs % 2000 === 0) {
      let base = this.bases.get(d.id);
      if (!base) this.bases.set(d.id, (base = telemetryBase(d.prng)));
      // The pack drains slowly (2 mV per cell per second) so consecutive windows join up.
      const drained = { ...base, cellV: base.cellV - 0.002 * (this.nowMs / 1000) };
      const w = telemetryWindow(d.prng, this.nowMs, t && this.nowMs >= t.fromMs ? t.condition : 'normal', 20, drained, new Prng(d.faultSeed), t?.fault, 'steady');
      this.telemetry.set(d.id, w);
    }
    const w = this.telemetry.get(d.id);
    const k = Math.floor((this.nowMs % 2000) / 100);
    const imu = w?.imu[k];
    const battery = w?.battery[k];
    return {
      nowMs: this.nowMs,
      range: scan.readings,
      position: { timeMs: this.nowMs, northM: d.northM, eastM: d.eastM, altM: 30, headingRad: d.headingRad, velocityNorthMps: 0, velocityEastMps: 0 },
      link: { lastQuorumContactMs: d.lastQuorumContactMs },
      committed: d.view,
      ...(imu ? { imu: [imu] } : {}),
      ...(battery ? { battery } : {}),
    };
  }
  private readonly telemetry = new Map<string, ReturnType<typeof telemetryWindow>>();
  private readonly bases = new Map<string, TelemetryBase>();

  /** Byzantine devices sign lies: hazards where there is nothing, denials where there is something. */
  private lie(d: SimDevice): void {
    const signer = this.fleet.signers.get(d.id);
    if (!signer || !d.spec.byzantine?.length || this.nowMs % 1000 !== 0) return;
    const send = (cell: [number, number], present: boolean): void => {
      const body: AttestationBody = { agent: 'hazard-detect', observedAt: this.nowMs, basis: this.height, obs: { type: 'hazard', cell, present, confidencePerMille: 1000 } };
      d.outbox.push(sealEnvelope('attestation', this.fleet.fleet, d.id, encodeAttestationBody(body), signer));
    };
    if (d.spec.byzantine.includes('fake-hazards')) for (let i = 0; i < 3; i++) send([d.prng.range(-20, 20), d.prng.range(-20, 20)], true);
    if (d.spec.byzantine.includes('deny-hazards')) for (const o of this.cfg.obstacles) send(cellOf(o.northM, o.eastM, this.cellM), false);
  }

  private commitBlock(): void {
    const ctx = { fleet: this.fleet.fleet, keyOf: keyLookup(this.fleet.manifest), verifier: this.fleet.verifier };
    const txs: CommittedAttestation[] = [];
    for (const d of this.devices) {
      if (this.linkUp(d)) {
        for (const env of d.outbox) {
          const r = openEnvelope(env, ctx);
          if (r.ok && r.value.kind === 'attestation') txs.push({ sender: r.value.sender, body: r.value.parsed });
        }
      }
      d.outbox = []; // a device without a quorum reaches nobody; its agents re-attest later
    }
    this.applyCommitted(this.height + 1, txs);
  }

  /** Real consensus: each step, devices that reach a quorum hand their signed attestations to it. */
  private submitExternal(submit: (envelope: Uint8Array) => void): void {
    for (const d of this.devices) {
      if (this.linkUp(d)) for (const env of d.outbox) submit(env);
      d.outbox = [];
    }
  }

  /** Applies one committed block's attestations: the hazard rule, then every reachable device's view. */
  applyCommitted(height: number, txs: readonly CommittedAttestation[]): void {
    this.height = height;
    for (const t of txs) if (t.body.obs.type !== 'hazard') this.committedOther.push({ ...t, height });
    const { state, events } = applyHazardAttestations(this.hazards, height, this.f, txs, this.cfg.hazardRule ?? defaultHazardRule);
    this.hazards = state;
    for (const e of events) this.hazardEvents.push({ ...e, atMs: this.nowMs });
    const view = this.view();
    for (const d of this.devices) {
      if (!this.linkUp(d)) continue;
      d.view = view;
      d.lastQuorumContactMs = this.nowMs;
    }
  }

  /** One step: move, sense, tick agents, lie, then hand attestations to consensus. Returns the new time. */
  async step(): Promise<number> {
    for (const d of this.devices) {
      this.move(d);
      await d.scheduler.tick(this.inputs(d));
      this.lie(d);
    }
    if (this.cfg.consensus) this.submitExternal(this.cfg.consensus.submit);
    else if (this.nowMs % this.blockMs === 0) this.commitBlock();
    this.nowMs += this.stepMs;
    return this.nowMs;
  }

  /** Advances the world to `untilMs` in fixed steps. */
  async run(untilMs: number): Promise<void> {
    const steps = Math.ceil((untilMs - this.nowMs) / this.stepMs);
    for (let i = 0; i < steps; i++) await this.step();
  }

  async stop(): Promise<void> {
    for (const d of this.devices) await d.scheduler.stop(this.nowMs);
  }
}
