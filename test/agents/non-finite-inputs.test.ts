// Non-finite sensor values never reach a model: one NaN IMU axis or range distance made the window's
// features NaN, the two engines disagreed on them (pure-ts Relu mapped NaN to 0, onnxruntime kept it),
// and pure-ts signed a false 'degraded' self-attestation. Such samples are dropped, with a reason.

import { afterAll, describe, expect, it } from 'vitest';
import type { AgentOutput, LocalPosition } from '../../agents/api/agent.js';
import { hazardDetectAgent } from '../../agents/builtin/hazard-detect.js';
import { telemetryAnomalyAgent, type TelemetryAnomalyState } from '../../agents/builtin/telemetry-anomaly.js';
import { hazardRangeRing, rangeScanUsable } from '../../agents/features/range.js';
import { imuSampleFinite } from '../../agents/features/telemetry.js';
import { loadInference } from '../../agents/inference/engine.js';
import { OrtWorker } from '../../agents/inference/ort-worker.js';
import { loadVerifiedModel, shippedModelsDir } from '../../agents/models/registry.js';
import { telemetryDataset } from '../../agents/training/datasets.js';
import { telemetryRules } from '../../agents/features/telemetry.js';
import type { ImuSample, RangeReading } from '../../hal/devices.js';
import { unwrap } from '../../runtime/lib/result.js';

const ort = new OrtWorker();
afterAll(() => ort.close());

describe('the engines on a non-finite feature', () => {
  it('pure-ts propagates NaN through Relu as onnxruntime does', async () => {
    const v = unwrap(loadVerifiedModel(shippedModelsDir, 'telemetry-anomaly'));
    const row = Float32Array.from(telemetryDataset(9, 1).xs[0] as Float32Array);
    row[1] = Number.NaN;
    const common = { modelBytes: v.bytes, inputSize: v.meta.input.size, outputSize: v.meta.output.size, rules: telemetryRules, ort };
    const native = await loadInference({ ...common, prefer: ['onnxruntime'] });
    const pure = await loadInference({ ...common, prefer: ['pure-ts'] });
    expect([native.engine, pure.engine]).toEqual(['onnxruntime', 'pure-ts']);
    const a = Array.from(await native.run(row, 1)).map(Number.isNaN);
    const b = Array.from(await pure.run(row, 1)).map(Number.isNaN);
    expect(b).toEqual(a);
    expect(b.every((x) => x)).toBe(true);
    await native.release();
  });
});

describe('samples with a non-finite value are dropped before the features', () => {
  it('telemetry-anomaly: one IMU sample with a NaN gyro axis in a calm hover is no anomaly', async () => {
    const a = telemetryAnomalyAgent({ deviceId: 'v0', prefer: ['pure-ts'] });
    let s: TelemetryAnomalyState = await a.start({ nowMs: 0, restored: undefined });
    expect(a.engine?.()).toBe('pure-ts');
    const outputs: AgentOutput[] = [];
    for (let k = 0; k < 40; k++) {
      const t = 1_000 + k * 100;
      const imu: ImuSample = { timeMs: t, accelMps2: { x: 0.02 * Math.cos(k), y: 0.01, z: -9.81 }, gyroRadps: { x: k === 25 ? Number.NaN : 0.01 * Math.sin(k), y: 0, z: 0 } };
      const r = await a.tick(s, { nowMs: t, imu: [imu], battery: { timeMs: t, voltageV: 16.2, cells: 4, currentA: 12 + 0.2 * Math.sin(k), remainingFraction: 0.8, consumedMah: 0, status: 'ok' }, flight: { timeMs: t, armed: true, mode: 'mission', landed: 'in-air', home: null, failsafe: false } });
      s = r.state;
      outputs.push(...(r.outputs ?? []));
      if (k === 25) expect(a.engineReasons?.()).toContain('1 IMU sample with a non-finite axis dropped');
    }
    expect(outputs).toEqual([]);
    expect(s.condition).toBe('normal');
    expect(a.engineReasons?.().join(' ')).not.toContain('non-finite'); // later samples were fine
    await a.stop?.();
  });

  it('hazard-detect: a scan with a NaN distance makes no decision and says why', async () => {
    const pos: LocalPosition = { timeMs: 0, northM: 2.5, eastM: 2.5, altM: 30, headingRad: 0, velocityNorthMps: 0, velocityEastMps: 0 };
    const scan = (timeMs: number, nanBeam: boolean): RangeReading[] =>
      hazardRangeRing.beamsRad.map((bearingRad, i) => ({ timeMs, distanceM: nanBeam && i === 0 ? Number.NaN : 8, minM: hazardRangeRing.minM, maxM: hazardRangeRing.maxM, bearingRad }));
    expect(rangeScanUsable(scan(0, false))).toBe(true);
    expect(rangeScanUsable(scan(0, true))).toBe(false);
    const a = hazardDetectAgent({ prefer: ['pure-ts'] });
    let s = await a.start({ nowMs: 0, restored: undefined });
    const r = await a.tick(s, { nowMs: 200, position: pos, range: scan(200, true) });
    s = r.state;
    expect(r.outputs ?? []).toEqual([]);
    expect(a.engineReasons?.()).toContain('range scan with a NaN distance or a non-finite range: no decision');
    await a.tick(s, { nowMs: 400, position: pos, range: scan(400, false) });
    expect(a.engineReasons?.().join(' ')).not.toContain('NaN distance');
    await a.stop?.();
  });

  it('imuSampleFinite names a sample with any non-finite axis', () => {
    const ok: ImuSample = { timeMs: 0, accelMps2: { x: 0, y: 0, z: -9.81 }, gyroRadps: { x: 0, y: 0, z: 0 } };
    expect(imuSampleFinite(ok)).toBe(true);
    expect(imuSampleFinite({ ...ok, accelMps2: { ...ok.accelMps2, z: Number.POSITIVE_INFINITY } })).toBe(false);
    expect(imuSampleFinite({ ...ok, gyroRadps: { ...ok.gyroRadps, y: Number.NaN } })).toBe(false);
  });
});
