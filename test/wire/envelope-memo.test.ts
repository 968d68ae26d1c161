// The simulated world's envelope memo (runtime/wire/envelope-memo.ts): every node of a world hears the
// same broadcast, and the memo decodes and opens it once for all of them. It must answer exactly as
// decodeEnvelope and verifyEnvelope do: bytes that differ in any byte, a caller that reuses its buffer,
// another validator set or verifier, each get a fresh answer, never a remembered one.

import { beforeAll, describe, expect, it } from 'vitest';
import { keyLookup } from '../../runtime/manifest/manifest.js';
import { decodeEnvelope, parseEnvelopeBody, sealEnvelope, verifyEnvelope, type OpenContext, type RawEnvelope } from '../../runtime/wire/envelope.js';
import { envelopeMemo } from '../../runtime/wire/envelope-memo.js';
import { encodeVoteBody } from '../../runtime/wire/vote.js';
import { createVerifier, makeFleet, type FleetFixture } from '../support/fleet-fixture.js';

let fx: FleetFixture;
let other: FleetFixture;
let ctx: OpenContext;

beforeAll(async () => {
  fx = await makeFleet({ validators: 4, followers: 1 });
  // Another fleet of the same name whose keys differ: v1's vote from fx does not verify under it.
  other = await makeFleet({ validators: 4, followers: 1, seed: 99 });
  ctx = { fleet: fx.fleet, keyOf: keyLookup(fx.manifest), verifier: createVerifier() };
});

const vote = (height: number, sender = 'v1'): Uint8Array => sealEnvelope('prevote', fx.fleet, sender, encodeVoteBody({ height, round: 0, blockHash: new Uint8Array(32).fill(height & 255) }), fx.signer(sender));
const raw = (r: ReturnType<typeof decodeEnvelope>): RawEnvelope => {
  if (!r.ok) throw new Error(r.error.message);
  return r.value;
};
/** What a decode or open gave, as plain data (bytes as hex, Buffer or not), to compare memo against no memo. */
const plain = (r: unknown): string => {
  const walk = (v: unknown): unknown => {
    if (v instanceof Uint8Array) return `hex:${Buffer.from(v).toString('hex')}`;
    if (Array.isArray(v)) return v.map(walk);
    if (typeof v === 'object' && v !== null) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
    return v;
  };
  return JSON.stringify(walk(r));
};

describe('envelope memo', () => {
  it('decodes equal bytes once, and anything else for real, whatever the caller does to its buffer', () => {
    const m = envelopeMemo(100, 1 << 20);
    const a = vote(7);
    const first = m.decode(a);
    expect(plain(first)).toBe(plain(decodeEnvelope(a)));
    // Equal bytes in another buffer: the same answer, from memory.
    expect(m.decode(Uint8Array.from(a))).toBe(first);
    expect([m.hits, m.misses]).toEqual([1, 1]);
    // A caller that reuses its buffer cannot change what was remembered: the memo decoded its own copy.
    const scratch = Uint8Array.from(a);
    m.decode(scratch);
    scratch.fill(0);
    expect(plain(m.decode(a))).toBe(plain(decodeEnvelope(vote(7))));
    // Bytes that differ only before the last six (the lookup key) are decoded for real: a body byte.
    const bent = Uint8Array.from(a);
    bent[20] = (bent[20] as number) ^ 1;
    expect(plain(m.decode(bent))).toBe(plain(decodeEnvelope(bent)));
    expect([m.hits, m.misses]).toEqual([3, 2]); // scratch (equal to a then) and a again were hits; bent is new
    // An undecodable one gets decodeEnvelope's error, remembered as such.
    const junk = new Uint8Array([0x86, 1, 2, 3, 4, 5, 6, 7]);
    expect(plain(m.decode(junk))).toBe(plain(decodeEnvelope(junk)));
    expect(m.decode(junk).ok).toBe(false);
  });

  it('opens as verifyEnvelope does, once per validator set and verifier, and never for a raw it did not decode', () => {
    const m = envelopeMemo(100, 1 << 20);
    const a = vote(8);
    const r = raw(m.decode(a));
    const opened = m.verify(r, ctx, fx.manifest);
    expect(opened.ok).toBe(true);
    expect(plain(opened)).toBe(plain(verifyEnvelope(raw(decodeEnvelope(a)), ctx)));
    expect(m.verify(r, ctx, fx.manifest)).toBe(opened);
    const hits = m.hits;
    // Another validator set: opened again, and here the signature does not verify.
    const ctx2: OpenContext = { fleet: other.fleet, keyOf: keyLookup(other.manifest), verifier: ctx.verifier };
    const under2 = m.verify(r, ctx2, other.manifest);
    expect(under2.ok).toBe(false);
    expect(plain(under2)).toBe(plain(verifyEnvelope(r, ctx2)));
    // Another verifier: opened again (a verifier that refuses everything says so).
    const refusing: OpenContext = { ...ctx, verifier: { backend: 'libsodium-wrappers', verify: () => false } };
    expect(m.verify(r, refusing, fx.manifest).ok).toBe(false);
    expect(m.hits).toBe(hits);
    // A raw the memo did not hand out (decoded elsewhere, equal bytes) is opened for real, not looked up.
    const elsewhere = raw(decodeEnvelope(a));
    const calls: number[] = [];
    const counting: OpenContext = { ...ctx, verifier: { backend: 'libsodium-wrappers', verify: (s, msg, k) => (calls.push(1), ctx.verifier.verify(s, msg, k)) } };
    expect(m.verify(elsewhere, counting, fx.manifest).ok).toBe(true);
    expect(calls.length).toBe(1);
  });

  it('parses a body once for every opening, whatever its context, and checks each opening for real', () => {
    const m = envelopeMemo(100, 1 << 20);
    const a = vote(12);
    const r = raw(m.decode(a));
    const body = m.parseBody(r);
    expect(plain(body)).toBe(plain(parseEnvelopeBody(raw(decodeEnvelope(a)))));
    expect(m.parseBody(r)).toBe(body);
    // An opening after it takes the same parsed body, and still checks the signature: under another
    // fleet's keys it fails, under this one's it opens as verifyEnvelope does.
    const ctx2: OpenContext = { fleet: other.fleet, keyOf: keyLookup(other.manifest), verifier: ctx.verifier };
    expect(m.verify(r, ctx2, other.manifest).ok).toBe(false);
    const opened = m.verify(r, ctx, fx.manifest);
    expect(opened.ok && opened.value.parsed).toBe(body.ok && body.value);
    expect(plain(opened)).toBe(plain(verifyEnvelope(raw(decodeEnvelope(a)), ctx)));
    // A body that does not parse gives verifyEnvelope's error; a raw the memo did not hand out is parsed for real.
    const bad = raw(m.decode(sealEnvelope('prevote', fx.fleet, 'v1', Uint8Array.of(0x83, 1), fx.signer('v1'))));
    expect(plain(m.parseBody(bad))).toBe(plain(parseEnvelopeBody(bad)));
    expect(plain(m.verify(bad, ctx, fx.manifest))).toBe(plain(verifyEnvelope(bad, ctx)));
    const elsewhere = raw(decodeEnvelope(a));
    expect(m.parseBody(elsewhere)).not.toBe(body);
    expect(plain(m.parseBody(elsewhere))).toBe(plain(body));
  });

  it('starts again past its bounds, and answers the same after', () => {
    const m = envelopeMemo(2, 1 << 20);
    const msgs = [1, 2, 3, 4].map((h) => vote(h));
    for (const b of msgs) m.decode(b);
    expect(m.misses).toBe(4);
    // The first two were forgotten at the third (2 entries at most): decoded again, to the same answer.
    expect(plain(m.decode(msgs[0] as Uint8Array))).toBe(plain(decodeEnvelope(msgs[0] as Uint8Array)));
    expect(m.misses).toBe(5);
    // Larger than the byte bound: never remembered, decoded each time.
    const small = envelopeMemo(100, 64);
    const b = msgs[1] as Uint8Array;
    expect(b.length).toBeGreaterThan(64);
    small.decode(b);
    small.decode(b);
    expect([small.hits, small.misses]).toEqual([0, 2]);
  });
});
