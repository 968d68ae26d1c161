// A signature verifier for the simulated world that remembers its answers. In a fleet every broadcast
// reaches every node, and each node verifies the same (signature, message, key): on real devices those
// are separate CPUs, in one simulator process they are the same work done n times. Remembering the
// answer is exact (verification is a pure function of its inputs), so seeds replay identically; it is
// what lets large fleets run at all on one machine. Bounded; cleared when full.
//
// Looked up by the signature's first 6 bytes (Ed25519's R, pseudo-random per message) as a number, and
// answered only when the entry's signature, key and message all equal the ones asked about, byte for
// byte: a colliding or forged triple is verified for real. No hashing, no string keys: a lookup costs
// a few comparisons of bytes already in memory.

import type { Verifier } from '../../runtime/crypto/sodium.js';
import { limits } from '../../runtime/lib/limits.js';

const sigBytes = 64;
const keyBytes = 32;

/** The signature's first 6 bytes as a number (exact below 2^53). */
function keyOf(s: Uint8Array): number {
  return (s[0] as number) + (s[1] as number) * 0x100 + (s[2] as number) * 0x1_0000 + (s[3] as number) * 0x100_0000 + (s[4] as number) * 0x1_0000_0000 + (s[5] as number) * 0x100_0000_0000;
}

/** An entry is one buffer, [answer (1 byte) | signature (64) | key (32) | message]: a single small
 *  allocation per distinct triple, compared in place. Signature and key are compared here (a native
 *  compare with offsets costs more in argument checks than 96 bytes take), the message natively. */
function matches(e: Buffer, signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
  if (e.length !== 1 + sigBytes + keyBytes + message.length) return false;
  for (let i = 0; i < sigBytes; i++) if (e[1 + i] !== signature[i]) return false;
  for (let i = 0; i < keyBytes; i++) if (e[1 + sigBytes + i] !== publicKey[i]) return false;
  return e.compare(message, 0, message.length, 1 + sigBytes + keyBytes) === 0;
}

/** `entriesMax` and `bytesMax` bound what it remembers; past either it starts again (only costs time).
 *  `remember` records a triple known good without checking it: the world calls it with each signature
 *  its own signers make (Ed25519 signing is correct by construction), so a broadcast vote or command is
 *  never checked for real at all. A triple differing in any byte from one remembered is still checked. */
export function memoVerifier(inner: Verifier, entriesMax: number = limits.simVerifyCacheMax, bytesMax = Infinity): Verifier & { hits: number; misses: number; remember(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): void } {
  const seen = new Map<number, Buffer>();
  let bytes = 0;
  const store = (signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array, ok: boolean): void => {
    const key = keyOf(signature);
    if (seen.size >= entriesMax || bytes + 97 + message.length > bytesMax) {
      seen.clear(); // overflow policy: start again (only costs time)
      bytes = 0;
    }
    // A copy: callers pass views of buffers they reuse (wire/signing.ts withSigningBytes).
    const entry = Buffer.allocUnsafe(1 + sigBytes + keyBytes + message.length);
    entry[0] = ok ? 1 : 0;
    entry.set(signature, 1);
    entry.set(publicKey, 1 + sigBytes);
    entry.set(message, 1 + sigBytes + keyBytes);
    bytes += entry.length - (seen.get(key)?.length ?? 0);
    seen.set(key, entry);
  };
  const v = {
    backend: inner.backend,
    hits: 0,
    misses: 0,
    verify(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
      // Only well-sized triples are remembered, so the entry's layout splits one way only.
      if (signature.length !== sigBytes || publicKey.length !== keyBytes) return inner.verify(signature, message, publicKey);
      const e = seen.get(keyOf(signature));
      if (e && matches(e, signature, message, publicKey)) {
        v.hits++;
        return e[0] === 1;
      }
      v.misses++;
      const ok = inner.verify(signature, message, publicKey);
      store(signature, message, publicKey, ok);
      return ok;
    },
    remember(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): void {
      if (signature.length === sigBytes && publicKey.length === keyBytes) store(signature, message, publicKey, true);
    },
  };
  return v;
}
