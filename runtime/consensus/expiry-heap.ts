// A binary min-heap of (expiresAt, key): the chain's committed nonces in expiry order, so each block
// drops the expired ones in O(expired · log n) instead of scanning every nonce it remembers. Bounded
// by the nonce table it mirrors (limits.seenNoncesMax). Ties pop in no particular order; callers
// remove every entry below a time, so the order among equal times does not matter.

export interface Expiry {
  readonly expiresAt: number;
  readonly key: string;
}

export class ExpiryHeap {
  private readonly heap: Expiry[] = [];

  size(): number {
    return this.heap.length;
  }

  peek(): Expiry | undefined {
    return this.heap[0];
  }

  push(expiresAt: number, key: string): void {
    const h = this.heap;
    const e = { expiresAt, key };
    let i = h.length;
    h.push(e);
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = h[p] as Expiry;
      if (parent.expiresAt <= expiresAt) break;
      h[i] = parent;
      i = p;
    }
    h[i] = e;
  }

  pop(): Expiry | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (top === undefined || last === undefined || h.length === 0) return top;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      let best = last;
      if (l < h.length && (h[l] as Expiry).expiresAt < best.expiresAt) {
        m = l;
        best = h[l] as Expiry;
      }
      if (r < h.length && (h[r] as Expiry).expiresAt < best.expiresAt) m = r;
      if (m === i) break;
      h[i] = h[m] as Expiry;
      i = m;
    }
    h[i] = last;
    return top;
  }

  clear(): void {
    this.heap.length = 0;
  }
}
