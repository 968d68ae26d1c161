// Bounded sets of recently seen keys: duplicate suppression for radio fragments (DedupCache) and for
// the router (DedupWindow, which also forgets a key once its time window has passed). Overflow: the
// oldest key is forgotten (limits.ts), so a duplicate older than the window gets through and is caught
// again by the layers above (consensus ignores repeated votes).

import { createHash } from 'node:crypto';

/** The key these caches keep for a message: 16 bytes of SHA-256 over its bytes, in base64 (the same
 *  signed bytes on two links, or sent twice, are one message). */
export function bytesDigest(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('base64').slice(0, 22);
}

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

/**
 * Keys remembered for `windowMs` from their first sighting: a copy inside the window is a duplicate,
 * a copy after it starts a new window. The router uses it so the same envelope arriving on two links
 * is delivered once, while a deliberate re-send (consensus re-broadcasts its latest votes and status
 * every gossip interval, byte for byte, since Ed25519 signatures are deterministic) still gets through.
 * Bounded: past `capacity` keys the oldest is forgotten. Time is an argument.
 */
export class DedupWindow {
  private readonly first = new Map<string, number>();

  constructor(
    readonly capacity: number,
    readonly windowMs: number,
  ) {}

  /** True when the key is new or its window has passed (and it now opens a new one). */
  add(key: string, nowMs: number): boolean {
    const at = this.first.get(key);
    if (at !== undefined && nowMs - at < this.windowMs) return false;
    if (at !== undefined) this.first.delete(key);
    else if (this.first.size >= this.capacity) this.first.delete(this.first.keys().next().value as string);
    this.first.set(key, nowMs);
    return true;
  }

  get size(): number {
    return this.first.size;
  }
}
