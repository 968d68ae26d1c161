// A relay never sends half an envelope: a radio relaying a burst of fragmented envelopes into a full
// queue drops whole envelopes (telemetry and heartbeats: the oldest; consensus: the one refused), and
// the fragments still to come of one it cut are not relayed either. Over real socat pty pairs: raw
// frames from an outside origin go into b, which relays them to c. Before, the telemetry queue dropped
// its oldest packet, one fragment of some envelope, and a refused consensus fragment left the
// envelope's earlier fragments queued: airtime for envelopes no receiver could assemble.

import { describe, expect, it } from 'vitest';
import { crc32 } from 'node:zlib';
import type { TrafficClass } from '../../runtime/links/link.js';
import { Prng } from '../../runtime/lib/prng.js';
import { utf8 } from '../../runtime/lib/bytes.js';
import { Inbox, waitUntil } from './conformance.js';
import { radioWire, ptyPairsForFile, serialLink, writeRaw } from './serial-harness.js';

const pairs = ptyPairsForFile();

describe('a relay under a burst it cannot queue whole', () => {
  for (const cls of ['telemetry', 'consensus'] as const satisfies readonly TrafficClass[]) {
    it(`${cls}: every fragment b relays belongs to an envelope c assembles`, async () => {
      // b sends at 57600 baud and queues at most 9 packets a class (envelopes of at most 3 fragments): three
      // envelopes. x is a member (only members' frames are relayed).
      const b = serialLink('b', [pairs.p1.b, pairs.p2.a], { baud: 57_600, fragmentsMax: 3, queueSizes: { consensus: 9, heartbeat: 9, telemetry: 9 }, relayJitterMs: 0, peers: ['x-telemetry', 'x-consensus'] });
      const c = serialLink('c', [pairs.p2.b]);
      await b.start();
      await c.start();
      try {
        const inC = new Inbox(c);
        const prng = new Prng(cls === 'telemetry' ? 1 : 2);
        const origin = crc32(utf8(`x-${cls}`)) >>> 0;
        const envelopes = 12;
        // Twelve envelopes of three 200-byte fragments from x (two hops left), written as fast as the pty takes them.
        const burst = Buffer.concat(
          Array.from({ length: envelopes }, (_, m) => Array.from({ length: 3 }, (_, index) => radioWire(prng.bytes(200), { cls, origin, msgId: 1_000 + m, index, count: 3, hopsLeft: 2 }))).flat(),
        );
        writeRaw(pairs.p1.a, burst);
        await waitUntil(() => b.counters().relayed > 0, 3_000, 'b relaying');
        // Drained: nothing queued for a while.
        let quiet = 0;
        await waitUntil(() => (b.queued() === 0 ? ++quiet : (quiet = 0)) >= 10, 10_000, "b's queue drained");
        // What b wrote may still be in the pty or in c's reader (a loaded machine takes more than the
        // 200 ms this waited before): up to 5 s for c to assemble whole envelopes of every fragment b
        // relayed, which a relay of stray fragments never gives (the assertions below then fail).
        for (let t0 = Date.now(); Date.now() - t0 < 5_000 && inC.frames.length * 3 < b.counters().relayed; ) await new Promise((r) => setTimeout(r, 50));
        await new Promise((r) => setTimeout(r, 200));
        const relayed = b.counters().relayed;
        const why = `relayed ${relayed}, c assembled ${inC.frames.length}, b ${JSON.stringify(b.counters())}`;
        expect(inC.frames.length, why).toBeGreaterThan(0);
        expect(inC.frames.length, why).toBeLessThan(envelopes); // the queue did overflow
        expect(relayed, why).toBe(3 * inC.frames.length);
        expect(inC.frames.every((f) => f.relayed === true && f.bytes.length === 600), why).toBe(true);
      } finally {
        await b.stop();
        await c.stop();
      }
    }, 20_000);
  }
});
