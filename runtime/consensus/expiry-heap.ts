// A binary min-heap of (expiresAt, key): the chain's committed nonces in expiry order, so each block
// drops the expired ones in O(expired · log n) instead of scanning every nonce it remembers. Bounded
// by the nonce table it mirrors (limits.seenNoncesMax). Ties pop in no particular order; callers
// remove every entry below a time, so the order among equal times does not matter.

import { MinHeap } from '../lib/min-heap.js';

export interface Expiry {
  readonly expiresAt: number;
  readonly key: string;
}

export class ExpiryHeap {
  private readonly heap = new MinHeap<Expiry>((a, b) => a.expiresAt < b.expiresAt);

  size(): number {
    return this.heap.size();
  }

  peek(): Expiry | undefined {
    return this.heap.peek();
  }

  push(expiresAt: number, key: string): void {
    this.heap.push({ expiresAt, key });
  }

  pop(): Expiry | undefined {
    return this.heap.pop();
  }

  clear(): void {
    this.heap.clear();
  }
}
