// Which frames a radio relays: only those of the fleet's members (the peers the link knows), and from
// each origin at most limits.radioRelayOriginShare of the radio's airtime. Over real socat pty pairs:
// raw frames go into b, which may relay them to c. Before, b relayed any frame with the fleet's (public)
// tag, a valid CRC and hops left: one transmitter babbling at a SiK radio's rate cut a radio-only
// fleet's throughput by 74 %.

import { describe, expect, it } from 'vitest';
import { limits } from '../../runtime/lib/limits.js';
import { Prng } from '../../runtime/lib/prng.js';
import { bytesPerSecond } from '../../runtime/links/airtime.js';
import { nodeTag } from '../../runtime/links/serial-link.js';
import { Inbox, sleep, waitUntil } from './conformance.js';
import { radioWire, ptyPairsForFile, serialLink, writeRaw } from './serial-harness.js';

const pairs = ptyPairsForFile();

describe('a radio relays members only, each within its share of the airtime', () => {
  it("relays a member's frame and refuses one from an origin outside the fleet, counting it", async () => {
    const b = serialLink('b', [pairs.p1.b, pairs.p2.a], { relayJitterMs: 0 });
    const c = serialLink('c', [pairs.p2.b]);
    await b.start();
    await c.start();
    try {
      const inC = new Inbox(c);
      writeRaw(pairs.p1.a, radioWire(Buffer.from('from a stranger'), { origin: nodeTag('mallory'), hopsLeft: 2 }));
      writeRaw(pairs.p1.a, radioWire(Buffer.from('from member a'), { origin: nodeTag('a'), hopsLeft: 2 }));
      await inC.waitFor(1, 3_000);
      await sleep(300);
      expect(inC.frames.map((f) => Buffer.from(f.bytes).toString())).toEqual(['from member a']);
      expect(b.counters().relayed).toBe(1);
      expect(b.counters().relaysRefused).toBe(1);
    } finally {
      await b.stop();
      await c.stop();
    }
  });

  it('given no peers (an empty peer list), relays no one: it has no members to relay for', async () => {
    // Before, an empty peer list meant "relay everyone": a stranger's frames too.
    const b = serialLink('b', [pairs.p1.b, pairs.p2.a], { peers: [], relayJitterMs: 0 });
    const c = serialLink('c', [pairs.p2.b]);
    await b.start();
    await c.start();
    try {
      const inB = new Inbox(b);
      writeRaw(pairs.p1.a, radioWire(Buffer.from('from a stranger'), { origin: nodeTag('mallory'), hopsLeft: 2 }));
      await inB.waitFor(1, 3_000); // b heard it (and delivers it, named by its tag)
      await sleep(300);
      expect(b.counters().relayed).toBe(0);
      expect(b.counters().relaysRefused).toBe(1);
    } finally {
      await b.stop();
      await c.stop();
    }
  });

  it("relays at most its share of a second's airtime for one member's frames, however fast they come", async () => {
    // 57600 baud: 5,760 bytes a second, limits.radioRelayOriginShare of it for a's relays.
    const b = serialLink('b', [pairs.p1.b, pairs.p2.a], { baud: 57_600, relayJitterMs: 0, relaySuppress: 0 });
    const c = serialLink('c', [pairs.p2.b]);
    await b.start();
    await c.start();
    try {
      const prng = new Prng(4);
      const frames = Array.from({ length: 80 }, (_, k) => radioWire(prng.bytes(200), { origin: nodeTag('a'), msgId: 5_000 + k, hopsLeft: 2 }));
      writeRaw(pairs.p1.a, Buffer.concat(frames)); // 80 packets of 222 bytes in one go: 3.1 s of airtime
      // Taken for relaying: relayed, or dropped unsent once it waited past the relay stale limit (the
      // allowance is a second's airtime; the queue keeps about half a second of it fresh).
      const taken = (): number => b.counters().relayed + b.counters().droppedStale;
      await waitUntil(() => taken() + b.counters().relaysRefused === 80, 5_000, 'b decided on every frame');
      // The burst may straddle a second boundary: at most two seconds' allowance.
      const perSecond = (bytesPerSecond({ baud: 57_600, burstBytes: 252 }) * limits.radioRelayOriginShare) / 222;
      expect(taken()).toBeGreaterThanOrEqual(Math.floor(perSecond) - 1);
      expect(taken()).toBeLessThanOrEqual(Math.ceil(2 * perSecond));
      expect(b.counters().relaysRefused).toBe(80 - taken());
    } finally {
      await b.stop();
      await c.stop();
    }
  });
});
