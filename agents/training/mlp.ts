// A small multilayer perceptron trained in TypeScript from a seed (Adam, cross-entropy), then folded
// into ONNX Gemm layers. Deterministic: the same seed and data give bit-identical weights.

import { Prng } from '../../runtime/lib/prng.js';
import type { OnnxModel, OnnxNode, OnnxTensor } from '../inference/onnx-model.js';

export type OutputActivation = 'softmax' | 'sigmoid';

export interface MlpSpec {
  /** Layer widths, input first, output last. */
  readonly sizes: readonly number[];
  readonly output: OutputActivation;
}

export interface TrainOptions {
  readonly seed: number;
  readonly epochs: number;
  readonly batch: number;
  readonly learningRate: number;
}

export interface Mlp {
  readonly spec: MlpSpec;
  /** weights[l] is [out][in] row-major (ONNX Gemm with transB = 1). */
  readonly weights: Float64Array[];
  readonly biases: Float64Array[];
  /** Input standardisation, folded into the first layer on export. */
  readonly mean: Float64Array;
  readonly scale: Float64Array;
}

function forward(m: Mlp, x: Float64Array): Float64Array[] {
  const acts: Float64Array[] = [x];
  let h = x;
  const L = m.weights.length;
  for (let l = 0; l < L; l++) {
    const W = m.weights[l] as Float64Array;
    const b = m.biases[l] as Float64Array;
    const nOut = b.length;
    const nIn = h.length;
    const z = new Float64Array(nOut);
    for (let o = 0; o < nOut; o++) {
      let s = b[o] as number;
      for (let i = 0; i < nIn; i++) s += (W[o * nIn + i] as number) * (h[i] as number);
      z[o] = s;
    }
    if (l < L - 1) for (let o = 0; o < nOut; o++) z[o] = Math.max(0, z[o] as number);
    else if (m.spec.output === 'sigmoid') for (let o = 0; o < nOut; o++) z[o] = 1 / (1 + Math.exp(-(z[o] as number)));
    else {
      let max = -Infinity;
      for (const v of z) max = Math.max(max, v);
      let sum = 0;
      for (let o = 0; o < nOut; o++) sum += z[o] = Math.exp((z[o] as number) - max);
      for (let o = 0; o < nOut; o++) z[o] = (z[o] as number) / sum;
    }
    acts.push(z);
    h = z;
  }
  return acts;
}

const standardise = (m: Mlp, x: Float32Array): Float64Array => Float64Array.from(x, (v, i) => (v - (m.mean[i] as number)) * (m.scale[i] as number));

export function predict(m: Mlp, x: Float32Array): Float64Array {
  const acts = forward(m, standardise(m, x));
  return acts[acts.length - 1] as Float64Array;
}

export function trainMlp(spec: MlpSpec, xs: readonly Float32Array[], ys: readonly Float32Array[], o: TrainOptions): Mlp {
  const prng = new Prng(o.seed);
  const nIn = spec.sizes[0] as number;
  const mean = new Float64Array(nIn);
  const scale = new Float64Array(nIn);
  for (const x of xs) for (let i = 0; i < nIn; i++) mean[i] = (mean[i] as number) + (x[i] as number) / xs.length;
  for (const x of xs) for (let i = 0; i < nIn; i++) scale[i] = (scale[i] as number) + ((x[i] as number) - (mean[i] as number)) ** 2 / xs.length;
  for (let i = 0; i < nIn; i++) scale[i] = 1 / Math.max(1e-6, Math.sqrt(scale[i] as number));
  const weights: Float64Array[] = [];
  const biases: Float64Array[] = [];
  for (let l = 0; l + 1 < spec.sizes.length; l++) {
    const a = spec.sizes[l] as number;
    const b = spec.sizes[l + 1] as number;
    const sd = Math.sqrt(2 / a); // He initialisation for ReLU layers
    weights.push(Float64Array.from({ length: a * b }, () => prng.normal(0, sd)));
    biases.push(new Float64Array(b));
  }
  const m: Mlp = { spec, weights, biases, mean, scale };
  const params = [...weights, ...biases];
  const mom = params.map((p) => new Float64Array(p.length));
  const vel = params.map((p) => new Float64Array(p.length));
  const grads = params.map((p) => new Float64Array(p.length));
  const order = xs.map((_, i) => i);
  const normed = xs.map((x) => standardise(m, x));
  let step = 0;
  const L = weights.length;
  for (let epoch = 0; epoch < o.epochs; epoch++) {
    prng.shuffle(order);
    for (let start = 0; start < order.length; start += o.batch) {
      for (const g of grads) g.fill(0);
      const end = Math.min(order.length, start + o.batch);
      for (let k = start; k < end; k++) {
        const idx = order[k] as number;
        const acts = forward(m, normed[idx] as Float64Array);
        const y = ys[idx] as Float32Array;
        // Softmax + cross-entropy and sigmoid + binary cross-entropy share the gradient p - y.
        let delta = Float64Array.from(acts[L] as Float64Array, (p, j) => p - (y[j] as number));
        for (let l = L - 1; l >= 0; l--) {
          const h = acts[l] as Float64Array;
          const W = weights[l] as Float64Array;
          const gW = grads[l] as Float64Array;
          const gb = grads[L + l] as Float64Array;
          const nI = h.length;
          for (let j = 0; j < delta.length; j++) {
            const d = delta[j] as number;
            gb[j] = (gb[j] as number) + d;
            if (d === 0) continue;
            for (let i = 0; i < nI; i++) gW[j * nI + i] = (gW[j * nI + i] as number) + d * (h[i] as number);
          }
          if (l > 0) {
            const prev = new Float64Array(nI);
            for (let j = 0; j < delta.length; j++) {
              const d = delta[j] as number;
              if (d === 0) continue;
              for (let i = 0; i < nI; i++) prev[i] = (prev[i] as number) + d * (W[j * nI + i] as number);
            }
            for (let i = 0; i < nI; i++) if ((h[i] as number) <= 0) prev[i] = 0;
            delta = prev;
          }
        }
      }
      step++;
      const n = end - start;
      const b1 = 0.9;
      const b2 = 0.999;
      const lr = (o.learningRate * Math.sqrt(1 - b2 ** step)) / (1 - b1 ** step);
      params.forEach((p, pi) => {
        const g = grads[pi] as Float64Array;
        const mo = mom[pi] as Float64Array;
        const ve = vel[pi] as Float64Array;
        for (let i = 0; i < p.length; i++) {
          const gi = (g[i] as number) / n;
          mo[i] = b1 * (mo[i] as number) + (1 - b1) * gi;
          ve[i] = b2 * (ve[i] as number) + (1 - b2) * gi * gi;
          p[i] = (p[i] as number) - (lr * (mo[i] as number)) / (Math.sqrt(ve[i] as number) + 1e-8);
        }
      });
    }
  }
  return m;
}

/** Exports as ONNX: Gemm (+Relu) per layer, then Softmax or Sigmoid; standardisation folded into layer 1. */
export function mlpToOnnx(m: Mlp, name: string, version: string, inputName = 'features', outputName = 'scores'): OnnxModel {
  const initializers: OnnxTensor[] = [];
  const nodes: OnnxNode[] = [];
  let prev = inputName;
  m.weights.forEach((W, l) => {
    const b = m.biases[l] as Float64Array;
    const nOut = b.length;
    const nIn = W.length / nOut;
    const w32 = new Float32Array(W.length);
    const b32 = new Float32Array(nOut);
    for (let o = 0; o < nOut; o++) {
      let bias = b[o] as number;
      for (let i = 0; i < nIn; i++) {
        // First layer: W (x - mean) * scale = (W * scale) x - W * scale * mean
        const w = l === 0 ? (W[o * nIn + i] as number) * (m.scale[i] as number) : (W[o * nIn + i] as number);
        if (l === 0) bias -= w * (m.mean[i] as number);
        w32[o * nIn + i] = w;
      }
      b32[o] = bias;
    }
    initializers.push({ name: `W${l}`, dims: [nOut, nIn], data: w32 }, { name: `B${l}`, dims: [nOut], data: b32 });
    const last = l === m.weights.length - 1;
    nodes.push({ name: `gemm${l}`, opType: 'Gemm', inputs: [prev, `W${l}`, `B${l}`], outputs: [`z${l}`], attrs: { transB: 1 } });
    prev = `z${l}`;
    if (!last) {
      nodes.push({ name: `relu${l}`, opType: 'Relu', inputs: [prev], outputs: [`h${l}`], attrs: {} });
      prev = `h${l}`;
    }
  });
  const outOp = m.spec.output === 'softmax' ? 'Softmax' : 'Sigmoid';
  nodes.push({ name: 'out', opType: outOp, inputs: [prev], outputs: [outputName], attrs: m.spec.output === 'softmax' ? { axis: -1 } : {} });
  const sizes = m.spec.sizes;
  return {
    irVersion: 8,
    opsetVersion: 13,
    producerName: 'murmur-models-train',
    producerVersion: '1',
    graph: {
      name,
      nodes,
      initializers,
      inputs: [{ name: inputName, dims: ['N', sizes[0] as number] }],
      outputs: [{ name: outputName, dims: ['N', sizes[sizes.length - 1] as number] }],
    },
    metadata: { 'murmur.name': name, 'murmur.version': version },
  };
}
