// A relay of live consensus that waited in the relayer's queue past the relay stale limit (airtime.ts
// relayStaleMs; 500 ms on a SiK radio) is dropped unsent: its origin sends it again every gossip
// interval. Before, relays waited up to the 2 s limit for own envelopes behind the relayer's own
// packets, and on a line of radios the middle ones spent their airtime on votes for rounds long over.
// Over real socat pty pairs: raw frames go into b, which may relay them to c.

import { describe, expect, it } from 'vitest';
import { limits } from '../../runtime/lib/limits.js';
import { bytesPerSecond, defaultStaleMs, relayStaleMs } from '../../runtime/links/airtime.js';
import { nodeTag } from '../../runtime/links/serial-link.js';
import { Inbox, sleep, waitUntil } from './conformance.js';
import { radioWire, ptyPairsForFile, serialLink, writeRaw } from './serial-harness.js';

const pairs = ptyPairsForFile();

describe('relays of live consensus on a busy radio', () => {
  it('has a shorter stale limit for relays than for own envelopes, and never a longer one', () => {
    const sik = bytesPerSecond({ baud: 57_600, burstBytes: 504 });
    expect(relayStaleMs(252, sik, defaultStaleMs(252, sik))).toBe(limits.radioRelayStaleMs);
    // A slow radio: eight full packets' airtime (E32: 58-byte packets at 240 B/s).
    expect(relayStaleMs(58, 240, defaultStaleMs(58, 240))).toBe(1_934);
    expect(relayStaleMs(252, sik, 300)).toBe(300); // consensusStaleMs set below it
    expect(relayStaleMs(252, sik, 2_000, 400)).toBe(800); // twice the longest relay wait
  });

  it("drops a member's vote it was to relay once the vote waited 500 ms behind its own packets, and sends its own", async () => {
    // 57600 baud: 5,760 B/s. Twenty own 230-byte envelopes are ~0.9 s of airtime: the relay queued
    // behind them waits past 500 ms, and the own envelopes stay within their 2 s.
    const b = serialLink('b', [pairs.p1.b, pairs.p2.a], { baud: 57_600, relayJitterMs: 0 });
    const c = serialLink('c', [pairs.p2.b]);
    await b.start();
    await c.start();
    try {
      const inC = new Inbox(c);
      for (let i = 0; i < 20; i++) expect(b.broadcast(Buffer.alloc(230, i + 1), 'consensus')).toBe(true);
      writeRaw(pairs.p1.a, radioWire(Buffer.from('a vote from member a'), { origin: nodeTag('a'), hopsLeft: 2 }));
      await inC.waitFor(20, 5_000);
      await waitUntil(() => b.queued() === 0, 5_000, "b's queue to empty");
      await sleep(300); // anything still on the wire
      expect(inC.frames.map((f) => Buffer.from(f.bytes).toString()).filter((t) => t.startsWith('a vote'))).toEqual([]);
      expect(inC.frames).toHaveLength(20);
      expect(b.counters().relayed).toBe(0);
      expect(b.counters().droppedStale).toBe(1);
    } finally {
      await b.stop();
      await c.stop();
    }
  });

  it('relays the same vote at once on an idle radio', async () => {
    const b = serialLink('b', [pairs.p1.b, pairs.p2.a], { baud: 57_600, relayJitterMs: 0 });
    const c = serialLink('c', [pairs.p2.b]);
    await b.start();
    await c.start();
    try {
      const inC = new Inbox(c);
      writeRaw(pairs.p1.a, radioWire(Buffer.from('a vote from member a'), { origin: nodeTag('a'), hopsLeft: 2 }));
      await inC.waitFor(1, 3_000);
      expect(b.counters().relayed).toBe(1);
      expect(b.counters().droppedStale).toBe(0);
    } finally {
      await b.stop();
      await c.stop();
    }
  });
});
