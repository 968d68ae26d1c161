// `npm run bench:agents`: inference latency (p50, p99) and runs per second for every shipped model on
// every engine (onnxruntime-node in its worker thread, the pure-TypeScript engine, the rules), single
// rows as the agents run them; then consensus commit latency with agents inferring flat out (their
// attestations in consensus) against without, in alternating pairs (bench-consensus.ts).
//   npm run bench:agents [-- --json]     BENCH_MS (per engine, default 2000), BENCH_CONSENSUS_S (per run,
//                                        default 10), BENCH_PAIRS (without/with pairs, default 3)

import { percentile } from '../runtime/bench/measure.js';
import { unwrap } from '../runtime/lib/result.js';
import { rangeRules } from './features/range.js';
import { telemetryRules } from './features/telemetry.js';
import { loadInference, type EngineKind } from './inference/engine.js';
import { OrtWorker } from './inference/ort-worker.js';
import { loadVerifiedModel, shippedModelsDir } from './models/registry.js';
import { rangeDataset, telemetryDataset } from './training/datasets.js';
import { benchConsensusWithAgents } from './bench-consensus.js';

interface Row {
  model: string;
  engine: EngineKind;
  runs: number;
  p50Us: number;
  p99Us: number;
  runsPerSec: number;
}

const models = [
  { name: 'telemetry-anomaly', rules: telemetryRules, data: telemetryDataset },
  { name: 'hazard-detect', rules: rangeRules, data: rangeDataset },
] as const;

async function benchOne(name: string, engine: EngineKind, rules: (f: Float32Array) => Float32Array, xs: Float32Array[], ort: OrtWorker, timeMs: number): Promise<Row> {
  const v = unwrap(loadVerifiedModel(shippedModelsDir, name));
  const inf = await loadInference({ modelBytes: v.bytes, inputSize: v.meta.input.size, outputSize: v.meta.output.size, rules, ort, prefer: [engine] });
  if (inf.engine !== engine) throw new Error(`${name}: ${engine} unavailable: ${inf.reasons.join('; ')}`);
  for (let i = 0; i < 200; i++) await inf.run(xs[i % xs.length] as Float32Array, 1); // warm-up
  const lat: number[] = [];
  const t0 = performance.now();
  while (performance.now() - t0 < timeMs && lat.length < 1_000_000) {
    const s = performance.now();
    await inf.run(xs[lat.length % xs.length] as Float32Array, 1);
    lat.push((performance.now() - s) * 1000);
    // Yield now and then, as agent ticks do, so timers and the worker's replies are not starved.
    if (lat.length % 64 === 0) await new Promise((r) => setImmediate(r));
  }
  const total = performance.now() - t0;
  await inf.release();
  lat.sort((a, b) => a - b);
  return { model: name, engine, runs: lat.length, p50Us: percentile(lat, 50), p99Us: percentile(lat, 99), runsPerSec: (lat.length / total) * 1000 };
}

async function main(): Promise<void> {
  const timeMs = Number(process.env.BENCH_MS ?? 2000);
  const ort = new OrtWorker();
  const rows: Row[] = [];
  for (const m of models) {
    const { xs } = m.data(99, 512);
    for (const engine of ['onnxruntime', 'pure-ts', 'rules'] as const) rows.push(await benchOne(m.name, engine, m.rules, xs, ort, timeMs));
  }
  await ort.close();
  console.log('Inference, one row per run as agents run it (onnxruntime includes the worker round trip)');
  console.log(`${'model'.padEnd(20)}${'engine'.padEnd(13)}${'p50 µs'.padStart(9)}${'p99 µs'.padStart(9)}${'runs/s'.padStart(10)}`);
  for (const r of rows) console.log(`${r.model.padEnd(20)}${r.engine.padEnd(13)}${r.p50Us.toFixed(1).padStart(9)}${r.p99Us.toFixed(1).padStart(9)}${Math.round(r.runsPerSec).toString().padStart(10)}`);
  const consensus = await benchConsensusWithAgents();
  console.log(consensus.text);
  if (process.argv.includes('--json')) console.log(JSON.stringify({ inference: rows, consensus: consensus.json }, null, 2));
}

await main();
