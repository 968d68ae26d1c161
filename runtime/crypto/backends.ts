// The two libsodium bindings behind the Signer and Verifier ports, with one shape. sodium-native (native
// libsodium) is used whenever it loads; libsodium-wrappers (WebAssembly) is imported only when it cannot,
// because its module, WebAssembly code and 16 MB-growable memory cost a device process ~10 MB resident.
// Both compute the same bytes: Ed25519 signatures are deterministic (RFC 8032) and BLAKE2b is a function.

import { createRequire } from 'node:module';
import { err, ok, type Result } from '../lib/result.js';

export type CryptoBackend = 'sodium-native' | 'libsodium-wrappers';

export const publicKeyBytes = 32;
export const secretSeedBytes = 32;
export const secretKeyBytes = 64;
export const signatureBytes = 64;
export const hashBytes = 32;

/** libsodium primitives Murmur uses. Callers check lengths first; these assert them. */
export interface SodiumBackend {
  readonly name: CryptoBackend;
  /** Ed25519 key pair from a 32-byte seed; secretKey is libsodium's 64-byte form (seed || public key). */
  seedKeyPair(seed: Uint8Array): { publicKey: Uint8Array; secretKey: Uint8Array };
  signDetached(message: Uint8Array, secretKey: Uint8Array): Uint8Array;
  verifyDetached(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean;
  /** BLAKE2b with a 32-byte output and no key (libsodium crypto_generichash). */
  blake2b256(bytes: Uint8Array): Uint8Array;
  randomBytes(n: number): Uint8Array;
}

/** The subset of sodium-native's exports used here (it ships no types). */
interface SodiumNativeModule {
  crypto_sign_seed_keypair(pk: Uint8Array, sk: Uint8Array, seed: Uint8Array): void;
  crypto_sign_detached(sig: Uint8Array, m: Uint8Array, sk: Uint8Array): void;
  crypto_sign_verify_detached(sig: Uint8Array, m: Uint8Array, pk: Uint8Array): boolean;
  crypto_generichash(out: Uint8Array, input: Uint8Array): void;
  randombytes_buf(buf: Uint8Array): void;
}

const requireHere = createRequire(import.meta.url);

/**
 * sodium-native through `load` (the real require unless a test stands in a failing one). An Err carries
 * why it did not load (no prebuild for this CPU, glibc older than 2.33, not installed).
 */
export function loadNativeBackend(load: () => unknown = () => requireHere('sodium-native')): Result<SodiumBackend, string> {
  let n: SodiumNativeModule;
  try {
    n = load() as SodiumNativeModule;
  } catch (e) {
    return err(e instanceof Error ? e.message.split('\n')[0] ?? e.message : String(e));
  }
  // Outputs are plain Uint8Arrays, as libsodium-wrappers returns: a Buffer's slice() would alias.
  return ok({
    name: 'sodium-native',
    seedKeyPair: (seed) => {
      const publicKey = new Uint8Array(publicKeyBytes);
      const secretKey = new Uint8Array(secretKeyBytes);
      n.crypto_sign_seed_keypair(publicKey, secretKey, seed);
      return { publicKey, secretKey };
    },
    signDetached: (message, secretKey) => {
      const sig = new Uint8Array(signatureBytes);
      n.crypto_sign_detached(sig, message, secretKey);
      return sig;
    },
    verifyDetached: (sig, message, publicKey) => n.crypto_sign_verify_detached(sig, message, publicKey),
    blake2b256: (bytes) => {
      const out = new Uint8Array(hashBytes);
      n.crypto_generichash(out, bytes);
      return out;
    },
    randomBytes: (count) => {
      const out = new Uint8Array(count);
      n.randombytes_buf(out);
      return out;
    },
  });
}

let wasm: Promise<SodiumBackend> | undefined;

/** libsodium-wrappers, imported on first use and then shared; it always loads where Node runs. */
export function loadWasmBackend(): Promise<SodiumBackend> {
  wasm ??= import('libsodium-wrappers').then(async (m) => {
    const s = m.default;
    await s.ready;
    return {
      name: 'libsodium-wrappers',
      seedKeyPair: (seed) => {
        const kp = s.crypto_sign_seed_keypair(seed);
        return { publicKey: kp.publicKey, secretKey: kp.privateKey };
      },
      signDetached: (message, secretKey) => s.crypto_sign_detached(message, secretKey),
      verifyDetached: (sig, message, publicKey) => s.crypto_sign_verify_detached(sig, message, publicKey),
      blake2b256: (bytes) => s.crypto_generichash(hashBytes, bytes, null),
      randomBytes: (count) => s.randombytes_buf(count),
    } satisfies SodiumBackend;
  });
  return wasm;
}

/** Whether this process has imported libsodium-wrappers (it should not have where sodium-native loads). */
export function wasmBackendLoaded(): boolean {
  return wasm !== undefined;
}
