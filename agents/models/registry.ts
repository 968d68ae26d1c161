// Shipped models: agents/models/<name>/{model.onnx, metadata.json, evaluation.json}. A device loads a
// model only when the file's sha256 matches both its metadata and the committed rollout; a tampered
// or substituted file is refused with a message saying which hash differs.

import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { limits } from '../../runtime/lib/limits.js';
import { err, ok, type Result } from '../../runtime/lib/result.js';
import { isPlainModelVersion } from '../../runtime/mission/models.js';

export const shippedModelsDir = dirname(fileURLToPath(import.meta.url));
export const modelFormat = 'murmur-model/1';

export interface ModelMetadata {
  readonly format: typeof modelFormat;
  readonly name: string;
  readonly version: string;
  readonly file: string;
  readonly bytes: number;
  readonly hash: { readonly alg: 'sha256'; readonly hex: string };
  readonly input: { readonly name: string; readonly size: number; readonly features: readonly string[] };
  readonly output: { readonly name: string; readonly size: number; readonly labels: readonly string[]; readonly activation: string };
  readonly opset: number;
  readonly training: Readonly<Record<string, unknown>>;
}

/** What consensus committed about a model (from an agent.model command): the version and file hash. */
export interface CommittedModel {
  readonly name: string;
  readonly version: string;
  readonly hashHex: string;
}

export interface VerifiedModel {
  readonly meta: ModelMetadata;
  readonly bytes: Uint8Array;
}

export const sha256Hex = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

function parseMetadata(v: unknown, where: string): Result<ModelMetadata> {
  const m = v as Partial<ModelMetadata> | null;
  const bad = (field: string): Result<never> => err(`${where}: field "${field}" is missing or invalid`);
  if (typeof m !== 'object' || m === null) return err(`${where}: must be a JSON object`);
  if (m.format !== modelFormat) return bad('format');
  if (typeof m.name !== 'string' || !/^[a-z0-9][a-z0-9-]{0,63}$/.test(m.name)) return bad('name');
  if (typeof m.version !== 'string' || m.version.length === 0 || m.version.length > 32) return bad('version');
  if (typeof m.file !== 'string' || m.file.includes('/') || m.file.includes('..')) return bad('file');
  if (typeof m.bytes !== 'number' || m.bytes > limits.modelBytesMax) return bad('bytes');
  if (m.hash?.alg !== 'sha256' || typeof m.hash.hex !== 'string' || !/^[0-9a-f]{64}$/.test(m.hash.hex)) return bad('hash');
  if (typeof m.input?.size !== 'number' || typeof m.output?.size !== 'number') return bad('input/output');
  return ok(m as ModelMetadata);
}

export function readModelMetadata(modelDir: string): Result<ModelMetadata> {
  const where = join(modelDir, 'metadata.json');
  let text: string;
  try {
    text = readFileSync(where, 'utf8');
  } catch (e) {
    return err(`cannot read ${where}: ${e instanceof Error ? e.message : String(e)}`);
  }
  try {
    return parseMetadata(JSON.parse(text), where);
  } catch {
    return err(`${where} is not valid JSON`);
  }
}

/** A model name and version are directory names on the device: one path segment each, never "." or
 *  "..", whatever text a committed command carried (parseModelArgs bounds a version's length only). */
export const isPlainModelName = (s: string): boolean => /^[a-z0-9][a-z0-9-]{0,63}$/.test(s);
export { isPlainModelVersion };

/**
 * Where a device keeps a committed version: `<modelsDir>/<name>/<version>/` (model.onnx and
 * metadata.json, installed by the operator beside the rollout), else the shipped `agents/models/<name>/`,
 * which serves when the committed version is the one the device shipped with.
 */
export function committedModelDir(modelsDir: string | undefined, ref: CommittedModel, shippedDir = shippedModelsDir): string {
  // A version that is not a plain name never becomes a path (its load is refused: see ModelSlot).
  if (!isPlainModelName(ref.name)) return shippedDir;
  const installed = modelsDir === undefined || !isPlainModelVersion(ref.version) ? undefined : join(modelsDir, ref.name, ref.version);
  const shipped = join(shippedDir, ref.name);
  if (installed === undefined || existsSync(join(installed, 'metadata.json'))) return installed ?? shipped;
  // Not installed: the shipped directory serves if it holds the committed version; otherwise the
  // install directory is where the version was looked for, and the refusal names it (loadModelFrom).
  const meta = readModelMetadata(shipped);
  return meta.ok && meta.value.version === ref.version ? shipped : installed;
}

/** Reads and checks the model under `modelsDir/<name>/` (the shipped layout). */
export function loadVerifiedModel(modelsDir: string, name: string, committed?: CommittedModel): Result<VerifiedModel> {
  return loadModelFrom(join(modelsDir, name), name, committed);
}

/**
 * Reads and checks the model in `modelDir`. Without `committed` the metadata's own hash is the reference
 * (a device with no rollout yet uses what it shipped with); with it, the committed version and hash must
 * match too, so a file whose metadata was rewritten to fit it is still refused.
 */
export function loadModelFrom(modelDir: string, name: string, committed?: CommittedModel): Result<VerifiedModel> {
  const meta = readModelMetadata(modelDir);
  if (!meta.ok && committed && !existsSync(join(modelDir, 'metadata.json'))) {
    return err(`model ${name} ${committed.version} refused: it is not installed on this device: put its model.onnx and metadata.json in ${modelDir}`);
  }
  if (!meta.ok) return committed ? err(`model ${name} ${committed.version} refused: ${meta.error}`) : meta;
  if (meta.value.name !== name) return err(`model ${name}: ${join(modelDir, 'metadata.json')} describes model ${meta.value.name}`);
  const file = join(modelDir, meta.value.file);
  let size: number;
  try {
    size = statSync(file).size;
  } catch {
    return err(`model ${name}: file ${file} is missing`);
  }
  if (size > limits.modelBytesMax) return err(`model ${name}: file is ${size} bytes (limit ${limits.modelBytesMax})`);
  const bytes = new Uint8Array(readFileSync(file));
  const actual = sha256Hex(bytes);
  const short = (h: string): string => `sha256:${h.slice(0, 16)}…`;
  if (actual !== meta.value.hash.hex) {
    return err(`model ${name} ${meta.value.version} refused: file hash ${short(actual)} does not match its metadata ${short(meta.value.hash.hex)} (the file was modified or replaced)`);
  }
  if (committed) {
    if (committed.name !== name) return err(`model ${name}: the committed rollout is for model ${committed.name}`);
    if (committed.version !== meta.value.version) return err(`model ${name} refused: the swarm committed version ${committed.version}, this device has ${meta.value.version} in ${modelDir}`);
    if (committed.hashHex !== actual) return err(`model ${name} ${meta.value.version} refused: file hash ${short(actual)} does not match the committed hash ${short(committed.hashHex)}`);
  }
  return ok({ meta: meta.value, bytes });
}
