// `npm run models:train`: generates labelled data from the seeded simulation, trains the shipped
// models, exports ONNX, and writes metadata.json (version, sha256) and evaluation.json beside each.
// Deterministic: the same seed reproduces the same bytes and hashes.

import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { rangeBeams, rangeFeatureCount } from '../features/range.js';
import { telemetryFeatureCount, telemetryFeatureNames, telemetryLabels } from '../features/telemetry.js';
import { decodeOnnx } from '../inference/onnx-proto.js';
import { createTsSession } from '../inference/ts-engine.js';
import { modelFormat, sha256Hex, shippedModelsDir, type ModelMetadata } from '../models/registry.js';
import { unwrap } from '../../runtime/lib/result.js';
import { rangeDataset, telemetryDataset, type Dataset } from './datasets.js';
import { evaluate } from './evaluate.js';
import { mlpToOnnx, trainMlp, type MlpSpec } from './mlp.js';
import { encodeOnnx } from '../inference/onnx-proto.js';

interface Plan {
  readonly name: string;
  readonly version: string;
  readonly spec: MlpSpec;
  readonly features: readonly string[];
  readonly labels: readonly string[];
  readonly data: (seed: number, n: number) => Dataset;
  readonly train: number;
  readonly heldOut: number;
  readonly epochs: number;
  /** Labels (output indexes) that count as positive, for precision and recall. */
  readonly positives: Readonly<Record<string, readonly number[]>>;
  readonly multiLabel: boolean;
}

export const plans: readonly Plan[] = [
  {
    name: 'telemetry-anomaly',
    // 2.0.0: IMU and battery only (1.0.0 also wanted ESC motor telemetry, which few flight controllers report).
    version: '2.0.0',
    spec: { sizes: [telemetryFeatureCount, 32, 16, telemetryLabels.length], output: 'softmax' },
    features: telemetryFeatureNames,
    labels: telemetryLabels,
    data: telemetryDataset,
    train: 12000,
    heldOut: 3000,
    epochs: 40,
    positives: { anomaly: [1, 2], severe: [2] },
    multiLabel: false,
  },
  {
    name: 'hazard-detect',
    version: '1.0.0',
    spec: { sizes: [rangeFeatureCount, 64, 32, rangeBeams], output: 'sigmoid' },
    features: Array.from({ length: rangeFeatureCount }, (_, i) => (i < rangeBeams ? `range.now.${i}` : `range.prev.${i - rangeBeams}`)),
    labels: Array.from({ length: rangeBeams }, (_, i) => `obstacle.beam${i}`),
    data: rangeDataset,
    train: 8000,
    heldOut: 2000,
    epochs: 30,
    positives: {},
    multiLabel: true,
  },
];

export function trainAll(seed: number, outDir = shippedModelsDir, log: (s: string) => void = console.log): void {
  for (const [k, p] of plans.entries()) {
    const t0 = performance.now();
    const trainSet = p.data(seed * 1000 + k * 2, p.train);
    const heldOut = p.data(seed * 1000 + k * 2 + 1, p.heldOut);
    const opts = { seed: seed * 1000 + k, epochs: p.epochs, batch: 32, learningRate: 0.003 };
    const mlp = trainMlp(p.spec, trainSet.xs, trainSet.ys, opts);
    const onnx = encodeOnnx(mlpToOnnx(mlp, p.name, p.version));
    // Evaluate the exported file itself, through the pure-TypeScript engine, so the numbers describe what ships.
    const session = unwrap(createTsSession(unwrap(decodeOnnx(onnx))));
    const preds = heldOut.xs.map((x) => session.run(x, 1));
    const evaluation = evaluate(p.name, p.version, preds, heldOut.ys, p.multiLabel, p.positives, p.labels);
    const dir = join(outDir, p.name);
    mkdirSync(dir, { recursive: true });
    const meta: ModelMetadata = {
      format: modelFormat,
      name: p.name,
      version: p.version,
      file: 'model.onnx',
      bytes: onnx.length,
      hash: { alg: 'sha256', hex: sha256Hex(onnx) },
      input: { name: 'features', size: p.spec.sizes[0] as number, features: p.features },
      output: { name: 'scores', size: p.spec.sizes[p.spec.sizes.length - 1] as number, labels: p.labels, activation: p.spec.output },
      opset: 13,
      training: { runSeed: seed, sizes: p.spec.sizes, ...opts, trainSamples: p.train, heldOutSamples: p.heldOut, generator: 'agents/sim/sensors.ts via agents/training/datasets.ts' },
    };
    writeFileSync(join(dir, 'model.onnx'), onnx);
    writeFileSync(join(dir, 'metadata.json'), JSON.stringify(meta, null, 2) + '\n');
    writeFileSync(join(dir, 'evaluation.json'), JSON.stringify(evaluation, null, 2) + '\n');
    log(`${p.name} ${p.version}: ${onnx.length} bytes sha256 ${meta.hash.hex.slice(0, 16)}… ${JSON.stringify(evaluation.summary)} (${Math.round(performance.now() - t0)} ms)`);
  }
}

const isMain = process.argv[1] !== undefined && pathToFileURL(resolve(process.argv[1])).href === import.meta.url;
if (isMain) {
  const i = process.argv.indexOf('--seed');
  const seed = i > 0 ? Number(process.argv[i + 1]) : 1;
  if (!Number.isSafeInteger(seed)) {
    console.error('models:train: --seed must be an integer');
    process.exit(2);
  }
  trainAll(seed);
}
