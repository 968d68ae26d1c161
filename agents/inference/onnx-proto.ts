// Hand-written protobuf encoding and decoding of ONNX models (onnx/onnx.proto3 field numbers), so the
// training script can export ONNX and the pure-TypeScript engine can read it with no dependency.
// The decoder checks every length against the buffer and the limits before it allocates.

import { limits } from '../../runtime/lib/limits.js';
import { err, ok, type Result } from '../../runtime/lib/result.js';
import type { OnnxAttr, OnnxGraph, OnnxModel, OnnxNode, OnnxTensor, OnnxValueInfo } from './onnx-model.js';

const FLOAT = 1; // TensorProto.DataType.FLOAT
const attrType = { FLOAT: 1, INT: 2, STRING: 3, FLOATS: 6, INTS: 7 } as const;

// ---- encoding ----

class Writer {
  private chunks: number[] = [];
  varint(v: number | bigint): this {
    let x = BigInt.asUintN(64, BigInt(v));
    while (x >= 0x80n) {
      this.chunks.push(Number((x & 0x7fn) | 0x80n));
      x >>= 7n;
    }
    this.chunks.push(Number(x));
    return this;
  }
  tag(field: number, wire: number): this {
    return this.varint((field << 3) | wire);
  }
  int(field: number, v: number): this {
    return this.tag(field, 0).varint(v);
  }
  bytes(field: number, b: Uint8Array): this {
    this.tag(field, 2).varint(b.length);
    for (const x of b) this.chunks.push(x);
    return this;
  }
  string(field: number, s: string): this {
    return this.bytes(field, new TextEncoder().encode(s));
  }
  message(field: number, w: Writer): this {
    return this.bytes(field, w.finish());
  }
  float(field: number, v: number): this {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    this.tag(field, 5);
    for (const x of b) this.chunks.push(x);
    return this;
  }
  finish(): Uint8Array {
    return Uint8Array.from(this.chunks);
  }
}

function tensorMsg(t: OnnxTensor): Writer {
  const w = new Writer();
  for (const d of t.dims) w.int(1, d);
  w.int(2, FLOAT);
  w.string(8, t.name);
  const raw = new Uint8Array(t.data.length * 4);
  const dv = new DataView(raw.buffer);
  t.data.forEach((v, i) => dv.setFloat32(i * 4, v, true)); // raw_data is little-endian by the spec
  return w.bytes(9, raw);
}

function attrMsg(name: string, v: OnnxAttr): Writer {
  const w = new Writer().string(1, name);
  if (typeof v === 'string') return w.int(20, attrType.STRING).string(4, v);
  if (typeof v === 'number') return Number.isInteger(v) ? w.int(20, attrType.INT).int(3, v) : w.int(20, attrType.FLOAT).float(2, v);
  w.int(20, attrType.INTS);
  for (const x of v) w.int(8, x);
  return w;
}

function valueInfoMsg(v: OnnxValueInfo): Writer {
  const shape = new Writer();
  for (const d of v.dims) shape.message(1, typeof d === 'number' ? new Writer().int(1, d) : new Writer().string(2, d));
  const tensorType = new Writer().int(1, FLOAT).message(2, shape);
  return new Writer().string(1, v.name).message(2, new Writer().message(1, tensorType));
}

export function encodeOnnx(m: OnnxModel): Uint8Array {
  const g = new Writer();
  for (const n of m.graph.nodes) {
    const nw = new Writer();
    for (const i of n.inputs) nw.string(1, i);
    for (const o of n.outputs) nw.string(2, o);
    nw.string(3, n.name).string(4, n.opType);
    for (const k of Object.keys(n.attrs).sort()) nw.message(5, attrMsg(k, n.attrs[k] as OnnxAttr));
    g.message(1, nw);
  }
  g.string(2, m.graph.name);
  for (const t of m.graph.initializers) g.message(5, tensorMsg(t));
  for (const v of m.graph.inputs) g.message(11, valueInfoMsg(v));
  for (const v of m.graph.outputs) g.message(12, valueInfoMsg(v));
  const w = new Writer().int(1, m.irVersion).string(2, m.producerName).string(3, m.producerVersion).message(7, g);
  w.message(8, new Writer().string(1, '').int(2, m.opsetVersion));
  for (const k of Object.keys(m.metadata).sort()) w.message(14, new Writer().string(1, k).string(2, m.metadata[k] as string));
  return w.finish();
}

// ---- decoding ----

class DecodeError extends Error {}
const fail = (msg: string): never => {
  throw new DecodeError(msg);
};

interface Field {
  readonly field: number;
  readonly wire: number;
  /** varint value (wire 0) or fixed32 bits as a float (wire 5). */
  readonly num: bigint;
  readonly f32: number;
  readonly bytes: Uint8Array;
}

function* fields(buf: Uint8Array, what: string): Generator<Field> {
  let p = 0;
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const varint = (): bigint => {
    let x = 0n;
    for (let shift = 0n; shift < 70n; shift += 7n) {
      if (p >= buf.length) fail(`${what}: truncated varint`);
      const b = buf[p++] as number;
      x |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return x;
    }
    return fail(`${what}: varint too long`);
  };
  const empty = new Uint8Array(0);
  while (p < buf.length) {
    const key = Number(varint());
    const field = key >>> 3;
    const wire = key & 7;
    if (wire === 0) yield { field, wire, num: varint(), f32: 0, bytes: empty };
    else if (wire === 2) {
      const len = Number(varint());
      if (len > buf.length - p) fail(`${what}: field ${field} claims ${len} bytes, ${buf.length - p} remain`);
      yield { field, wire, num: 0n, f32: 0, bytes: buf.subarray(p, p + len) };
      p += len;
    } else if (wire === 5) {
      if (p + 4 > buf.length) fail(`${what}: truncated fixed32`);
      yield { field, wire, num: 0n, f32: dv.getFloat32(p, true), bytes: empty };
      p += 4;
    } else if (wire === 1) {
      if (p + 8 > buf.length) fail(`${what}: truncated fixed64`);
      p += 8;
    } else fail(`${what}: unsupported wire type ${wire}`);
  }
}

const str = (b: Uint8Array): string => new TextDecoder().decode(b);
const int64 = (x: bigint): number => Number(BigInt.asIntN(64, x));

function decodeTensor(buf: Uint8Array): OnnxTensor {
  const dims: number[] = [];
  let name = '';
  let type = 0;
  let data: Float32Array | undefined;
  const floats: number[] = [];
  for (const f of fields(buf, 'tensor')) {
    if (f.field === 1) dims.push(int64(f.num));
    else if (f.field === 2) type = Number(f.num);
    else if (f.field === 8) name = str(f.bytes);
    else if (f.field === 9) {
      if (f.bytes.length % 4 !== 0) fail(`tensor ${name}: raw_data length ${f.bytes.length} is not a multiple of 4`);
      const dv = new DataView(f.bytes.buffer, f.bytes.byteOffset, f.bytes.byteLength);
      data = new Float32Array(f.bytes.length / 4);
      for (let i = 0; i < data.length; i++) data[i] = dv.getFloat32(i * 4, true);
    } else if (f.field === 4) {
      if (f.wire === 5) floats.push(f.f32);
      else for (const g of packedFloats(f.bytes)) floats.push(g);
    }
  }
  if (type !== FLOAT) fail(`tensor ${name}: only FLOAT tensors are supported (data_type ${type})`);
  const count = dims.reduce((a, b) => a * b, 1);
  if (count > limits.modelParamsMax) fail(`tensor ${name}: ${count} elements (limit ${limits.modelParamsMax})`);
  const out = data ?? Float32Array.from(floats);
  if (out.length !== count) fail(`tensor ${name}: dims ${dims.join('x')} need ${count} values, found ${out.length}`);
  return { name, dims, data: out };
}

function packedFloats(b: Uint8Array): number[] {
  if (b.length % 4 !== 0) fail('packed float_data length is not a multiple of 4');
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const out: number[] = [];
  for (let i = 0; i < b.length; i += 4) out.push(dv.getFloat32(i, true));
  return out;
}

function decodeAttr(buf: Uint8Array): [string, OnnxAttr] {
  let name = '';
  let type = 0;
  let f = 0;
  let i = 0;
  let s = '';
  const ints: number[] = [];
  for (const x of fields(buf, 'attribute')) {
    if (x.field === 1) name = str(x.bytes);
    else if (x.field === 20) type = Number(x.num);
    else if (x.field === 2) f = x.f32;
    else if (x.field === 3) i = int64(x.num);
    else if (x.field === 4) s = str(x.bytes);
    else if (x.field === 8) ints.push(int64(x.num));
  }
  if (type === attrType.FLOAT) return [name, f];
  if (type === attrType.INT) return [name, i];
  if (type === attrType.STRING) return [name, s];
  if (type === attrType.INTS) return [name, ints];
  return fail(`attribute ${name}: unsupported type ${type}`);
}

function decodeNode(buf: Uint8Array): OnnxNode {
  const inputs: string[] = [];
  const outputs: string[] = [];
  const attrs: Record<string, OnnxAttr> = {};
  let name = '';
  let opType = '';
  for (const f of fields(buf, 'node')) {
    if (f.field === 1) inputs.push(str(f.bytes));
    else if (f.field === 2) outputs.push(str(f.bytes));
    else if (f.field === 3) name = str(f.bytes);
    else if (f.field === 4) opType = str(f.bytes);
    else if (f.field === 5) {
      const [k, v] = decodeAttr(f.bytes);
      attrs[k] = v;
    }
  }
  return { name, opType, inputs, outputs, attrs };
}

function decodeValueInfo(buf: Uint8Array): OnnxValueInfo {
  let name = '';
  const dims: (number | string)[] = [];
  for (const f of fields(buf, 'value_info')) {
    if (f.field === 1) name = str(f.bytes);
    else if (f.field === 2)
      for (const t of fields(f.bytes, 'type'))
        if (t.field === 1)
          for (const tt of fields(t.bytes, 'tensor_type'))
            if (tt.field === 2)
              for (const d of fields(tt.bytes, 'shape'))
                if (d.field === 1)
                  for (const dv of fields(d.bytes, 'dim')) {
                    if (dv.field === 1) dims.push(int64(dv.num));
                    else if (dv.field === 2) dims.push(str(dv.bytes));
                  }
  }
  return { name, dims };
}

function decodeGraph(buf: Uint8Array): OnnxGraph {
  const nodes: OnnxNode[] = [];
  const initializers: OnnxTensor[] = [];
  const inputs: OnnxValueInfo[] = [];
  const outputs: OnnxValueInfo[] = [];
  let name = '';
  for (const f of fields(buf, 'graph')) {
    if (f.field === 1) nodes.push(decodeNode(f.bytes));
    else if (f.field === 2) name = str(f.bytes);
    else if (f.field === 5) initializers.push(decodeTensor(f.bytes));
    else if (f.field === 11) inputs.push(decodeValueInfo(f.bytes));
    else if (f.field === 12) outputs.push(decodeValueInfo(f.bytes));
    if (nodes.length > limits.modelNodesMax) fail(`graph has more than ${limits.modelNodesMax} nodes`);
  }
  return { name, nodes, initializers, inputs, outputs };
}

export function decodeOnnx(bytes: Uint8Array): Result<OnnxModel> {
  if (bytes.length > limits.modelBytesMax) return err(`model is ${bytes.length} bytes (limit ${limits.modelBytesMax})`);
  try {
    let irVersion = 0;
    let opsetVersion = 0;
    let producerName = '';
    let producerVersion = '';
    let graph: OnnxGraph | undefined;
    const metadata: Record<string, string> = {};
    for (const f of fields(bytes, 'model')) {
      if (f.field === 1) irVersion = Number(f.num);
      else if (f.field === 2) producerName = str(f.bytes);
      else if (f.field === 3) producerVersion = str(f.bytes);
      else if (f.field === 7) graph = decodeGraph(f.bytes);
      else if (f.field === 8) {
        let domain = '';
        let version = 0;
        for (const o of fields(f.bytes, 'opset_import')) {
          if (o.field === 1) domain = str(o.bytes);
          else if (o.field === 2) version = Number(o.num);
        }
        if (domain === '' || domain === 'ai.onnx') opsetVersion = version;
      } else if (f.field === 14) {
        let k = '';
        let v = '';
        for (const e of fields(f.bytes, 'metadata_props')) {
          if (e.field === 1) k = str(e.bytes);
          else if (e.field === 2) v = str(e.bytes);
        }
        metadata[k] = v;
      }
    }
    if (!graph) return err('model has no graph');
    return ok({ irVersion, opsetVersion, producerName, producerVersion, graph, metadata });
  } catch (e) {
    if (e instanceof DecodeError) return err(`not a readable ONNX model: ${e.message}`);
    throw e;
  }
}
