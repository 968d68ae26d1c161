// Simulated sensors for agent training and agent simulations: range scans cast against round
// obstacles, and telemetry windows (IMU and battery, the signals every flight controller reports) of
// a flying multirotor with injected faults. Seeded: same seed, same data.

import type { BatteryState, ImuSample, RangeReading } from '../../hal/devices.js';
import type { Prng } from '../../runtime/lib/prng.js';
import { rangeBeams } from '../features/range.js';
import type { TelemetryWindow } from '../features/telemetry.js';

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

/** A vehicle's healthy operating point; a simulated device keeps one across windows so its data is continuous. */
export interface TelemetryBase {
  readonly cellV: number;
  /** Hover current, A. */
  readonly amps0: number;
  /** Pack internal resistance, ohm: load sag is I x R. */
  readonly ohm: number;
}

export function telemetryBase(prng: Prng): TelemetryBase {
  const u = (lo: number, hi: number): number => lo + prng.next() * (hi - lo);
  return { cellV: u(3.6, 4.15), amps0: u(8, 18), ohm: u(0.01, 0.04) };
}

/**
 * Faults as a flight controller's IMU and battery show them (no ESC telemetry needed): vibration from a
 * damaged propeller or loose mount; a failing motor (shaking, current up, and when severe the vehicle
 * rolls and pitches at rates the controller cannot hold); an ESC losing sync (spikes in acceleration and
 * current); a control oscillation in the body rates; a weak pack (low cell voltage) and a failing cell
 * (the voltage falling faster than the load explains).
 */
export const faultKinds = ['vibration', 'motor', 'esc-desync', 'gyro', 'battery-level', 'battery-drop'] as const;
export type FaultKind = (typeof faultKinds)[number];

const g = 9.80665;

/** A piecewise-constant profile over the window: `levels` values spread over samples [on, off), 0 elsewhere. */
function profile(levels: readonly number[], on: number, off: number): (k: number) => number {
  return (k) => (k >= on && k < off ? (levels[Math.floor(((k - on) * levels.length) / Math.max(1, off - on))] ?? 0) : 0);
}

/**
 * A 2 s window at 10 Hz (`samples` of them) of a multirotor, on the ground (idle, take-off, touchdown)
 * or flying: horizontal acceleration and braking as a position controller commands it (up to four
 * levels, in any direction, for part or all of the window), climbs and descents, coordinated turns, and
 * the current that goes with them (ramping with airspeed, stepping with climbs). Then sensor noise,
 * normal vibration, and one fault of the given severity. `prng` draws the flight and the noise;
 * `faultPrng` draws the fault, so a simulated device that passes a fresh Prng with the same seed each
 * window keeps the same fault, while training draws a new one per window. `steady` is level flight at a
 * constant speed and current, so consecutive windows of a simulated device join up without jumps.
 */
export function telemetryWindow(prng: Prng, t0Ms: number, condition: Condition, samples = 20, base: TelemetryBase = telemetryBase(prng), faultPrng: Prng = prng, kind?: FaultKind, flight: 'any' | 'steady' = 'any'): TelemetryWindow {
  const cells = 4;
  const fault = condition === 'normal' ? 'none' : (kind ?? faultPrng.pick(faultKinds));
  const sev = condition === 'severe';
  const m = (lo: number, hi: number): number => lo + prng.next() * (hi - lo);
  const f = (lo: number, hi: number): number => lo + faultPrng.next() * (hi - lo);
  const span = (): [number, number] => {
    const on = prng.chance(0.4) ? 0 : prng.int(samples);
    return [on, prng.chance(0.4) ? samples : Math.min(samples, on + 2 + prng.int(samples))];
  };
  // On the ground the motors idle (or are off); a take-off spools them up and climbs, a touchdown stops them.
  const steady = flight === 'steady';
  const phase = steady ? 'flying' : prng.pick(['flying', 'flying', 'flying', 'flying', 'idle', 'takeoff', 'touchdown'] as const);
  const [hOn, hOff] = span();
  const [vOn, vOff] = span();
  // Directions of the levels: often the next waypoint lies behind, so braking turns into accelerating the other way.
  const heading: number[] = [m(0, 2 * Math.PI)];
  for (let i = prng.int(4); i > 0; i--) heading.push(prng.chance(0.4) ? (heading[heading.length - 1] as number) + Math.PI : m(0, 2 * Math.PI));
  const horizontal = phase === 'flying' && !steady && prng.chance(0.7) ? heading.map(() => m(0, 6)) : [];
  const hMag = profile(horizontal, hOn, hOff);
  const hDir = profile(heading, hOn, hOff);
  const vertical = phase === 'takeoff' ? [m(1, 5)] : phase === 'touchdown' ? [m(0, 3)] : phase === 'flying' && !steady && prng.chance(0.5) ? Array.from({ length: 1 + prng.int(3) }, () => m(-4, 5)) : [];
  const up = profile(vertical, vOn, vOff);
  const turning = phase === 'flying' && !steady && prng.chance(0.3);
  const yawRate = turning ? m(-1, 1) : 0;
  const lateral = turning ? Math.max(-6, Math.min(6, yawRate * m(1, 10))) : 0;
  // Current: hover current ramping with airspeed (drag), plus a step while climbing.
  const ramp0 = steady ? 0.3 : m(-0.2, 0.8);
  const ramp1 = steady ? ramp0 : m(-0.2, 0.8);
  const climbA = m(0.02, 0.12); // per m/s^2 of upward acceleration
  const idleA = m(0, 2);
  const idle = (k: number): boolean => phase === 'idle' || (phase === 'takeoff' && k < vOn) || (phase === 'touchdown' && k >= vOff);
  const accelNoise = m(0.01, 0.5);
  const gyroNoise = m(0.005, 0.06);
  let vibration = 0;
  let rateOsc = 0;
  let spikeP = 0;
  let spikeAccel = 0;
  let currentNoise = m(0.2, 0.8);
  let currentFactor = 1;
  let cellV = base.cellV;
  // A healthy pack sags slowly; right after a load drop its voltage recovers (a negative drop) for a while.
  let dropVps = steady ? 0 : prng.chance(0.2) ? m(-0.02, 0) : m(0, 0.012);
  const voltNoise = m(0.005, 0.03);
  if (fault === 'vibration') vibration = sev ? f(7, 20) : f(2.2, 5);
  if (fault === 'gyro') rateOsc = sev ? f(2.8, 6) : f(0.9, 2);
  if (fault === 'motor') {
    vibration = sev ? f(3, 8) : f(1.5, 3.5);
    currentFactor = sev ? f(1.3, 1.8) : f(1.12, 1.3);
    currentNoise = sev ? f(2, 5) : f(0.8, 2);
    if (sev) rateOsc = f(1.5, 4);
  }
  if (fault === 'esc-desync') {
    spikeP = sev ? f(0.3, 0.6) : f(0.15, 0.3);
    spikeAccel = sev ? f(6, 14) : f(3, 6);
    currentNoise = sev ? f(4, 8) : f(1.5, 3);
  }
  if (fault === 'battery-level') cellV = sev ? f(2.9, 3.25) : f(3.35, 3.48);
  if (fault === 'battery-drop') dropVps = sev ? f(0.09, 0.3) : f(0.035, 0.07);
  const oscPhase = faultPrng.next() * 2 * Math.PI;
  const freq = f(0.8, 2.5); // radians per sample: an oscillation well above the manoeuvres
  const imu: ImuSample[] = [];
  const battery: BatteryState[] = [];
  for (let k = 0; k < samples; k++) {
    const timeMs = t0Ms + k * 100;
    const spike = spikeP > 0 && prng.chance(spikeP) ? spikeAccel : 0;
    const shake = (): number => prng.normal(0, accelNoise) + prng.normal(0, vibration) + (spike > 0 ? prng.normal(0, spike) : 0);
    const h = hMag(k);
    const d = hDir(k);
    imu.push({
      timeMs,
      accelMps2: { x: h * Math.cos(d) + shake(), y: h * Math.sin(d) + lateral + shake(), z: -(g + up(k)) + shake() },
      gyroRadps: {
        x: rateOsc * Math.sin(oscPhase + freq * k) + prng.normal(0, gyroNoise),
        y: rateOsc * Math.cos(oscPhase + freq * k) + prng.normal(0, gyroNoise),
        z: yawRate + prng.normal(0, gyroNoise),
      },
    });
    const flying = base.amps0 * currentFactor * (1 + ramp0 + ((ramp1 - ramp0) * k) / Math.max(1, samples - 1) + climbA * Math.max(0, up(k)));
    const a = Math.max(0, (idle(k) ? idleA : flying) + prng.normal(0, idle(k) ? 0.05 : currentNoise));
    const v = (cellV - (dropVps * k) / 10) * cells - a * base.ohm + prng.normal(0, voltNoise);
    battery.push({ timeMs, voltageV: v, currentA: a, remainingFraction: Math.max(0, (cellV - 3.3) / 0.9), consumedMah: 0, status: 'ok' });
  }
  return { imu, battery, cells };
}
