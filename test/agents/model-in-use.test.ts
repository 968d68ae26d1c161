// A model that loads but fails in use is refused, and the model before it runs again: one whose outputs
// are non-finite run after run (before, NaN scores compared false with every threshold: health 'ok',
// and no attestation or denial ever), and one whose runs, just after the switch to it, are over the
// agent's budget (before, the agent restart-looped with backoff up to 30 s, hazard detection off).
// A backed-off agent restarts at once when its committed model assignment changes.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Agent, CommittedView } from '../../agents/api/agent.js';
import { ModelSlot, slowRunsToRefuse } from '../../agents/api/model-slot.js';
import { AgentScheduler, type AgentReport } from '../../agents/api/scheduler.js';
import { MemoryStateStore } from '../../agents/api/state-store.js';
import { telemetryFeatureCount, telemetryRules } from '../../agents/features/telemetry.js';
import { loadInference, type Inference, type InferenceOptions } from '../../agents/inference/engine.js';
import { shippedModelsDir, type CommittedModel } from '../../agents/models/registry.js';
import { denseChainModel, writeModelBytes, writeModelVersion } from '../support/model-version.js';

const dir = mkdtempSync(join(tmpdir(), 'murmur-model-in-use-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const shipped = (JSON.parse(readFileSync(join(shippedModelsDir, 'telemetry-anomaly', 'metadata.json'), 'utf8')) as { version: string }).version;
const common = { name: 'telemetry-anomaly', inputSize: telemetryFeatureCount, outputSize: 3, rules: telemetryRules, prefer: ['pure-ts', 'rules'] as const, modelDirFor: (r: CommittedModel) => join(dir, r.version) };
const ref = (version: string, hashHex: string): CommittedModel => ({ name: 'telemetry-anomaly', version, hashHex });
const typicalRow = Float32Array.of(0.05, 0.02, 0.01, 4.1, 0.001, 12, 0.3);

describe('a model that fails in use', () => {
  it('non-finite outputs are no decision, counted, and three in a row refuse the model: the one before runs again', async () => {
    // Finite on the all-zero probe row (the only one it is probed with here), NaN on any other.
    const nan = writeModelBytes(join(dir, '2.5.0-nan'), 'telemetry-anomaly', '2.5.0-nan', denseChainModel({ name: 'telemetry-anomaly', version: '2.5.0-nan', inputs: telemetryFeatureCount, hidden: 8, layers: 0, outputs: 3, firstWeight: 3e38 }));
    const slot = new ModelSlot({ ...common, probeRows: [new Float32Array(telemetryFeatureCount)] });
    await slot.ensure(null, 0);
    await slot.ensure(ref('2.5.0-nan', nan), 100);
    expect(slot.model()?.version).toBe('2.5.0-nan'); // it passed its load checks
    expect(await slot.run(typicalRow)).toBeNull();
    expect(await slot.run(typicalRow)).toBeNull();
    expect(slot.refused()).toBeNull();
    expect(await slot.run(typicalRow)).toBeNull();
    expect(slot.refused()).toBe('model telemetry-anomaly 2.5.0-nan refused: 3 runs in a row gave non-finite outputs (NaN or infinite)');
    expect({ engine: slot.engine(), model: slot.model()?.version }).toEqual({ engine: 'pure-ts', model: shipped });
    expect(slot.reasons()).toContain('3 runs gave non-finite outputs: no decision');
    expect((await slot.run(typicalRow))?.every(Number.isFinite)).toBe(true);
    // Still assigned, later and after an agent restart: not loaded again.
    await slot.ensure(ref('2.5.0-nan', nan), 60_000);
    await slot.release();
    await slot.ensure(ref('2.5.0-nan', nan), 61_000);
    expect({ model: slot.model()?.version, refused: slot.refused() !== null }).toEqual({ model: shipped, refused: true });
    // Rolled back: the refusal is over.
    await slot.ensure(null, 62_000);
    expect({ model: slot.model()?.version, refused: slot.refused() }).toEqual({ model: shipped, refused: null });
    await slot.release();
  });

  it('after an agent restart the model that runs instead is still the one before the refused one, not the shipped one', async () => {
    const stable = writeModelVersion(join(dir, '2.1.0'), 'telemetry-anomaly', '2.1.0');
    const nan = writeModelBytes(join(dir, '2.5.1-nan'), 'telemetry-anomaly', '2.5.1-nan', denseChainModel({ name: 'telemetry-anomaly', version: '2.5.1-nan', inputs: telemetryFeatureCount, hidden: 8, layers: 0, outputs: 3, firstWeight: 3e38 }));
    const slot = new ModelSlot({ ...common, probeRows: [new Float32Array(telemetryFeatureCount)] });
    await slot.ensure(ref('2.1.0', stable), 0);
    await slot.ensure(ref('2.5.1-nan', nan), 100);
    for (let i = 0; i < 3; i++) await slot.run(typicalRow);
    expect({ model: slot.model()?.version, refused: slot.refused() !== null }).toEqual({ model: '2.1.0', refused: true });
    await slot.release(); // the agent restarts
    await slot.ensure(ref('2.5.1-nan', nan), 200);
    expect({ model: slot.model()?.version, refused: slot.refused() !== null }).toEqual({ model: '2.1.0', refused: true });
    await slot.release();
  });

  it('a shipped model refused in use, with nothing before it, leaves the rules', async () => {
    const shippedDir = join(dir, 'shipped');
    writeModelBytes(join(shippedDir, 'telemetry-anomaly'), 'telemetry-anomaly', '2.0.0', denseChainModel({ name: 'telemetry-anomaly', version: '2.0.0', inputs: telemetryFeatureCount, hidden: 8, layers: 0, outputs: 3, firstWeight: 3e38 }));
    const slot = new ModelSlot({ ...common, shippedDir, probeRows: [new Float32Array(telemetryFeatureCount)] });
    await slot.ensure(null, 0);
    expect(slot.engine()).toBe('pure-ts');
    for (let i = 0; i < 3; i++) expect(await slot.run(typicalRow)).toBeNull();
    expect({ engine: slot.engine(), model: slot.model(), refused: slot.refused() }).toEqual({ engine: 'rules', model: undefined, refused: 'model telemetry-anomaly 2.0.0 refused: 3 runs in a row gave non-finite outputs (NaN or infinite)' });
    expect((await slot.run(typicalRow))?.every(Number.isFinite)).toBe(true);
    await slot.release();
  });

  /** loadInference, but runs of the model in `slowBytes` take `slowMs` in the engine (as a worker
   *  reports), the others 1 ms; `reported` counts the slow runs it reported. */
  const timedLoad = (slowBytes: Uint8Array, slowMs: number, reported = { slow: 0 }) => async (o: InferenceOptions): Promise<Inference> => {
    const inf = await loadInference(o);
    const slow = o.modelBytes !== undefined && Buffer.from(o.modelBytes).equals(Buffer.from(slowBytes));
    return { ...inf, lastRunMs: () => (slow ? (reported.slow++, slowMs) : 1) };
  };

  it('runs over budget just after a switch refuse the new model before the scheduler would restart the agent', async () => {
    const slow = writeModelVersion(join(dir, '2.6.0-slow'), 'telemetry-anomaly', '2.6.0-slow');
    const slot = new ModelSlot({ ...common, budgetMs: 20, load: timedLoad(readFileSync(join(dir, '2.6.0-slow', 'model.onnx')), 35) });
    await slot.ensure(null, 0);
    for (let i = 0; i < 10; i++) await slot.run(typicalRow); // the shipped model: 1 ms a run
    await slot.ensure(ref('2.6.0-slow', slow), 100);
    expect(slot.model()?.version).toBe('2.6.0-slow');
    for (let i = 0; i < slowRunsToRefuse; i++) expect(await slot.run(typicalRow)).not.toBeNull(); // a late result is still a result
    expect(slot.refused()).toBe(`model telemetry-anomaly 2.6.0-slow refused: over budget: ${slowRunsToRefuse} runs in a row just after the switch to it took longer than the agent's 20 ms a tick (the last 35.0 ms)`);
    expect(slot.model()?.version).toBe(shipped);
    await slot.release();
  });

  it('a model that was not switched to (nothing before it) is left to the scheduler when it overruns', async () => {
    const reported = { slow: 0 };
    const slot = new ModelSlot({ ...common, budgetMs: 20, load: timedLoad(readFileSync(join(shippedModelsDir, 'telemetry-anomaly', 'model.onnx')), 35, reported) });
    await slot.ensure(null, 0);
    for (let i = 0; i < 5; i++) await slot.run(typicalRow);
    expect(reported.slow).toBe(5);
    expect({ model: slot.model()?.version, refused: slot.refused() }).toEqual({ model: shipped, refused: null });
    await slot.release();
  });
});

describe('a backed-off agent and its model assignment', () => {
  it('restarts at once when the committed assignment changes (a rollback), not after its backoff', async () => {
    const reports: AgentReport[] = [];
    const s = new AgentScheduler({ store: new MemoryStateStore(), act: () => undefined, attest: () => undefined, cpuClock: () => 0, onReport: (r) => reports.push(r) });
    let failing = true;
    const agent: Agent<{ n: number }> = {
      name: 'hazard-detect',
      inputs: ['committed'],
      periodMs: 100,
      budgetMs: 10,
      start: () => ({ n: 0 }),
      tick: (st) => {
        if (failing) throw new Error('the canary model crashed');
        return { state: { n: st.n + 1 } };
      },
    };
    s.add(agent);
    const view = (version: string | null): CommittedView => ({ height: 1, f: 1, hazards: [], cellM: 5, geofence: null, home: null, models: { 'hazard-detect': version ? { name: 'hazard-detect', version, hashHex: 'ab'.repeat(32) } : null } });
    await s.start(0);
    // Five failures: the backoff is 8 s by now.
    for (let t = 0; t < 20_000 && reports.filter((r) => r.kind === 'crashed').length < 5; t += 100) await s.tick({ nowMs: t, committed: view('9.0.0') });
    const failed = s.status()[0]!;
    expect(failed.status).toBe('backoff');
    const waitMs = (failed.restartAtMs as number) - reports.filter((r) => r.kind === 'crashed').at(-1)!.atMs;
    expect(waitMs).toBeGreaterThanOrEqual(8_000);
    // The swarm commits the rollback 100 ms later: the agent starts on the next pass.
    failing = false;
    const at = reports.at(-1)!.atMs + 100;
    await s.tick({ nowMs: at, committed: view(null) });
    expect(s.status()[0]).toMatchObject({ status: 'running', restarts: 5 });
    expect(reports.at(-1)).toMatchObject({ atMs: at, kind: 'started' });
  });
});
