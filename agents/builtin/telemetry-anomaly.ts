// Built-in agent 1: telemetry anomaly detection. Classifies a sliding window of IMU and battery samples
// (what every flight controller reports; motor faults show in them as vibration, body-rate oscillation
// and current) as normal, degraded or severe. A severe anomaly triggers a local land (or return to
// launch) at once, before any consensus (once per flight: the vehicle arming again starts a new one),
// and the agent attests that this device is degraded.

import type { BatteryState, ImuSample } from '../../hal/devices.js';
import type { Agent, AgentInputs, AgentOutput, StartContext, TickResult } from '../api/agent.js';
import { ModelSlot } from '../api/model-slot.js';
import { imuSampleFinite, telemetryFeatureCount, telemetryFeatures, telemetryLabels, telemetryRules } from '../features/telemetry.js';
import type { EngineKind } from '../inference/engine.js';
import type { OrtWorker } from '../inference/ort-worker.js';
import type { CommittedModel } from '../models/registry.js';

export interface TelemetryAnomalyConfig {
  readonly deviceId: string;
  readonly cells: number;
  /** Severe score that acts on its own; two consecutive windows above `severeScoreMin` also act. */
  readonly severeScoreAct: number;
  readonly severeScoreMin: number;
  readonly degradedScoreMin: number;
  readonly severeAction: 'land' | 'return-to-launch';
  /** Repeat the degraded attestation this often while the condition lasts. */
  readonly reattestMs: number;
  readonly windowSamples: number;
  /**
   * The model was trained on windows sampled every 100 ms; when IMU samples arrive much further apart
   * (a slow stream, a simulation run faster than real time) the agent makes no decision and says why.
   */
  readonly imuSpacingMsMax: number;
  readonly ort?: OrtWorker;
  /** The pure-TypeScript worker (a device); omitted, pure-ts runs on this thread (the simulators). */
  readonly tsWorker?: OrtWorker;
  readonly prefer?: readonly EngineKind[];
  /** The directory of a committed model version on this device (default: the shipped model). */
  readonly modelDirFor?: (ref: CommittedModel) => string;
}

export const defaultTelemetryAnomalyConfig: Omit<TelemetryAnomalyConfig, 'deviceId'> = {
  cells: 4,
  severeScoreAct: 0.85,
  severeScoreMin: 0.5,
  degradedScoreMin: 0.6,
  severeAction: 'land',
  reattestMs: 30_000,
  windowSamples: 20,
  imuSpacingMsMax: 250,
};

export interface TelemetryAnomalyState {
  readonly condition: 'normal' | 'degraded' | 'severe';
  readonly severeStreak: number;
  readonly lastAttestMs: number | null;
  readonly acted: boolean;
  /** Whether the vehicle was armed at the last tick that said (absent: not known yet). */
  readonly armed?: boolean;
}

const budgetMs = 20;

/** Feature rows a model is probed with at load (engine.ts), in telemetryFeatureNames order: a calm
 *  hover on a full 4S pack, and a vibrating, sagging one. */
const telemetryProbeRows = [Float32Array.of(0.05, 0.02, 0.01, 4.1, 0.001, 12, 0.3), Float32Array.of(3, 1.5, 0.8, 3.5, 0.05, 25, 4)];

const initial: TelemetryAnomalyState = { condition: 'normal', severeStreak: 0, lastAttestMs: null, acted: false };

export function telemetryAnomalyAgent(cfg: Partial<TelemetryAnomalyConfig> & { deviceId: string }): Agent<TelemetryAnomalyState> {
  const c: TelemetryAnomalyConfig = { ...defaultTelemetryAnomalyConfig, ...cfg };
  const slot = new ModelSlot({ name: 'telemetry-anomaly', inputSize: telemetryFeatureCount, outputSize: telemetryLabels.length, rules: telemetryRules, budgetMs, probeRows: telemetryProbeRows, ...(c.ort ? { ort: c.ort } : {}), ...(c.tsWorker ? { tsWorker: c.tsWorker } : {}), ...(c.prefer ? { prefer: c.prefer } : {}), ...(c.modelDirFor ? { modelDirFor: c.modelDirFor } : {}) });
  let imu: ImuSample[] = [];
  let battery: BatteryState[] = [];
  let spacingNote: string | null = null;
  let voltageNote: string | null = null;
  let cellsNote: string | null = null;
  let imuNote: string | null = null;
  const keep = <T>(xs: T[], more: readonly T[] | undefined): T[] => (more && more.length ? [...xs, ...more].slice(-c.windowSamples) : xs);
  return {
    name: 'telemetry-anomaly',
    inputs: ['imu', 'battery', 'committed', 'flight'],
    // 10 Hz, the rate the model was trained on: each tick adds one battery sample to the window.
    periodMs: 100,
    budgetMs,
    async start(ctx: StartContext<TelemetryAnomalyState>) {
      imu = [];
      battery = [];
      await slot.release(); // a restart reloads the model: the old session may be what failed
      await slot.ensure(ctx.committed?.models['telemetry-anomaly'], ctx.nowMs);
      return ctx.restored ?? initial;
    },
    async tick(prev: TelemetryAnomalyState, inp: AgentInputs): Promise<TickResult<TelemetryAnomalyState>> {
      // Severity escalates within one flight, and the state is persisted. The vehicle arming again
      // starts a new flight: kept, one severe anomaly left the agent silent (acted) on every later
      // flight, across reboots too. A disarmed vehicle has nothing to land; it is still assessed.
      const armed = inp.flight?.armed ?? prev.armed;
      const s: TelemetryAnomalyState = armed === true && prev.armed === false ? { ...initial, armed } : armed === undefined ? prev : { ...prev, armed };
      await slot.ensure(inp.committed?.models['telemetry-anomaly'], inp.nowMs);
      // A sample with a non-finite axis is no sample (features NaN), like a battery sample without a voltage.
      const fresh = inp.imu?.filter(imuSampleFinite);
      const dropped = (inp.imu?.length ?? 0) - (fresh?.length ?? 0);
      imuNote = dropped > 0 ? `${dropped} IMU sample${dropped === 1 ? '' : 's'} with a non-finite axis dropped` : fresh?.length ? null : imuNote;
      imu = keep(imu, fresh);
      // A sample without a voltage is no sample: NaN features make every score NaN, which compares as
      // "normal" however the vehicle is doing.
      const b = inp.battery;
      voltageNote = b && !Number.isFinite(b.voltageV) ? 'battery voltage unknown: no decision' : b ? null : voltageNote;
      battery = keep(battery, b && Number.isFinite(b.voltageV) ? [b] : undefined);
      if (voltageNote !== null || imu.length < c.windowSamples / 2 || battery.length < 2) return { state: s };
      // Per cell by the pack's own count when the driver knows it (a 3S pack is not a 4S one run flat).
      // A flight controller that reports the pack only as a whole gives none: then c.cells, said in the
      // agent's reasons, since a 6S pack taken for 4S is never seen run flat and a 3S one always is.
      const known = battery[battery.length - 1]?.cells;
      const cells = known ?? c.cells;
      cellsNote = known === undefined ? `battery cell count unknown (the flight controller reports only the pack's total voltage): taken as ${c.cells}S; set hal.mavlink.batteryCells` : null;
      const spacing = medianSpacingMs(imu);
      spacingNote = spacing > c.imuSpacingMsMax ? `IMU samples ${Math.round(spacing)} ms apart (the model needs about 100 ms): no decision` : null;
      if (spacingNote !== null) return { state: s };
      // The whole window, and its newer half: a fault that began a second ago still dominates the half.
      const half = Math.floor(c.windowSamples / 2);
      const full = await slot.run(telemetryFeatures({ imu, battery, cells }));
      const recent = imu.length >= c.windowSamples ? await slot.run(telemetryFeatures({ imu: imu.slice(-half), battery: battery.slice(-half), cells })) : full;
      if (full === null || recent === null) return { state: s }; // non-finite scores: no decision (the slot counts them)
      const severe = Math.max(full[2] ?? 0, recent[2] ?? 0);
      const degraded = Math.max((full[1] ?? 0) + (full[2] ?? 0), (recent[1] ?? 0) + (recent[2] ?? 0));
      const severeStreak = severe >= c.severeScoreMin ? s.severeStreak + 1 : 0;
      const condition: TelemetryAnomalyState['condition'] = severe >= c.severeScoreAct || severeStreak >= 2 ? 'severe' : degraded >= c.degradedScoreMin ? 'degraded' : 'normal';
      const outputs: AgentOutput[] = [];
      const model = slot.model();
      // Severity only escalates within a flight: once severe, the device stays out of the mission.
      const effective = s.condition === 'severe' ? 'severe' : condition;
      const canAct = armed !== false;
      if (effective === 'severe' && !s.acted && canAct) outputs.push({ type: 'action', action: { type: c.severeAction }, reason: `severe telemetry anomaly (score ${severe.toFixed(2)}, engine ${slot.engine()})` });
      const changed = effective !== s.condition;
      const due = effective !== 'normal' && (s.lastAttestMs === null || inp.nowMs - s.lastAttestMs >= c.reattestMs);
      let lastAttestMs = s.lastAttestMs;
      if (effective !== 'normal' && (changed || due)) {
        outputs.push({ type: 'attest', obs: { type: 'degraded', device: c.deviceId, severity: effective === 'severe' ? 'severe' : 'minor', reason: `telemetry anomaly score ${Math.max(severe, degraded).toFixed(2)}` }, ...(model ? { model } : {}) });
        lastAttestMs = inp.nowMs;
      }
      return { state: { condition: effective, severeStreak, lastAttestMs, acted: s.acted || (effective === 'severe' && canAct), ...(armed === undefined ? {} : { armed }) }, outputs };
    },
    async stop() {
      await slot.release();
    },
    engine: () => slot.engine(),
    model: () => slot.model(),
    modelRefusal: () => slot.refused(),
    engineReasons: () => [...slot.reasons(), ...[spacingNote, voltageNote, cellsNote, imuNote].filter((n): n is string => n !== null)],
  };
}

/** The median time between consecutive samples (their own clocks), ms. */
function medianSpacingMs(xs: readonly ImuSample[]): number {
  const d = xs.slice(1).map((x, i) => x.timeMs - (xs[i] as ImuSample).timeMs).sort((a, b) => a - b);
  return d[Math.floor(d.length / 2)] ?? 0;
}
