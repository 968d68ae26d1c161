// Prevote and precommit bodies. Their encoding is canonical and written by hand, byte for byte, so
// that anyone can rebuild the signed bytes of a precommit from a commit certificate (docs/wire.md).

import { hashBytes } from '../crypto/sodium.js';
import { concatBytes } from '../lib/bytes.js';
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
  const hash = v.blockHash === null ? Uint8Array.of(0xf6) : concatBytes(cborUintHead(2, v.blockHash.length), v.blockHash);
  return concatBytes(Uint8Array.of(0x83), cborUintHead(0, v.height), cborUintHead(0, v.round), hash);
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
  if (body[0] !== 0x83) return null;
  const h = cborHeadAt(body, 1);
  return h !== null && h.major === 0 ? h.value : null;
}

export function parseVoteBody(v: unknown): VoteBody {
  const a = array(v, 'vote', 3, 3);
  return {
    height: uint(a[0], 'vote.height'),
    round: int(a[1], 'vote.round', 0, 0xffffffff),
    blockHash: a[2] === null ? null : bytes(a[2], 'vote.blockHash', hashBytes),
  };
}
