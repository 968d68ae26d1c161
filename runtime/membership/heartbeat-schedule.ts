// When to send heartbeats on each link, and what they say. Pure: time is an input, so the device
// shell calls `due(now)` from a timer and fleet-sim calls it on virtual time.

import { assert } from '../lib/assert.js';
import type { Health, HeartbeatBody, Position } from '../wire/heartbeat.js';

/** What the node reports about itself at the moment a heartbeat is made. */
export interface LocalState {
  readonly height: number;
  readonly round: number;
  readonly health: Health;
  readonly position: Position | null;
  readonly batteryPct: number | null;
}

export class HeartbeatSchedule {
  private readonly nextMs = new Map<string, number>();
  private seq = 0;

  /**
   * `intervalsMs` maps each link name to its heartbeat interval (IP 1 s, SiK 2 s, LoRa tens of
   * seconds: edge-anchors.md §4). `session` grows on every restart (persisted by the caller).
   */
  constructor(
    readonly node: string,
    readonly session: number,
    private readonly intervalsMs: Readonly<Record<string, number>>,
    startMs: number,
  ) {
    for (const [link, ms] of Object.entries(intervalsMs)) {
      assert(Number.isFinite(ms) && ms > 0, `heartbeat interval for link "${link}" must be positive, is ${ms}`);
      this.nextMs.set(link, startMs);
    }
  }

  /**
   * Links whose heartbeat is due at `nowMs`; each is rescheduled one interval later (no catch-up
   * burst). A slower link due within half the shortest interval goes along now, so its beat is a copy
   * of the fast link's (same seq): receivers then see the radio carry every k-th beat, not beats of
   * its own in between that would look like jitter on the fast link.
   */
  due(nowMs: number): string[] {
    const links = [...this.nextMs.keys()].sort();
    if (!links.some((l) => (this.nextMs.get(l) as number) <= nowMs)) return [];
    const alignMs = Math.min(...Object.values(this.intervalsMs)) / 2;
    const out: string[] = [];
    for (const link of links) {
      const at = this.nextMs.get(link) as number;
      if (at > nowMs + alignMs) continue;
      const interval = this.intervalsMs[link] as number;
      // After a stall, skip the missed beats instead of sending them all at once.
      this.nextMs.set(link, Math.max(at + interval, nowMs + interval / 2));
      out.push(link);
    }
    return out;
  }

  /** The earliest time any link is due: when the shell should call `due` again. */
  nextDueMs(): number {
    let min = Number.POSITIVE_INFINITY;
    for (const at of this.nextMs.values()) min = Math.min(min, at);
    return min;
  }

  /** A heartbeat body with the next sequence number. One body may go out on several links. */
  makeBody(state: LocalState): HeartbeatBody {
    return { node: this.node, seq: this.seq++, session: this.session, ...state };
  }
}
