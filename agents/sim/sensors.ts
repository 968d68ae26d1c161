// Simulated sensors for agent training and agent simulations: range scans cast against round
// obstacles, and telemetry windows (IMU, battery, motors) with injected faults. Seeded: same seed, same data.

import type { BatteryState, ImuSample, RangeReading } from '../../hal/devices.js';
import type { Prng } from '../../runtime/lib/prng.js';
import { rangeBeams } from '../features/range.js';
import type { MotorSample, TelemetryWindow } from '../features/telemetry.js';

export interface Obstacle {
  readonly northM: number;
  readonly eastM: number;
  readonly radiusM: number;
}

export interface ScanFaults {
  /** Chance per beam of a one-off short return (dust, a bird, multipath). */
  readonly spuriousP: number;
  /** Chance per beam of missing a real obstacle (returns max range). */
  readonly dropoutP: number;
  readonly noiseM: number;
}

export const cleanScan: ScanFaults = { spuriousP: 0, dropoutP: 0, noiseM: 0 };
export const rangeMaxM = 20;

/** Distance along a ray to the nearest obstacle, or Infinity. */
function rayHit(n: number, e: number, dn: number, de: number, obstacles: readonly Obstacle[]): number {
  let best = Infinity;
  for (const o of obstacles) {
    const cn = o.northM - n;
    const ce = o.eastM - e;
    const proj = cn * dn + ce * de;
    const d2 = cn * cn + ce * ce;
    if (d2 <= o.radiusM * o.radiusM) return 0;
    if (proj <= 0) continue;
    const perp2 = d2 - proj * proj;
    if (perp2 > o.radiusM * o.radiusM) continue;
    best = Math.min(best, proj - Math.sqrt(o.radiusM * o.radiusM - perp2));
  }
  return best;
}

export interface Scan {
  readonly readings: readonly RangeReading[];
  /** 1 where the beam's true ray meets an obstacle within range. */
  readonly truth: readonly number[];
}

export function castScan(prng: Prng, timeMs: number, northM: number, eastM: number, headingRad: number, obstacles: readonly Obstacle[], faults: ScanFaults): Scan {
  const readings: RangeReading[] = [];
  const truth: number[] = [];
  for (let i = 0; i < rangeBeams; i++) {
    const bearingRad = (i * 2 * Math.PI) / rangeBeams;
    const a = headingRad + bearingRad;
    const hit = rayHit(northM, eastM, Math.cos(a), Math.sin(a), obstacles);
    const real = hit < rangeMaxM;
    truth.push(real ? 1 : 0);
    let d = real ? hit + prng.normal(0, faults.noiseM) : rangeMaxM;
    if (real && prng.chance(faults.dropoutP)) d = rangeMaxM;
    if (prng.chance(faults.spuriousP)) d = Math.min(d, prng.next() * rangeMaxM * 0.9 + 0.3);
    readings.push({ timeMs, distanceM: Math.min(rangeMaxM, Math.max(0.1, d)), minM: 0.1, maxM: rangeMaxM, bearingRad });
  }
  return { readings, truth };
}

export type Condition = 'normal' | 'degraded' | 'severe';

/** A 2 s window at 10 Hz from a quadcopter on a 4S pack, with one fault of the given severity. */
/** A vehicle's healthy operating point; a simulated device keeps one across windows so its data is continuous. */
export interface TelemetryBase {
  readonly cellV: number;
  readonly rpm0: number;
  readonly amps0: number;
  readonly bias: readonly number[];
}

export function telemetryBase(prng: Prng): TelemetryBase {
  const u = (lo: number, hi: number): number => lo + prng.next() * (hi - lo);
  return { cellV: u(3.6, 4.15), rpm0: u(5000, 7000), amps0: u(8, 18), bias: [0, 1, 2, 3].map(() => u(-0.03, 0.03)) };
}

/**
 * `faultPrng` draws the fault and the window's operating noise; a simulated device passes a fresh
 * Prng with the same seed each window so a fault persists, while training draws a new one per window.
 */
export const faultKinds = ['vibration', 'motor', 'battery-level', 'battery-drop', 'gyro', 'jitter'] as const;
export type FaultKind = (typeof faultKinds)[number];

export function telemetryWindow(prng: Prng, t0Ms: number, condition: Condition, samples = 20, base: TelemetryBase = telemetryBase(prng), faultPrng: Prng = prng, kind?: FaultKind): TelemetryWindow {
  const cells = 4;
  const fault = condition === 'normal' ? 'none' : (kind ?? faultPrng.pick(faultKinds));
  const sev = condition === 'severe';
  const u = (lo: number, hi: number): number => lo + faultPrng.next() * (hi - lo);
  let accelNoise = u(0.1, 0.5);
  let gyroBase = u(0.0, 0.3);
  let cellV = base.cellV;
  let dropVps = u(0.0, 0.012);
  let imbalance = 0;
  let jitter = u(0.003, 0.02);
  if (fault === 'vibration') accelNoise = sev ? u(7, 20) : u(2.2, 5);
  if (fault === 'gyro') gyroBase = sev ? u(2.8, 6) : u(0.9, 2);
  if (fault === 'battery-level') cellV = sev ? u(2.9, 3.25) : u(3.35, 3.48);
  if (fault === 'battery-drop') dropVps = sev ? u(0.09, 0.3) : u(0.035, 0.07);
  if (fault === 'motor') {
    imbalance = sev ? u(0.35, 0.9) : u(0.13, 0.25);
    if (sev) gyroBase = Math.max(gyroBase, u(1, 4));
  }
  if (fault === 'jitter') jitter = sev ? u(0.16, 0.3) : u(0.09, 0.13);
  const failed = faultPrng.int(4);
  const { rpm0, amps0, bias } = base;
  const imu: ImuSample[] = [];
  const battery: BatteryState[] = [];
  const motors: MotorSample[] = [];
  for (let k = 0; k < samples; k++) {
    const timeMs = t0Ms + k * 100;
    imu.push({
      timeMs,
      accelMps2: { x: prng.normal(0, accelNoise), y: prng.normal(0, accelNoise), z: -9.80665 + prng.normal(0, accelNoise) },
      gyroRadps: { x: gyroBase * Math.sin(k) + prng.normal(0, 0.05), y: gyroBase * Math.cos(k) + prng.normal(0, 0.05), z: prng.normal(0, 0.05) },
    });
    const v = (cellV - (dropVps * k) / 10) * cells + prng.normal(0, 0.01);
    const a = amps0 + prng.normal(0, 0.6);
    battery.push({ timeMs, voltageV: v, currentA: a, remainingFraction: Math.max(0, (cellV - 3.3) / 0.9), consumedMah: 0, status: 'ok' });
    const rpm = bias.map((b, m) => rpm0 * (1 + b) * (m === failed ? 1 - imbalance : 1) * (1 + prng.normal(0, jitter)));
    const cur = bias.map((b, m) => (amps0 / 4) * (1 + b) * (m === failed ? 1 - imbalance * 0.8 : 1) * (1 + prng.normal(0, 0.03)));
    motors.push({ timeMs, rpm, currentA: cur });
  }
  return { imu, battery, motors, cells };
}
