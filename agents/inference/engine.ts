// Picks how an agent infers: onnxruntime-node in the worker when it loads, else the pure-TypeScript
// engine when it can run the model (in its own worker on a device), else the agent's rule-based
// fallback. A model is checked before it is relied on: its size in multiply-adds, probe rows that must
// give finite outputs of the right size, and, in a worker, one row's time against the agent's budget.
// Status reports the choice and why better engines were passed over.

import { limits } from '../../runtime/lib/limits.js';
import { decodeOnnx } from './onnx-proto.js';
import type { OrtWorker } from './ort-worker.js';
import { createTsSession, multiplyAddsPerRow } from './ts-engine.js';

export type EngineKind = 'onnxruntime' | 'pure-ts' | 'rules';

/** A loaded model: feature rows in, output rows out. `reasons` says why better engines were passed over. */
export interface Inference {
  readonly engine: EngineKind;
  readonly inputSize: number;
  readonly outputSize: number;
  readonly reasons: readonly string[];
  run(input: Float32Array, batch: number): Promise<Float32Array>;
  /** The last run's time inside the engine's worker, ms; null when it ran on this thread (the
   *  simulator's engines, the rules), where wall time must decide nothing. */
  lastRunMs(): number | null;
  release(): Promise<void>;
}

export interface InferenceOptions {
  /** Verified model bytes (see models/registry.ts), or undefined when no model is available. */
  readonly modelBytes: Uint8Array | undefined;
  readonly inputSize: number;
  readonly outputSize: number;
  /** What the agent computes when no model can run: one output row per feature row. */
  readonly rules: (features: Float32Array) => Float32Array;
  /** The shared onnxruntime worker; omitted means onnxruntime-node is not tried. */
  readonly ort?: OrtWorker;
  /** The shared pure-TypeScript worker (OrtWorker.pureTs); omitted means pure-ts runs on this thread,
   *  as in the simulators, whose ticks must settle at once. */
  readonly tsWorker?: OrtWorker;
  /** Engines to try, best first (default all three). */
  readonly prefer?: readonly EngineKind[];
  /** Feature rows like the ones the agent will feed, probed at load besides an all-zero row (default:
   *  a few fixed rows of values in 0..1). */
  readonly probeRows?: readonly Float32Array[];
  /** The agent's CPU budget for a tick, ms: a model one row of which takes longer in a worker is refused. */
  readonly budgetMs?: number;
}

/** Why a probe's output cannot be what the agent reads, or null when it can. */
function probeProblem(out: Float32Array, rows: number, outputSize: number): string | null {
  if (out.length !== rows * outputSize) return `the model gives ${out.length / rows} outputs, the agent reads ${outputSize}`;
  const bad = out.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) return `the model gives non-finite outputs (probe row ${Math.floor(bad / outputSize) + 1} of ${rows}; NaN or infinite weights?)`;
  return null;
}

/** The probe batch: an all-zero row, then the agent's rows or a few fixed ones in 0..1 (seeded, so
 *  every device probes alike). A model finite on zeros and NaN on every real row passed a zero probe. */
function probeBatch(o: InferenceOptions): { input: Float32Array; rows: number } {
  let seed = 0x2545f491;
  const fixed = (): Float32Array => Float32Array.from({ length: o.inputSize }, () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) % 1000) / 999);
  const rows = [new Float32Array(o.inputSize), ...(o.probeRows?.length ? o.probeRows : [fixed(), fixed(), fixed()])].filter((r) => r.length === o.inputSize);
  const input = new Float32Array(rows.length * o.inputSize);
  rows.forEach((r, i) => input.set(r, i * o.inputSize));
  return { input, rows: rows.length };
}

/** Checks a model loaded in a worker: the probe batch, then one row timed against the budget. */
async function probeInWorker(w: OrtWorker, session: number, o: InferenceOptions): Promise<string | null> {
  const probe = probeBatch(o);
  const problem = probeProblem(await w.run(session, probe.input, probe.rows, o.inputSize, true), probe.rows, o.outputSize);
  if (problem !== null || o.budgetMs === undefined) return problem;
  // The better of two runs of one row: the first may pay for warming up.
  const row = probe.input.subarray(o.inputSize, 2 * o.inputSize);
  let bestMs = Infinity;
  for (let i = 0; i < 2; i++) bestMs = Math.min(bestMs, (await w.runTimed(session, row, 1, o.inputSize, true)).busyMs);
  return bestMs > o.budgetMs ? `one row takes ${bestMs.toFixed(1)} ms to infer here, over the agent's budget of ${o.budgetMs} ms a tick` : null;
}

/** A model loaded in a worker as an Inference. */
async function inWorker(engine: 'onnxruntime' | 'pure-ts', w: OrtWorker, o: InferenceOptions, reasons: string[]): Promise<Inference> {
  const session = await w.load(o.modelBytes as Uint8Array);
  let problem: string | null;
  try {
    problem = await probeInWorker(w, session, o);
  } catch (e) {
    problem = e instanceof Error ? e.message : String(e);
  }
  if (problem !== null) {
    await w.release(session).catch(() => undefined);
    throw new Error(problem);
  }
  let lastMs: number | null = null;
  return {
    engine,
    inputSize: o.inputSize,
    outputSize: o.outputSize,
    reasons,
    run: async (x, n) => {
      const r = await w.runTimed(session, x, n, o.inputSize);
      lastMs = r.busyMs;
      return r.output;
    },
    lastRunMs: () => lastMs,
    release: () => w.release(session).catch(() => undefined),
  };
}

export async function loadInference(o: InferenceOptions): Promise<Inference> {
  const reasons: string[] = [];
  const prefer = o.prefer ?? ['onnxruntime', 'pure-ts', 'rules'];
  const base = { inputSize: o.inputSize, outputSize: o.outputSize, lastRunMs: () => null };
  const decoded = o.modelBytes ? decodeOnnx(o.modelBytes) : undefined;
  // Counted from the graph before anything runs it: a hash-valid model of 200 large layers took 11.6 s
  // a row, and froze the device that ran it.
  const macs = decoded?.ok ? multiplyAddsPerRow(decoded.value) : 0;
  for (const kind of prefer) {
    if (kind === 'rules') break;
    if (!o.modelBytes || !decoded) {
      reasons.push('no verified model file');
      break;
    }
    if (macs > limits.modelMultiplyAddsPerRowMax) {
      reasons.push(`the model needs ${macs} multiply-adds a row, more than the ${limits.modelMultiplyAddsPerRowMax} a device runs (limits.modelMultiplyAddsPerRowMax)`);
      break;
    }
    if (kind === 'onnxruntime') {
      if (!o.ort) {
        reasons.push('onnxruntime: not enabled');
        continue;
      }
      try {
        // The probe checks the model's shapes before the agent relies on it: onnxruntime runs a model
        // whose output is not the size the agent reads, and the agent would read zeros past it.
        return await inWorker('onnxruntime', o.ort, o, reasons);
      } catch (e) {
        reasons.push(`onnxruntime: ${e instanceof Error ? e.message : String(e)}`);
      }
    } else {
      const s = decoded.ok ? createTsSession(decoded.value) : decoded;
      if (!s.ok) {
        reasons.push(`pure-ts: ${s.error}`);
        continue;
      }
      if (s.value.inputSize !== o.inputSize || s.value.outputSize !== o.outputSize) {
        reasons.push(`pure-ts: model shape ${s.value.inputSize}->${s.value.outputSize} does not match the agent's ${o.inputSize}->${o.outputSize}`);
        continue;
      }
      if (o.tsWorker) {
        try {
          return await inWorker('pure-ts', o.tsWorker, o, reasons);
        } catch (e) {
          reasons.push(`pure-ts: ${e instanceof Error ? e.message : String(e)}`);
          continue;
        }
      }
      const session = s.value;
      // The same probe as in a worker, untimed: weights whose shapes do not chain fail here, not on every tick.
      const probe = probeBatch(o);
      let problem: string | null;
      try {
        problem = probeProblem(session.run(probe.input, probe.rows), probe.rows, o.outputSize);
      } catch (e) {
        problem = e instanceof Error ? e.message : String(e);
      }
      if (problem !== null) {
        reasons.push(`pure-ts: ${problem}`);
        continue;
      }
      return { ...base, engine: 'pure-ts', reasons, run: (x, n) => Promise.resolve(session.run(x, n)), release: () => Promise.resolve() };
    }
  }
  return {
    ...base,
    engine: 'rules',
    reasons,
    run: (x, n) => {
      const out = new Float32Array(n * o.outputSize);
      for (let i = 0; i < n; i++) out.set(o.rules(x.subarray(i * o.inputSize, (i + 1) * o.inputSize)), i * o.outputSize);
      return Promise.resolve(out);
    },
    release: () => Promise.resolve(),
  };
}
