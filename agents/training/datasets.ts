// Labelled data sets for the shipped models, generated from the seeded sensor simulation: telemetry
// windows with injected faults, and range-scan pairs around random obstacles with spurious returns.

import { Prng } from '../../runtime/lib/prng.js';
import { rangeBeams, rangeFeatures } from '../features/range.js';
import { telemetryFeatures, telemetryLabels } from '../features/telemetry.js';
import { castScan, telemetryWindow, type Condition, type Obstacle } from '../sim/sensors.js';

export interface Dataset {
  readonly xs: Float32Array[];
  readonly ys: Float32Array[];
}

export function telemetryDataset(seed: number, count: number): Dataset {
  const prng = new Prng(seed);
  const xs: Float32Array[] = [];
  const ys: Float32Array[] = [];
  const conditions: Condition[] = ['normal', 'normal', 'degraded', 'severe'];
  for (let i = 0; i < count; i++) {
    const c = conditions[i % conditions.length] as Condition;
    // The agent scores its whole 2 s window and its newest second, so both lengths are trained.
    xs.push(telemetryFeatures(telemetryWindow(prng, i * 2000, c, prng.chance(0.5) ? 10 : 20)));
    ys.push(Float32Array.from(telemetryLabels, (l) => (l === c ? 1 : 0)));
  }
  return { xs, ys };
}

export function rangeDataset(seed: number, count: number): Dataset {
  const prng = new Prng(seed);
  const xs: Float32Array[] = [];
  const ys: Float32Array[] = [];
  for (let i = 0; i < count; i++) {
    const obstacles: Obstacle[] = [];
    const k = prng.int(4);
    for (let j = 0; j < k; j++) obstacles.push({ northM: prng.range(-18, 18), eastM: prng.range(-18, 18), radiusM: 0.5 + prng.next() * 2.5 });
    const faults = { spuriousP: prng.chance(0.5) ? 0.08 : 0.01, dropoutP: prng.chance(0.3) ? 0.1 : 0.01, noiseM: 0.05 + prng.next() * 0.2 };
    const heading = prng.next() * 2 * Math.PI;
    const speed = prng.next() * 1.5; // metres moved between the two scans
    const pn = -speed * Math.cos(heading);
    const pe = -speed * Math.sin(heading);
    const previous = castScan(prng, 0, pn, pe, heading, obstacles, faults);
    const current = castScan(prng, 200, 0, 0, heading, obstacles, faults);
    xs.push(rangeFeatures(current.readings, previous.readings));
    ys.push(Float32Array.from({ length: rangeBeams }, (_, b) => current.truth[b] ?? 0));
  }
  return { xs, ys };
}
