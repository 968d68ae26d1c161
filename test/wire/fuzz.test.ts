// Hostile bytes: random input and mutations of valid envelopes never make the decoder throw, always
// come back with a reason, and never let a length claim allocate past the limits.

import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { createSigner } from '../../runtime/crypto/sodium.js';
import { keyLookup } from '../../runtime/manifest/manifest.js';
import { limits } from '../../runtime/lib/limits.js';
import { scanCbor } from '../../runtime/wire/cbor-scan.js';
import { defaultScanLimits } from '../../runtime/wire/cbor.js';
import { decodeEnvelope, openEnvelope, sealEnvelope, type OpenContext } from '../../runtime/wire/envelope.js';
import { kinds, type KindName } from '../../runtime/wire/kinds.js';
import { createVerifier, makeFleet, type FleetFixture } from '../support/fleet-fixture.js';
import { kindCases, manifestSender, sealCase, type KindCase } from '../support/wire-kind-cases.js';

let fx: FleetFixture;
let ctx: OpenContext;
/** One valid envelope per kind (the largest of 20 generated with a fixed seed, so the richest structure). */
let samples: { kind: KindName; sender: string; body: Uint8Array; bytes: Uint8Array }[];

beforeAll(async () => {
  fx = await makeFleet({ validators: 4, followers: 1 });
  const members = keyLookup(fx.manifest);
  ctx = { fleet: fx.fleet, keyOf: (s, k) => (k === 'manifest' && s === manifestSender ? fx.authority.publicKey : members(s, k)), verifier: createVerifier() };
  const cases = kindCases(fx);
  samples = (Object.keys(kinds) as KindName[]).map((kind) => {
    const c = cases[kind] as unknown as KindCase<KindName>;
    const candidates = fc.sample(c.arb, { seed: 20_251, numRuns: 20 }).map((v) => ({ kind, sender: v.sender, body: c.encode(v.body), bytes: sealCase(fx, cases, kind, v) }));
    return candidates.reduce((a, b) => (b.bytes.length > a.bytes.length ? b : a));
  });
});

const signerOf = (sender: string) => (sender === manifestSender ? createSigner(fx.authority) : fx.signer(sender));

function expectReason(bytes: Uint8Array): void {
  const r = openEnvelope(bytes, ctx);
  if (!r.ok) {
    expect(r.error.message.length).toBeGreaterThan(5);
    expect(typeof r.error.code).toBe('string');
  }
}

describe('the decoder under hostile input', () => {
  it('random bytes never throw and always give a reason', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2048 }), (bytes) => {
        expect(() => expectReason(bytes)).not.toThrow();
        const r = decodeEnvelope(bytes);
        if (!r.ok) expect(r.error.message).not.toBe('');
      }),
      { numRuns: 3000 },
    );
  });

  it('there is one seed sample per kind, and each opens', () => {
    expect(samples.map((x) => x.kind).sort()).toEqual(Object.keys(kinds).sort());
    for (const x of samples) expect(openEnvelope(x.bytes, ctx).ok, x.kind).toBe(true);
  });

  it('mutated valid envelopes of every kind (bit flips, truncation) never throw', () => {
    fc.assert(
      fc.property(fc.nat(), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }), fc.nat(), fc.boolean(), (which, flips, cut, truncate) => {
        const base = (samples[which % samples.length] as (typeof samples)[number]).bytes;
        let b = new Uint8Array(base);
        for (const [at, value] of flips) b[at % b.length] = value;
        if (truncate) b = b.slice(0, cut % b.length);
        expect(() => expectReason(b)).not.toThrow();
      }),
      { numRuns: 3000 },
    );
  });

  it('a mutated envelope is never accepted with a different body than was signed', () => {
    fc.assert(
      fc.property(fc.nat(), fc.nat(), fc.integer({ min: 1, max: 255 }), (which, at, xor) => {
        const base = (samples[which % samples.length] as (typeof samples)[number]).bytes;
        const b = new Uint8Array(base);
        const i = at % b.length;
        b[i] = (b[i] as number) ^ xor;
        const r = openEnvelope(b, ctx);
        // Either rejected, or the change hit bytes outside what was signed and decodes to the same body.
        if (r.ok) {
          const original = openEnvelope(base, ctx);
          expect(original.ok && Buffer.from(original.value.body).equals(Buffer.from(r.value.body))).toBe(true);
        }
      }),
      { numRuns: 2000 },
    );
  });

  // A member's key signing garbage is a Byzantine peer: the signature verifies, so only the body parser
  // stands between these bytes and the core. Mutated bodies and other kinds' bodies must come back as
  // a named reason, never a throw.
  it('hostile bodies correctly signed by an allowed sender reach every body parser and never throw', () => {
    fc.assert(
      fc.property(fc.nat(), fc.oneof(fc.nat().map((other) => ({ other })), fc.record({ flips: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }), cut: fc.option(fc.nat(), { nil: null }) })), (which, how) => {
        const s = samples[which % samples.length] as (typeof samples)[number];
        let body: Uint8Array;
        if ('other' in how) body = (samples[how.other % samples.length] as (typeof samples)[number]).body;
        else {
          body = new Uint8Array(s.body);
          for (const [at, value] of how.flips) body[at % body.length] = value;
          if (how.cut !== null) body = body.slice(0, how.cut % body.length);
        }
        let r: ReturnType<typeof openEnvelope> | undefined;
        expect(() => (r = openEnvelope(sealEnvelope(s.kind, fx.fleet, s.sender, body, signerOf(s.sender)), ctx))).not.toThrow();
        if (r === undefined || r.ok) return;
        expect(['malformed', 'bad-field', 'too-large']).toContain(r.error.code);
        expect(r.error.message.length).toBeGreaterThan(5);
      }),
      { numRuns: 3000 },
    );
  });

  it('length claims larger than the input are refused before allocation', () => {
    const claims: [Uint8Array, string][] = [
      [Uint8Array.of(0x5b, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00), 'claims'], // bytes of length 2^32
      [Uint8Array.of(0x9b, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff), 'entries'], // array of 2^32-1
      [Uint8Array.of(0xbb, 0x00, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), 'entries'], // map of 2^53-1
      [Uint8Array.of(0x7a, 0x7f, 0xff, 0xff, 0xff, 0x61), 'claims'], // text of 2 GiB
      [Uint8Array.of(0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), 'exceeds 2^53-1'],
    ];
    for (const [bytes, why] of claims) {
      const r = scanCbor(bytes, defaultScanLimits);
      expect(r.ok).toBe(false);
      expect(!r.ok && r.error).toContain(why);
    }
  });

  it('nesting deeper than the limit is refused without recursion', () => {
    const deep = new Uint8Array(100_000).fill(0x81); // [[[[...
    const r = scanCbor(deep, defaultScanLimits);
    expect(!r.ok && r.error).toContain(`nesting deeper than ${limits.cborDepthMax}`);
  });

  it('too many items in total is refused', () => {
    const n = limits.cborItemsMax + 10;
    // an array of n small ints, split into nested arrays to stay under the per-collection length limit
    const outer = Math.ceil(n / 200);
    const parts: number[] = [0x99, outer >> 8, outer & 0xff];
    for (let i = 0; i < outer; i++) parts.push(0x98, 200, ...new Array<number>(200).fill(0x01));
    const r = scanCbor(Uint8Array.from(parts), { ...defaultScanLimits, collectionLengthMax: 1000 });
    expect(!r.ok && r.error).toContain('too many CBOR items');
  });

  it('a decode of the largest allowed envelope stays within its bounds', () => {
    const before = process.memoryUsage().arrayBuffers;
    for (let i = 0; i < 200; i++) decodeEnvelope(Uint8Array.of(0x9b, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff));
    const grown = process.memoryUsage().arrayBuffers - before;
    expect(grown).toBeLessThan(16 * 1024 * 1024);
  });
});
