// A bounded set of recently seen keys: duplicate suppression for radio fragments and for the router.
// Overflow: the oldest key is forgotten (limits.ts), so a duplicate older than the window gets through
// and is caught again by the layers above (consensus ignores repeated votes). With `windowMs`, a key
// seen longer ago than that counts as new again: a message repeated on purpose (the status of a peer
// stuck at one height and round, byte for byte the same) must still arrive now and then.

export class DedupCache {
  /** key -> when it was last counted as new (ms; 0 without a window). */
  private readonly seen = new Map<string, number>();
  private readonly ring: (string | undefined)[];
  private next = 0;

  constructor(
    readonly capacity: number,
    private readonly windowMs?: number,
  ) {
    this.ring = new Array<string | undefined>(capacity);
  }

  has(key: string): boolean {
    return this.seen.has(key);
  }

  /** True when the key is new (and now remembered), false when it was seen recently. */
  add(key: string, nowMs = 0): boolean {
    const at = this.seen.get(key);
    if (at !== undefined) {
      if (this.windowMs === undefined || nowMs - at < this.windowMs) return false;
      this.seen.set(key, nowMs);
      return true;
    }
    const old = this.ring[this.next];
    if (old !== undefined) this.seen.delete(old);
    this.ring[this.next] = key;
    this.next = (this.next + 1) % this.capacity;
    this.seen.set(key, nowMs);
    return true;
  }

  /** Remembers the key as seen now, whether or not it was (own messages, so their echo is dropped). */
  touch(key: string, nowMs = 0): void {
    if (!this.add(key, nowMs)) this.seen.set(key, nowMs);
  }

  get size(): number {
    return this.seen.size;
  }
}
