// Telemetry features for the anomaly model: one row per window of IMU, battery and motor samples.
// The training script and the on-device agent both use this function, so features mean the same.

import type { BatteryState, ImuSample } from '../../hal/devices.js';

/** Motor telemetry (ESC RPM and current), which the flight controller reports per motor. */
export interface MotorSample {
  readonly timeMs: number;
  readonly rpm: readonly number[];
  readonly currentA: readonly number[];
}

export interface TelemetryWindow {
  readonly imu: readonly ImuSample[];
  readonly battery: readonly BatteryState[];
  readonly motors: readonly MotorSample[];
  /** Series cells in the pack, to compare voltages across vehicles. */
  readonly cells: number;
}

export const telemetryFeatureNames = [
  'accel.norm-dev', // mean | |a| - g |
  'accel.std',
  'gyro.mean',
  'gyro.std',
  'battery.cell-v',
  'battery.drop-vps', // per cell, load sag removed
  'battery.current-a',
  'battery.current-std',
  'motor.rpm-mean',
  'motor.rpm-spread', // (max motor mean - min motor mean) / overall mean
  'motor.current-spread',
  'motor.rpm-jitter', // mean per-motor std / mean
] as const;

export const telemetryFeatureCount = telemetryFeatureNames.length;
export const telemetryLabels = ['normal', 'degraded', 'severe'] as const;

const g = 9.80665;
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

export function telemetryFeatures(w: TelemetryWindow): Float32Array {
  const an = w.imu.map((s) => norm(s.accelMps2));
  const gn = w.imu.map((s) => norm(s.gyroRadps));
  const volts = w.battery.map((b) => b.voltageV / Math.max(1, w.cells));
  const amps = w.battery.map((b) => b.currentA);
  const drop = loadCompensatedDrop(w.battery) / Math.max(1, w.cells);
  const motorCount = w.motors[0]?.rpm.length ?? 0;
  const perMotorRpm: number[] = [];
  const perMotorCur: number[] = [];
  const jitter: number[] = [];
  for (let m = 0; m < motorCount; m++) {
    const r = w.motors.map((s) => s.rpm[m] ?? 0);
    perMotorRpm.push(mean(r));
    perMotorCur.push(mean(w.motors.map((s) => s.currentA[m] ?? 0)));
    jitter.push(std(r));
  }
  const rpmMean = mean(perMotorRpm);
  const curMean = mean(perMotorCur);
  const spread = (xs: number[], m: number): number => (xs.length === 0 || m <= 0 ? 0 : (Math.max(...xs) - Math.min(...xs)) / m);
  return Float32Array.from([
    mean(an.map((a) => Math.abs(a - g))),
    std(an),
    mean(gn),
    std(gn),
    mean(volts),
    drop,
    mean(amps),
    std(amps),
    rpmMean / 1000,
    spread(perMotorRpm, rpmMean),
    spread(perMotorCur, curMean),
    rpmMean > 0 ? mean(jitter) / rpmMean : 0,
  ]);
}

/** The rule-based fallback: thresholds a person would pick, as [normal, degraded, severe] scores. */
export function telemetryRules(f: Float32Array): Float32Array {
  const v = (i: number): number => f[i] ?? 0;
  const severe = v(9) > 0.3 || v(4) < 3.3 || v(5) > 0.08 || v(1) > 6 || v(2) > 2.5;
  const degraded = v(9) > 0.12 || v(4) < 3.5 || v(5) > 0.03 || v(1) > 2 || v(2) > 0.8 || v(11) > 0.08;
  return severe ? Float32Array.of(0, 0.1, 0.9) : degraded ? Float32Array.of(0.1, 0.8, 0.1) : Float32Array.of(0.9, 0.08, 0.02);
}
