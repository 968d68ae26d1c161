// The remembering verifier (runtime/crypto/memo-verifier.ts; the simulated world's, and each device's):
// it answers a repeated (signature, message, key) from memory and verifies anything else for real, so a
// forged message under a remembered signature, another key, or a caller reusing its buffer can never
// borrow an earlier yes; a remembering signer seeds it with what it signs.

import { beforeAll, describe, expect, it } from 'vitest';
import { createSigner, createVerifier, initCrypto, keyPairFromSeed } from '../../runtime/crypto/sodium.js';
import { memoVerifier, rememberingSigner } from '../../runtime/crypto/memo-verifier.js';
import { limits } from '../../runtime/lib/limits.js';

beforeAll(async () => {
  await initCrypto();
});

describe('memo verifier', () => {
  it('remembers a checked triple and verifies every other for real', () => {
    const a = keyPairFromSeed(new Uint8Array(32).fill(1));
    const b = keyPairFromSeed(new Uint8Array(32).fill(2));
    const msg = new TextEncoder().encode('murmur/v1/vote prevote height 7');
    const sig = createSigner(a).sign(msg);
    const v = memoVerifier(createVerifier(), limits.deviceVerifyMemoMax, limits.deviceVerifyMemoBytesMax);
    expect(v.verify(sig, msg, a.publicKey)).toBe(true);
    expect(v.verify(Uint8Array.from(sig), Uint8Array.from(msg), Uint8Array.from(a.publicKey))).toBe(true);
    expect([v.hits, v.misses]).toEqual([1, 1]);
    // The same signature on another message, or under another key: looked at, not borrowed.
    const forged = Uint8Array.from(msg);
    forged[0] = (forged[0] as number) ^ 1;
    expect(v.verify(sig, forged, a.publicKey)).toBe(false);
    expect(v.verify(sig, msg, b.publicKey)).toBe(false);
    expect(v.misses).toBe(3);
    // With (sig, msg, a) remembered again: a signature that differs only past the bytes it is looked up
    // by, and a key alone that differs, are each checked for real.
    expect(v.verify(sig, msg, a.publicKey)).toBe(true);
    expect(v.misses).toBe(4);
    const bent = Uint8Array.from(sig);
    bent[63] = (bent[63] as number) ^ 1;
    expect(v.verify(bent, msg, a.publicKey)).toBe(false);
    expect(v.misses).toBe(5);
    expect(v.verify(sig, msg, a.publicKey)).toBe(true);
    expect(v.verify(sig, msg, b.publicKey)).toBe(false);
    expect(v.misses).toBe(7);
    // A caller that reuses its message buffer (wire/signing.ts does) cannot change what was remembered.
    const scratch = Uint8Array.from(msg);
    expect(v.verify(sig, scratch, a.publicKey)).toBe(true);
    scratch.fill(0);
    expect(v.verify(sig, msg, a.publicKey)).toBe(true);
    expect(v.verify(sig, scratch, a.publicKey)).toBe(false);
  });

  it('holds at most bytesMax: past it it starts again; an entry larger than that is never remembered', () => {
    const k = keyPairFromSeed(new Uint8Array(32).fill(4));
    const s = createSigner(k);
    const msgs = [1, 2, 3].map((b) => new Uint8Array(500).fill(b)); // 597-byte entries
    const big = new Uint8Array(2_000).fill(9);
    const v = memoVerifier(createVerifier(), 1_000, 1_500);
    const check = (m: Uint8Array): boolean => v.verify(s.sign(m), m, k.publicKey);
    expect(check(msgs[0] as Uint8Array) && check(msgs[1] as Uint8Array) && check(msgs[0] as Uint8Array)).toBe(true);
    expect([v.hits, v.misses]).toEqual([1, 2]);
    // Larger than the whole bound: checked each time, and what is remembered stays.
    expect(check(big) && check(big)).toBe(true);
    expect(check(msgs[1] as Uint8Array)).toBe(true);
    expect([v.hits, v.misses]).toEqual([2, 4]);
    // A third 597-byte entry would pass 1,500: the memo starts again, so the first is checked again.
    expect(check(msgs[2] as Uint8Array) && check(msgs[0] as Uint8Array)).toBe(true);
    expect([v.hits, v.misses]).toEqual([2, 6]);
  });

  it('answers a triple its signer remembered without checking it; anything else is checked', () => {
    const k = keyPairFromSeed(new Uint8Array(32).fill(5));
    const other = keyPairFromSeed(new Uint8Array(32).fill(6));
    const inner = createVerifier();
    let checked = 0;
    const v = memoVerifier({ backend: inner.backend, verify: (sig, m, pk) => (checked++, inner.verify(sig, m, pk)) }, limits.deviceVerifyMemoMax, limits.deviceVerifyMemoBytesMax);
    const msg = new TextEncoder().encode('murmur/v1/vote precommit height 9');
    const sig = createSigner(k).sign(msg);
    const scratch = Uint8Array.from(msg);
    v.remember(sig, scratch, k.publicKey);
    scratch.fill(0); // the signer's buffer reused: what was remembered stays
    expect(v.verify(sig, msg, k.publicKey)).toBe(true);
    expect([checked, v.hits]).toEqual([0, 1]);
    const forged = Uint8Array.from(msg);
    forged[5] = (forged[5] as number) ^ 1;
    expect(v.verify(sig, forged, k.publicKey)).toBe(false);
    expect(v.verify(sig, msg, other.publicKey)).toBe(false);
    expect(checked).toBe(2);
    // A key of the wrong size is never remembered: stored, its 33rd byte would read as the message's
    // first, and a triple nobody checked would match it.
    const long = Uint8Array.from([...k.publicKey, 0x2a]);
    v.remember(sig, msg, long);
    expect(v.verify(sig, Uint8Array.from([0x2a, ...msg]), k.publicKey)).toBe(false);
    expect(checked).toBe(3);
  });

  it('a remembering signer seeds it with each signature it makes, under its own key only', () => {
    const k = keyPairFromSeed(new Uint8Array(32).fill(7));
    const inner = createVerifier();
    let checked = 0;
    const v = memoVerifier({ backend: inner.backend, verify: (sig, m, pk) => (checked++, inner.verify(sig, m, pk)) }, limits.deviceVerifyMemoMax, limits.deviceVerifyMemoBytesMax);
    const signer = rememberingSigner(createSigner(k), v);
    expect(signer.publicKey).toEqual(k.publicKey);
    const msg = new TextEncoder().encode('murmur/v1/proposal height 3');
    const sig = signer.sign(msg);
    expect(sig).toEqual(createSigner(k).sign(msg));
    expect(v.verify(sig, msg, k.publicKey)).toBe(true);
    expect(checked).toBe(0);
    expect(v.verify(sig, msg, keyPairFromSeed(new Uint8Array(32).fill(8)).publicKey)).toBe(false);
    expect(checked).toBe(1);
  });

  it('forgets everything when full and still answers correctly', () => {
    const k = keyPairFromSeed(new Uint8Array(32).fill(3));
    const s = createSigner(k);
    const v = memoVerifier(createVerifier(), 4, limits.deviceVerifyMemoBytesMax);
    const msgs = Array.from({ length: 10 }, (_, i) => new TextEncoder().encode(`m${i}`));
    for (const m of msgs) expect(v.verify(s.sign(m), m, k.publicKey)).toBe(true);
    for (const m of msgs) expect(v.verify(s.sign(m), m, k.publicKey)).toBe(true);
    expect(v.hits + v.misses).toBe(20);
    expect(v.misses).toBeGreaterThan(10); // cleared on the way: some were checked again
  });
});
