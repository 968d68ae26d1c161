// Model rollout on a device: the agent loads the version the committed rollout (runtime/mission/models.ts)
// assigns it only when the file's sha256 matches the committed hash; a tampered canary file is refused,
// reported once and shown in status, the agent keeps inferring with the model it already had, and a
// good file installed later is picked up on the next retry.

import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { CommittedView } from '../../agents/api/agent.js';
import { AgentScheduler } from '../../agents/api/scheduler.js';
import { MemoryStateStore } from '../../agents/api/state-store.js';
import { telemetryAnomalyAgent } from '../../agents/builtin/telemetry-anomaly.js';
import { committedModelDir, sha256Hex, shippedModelsDir, type CommittedModel } from '../../agents/models/registry.js';
import { applyModelCommand, assignedModel, parseModelArgs } from '../../runtime/mission/models.js';
import { writeModelVersion } from '../support/model-version.js';

const dir = mkdtempSync(join(tmpdir(), 'murmur-rollout-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Installs telemetry-anomaly 2.1.0 (same weights, new metadata, so new bytes and hash) as a device would: dir/<name>/<version>/. */
const publishNewVersion = (): string => writeModelVersion(join(dir, 'telemetry-anomaly', '2.1.0'), 'telemetry-anomaly', '2.1.0');

/** The version this device shipped with. */
const shipped = (JSON.parse(readFileSync(join(shippedModelsDir, 'telemetry-anomaly', 'metadata.json'), 'utf8')) as { version: string }).version;

const view = (models: Record<string, CommittedModel | null>): CommittedView => ({ height: 1, f: 1, hazards: [], cellM: 5, geofence: null, home: null, models });

describe('model rollout on a device', () => {
  it('a canary device switches to the committed version; a tampered file is refused and the old model keeps running', async () => {
    const hash = publishNewVersion();
    const devices = ['v0', 'v1', 'v2', 'v3'];
    const out = applyModelCommand(null, parseModelArgs({ action: 'canary', model: 'telemetry-anomaly', version: '2.1.0', sha256: hash }), devices, 5);
    if (!out.ok) throw new Error(out.reason);
    const canaryDevice = out.rollout.canary!.nodes[0]!;
    const v = assignedModel([out.rollout], 'telemetry-anomaly', canaryDevice)!;
    expect(v.version).toBe('2.1.0');
    const assigned: CommittedModel = { name: 'telemetry-anomaly', version: v.version, hashHex: v.sha256 };
    const reports: string[] = [];
    const scheduler = () => new AgentScheduler({ store: new MemoryStateStore(), act: () => undefined, attest: () => undefined, cpuClock: () => 0, onReport: (r) => reports.push(`${r.kind}: ${r.message}`) });

    const sched = scheduler();
    sched.add(telemetryAnomalyAgent({ deviceId: canaryDevice, prefer: ['pure-ts', 'rules'] }));
    await sched.start(0);
    expect(sched.status()[0]).toMatchObject({ engine: 'pure-ts', model: `telemetry-anomaly@${shipped}`, modelRefused: null });

    // The device keeps installed versions under dir/<name>/<version>/; committedModelDir finds them.
    const sched2 = scheduler();
    sched2.add(telemetryAnomalyAgent({ deviceId: canaryDevice, prefer: ['pure-ts', 'rules'], modelDirFor: (ref) => committedModelDir(dir, ref) }));
    await sched2.start(0);
    await sched2.tick({ nowMs: 100, committed: view({ 'telemetry-anomaly': assigned }) });
    expect(sched2.status()[0]).toMatchObject({ engine: 'pure-ts', model: 'telemetry-anomaly@2.1.0', modelRefused: null });
    expect(reports).toContain(`model-loaded: now running telemetry-anomaly@2.1.0 (was telemetry-anomaly@${shipped}), engine pure-ts`);

    // Someone swaps the file on disk for one with a flipped weight: the next assignment check refuses it.
    const file = join(dir, 'telemetry-anomaly', '2.1.0', 'model.onnx');
    const good = readFileSync(file);
    const bytes = Buffer.from(good);
    bytes[bytes.length - 20] = (bytes[bytes.length - 20] as number) ^ 1;
    writeFileSync(file, bytes);
    const sched3 = scheduler();
    sched3.add(telemetryAnomalyAgent({ deviceId: canaryDevice, prefer: ['pure-ts', 'rules'], modelDirFor: (ref) => committedModelDir(dir, ref) }));
    await sched3.start(0);
    reports.length = 0;
    for (let t = 100; t <= 1_000; t += 100) await sched3.tick({ nowMs: t, committed: view({ 'telemetry-anomaly': assigned }) });
    const st = sched3.status()[0]!;
    expect(st.modelRefused).toMatch(/telemetry-anomaly 2\.1\.0 refused: file hash sha256:[0-9a-f]{16}… does not match/);
    expect(st.model).toBe(`telemetry-anomaly@${shipped}`); // still the verified shipped model
    expect(st.engine).toBe('pure-ts');
    expect(reports.filter((r) => r.startsWith('model-refused'))).toHaveLength(1); // reported once, not every tick
    expect(reports[0]).toMatch(new RegExp(`; still running telemetry-anomaly@${shipped}$`));

    // The operator reinstalls the right file: within the retry period the agent loads it.
    writeFileSync(file, good);
    await sched3.tick({ nowMs: 2_000, committed: view({ 'telemetry-anomaly': assigned }) });
    expect(sched3.status()[0]!.model).toBe(`telemetry-anomaly@${shipped}`); // too soon to read the file again
    await sched3.tick({ nowMs: 5_200, committed: view({ 'telemetry-anomaly': assigned }) });
    expect(sched3.status()[0]).toMatchObject({ model: 'telemetry-anomaly@2.1.0', modelRefused: null });
    // Rolled back (no assignment): the shipped model again.
    await sched3.tick({ nowMs: 5_300, committed: view({ 'telemetry-anomaly': null }) });
    expect(sched3.status()[0]).toMatchObject({ model: `telemetry-anomaly@${shipped}`, modelRefused: null });
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
    meta.hash.hex = sha256Hex(bytes); // the attacker fixes up the metadata too
    writeFileSync(join(out, 'metadata.json'), JSON.stringify(meta));
    const sched = new AgentScheduler({ store: new MemoryStateStore(), act: () => undefined, attest: () => undefined, cpuClock: () => 0 });
    sched.add(telemetryAnomalyAgent({ deviceId: 'v0', prefer: ['pure-ts', 'rules'], modelDirFor: () => join(dir, 'forged', 'telemetry-anomaly') }));
    await sched.start(0);
    await sched.tick({ nowMs: 100, committed: view({ 'telemetry-anomaly': { name: 'telemetry-anomaly', version: shipped, hashHex: committedHash } }) });
    expect(sched.status()[0]!.modelRefused).toContain('does not match the committed hash');
  });
});
