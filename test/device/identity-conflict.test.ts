// Two `murmur start` processes with one device's key (a copied device.yaml with its own data directory
// and port), four validators, a real Mosquitto. Before the identity guard the copy ran without a word:
// the two took turns on the broker (one MQTT client id) and signed votes the other did not know of,
// and the fleet committed equivocation evidence against the honest device. Now each hears the other's
// signed birth, says so in one line and exits 3 (refused: systemd does not restart it) before signing anything more; the other three go on.

import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { controlTopics } from '../../runtime/device/control-topics.js';
import { DeviceFleet } from './device-fleet.js';

const fleet = new DeviceFleet({ validators: 4, consensus: { commitWaitMs: 100 } });

beforeAll(async () => {
  await fleet.setup();
  await fleet.startAll();
}, 60_000);
afterAll(() => fleet.teardown(), 30_000);

/** Exit code of a device process, or null if it is still running after `ms`. */
function exitWithin(id: string, ms: number): Promise<number | null> {
  const p = fleet.devices.get(id)!.proc;
  if (p.exitCode !== null) return Promise.resolve(p.exitCode);
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(null), ms);
    p.once('exit', (code) => {
      clearTimeout(t);
      resolve(code);
    });
  });
}

/** d1's retained JSON status (height and committed evidence). */
async function statusOf(id: string): Promise<{ height: number; evidence: { culprit: string }[] }> {
  const c = await mqtt.connectAsync(fleet.broker.url, { reconnectPeriod: 0 });
  try {
    const got = new Promise<{ height: number; evidence: { culprit: string }[] }>((resolve) => c.on('message', (_t, p) => resolve(JSON.parse(p.toString('utf8')))));
    await c.subscribeAsync(controlTopics('e2e').status(id));
    return await Promise.race([got, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no status from ${id}`)), 5_000))]);
  } finally {
    await c.endAsync();
  }
}

describe('one identity, one process', () => {
  it('a second process with d2\'s key and its own data directory: both stop with a one-line reason, no evidence against d2, the rest commit on', async () => {
    const before = await statusOf('d1');
    await fleet.copy('d2', 'd2-copy');
    fleet.start('d2-copy');
    const [copy, original] = await Promise.all([exitWithin('d2-copy', 30_000), exitWithin('d2', 30_000)]);
    const out = (id: string) => fleet.devices.get(id)!.output;
    const why = `copy exit ${copy}, d2 exit ${original}\n--- d2-copy:\n${out('d2-copy').slice(-3_000)}\n--- d2:\n${out('d2').slice(-3_000)}`;
    expect(copy, why).toBe(3);
    expect(original, why).toBe(3);
    for (const id of ['d2', 'd2-copy']) {
      const line = out(id).split('\n').find((l) => l.includes('"event":"identity-conflict"'));
      expect(line, why).toBeDefined();
      // Its birth on the broker, or (the copy, catching up) d2's precommits in the newest blocks.
      expect(line, why).toMatch(/another process holds the key of d2 and connected|signed with the key of d2 arrived that this process never signed: another process holds the key/);
      expect(out(id), why).not.toMatch(/\n\s+at /); // no stack trace
    }
    // The other three (3 of 4 votes) commit on; nothing was committed against d2.
    const t0 = Date.now();
    let after = await statusOf('d1');
    while (after.height < before.height + 10 && Date.now() - t0 < 20_000) {
      await new Promise((r) => setTimeout(r, 500));
      after = await statusOf('d1');
    }
    expect(after.height, why).toBeGreaterThanOrEqual(before.height + 10);
    expect(after.evidence.filter((e) => e.culprit === 'd2'), why).toEqual([]);
  }, 90_000);
});
