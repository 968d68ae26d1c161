// murmurctl status, log and watch against a real broker with no device on it, then with one device's
// retained status: silence is one line on stderr with exit 4, a device never heard of is "unknown"
// (not "dead"), and `log --node` with an id outside the manifest is a usage error naming the ids.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectMqtt } from '../../runtime/links/mqtt-connect.js';
import { controlTopics } from '../../runtime/device/control-topics.js';
import { Mosquitto } from '../links/processes.js';
import { makeFleet, writeFleetFiles } from '../support/fleet-fixture.js';
import { runCli, type CliRun } from '../support/run-cli.js';

const dir = mkdtempSync(join(tmpdir(), 'murmur-ctl-views-'));
const p = (f: string): string => join(dir, f);
let broker: Mosquitto;
const ctl = (...args: string[]): Promise<CliRun> => runCli('murmurctl', args, { cwd: dir, env: { MURMUR_MANIFEST: p('fleet.manifest'), MURMUR_BROKER: broker.url } });

beforeAll(async () => {
  broker = await Mosquitto.start();
  // The fleet's manifest written here (murmur fleet has tests of its own).
  await writeFleetFiles(await makeFleet({ fleet: 'views', validatorIds: ['d1', 'd2', 'd3'] }), dir);
}, 60_000);
afterAll(async () => {
  await broker?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const topics = controlTopics('views');

/** Publishes retained messages as devices would, on a connection of the test's own. */
async function retain(messages: readonly [string, string][]): Promise<void> {
  const c = connectMqtt(broker.url, { clientId: 'views-test', clean: true, reconnectPeriod: 0 });
  await new Promise<void>((resolve, reject) => {
    c.once('connect', () => resolve());
    c.once('error', reject);
  });
  for (const [topic, text] of messages) await c.publishAsync(topic, text, { qos: 1, retain: true });
  await c.endAsync();
}

function oneLine(r: CliRun, code: number, text: string): void {
  expect(r.stderr, r.stderr).toContain(text);
  expect(r.stderr.trimEnd().split('\n'), r.stderr).toHaveLength(1);
  expect(r.code, r.stderr).toBe(code);
}

describe('murmurctl views with no device on the broker', () => {
  it('status, log and watch say that nothing answered and what to check (exit 4); status shows every device as unknown', async () => {
    const [status, log, watch] = await Promise.all([ctl('status', '--timeout', '300ms'), ctl('log', '--timeout', '300ms'), ctl('watch', '--timeout', '300ms')]);
    oneLine(status, 4, `no device published its status within 300 ms on ${broker.url} (fleet "views"): are the devices running and connected to this broker?`);
    const rows = status.stdout.trim().split('\n').slice(1);
    expect(rows.map((r) => r.split(/\s+/).slice(0, 3).join(' '))).toEqual(['d1 validator unknown', 'd2 validator unknown', 'd3 validator unknown']);
    oneLine(log, 4, `no device published its log within 300 ms on ${broker.url}`);
    expect(log.stdout).toBe(''); // no empty table
    oneLine(watch, 4, `nothing was published on murmur/v1/views/json/# within 300 ms on ${broker.url}`);
  });

  it('log --node with an id outside the manifest is a usage error naming the devices (exit 2)', async () => {
    oneLine(await ctl('log', '--node', 'nobody'), 2, '--node "nobody" is not a device of fleet "views"; its devices: d1, d2, d3');
  });
});

describe('murmurctl status with one device heard', () => {
  it('shows the device heard, a device it saw die as dead, and a device never heard of as unknown', async () => {
    const status = { node: 'd1', role: 'validator', state: 'ready', height: 7, round: 0, proposer: 'd2', peers: { d2: 'dead' }, batteryPct: 90, position: null, mission: null, agents: [], timeMs: Date.now() };
    await retain([[topics.status('d1'), JSON.stringify(status)]]);
    const r = await ctl('status', '--json', '--timeout', '500ms');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    const rows = JSON.parse(r.stdout) as { node: string; liveness: string }[];
    expect(rows.map((x) => [x.node, x.liveness])).toEqual([
      ['d1', 'self-only'],
      ['d2', 'dead'],
      ['d3', 'unknown'],
    ]);
  });

  it("shows a drone out of its device's hands (a pilot took it) in the table, and why in --json", async () => {
    const mission = { id: `ops/${'ab'.repeat(16)}`, status: 'active', progressPct: 40 };
    const why = "the vehicle moved 30 m from where it held (mode hold): a pilot flies it (ArduCopter's LOITER takes the sticks with no mode change)";
    const base = { role: 'validator', state: 'ready', height: 9, round: 0, proposer: 'd1', peers: {}, batteryPct: 80, position: null, mission, agents: [], timeMs: Date.now() };
    await retain([
      [topics.status('d1'), JSON.stringify({ ...base, node: 'd1', handedOver: why })],
      [topics.status('d2'), JSON.stringify({ ...base, node: 'd2' })],
    ]);
    // Two readers of the same retained statuses, each listening 500 ms: at once.
    const [table, json] = await Promise.all([ctl('status', '--timeout', '500ms'), ctl('status', '--json', '--timeout', '500ms')]);
    expect(table.code, table.stderr).toBe(0);
    const line = (node: string): string => table.stdout.split('\n').find((l) => l.startsWith(`${node} `)) ?? '';
    expect(line('d1')).toMatch(/active 40% \(handed over\)/);
    expect(line('d2')).toMatch(/active 40%/);
    expect(line('d2')).not.toMatch(/handed over/);
    const rows = JSON.parse(json.stdout) as { node: string; status: { handedOver?: string } | null }[];
    expect(rows.find((x) => x.node === 'd1')?.status?.handedOver).toBe(why);
  });
});

describe('murmurctl watch --count with a --timeout', () => {
  it('ends at its count, not at --timeout', async () => {
    await retain([[topics.status('d1'), JSON.stringify({ node: 'd1', state: 'ready', timeMs: Date.now() })]]);
    try {
      const t0 = Date.now();
      const r = await ctl('watch', '--count', '1', '--timeout', '40s');
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/^d1\/status {2}\{"node":"d1"/);
      // The process lived on until the --timeout timer fired (40 s here).
      expect(Date.now() - t0).toBeLessThan(20_000);
    } finally {
      await retain([[topics.status('d1'), '']]);
    }
  });
});

describe('murmurctl status with a device the manifest in force put out', () => {
  it('says under the table which device stopped and why, from its last retained status', async () => {
    const why = 'the fleet manifest in force (epoch 3) no longer lists "d3": a fleet.update removed it';
    const base = { role: 'validator', height: 9, round: 0, proposer: 'd1', peers: {}, batteryPct: 80, position: null, mission: null, agents: [], timeMs: Date.now() };
    await retain([
      [topics.status('d3'), JSON.stringify({ ...base, node: 'd3', state: 'offline', notMember: why })],
      [topics.status('d2'), JSON.stringify({ ...base, node: 'd2', state: 'ready' })],
    ]);
    try {
      const r = await ctl('status', '--timeout', '500ms');
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout.split('\n').find((l) => l.startsWith('d3 '))).toMatch(/^d3\s+validator\s+offline/);
      expect(r.stdout).toContain(`d3 stopped: ${why}\n`);
      expect(r.stdout).not.toContain('d2 stopped');
    } finally {
      // Retained statuses outlive the test: the next ones must not see these.
      await retain([topics.status('d3'), topics.status('d2')].map((t) => [t, '']));
    }
  });
});

describe('murmurctl log with devices that disagree', () => {
  it('shows each version of a decision with the devices that reported it, and says on stderr where they disagree', async () => {
    const decision = { height: 12, index: 0, command: `ops/${'ab'.repeat(16)}`, operator: 'ops', type: 'mission.survey', outcome: 'accepted', reason: '', blockHash: 'cd'.repeat(32) };
    const agreed = { height: 13, index: 0, command: `ops/${'ef'.repeat(16)}`, operator: 'ops', type: 'noop', outcome: 'accepted', reason: '', blockHash: '12'.repeat(32) };
    const logOf = (node: string, d: object) => JSON.stringify({ node, decisions: [d, agreed] });
    await retain([
      [topics.log('d1'), logOf('d1', decision)],
      [topics.log('d2'), logOf('d2', decision)],
      // d3 lies about height 12 (or is faulty): before, its version was merged into the first one read.
      [topics.log('d3'), logOf('d3', { ...decision, outcome: 'rejected', reason: 'battery below reserve' })],
    ]);
    const [r, table] = await Promise.all([ctl('log', '--json', '--timeout', '500ms'), ctl('log', '--timeout', '500ms')]);
    expect(r.code, r.stderr).toBe(0);
    const rows = JSON.parse(r.stdout) as { height: number; outcome: string; reportedBy: string[] }[];
    expect(rows.map((x) => [x.height, x.outcome, x.reportedBy])).toEqual([
      [12, 'accepted', ['d1', 'd2']],
      [12, 'rejected', ['d3']],
      [13, 'accepted', ['d1', 'd2', 'd3']],
    ]);
    expect(r.stderr).toBe(`devices disagree on height 12 tx 0: d1,d2: ops/${'ab'.repeat(16)} accepted; d3: ops/${'ab'.repeat(16)} rejected (battery below reserve); \`murmurctl send\` checks a commit's certificate, this log does not\n`);
    expect(table.stdout).toMatch(/\n12 +0 +ops\/(ab){16} +mission\.survey +accepted +2\n12 +0 +ops\/(ab){16} +mission\.survey +rejected +battery below reserve +1\n13 +0 +ops\/(ef){16} +noop +accepted +3\n/);
  });
});

// Review finding 6 (members-review.md): with a manifest copy older than the fleet's, status showed the
// old members only and said nothing of the epoch the devices report.
describe('murmurctl status with devices on a newer manifest than --manifest', () => {
  it('says on stderr which epoch they report and which devices outside the copy were heard; the table is as before', async () => {
    const base = { role: 'validator', state: 'ready', height: 30, round: 0, proposer: 'd1', peers: {}, batteryPct: 80, position: null, mission: null, agents: [], timeMs: Date.now() };
    await retain([
      [topics.status('d1'), JSON.stringify({ ...base, node: 'd1', epoch: 2 })],
      [topics.status('d2'), JSON.stringify({ ...base, node: 'd2', epoch: 2 })],
      [topics.status('d4'), JSON.stringify({ ...base, node: 'd4', epoch: 2 })],
    ]);
    try {
      const r = await ctl('status', '--timeout', '500ms');
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toBe(
        `murmurctl: devices report fleet manifest epoch 2 in force (d1, d2, d4), newer than --manifest ${p('fleet.manifest')} (epoch 1): this copy lacks the fleet's later changes (members, keys, validators), and commits cannot be verified against it; get the manifest of epoch 2 (the one the fleet authority signed for the last fleet.update) and give it as --manifest; heard from devices not in it: d4\n`,
      );
      expect(r.stdout.split('\n').map((l) => l.split(/\s+/)[0])).toEqual(['NODE', 'd1', 'd2', 'd3', '']);
    } finally {
      await retain([topics.status('d1'), topics.status('d2'), topics.status('d4')].map((t) => [t, '']));
    }
  });
});
