// An inference worker that stops answering (stuck inside the native library) is noticed: its requests
// fail with the reason, the next request starts a fresh worker, and after crashesMax the agents stay on
// the pure-TypeScript engine, which status names. Without this a hung worker was a silent stop.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { telemetryFeatureCount, telemetryRules } from '../../agents/features/telemetry.js';
import { loadInference } from '../../agents/inference/engine.js';
import { OrtWorker } from '../../agents/inference/ort-worker.js';
import { shippedModelsDir } from '../../agents/models/registry.js';

const hungOrt = join(fileURLToPath(new URL('.', import.meta.url)), '..', 'support', 'hung-onnxruntime.cjs');
const bytes = new Uint8Array(readFileSync(join(shippedModelsDir, 'telemetry-anomaly', 'model.onnx')));

/** Settles `p` or says it did not within `ms` (the test's own bound, far above the worker's). */
const within = <T>(p: Promise<T>, ms: number): Promise<T | 'unsettled'> => Promise.race([p, new Promise<'unsettled'>((r) => setTimeout(() => r('unsettled'), ms))]);

describe('a hung inference worker', () => {
  it('fails its requests after hangMs, and the agent falls back to the pure-TypeScript engine, saying why', async () => {
    const w = new OrtWorker(hungOrt, { hangMs: 400 });
    try {
      const h = await w.load(bytes);
      const run = w.run(h, new Float32Array(telemetryFeatureCount), 1, telemetryFeatureCount).then(
        () => 'answered',
        (e: unknown) => (e instanceof Error ? e.message : String(e)),
      );
      expect(await within(run, 3_000)).toMatch(/^inference worker hung: no reply for \d+ ms/);
      // A fresh worker next time; it hangs too, so after crashesMax the engine gives up on it.
      const inf = await within(loadInference({ modelBytes: bytes, inputSize: telemetryFeatureCount, outputSize: 3, rules: telemetryRules, ort: w }), 3_000);
      if (inf === 'unsettled') throw new Error('loadInference never settled');
      expect(inf.engine).toBe('pure-ts');
      expect(inf.reasons.join(' ')).toMatch(/onnxruntime: inference worker hung/);
      const reasons: string[] = [];
      for (let i = 0; i < 2; i++) {
        const again = await within(loadInference({ modelBytes: bytes, inputSize: telemetryFeatureCount, outputSize: 3, rules: telemetryRules, ort: w }), 3_000);
        if (again === 'unsettled') throw new Error('loadInference never settled');
        expect(again.engine).toBe('pure-ts');
        reasons.push(again.reasons.join(' '));
      }
      // The third hang gives up on onnxruntime; from then on it is not even tried.
      expect(reasons[0]).toMatch(/onnxruntime: inference worker hung/);
      expect(reasons[1]).toMatch(/onnxruntime: inference worker hung: no reply for \d+ ms; gave up after 3 crashes/);
    } finally {
      await w.close();
    }
  });

  it('loading the library slowly is not a hang (startupMs), and a run that hangs afterwards still is', async () => {
    process.env.MURMUR_TEST_ORT_START_MS = '900'; // read by the stand-in when the worker starts
    const w = new OrtWorker(hungOrt, { hangMs: 300 });
    try {
      const h = await within(w.load(bytes), 5_000);
      delete process.env.MURMUR_TEST_ORT_START_MS;
      if (h === 'unsettled') throw new Error('load never settled');
      const run = w.run(h, new Float32Array(telemetryFeatureCount), 1, telemetryFeatureCount).then(
        () => 'answered',
        (e: unknown) => (e instanceof Error ? e.message : String(e)),
      );
      expect(await within(run, 2_000)).toMatch(/^inference worker hung: no reply for \d+ ms$/);
    } finally {
      delete process.env.MURMUR_TEST_ORT_START_MS;
      await w.close();
    }
  });
});
