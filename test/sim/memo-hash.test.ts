import { beforeAll, describe, expect, it } from 'vitest';
import { hash, initCrypto } from '../../runtime/crypto/sodium.js';
import { toHex } from '../../runtime/lib/bytes.js';
import { memoHash } from '../../fleet-sim/sim/memo-hash.js';
import { World } from '../../fleet-sim/sim/world.js';
import { scenario } from './helpers.js';

beforeAll(async () => {
  await initCrypto();
});

describe('memoHash', () => {
  it('answers equal bytes from memory, in another array, with the digest the hash gives', () => {
    const inner = Object.assign((b: Uint8Array) => (inner.calls++, hash(b)), { calls: 0 });
    const h = memoHash(inner);
    const a = new TextEncoder().encode('the block bytes of height 7, some of them');
    const d1 = h(a);
    const d2 = h(Uint8Array.from(a));
    expect(toHex(d1)).toBe(toHex(hash(a)));
    expect(d2).toBe(d1);
    expect(inner.calls).toBe(1);
    expect([h.hits, h.misses]).toEqual([1, 1]);
  });

  it('hashes for real when only the lookup key matches (same length, same middle bytes)', () => {
    const inner = Object.assign((b: Uint8Array) => (inner.calls++, hash(b)), { calls: 0 });
    const h = memoHash(inner);
    const a = new Uint8Array(64).fill(1);
    const b = new Uint8Array(64).fill(1);
    b[0] = 2; // differs away from the middle: same key
    b[63] = 9;
    expect(toHex(h(a))).toBe(toHex(hash(a)));
    expect(toHex(h(b))).toBe(toHex(hash(b)));
    expect(toHex(h(a))).toBe(toHex(hash(a)));
    expect(inner.calls).toBe(3); // each took the slot from the other
  });

  it('keeps its own copy of the input: a caller reusing its buffer gets the new bytes hashed', () => {
    const h = memoHash(hash);
    const scratch = new TextEncoder().encode('digest || nonce key number 1');
    const first = toHex(h(scratch));
    scratch[scratch.length - 1] = 0x32; // '2': the caller writes its next input into the same buffer
    expect(toHex(h(scratch))).toBe(toHex(hash(new TextEncoder().encode('digest || nonce key number 2'))));
    scratch[scratch.length - 1] = 0x31;
    expect(toHex(h(scratch))).toBe(first);
    expect(h.hits).toBe(0);
  });

  it('starts again past its bounds, still answering right', () => {
    const h = memoHash(hash, 4, 1_000);
    // Ten inputs in ten slots (their middle bytes differ): only the entry bound clears the memo.
    const inputs = Array.from({ length: 10 }, (_, i) => new TextEncoder().encode(`in ${i}${i}${i}${i} put`));
    for (const x of inputs) h(x);
    for (const x of inputs) expect(toHex(h(x))).toBe(toHex(hash(x)));
    expect(h.hits + h.misses).toBe(20);
    expect(h.misses).toBeGreaterThan(10); // cleared on the way: some were hashed again
    const big = memoHash(hash, 100, 100); // bytes bound: two 60-byte inputs do not fit
    const x = new Uint8Array(60).fill(7);
    const y = new Uint8Array(60).fill(8);
    big(x);
    big(y);
    expect(toHex(big(x))).toBe(toHex(hash(x)));
    expect(big.misses).toBe(3);
  });

  it('counts the bytes it keeps right when a clear empties the slot being replaced', () => {
    const h = memoHash(hash, 100, 1_000);
    const a = new Uint8Array(600).fill(1);
    const b = new Uint8Array(600).fill(1);
    b[0] = 2; // same slot as a (same length, same middle bytes)
    const c = new Uint8Array(600).fill(3);
    h(a);
    h(b); // 1200 bytes would pass 1000: cleared, then b kept (600 bytes)
    h(c); // 1200 again: cleared, then c kept
    expect(toHex(h(c))).toBe(toHex(hash(c)));
    expect(toHex(h(b))).toBe(toHex(hash(b)));
    expect([h.hits, h.misses]).toEqual([1, 4]); // b was forgotten at c's clear: never more than 1000 bytes kept
  });
});

describe('a world with the hash and envelope memos decides as one without', () => {
  const s = scenario({ name: 'hash-memo', seed: 11, durationMs: 3_000, followers: 6, consensus: { proposeMs: 300, commitWaitMs: 100, gossipMs: 200, checkpointEveryHeights: 4 }, workload: [{ kind: 'rate', from: 200, to: 2_800, perSec: 20, command: 'noop' }] });
  const run = (memo: boolean): { decided: [number, string][]; apps: string[] } => {
    const w = new World(s, s.seed, { memo });
    w.start();
    w.queue.runUntil(s.durationMs, 1e7);
    expect(w.checkers.violations, `seed ${s.seed}`).toEqual([]);
    // With the memo most hashes are answered from memory (ten nodes hash the same bytes); without, none is.
    if (memo) expect(w.hashMemo?.hits ?? 0).toBeGreaterThan(w.hashMemo?.misses ?? Infinity);
    else expect(w.hashMemo).toBe(null);
    // So are envelopes (runtime/wire/envelope-memo.ts): each of ten nodes decodes and opens what it hears.
    if (memo) expect(w.envelopes?.hits ?? 0).toBeGreaterThan(3 * (w.envelopes?.misses ?? Infinity));
    else expect(w.envelopes).toBe(null);
    const decided = [...w.checkers.decided].map(([h, d]): [number, string] => [h, d.hash]);
    return { decided, apps: w.nodes.map((n) => `${n.app?.height}:${n.app?.commands}:${toHex(n.app?.digest ?? new Uint8Array(0))}`) };
  };

  it('gives the same chain and the same application states either way', () => {
    const withMemo = run(true);
    const without = run(false);
    expect(withMemo.decided.length).toBeGreaterThan(10);
    expect(withMemo).toEqual(without);
    // Commands were applied (the digest chain moved) on every node.
    for (const a of withMemo.apps) expect(a).not.toMatch(/:0:/);
  });
});
