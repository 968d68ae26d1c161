// Model rollout on a device: the agent loads the version the committed rollout assigns it only when
// the file's sha256 matches the committed hash; a tampered canary file is refused, reported in
// status, and the agent keeps inferring with the model it already had.

import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { CommittedView } from '../../agents/api/agent.js';
import { AgentScheduler } from '../../agents/api/scheduler.js';
import { MemoryStateStore } from '../../agents/api/state-store.js';
import { telemetryAnomalyAgent } from '../../agents/builtin/telemetry-anomaly.js';
import { decodeOnnx, encodeOnnx } from '../../agents/inference/onnx-proto.js';
import { sha256Hex, shippedModelsDir, type CommittedModel } from '../../agents/models/registry.js';
import { applyModelCommand, assignedModel, emptyRollout, parseModelCommand } from '../../agents/swarm/rollout.js';
import { unwrap } from '../../runtime/lib/result.js';

const dir = mkdtempSync(join(tmpdir(), 'murmur-rollout-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Publishes telemetry-anomaly 1.1.0 (same weights, new metadata, so new bytes and hash) under dir/1.1.0. */
function publishNewVersion(): string {
  const shipped = readFileSync(join(shippedModelsDir, 'telemetry-anomaly', 'model.onnx'));
  const model = unwrap(decodeOnnx(new Uint8Array(shipped)));
  const bytes = encodeOnnx({ ...model, metadata: { ...model.metadata, 'murmur.version': '1.1.0' } });
  const out = join(dir, '1.1.0', 'telemetry-anomaly');
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'model.onnx'), bytes);
  const meta = JSON.parse(readFileSync(join(shippedModelsDir, 'telemetry-anomaly', 'metadata.json'), 'utf8')) as Record<string, unknown>;
  writeFileSync(join(out, 'metadata.json'), JSON.stringify({ ...meta, version: '1.1.0', bytes: bytes.length, hash: { alg: 'sha256', hex: sha256Hex(bytes) } }));
  return sha256Hex(bytes);
}

const view = (models: Record<string, CommittedModel | null>): CommittedView => ({ height: 1, f: 1, hazards: [], cellM: 5, geofence: null, home: null, models });

describe('model rollout on a device', () => {
  it('a canary device switches to the committed version; a tampered file is refused and the old model keeps running', async () => {
    const hash = publishNewVersion();
    const devices = ['v0', 'v1', 'v2', 'v3'];
    const rollout = unwrap(applyModelCommand(emptyRollout, unwrap(parseModelCommand({ action: 'canary', model: 'telemetry-anomaly', version: '1.1.0', hash })), devices, 5));
    const canaryDevice = rollout.models['telemetry-anomaly']!.canary!.devices[0]!;
    const assigned = assignedModel(rollout, 'telemetry-anomaly', canaryDevice);
    expect(assigned?.version).toBe('1.1.0');

    const sched = new AgentScheduler({ store: new MemoryStateStore(), act: () => undefined, attest: () => undefined, cpuClock: () => 0 });
    sched.add(telemetryAnomalyAgent({ deviceId: canaryDevice, prefer: ['pure-ts', 'rules'] }));
    await sched.start(0);
    expect(sched.status()[0]).toMatchObject({ engine: 'pure-ts', model: 'telemetry-anomaly@1.0.0', modelRefused: null });

    // The device stores versions under dir/<version>/; the slot is told where through modelsDirFor.
    const sched2 = new AgentScheduler({ store: new MemoryStateStore(), act: () => undefined, attest: () => undefined, cpuClock: () => 0 });
    sched2.add(telemetryAnomalyAgent({ deviceId: canaryDevice, prefer: ['pure-ts', 'rules'], modelsDirFor: (ref) => join(dir, ref.version) }));
    await sched2.start(0);
    await sched2.tick({ nowMs: 100, committed: view({ 'telemetry-anomaly': assigned }) });
    expect(sched2.status()[0]).toMatchObject({ engine: 'pure-ts', model: 'telemetry-anomaly@1.1.0', modelRefused: null });

    // Someone swaps the file on disk for one with a flipped weight: the next assignment check refuses it.
    const file = join(dir, '1.1.0', 'telemetry-anomaly', 'model.onnx');
    const bytes = readFileSync(file);
    bytes[bytes.length - 20] = (bytes[bytes.length - 20] as number) ^ 1;
    writeFileSync(file, bytes);
    const sched3 = new AgentScheduler({ store: new MemoryStateStore(), act: () => undefined, attest: () => undefined, cpuClock: () => 0 });
    sched3.add(telemetryAnomalyAgent({ deviceId: canaryDevice, prefer: ['pure-ts', 'rules'], modelsDirFor: (ref) => join(dir, ref.version) }));
    await sched3.start(0);
    await sched3.tick({ nowMs: 100, committed: view({ 'telemetry-anomaly': assigned }) });
    const st = sched3.status()[0]!;
    expect(st.modelRefused).toMatch(/telemetry-anomaly 1\.1\.0 refused: file hash sha256:[0-9a-f]{16}… does not match/);
    expect(st.model).toBe('telemetry-anomaly@1.0.0'); // still the verified shipped model
    expect(st.engine).toBe('pure-ts');
  });

  it('a file whose metadata was rewritten to match still fails against the committed hash', async () => {
    const src = join(shippedModelsDir, 'telemetry-anomaly');
    const out = join(dir, 'forged', 'telemetry-anomaly');
    mkdirSync(out, { recursive: true });
    copyFileSync(join(src, 'metadata.json'), join(out, 'metadata.json'));
    const bytes = readFileSync(join(src, 'model.onnx'));
    bytes[bytes.length - 30] = (bytes[bytes.length - 30] as number) ^ 4;
    writeFileSync(join(out, 'model.onnx'), bytes);
    const meta = JSON.parse(readFileSync(join(out, 'metadata.json'), 'utf8')) as { version: string; hash: { hex: string } };
    const committedHash = meta.hash.hex;
    meta.version = '1.0.0';
    meta.hash.hex = sha256Hex(bytes); // the attacker fixes up the metadata too
    writeFileSync(join(out, 'metadata.json'), JSON.stringify(meta));
    const sched = new AgentScheduler({ store: new MemoryStateStore(), act: () => undefined, attest: () => undefined, cpuClock: () => 0 });
    sched.add(telemetryAnomalyAgent({ deviceId: 'v0', prefer: ['pure-ts', 'rules'], modelsDirFor: () => join(dir, 'forged') }));
    await sched.start(0);
    await sched.tick({ nowMs: 100, committed: view({ 'telemetry-anomaly': { name: 'telemetry-anomaly', version: '1.0.0', hashHex: committedHash } }) });
    expect(sched.status()[0]!.modelRefused).toContain('does not match the committed hash');
  });
});
