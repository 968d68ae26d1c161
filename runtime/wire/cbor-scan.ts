// A structural pass over CBOR bytes that checks every length, count and nesting depth against the
// limits before cbor-x allocates anything. It also narrows CBOR to the subset Murmur uses: no tags,
// no indefinite lengths, no undefined or simple values, integers within ±(2^53-1).

import { err, ok, type Result } from '../lib/result.js';

export interface ScanLimits {
  readonly depthMax: number;
  readonly itemsMax: number;
  readonly collectionLengthMax: number;
  readonly textBytesMax: number;
}

const maxSafeHigh = 0x1fffff; // high 32 bits of Number.MAX_SAFE_INTEGER

/** The open collections' counts, reused by every scan (one at a time: the scan never yields), so a
 *  scan of every message allocates nothing. Grown if a caller's depthMax is ever larger. */
let stack = new Float64Array(32);

export function scanCbor(bytes: Uint8Array, lim: ScanLimits): Result<void> {
  const n = bytes.length;
  if (n === 0) return err('empty input: expected one CBOR item');
  let pos = 0;
  let items = 0;
  // remaining[i] = data items still expected in the open collection at depth i (i < depth)
  if (stack.length < lim.depthMax + 1) stack = new Float64Array(lim.depthMax + 1);
  const remaining = stack;
  remaining[0] = 1;
  let depth = 1;
  while (depth > 0) {
    const top = depth - 1;
    if (remaining[top] === 0) {
      depth--;
      continue;
    }
    remaining[top] = (remaining[top] as number) - 1;
    if (pos >= n) return err(`truncated CBOR: input ends at byte ${pos} inside a collection`);
    if (++items > lim.itemsMax) return err(`too many CBOR items (more than ${lim.itemsMax})`);
    const ib = bytes[pos] as number;
    const major = ib >> 5;
    const ai = ib & 0x1f;
    const at = pos;
    pos++;
    let arg: number;
    if (ai < 24) {
      arg = ai;
    } else if (ai === 24) {
      if (pos + 1 > n) return err(`truncated CBOR head at byte ${at}`);
      arg = bytes[pos] as number;
      pos += 1;
    } else if (ai === 25) {
      if (pos + 2 > n) return err(`truncated CBOR head at byte ${at}`);
      arg = ((bytes[pos] as number) << 8) | (bytes[pos + 1] as number);
      pos += 2;
    } else if (ai === 26) {
      if (pos + 4 > n) return err(`truncated CBOR head at byte ${at}`);
      arg = readU32(bytes, pos);
      pos += 4;
    } else if (ai === 27) {
      if (pos + 8 > n) return err(`truncated CBOR head at byte ${at}`);
      const hi = readU32(bytes, pos);
      const lo = readU32(bytes, pos + 4);
      pos += 8;
      if (major !== 7 && hi > maxSafeHigh) return err(`CBOR integer or length at byte ${at} exceeds 2^53-1`);
      arg = hi * 0x100000000 + lo;
    } else if (ai === 31) {
      return err(`indefinite-length CBOR item at byte ${at} is not allowed`);
    } else {
      return err(`reserved CBOR additional information ${ai} at byte ${at}`);
    }
    switch (major) {
      case 0:
      case 1:
        break;
      case 2:
      case 3:
        if (arg > n - pos) return err(`CBOR string at byte ${at} claims ${arg} bytes but only ${n - pos} remain`);
        if (major === 3 && arg > lim.textBytesMax) return err(`CBOR text at byte ${at} is longer than ${lim.textBytesMax} bytes`);
        pos += arg;
        break;
      case 4:
      case 5: {
        const count = major === 5 ? arg * 2 : arg;
        if (arg > lim.collectionLengthMax) return err(`CBOR ${major === 4 ? 'array' : 'map'} at byte ${at} has ${arg} entries (limit ${lim.collectionLengthMax})`);
        if (count > n - pos) return err(`CBOR ${major === 4 ? 'array' : 'map'} at byte ${at} claims ${arg} entries but only ${n - pos} bytes remain`);
        if (depth >= lim.depthMax) return err(`CBOR nesting deeper than ${lim.depthMax} at byte ${at}`);
        remaining[depth++] = count;
        break;
      }
      case 6:
        return err(`CBOR tag ${arg} at byte ${at} is not allowed`);
      case 7:
        if (ai === 20 || ai === 21 || ai === 22 || ai === 25 || ai === 26 || ai === 27) break;
        return err(`CBOR simple value ${ai < 24 ? ai : arg} at byte ${at} is not allowed (only false, true, null and floats)`);
      default:
        return err(`unknown CBOR major type at byte ${at}`);
    }
  }
  if (pos !== n) return err(`${n - pos} trailing bytes after the CBOR item`);
  return ok(undefined);
}

function readU32(b: Uint8Array, p: number): number {
  return (((b[p] as number) << 24) >>> 0) + ((b[p + 1] as number) << 16) + ((b[p + 2] as number) << 8) + (b[p + 3] as number);
}
