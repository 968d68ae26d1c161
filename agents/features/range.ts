// Range-scan features for the hazard model: two consecutive scans of a ring of beams, normalised to
// 0..1 of the sensor's range. The previous scan lets the model reject one-off spurious returns.

import type { RangeReading } from '../../hal/devices.js';

export const rangeBeams = 16;
export const rangeFeatureCount = rangeBeams * 2;

/** The range ring the hazard model was trained on (agents/sim/sensors.ts castScan): 16 beams around the
 *  heading, 20 m. Simulated drones carry this one (fleet-sim's flight layer, a device's `hal.driver:
 *  sim`), so their scans mean to the model what its training scans meant. */
export const hazardRangeRing = { rateHz: 10, beamsRad: Array.from({ length: rangeBeams }, (_, i) => (i * 2 * Math.PI) / rangeBeams), minM: 0.1, maxM: 20 } as const;

/** A scan whose every beam has a distance (+Infinity, nothing in range, reads as clear) and a finite
 *  range: a NaN distance became a NaN feature, and scores no engine agrees on. */
export function rangeScanUsable(scan: readonly RangeReading[]): boolean {
  return scan.every((r) => !Number.isNaN(r.distanceM) && Number.isFinite(r.maxM));
}

export function rangeFeatures(current: readonly RangeReading[], previous: readonly RangeReading[] | undefined): Float32Array {
  const out = new Float32Array(rangeFeatureCount).fill(1);
  const put = (scan: readonly RangeReading[], offset: number): void => {
    for (let i = 0; i < rangeBeams && i < scan.length; i++) {
      const r = scan[i] as RangeReading;
      const span = Math.max(1e-6, r.maxM);
      out[offset + i] = Math.min(1, Math.max(0, r.distanceM / span));
    }
  };
  put(current, 0);
  put(previous ?? current, rangeBeams);
  return out;
}

/** The rule-based fallback: a beam sees an obstacle when it returns short now and returned short before. */
export function rangeRules(f: Float32Array): Float32Array {
  const out = new Float32Array(rangeBeams);
  for (let i = 0; i < rangeBeams; i++) {
    const now = f[i] ?? 1;
    const before = f[rangeBeams + i] ?? 1;
    out[i] = now < 0.95 && before < 0.95 && Math.abs(now - before) < 0.15 ? 0.9 : now < 0.95 ? 0.5 : 0.02;
  }
  return out;
}
