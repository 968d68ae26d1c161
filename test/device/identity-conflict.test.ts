// Two `murmur start` processes with one device's key (a copied device.yaml with its own data directory
// and port), four validators, a real Mosquitto. Before the identity guard the copy ran without a word:
// the two took turns on the broker (one MQTT client id) and signed votes the other did not know of,
// and the fleet committed equivocation evidence against the honest device. Now each hears the other's
// signed birth, says so in one line and exits 3 (refused: systemd does not restart it) before signing anything more; the other three go on.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeviceFleet } from './device-fleet.js';

const fleet = new DeviceFleet({ validators: 4, consensus: { commitWaitMs: 100 }, agents: false });

beforeAll(async () => {
  await fleet.setup();
  await fleet.startAll();
}, 60_000);
afterAll(() => fleet.teardown(), 30_000);

describe('one identity, one process', () => {
  it('a second process with d2\'s key and its own data directory: the copy stops with a one-line reason (the original too once it heard the copy), no evidence against d2, the rest commit on', async () => {
    const before = await fleet.retainedStatus('d1');
    await fleet.copy('d2', 'd2-copy');
    fleet.start('d2-copy');
    const [copy, original] = await Promise.all([fleet.exitWithin('d2-copy', 30_000), fleet.exitWithin('d2', 30_000)]);
    const out = (id: string) => fleet.devices.get(id)!.output;
    const why = `copy exit ${copy}, d2 exit ${original}\n--- d2-copy:\n${out('d2-copy').slice(-3_000)}\n--- d2:\n${out('d2').slice(-3_000)}`;
    expect(copy, why).toBe(3);
    // The original hears the copy's birth and stops too, unless the copy stopped first in the dance on
    // the broker (it connects, the original is dropped; the original reconnects, the copy is dropped) and
    // the original heard only retained states and Wills, which are no proof (identity-guard.ts: "what
    // neither sees"). Seen once in a clean-clone CI run on a loaded machine: the copy, catching up, found
    // d2's precommits in the blocks within 300 ms and stopped before the original was back. Then the
    // original runs on alone, which is what the guard is for: one process with the key.
    expect(original === 3 || original === null, why).toBe(true);
    for (const id of original === 3 ? ['d2', 'd2-copy'] : ['d2-copy']) {
      const line = out(id).split('\n').find((l) => l.includes('"event":"identity-conflict"'));
      expect(line, why).toBeDefined();
      // Its birth on the broker, or (the copy, catching up) d2's precommits in the newest blocks.
      expect(line, why).toMatch(/another process holds the key of d2 and connected|signed with the key of d2 turned up that this process never signed: another process holds the key/);
      expect(out(id), why).not.toMatch(/\n\s+at /); // no stack trace
    }
    // The other three (3 of 4 votes) commit on; nothing was committed against d2.
    const after = await fleet.retainedStatusPast('d1', before.height, 10, 20_000);
    expect(after.height, why).toBeGreaterThanOrEqual(before.height + 10);
    expect(after.evidence.filter((e) => e.culprit === 'd2'), why).toEqual([]);
  }, 90_000);
});
