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
  'battery.drop-vps',
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

export function telemetryFeatures(w: TelemetryWindow): Float32Array {
  const an = w.imu.map((s) => norm(s.accelMps2));
  const gn = w.imu.map((s) => norm(s.gyroRadps));
  const volts = w.battery.map((b) => b.voltageV / Math.max(1, w.cells));
  const amps = w.battery.map((b) => b.currentA);
  const first = w.battery[0];
  const last = w.battery[w.battery.length - 1];
  const spanS = first && last ? Math.max(0.001, (last.timeMs - first.timeMs) / 1000) : 1;
  const drop = first && last ? (first.voltageV - last.voltageV) / Math.max(1, w.cells) / spanS : 0;
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
