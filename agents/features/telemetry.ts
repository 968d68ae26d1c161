// Telemetry features for the anomaly model: one row per window of IMU and battery samples, the signals
// every flight controller reports (ESC telemetry is optional hardware, so the model does not need it).
// The training script and the on-device agent both use this function, so features mean the same.

import type { BatteryState, ImuSample } from '../../hal/devices.js';

export interface TelemetryWindow {
  readonly imu: readonly ImuSample[];
  readonly battery: readonly BatteryState[];
  /** Series cells in the pack, to compare voltages across vehicles. */
  readonly cells: number;
}

export const telemetryFeatureNames = [
  'accel.jitter', // RMS of sample-to-sample change / sqrt 2: vibration and shocks, not smooth manoeuvres
  'gyro.mean', // mean |body rate|
  'gyro.jitter', // RMS of sample-to-sample change of the body rates / sqrt 2: oscillation, not turns
  'battery.cell-v',
  'battery.drop-vps', // per cell, load sag removed
  'battery.current-a',
  'battery.current-std',
] as const;

export const telemetryFeatureCount = telemetryFeatureNames.length;
export const telemetryLabels = ['normal', 'degraded', 'severe'] as const;

const mean = (xs: readonly number[]): number => (xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length);
const std = (xs: readonly number[]): number => {
  const m = mean(xs);
  return xs.length === 0 ? 0 : Math.sqrt(mean(xs.map((x) => (x - m) * (x - m))));
};
const norm = (v: { x: number; y: number; z: number }): number => Math.hypot(v.x, v.y, v.z);

/**
 * Pack voltage drop in V/s with load sag removed: a throttle step sags the voltage by I x R at once,
 * which is not a failing cell. R is fitted from the window when the current varies, else a typical
 * 15 milliohm pack is assumed; then the drop is measured on V + I x R from the first to the last sample.
 */
export function loadCompensatedDrop(b: readonly BatteryState[]): number {
  const first = b[0];
  const last = b[b.length - 1];
  if (!first || !last || last.timeMs <= first.timeMs) return 0;
  const mi = mean(b.map((x) => x.currentA));
  const mv = mean(b.map((x) => x.voltageV));
  let sii = 0;
  let siv = 0;
  for (const x of b) {
    sii += (x.currentA - mi) ** 2;
    siv += (x.currentA - mi) * (x.voltageV - mv);
  }
  const r = sii / b.length > 1 ? Math.min(0.2, Math.max(0, -siv / sii)) : 0.015;
  return (first.voltageV + first.currentA * r - (last.voltageV + last.currentA * r)) / ((last.timeMs - first.timeMs) / 1000);
}

/** RMS of successive differences / sqrt 2: for white noise that is its standard deviation; a smooth signal gives ~0. */
function jitter(vs: readonly { x: number; y: number; z: number }[]): number {
  if (vs.length < 2) return 0;
  let sum = 0;
  for (let i = 1; i < vs.length; i++) {
    const a = vs[i - 1] as { x: number; y: number; z: number };
    const b = vs[i] as { x: number; y: number; z: number };
    sum += ((b.x - a.x) ** 2 + (b.y - a.y) ** 2 + (b.z - a.z) ** 2) / 3;
  }
  return Math.sqrt(sum / (vs.length - 1) / 2);
}

/** An IMU sample every axis of which is a number: one NaN axis (a driver glitch, a sensor dropping
 *  out) makes the window's features NaN, which the engines do not agree on and no threshold reads. */
export function imuSampleFinite(s: ImuSample): boolean {
  const { accelMps2: a, gyroRadps: g } = s;
  return [a.x, a.y, a.z, g.x, g.y, g.z].every(Number.isFinite);
}

/** A flight controller without a current sensor reports NaN; such samples count as no current. */
const finite = (x: number): number => (Number.isFinite(x) ? x : 0);

export function telemetryFeatures(w: TelemetryWindow): Float32Array {
  const gn = w.imu.map((s) => norm(s.gyroRadps));
  const battery = w.battery.map((b) => ({ ...b, currentA: finite(b.currentA) }));
  const volts = battery.map((b) => b.voltageV / Math.max(1, w.cells));
  const amps = battery.map((b) => b.currentA);
  return Float32Array.from([
    jitter(w.imu.map((s) => s.accelMps2)),
    mean(gn),
    jitter(w.imu.map((s) => s.gyroRadps)),
    mean(volts),
    loadCompensatedDrop(battery) / Math.max(1, w.cells),
    mean(amps),
    std(amps),
  ]);
}

/** The rule-based fallback: thresholds a person would pick, as [normal, degraded, severe] scores. */
export function telemetryRules(f: Float32Array): Float32Array {
  const v = (i: number): number => f[i] ?? 0;
  const severe = v(0) > 6 || v(2) > 1.5 || v(3) < 3.3 || v(4) > 0.08 || v(1) > 2.5;
  const degraded = v(0) > 1.8 || v(2) > 0.5 || v(3) < 3.5 || v(4) > 0.03;
  return severe ? Float32Array.of(0, 0.1, 0.9) : degraded ? Float32Array.of(0.1, 0.8, 0.1) : Float32Array.of(0.9, 0.08, 0.02);
}
