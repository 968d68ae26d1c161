// The chain forgets expired nonces through this heap: whatever the order of pushes, pops must come out
// by expiry, every pushed entry exactly once, and an expiry sweep must remove exactly what a full scan
// of the same entries would.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ExpiryHeap } from '../../runtime/consensus/expiry-heap.js';

describe('ExpiryHeap', () => {
  it('pops every entry once, in expiry order, however they were pushed', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 50 }), { maxLength: 300 }), (times) => {
        const h = new ExpiryHeap();
        times.forEach((t, i) => h.push(t, `k${i}`));
        expect(h.size()).toBe(times.length);
        const out: { expiresAt: number; key: string }[] = [];
        for (let e = h.pop(); e !== undefined; e = h.pop()) out.push(e);
        expect(out.map((e) => e.expiresAt)).toEqual([...times].sort((a, b) => a - b));
        expect(new Set(out.map((e) => e.key)).size).toBe(times.length);
        expect(h.size()).toBe(0);
      }),
    );
  });

  it('sweeps below a time exactly what a scan would, with pushes between sweeps', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.array(fc.integer({ min: 0, max: 1_000 }), { maxLength: 20 }), fc.integer({ min: 0, max: 1_000 })), { maxLength: 30 }), (rounds) => {
        const h = new ExpiryHeap();
        const live = new Map<string, number>();
        let k = 0;
        for (const [adds, now] of rounds) {
          for (const t of adds) {
            const key = `k${k++}`;
            live.set(key, t);
            h.push(t, key);
          }
          const scanned = [...live].filter(([, t]) => t < now).map(([key]) => key).sort();
          const swept: string[] = [];
          for (let e = h.peek(); e !== undefined && e.expiresAt < now; e = h.peek()) {
            h.pop();
            swept.push(e.key);
            live.delete(e.key);
          }
          expect(swept.sort()).toEqual(scanned);
          expect(h.size()).toBe(live.size);
        }
      }),
    );
  });
});
