// A signature verifier that remembers its answers, and a signer that tells it what it signed. One
// verification is a pure function of (signature, message, key), so remembering it is exact: a triple
// that differs in any byte is checked for real, and a seed replays the same with or without it.
//
// Where the same triple is checked more than once:
// - a device checks its own signatures (the shell feeds each signed proposal and vote back through the
//   edge, as any received one) and each precommit again, in the next block's last-commit certificate;
//   the device keeps a small one (limits.deviceVerifyMemoMax), which its signer seeds;
// - in one simulator process every node checks every broadcast, the same work done n times on one CPU:
//   the world keeps a large one (limits.simVerifyCacheMax), which all its signers seed, so a signature
//   made in the world is never checked for real. That is what lets large fleets run on one machine.
//
// Looked up by the signature's first 6 bytes (Ed25519's R, pseudo-random per message) as a number, and
// answered only when the entry's signature, key and message all equal the ones asked about, byte for
// byte: a colliding or forged triple is verified for real. No hashing, no string keys: a lookup costs
// a few comparisons of bytes already in memory. Bounded; cleared when full.

import type { Signer, Verifier } from './sodium.js';

const sigBytes = 64;
const keyBytes = 32;
const chunkBytes = 65_536;

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

export interface MemoVerifier extends Verifier {
  hits: number;
  misses: number;
  /** Records a triple as good without checking it: for the signatures a signer of this process made. */
  remember(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): void;
}

/** `signer`, remembering in `memo` each signature it makes (Ed25519 signing is correct by construction). */
export function rememberingSigner(signer: Signer, memo: MemoVerifier): Signer {
  return {
    publicKey: signer.publicKey,
    sign: (message) => {
      const signature = signer.sign(message);
      memo.remember(signature, message, signer.publicKey);
      return signature;
    },
  };
}

/** `entriesMax` and `bytesMax` bound what it remembers; past either it starts again (only costs time). */
export function memoVerifier(inner: Verifier, entriesMax: number, bytesMax: number): MemoVerifier {
  const seen = new Map<number, Buffer>();
  // Entries are carved from chunks of the memo's own, dropped together when it starts again: an entry
  // from Node's shared 8 KiB pool would keep that whole slab alive for as long as it is remembered.
  // `bytes` counts what was carved since the last start, replaced entries included.
  let chunk: Buffer | null = null;
  let used = 0;
  let bytes = 0;
  const carve = (n: number): Buffer => {
    if (chunk === null || used + n > chunk.length) {
      chunk = Buffer.allocUnsafeSlow(Math.max(chunkBytes, n));
      used = 0;
    }
    used += n;
    return chunk.subarray(used - n, used);
  };
  const store = (signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array, ok: boolean): void => {
    const size = 1 + sigBytes + keyBytes + message.length;
    if (size > bytesMax) return; // never remembered: checked each time
    if (seen.size >= entriesMax || bytes + size > bytesMax) {
      seen.clear(); // overflow policy: start again (only costs time)
      chunk = null;
      bytes = 0;
    }
    // A copy: callers pass views of buffers they reuse (wire/signing.ts withSigningBytes).
    const entry = carve(size);
    entry[0] = ok ? 1 : 0;
    entry.set(signature, 1);
    entry.set(publicKey, 1 + sigBytes);
    entry.set(message, 1 + sigBytes + keyBytes);
    bytes += size;
    seen.set(keyOf(signature), entry);
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
      if (signature.length !== sigBytes || publicKey.length !== keyBytes) return;
      const e = seen.get(keyOf(signature));
      if (e && e[0] === 1 && matches(e, signature, message, publicKey)) return; // signed again: the same bytes
      store(signature, message, publicKey, true);
    },
  };
  return v;
}
