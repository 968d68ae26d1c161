// Reads MQTT fixed headers off a raw byte stream, so a packet larger than Murmur ever sends is refused
// from its header, before a parser buffers its body: the embedded broker guards each client's socket
// with it, and the MQTT client filters its socket to the broker the same way (oversized-publish-filter.ts).

/**
 * MQTT's remaining length, read a byte at a time as it comes (7 bits a byte, low first, the top bit set
 * on all but the last; at most four bytes). Shared by the broker's guard and the client's filter.
 */
export class RemainingLengthReader {
  private value = 0;
  private multiplier = 1;

  /** Starts a new length. */
  reset(): void {
    this.value = 0;
    this.multiplier = 1;
  }

  /** The length once `b` was its last byte; -1 while more are to come; NaN for a fourth byte that says
   *  more follow (malformed: no packet has five). */
  push(b: number): number {
    this.value += (b & 0x7f) * this.multiplier;
    this.multiplier *= 128;
    if ((b & 0x80) === 0) return this.value;
    return this.multiplier >= 128 ** 4 ? Number.NaN : -1;
  }
}

/** Reads MQTT fixed headers off the raw byte stream and reports a packet larger than the limit. */
export class PacketSizeGuard {
  private stage: 'type' | 'length' | 'body' = 'type';
  private readonly length = new RemainingLengthReader();
  private remaining = 0;

  constructor(private readonly maxBytes: number) {}

  /** Returns the size of an oversized packet, or undefined while every packet is within bounds. */
  feed(chunk: Buffer): number | undefined {
    let i = 0;
    while (i < chunk.length) {
      if (this.stage === 'body') {
        const skip = Math.min(this.remaining, chunk.length - i);
        i += skip;
        this.remaining -= skip;
        if (this.remaining === 0) this.stage = 'type';
        continue;
      }
      const b = chunk[i++] as number;
      if (this.stage === 'type') {
        this.stage = 'length';
        this.length.reset();
        continue;
      }
      const length = this.length.push(b);
      if (Number.isNaN(length)) return Number.POSITIVE_INFINITY; // malformed: more than 4 length bytes
      if (length < 0) continue;
      if (length > this.maxBytes) return length;
      this.remaining = length;
      this.stage = length === 0 ? 'type' : 'body';
    }
    return undefined;
  }
}
