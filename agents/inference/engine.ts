// Picks how an agent infers: onnxruntime-node in the worker when it loads, else the pure-TypeScript
// engine when it can run the model, else the agent's rule-based fallback. Status reports the choice.

import { decodeOnnx } from './onnx-proto.js';
import type { OrtWorker } from './ort-worker.js';
import { createTsSession } from './ts-engine.js';

export type EngineKind = 'onnxruntime' | 'pure-ts' | 'rules';

/** A loaded model: feature rows in, output rows out. `reasons` says why better engines were passed over. */
export interface Inference {
  readonly engine: EngineKind;
  readonly inputSize: number;
  readonly outputSize: number;
  readonly reasons: readonly string[];
  run(input: Float32Array, batch: number): Promise<Float32Array>;
  release(): Promise<void>;
}

export interface InferenceOptions {
  /** Verified model bytes (see models/registry.ts), or undefined when no model is available. */
  readonly modelBytes: Uint8Array | undefined;
  readonly inputSize: number;
  readonly outputSize: number;
  /** What the agent computes when no model can run: one output row per feature row. */
  readonly rules: (features: Float32Array) => Float32Array;
  /** The shared worker; omitted means onnxruntime-node is not tried. */
  readonly ort?: OrtWorker;
  /** Engines to try, best first (default all three). */
  readonly prefer?: readonly EngineKind[];
}

/** Why one probe row's output cannot be what the agent reads, or null when it can. */
function probeProblem(out: Float32Array, outputSize: number): string | null {
  if (out.length !== outputSize) return `the model gives ${out.length} outputs, the agent reads ${outputSize}`;
  if (!out.every(Number.isFinite)) return 'the model gives non-finite outputs (NaN or infinite weights?)';
  return null;
}

export async function loadInference(o: InferenceOptions): Promise<Inference> {
  const reasons: string[] = [];
  const prefer = o.prefer ?? ['onnxruntime', 'pure-ts', 'rules'];
  const base = { inputSize: o.inputSize, outputSize: o.outputSize };
  for (const kind of prefer) {
    if (kind === 'rules') break;
    if (!o.modelBytes) {
      reasons.push('no verified model file');
      break;
    }
    if (kind === 'onnxruntime') {
      if (!o.ort) {
        reasons.push('onnxruntime: not enabled');
        continue;
      }
      try {
        const ort = o.ort;
        const session = await ort.load(o.modelBytes);
        // One probe run checks the model's shapes before the agent relies on it: onnxruntime runs a
        // model whose output is not the size the agent reads, and the agent would read zeros past it.
        const problem = probeProblem(await ort.run(session, new Float32Array(o.inputSize), 1, o.inputSize, true), o.outputSize);
        if (problem !== null) {
          await ort.release(session).catch(() => undefined);
          throw new Error(problem);
        }
        return { ...base, engine: 'onnxruntime', reasons, run: (x, n) => ort.run(session, x, n, o.inputSize), release: () => ort.release(session).catch(() => undefined) };
      } catch (e) {
        reasons.push(`onnxruntime: ${e instanceof Error ? e.message : String(e)}`);
      }
    } else {
      const m = decodeOnnx(o.modelBytes);
      const s = m.ok ? createTsSession(m.value) : m;
      if (!s.ok) {
        reasons.push(`pure-ts: ${s.error}`);
        continue;
      }
      if (s.value.inputSize !== o.inputSize || s.value.outputSize !== o.outputSize) {
        reasons.push(`pure-ts: model shape ${s.value.inputSize}->${s.value.outputSize} does not match the agent's ${o.inputSize}->${o.outputSize}`);
        continue;
      }
      const session = s.value;
      // The same probe as onnxruntime's: weights whose shapes do not chain fail here, not on every tick.
      let problem: string | null;
      try {
        problem = probeProblem(session.run(new Float32Array(o.inputSize), 1), o.outputSize);
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
