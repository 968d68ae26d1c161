// A device's per-peer subscriptions follow the manifest in force: setPeers() on the live connection
// subscribes to a member a fleet.update added and drops one it removed (the embedded aedes broker).
// Before, the link kept the peers it was made with, so a new member was never heard.

import { afterEach, describe, expect, it } from 'vitest';
import type { MqttLink } from '../../runtime/links/mqtt-link.js';
import { Inbox, waitUntil } from './conformance.js';
import { linkFor, startAedes } from './mqtt-harness.js';

const ids = ['a', 'b', 'c', 'newcomer'];
const text = (b: Uint8Array): string => Buffer.from(b).toString();

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

describe('MQTT link peers', () => {
  it('setPeers() subscribes to an added member\'s topics and unsubscribes a removed one\'s, on the live connection', async () => {
    const broker = await startAedes(ids);
    cleanup.push(() => broker.stop());
    const links = new Map(ids.map((id) => [id, linkFor(broker.url, id, { peers: ['a', 'b', 'c'] })]));
    for (const l of links.values()) {
      await l.start();
      cleanup.push(() => l.stop());
    }
    const get = (id: string): MqttLink => links.get(id) as MqttLink;
    const inbox = new Inbox(get('a'));
    const seen = (s: string): boolean => inbox.frames.some((f) => text(f.bytes) === s);

    // With the manifest it started with, a hears b and c, not the newcomer. Messages of one publisher
    // arrive in order, and b's last one is sent after the newcomer's: once it is here, the newcomer's
    // would be too.
    get('newcomer').broadcast(Buffer.from('vote newcomer #0'), 'consensus');
    get('c').broadcast(Buffer.from('vote c #0'), 'consensus');
    get('b').broadcast(Buffer.from('vote b #0'), 'consensus');
    await waitUntil(() => seen('vote b #0') && seen('vote c #0'), 5_000, 'the votes of b and c');
    expect(seen('vote newcomer #0'), 'a vote of a device not in the manifest').toBe(false);

    // A new manifest in force: the newcomer joins, c leaves.
    get('a').setPeers(['b', 'newcomer']);
    for (let i = 0; !seen(`vote newcomer #${i}`) && i < 100; i++) {
      get('newcomer').broadcast(Buffer.from(`vote newcomer #${i + 1}`), 'consensus');
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(inbox.frames.some((f) => text(f.bytes).startsWith('vote newcomer #') && f.from === 'newcomer'), 'the newcomer\'s votes').toBe(true);
    get('newcomer').broadcast(Buffer.from('heartbeat newcomer'), 'heartbeat');
    get('c').broadcast(Buffer.from('vote c after'), 'consensus');
    await new Promise((r) => setTimeout(r, 50));
    get('b').broadcast(Buffer.from('vote b last'), 'consensus');
    await waitUntil(() => seen('vote b last') && seen('heartbeat newcomer'), 5_000, 'b\'s last vote and the newcomer\'s heartbeat');
    // c's vote went out before b's last one; the broker's unsubscribe was acknowledged long before.
    expect(seen('vote c after'), 'a vote of a member the manifest removed').toBe(false);
  });
});
