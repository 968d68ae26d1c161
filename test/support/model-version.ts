// Makes a new version of a shipped model as an operator would publish it: the same weights with a new
// version in the ONNX metadata (so new bytes and a new sha256), and metadata.json to match, written
// into `dir` (a device installs it as <modelsDir>/<name>/<version>/).

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeOnnx, encodeOnnx } from '../../agents/inference/onnx-proto.js';
import { sha256Hex, shippedModelsDir } from '../../agents/models/registry.js';
import { unwrap } from '../../runtime/lib/result.js';

/** Writes model.onnx and metadata.json of `name` at `version` into `dir`; returns the file's sha256. */
export function writeModelVersion(dir: string, name: string, version: string): string {
  const shipped = readFileSync(join(shippedModelsDir, name, 'model.onnx'));
  const model = unwrap(decodeOnnx(new Uint8Array(shipped)));
  const bytes = encodeOnnx({ ...model, metadata: { ...model.metadata, 'murmur.version': version } });
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'model.onnx'), bytes);
  const meta = JSON.parse(readFileSync(join(shippedModelsDir, name, 'metadata.json'), 'utf8')) as Record<string, unknown>;
  writeFileSync(join(dir, 'metadata.json'), JSON.stringify({ ...meta, version, bytes: bytes.length, hash: { alg: 'sha256', hex: sha256Hex(bytes) } }));
  return sha256Hex(bytes);
}

/** Writes `bytes` as model.onnx of `name` at `version` into `dir`, metadata.json from the shipped one
 *  (so the file is hash-valid, whatever it computes); returns its sha256. */
export function writeModelBytes(dir: string, name: string, version: string, bytes: Uint8Array): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'model.onnx'), bytes);
  const meta = JSON.parse(readFileSync(join(shippedModelsDir, name, 'metadata.json'), 'utf8')) as Record<string, unknown>;
  writeFileSync(join(dir, 'metadata.json'), JSON.stringify({ ...meta, version, bytes: bytes.length, hash: { alg: 'sha256', hex: sha256Hex(bytes) } }));
  return sha256Hex(bytes);
}

/**
 * A valid dense network `inputs -> hidden -> (hidden x hidden) x layers -> outputs -> Sigmoid`, the
 * hidden layer's weights shared (a small file however many layers). Its cost is about
 * hidden^2 x layers multiply-adds a row. `firstWeight` sets every weight of the first layer (a huge
 * one, +-3e38, gives a model finite on an all-zero row and NaN on any other); by default weights are
 * small and fixed.
 */
export function denseChainModel(o: { readonly name: string; readonly version: string; readonly inputs: number; readonly hidden: number; readonly layers: number; readonly outputs: number; readonly firstWeight?: number }): Uint8Array {
  const { inputs, hidden: h, layers, outputs } = o;
  const small = (i: number): number => (((i * 7919) % 201) - 100) / (100 * Math.sqrt(h));
  const w0 = { name: 'W0', dims: [inputs, h], data: Float32Array.from({ length: inputs * h }, (_, i) => (o.firstWeight === undefined ? small(i) : i % 2 ? o.firstWeight : -o.firstWeight)) };
  const w1 = { name: 'W1', dims: [h, h], data: Float32Array.from({ length: h * h }, (_, i) => small(i + 1)) };
  const w2 = { name: 'W2', dims: [h, outputs], data: Float32Array.from({ length: h * outputs }, (_, i) => small(i + 2)) };
  const nodes = [{ name: 'g0', opType: 'Gemm', inputs: ['features', 'W0'], outputs: ['h0'], attrs: {} }];
  for (let i = 1; i <= layers; i++) nodes.push({ name: `g${i}`, opType: 'Gemm', inputs: [`h${i - 1}`, 'W1'], outputs: [`h${i}`], attrs: {} });
  nodes.push({ name: 'gout', opType: 'Gemm', inputs: [`h${layers}`, 'W2'], outputs: ['z'], attrs: {} }, { name: 'sig', opType: 'Sigmoid', inputs: ['z'], outputs: ['scores'], attrs: {} });
  return encodeOnnx({
    irVersion: 8,
    opsetVersion: 13,
    producerName: 'murmur-test',
    producerVersion: '1',
    metadata: { 'murmur.name': o.name, 'murmur.version': o.version },
    graph: { name: 'dense-chain', nodes, initializers: layers > 0 ? [w0, w1, w2] : [w0, w2], inputs: [{ name: 'features', dims: ['N', inputs] }], outputs: [{ name: 'scores', dims: ['N', outputs] }] },
  });
}
