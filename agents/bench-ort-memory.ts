// `npm run bench:ort-memory`: what onnxruntime-node adds to a process's resident memory, and whether
// its session options change that. Each variant runs in a fresh child process that loads the shipped
// models into onnxruntime in a worker thread (as agents/inference/ort-worker.ts does), runs each once,
// waits, and reads /proc/self/smaps: VmRSS, the resident pages of onnxruntime's shared libraries, and
// anonymous memory (smaps' Anonymous: fields), against the same process before the worker started. A
// first variant starts the same worker without onnxruntime: what the thread alone costs.
//   npm run bench:ort-memory

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { resolveOrtPath } from './inference/ort-worker.js';
import { loadVerifiedModel, shippedModelsDir } from './models/registry.js';
import { unwrap } from '../runtime/lib/result.js';

const variants: Record<string, { session: Record<string, unknown> | null; limits?: { maxYoungGenerationSizeMb: number; maxOldGenerationSizeMb: number } }> = {
  'the worker thread alone, no onnxruntime': { session: null },
  'as shipped (ort-worker.ts)': { session: { intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: 'all' } },
  'no CPU arena, no memory pattern': { session: { intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: 'all', enableCpuMemArena: false, enableMemPattern: false } },
  'graph optimization disabled': { session: { intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: 'disabled' } },
  'worker heap 1 MB young, 16 MB old': { session: { intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: 'all' }, limits: { maxYoungGenerationSizeMb: 1, maxOldGenerationSizeMb: 16 } },
};

const workerSource = `
const { parentPort, workerData } = require('node:worker_threads');
const ort = workerData.session === null ? null : require(workerData.ortPath);
parentPort.once('message', async (models) => {
  for (const m of ort === null ? [] : models) {
    const s = await ort.InferenceSession.create(m.bytes, workerData.session);
    const feeds = { [s.inputNames[0]]: new ort.Tensor('float32', new Float32Array(m.inputSize), [1, m.inputSize]) };
    await s.run(feeds);
  }
  parentPort.postMessage('ran');
});`;

interface Sample {
  rssMb: number;
  /** Resident pages of libonnxruntime.so and its Node binding (code and data). */
  ortLibMb: number;
  /** Every mapping's Anonymous: field: the heaps, stacks and private copies. */
  anonMb: number;
}

function sample(): Sample {
  let region = '';
  let libKb = 0;
  let anonKb = 0;
  for (const line of readFileSync('/proc/self/smaps', 'utf8').split('\n')) {
    if (/^[0-9a-f]+-[0-9a-f]+ /.test(line)) region = line.trim().split(/\s+/).slice(5).join(' ');
    else if (line.startsWith('Rss:') && region.includes('onnxruntime')) libKb += Number(line.split(/\s+/)[1]);
    else if (line.startsWith('Anonymous:')) anonKb += Number(line.split(/\s+/)[1]);
  }
  return { rssMb: process.memoryUsage().rss / 1_048_576, ortLibMb: libKb / 1024, anonMb: anonKb / 1024 };
}

async function child(name: string): Promise<void> {
  const v = variants[name];
  const ortPath = resolveOrtPath();
  if (!v || !ortPath) throw new Error(!v ? `unknown variant ${name}` : 'onnxruntime-node is not installed');
  process.env.ORT_DISABLE_TELEMETRY ??= '1';
  const models = ['hazard-detect', 'telemetry-anomaly'].map((m) => {
    const loaded = unwrap(loadVerifiedModel(shippedModelsDir, m));
    return { bytes: loaded.bytes, inputSize: loaded.meta.input.size };
  });
  const before = sample();
  const w = new Worker(workerSource, { eval: true, workerData: { ortPath, session: v.session }, ...(v.limits ? { resourceLimits: v.limits } : {}) });
  await new Promise<void>((resolve, reject) => {
    w.once('message', () => resolve());
    w.once('error', reject);
    w.postMessage(models);
  });
  await new Promise((r) => setTimeout(r, 1_500));
  const after = sample();
  process.stdout.write(JSON.stringify({ before, after }) + '\n');
  await w.terminate();
}

const at = process.argv.indexOf('--child');
if (at >= 0) await child(process.argv[at + 1] as string);
else {
  console.log('onnxruntime-node with the two shipped models loaded and run once, in a fresh process each (MB resident):');
  for (const name of Object.keys(variants)) {
    const out = execFileSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), '--child', name], { encoding: 'utf8' });
    const { before, after } = JSON.parse(out) as { before: Sample; after: Sample };
    console.log(`  ${name.padEnd(40)} VmRSS ${before.rssMb.toFixed(0)} -> ${after.rssMb.toFixed(0)} (+${(after.rssMb - before.rssMb).toFixed(1)}); onnxruntime's libraries ${after.ortLibMb.toFixed(1)}; anonymous +${(after.anonMb - before.anonMb).toFixed(1)}`);
  }
}
