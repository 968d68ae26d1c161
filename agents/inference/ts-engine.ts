// The pure-TypeScript inference engine: runs the ONNX subset in onnx-model.ts on any CPU Node runs on
// (32-bit ARM included, where onnxruntime-node ships no binary). Float32 storage, float64 accumulation.

import { err, ok, type Result } from '../../runtime/lib/result.js';
import { supportedOps, type OnnxAttr, type OnnxModel, type OnnxNode } from './onnx-model.js';

interface Tensor {
  readonly dims: readonly number[];
  readonly data: Float32Array;
}

const attrNum = (attrs: Readonly<Record<string, OnnxAttr>>, k: string, dflt: number): number => {
  const v = attrs[k];
  return typeof v === 'number' ? v : dflt;
};

function matmul(a: Tensor, b: Tensor, transA: boolean, transB: boolean, what: string): Tensor {
  if (a.dims.length !== 2 || b.dims.length !== 2) throw new Error(`${what}: only 2-D matrix products are supported`);
  const [ar, ac] = a.dims as [number, number];
  const [br, bc] = b.dims as [number, number];
  const m = transA ? ac : ar;
  const k = transA ? ar : ac;
  const kb = transB ? bc : br;
  const n = transB ? br : bc;
  if (k !== kb) throw new Error(`${what}: inner dimensions differ (${k} vs ${kb})`);
  const out = new Float32Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let t = 0; t < k; t++) {
        const av = transA ? (a.data[t * ac + i] as number) : (a.data[i * ac + t] as number);
        const bv = transB ? (b.data[j * bc + t] as number) : (b.data[t * bc + j] as number);
        s += av * bv;
      }
      out[i * n + j] = s;
    }
  }
  return { dims: [m, n], data: out };
}

/** Adds b to a with ONNX (numpy) broadcasting for the shapes these models use: equal, [n] or [1, n] rows, scalar. */
function addBroadcast(a: Tensor, b: Tensor, scale: number, what: string): Tensor {
  const out = Float32Array.from(a.data);
  const n = a.dims[a.dims.length - 1] ?? 1;
  if (b.data.length === a.data.length) for (let i = 0; i < out.length; i++) out[i] = (out[i] as number) + scale * (b.data[i] as number);
  else if (b.data.length === n) for (let i = 0; i < out.length; i++) out[i] = (out[i] as number) + scale * (b.data[i % n] as number);
  else if (b.data.length === 1) for (let i = 0; i < out.length; i++) out[i] = (out[i] as number) + scale * (b.data[0] as number);
  else throw new Error(`${what}: cannot broadcast [${b.dims.join(',')}] onto [${a.dims.join(',')}]`);
  return { dims: a.dims, data: out };
}

function unary(t: Tensor, f: (x: number) => number): Tensor {
  const out = new Float32Array(t.data.length);
  for (let i = 0; i < out.length; i++) out[i] = f(t.data[i] as number);
  return { dims: t.dims, data: out };
}

function softmaxLastAxis(t: Tensor): Tensor {
  const n = t.dims[t.dims.length - 1] ?? 1;
  const out = new Float32Array(t.data.length);
  for (let r = 0; r < t.data.length; r += n) {
    let max = -Infinity;
    for (let i = 0; i < n; i++) max = Math.max(max, t.data[r + i] as number);
    let sum = 0;
    for (let i = 0; i < n; i++) sum += Math.exp((t.data[r + i] as number) - max);
    for (let i = 0; i < n; i++) out[r + i] = Math.exp((t.data[r + i] as number) - max) / sum;
  }
  return { dims: t.dims, data: out };
}

const sigmoid = (x: number): number => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x)));

function runNode(node: OnnxNode, args: Tensor[]): Tensor {
  const what = `${node.opType} ${node.name}`;
  const [a, b, c] = args;
  if (!a) throw new Error(`${what}: missing input`);
  switch (node.opType) {
    case 'Gemm': {
      if (!b) throw new Error(`${what}: missing B`);
      const alpha = attrNum(node.attrs, 'alpha', 1);
      const beta = attrNum(node.attrs, 'beta', 1);
      let y = matmul(a, b, attrNum(node.attrs, 'transA', 0) === 1, attrNum(node.attrs, 'transB', 0) === 1, what);
      if (alpha !== 1) y = unary(y, (x) => alpha * x);
      return c ? addBroadcast(y, c, beta, what) : y;
    }
    case 'MatMul':
      if (!b) throw new Error(`${what}: missing B`);
      return matmul(a, b, false, false, what);
    case 'Add':
      if (!b) throw new Error(`${what}: missing B`);
      return addBroadcast(a, b, 1, what);
    case 'Relu':
      // NaN stays NaN, as in onnxruntime: mapped to 0 it looked like a calm reading, and the two
      // engines gave different answers on the same row (a NaN gyro axis made pure-ts attest 'degraded').
      return unary(a, (x) => (x > 0 || Number.isNaN(x) ? x : 0));
    case 'Sigmoid':
      return unary(a, sigmoid);
    case 'Tanh':
      return unary(a, Math.tanh);
    case 'Softmax': {
      const axis = attrNum(node.attrs, 'axis', -1);
      if (axis !== -1 && axis !== a.dims.length - 1) throw new Error(`${what}: only the last axis is supported`);
      return softmaxLastAxis(a);
    }
    case 'Identity':
      return a;
    default:
      throw new Error(`${what}: operator not supported by the pure-TypeScript engine`);
  }
}

/**
 * Multiply-adds one feature row costs in the graph's matrix products (Gemm, MatMul): the product of a
 * weight's dimensions, the other operand being one row. What the rest of the graph costs is a few
 * operations per value, negligible beside them. A product of two computed tensors (none in Murmur's
 * models) is not counted: its size is known only when it runs, and the timed probe bounds it.
 */
export function multiplyAddsPerRow(model: OnnxModel): number {
  const weights = new Map(model.graph.initializers.map((t) => [t.name, t]));
  let total = 0;
  for (const n of model.graph.nodes) {
    if (n.opType !== 'Gemm' && n.opType !== 'MatMul') continue;
    const w = weights.get(n.inputs[1] ?? '') ?? weights.get(n.inputs[0] ?? '');
    total += w ? w.dims.reduce((a, d) => a * d, 1) : 0;
  }
  return total;
}

/** A loaded model that runs a [batch, features] input to its first output. */
export interface TsSession {
  readonly inputName: string;
  readonly outputName: string;
  readonly inputSize: number;
  readonly outputSize: number;
  run(input: Float32Array, batch: number): Float32Array;
}

export function createTsSession(model: OnnxModel): Result<TsSession> {
  const g = model.graph;
  for (const n of g.nodes) {
    if (!(supportedOps as readonly string[]).includes(n.opType)) return err(`operator ${n.opType} (node ${n.name}) is not supported by the pure-TypeScript engine`);
  }
  const inp = g.inputs.find((i) => !g.initializers.some((t) => t.name === i.name));
  const out = g.outputs[0];
  if (!inp || !out) return err('model must have one data input and at least one output');
  const inputSize = inp.dims[inp.dims.length - 1];
  const outputSize = out.dims[out.dims.length - 1];
  if (typeof inputSize !== 'number' || typeof outputSize !== 'number') return err('the last dimension of the input and output must be fixed');
  const weights = new Map<string, Tensor>(g.initializers.map((t) => [t.name, t]));
  return ok({
    inputName: inp.name,
    outputName: out.name,
    inputSize,
    outputSize,
    run(input, batch) {
      if (input.length !== batch * inputSize) throw new Error(`input has ${input.length} values, expected ${batch} x ${inputSize}`);
      const values = new Map<string, Tensor>(weights);
      values.set(inp.name, { dims: [batch, inputSize], data: input });
      // Nodes are stored in topological order (ONNX requires it), so one pass suffices.
      for (const n of g.nodes) {
        const args = n.inputs.filter((x) => x !== '').map((x) => {
          const t = values.get(x);
          if (!t) throw new Error(`node ${n.name} reads ${x}, which no earlier node produced`);
          return t;
        });
        const y = runNode(n, args);
        const name = n.outputs[0];
        if (name !== undefined) values.set(name, y);
      }
      const y = values.get(out.name);
      if (!y) throw new Error(`output ${out.name} was never produced`);
      return y.data;
    },
  });
}
