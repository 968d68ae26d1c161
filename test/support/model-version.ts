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
