// Writes CBOR straight into one growing buffer, for the large values the node encodes often: WAL
// records (which carry whole blocks) and state snapshots (every live nonce). cbor-x would copy each
// block through its own buffers, and turns every integer past 32 bits into a BigInt first. The bytes
// are exactly what encodeCbor gives for the same value (shortest-form heads, as cbor-x writes them);
// test/wire/cbor-writer.test.ts holds the two side by side.

import { encodeCbor } from './cbor.js';

const u32Limit = 0x100000000;

export class CborWriter {
  private buf: Uint8Array;
  private pos: number;

  /** The slab the first buffer came from, while it is still the one written to (finish trims it). */
  private slabBuf: Buffer | null = null;

  /**
   * `reserve` bytes at the front (zeroed) are left for the caller (a record header), not part of the
   * CBOR. The buffer comes from `slabs` when given (see Slabs), else Buffer.allocUnsafe, Node's pool
   * for small sizes (a fresh ArrayBuffer per WAL record costs more than writing it); every byte
   * finish() returns is written or zeroed.
   */
  constructor(
    capacity: number,
    readonly reserve = 0,
    private readonly slabs: Slabs | null = null,
  ) {
    const size = Math.max(capacity, reserve + 16);
    this.buf = slabs === null ? Buffer.allocUnsafe(size) : (this.slabBuf = slabs.take(size));
    this.buf.fill(0, 0, reserve);
    this.pos = reserve;
  }

  private room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.pos + n, 2 * this.buf.length));
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
  }

  /** A head with the shortest argument (RFC 8949 §4.2.1); `value` a safe non-negative integer. */
  head(major: number, value: number): this {
    this.room(9);
    const b = this.buf;
    const m = major << 5;
    if (value < 24) b[this.pos++] = m | value;
    else if (value < 0x100) {
      b[this.pos++] = m | 24;
      b[this.pos++] = value;
    } else if (value < 0x10000) {
      b[this.pos++] = m | 25;
      b[this.pos++] = value >>> 8;
      b[this.pos++] = value & 0xff;
    } else if (value < u32Limit) {
      b[this.pos++] = m | 26;
      this.u32(value);
    } else {
      b[this.pos++] = m | 27;
      this.u32(Math.floor(value / u32Limit));
      this.u32(value >>> 0);
    }
    return this;
  }

  private u32(v: number): void {
    const b = this.buf;
    b[this.pos++] = v >>> 24;
    b[this.pos++] = (v >>> 16) & 0xff;
    b[this.pos++] = (v >>> 8) & 0xff;
    b[this.pos++] = v & 0xff;
  }

  array(length: number): this {
    return this.head(4, length);
  }

  /** A safe integer, either sign. */
  int(v: number): this {
    return v >= 0 ? this.head(0, v) : this.head(1, -1 - v);
  }

  bytes(b: Uint8Array): this {
    this.head(2, b.length);
    return this.raw(b);
  }

  /** ASCII is written here; anything else goes through encodeCbor, so the bytes stay cbor-x's. */
  text(s: string): this {
    for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return this.raw(encodeCbor(s));
    this.head(3, s.length);
    this.room(s.length);
    const b = this.buf;
    for (let i = 0; i < s.length; i++) b[this.pos++] = s.charCodeAt(i);
    return this;
  }

  null(): this {
    this.room(1);
    this.buf[this.pos++] = 0xf6;
    return this;
  }

  /** Bytes that are already one or more encoded CBOR items. */
  raw(encoded: Uint8Array): this {
    this.room(encoded.length);
    this.buf.set(encoded, this.pos);
    this.pos += encoded.length;
    return this;
  }

  /** Everything written, the reserved front included; the writer must not be used afterwards. */
  finish(): Uint8Array {
    if (this.slabBuf === this.buf) this.slabs?.trim(this.slabBuf, this.pos);
    return this.buf.subarray(0, this.pos);
  }
}

/**
 * Buffers for one kind of value, carved from slabs of 64 KiB of their own and trimmed to what was
 * written: WAL records and block proofs of 2-4 KB each took most of an 8 KiB Node pool apiece, so a
 * new pool (an ArrayBuffer, which the collector tracks) came every record or two, 3-4% of the
 * 7-validator simulator's CPU in new pools alone (2026-12-06 profiles). A slab is freed when nothing
 * carved from it is held, so one kind per slab keeps lifetimes alike (a WAL record is dropped once
 * written, a proof is kept for the chain's window). Values past an eighth of a slab get their own.
 */
export class Slabs {
  private slab: Buffer | null = null;
  private used = 0;

  constructor(private readonly slabBytes = 65_536) {}

  /** `n` uninitialised bytes. */
  take(n: number): Buffer {
    if (n > this.slabBytes >>> 3) return Buffer.allocUnsafeSlow(n);
    if (this.slab === null || this.used + n > this.slab.length) {
      this.slab = Buffer.allocUnsafeSlow(this.slabBytes);
      this.used = 0;
    }
    this.used += n;
    return this.slab.subarray(this.used - n, this.used);
  }

  /** Gives back what follows the first `keep` bytes of `b`, when `b` is the last buffer taken. */
  trim(b: Buffer, keep: number): void {
    if (this.slab !== null && b.buffer === this.slab.buffer && b.byteOffset + b.length === this.used) this.used -= b.length - keep;
  }
}
