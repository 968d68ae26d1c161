// A signature verifier for the simulated world that remembers its answers. In a fleet every broadcast
// reaches every node, and each node verifies the same (signature, message, key): on real devices those
// are separate CPUs, in one simulator process they are the same work done n times. Remembering the
// answer is exact (verification is a pure function of its inputs), so seeds replay identically; it is
// what lets 1000 devices run faster than real time on one machine. Bounded; cleared when full.

import { hash, type Verifier } from '../../runtime/crypto/sodium.js';
import { concatBytes, toHex } from '../../runtime/lib/bytes.js';
import { limits } from '../../runtime/lib/limits.js';

export function memoVerifier(inner: Verifier, entriesMax: number = limits.simVerifyCacheMax): Verifier & { hits: number; misses: number } {
  const seen = new Map<string, boolean>();
  const v = {
    backend: inner.backend,
    hits: 0,
    misses: 0,
    verify(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
      // The key binds all three inputs; BLAKE2b of the message costs a small fraction of a verification.
      const key = toHex(concatBytes(signature, publicKey, hash(message)));
      const known = seen.get(key);
      if (known !== undefined) {
        v.hits++;
        return known;
      }
      v.misses++;
      const ok = inner.verify(signature, message, publicKey);
      if (seen.size >= entriesMax) seen.clear(); // overflow policy: start again (only costs time)
      seen.set(key, ok);
      return ok;
    },
  };
  return v;
}
