// Cuts oversized PUBLISH packets out of the bytes a broker sends, before mqtt.js parses them.
//
// A PUBLISH over the bound cannot be a Murmur frame (limits.brokerPacketBytesMax), so it is junk: closing
// the connection over it, as the client once did, let one retained message halt a fleet, since every
// reconnect subscribed again and got it again (a 1.2 MB retained message on node/x/state, which every
// device's node/+/state matches, held all four of a fleet off the broker until it was deleted). So such
// a PUBLISH is skipped: its bytes never reach the parser. A QoS 1 one must still be acknowledged, and in
// the order the PUBLISHes came (MQTT 3.1.1 §4.6.0-2): it is replaced in the stream by the same PUBLISH
// with no payload (its flags, topic and packet id), which mqtt.js acknowledges in turn like any other, and
// which the link knows by its packet id (reported here) and drops. What cannot
// be skipped safely still ends the connection: an oversized packet of another type, a QoS 2 PUBLISH (its
// PUBREC/PUBREL exchange is mqtt.js's) and a malformed remaining length (the stream cannot be followed).

import { RemainingLengthReader } from './packet-size-guard.js';

/** A PUBLISH cut out of the stream: where it was going and how big it was. */
export interface SkippedPublish {
  readonly bytes: number;
  /** Its topic, at most topicCharsMax characters of it. */
  readonly topic: string;
  readonly retained: boolean;
  readonly qos: 0 | 1;
  /** The id to acknowledge (QoS 1), else null. */
  readonly packetId: number | null;
  /** What took its place in the stream (QoS 1): the same PUBLISH with no payload, for mqtt.js to
   *  acknowledge in order; null at QoS 0 (nothing to acknowledge). */
  readonly stub: Buffer | null;
}

export interface FilterResult {
  /** The bytes to hand to the parser: the chunk itself when nothing in it was held back or cut. */
  readonly out: Buffer;
  readonly skipped: readonly SkippedPublish[];
  /** Why the connection must end (nothing after it can be followed), or null; `out` then holds the
   *  bytes before the packet that ends it. */
  readonly fatal: string | null;
}

const topicCharsMax = 200;
const publishType = 3;

export class OversizedPublishFilter {
  private stage: 'type' | 'length' | 'pass' | 'skip-head' | 'skip' = 'type';
  /** The first byte of the fixed header being read. */
  private first = 0;
  private readonly lengthReader = new RemainingLengthReader();
  private length = 0;
  private remaining = 0;
  /** Fixed-header bytes held back from an earlier chunk (a header split across chunks). */
  private held: number[] = [];
  /** An oversized PUBLISH's variable header, gathered while it is skipped: topic length, topic, packet id. */
  private head: number[] = [];
  private headNeed = 0;
  private skipping: { bytes: number; retained: boolean; qos: 0 | 1 } | null = null;

  constructor(private readonly maxBytes: number) {}

  feed(chunk: Buffer): FilterResult {
    const parts: Buffer[] = [];
    const skipped: SkippedPublish[] = [];
    let changed = this.held.length > 0; // true once `out` can no longer be the chunk itself
    let passFrom = 0; // start of the run of this chunk's bytes being passed on
    let headerAt = this.stage === 'length' ? -1 : 0; // where the fixed header being read began in this chunk (-1: in an earlier one)
    const cut = (from: number, to: number): void => {
      if (from > passFrom) parts.push(chunk.subarray(passFrom, from));
      passFrom = to;
      changed = true;
    };
    if (this.held.length > 0) {
      parts.push(Buffer.from(this.held));
      this.held = [];
    }
    let i = 0;
    while (i < chunk.length) {
      if (this.stage === 'pass') {
        const n = Math.min(this.remaining, chunk.length - i);
        i += n;
        this.remaining -= n;
        if (this.remaining === 0) this.stage = 'type';
        continue;
      }
      if (this.stage === 'skip-head' || this.stage === 'skip') {
        const n = Math.min(this.remaining, chunk.length - i, this.stage === 'skip-head' ? this.headNeed - this.head.length : Infinity);
        if (this.stage === 'skip-head') {
          for (let k = 0; k < n; k++) this.head.push(chunk[i + k] as number);
          if (this.head.length === 2) this.headNeed = 2 + (((this.head[0] as number) << 8) | (this.head[1] as number)) + (this.skipping?.qos === 1 ? 2 : 0);
          if (this.head.length >= this.headNeed) this.stage = 'skip';
        }
        cut(i, i + n);
        i += n;
        this.remaining -= n;
        if (this.remaining === 0) {
          const p = this.skippedPublish();
          skipped.push(p);
          if (p.stub !== null) parts.push(p.stub);
          this.stage = 'type';
        }
        continue;
      }
      const b = chunk[i++] as number;
      if (this.stage === 'type') {
        headerAt = i - 1;
        this.first = b;
        this.stage = 'length';
        this.lengthReader.reset();
        continue;
      }
      const length = this.lengthReader.push(b);
      if (Number.isNaN(length)) return this.end(parts, chunk, passFrom, headerAt, skipped, 'a packet with a malformed length (more than 4 length bytes)');
      if (length < 0) continue;
      this.length = length;
      if (this.length <= this.maxBytes) {
        this.remaining = this.length;
        this.stage = this.length === 0 ? 'type' : 'pass';
        continue;
      }
      const type = this.first >> 4;
      const qos = (this.first >> 1) & 3;
      if (type !== publishType || qos > 1) {
        return this.end(parts, chunk, passFrom, headerAt, skipped, `a ${type === publishType ? 'QoS 2 PUBLISH' : `packet of type ${type}`} of ${this.length} bytes, more than ${this.maxBytes}`);
      }
      // Skipped from its first byte: the part of its header held from an earlier chunk goes too.
      if (headerAt < 0) parts.pop();
      cut(Math.max(headerAt, 0), i);
      this.skipping = { bytes: this.length, retained: (this.first & 1) === 1, qos: qos as 0 | 1 };
      this.head = [];
      this.headNeed = 2;
      this.remaining = this.length;
      this.stage = 'skip-head';
    }
    // A fixed header not complete at the chunk's end is held back until the rest of it comes.
    if (this.stage === 'length') {
      const from = Math.max(headerAt, 0);
      this.held = headerAt < 0 ? [...(parts.pop() ?? []), ...chunk.subarray(0, i)] : [...chunk.subarray(from, i)];
      if (headerAt < 0) passFrom = i;
      else cut(from, i);
      changed = true;
    }
    if (!changed) return { out: chunk, skipped, fatal: null };
    if (passFrom < chunk.length) parts.push(chunk.subarray(passFrom));
    return { out: parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts), skipped, fatal: null };
  }

  private skippedPublish(): SkippedPublish {
    const s = this.skipping as NonNullable<typeof this.skipping>;
    const h = this.head;
    const topicLength = h.length >= 2 ? ((h[0] as number) << 8) | (h[1] as number) : 0;
    const topic = Buffer.from(h.slice(2, 2 + topicLength)).toString('utf8').slice(0, topicCharsMax);
    const idAt = 2 + topicLength;
    const packetId = s.qos === 1 && h.length >= idAt + 2 ? ((h[idAt] as number) << 8) | (h[idAt + 1] as number) : null;
    // The variable header as it came (topic length, topic, packet id): under 128 ** 3 bytes, so its
    // remaining length takes at most three bytes.
    const stub = packetId === null ? null : Buffer.concat([Buffer.from([(publishType << 4) | (s.qos << 1) | (s.retained ? 1 : 0)]), remainingLength(idAt + 2), Buffer.from(h.slice(0, idAt + 2))]);
    this.skipping = null;
    this.head = [];
    return { bytes: s.bytes, topic, retained: s.retained, qos: s.qos, packetId, stub };
  }

  /** The stream cannot be followed past the packet whose header began at `headerAt` (-1: in an earlier
   *  chunk, its first bytes the held part last in `parts`): the bytes before it, and why. */
  private end(parts: Buffer[], chunk: Buffer, passFrom: number, headerAt: number, skipped: SkippedPublish[], why: string): FilterResult {
    if (headerAt < 0) parts.pop();
    else if (headerAt > passFrom) parts.push(chunk.subarray(passFrom, headerAt));
    return { out: Buffer.concat(parts), skipped, fatal: why };
  }
}

/** MQTT's remaining-length encoding: 7 bits a byte, low first, the top bit set on all but the last. */
export function remainingLength(n: number): Buffer {
  const out: number[] = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return Buffer.from(out);
}
