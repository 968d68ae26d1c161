// A committed model that hashes right but cannot run here (truncated, corrupt, the wrong shape) is
// refused with a reason, and the model already running keeps running: the hash proves which file it
// is, not that it is a model this agent can use.

import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ModelSlot } from '../../agents/api/model-slot.js';
import { telemetryFeatureCount, telemetryRules } from '../../agents/features/telemetry.js';
import { loadInference } from '../../agents/inference/engine.js';
import { decodeOnnx, encodeOnnx } from '../../agents/inference/onnx-proto.js';
import { OrtWorker } from '../../agents/inference/ort-worker.js';
import { committedModelDir, sha256Hex, shippedModelsDir, type CommittedModel } from '../../agents/models/registry.js';
import { telemetryDataset } from '../../agents/training/datasets.js';
import { mlpToOnnx, trainMlp } from '../../agents/training/mlp.js';
import { unwrap } from '../../runtime/lib/result.js';

const dir = mkdtempSync(join(tmpdir(), 'murmur-slot-'));
const ort = new OrtWorker();
afterAll(async () => {
  await ort.close();
  rmSync(dir, { recursive: true, force: true });
});

const shippedBytes = new Uint8Array(readFileSync(join(shippedModelsDir, 'telemetry-anomaly', 'model.onnx')));

/** Installs `bytes` as telemetry-anomaly `version`, metadata and hash matching them; returns the committed ref. */
function install(version: string, bytes: Uint8Array): CommittedModel {
  const d = join(dir, version);
  mkdirSync(d, { recursive: true });
  writeFileSync(join(d, 'model.onnx'), bytes);
  const meta = JSON.parse(readFileSync(join(shippedModelsDir, 'telemetry-anomaly', 'metadata.json'), 'utf8')) as Record<string, unknown>;
  writeFileSync(join(d, 'metadata.json'), JSON.stringify({ ...meta, version, bytes: bytes.length, hash: { alg: 'sha256', hex: sha256Hex(bytes) } }));
  return { name: 'telemetry-anomaly', version, hashHex: sha256Hex(bytes) };
}

/** A 7-8-2 network: runs, but has two outputs where the agent reads three. */
function twoOutputModel(): Uint8Array {
  const { xs, ys } = telemetryDataset(5, 50);
  return encodeOnnx(mlpToOnnx(trainMlp({ sizes: [telemetryFeatureCount, 8, 2], output: 'softmax' }, xs, ys.map((y) => Float32Array.of(y[0]!, 1 - y[0]!)), { seed: 1, epochs: 1, batch: 16, learningRate: 0.01 }), 'telemetry-anomaly', '9.0.0'));
}

/** The shipped network with one of its tensors cut to a shape that does not fit the layer it is in. */
function brokenInnerShape(): Uint8Array {
  const m = unwrap(decodeOnnx(shippedBytes));
  const w = m.graph.initializers[2]!;
  const cut = { ...w, dims: [w.dims[0]! - 1, w.dims[1]!], data: w.data.subarray(0, (w.dims[0]! - 1) * w.dims[1]!) };
  return encodeOnnx({ ...m, graph: { ...m.graph, initializers: m.graph.initializers.map((t, i) => (i === 2 ? cut : t)) } });
}

const common = { inputSize: telemetryFeatureCount, outputSize: 3, rules: telemetryRules };

describe('models that hash right but cannot run', () => {
  it('onnxruntime refuses a model whose output is not the size the agent reads', async () => {
    const inf = await loadInference({ ...common, modelBytes: twoOutputModel(), ort, prefer: ['onnxruntime', 'rules'] });
    expect(inf.engine).toBe('rules');
    expect(inf.reasons.join(' ')).toMatch(/onnxruntime: .*2 outputs, the agent reads 3/);
  });

  it('the pure-TypeScript engine refuses a model whose layers do not chain, at load and not on every tick', async () => {
    const inf = await loadInference({ ...common, modelBytes: brokenInnerShape(), prefer: ['pure-ts', 'rules'] });
    expect(inf.engine).toBe('rules');
    expect(inf.reasons.join(' ')).toMatch(/pure-ts: Gemm \w+: cannot broadcast/);
  });

  for (const [what, bytes] of [
    ['truncated', shippedBytes.subarray(0, shippedBytes.length - 40)],
    ['the wrong output size', twoOutputModel()],
    ['layers that do not chain', brokenInnerShape()],
  ] as const) {
    it(`a committed model with ${what} is refused and the running model keeps running`, async () => {
      const ref = install(`9.${what.length}.0`, bytes);
      for (const prefer of [['onnxruntime', 'pure-ts', 'rules'], ['pure-ts', 'rules']] as const) {
        const slot = new ModelSlot({ name: 'telemetry-anomaly', ...common, ort, prefer, modelDirFor: (r) => join(dir, r.version) });
        await slot.ensure(null, 0);
        const before = { engine: slot.engine(), model: slot.model()?.version };
        expect(before.engine).toBe(prefer[0]);
        await slot.ensure(ref, 100);
        expect({ engine: slot.engine(), model: slot.model()?.version }).toEqual(before);
        expect(slot.refused()).toMatch(new RegExp(`model telemetry-anomaly ${ref.version} refused: no engine here can run it`));
        const out = await slot.run(new Float32Array(telemetryFeatureCount));
        expect(out?.length).toBe(3);
        await slot.release();
      }
    });
  }
});

describe('a committed version is a name, never a path', () => {
  it('a version like "../../x" from a committed command does not reach outside the models directory', async () => {
    // parseModelArgs takes any text up to 32 characters as the version; the device joined it onto its
    // models directory, so "../../evil" loaded whatever model and metadata lay there.
    const modelsDir = join(dir, 'models');
    const bytes = shippedBytes;
    const d = join(dir, 'evil');
    mkdirSync(d, { recursive: true });
    writeFileSync(join(d, 'model.onnx'), bytes);
    const meta = JSON.parse(readFileSync(join(shippedModelsDir, 'telemetry-anomaly', 'metadata.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(join(d, 'metadata.json'), JSON.stringify({ ...meta, version: '../../evil' }));
    const ref: CommittedModel = { name: 'telemetry-anomaly', version: '../../evil', hashHex: sha256Hex(bytes) };
    expect(committedModelDir(modelsDir, ref).startsWith(d)).toBe(false);
    const slot = new ModelSlot({ name: 'telemetry-anomaly', ...common, prefer: ['pure-ts', 'rules'], modelDirFor: (r) => committedModelDir(modelsDir, r) });
    await slot.ensure(null, 0);
    await slot.ensure(ref, 100);
    expect(slot.model()?.version).not.toBe('../../evil');
    expect(slot.refused()).toBe('model telemetry-anomaly refused: the committed version "../../evil" is not a plain version name (letters, digits, . _ + -)');
    await slot.release();
  });
});

describe('retrying a refused model', () => {
  it('a node clock that steps back does not put off the next check of a refused file', async () => {
    const good = install('9.99.0', shippedBytes); // what the swarm committed
    writeFileSync(join(dir, '9.99.0', 'model.onnx'), shippedBytes.subarray(0, 100)); // the file on this device is cut short
    const slot = new ModelSlot({ name: 'telemetry-anomaly', ...common, prefer: ['pure-ts', 'rules'], modelDirFor: (r) => join(dir, r.version) });
    await slot.ensure(good, 100_000);
    expect(slot.refused()).toMatch(/refused/);
    writeFileSync(join(dir, '9.99.0', 'model.onnx'), shippedBytes); // the operator installs it again
    await slot.ensure(good, 103_000); // within modelRetryMs: not checked yet
    expect(slot.refused()).toMatch(/refused/);
    await slot.ensure(good, 100_000 - 3_600_000); // the clock stepped back an hour: checked now, not in an hour
    expect(slot.refused()).toBeNull();
    expect(slot.model()?.version).toBe('9.99.0');
    await slot.release();
  });
});

describe('a committed version that is not installed', () => {
  const shippedVersion = (JSON.parse(readFileSync(join(shippedModelsDir, 'telemetry-anomaly', 'metadata.json'), 'utf8')) as { version: string }).version;
  const modelsDir = join(dir, 'not-installed');
  const ref: CommittedModel = { name: 'telemetry-anomaly', version: '7.7.7', hashHex: sha256Hex(shippedBytes) };

  it('is refused naming the directory it was looked for in (it named the shipped one and its version)', async () => {
    // Only model.onnx copied, no metadata.json: still not installed.
    mkdirSync(join(modelsDir, 'telemetry-anomaly', '7.7.7'), { recursive: true });
    writeFileSync(join(modelsDir, 'telemetry-anomaly', '7.7.7', 'model.onnx'), shippedBytes);
    const slot = new ModelSlot({ name: 'telemetry-anomaly', ...common, prefer: ['pure-ts', 'rules'], modelDirFor: (r) => committedModelDir(modelsDir, r) });
    await slot.ensure(null, 0);
    await slot.ensure(ref, 100);
    expect(slot.refused()).toBe(`model telemetry-anomaly 7.7.7 refused: it is not installed on this device: put its model.onnx and metadata.json in ${join(modelsDir, 'telemetry-anomaly', '7.7.7')}`);
    expect(slot.model()?.version).toBe(shippedVersion); // the shipped model keeps running
    await slot.release();
  });

  it('the shipped directory still serves a committed version the device shipped with', () => {
    expect(committedModelDir(modelsDir, { ...ref, version: shippedVersion })).toBe(join(shippedModelsDir, 'telemetry-anomaly'));
  });

  it('a device that runs the rules only reads no model and refuses none', async () => {
    const slot = new ModelSlot({ name: 'telemetry-anomaly', ...common, prefer: ['rules'], modelDirFor: (r) => committedModelDir(modelsDir, r) });
    await slot.ensure(null, 0);
    await slot.ensure(ref, 100);
    expect(slot.refused()).toBeNull();
    expect(slot.model()).toBeUndefined();
    expect(slot.engine()).toBe('rules');
    await slot.release();
  });
});
