// How much of a radio's airtime its relays of one origin's frames may take: limits.radioRelayOriginShare
// of a second's airtime per origin, counted in whole seconds. At 1 (one radio's full rate) a member's
// own radio can never exceed it, while frames under its tag from faster or several transmitters are
// cut to that rate. Half the airtime was tried first: in fleet-sim's lossy-radio line, where the middle
// devices carry the ends' proposals, it refused and cut whole proposals (seeds 1, 2, 3, 31: 40, 25, 26,
// 27 heights against 44, 38, 31, 43 at 1). The stranger babbling at a radio's rate that the review found
// is stopped by the member check (SerialLink.mayRelay), not by this bound.

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
