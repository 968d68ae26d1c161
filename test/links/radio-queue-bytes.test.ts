// A serial radio's queue bounded by airtime (bytes on the air), over real socat pty pairs at the SiK
// preset's 57600 baud: a burst of the largest envelopes holds at most limits.radioQueueAirMs of airtime
// per lane, and the live consensus lane still goes out first.

import { describe, expect, it } from 'vitest';
import { limits } from '../../runtime/lib/limits.js';
import { createSigner, generateKeyPair, initCrypto } from '../../runtime/crypto/sodium.js';
import { bytesPerSecond } from '../../runtime/links/airtime.js';
import { radioPresets, radioQueueBytes, type SerialLink, type SerialLinkOptions } from '../../runtime/links/serial-link.js';
import { sealEnvelope } from '../../runtime/wire/envelope.js';
import { Inbox, waitUntil } from './conformance.js';
import { onPair } from './serial-harness.js';

const sik = radioPresets.sik;
/** What one lane may hold: radioQueueAirMs of airtime at 57600 baud (5,760 B/s). */
const laneBytes = ((sik.baud / 10) * limits.radioQueueAirMs) / 1000;

const onSikPair = (aOnly: Partial<SerialLinkOptions>, body: (a: SerialLink, inbox: Inbox) => Promise<void>): Promise<void> => onPair(sik, aOnly, body);

describe('the byte bound of a radio queue lane', () => {
  it('is radioQueueAirMs of airtime at the radio\'s rate, and at least one largest envelope', () => {
    const rate = (c: { baud: number; airBitsPerSec?: number; dutyCycle?: number }) => bytesPerSecond({ ...c, burstBytes: 1 });
    expect(radioQueueBytes(rate(sik), sik.packetBytes, limits.radioFragmentsMax)).toBe(57_600); // 10 s at 5,760 B/s
    // E32: 240 B/s on the air, so 10 s is 2,400 bytes, less than one envelope of 64 packets of 58 bytes.
    const e32 = radioPresets.e32;
    expect(radioQueueBytes(rate(e32), e32.packetBytes, limits.radioFragmentsMax)).toBe(64 * 58);
    expect(radioQueueBytes(rate({ ...e32, dutyCycle: 0.01 }), e32.packetBytes, limits.radioFragmentsMax)).toBe(64 * 58);
  });
});

describe('a SiK radio queue under a burst of its largest envelopes', () => {
  it('holds at most radioQueueAirMs of airtime in the consensus lane, refuses the rest whole and counts them as byte drops', async () => {
    await onSikPair({}, async (a) => {
      // The largest envelope the radio carries: 63 packets of up to 252 bytes, ~2.8 s on the air.
      const big = Buffer.alloc(a.mtuBytes, 1);
      const accepted = Array.from({ length: 20 }, (_, i) => a.broadcast(Buffer.alloc(a.mtuBytes, i + 1), 'consensus')).filter(Boolean).length;
      // Every queued packet is at most 252 bytes on the air. Before: 1,024 packets (16 envelopes, 254 KB,
      // 44 s of airtime) were held, and none of the refused 4 was counted by bytes.
      const heldMax = a.queued() * sik.packetBytes;
      expect(heldMax, `${a.queued()} packets queued`).toBeLessThanOrEqual(laneBytes);
      expect(a.queuedBytes()).toBeLessThanOrEqual(laneBytes);
      expect(accepted).toBeGreaterThanOrEqual(1); // at least one largest envelope always fits
      const c = a.counters();
      expect(c.droppedQueueBytesByClass.consensus).toBe(20 - accepted);
      expect(c.droppedQueueFullByClass.consensus).toBe(20 - accepted);
      // Refused whole: the queue holds whole envelopes (a multiple of 63 packets, less what is on the air).
      expect(a.queued()).toBeGreaterThan((accepted - 1) * Math.ceil(big.length / 230));
    });
  }, 20_000);

  it('sheds the oldest telemetry and block-sync answers by bytes, and the live height\'s votes still go out first and arrive', async () => {
    await initCrypto();
    const signer = createSigner(generateKeyPair());
    await onSikPair({}, async (a, inbox) => {
      // Block-sync answers (consensus's bulk lane) and position reports of the largest size, then votes.
      const answers = Array.from({ length: 12 }, (_, i) => sealEnvelope('sync-response', 'fleet', 'a', new Uint8Array(a.mtuBytes - 200).fill(i + 1), signer));
      for (const t of Array.from({ length: 12 }, (_, i) => Buffer.alloc(a.mtuBytes, 100 + i))) expect(a.broadcast(t, 'telemetry')).toBe(true);
      const bulkAccepted = answers.map((x) => a.broadcast(x, 'consensus')).filter(Boolean).length;
      // Two lanes of at most laneBytes each. Before: all 12 answers and 4 reports, 1,008 packets (254 KB,
      // 44 s of airtime), the 8 reports shed counted by count only.
      expect(a.queued() * sik.packetBytes, `${a.queued()} packets queued`).toBeLessThanOrEqual(2 * laneBytes);
      const c = a.counters();
      expect(c.droppedQueueBytesByClass.consensus).toBe(12 - bulkAccepted);
      expect(c.droppedQueueBytesByClass.telemetry).toBeGreaterThan(0);
      expect(c.droppedQueueFullByClass.telemetry).toBe(c.droppedQueueBytesByClass.telemetry);
      const votes = Array.from({ length: 3 }, (_, i) => sealEnvelope('prevote', 'fleet', 'a', new Uint8Array(40).fill(i + 1), signer));
      const t0 = performance.now();
      for (const v of votes) expect(a.broadcast(v, 'consensus')).toBe(true);
      const isVote = (b: Uint8Array) => votes.some((v) => Buffer.from(b).equals(v));
      await waitUntil(() => inbox.frames.filter((f) => isVote(f.bytes)).length === 3, 3_000, 'the three votes');
      // Behind at most the packets already on the air (a two-packet burst), not the backlog.
      expect(performance.now() - t0).toBeLessThan(1_500);
      // The first block-sync answer follows, whole.
      await waitUntil(() => inbox.frames.some((f) => Buffer.from(f.bytes).equals(answers[0] as Uint8Array)), 6_000, 'the first block-sync answer');
    });
  }, 20_000);
});
