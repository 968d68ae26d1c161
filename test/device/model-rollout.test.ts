// Model rollout end to end with real processes: four `murmur start` devices on a real Mosquitto, and
// `murmurctl send agent.model` from an admin. Every device has hazard-detect 1.1.0 installed in its
// models directory, one of them a tampered copy. The canary device (5%: one of four) loads 1.1.0, a
// rollback returns it to the shipped 1.0.0, a promote loads 1.1.0 everywhere except on the device
// whose file was tampered with, which refuses it with its reason and keeps 1.0.0 (in its status topic,
// `murmurctl status`, /health and /metrics); a rollback of the promoted version returns every device to 1.0.0.

import mqtt from 'mqtt';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { controlTopics, type AgentStatusJson, type StatusJson } from '../../runtime/device/control-topics.js';
import { selectCanary, defaultCanaryPermille } from '../../runtime/mission/models.js';
import { writeModelVersion } from '../support/model-version.js';
import { DeviceFleet } from './device-fleet.js';

const fleet = new DeviceFleet({ validators: 4, timeScale: 20 });
const ids = ['d1', 'd2', 'd3', 'd4'];
let sha256 = '';
let canary = '';
let tampered = '';
/** The newest status document of each device, from the same retained topic murmurctl status reads. */
const latest = new Map<string, StatusJson>();
let watcher: mqtt.MqttClient | undefined;

beforeAll(async () => {
  await fleet.setup();
  for (const id of ids) sha256 = writeModelVersion(join(fleet.dir, 'data', id, 'models', 'hazard-detect', '1.1.0'), 'hazard-detect', '1.1.0');
  [canary] = selectCanary(ids, sha256, defaultCanaryPermille) as [string];
  tampered = ids.find((d) => d !== canary) as string;
  // A flipped bit in one device's copy, metadata untouched: its sha256 no longer matches.
  const file = join(fleet.dir, 'data', tampered, 'models', 'hazard-detect', '1.1.0', 'model.onnx');
  const bytes = readFileSync(file);
  bytes[bytes.length - 40] = (bytes[bytes.length - 40] as number) ^ 1;
  writeFileSync(file, bytes);
  await fleet.startAll();
  // Refused after 10 s, or at once when the broker is not there (no reconnect): no wait without an end.
  watcher = await mqtt.connectAsync(fleet.broker.url, { clientId: 'rollout-status-watcher', connectTimeout: 10_000, reconnectPeriod: 0 });
  watcher.on('message', (_t, p) => {
    const s = JSON.parse(p.toString('utf8')) as StatusJson;
    if (Array.isArray(s.agents)) latest.set(s.node, s);
  });
  await watcher.subscribeAsync(controlTopics('e2e').statusAll, { qos: 0 });
}, 60_000);

afterAll(async () => {
  await watcher?.endAsync(true);
  await fleet.teardown();
}, 30_000);

const send = async (action: string, extra: string[] = []): Promise<{ outcome: string; reason: string }> => {
  const r = await fleet.ctl(['send', 'agent.model', '--arg', `action=${action}`, '--arg', 'model=hazard-detect', '--arg', 'version=1.1.0', ...extra, '--key', fleet.keyFile('boss'), '--timeout', '20s', '--json'], 30_000);
  expect(r.code, r.stdout + r.stderr).toBe(0);
  return JSON.parse(r.stdout) as { outcome: string; reason: string };
};

type Hazard = Pick<AgentStatusJson, 'model' | 'modelRefused' | 'engine'>;

/** Each device's hazard-detect agent in its newest status document. */
const hazardAgents = (): Record<string, Hazard | null> => Object.fromEntries(ids.map((d) => [d, latest.get(d)?.agents.find((a) => a.name === 'hazard-detect') ?? null]));

/** Waits until every device's status shows the expected model, "+refused" when a refusal is expected too (bounded: 30 s). */
async function waitForModels(want: Record<string, string>): Promise<Record<string, Hazard | null>> {
  const deadline = Date.now() + 30_000;
  const shown = (a: Hazard | null | undefined): string | null => (a ? `${a.model ?? 'rules'}${a.modelRefused === null ? '' : '+refused'}` : null);
  const models = (): Record<string, string | null> => Object.fromEntries(ids.map((d) => [d, shown(hazardAgents()[d])]));
  while (Date.now() < deadline && JSON.stringify(models()) !== JSON.stringify(want)) await new Promise((r) => setTimeout(r, 200));
  expect(models()).toEqual(want);
  return hazardAgents();
}

const all = (v: string): Record<string, string> => Object.fromEntries(ids.map((d) => [d, `hazard-detect@${v}`]));

describe('agent.model through four murmur processes', () => {
  it('a canary loads the new version, rollback returns it, promote loads it everywhere but on a tampered file, which is refused with its reason', async () => {
    await waitForModels(all('1.0.0'));
    // send names the canary devices (accepted is the swarm's word on the command, not on the file).
    expect(await send('canary', ['--arg', `sha256=${sha256}`])).toMatchObject({ outcome: 'accepted', canary: [canary] });
    await waitForModels({ ...all('1.0.0'), [canary]: 'hazard-detect@1.1.0' });

    expect(await send('rollback')).not.toHaveProperty('canary');
    await waitForModels(all('1.0.0'));

    expect(await send('canary', ['--arg', `sha256=${sha256}`])).toMatchObject({ outcome: 'accepted' });
    await waitForModels({ ...all('1.0.0'), [canary]: 'hazard-detect@1.1.0' });
    expect(await send('promote')).toMatchObject({ outcome: 'accepted' });
    const promoted = await waitForModels({ ...all('1.1.0'), [tampered]: 'hazard-detect@1.0.0+refused' });
    expect(promoted[tampered]?.modelRefused).toMatch(/^model hazard-detect 1\.1\.0 refused: file hash sha256:[0-9a-f]{16}… does not match its metadata sha256:[0-9a-f]{16}… \(the file was modified or replaced\)$/);
    // Still inferring with the verified shipped model once running (a slow machine may catch it restarting).
    let hz = ((await fleet.health(tampered)) as unknown as { agents: AgentStatusJson[] }).agents[0];
    for (const until = Date.now() + 20_000; hz?.state !== 'running' && Date.now() < until; ) {
      await new Promise((r) => setTimeout(r, 500));
      hz = ((await fleet.health(tampered)) as unknown as { agents: AgentStatusJson[] }).agents[0];
    }
    if (hz?.state === 'running') expect(hz.engine).not.toBe('rules');
    for (const d of ids.filter((x) => x !== tampered)) expect(promoted[d]?.modelRefused).toBeNull();
    expect(fleet.devices.get(tampered)?.output).toMatch(/"agent":"hazard-detect","kind":"model-refused"/);
    // The operator sees the same in `murmurctl status`, /health and the Prometheus metrics.
    // On a slow machine an agent that overran its CPU budget restarts, and for the moment it is starting
    // its status carries no refusal yet: the table is read again until it settles (20 s at most).
    const canaryRow = new RegExp(`${canary} .*hazard-detect:[a-z-]+@1\\.1\\.0 `);
    const tamperedRow = new RegExp(`${tampered} .*hazard-detect:[a-z-]+@1\\.0\\.0 \\(model refused[,)]`); // overruns may add a restart note
    let table = await fleet.ctl(['status']);
    const settleBy = Date.now() + 20_000;
    while (!(canaryRow.test(table.stdout) && tamperedRow.test(table.stdout)) && Date.now() < settleBy) {
      await new Promise((r) => setTimeout(r, 500));
      table = await fleet.ctl(['status']);
    }
    expect(table.stdout, table.stdout).toMatch(canaryRow);
    expect(table.stdout, table.stdout).toMatch(tamperedRow);
    const health = (await fleet.health(tampered)) as unknown as { agents: AgentStatusJson[]; health: string; healthReasons: string[] };
    expect(health.agents.map((a) => a.name)).toEqual(['hazard-detect', 'mission-reflexes', 'telemetry-anomaly']);
    // A refused model degrades the device's health, with the refusal as the reason (it read ok).
    expect(health.health).not.toBe('ok');
    expect(health.healthReasons).toContainEqual(expect.stringMatching(/^agent hazard-detect: model hazard-detect 1\.1\.0 refused: file hash/));
    const canaryHealth = (await fleet.health(canary)) as unknown as { healthReasons: string[] };
    expect(canaryHealth.healthReasons.filter((r) => r.startsWith('agent hazard-detect'))).toEqual([]);
    expect(health.agents[0]).toMatchObject({ model: 'hazard-detect@1.0.0', modelRefused: expect.stringContaining('refused') as unknown });
    const metrics = await (await fetch(`http://127.0.0.1:${fleet.devices.get(tampered)?.httpPort}/metrics`)).text();
    // The model in force is the verified shipped one. The engine is a model engine, except while the
    // agent waits out a restart (state "backoff"): on a slow machine its CPU budget (wall time) can be
    // overrun, and it then runs on rules until it restarts (a clean-clone CI run saw exactly that).
    const info = /murmur_agent_info\{agent="hazard-detect",engine="([a-z-]+)",state="([a-z]+)",model="hazard-detect@1\.0\.0"\} 1/.exec(metrics);
    expect(info, metrics).not.toBeNull();
    if (info?.[2] !== 'backoff') expect(info?.[1]).toMatch(/^(onnxruntime|pure-ts)$/);
    expect(metrics).toContain('murmur_agent_model_refused{agent="hazard-detect"} 1');
    expect(metrics).toMatch(/murmur_agent_restarts\{agent="mission-reflexes"\} 0/);
    expect(await send('rollback')).toMatchObject({ outcome: 'accepted' });
    // A promote of something that is not the running canary is committed as rejected, with the reason:
    // sent while the devices load 1.0.0 again (the rollback is committed: no canary runs).
    const [again] = await Promise.all([
      fleet.ctl(['send', 'agent.model', '--arg', 'action=promote', '--arg', 'model=hazard-detect', '--arg', 'version=1.1.0', '--key', fleet.keyFile('boss'), '--timeout', '20s']),
      waitForModels(all('1.0.0')), // no refusal left on the tampered device either
    ]);
    expect(again).toMatchObject({
      code: 3,
      stdout: expect.stringContaining('rejected: hazard-detect 1.1.0 is not the running canary; send action=canary first') as unknown,
    });
  }, 240_000);
});
