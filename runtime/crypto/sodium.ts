// Ed25519 and BLAKE2b for the whole runtime, on one libsodium backend chosen at start (backends.ts):
// sodium-native when it loads (~2.3x faster verify on these machines, see docs/benchmarks.md), else
// libsodium-wrappers (WebAssembly), which is then the only one loaded. Call `initCrypto()` once at start;
// everything after it is synchronous.

import { assert } from '../lib/assert.js';
import { loadNativeBackend, loadWasmBackend, publicKeyBytes, secretSeedBytes, signatureBytes, type CryptoBackend, type SodiumBackend } from './backends.js';

export { hashBytes, publicKeyBytes, secretSeedBytes, signatureBytes, type CryptoBackend, type SodiumBackend } from './backends.js';

export interface InitCryptoOptions {
  /** false: use libsodium-wrappers even where sodium-native loads (tests, benchmarks). */
  readonly preferNative?: boolean;
  /** Stands in for `require('sodium-native')`; a test passes one that throws to force the fallback. */
  readonly loadNative?: () => unknown;
}

let active: SodiumBackend | undefined;
let native: SodiumBackend | undefined;
let nativeError = '';

/** Picks the backend (sodium-native, else libsodium-wrappers) and returns its name. Safe to call again. */
export async function initCrypto(opts: InitCryptoOptions = {}): Promise<CryptoBackend> {
  let chosen: SodiumBackend | undefined;
  if (opts.preferNative !== false) {
    if (opts.loadNative !== undefined) {
      const r = loadNativeBackend(opts.loadNative);
      if (r.ok) chosen = r.value;
      else nativeError = r.error;
    } else {
      if (native === undefined && nativeError === '') {
        const r = loadNativeBackend();
        if (r.ok) native = r.value;
        else nativeError = r.error;
      }
      chosen = native;
    }
  }
  active = chosen ?? (await loadWasmBackend());
  return active.name;
}

function backend(): SodiumBackend {
  assert(active !== undefined, 'crypto used before initCrypto() resolved');
  return active;
}

/** The backend signing, hashing and verifying in this process. */
export function cryptoBackend(): CryptoBackend {
  return backend().name;
}

/** Why sodium-native did not load ('' when it did or was not tried). */
export function nativeLoadError(): string {
  return nativeError;
}

export interface KeyPair {
  readonly publicKey: Uint8Array;
  /** The 32-byte seed; the 64-byte libsodium secret key is derived from it. */
  readonly seed: Uint8Array;
}

export function generateKeyPair(): KeyPair {
  return keyPairFromSeed(backend().randomBytes(secretSeedBytes));
}

export function keyPairFromSeed(seed: Uint8Array): KeyPair {
  assert(seed.length === secretSeedBytes, `Ed25519 seed must be ${secretSeedBytes} bytes`);
  return { publicKey: backend().seedKeyPair(seed).publicKey, seed: new Uint8Array(seed) };
}

export function randomBytes(n: number): Uint8Array {
  return backend().randomBytes(n);
}

/** BLAKE2b-256 (libsodium crypto_generichash, no key). */
export function hash(bytes: Uint8Array): Uint8Array {
  return backend().blake2b256(bytes);
}

/** Signs with a secret key held in memory; the Signer port for a device or operator. */
export interface Signer {
  readonly publicKey: Uint8Array;
  sign(message: Uint8Array): Uint8Array;
}

/** Checks Ed25519 signatures; the Verifier port. */
export interface Verifier {
  readonly backend: CryptoBackend;
  verify(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean;
}

/** A Signer on `on` (default: the backend initCrypto chose). Its public key is the one its seed makes,
 *  whatever `kp.publicKey` says: a memo that remembers what a signer signed under its public key
 *  (memo-verifier.ts) must never be told a key the signatures do not verify under. */
export function createSigner(kp: KeyPair, on: SodiumBackend = backend()): Signer {
  const pair = on.seedKeyPair(kp.seed);
  const secretKey = pair.secretKey;
  return {
    publicKey: pair.publicKey,
    sign: (message) => on.signDetached(message, secretKey),
  };
}

/** A Verifier on `on` (default: the backend initCrypto chose). Bad lengths verify false. */
export function createVerifier(on: SodiumBackend = backend()): Verifier {
  return {
    backend: on.name,
    verify: (sig, msg, pk) => {
      if (sig.length !== signatureBytes || pk.length !== publicKeyBytes) return false;
      try {
        return on.verifyDetached(sig, msg, pk);
      } catch {
        return false;
      }
    },
  };
}
