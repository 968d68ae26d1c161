// The client's filter in front of mqtt.js: PUBLISH packets over the bound are cut out of the byte stream
// wherever the chunks fall (QoS 0 and 1; reported with topic, retain flag and packet id), everything else
// passes byte for byte, and what cannot be skipped (another oversized type, QoS 2, a malformed length)
// ends the stream.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { OversizedPublishFilter, remainingLength, type SkippedPublish } from '../../runtime/links/oversized-publish-filter.js';

const params = { numRuns: 300, seed: 9191 };
const max = 1_000;


interface Spec {
  readonly type: number;
  readonly qos: number;
  readonly retain: boolean;
  readonly topic: string;
  readonly id: number;
  readonly payload: number;
}

function packet(p: Spec): Buffer {
  const t = Buffer.from(p.topic);
  const body = p.type === 3 ? Buffer.concat([Buffer.from([t.length >> 8, t.length & 0xff]), t, p.qos > 0 ? Buffer.from([p.id >> 8, p.id & 0xff]) : Buffer.alloc(0), Buffer.alloc(p.payload, 0x5a)]) : Buffer.alloc(p.payload, 0x5a);
  const flags = p.type === 3 ? (p.qos << 1) | (p.retain ? 1 : 0) : p.type === 8 ? 2 : 0;
  return Buffer.concat([Buffer.from([(p.type << 4) | flags]), remainingLength(body.length), body]);
}

/** Feeds `stream` cut at the given chunk sizes (in turn); the bytes passed, what was skipped, and the fatal reason. */
function run(stream: Buffer, cuts: readonly number[]): { out: Buffer; skipped: SkippedPublish[]; fatal: string | null } {
  const f = new OversizedPublishFilter(max);
  const out: Buffer[] = [];
  const skipped: SkippedPublish[] = [];
  for (let at = 0, i = 0; at < stream.length; i++) {
    const n = cuts[i % cuts.length] as number;
    const r = f.feed(stream.subarray(at, at + n));
    out.push(r.out);
    skipped.push(...r.skipped);
    if (r.fatal !== null) return { out: Buffer.concat(out), skipped, fatal: r.fatal };
    at += n;
  }
  return { out: Buffer.concat(out), skipped, fatal: null };
}

const spec: fc.Arbitrary<Spec> = fc.record({
  type: fc.constant(3),
  qos: fc.constantFrom(0, 1),
  retain: fc.boolean(),
  topic: fc.string({ minLength: 1, maxLength: 40 }).map((s) => s.replace(/[^ -~]/g, 'x') || 'x'),
  id: fc.integer({ min: 1, max: 65_535 }),
  payload: fc.integer({ min: 0, max: 2_500 }),
});

describe('OversizedPublishFilter', () => {
  it('cuts out every PUBLISH over the bound and passes the rest byte for byte, however the stream is cut', () => {
    fc.assert(
      fc.property(fc.array(spec, { minLength: 1, maxLength: 8 }), fc.array(fc.integer({ min: 1, max: 700 }), { minLength: 1, maxLength: 10 }), (specs, cuts) => {
        const packets = specs.map(packet);
        const r = run(Buffer.concat(packets), cuts);
        expect(r.fatal).toBeNull();
        // A skipped QoS 1 PUBLISH leaves a stub in its place: the same packet with no payload.
        const kept = specs.map((p, i) => (packetLength(p) <= max ? (packets[i] as Buffer) : p.qos === 1 ? packet({ ...p, payload: 0 }) : Buffer.alloc(0)));
        expect(r.out.equals(Buffer.concat(kept))).toBe(true);
        const want = specs.filter((p) => packetLength(p) > max).map((p) => ({ bytes: packetLength(p), topic: p.topic, retained: p.retain, qos: p.qos, packetId: p.qos === 1 ? p.id : null, stub: p.qos === 1 ? packet({ ...p, payload: 0 }) : null }));
        expect(r.skipped).toEqual(want);
      }),
      params,
    );
  });

  it('passes a stream with nothing over the bound as the very chunks it was given (no copy)', () => {
    const stream = Buffer.concat([packet({ type: 3, qos: 1, retain: false, topic: 'a/b', id: 5, payload: 100 }), packet({ type: 13, qos: 0, retain: false, topic: '', id: 0, payload: 0 })]);
    const f = new OversizedPublishFilter(max);
    expect(f.feed(stream).out).toBe(stream);
  });

  it('ends the stream at an oversized packet of another type, an oversized QoS 2 PUBLISH, and a malformed length', () => {
    const small = packet({ type: 3, qos: 0, retain: false, topic: 't', id: 0, payload: 10 });
    const cases: [Buffer, string][] = [
      [packet({ type: 9, qos: 0, retain: false, topic: '', id: 0, payload: 2_000 }), 'a packet of type 9 of 2000 bytes, more than 1000'],
      [packet({ type: 3, qos: 2, retain: false, topic: 't', id: 9, payload: 2_000 }), 'a QoS 2 PUBLISH of 2005 bytes, more than 1000'],
      [Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]), 'a packet with a malformed length (more than 4 length bytes)'],
    ];
    for (const [bad, why] of cases) {
      const r = run(Buffer.concat([small, bad, small]), [3]);
      expect(r.fatal).toBe(why);
      expect(r.out.subarray(0, small.length).equals(small)).toBe(true);
      expect(r.out.length).toBe(small.length); // nothing of the packet that ends it
    }
  });

});

/** A packet's remaining length (the body after the fixed header). */
function packetLength(p: Spec): number {
  return 2 + Buffer.from(p.topic).length + (p.qos > 0 ? 2 : 0) + p.payload;
}
