// The nonce table brings the order of its last export up to date instead of sorting every nonce at
// each checkpoint. Every node must commit to the same snapshot bytes, so whatever happens between
// exports (adds, keys set again, expiries, reloads), an export must equal sorting the live nonces.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { NonceTable } from '../../runtime/consensus/nonce-table.js';
import { decodeStateSnapshot, encodeStateSnapshot } from '../../runtime/consensus/snapshot.js';

type Op = { readonly t: 'add'; readonly key: number; readonly expiresAt: number } | { readonly t: 'forget'; readonly before: number } | { readonly t: 'export' } | { readonly t: 'reload' };

const op: fc.Arbitrary<Op> = fc.oneof(
  // Small times often, so the same key comes back with the same expiry after it was forgotten; past
  // 32 bits too (an expiry is a time in ms), which CBOR writes in 9 bytes.
  { weight: 6, arbitrary: fc.record({ t: fc.constant('add' as const), key: fc.integer({ min: 0, max: 12 }), expiresAt: fc.oneof(fc.integer({ min: 0, max: 8 }), fc.integer({ min: 0, max: 2 ** 40 })) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('forget' as const), before: fc.oneof(fc.integer({ min: 0, max: 8 }), fc.integer({ min: 0, max: 2 ** 40 })) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('export' as const)}) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('reload' as const) }) },
);

// Keys of varied length and order, some not ASCII.
const keyOf = (k: number): string => (k % 7 === 3 ? `op-é/${k}` : `op${k % 3}/${'ab'.repeat(k % 5)}${k}`);

/** The table as the chain held it before: a map, sorted whole at each export. */
function naive(live: Map<string, number>): [string, number][] {
  return [...live.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}

describe('NonceTable', () => {
  it('exports what sorting and encoding every live nonce gives, whatever happened between exports', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
        const t = new NonceTable();
        const live = new Map<string, number>();
        // The expiry heap holds every (key, expiresAt) pushed; forgetting drops a key only at its current expiry.
        const pushed: [string, number][] = [];
        for (const o of [...ops, { t: 'export' as const }]) {
          if (o.t === 'add') {
            const key = keyOf(o.key);
            t.add(key, o.expiresAt);
            live.set(key, o.expiresAt);
            pushed.push([key, o.expiresAt]);
          } else if (o.t === 'forget') {
            t.forgetBefore(o.before);
            for (const [k, v] of pushed) if (v < o.before && live.get(k) === v) live.delete(k);
            for (let i = pushed.length - 1; i >= 0; i--) if ((pushed[i] as [string, number])[1] < o.before) pushed.splice(i, 1);
          } else if (o.t === 'export') {
            expect(t.export()).toEqual(naive(live));
            expect(t.size).toBe(live.size);
            for (const k of live.keys()) expect(t.has(k)).toBe(true);
          } else {
            t.load(naive(live));
            pushed.length = 0;
            for (const [k, v] of live) pushed.push([k, v]);
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  it('a key forgotten and set again between two exports is exported once, with its current expiry', () => {
    const t = new NonceTable();
    t.add('b', 5);
    t.add('a', 9);
    t.export();
    t.forgetBefore(6);
    t.add('b', 5); // the same expiry again: both of its adds are live by value
    t.add('c', 1);
    t.forgetBefore(2);
    t.add('c', 1);
    t.add('a', 7); // set again: the older expiry is not live any more
    expect(t.export()).toEqual([
      ['a', 7],
      ['b', 5],
      ['c', 1],
    ]);
  });

  it('a snapshot written from an export reads back with the same nonces', () => {
    const t = new NonceTable();
    for (let i = 0; i < 500; i++) t.add(`operator/${(i * 7919) % 1000}`, 1_700_000_000_000 + i);
    t.export();
    t.forgetBefore(1_700_000_000_100);
    for (let i = 500; i < 700; i++) t.add(`operator/${(i * 7919) % 1000}x`, 1_700_000_000_000 + i);
    const nonces = t.export();
    expect(nonces).toHaveLength(600);
    const s = encodeStateSnapshot({ height: 64, lastHash: new Uint8Array(32).fill(1), lastTimeMs: 1_700_000_000_700, manifests: [{ fromHeight: 1, bytes: Uint8Array.of(1, 2, 3) }], nonces, evidence: [], app: Uint8Array.of(9) });
    const back = decodeStateSnapshot(s);
    expect(back.ok).toBe(true);
    if (back.ok) expect(back.value.nonces).toEqual(nonces);
  });
});
