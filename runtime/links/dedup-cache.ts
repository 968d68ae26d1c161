// A bounded set of recently seen keys: duplicate suppression for radio fragments and for the router.
// Overflow: the oldest key is forgotten (limits.ts), so a duplicate older than the window gets through
// and is caught again by the layers above (consensus ignores repeated votes).

export class DedupCache {
  private readonly seen = new Set<string>();
  private readonly ring: (string | undefined)[];
  private next = 0;

  constructor(readonly capacity: number) {
    this.ring = new Array<string | undefined>(capacity);
  }

  has(key: string): boolean {
    return this.seen.has(key);
  }

  /** True when the key is new (and now remembered), false when it was seen recently. */
  add(key: string): boolean {
    if (this.seen.has(key)) return false;
    const old = this.ring[this.next];
    if (old !== undefined) this.seen.delete(old);
    this.ring[this.next] = key;
    this.next = (this.next + 1) % this.capacity;
    this.seen.add(key);
    return true;
  }

  get size(): number {
    return this.seen.size;
  }
}
