// The router over several links: duplicates removed, a dead link ridden through with no restart.
// The end-to-end case kills a real Mosquitto mid-run (by PID): traffic continues over the serial
// radio (socat ptys) and returns to MQTT when the broker is back.

import { describe, expect, it } from 'vitest';
import { MemoryHub } from '../../runtime/links/memory-link.js';
import { MqttLink } from '../../runtime/links/mqtt-link.js';
import { Router } from '../../runtime/links/router.js';
import type { Link, ReceivedFrame } from '../../runtime/links/link.js';
import { limits } from '../../runtime/lib/limits.js';
import { Inbox, sleep, waitUntil } from './conformance.js';
import { Mosquitto, PtyPair } from './processes.js';
import { serialLink } from './serial-harness.js';

const fleet = 'conf-fleet';

describe('router over in-memory links', () => {
  it('delivers each envelope once although it arrives on two links, and keeps going when one dies', async () => {
    const hub1 = new MemoryHub();
    const hub2 = new MemoryHub();
    const a1 = hub1.link('a', fleet, { name: 'net1' });
    const a2 = hub2.link('a', fleet, { name: 'net2' });
    const b1 = hub1.link('b', fleet, { name: 'net1' });
    const b2 = hub2.link('b', fleet, { name: 'net2' });
    const ra = new Router({ links: [a1, a2] });
    const rb = new Router({ links: [b1, b2] });
    await ra.start();
    await rb.start();
    const inbox = new Inbox(rb);
    for (let i = 0; i < 50; i++) expect(ra.broadcast(Buffer.from(`m${i}`), 'consensus')).toBe(true);
    await inbox.waitFor(50);
    await sleep(20);
    expect(inbox.frames.length).toBe(50);
    expect(rb.counters().droppedDuplicate).toBe(50);
    // Which link carried the copies, for murmur_envelopes_duplicate_total{link}: before, the total only.
    const dups = Object.fromEntries(rb.linkStates().map((l) => [l.name, l.duplicates]));
    expect(dups.net1! + dups.net2!).toBe(50);
    expect(inbox.frames.filter((f) => f.link === 'net1').length).toBe(50 - dups.net1!);
    await a1.stop(); // net1 dies on the sender
    for (let i = 50; i < 60; i++) expect(ra.broadcast(Buffer.from(`m${i}`), 'consensus')).toBe(true);
    await inbox.waitFor(60);
    expect(inbox.frames.slice(50).every((f) => f.link === 'net2')).toBe(true);
    // Telemetry goes on the first link that is up only.
    expect(ra.broadcast(Buffer.from('t'), 'telemetry')).toBe(true);
    await sleep(10); // memory links count a frame as sent when their queue drains
    expect(a2.counters().framesSent).toBe(61);
    await ra.stop();
    expect(ra.broadcast(Buffer.from('nothing up'), 'consensus')).toBe(false);
    await rb.stop();
  });

  it('has no block budget while a link without one is up, and the radio\'s while the radio alone is up', async () => {
    const hub1 = new MemoryHub();
    const hub2 = new MemoryHub();
    const broker = hub1.link('a', fleet, { name: 'mqtt' });
    const radio = Object.assign(hub2.link('a', fleet, { name: 'radio' }), { blockTxBytesHint: 1_440 });
    const r = new Router({ links: [broker, radio] });
    expect(r.blockTxBytesHint).toBeUndefined(); // nothing up yet
    await r.start();
    expect(r.blockTxBytesHint).toBeUndefined();
    await broker.stop();
    expect(r.blockTxBytesHint).toBe(1_440);
    await r.stop();
  });

  it('delivers the same bytes again once the dedup window has passed (a stuck peer repeating its status)', async () => {
    const hub = new MemoryHub();
    let clock = 0;
    const ra = new Router({ links: [hub.link('a', fleet, { name: 'net' })] });
    const rb = new Router({ links: [hub.link('b', fleet, { name: 'net' })], now: () => clock });
    await ra.start();
    await rb.start();
    const inbox = new Inbox(rb);
    const status = Buffer.from('status h5 r0');
    ra.broadcast(status, 'consensus');
    await inbox.waitFor(1);
    clock = limits.routerDedupWindowMs - 1;
    ra.broadcast(status, 'consensus');
    await sleep(20);
    expect(inbox.frames.length).toBe(1);
    clock = limits.routerDedupWindowMs + 1;
    ra.broadcast(status, 'consensus');
    await inbox.waitFor(2);
    expect(rb.counters().droppedDuplicate).toBe(1);
    await ra.stop();
    await rb.stop();
  });

  it("under 'first', also sends on a later link while a peer is heard there alone, and stops once it is heard on the first", async () => {
    const broker = new MemoryHub();
    const air = new MemoryHub();
    let now = 0;
    const aNet = broker.link('a', fleet, { name: 'mqtt' });
    const aAir = air.link('a', fleet, { name: 'radio' });
    const ra = new Router({ links: [aNet, aAir], policy: { consensus: 'first' }, now: () => now });
    const bAir = air.link('b', fleet, { name: 'radio' }); // b is not back on the broker yet
    const cNet = broker.link('c', fleet, { name: 'mqtt' });
    const cAir = air.link('c', fleet, { name: 'radio' });
    for (const l of [aNet, aAir, bAir, cNet, cAir]) await l.start();
    await ra.start();
    const bInbox = new Inbox(bAir);
    // Only c has been heard, on both links: 'first' keeps consensus on the broker.
    cNet.broadcast(Buffer.from('c on mqtt'), 'consensus');
    cAir.broadcast(Buffer.from('c on radio'), 'consensus');
    await sleep(20);
    ra.broadcast(Buffer.from('v1'), 'consensus');
    await sleep(20);
    expect(aAir.counters().framesSent).toBe(0);
    expect(ra.alsoSent).toBe(0);
    // b is heard on the radio alone: a's consensus goes there too, and b gets it.
    bAir.broadcast(Buffer.from('b on radio'), 'consensus');
    await sleep(20);
    const got = (): string[] => bInbox.frames.map((f) => Buffer.from(f.bytes).toString());
    expect(got()).not.toContain('v1');
    ra.broadcast(Buffer.from('v2'), 'consensus');
    await waitUntil(() => got().includes('v2'), 10_000, 'v2 on the radio');
    expect(ra.alsoSent).toBe(1);
    // Telemetry stays 'first'... and so does consensus once b is back on the broker.
    const bNet = broker.link('b', fleet, { name: 'mqtt' });
    await bNet.start();
    bNet.broadcast(Buffer.from('b on mqtt'), 'consensus');
    await sleep(20);
    ra.broadcast(Buffer.from('v3'), 'consensus');
    await sleep(20);
    expect(ra.alsoSent).toBe(1);
    // Heard on the radio alone but long ago (past limits.routerAloneHeardMs): no longer a reason.
    now = 1_000;
    const dAir = air.link('d', fleet, { name: 'radio' });
    await dAir.start();
    dAir.broadcast(Buffer.from('d on radio'), 'consensus');
    await sleep(20);
    now = 1_000 + limits.routerAloneHeardMs + 1;
    ra.broadcast(Buffer.from('v4'), 'consensus');
    await sleep(20);
    expect(ra.alsoSent).toBe(1);
    await ra.stop();
    for (const l of [bAir, bNet, cNet, cAir, dAir]) await l.stop();
  });

  it('passes a byte-identical re-send once the dedup window has passed (consensus re-broadcasts)', async () => {
    const hub1 = new MemoryHub();
    const hub2 = new MemoryHub();
    let now = 0;
    const ra = new Router({ links: [hub1.link('a', fleet, { name: 'net1' }), hub2.link('a', fleet, { name: 'net2' })] });
    const rb = new Router({ links: [hub1.link('b', fleet, { name: 'net1' }), hub2.link('b', fleet, { name: 'net2' })], dedupWindowMs: 150, now: () => now });
    await ra.start();
    await rb.start();
    const inbox = new Inbox(rb);
    const vote = Buffer.from('the same signed vote');
    ra.broadcast(vote, 'consensus'); // two copies, one per link, inside one window
    await inbox.waitFor(1);
    await sleep(20);
    expect(inbox.frames.length).toBe(1);
    now = 100;
    ra.broadcast(vote, 'consensus'); // still inside the window of the first copy
    await sleep(20);
    expect(inbox.frames.length).toBe(1);
    now = 400; // a gossip interval later: a deliberate re-send gets through
    ra.broadcast(vote, 'consensus');
    await inbox.waitFor(2);
    await sleep(20);
    expect(inbox.frames.length).toBe(2);
    expect(rb.counters().droppedDuplicate).toBe(4);
    await ra.stop();
    await rb.stop();
  });

  it('counts the envelopes whose first copy came through a radio relay, not the later copies', async () => {
    const handlers = new Map<string, (f: ReceivedFrame) => void>();
    const stub = (name: string): Link => ({
      name,
      mtuBytes: 1_000,
      start: async () => undefined,
      stop: async () => undefined,
      broadcast: () => true,
      unicast: () => true,
      onReceive: (h) => void handlers.set(name, h),
      isUp: () => true,
      counters: () => ({ framesSent: 0, framesReceived: 0, bytesSent: 0, bytesReceived: 0, droppedQueueFull: 0, droppedBadFrame: 0 }),
    });
    const r = new Router({ links: [stub('mqtt'), stub('radio')] });
    await r.start();
    const inbox = new Inbox(r);
    const hear = (link: string, text: string, relayed?: boolean): void => handlers.get(link)?.({ bytes: Buffer.from(text), from: 'v1', link, ...(relayed ? { relayed } : {}) });
    hear('radio', 'vote 1', true); // first through a relay
    hear('mqtt', 'vote 1');
    hear('mqtt', 'vote 2'); // first from the broker: the relayed copy after it is a duplicate
    hear('radio', 'vote 2', true);
    hear('radio', 'vote 3'); // straight from its origin's radio
    expect(inbox.frames.map((f) => Buffer.from(f.bytes).toString())).toEqual(['vote 1', 'vote 2', 'vote 3']);
    expect(r.relayedFirst).toBe(1);
    await r.stop();
  });

  it('counts an envelope too large for every link that is up as oversize, not as a full queue', async () => {
    const broker = new MemoryHub().link('a', fleet, { name: 'mqtt' });
    const radio = new MemoryHub({ mtuBytes: 1_000 }).link('a', fleet, { name: 'radio' });
    const r = new Router({ links: [broker, radio] });
    await r.start();
    await broker.stop(); // the broker is gone: the radio, with its smaller MTU, is all that is up
    expect(r.broadcast(new Uint8Array(2_000), 'consensus')).toBe(false);
    // Before: counted as droppedQueueFull (consensus), which sends an operator looking at a queue.
    expect(r.counters().refusedOversize).toBe(1);
    expect(r.counters().droppedQueueFull).toBe(0);
    expect(r.broadcast(new Uint8Array(500), 'consensus')).toBe(true);
    await r.stop();
  });

  it('refuses duplicate link names and an empty link list', () => {
    const hub = new MemoryHub();
    expect(() => new Router({ links: [] })).toThrow(/at least one link/);
    expect(() => new Router({ links: [hub.link('a', fleet), hub.link('a', fleet)] })).toThrow(/unique/);
  });
});

describe('broker killed mid-run (Mosquitto + serial radio)', () => {
  it('carries traffic over the radio while the broker is down and returns to MQTT when it is back', async () => {
    const mosq = await Mosquitto.start();
    const pair = await PtyPair.start();
    const mk = (node: string, path: string) =>
      new Router({
        links: [
          new MqttLink({ url: mosq.url, fleet, node, reconnectMsMin: 50, reconnectMsMax: 300, keepaliveSec: 2 }),
          serialLink(node, [path], { baud: 115_200 }),
        ],
      });
    const ra = mk('a', pair.a);
    const rb = mk('b', pair.b);
    try {
      await ra.start();
      await rb.start();
      const inbox = new Inbox(rb);
      let n = 0;
      const sendFor = async (ms: number) => {
        const end = Date.now() + ms;
        while (Date.now() < end) {
          ra.broadcast(Buffer.from(`vote ${n++}`), 'consensus');
          await sleep(20);
        }
      };
      const arrivedVia = (from: number) => inbox.frames.filter((f) => Number(Buffer.from(f.bytes).toString().slice(5)) >= from).map((f) => f.link);

      await sendFor(400);
      await waitUntil(() => inbox.frames.length === n, 15_000, 'all votes before the kill');
      expect(arrivedVia(0)).toContain('mqtt');

      await mosq.kill(); // by PID
      const [mqttA] = ra.linkStates();
      await waitUntil(() => !ra.linkStates()[0]?.up, 15_000, 'MQTT link of a to notice the broker is gone');
      expect(mqttA?.name).toBe('mqtt');
      const downFrom = n;
      await sendFor(600);
      await waitUntil(() => inbox.frames.length === n, 15_000, 'votes sent while the broker is down');
      const during = arrivedVia(downFrom);
      expect(during.length).toBe(n - downFrom);
      expect(during.every((l) => l === 'radio')).toBe(true);

      await mosq.run(); // same port, same config: no restart of the routers
      await waitUntil(() => (ra.linkStates()[0]?.up ?? false) && (rb.linkStates()[0]?.up ?? false), 15_000, 'MQTT links to reconnect');
      await sleep(100);
      const backFrom = n;
      const mqttSentBefore = ra.linkStates()[0]?.counters.framesSent ?? 0;
      await sendFor(400);
      await waitUntil(() => inbox.frames.length === n, 15_000, 'votes after the broker is back');
      expect(arrivedVia(backFrom)).toContain('mqtt');
      expect((ra.linkStates()[0]?.counters.framesSent ?? 0) - mqttSentBefore).toBeGreaterThan(0);
      expect(new Set(inbox.frames.map((f) => Buffer.from(f.bytes).toString())).size).toBe(inbox.frames.length);
    } finally {
      await ra.stop();
      await rb.stop();
      await mosq.stop();
      await pair.stop();
    }
  }, 90_000);
});
