// murmurctl status and log against a real broker holding malformed retained documents (anyone who can
// publish there can leave one, and so can a device of another release): each is shown as such, the
// other devices' rows stay, exit 0. One such document made status and log exit 70 for the whole fleet
// ("internal error: Cannot read properties of undefined (reading 'slice')").

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectMqtt } from '../../runtime/links/mqtt-connect.js';
import { controlTopics } from '../../runtime/device/control-topics.js';
import { Mosquitto } from '../links/processes.js';
import { makeFleet, writeFleetFiles } from '../support/fleet-fixture.js';
import { runCli, type CliRun } from '../support/run-cli.js';

const dir = mkdtempSync(join(tmpdir(), 'murmur-ctl-malformed-'));
let broker: Mosquitto;
const ctl = (...args: string[]): Promise<CliRun> => runCli('murmurctl', args, { cwd: dir, env: { MURMUR_MANIFEST: join(dir, 'fleet.manifest'), MURMUR_BROKER: broker.url } });
const topics = controlTopics('malformed');

beforeAll(async () => {
  broker = await Mosquitto.start();
  await writeFleetFiles(await makeFleet({ fleet: 'malformed', validatorIds: ['d1', 'd2', 'd3', 'd4', 'd5', 'd6'] }), dir);
}, 60_000);
afterAll(async () => {
  await broker?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Publishes retained messages as devices (or anyone on the broker) would. */
async function retain(messages: readonly [string, string][]): Promise<void> {
  const c = connectMqtt(broker.url, { clientId: 'malformed-test', clean: true, reconnectPeriod: 0 });
  await new Promise<void>((resolve, reject) => {
    c.once('connect', () => resolve());
    c.once('error', reject);
  });
  for (const [topic, text] of messages) await c.publishAsync(topic, text, { qos: 1, retain: true });
  await c.endAsync();
}

const rowOf = (stdout: string, node: string): string => stdout.split('\n').find((l) => l.startsWith(`${node} `)) ?? '';

describe('murmurctl status with malformed status documents', () => {
  it('shows each malformed one as such in its row, and the well-formed ones as before (exit 0)', async () => {
    const now = Date.now();
    const good = { node: 'd1', role: 'validator', state: 'ready', height: 7, round: 0, proposer: 'd2', peers: { d2: 'alive' }, batteryPct: 90, position: { northM: 1, eastM: 2, upM: 3 }, mission: { id: 'ops/abc', status: 'active', progressPct: 40 }, agents: [{ name: 'hazard-detect', engine: 'rules', state: 'running', model: null, modelRefused: null, engineReasons: [], restarts: 0, ticks: 1, overruns: 0, lastError: null }], timeMs: now, fromANewerRelease: { x: 1 } };
    await retain([
      [topics.status('d1'), JSON.stringify(good)],
      [topics.status('d2'), '{"node":"d2","mission":5}'],
      [topics.status('d3'), '{"node":"d3","agents":[null]}'],
      [topics.status('d4'), 'not json'],
      [topics.status('d5'), JSON.stringify({ node: 'd5', state: 'ready', stall: { forS: 'x' }, timeMs: now })],
      [topics.status('d6'), JSON.stringify({ node: 'd6', position: { northM: 'a', eastM: null, upM: {} }, height: 1 })],
    ]);
    try {
      const [text, json] = await Promise.all([ctl('status', '--timeout', '500ms'), ctl('status', '--json', '--timeout', '500ms')]);
      expect(text.code, text.stderr).toBe(0);
      expect(text.stderr).toBe('');
      expect(rowOf(text.stdout, 'd1')).toMatch(/^d1 +validator +self-only +7 +0 +d2 +90% +1,2,3 +ops\/abc active 40% +hazard-detect:rules$/);
      expect(rowOf(text.stdout, 'd2')).toMatch(/^d2 +validator +alive +- +- +- +- +- +- +\(malformed status: mission is not an object or null\)$/);
      expect(rowOf(text.stdout, 'd3')).toMatch(/\(malformed status: agents\[0\] is not an object\)$/);
      expect(rowOf(text.stdout, 'd4')).toMatch(/\(malformed status: not JSON\)$/);
      expect(rowOf(text.stdout, 'd5')).toMatch(/\(malformed status: stall\.forS is not a number\)$/);
      expect(rowOf(text.stdout, 'd6')).toMatch(/\(malformed status: position\.northM is not a number\)$/);
      expect(json.code, json.stderr).toBe(0);
      const rows = JSON.parse(json.stdout) as { node: string; status: unknown; malformed?: string }[];
      expect(rows.map((r) => [r.node, r.malformed ?? null, r.status === null])).toEqual([
        ['d1', null, false],
        ['d2', 'mission is not an object or null', true],
        ['d3', 'agents[0] is not an object', true],
        ['d4', 'not JSON', true],
        ['d5', 'stall.forS is not a number', true],
        ['d6', 'position.northM is not a number', true],
      ]);
    } finally {
      await retain(['d1', 'd2', 'd3', 'd4', 'd5', 'd6'].map((n) => [topics.status(n), '']));
    }
  });
});

describe('murmurctl log with malformed log documents', () => {
  it('shows the decisions that fit, and names each malformed document or decision on stderr (exit 0)', async () => {
    const decision = { height: 12, index: 0, command: 'ops/ab', operator: 'ops', type: 'noop', outcome: 'accepted', reason: '', blockHash: 'cd'.repeat(32) };
    await retain([
      [topics.log('d1'), JSON.stringify({ node: 'd1', decisions: [decision] })],
      [topics.log('d2'), '{"decisions":[null]}'],
      [topics.log('d3'), JSON.stringify({ node: 'd3', decisions: [null, decision] })],
      [topics.log('d4'), JSON.stringify({ node: 'd4', decisions: [{ ...decision, height: 13, reason: [] }] })],
      [topics.log('d5'), JSON.stringify({ node: 'd5', decisions: 'x' })],
    ]);
    try {
      const [text, json] = await Promise.all([ctl('log', '--timeout', '500ms'), ctl('log', '--json', '--timeout', '500ms')]);
      for (const r of [text, json]) {
        expect(r.code, r.stderr).toBe(0);
        expect(r.stderr.split('\n').sort()).toEqual([
          '',
          `murmurctl: d2's log (${topics.log('d2')}) is malformed, left out: node is missing or not a string`,
          `murmurctl: d3's log (${topics.log('d3')}) is malformed, left out: decisions[0] is not an object`,
          `murmurctl: d4's log (${topics.log('d4')}) is malformed, left out: decisions[0].reason is not a string`,
          `murmurctl: d5's log (${topics.log('d5')}) is malformed, left out: decisions is not a list`,
        ]);
      }
      expect(text.stdout).toMatch(/^HEIGHT +TX +COMMAND +TYPE +OUTCOME +REASON +DEVICES\n12 +0 +ops\/ab +noop +accepted +2\n$/);
      expect((JSON.parse(json.stdout) as { height: number; reportedBy: string[] }[]).map((d) => [d.height, d.reportedBy])).toEqual([[12, ['d1', 'd3']]]);
    } finally {
      await retain(['d1', 'd2', 'd3', 'd4', 'd5'].map((n) => [topics.log(n), '']));
    }
  });
});
