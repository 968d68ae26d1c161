// How much of a radio's airtime its relays of one origin's frames may take: limits.radioRelayOriginShare
// of a second's airtime per origin, counted in whole seconds. One member's radio gone wild (or a
// transmitter sending frames under a member's tag) then takes at most that share of each relaying
// radio, not all of it; a member's ordinary traffic, at most its own radio's rate spread over several
// relayers, stays under it.

import { limits } from '../lib/limits.js';

export class RelayAllowance {
  /** Per origin tag: the second counted and the bytes relayed in it. */
  private readonly used = new Map<number, { second: number; bytes: number }>();
  private readonly bytesPerSecond: number;

  constructor(airBytesPerSec: number, share: number = limits.radioRelayOriginShare) {
    this.bytesPerSecond = airBytesPerSec * share;
  }

  /** True, and counted, when relaying `bytes` more of `origin`'s frames now stays within its share. */
  take(origin: number, bytes: number, nowMs: number): boolean {
    const second = Math.floor(nowMs / 1000);
    let u = this.used.get(origin);
    if (!u || u.second !== second) {
      // Bounded: only members get here when the link knows its peers; forgetting all only resets counts.
      if (!u && this.used.size >= limits.radioRelayOriginsMax) this.used.clear();
      u = { second, bytes: 0 };
      this.used.set(origin, u);
    }
    if (u.bytes + bytes > this.bytesPerSecond) return false;
    u.bytes += bytes;
    return true;
  }
}
