// Reads MQTT fixed headers off a raw byte stream, so a packet larger than Murmur ever sends is refused
// from its header, before a parser buffers its body: the embedded broker guards each client's socket
// with it, and the MQTT client its socket to the broker (mqtt-connect.ts).

/** Reads MQTT fixed headers off the raw byte stream and reports a packet larger than the limit. */
export class PacketSizeGuard {
  private stage: 'type' | 'length' | 'body' = 'type';
  private length = 0;
  private multiplier = 1;
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
        this.length = 0;
        this.multiplier = 1;
        continue;
      }
      this.length += (b & 0x7f) * this.multiplier;
      this.multiplier *= 128;
      if (this.multiplier > 128 ** 4) return Number.POSITIVE_INFINITY; // malformed: more than 4 length bytes
      if ((b & 0x80) === 0) {
        if (this.length > this.maxBytes) return this.length;
        this.remaining = this.length;
        this.stage = this.length === 0 ? 'type' : 'body';
      }
    }
    return undefined;
  }
}
