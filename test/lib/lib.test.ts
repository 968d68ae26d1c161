// runtime/lib: bounded queue policies, PRNG determinism and independence of split streams.

import { describe, expect, it } from 'vitest';
import { BoundedQueue } from '../../runtime/lib/bounded-queue.js';
import { Prng } from '../../runtime/lib/prng.js';
import { AssertionError, assert } from '../../runtime/lib/assert.js';
import { err, ok, unwrap } from '../../runtime/lib/result.js';
import { bytesEqual, hashHex, sameBytes, toHex } from '../../runtime/lib/bytes.js';

describe('BoundedQueue', () => {
  it('rejects when full under the reject policy and counts the drop', () => {
    const q = new BoundedQueue<number>(2, 'reject');
    expect(q.push(1)).toBe(true);
    expect(q.push(2)).toBe(true);
    expect(q.push(3)).toBe(false);
    expect(q.dropped).toBe(1);
    expect([...q]).toEqual([1, 2]);
  });

  it('drops the oldest under the drop-oldest policy', () => {
    const q = new BoundedQueue<number>(3, 'drop-oldest');
    for (let i = 1; i <= 5; i++) q.push(i);
    expect([...q]).toEqual([3, 4, 5]);
    expect(q.dropped).toBe(2);
    expect(q.shift()).toBe(3);
    expect(q.length).toBe(2);
  });

  it('wraps around its ring many times without losing order', () => {
    const q = new BoundedQueue<number>(4);
    const out: number[] = [];
    for (let i = 0; i < 100; i++) {
      q.push(i);
      if (i % 2 === 1) out.push(q.shift() as number, q.shift() as number);
    }
    expect(out).toEqual(Array.from({ length: 100 }, (_, i) => i));
  });

  it('refuses a non-positive capacity', () => {
    expect(() => new BoundedQueue(0)).toThrow(AssertionError);
  });
});

describe('Prng', () => {
  it('gives the same sequence for the same seed and a different one for another seed', () => {
    const a = new Prng(42);
    const b = new Prng(42);
    const c = new Prng(43);
    const sa = Array.from({ length: 20 }, () => a.nextU32());
    expect(Array.from({ length: 20 }, () => b.nextU32())).toEqual(sa);
    expect(Array.from({ length: 20 }, () => c.nextU32())).not.toEqual(sa);
  });

  it('seeds below 2^32 keep their streams; larger seeds get streams of their own, not a small seed\'s', () => {
    const first3 = (seed: number): number[] => {
      const p = new Prng(seed);
      return [p.nextU32(), p.nextU32(), p.nextU32()];
    };
    // What these seeds drew before seeds of 2^32 and more were told apart: every kept world stays as it was.
    expect(first3(0)).toEqual([3809008728, 1133695204, 53579671]);
    expect(first3(7)).toEqual([1004282400, 2200021487, 1928073449]);
    expect(first3(4294967295)).toEqual([835879718, 1921286648, 2356205009]);
    expect(first3(-5)).toEqual([628514800, 131287287, 3762185039]);
    // 2^32 + 7 folded to 7's stream before (fleet-sim run --seed 4294967302 gave seed 7's report).
    const big = [7, 2 ** 32 + 7, 2 ** 33 + 7, 2 ** 32 * 3 + 7, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER - 1].map((s) => first3(s).join(','));
    expect(new Set(big).size).toBe(big.length);
  });

  it('split streams do not shift when another stream draws more', () => {
    const p1 = new Prng(7);
    const net1 = p1.split('net');
    const disk1 = p1.split('disk');
    const p2 = new Prng(7);
    const net2 = p2.split('net');
    const disk2 = p2.split('disk');
    for (let i = 0; i < 50; i++) net2.next(); // extra draws in one component
    expect(Array.from({ length: 10 }, () => disk1.nextU32())).toEqual(Array.from({ length: 10 }, () => disk2.nextU32()));
    expect(net1.nextU32()).not.toBe(disk1.nextU32());
  });

  it('int(n) stays in range and is roughly uniform', () => {
    const p = new Prng(1);
    const counts = new Array<number>(10).fill(0);
    for (let i = 0; i < 20_000; i++) {
      const x = p.int(10);
      expect(x >= 0 && x < 10).toBe(true);
      counts[x] = (counts[x] as number) + 1;
    }
    for (const c of counts) expect(Math.abs(c - 2000)).toBeLessThan(250);
  });
});

describe('assert and Result', () => {
  it('assert throws an AssertionError with the message', () => {
    expect(() => assert(false, 'height went backwards')).toThrow('height went backwards');
  });
  it('unwrap returns the value or throws the reason', () => {
    expect(unwrap(ok(3))).toBe(3);
    expect(() => unwrap(err('disk full'), 'persist')).toThrow('persist: disk full');
  });
});

describe('sameBytes', () => {
  it('agrees with bytesEqual on equal, differing and unequal-length arrays, views included', () => {
    const prng = new Prng(11);
    for (let run = 0; run < 200; run++) {
      const a = prng.bytes(prng.int(64));
      const b = Uint8Array.from(a);
      if (b.length > 0 && prng.chance(0.5)) b[prng.int(b.length)] = ((b[0] as number) + 1) & 255;
      const c = prng.chance(0.2) ? b.subarray(0, Math.max(0, b.length - 1)) : b;
      // A view into a larger buffer compares its own bytes only.
      const host = new Uint8Array(c.length + 8);
      host.set(c, 4);
      const view = host.subarray(4, 4 + c.length);
      expect(sameBytes(a, view), `run ${run}`).toBe(bytesEqual(a, c));
    }
  });
});

describe('hashHex', () => {
  it('is toHex for every value, however often it repeats, shares a final byte or changes in place', () => {
    const prng = new Prng(23);
    // A handful of hashes that share final bytes (so they take one another's slot), seen again and again.
    const pool = Array.from({ length: 12 }, (_, i) => {
      const h = prng.bytes(32);
      h[31] = i % 3;
      return h;
    });
    for (let run = 0; run < 2000; run++) {
      const h = pool[prng.int(pool.length)] as Uint8Array;
      // Views into larger buffers and Buffers (whose slice() would share memory) too.
      const host = Buffer.alloc(40);
      host.set(h, 5);
      const asked = run % 3 === 0 ? h : run % 3 === 1 ? host.subarray(5, 37) : Buffer.from(h);
      expect(hashHex(asked), `run ${run}`).toBe(toHex(h));
      // The caller's bytes change afterwards: the next answer follows the bytes, not what was remembered.
      if (run % 7 === 0) {
        const at = prng.int(31);
        asked[at] = (asked[at] as number) ^ 0xff;
        expect(hashHex(asked)).toBe(toHex(asked));
      }
    }
    // Other lengths are plain toHex.
    for (const n of [0, 1, 16, 31, 33, 64]) expect(hashHex(new Uint8Array(n).fill(0xab))).toBe('ab'.repeat(n));
  });
});
