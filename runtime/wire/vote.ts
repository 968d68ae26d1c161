// Prevote and precommit bodies. Their encoding is canonical and written by hand, byte for byte, so
// that anyone can rebuild the signed bytes of a precommit from a commit certificate (docs/wire.md).

import { hashBytes } from '../crypto/sodium.js';
import { hashHex } from '../lib/bytes.js';
import { bytes, int, uint, array } from './fields.js';

export interface VoteBody {
  readonly height: number;
  readonly round: number;
  /** The BLAKE2b-256 hash of the block voted for, or null for a nil vote. */
  readonly blockHash: Uint8Array | null;
}

/** The CBOR head for an unsigned integer with the shortest argument (RFC 8949 §4.2.1). */
export function cborUintHead(major: number, value: number): Uint8Array {
  const m = major << 5;
  if (value < 24) return Uint8Array.of(m | value);
  if (value < 0x100) return Uint8Array.of(m | 24, value);
  if (value < 0x10000) return Uint8Array.of(m | 25, value >> 8, value & 0xff);
  if (value < 0x100000000) return Uint8Array.of(m | 26, value >>> 24, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff);
  const hi = Math.floor(value / 0x100000000);
  const lo = value >>> 0;
  return Uint8Array.of(m | 27, hi >>> 24, (hi >>> 16) & 0xff, (hi >>> 8) & 0xff, hi & 0xff, lo >>> 24, (lo >>> 16) & 0xff, (lo >>> 8) & 0xff, lo & 0xff);
}

/** [height, round, blockHash | null] as a definite-length CBOR array with shortest integer heads. */
export function encodeVoteBody(v: VoteBody): Uint8Array {
  const hash = v.blockHash;
  // Written into one buffer (every vote signed, and every precommit rebuilt from a certificate, comes
  // through here): the same bytes as the heads cborUintHead gives, concatenated.
  const out = new Uint8Array(1 + uintHeadBytes(v.height) + uintHeadBytes(v.round) + (hash === null ? 1 : uintHeadBytes(hash.length) + hash.length));
  out[0] = 0x83;
  let p = writeUintHead(out, 1, 0, v.height);
  p = writeUintHead(out, p, 0, v.round);
  if (hash === null) out[p] = 0xf6;
  else out.set(hash, writeUintHead(out, p, 2, hash.length));
  return out;
}

/** The length of cborUintHead(major, value). */
function uintHeadBytes(value: number): number {
  return value < 24 ? 1 : value < 0x100 ? 2 : value < 0x10000 ? 3 : value < 0x100000000 ? 5 : 9;
}

/** Writes cborUintHead(major, value) into `out` at `at`; returns where it ends. */
function writeUintHead(out: Uint8Array, at: number, major: number, value: number): number {
  const m = major << 5;
  if (value < 24) {
    out[at] = m | value;
    return at + 1;
  }
  if (value < 0x100) {
    out[at] = m | 24;
    out[at + 1] = value;
    return at + 2;
  }
  const h = cborUintHead(major, value);
  out.set(h, at);
  return at + h.length;
}

/** One CBOR head at `at`: its major type, its argument and where the item's content starts; null when
 *  the bytes end first or the head is not a definite one. Reads a field without decoding the rest. */
export function cborHeadAt(b: Uint8Array, at: number): { readonly major: number; readonly value: number; readonly next: number } | null {
  if (at >= b.length) return null;
  const head = b[at] as number;
  const info = head & 0x1f;
  if (info < 24) return { major: head >> 5, value: info, next: at + 1 };
  const n = info === 24 ? 1 : info === 25 ? 2 : info === 26 ? 4 : info === 27 ? 8 : 0;
  if (n === 0 || b.length < at + 1 + n) return null;
  let v = 0;
  for (let i = 0; i < n; i++) v = v * 256 + (b[at + 1 + i] as number);
  return Number.isSafeInteger(v) ? { major: head >> 5, value: v, next: at + 1 + n } : null;
}

/** The height of a vote body, read from its first bytes without decoding the rest; null when they are not
 *  what encodeVoteBody writes (the full parse then says what is wrong). */
export function voteHeightOf(body: Uint8Array): number | null {
  return votePositionOf(body)?.height ?? null;
}

/** A consensus message's height and round, read before its signature is checked (unverified). */
export interface Position {
  readonly height: number;
  readonly round: number;
}

/** A vote body's height and round and where its value starts, or null (votePositionOf). */
function voteHead(body: Uint8Array): { readonly height: number; readonly round: number; readonly next: number } | null {
  if (body[0] !== 0x83) return null;
  const h = cborHeadAt(body, 1);
  if (h === null || h.major !== 0) return null;
  const r = cborHeadAt(body, h.next);
  return r !== null && r.major === 0 ? { height: h.value, round: r.value, next: r.next } : null;
}

/** The height and round of a vote body, read from its first bytes without decoding the rest; null when
 *  they are not what encodeVoteBody writes. */
export function votePositionOf(body: Uint8Array): Position | null {
  const p = voteHead(body);
  return p === null ? null : { height: p.height, round: p.round };
}

/** A vote's position and value ('nil', or its block hash in hex, as VerifiedVote.value) read from its
 *  body unverified; null when the body is not exactly what encodeVoteBody writes. */
export function votePeekOf(body: Uint8Array): (Position & { readonly value: string }) | null {
  const p = voteHead(body);
  if (p === null) return null;
  if (body[p.next] === 0xf6 && body.length === p.next + 1) return { height: p.height, round: p.round, value: 'nil' };
  if (body[p.next] !== 0x58 || body[p.next + 1] !== hashBytes || body.length !== p.next + 2 + hashBytes) return null;
  return { height: p.height, round: p.round, value: hashHex(body.subarray(p.next + 2)) };
}

export function parseVoteBody(v: unknown): VoteBody {
  const a = array(v, 'vote', 3, 3);
  return {
    height: uint(a[0], 'vote.height'),
    round: int(a[1], 'vote.round', 0, 0xffffffff),
    blockHash: a[2] === null ? null : bytes(a[2], 'vote.blockHash', hashBytes),
  };
}
