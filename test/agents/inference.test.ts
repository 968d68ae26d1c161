// The inference engines: the shipped ONNX files run identically (within float tolerance) in
// onnxruntime-node (worker thread) and the pure-TypeScript engine; fallbacks are chosen and reported.

import { copyFileSync, mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { rangeRules } from '../../agents/features/range.js';
import { telemetryFeatureCount, telemetryRules } from '../../agents/features/telemetry.js';
import { loadInference } from '../../agents/inference/engine.js';
import { decodeOnnx, encodeOnnx } from '../../agents/inference/onnx-proto.js';
import { OrtWorker } from '../../agents/inference/ort-worker.js';
import { loadVerifiedModel, shippedModelsDir } from '../../agents/models/registry.js';
import { rangeDataset, telemetryDataset } from '../../agents/training/datasets.js';
import { mlpToOnnx, trainMlp } from '../../agents/training/mlp.js';
import { unwrap } from '../../runtime/lib/result.js';
import { Prng } from '../../runtime/lib/prng.js';
import { AgentScheduler, type AgentReport } from '../../agents/api/scheduler.js';
import { MemoryStateStore } from '../../agents/api/state-store.js';
import { telemetryAnomalyAgent } from '../../agents/builtin/telemetry-anomaly.js';
import { telemetryBase, telemetryWindow } from '../../agents/sim/sensors.js';

const ort = new OrtWorker();
afterAll(() => ort.close());

const shipped = [
  { name: 'telemetry-anomaly', rules: telemetryRules, data: telemetryDataset },
  { name: 'hazard-detect', rules: rangeRules, data: rangeDataset },
] as const;

describe('shipped models', () => {
  for (const m of shipped) {
    it(`${m.name}: onnxruntime-node and the pure-TypeScript engine agree within 1e-5`, async () => {
      const v = unwrap(loadVerifiedModel(shippedModelsDir, m.name));
      const common = { modelBytes: v.bytes, inputSize: v.meta.input.size, outputSize: v.meta.output.size, rules: m.rules, ort };
      const native = await loadInference({ ...common, prefer: ['onnxruntime'] });
      const pure = await loadInference({ ...common, prefer: ['pure-ts'] });
      expect(native.engine, native.reasons.join('; ')).toBe('onnxruntime');
      expect(pure.engine).toBe('pure-ts');
      const { xs } = m.data(424242, 64);
      const batch = new Float32Array(xs.length * v.meta.input.size);
      xs.forEach((x, i) => batch.set(x, i * v.meta.input.size));
      const a = await native.run(batch, xs.length);
      const b = await pure.run(batch, xs.length);
      expect(a.length).toBe(xs.length * v.meta.output.size);
      let maxDiff = 0;
      for (let i = 0; i < a.length; i++) maxDiff = Math.max(maxDiff, Math.abs((a[i] as number) - (b[i] as number)));
      expect(maxDiff).toBeLessThan(1e-5);
      await native.release();
    });
  }

  it('the ONNX encoder and decoder round-trip the shipped file byte for byte', () => {
    const v = unwrap(loadVerifiedModel(shippedModelsDir, 'hazard-detect'));
    expect(encodeOnnx(unwrap(decodeOnnx(v.bytes)))).toEqual(v.bytes);
  });
});

describe('training', () => {
  it('is deterministic from its seed and exports ONNX that onnxruntime-node accepts', async () => {
    const { xs, ys } = telemetryDataset(5, 300);
    const spec = { sizes: [telemetryFeatureCount, 8, 3], output: 'softmax' as const };
    const opts = { seed: 9, epochs: 3, batch: 32, learningRate: 0.01 };
    const a = encodeOnnx(mlpToOnnx(trainMlp(spec, xs, ys, opts), 'tiny', '0.0.1'));
    const b = encodeOnnx(mlpToOnnx(trainMlp(spec, xs, ys, opts), 'tiny', '0.0.1'));
    expect(a).toEqual(b);
    const inf = await loadInference({ modelBytes: a, inputSize: telemetryFeatureCount, outputSize: 3, rules: telemetryRules, ort, prefer: ['onnxruntime'] });
    expect(inf.engine, inf.reasons.join('; ')).toBe('onnxruntime');
    const out = await inf.run(xs[0]!, 1);
    expect(out.reduce((x, y) => x + y, 0)).toBeCloseTo(1, 5);
    await inf.release();
  });
});

describe('engine fallback', () => {
  const dir = mkdtempSync(join(tmpdir(), 'murmur-models-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('uses the pure-TypeScript engine when onnxruntime-node fails to load, and says why', async () => {
    const broken = new OrtWorker(join(dir, 'no-such-onnxruntime.js'));
    const v = unwrap(loadVerifiedModel(shippedModelsDir, 'telemetry-anomaly'));
    const inf = await loadInference({ modelBytes: v.bytes, inputSize: telemetryFeatureCount, outputSize: 3, rules: telemetryRules, ort: broken });
    expect(inf.engine).toBe('pure-ts');
    expect(inf.reasons.join(' ')).toMatch(/onnxruntime: .*did not load/);
    await broken.close();
  });

  it('falls back to rules when the model uses an operator no engine here runs', async () => {
    const v = unwrap(loadVerifiedModel(shippedModelsDir, 'telemetry-anomaly'));
    const model = unwrap(decodeOnnx(v.bytes));
    const odd = encodeOnnx({ ...model, graph: { ...model.graph, nodes: model.graph.nodes.map((n) => (n.opType === 'Relu' ? { ...n, opType: 'Mystery' } : n)) } });
    const inf = await loadInference({ modelBytes: odd, inputSize: telemetryFeatureCount, outputSize: 3, rules: telemetryRules, ort });
    expect(inf.engine).toBe('rules');
    expect(inf.reasons.join(' ')).toContain('Mystery');
    const out = await inf.run(new Float32Array(telemetryFeatureCount).fill(0).map((_, i) => (i === 4 ? 3.9 : 0)), 1);
    expect(out.length).toBe(3);
  });

  it('refuses a tampered model file and a model whose hash differs from the committed one', () => {
    mkdirSync(join(dir, 'telemetry-anomaly'));
    for (const f of ['model.onnx', 'metadata.json']) copyFileSync(join(shippedModelsDir, 'telemetry-anomaly', f), join(dir, 'telemetry-anomaly', f));
    const good = unwrap(loadVerifiedModel(dir, 'telemetry-anomaly'));
    const committed = { name: 'telemetry-anomaly', version: good.meta.version, hashHex: good.meta.hash.hex };
    expect(loadVerifiedModel(dir, 'telemetry-anomaly', committed).ok).toBe(true);
    const tampered = Uint8Array.from(good.bytes);
    tampered[tampered.length - 10] = (tampered[tampered.length - 10] as number) ^ 0x40; // flip one weight bit
    writeFileSync(join(dir, 'telemetry-anomaly', 'model.onnx'), tampered);
    const r = loadVerifiedModel(dir, 'telemetry-anomaly', committed);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatch(/refused: file hash sha256:[0-9a-f]{16}… does not match its metadata/);
    const other = loadVerifiedModel(shippedModelsDir, 'telemetry-anomaly', { ...committed, hashHex: 'ab'.repeat(32) });
    expect(other.ok).toBe(false);
    if (!other.ok) expect(other.error).toContain('does not match the committed hash');
  });
});

describe('onnxruntime worker crash', () => {
  it('an agent whose worker dies is restarted and runs on a fresh worker; old session handles stay dead', async () => {
    const worker = new OrtWorker();
    const reports: AgentReport[] = [];
    const sched = new AgentScheduler({ store: new MemoryStateStore(), act: () => undefined, attest: () => undefined, cpuClock: () => 0, onReport: (r) => reports.push(r) });
    sched.add(telemetryAnomalyAgent({ deviceId: 'v0', ort: worker }));
    await sched.start(0);
    expect(sched.status()[0]!.engine).toBe('onnxruntime');
    const prng = new Prng(3);
    const base = telemetryBase(prng);
    const feed = async (t0: number, t1: number): Promise<void> => {
      for (let t = t0; t < t1; t += 100) {
        const w = telemetryWindow(prng, t, 'normal', 1, base, prng, undefined, 'steady');
        await sched.tick({ nowMs: t, imu: w.imu, battery: w.battery[0]! });
      }
    };
    await feed(0, 2_000);
    const v = unwrap(loadVerifiedModel(shippedModelsDir, 'telemetry-anomaly'));
    const stale = await worker.load(v.bytes);
    await worker.kill();
    await feed(2_000, 4_000);
    expect(reports.some((r) => r.kind === 'crashed' && r.message.includes('lost when the worker stopped'))).toBe(true);
    const st = sched.status()[0]!;
    expect(st.status).toBe('running');
    expect(st.engine).toBe('onnxruntime');
    expect(st.restarts).toBe(1);
    await expect(worker.run(stale, new Float32Array(telemetryFeatureCount), 1, telemetryFeatureCount)).rejects.toThrow(/lost when the worker stopped/);
    await sched.stop(4_000);
    await worker.close();
  });
});
