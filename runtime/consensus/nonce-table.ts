// The committed nonces of operator commands, until they expire: what stops a replay. Looked up by key
// at every command; dropped in expiry order as blocks go by (ExpiryHeap); written into every state
// checkpoint sorted by key (consensus/snapshot.ts), so every node commits to the same bytes.
//
// A checkpoint comes every 32 heights, and the table holds every command of its expiry window (ten
// minutes in the simulator's workload): sorting every key at each checkpoint was most of the
// checkpoint's time (8% of the 7-validator simulator's at 3,000 nonces) and grows as n log n. So the
// table keeps its keys in the order of the last checkpoint and merges in the few hundred added since,
// sorted. Only the order is kept (the keys are the map's own strings: a pointer each); keeping each
// entry's encoding too would save encoding them again, at some 50 bytes per nonce per node, which
// over a ten-minute window of a 1000-device simulated fleet is hundreds of MB.

import { assert } from '../lib/assert.js';
import { limits } from '../lib/limits.js';
import { ExpiryHeap } from './expiry-heap.js';

type Entry = readonly [string, number];

export class NonceTable {
  private readonly live = new Map<string, number>();
  private readonly expiries = new ExpiryHeap();
  /** The live keys at the last export, sorted; some may have been forgotten since. */
  private sorted: string[] = [];
  /** Keys set since the last export (a key set, forgotten and set again is here twice). */
  private added: string[] = [];

  get size(): number {
    return this.live.size;
  }

  has(key: string): boolean {
    return this.live.has(key);
  }

  add(key: string, expiresAt: number): void {
    assert(this.live.size < limits.seenNoncesMax, 'seen-nonce table is full');
    this.live.set(key, expiresAt);
    this.expiries.push(expiresAt, key);
    this.added.push(key);
    // Bounded without an export (a table no checkpoint reads): keys no longer live are dropped.
    if (this.added.length > 2 * this.live.size + 1_024) this.added = this.added.filter((k) => this.live.has(k));
  }

  /** Forgets every nonce that expired before `ms`. */
  forgetBefore(ms: number): void {
    for (let e = this.expiries.peek(); e !== undefined && e.expiresAt < ms; e = this.expiries.peek()) {
      this.expiries.pop();
      // A key set again later has a later expiry of its own in the heap: only the current one counts.
      if (this.live.get(e.key) === e.expiresAt) this.live.delete(e.key);
    }
  }

  /** Replaces the table with a snapshot's entries. */
  load(entries: readonly Entry[]): void {
    this.live.clear();
    this.expiries.clear();
    this.sorted = [];
    this.added = [];
    for (const [k, v] of entries) this.add(k, v);
  }

  /** The live entries, sorted by key (UTF-16 code units, as `<` compares strings). */
  export(): Entry[] {
    // Array.prototype.sort without a comparator orders strings by UTF-16 code units, as `<` does.
    const fresh = this.added.filter((k) => this.live.has(k)).sort();
    const old = this.sorted;
    const keys: string[] = [];
    const take = (k: string): void => {
      // Once each: a key forgotten and set again since is in `old` and in `fresh` (or twice in `fresh`).
      if (keys.length === 0 || keys[keys.length - 1] !== k) keys.push(k);
    };
    let i = 0;
    let j = 0;
    while (i < old.length || j < fresh.length) {
      const o = old[i];
      const f = fresh[j];
      if (o !== undefined && (f === undefined || o <= f)) {
        if (this.live.has(o)) take(o);
        i++;
      } else {
        take(f as string);
        j++;
      }
    }
    this.sorted = keys;
    this.added = [];
    return keys.map((k) => [k, this.live.get(k) as number] as const);
  }
}
