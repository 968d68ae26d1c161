// Runs the built-in agents (agents/) on a device: hazard detection, telemetry anomaly, mission reflexes.
// Their reflex actions go straight to the HAL (never waiting for consensus); their attestations are
// signed and submitted as block transactions. Inputs come from the HAL and the committed mission state.

import type { DeviceSet, FlightAction } from '../../hal/devices.js';
import type { AgentInputs, CommittedView } from '../../agents/api/agent.js';
import { signedAttestationSink } from '../../agents/api/attest-sink.js';
import { AgentScheduler, type AgentReport } from '../../agents/api/scheduler.js';
import { FileStateStore } from '../../agents/api/state-store.js';
import { hazardDetectAgent } from '../../agents/builtin/hazard-detect.js';
import { missionReflexAgent } from '../../agents/builtin/mission-reflexes.js';
import { defaultTelemetryAnomalyConfig, telemetryAnomalyAgent } from '../../agents/builtin/telemetry-anomaly.js';
import type { Signer } from '../crypto/sodium.js';
import type { MissionState } from '../mission/types.js';

export interface AgentsOptions {
  readonly id: string;
  readonly fleet: string;
  readonly dir: string;
  readonly devices: DeviceSet;
  readonly signer: Signer;
  readonly submit: (envelope: Uint8Array) => void;
  readonly validators: number;
  /** Local position in metres, altitude above home (the executor's reading). */
  readonly position: () => { northM: number; eastM: number; upM: number } | null;
  readonly committed: () => { height: number; mission: MissionState; lastCommitMs: number };
  readonly onAction: (action: FlightAction, agent: string, reason: string) => void;
  readonly onReport: (r: AgentReport) => void;
}

const hazardCellM = 5;
/** An own degraded attestation counts for this long: twice the anomaly agent's re-attest period. */
const selfDegradedHoldMs = 2 * defaultTelemetryAnomalyConfig.reattestMs;

export class DeviceAgents {
  readonly scheduler: AgentScheduler;
  private busy = false;
  private ownDegraded: { severity: 'minor' | 'severe'; reason: string; atMs: number } | null = null;

  constructor(private readonly o: AgentsOptions) {
    const sink = signedAttestationSink(o.fleet, o.id, o.signer, o.submit);
    this.scheduler = new AgentScheduler({
      store: new FileStateStore(o.dir),
      act: (action, agent, reason) => o.onAction(action, agent, reason),
      attest: (body) => {
        // The device's own health (heartbeats) follows what its agents attest about it.
        if (body.obs.type === 'degraded' && body.obs.device === o.id) this.ownDegraded = { severity: body.obs.severity, reason: body.obs.reason, atMs: body.observedAt };
        sink(body);
      },
      cpuClock: () => performance.now(),
      onReport: o.onReport,
      tickTimeoutMs: 1_000,
    });
    this.scheduler.add(hazardDetectAgent({ cellM: hazardCellM }));
    this.scheduler.add(telemetryAnomalyAgent({ deviceId: o.id }));
    this.scheduler.add(missionReflexAgent());
  }

  start(nowMs: number): Promise<void> {
    return this.scheduler.start(nowMs);
  }

  /** One scheduler pass; skipped while the previous one is still running (no pile-up). */
  tick(nowMs: number): void {
    if (this.busy) return;
    this.busy = true;
    this.scheduler.tick(this.inputs(nowMs)).finally(() => {
      this.busy = false;
    });
  }

  private inputs(nowMs: number): AgentInputs {
    const d = this.o.devices;
    const c = this.o.committed();
    const fix = d.position?.fix();
    const att = d.attitude?.attitude();
    const battery = d.battery?.state();
    const range = d.range?.readings();
    const flight = d.flight?.state();
    const imu = d.attitude?.imu();
    let position: AgentInputs['position'];
    const local = this.o.position();
    if (fix?.ok && local) {
      const course = (fix.value.courseDeg * Math.PI) / 180;
      position = {
        timeMs: nowMs,
        northM: local.northM,
        eastM: local.eastM,
        altM: local.upM,
        headingRad: att?.ok ? att.value.yawRad : 0,
        velocityNorthMps: fix.value.groundSpeedMps * Math.cos(course),
        velocityEastMps: fix.value.groundSpeedMps * Math.sin(course),
      };
    }
    const m = c.mission;
    const committed: CommittedView = {
      height: c.height,
      f: Math.floor((this.o.validators - 1) / 3),
      hazards: [],
      cellM: hazardCellM,
      geofence: m.geofence ? m.geofence.map((p) => ({ northM: p.n / 10, eastM: p.e / 10 })) : null,
      home: { northM: 0, eastM: 0 },
      models: {},
    };
    return {
      nowMs,
      ...(imu?.ok ? { imu: [imu.value] } : {}),
      ...(battery?.ok ? { battery: battery.value } : {}),
      ...(range?.ok ? { range: range.value } : {}),
      ...(position ? { position } : {}),
      ...(flight?.ok ? { flight: flight.value } : {}),
      link: { lastQuorumContactMs: c.lastCommitMs },
      committed,
    };
  }

  /** This device's latest degraded attestation about itself, while it is recent. */
  selfDegraded(nowMs: number): { severity: 'minor' | 'severe'; reason: string } | null {
    const d = this.ownDegraded;
    return d !== null && nowMs - d.atMs <= selfDegradedHoldMs ? { severity: d.severity, reason: d.reason } : null;
  }

  stop(nowMs: number): Promise<void> {
    return this.scheduler.stop(nowMs);
  }
}
