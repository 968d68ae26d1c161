// Property tests (fast-check) for everything that reads bytes from a link: no input makes a decoder
// throw, and encode then decode gives back what went in, however the stream is chunked.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PacketSizeGuard } from '../../runtime/links/broker.js';
import { CobsSplitter, cobsDecode, cobsEncode } from '../../runtime/links/cobs.js';
import { decodeFrame, encodeFrame, fleetTag } from '../../runtime/links/frame.js';
import type { TrafficClass } from '../../runtime/links/link.js';
import { parseNodeState, parseTopic } from '../../runtime/links/mqtt-topics.js';
import { decodeRadioFrame, encodeRadioFrame } from '../../runtime/links/radio-frame.js';

const bytes = (max: number) => fc.uint8Array({ maxLength: max });
const cls = fc.constantFrom<TrafficClass>('consensus', 'heartbeat', 'telemetry');
const tag = fleetTag('prop-fleet');
const params = { numRuns: 300, seed: 4242 };

describe('decoders never throw and round-trip', () => {
  it('link frame', () => {
    fc.assert(
      fc.property(bytes(600), (b) => {
        decodeFrame(b, tag, 512);
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
        decodeRadioFrame(b, tag, 64);
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
        cobsDecode(b);
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
        parseTopic('murmur/v1/f', t);
        parseTopic('murmur/v1/f', `murmur/v1/f/${t}`);
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
      fc.property(fc.array(bytes(64), { maxLength: 20 }), (chunks) => {
        const g = new PacketSizeGuard(1_000);
        for (const c of chunks) g.feed(Buffer.from(c));
      }),
      params,
    );
  });
});
