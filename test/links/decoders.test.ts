// Property tests (fast-check) for everything that reads bytes from a link: no input makes a decoder
// throw, any input gets a decoded value or a named reason, and encode then decode gives back what went
// in, however the stream is chunked.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PacketSizeGuard } from '../../runtime/links/broker.js';
import { CobsSplitter, cobsDecode, cobsEncode } from '../../runtime/links/cobs.js';
import { decodeFrame, encodeFrame, fleetTag } from '../../runtime/links/frame.js';
import type { TrafficClass } from '../../runtime/links/link.js';
import { parseNodeState, parseTopic } from '../../runtime/links/mqtt-topics.js';
import { decodeRadioFrame, encodeRadioFrame } from '../../runtime/links/radio-frame.js';
import { remainingLength } from '../../runtime/links/oversized-publish-filter.js';

const bytes = (max: number) => fc.uint8Array({ maxLength: max });
const cls = fc.constantFrom<TrafficClass>('consensus', 'heartbeat', 'telemetry');
const tag = fleetTag('prop-fleet');
const params = { numRuns: 300, seed: 4242 };
const frameReasons = ['truncated', 'bad-version', 'bad-class', 'bad-crc', 'wrong-fleet', 'oversized'];
const radioReasons = ['truncated', 'bad-version', 'bad-class', 'bad-crc', 'wrong-fleet', 'bad-fragment'];

/** MQTT's variable-length "remaining length": 7 bits a byte, the high bit set while more follow. */

describe('decoders never throw and round-trip', () => {
  it('link frame', () => {
    fc.assert(
      fc.property(bytes(600), (b) => {
        const d = decodeFrame(b, tag, 512);
        // Random bytes pass the CRC about once in 2^32: either way the answer is a frame or a named reason.
        if (d.ok) expect(d.value.envelope.length).toBeLessThanOrEqual(512);
        else expect(frameReasons).toContain(d.error);
        if (b.length > 512 + 9) expect(d.ok ? '' : d.error).toBe('oversized');
      }),
      params,
    );
    fc.assert(
      // An empty envelope is never valid, so the decoder calls a frame without one truncated.
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 500 }), cls, (b, c) => {
        const d = decodeFrame(encodeFrame(tag, c, b), tag, 512);
        expect(d.ok && d.value.cls === c && Buffer.from(d.value.envelope).equals(Buffer.from(b))).toBe(true);
      }),
      params,
    );
  });

  it('radio frame', () => {
    fc.assert(
      fc.property(bytes(300), (b) => {
        const d = decodeRadioFrame(b, tag, 64);
        if (!d.ok) expect(radioReasons).toContain(d.error);
        else expect(d.value.index).toBeLessThan(d.value.count);
      }),
      params,
    );
    fc.assert(
      fc.property(bytes(200), cls, fc.integer({ min: 0, max: 0xffffffff }), fc.option(fc.integer({ min: 0, max: 0xffffffff }), { nil: undefined }), (frag, c, msgId, dest) => {
        const f = { cls: c, fleetTag: tag, origin: 7, msgId, hopsLeft: 3, index: 1, count: 2, dest, fragment: frag };
        const d = decodeRadioFrame(encodeRadioFrame(f), tag, 64);
        expect(d.ok).toBe(true);
        if (d.ok) expect({ ...d.value, fragment: Buffer.from(d.value.fragment) }).toEqual({ ...f, fragment: Buffer.from(frag) });
      }),
      params,
    );
  });

  it('COBS over any chunking of the stream', () => {
    fc.assert(
      fc.property(fc.array(bytes(600), { maxLength: 8 }), fc.array(fc.integer({ min: 1, max: 97 }), { minLength: 1, maxLength: 20 }), (packets, cuts) => {
        const stream = Buffer.concat(packets.flatMap((p) => [Buffer.from(cobsEncode(p)), Buffer.of(0)]));
        const s = new CobsSplitter(4_096);
        const got: Uint8Array[] = [];
        for (let at = 0, i = 0; at < stream.length; i++) {
          const n = cuts[i % cuts.length] as number;
          got.push(...s.push(stream.subarray(at, at + n)));
          at += n;
        }
        // An empty packet encodes to one code byte, so it survives as a packet too.
        expect(got.map((g) => Buffer.from(cobsDecode(g) ?? [0xee]).toString('hex'))).toEqual(packets.map((p) => Buffer.from(p).toString('hex')));
      }),
      params,
    );
    fc.assert(
      fc.property(bytes(400), (b) => {
        // COBS only removes bytes (each block's code byte), and what decodes encodes and decodes back.
        const d = cobsDecode(b);
        if (d === undefined) return;
        expect(d.length).toBeLessThan(Math.max(1, b.length));
        expect(Buffer.from(cobsDecode(cobsEncode(d)) ?? []).equals(Buffer.from(d))).toBe(true);
      }),
      params,
    );
  });

  it('a splitter discards an endless packet and resynchronises', () => {
    const s = new CobsSplitter(100);
    let overflows = 0;
    expect(s.push(Buffer.alloc(150, 7), () => overflows++)).toEqual([]);
    expect(overflows).toBe(1);
    expect(s.push(Buffer.from([1, 0, 2, 9, 0])).map((p) => Buffer.from(p).toString('hex'))).toEqual(['01', '0209']);
  });

  it('topics, node state and the MQTT size guard', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), (t) => {
        // Only topics under the fleet's prefix are read.
        if (!t.startsWith('murmur/v1/f/')) expect(parseTopic('murmur/v1/f', t)).toBeUndefined();
        const p = parseTopic('murmur/v1/f', `murmur/v1/f/${t}`);
        // What it names is one whole topic level: a node id never holds a slash and is never empty.
        if (p && p.type !== 'commands') {
          expect(p.from).not.toBe('');
          expect(p.from.includes('/')).toBe(false);
          expect(t.split('/')).toContain(p.from);
        }
        if (p?.type === 'commands') expect(t).toBe('commands');
      }),
      params,
    );
    fc.assert(
      fc.property(bytes(300), (b) => {
        expect(parseNodeState(b) === undefined || typeof parseNodeState(b)?.node === 'string').toBe(true);
      }),
      params,
    );
    fc.assert(
      // MQTT packets (a type byte, a 1-4 byte remaining length, the body), some over the 1,000-byte
      // limit, cut anywhere: the guard names the first oversized packet's length, and nothing before it.
      fc.property(fc.array(fc.integer({ min: 0, max: 1_500 }), { minLength: 1, maxLength: 8 }), fc.array(fc.integer({ min: 1, max: 300 }), { minLength: 1, maxLength: 10 }), (lengths, cuts) => {
        const stream = Buffer.concat(lengths.map((n) => Buffer.concat([Buffer.of(0x30), remainingLength(n), Buffer.alloc(n, 0x61)])));
        const g = new PacketSizeGuard(1_000);
        let verdict: number | undefined;
        for (let at = 0, i = 0; at < stream.length && verdict === undefined; i++) {
          const n = cuts[i % cuts.length] as number;
          verdict = g.feed(stream.subarray(at, at + n));
          at += n;
        }
        expect(verdict).toBe(lengths.find((n) => n > 1_000));
      }),
      params,
    );
  });
});
