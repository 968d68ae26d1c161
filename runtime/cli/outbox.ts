// An operator's signed commands not yet seen committed, to publish again. MQTT QoS 1 promises delivery
// to the broker, not to the devices: a command published while the broker is down, or in the seconds
// after it came back and before the devices subscribed again, reaches no one. Publishing the very same
// signed bytes again is safe (a device takes a nonce once: a copy is refused as a replay, never run
// twice), so an operator that waits for proof publishes again until it has it or the command expires.

export interface OutboxEntry {
  readonly ref: string;
  readonly frame: Uint8Array;
  readonly expiresAt: number;
  /** When it may next go out again. */
  dueAt: number;
  /** The wait before the next copy after that: doubles each time, up to the outbox's cap. */
  backoffMs: number;
}

export interface OutboxOptions {
  /** The first copy goes out this long after the original, with no proof seen. */
  readonly firstMs: number;
  /** The longest wait between copies. */
  readonly maxMs: number;
  /** Entries kept at most: past it the oldest is given up (its command times out as before). */
  readonly entriesMax: number;
}

export const defaultOutbox: OutboxOptions = { firstMs: 3_000, maxMs: 10_000, entriesMax: 4_096 };

export class Outbox {
  private readonly entries = new Map<string, OutboxEntry>();

  constructor(private readonly o: OutboxOptions = defaultOutbox) {}

  get size(): number {
    return this.entries.size;
  }

  /** A command just published at `now`; `expiresAt` is its signed expiry (the same clock). */
  add(ref: string, frame: Uint8Array, expiresAt: number, now: number): void {
    if (this.entries.size >= this.o.entriesMax) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    this.entries.set(ref, { ref, frame, expiresAt, dueAt: now + this.o.firstMs, backoffMs: this.o.firstMs });
  }

  /** Proof seen (committed, or refused for good): nothing more to send. */
  settle(ref: string): void {
    this.entries.delete(ref);
  }

  /**
   * The broker is reachable again at `now` (a reconnect, or a broker back from an outage): every
   * command waiting goes out again `firstMs` from now at the latest (time for the devices to
   * reconnect and subscribe again), not after the long wait its backoff reached during the outage.
   */
  reconnected(now: number): void {
    for (const e of this.entries.values()) {
      e.backoffMs = this.o.firstMs;
      e.dueAt = Math.min(e.dueAt, now + this.o.firstMs);
    }
  }

  /**
   * The commands to publish again at `now`, at most `max` of them, oldest first; each is scheduled for
   * its next copy. Expired ones are dropped: no device would take them.
   */
  due(now: number, max = 256): OutboxEntry[] {
    const out: OutboxEntry[] = [];
    for (const e of this.entries.values()) {
      if (e.expiresAt <= now) {
        this.entries.delete(e.ref);
        continue;
      }
      if (e.dueAt > now || out.length >= max) continue;
      e.backoffMs = Math.min(e.backoffMs * 2, this.o.maxMs);
      e.dueAt = now + e.backoffMs;
      out.push(e);
    }
    return out;
  }
}
