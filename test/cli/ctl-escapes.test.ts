// murmurctl status, log and watch print what devices (or anyone on the broker) put in their documents
// with every control character escaped: an ESC sequence in a reason ("\e[31m", committed as a rejected
// param.set key) or a newline that starts a forged line reached each operator's terminal as it was.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectMqtt } from '../../runtime/links/mqtt-connect.js';
import { controlTopics } from '../../runtime/device/control-topics.js';
import { printable } from '../../runtime/cli/kit.js';
import { Mosquitto } from '../links/processes.js';
import { makeFleet, writeFleetFiles } from '../support/fleet-fixture.js';
import { runCli, type CliRun } from '../support/run-cli.js';

const dir = mkdtempSync(join(tmpdir(), 'murmur-ctl-escapes-'));
let broker: Mosquitto;
const ctl = (...args: string[]): Promise<CliRun> => runCli('murmurctl', args, { cwd: dir, env: { MURMUR_MANIFEST: join(dir, 'fleet.manifest'), MURMUR_BROKER: broker.url } });
const topics = controlTopics('escapes');
const junk = topics.status('d2').replace(/status$/, 'junk');

beforeAll(async () => {
  broker = await Mosquitto.start();
  await writeFleetFiles(await makeFleet({ fleet: 'escapes', validatorIds: ['d1', 'd2'] }), dir);
}, 60_000);
afterAll(async () => {
  await broker?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function retain(messages: readonly [string, string][]): Promise<void> {
  const c = connectMqtt(broker.url, { clientId: 'escapes-test', clean: true, reconnectPeriod: 0 });
  await new Promise<void>((resolve, reject) => {
    c.once('connect', () => resolve());
    c.once('error', reject);
  });
  for (const [topic, text] of messages) await c.publishAsync(topic, text, { qos: 1, retain: true });
  await c.endAsync();
}

/** ESC, CSI (C1), BEL, CR, a newline and a forged line, tab, DEL. */
const hostile = '\u001b[31mx\u009b2J\u0007\r\nd9  validator  alive\t\u007f';
const escaped = '\\x1b[31mx\\x9b2J\\x07\\x0d\\x0ad9  validator  alive\\x09\\x7f';
/** Any control character but the newlines that end murmurctl's own lines. */
const raw = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/;

describe('printable', () => {
  it('escapes each C0 and C1 control character as \\xNN and leaves the rest, backslashes and non-ASCII text included', () => {
    expect(printable(hostile)).toBe(escaped);
    expect(printable('über 5\\m · ok')).toBe('über 5\\m · ok');
  });
});

describe('murmurctl views with control characters in what devices say', () => {
  it('status, log and watch print them escaped, in table cells and lines alike; --json escapes them as JSON does', async () => {
    const now = Date.now();
    const status = { node: 'd1', role: 'validator', state: 'ready', height: 7, round: 0, proposer: hostile, peers: { d2: 'alive' }, batteryPct: 90, position: null, mission: { id: hostile, status: 'active', progressPct: 1 }, agents: [], notMember: hostile, timeMs: now };
    const decision = { height: 12, index: 0, command: 'ops/ab', operator: 'ops', type: 'param.set', outcome: 'rejected', reason: `unknown parameter "${hostile}"`, blockHash: 'cd'.repeat(32) };
    await retain([
      [topics.status('d1'), JSON.stringify(status)],
      [topics.status('d2'), JSON.stringify({ node: 'd2', peers: { [hostile]: 'alive' }, mission: 7 })],
      [topics.log('d1'), JSON.stringify({ node: 'd1', decisions: [decision] })],
      // d2 says otherwise: the line on stderr where they disagree holds the reason too.
      [topics.log('d2'), JSON.stringify({ node: 'd2', decisions: [{ ...decision, outcome: 'accepted' }, { ...decision, index: 1, reason: 5 }], [hostile]: 1 })],
      // Not JSON (watch prints the text of a JSON message as it came, its controls escaped by JSON).
      [junk, hostile],
    ]);
    try {
      const [st, log, watch, json] = await Promise.all([ctl('status', '--timeout', '500ms'), ctl('log', '--timeout', '500ms'), ctl('watch', '--count', '5', '--timeout', '5s'), ctl('log', '--json', '--timeout', '500ms')]);
      for (const r of [st, log, watch]) {
        expect(r.code, r.stderr).toBe(0);
        expect(r.stdout + r.stderr).not.toMatch(raw);
        expect(r.stdout + r.stderr).toContain(escaped);
      }
      expect(st.stdout).toContain(`d1 stopped: ${escaped}\n`);
      expect(st.stdout.split('\n').filter((l) => l.startsWith('d9'))).toEqual([]); // no forged row
      expect(log.stdout).toContain(`rejected  unknown parameter "${escaped}"`);
      expect(log.stderr).toContain(`d1: ops/ab rejected (unknown parameter "${escaped}")`);
      expect(watch.stdout.trimEnd().split('\n')).toHaveLength(5); // one line a message
      expect(json.code, json.stderr).toBe(0);
      expect((JSON.parse(json.stdout) as { reason: string }[]).map((d) => d.reason)).toContain(`unknown parameter "${hostile}"`);
    } finally {
      await retain([topics.status('d1'), topics.status('d2'), topics.log('d1'), topics.log('d2'), junk].map((t) => [t, '']));
    }
  });
});
