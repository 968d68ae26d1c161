// A light follower's subscriptions on a real broker (the embedded aedes, and Mosquitto with the ACL of
// docs/topics.md): it hears its sources' announced blocks and no consensus broadcast; follow() moves it
// to other sources, or back to every vote, on the live connection.

import { afterEach, describe, expect, it } from 'vitest';
import { MqttLink } from '../../runtime/links/mqtt-link.js';
import { Inbox, waitUntil } from './conformance.js';
import { fleet, linkFor, password, startAedes } from './mqtt-harness.js';
import { Mosquitto } from './processes.js';

const ids = ['v1', 'v2', 'v3', 'f'];
const text = (b: Uint8Array): string => Buffer.from(b).toString();

interface Broker {
  readonly url: string;
  stop(): Promise<void>;
}

const brokers: Record<string, () => Promise<Broker>> = {
  aedes: () => startAedes(ids),
  mosquitto: async () => {
    const p = `murmur/v1/${fleet}`;
    const acl = [`pattern read ${p}/#`, `pattern write ${p}/consensus/%u`, `pattern write ${p}/blocks/%u`, `pattern write ${p}/node/%u/#`, ''].join('\n');
    return Mosquitto.start(undefined, { users: Object.fromEntries(ids.map((id) => [id, password])), acl });
  },
};

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

describe.each(Object.keys(brokers))('light follower subscriptions on %s', (name) => {
  it('takes only its sources\' blocks, no votes; follow() changes that on the live connection', async () => {
    const broker = await (brokers[name] as () => Promise<Broker>)();
    cleanup.push(() => broker.stop());
    const links = new Map(ids.map((id) => [id, linkFor(broker.url, id, { peers: ids })]));
    for (const l of links.values()) {
      await l.start();
      cleanup.push(() => l.stop());
    }
    const get = (id: string): MqttLink => links.get(id) as MqttLink;
    const inbox = new Inbox(get('f'));
    const seen = (s: string): boolean => inbox.frames.some((f) => text(f.bytes) === s);

    // Before follow(): a fresh connection hears every consensus broadcast.
    get('v3').broadcast(Buffer.from('vote v3 #0'), 'consensus');
    await waitUntil(() => seen('vote v3 #0'), 5_000, 'a vote before follow()');

    get('f').follow(['v1', 'v2']);
    // The new subscriptions take effect once the broker has them: announce until one arrives.
    for (let i = 0; !seen(`block v1 #${i - 1}`) && i < 100; i++) {
      get('v1').announce(Buffer.from(`block v1 #${i}`));
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(inbox.frames.some((f) => text(f.bytes).startsWith('block v1'))).toBe(true);

    // A publisher's messages arrive in order, so once its last one is here the earlier would be too.
    get('v1').broadcast(Buffer.from('vote v1'), 'consensus');
    get('v3').announce(Buffer.from('block v3'));
    get('v3').unicast('f', Buffer.from('sync answer v3'), 'consensus');
    get('v2').announce(Buffer.from('block v2'));
    get('v1').announce(Buffer.from('block v1 last'));
    await waitUntil(() => seen('block v1 last') && seen('sync answer v3') && seen('block v2'), 5_000, 'the announcements of v1 and v2 and v3\'s unicast');
    expect(seen('vote v1'), 'a vote reached a light follower').toBe(false);
    expect(seen('block v3'), 'a block from a validator it does not follow').toBe(false);
    expect(inbox.frames.find((f) => text(f.bytes) === 'block v2')?.from).toBe('v2');
    // An announcement is marked as one (a light follower asks for a gap it shows at once); an answer is not.
    expect(inbox.frames.find((f) => text(f.bytes) === 'block v2')?.announced, 'an announcement').toBe(true);
    expect(inbox.frames.find((f) => text(f.bytes) === 'sync answer v3')?.announced, 'a unicast answer').toBeUndefined();
    expect(inbox.frames.find((f) => text(f.bytes) === 'vote v3 #0')?.announced, 'a consensus broadcast').toBeUndefined();

    // Rotation: v3 only.
    get('f').follow(['v3']);
    for (let i = 0; !seen(`block v3 #${i - 1}`) && i < 100; i++) {
      get('v3').announce(Buffer.from(`block v3 #${i}`));
      await new Promise((r) => setTimeout(r, 20));
    }
    get('v1').announce(Buffer.from('block v1 after'));
    get('v1').unicast('f', Buffer.from('ping v1'), 'consensus');
    await waitUntil(() => seen('ping v1'), 5_000, 'v1\'s unicast after the rotation');
    expect(seen('block v1 after'), 'a block from a source it left').toBe(false);

    // Promoted to validator: every vote again.
    get('f').follow(null);
    for (let i = 0; !seen(`vote v2 #${i - 1}`) && i < 100; i++) {
      get('v2').broadcast(Buffer.from(`vote v2 #${i}`), 'consensus');
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(inbox.frames.some((f) => text(f.bytes).startsWith('vote v2'))).toBe(true);
  }, 30_000);
});
