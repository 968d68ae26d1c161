// A hash function for the simulated world that remembers its answers, as memo-verifier.ts does for
// signature checks. Every node of a fleet hashes the same bytes: each follower the block it takes, each
// node its state's chunks at a checkpoint and its application's digest chain. On devices those are
// separate CPUs; in one simulator process they are the same work done once per node. BLAKE2b is a pure
// function of its input, so remembering is exact and seeds replay identically.
//
// Looked up by the input's length and four bytes from its middle (inside a block that is its parent
// hash or its txs' signatures, pseudo-random), and answered only when the remembered input equals the
// one asked about byte for byte: a colliding lookup hashes for real and takes the slot. Digests are
// shared between the nodes that ask, so callers must not write into them (none does: a digest is an
// id, compared and sent, never edited). Bounded in entries and bytes; cleared when full.

import { limits } from '../../runtime/lib/limits.js';

export type Hash = (bytes: Uint8Array) => Uint8Array;

interface Entry {
  readonly input: Buffer;
  readonly digest: Uint8Array;
}

/** Length (low 16 bits) and the four bytes at the middle, as a number below 2^48. */
function keyOf(b: Uint8Array): number {
  const mid = b.length >>> 1;
  const word = b.length >= 4 ? (((b[mid - 2] as number) << 24) | ((b[mid - 1] as number) << 16) | ((b[mid] as number) << 8) | (b[mid + 1] as number)) >>> 0 : 0;
  return word * 0x1_0000 + (b.length & 0xffff);
}

export function memoHash(inner: Hash, entriesMax: number = limits.simHashCacheMax, bytesMax: number = limits.simHashCacheBytesMax): Hash & { hits: number; misses: number } {
  const seen = new Map<number, Entry>();
  let bytes = 0;
  const h = Object.assign(
    (input: Uint8Array): Uint8Array => {
      const key = keyOf(input);
      const e = seen.get(key);
      if (e !== undefined && e.input.length === input.length && e.input.compare(input) === 0) {
        h.hits++;
        return e.digest;
      }
      h.misses++;
      const digest = inner(input);
      if (seen.size >= entriesMax || bytes + input.length > bytesMax) {
        seen.clear(); // overflow policy: start again (only costs time)
        bytes = 0;
      }
      // A copy: callers hash views of buffers they reuse (sim-app.ts's chain input). The slot's entry is
      // read again: the clear above may have emptied it.
      bytes += input.length - (seen.get(key)?.input.length ?? 0);
      seen.set(key, { input: Buffer.from(input), digest });
      return digest;
    },
    { hits: 0, misses: 0 },
  );
  return h;
}
