// Ed25519 and BLAKE2b. libsodium-wrappers (WebAssembly) always works; sodium-native (native libsodium,
// ~2.3x faster verify on these machines, see README benchmarks) is used for verification when it loads.
// Call `initCrypto()` once at start; everything after it is synchronous.

import { createRequire } from 'node:module';
import sodium from 'libsodium-wrappers';
import { assert } from '../lib/assert.js';

export const publicKeyBytes = 32;
export const secretSeedBytes = 32;
export const signatureBytes = 64;
export const hashBytes = 32;

interface SodiumNative {
  crypto_sign_verify_detached(sig: Buffer, m: Buffer, pk: Buffer): boolean;
  crypto_sign_detached(sig: Buffer, m: Buffer, sk: Buffer): void;
  crypto_sign_seed_keypair(pk: Buffer, sk: Buffer, seed: Buffer): void;
}

let ready = false;
let native: SodiumNative | undefined;
let nativeError = '';

export type CryptoBackend = 'sodium-native' | 'libsodium-wrappers';

export async function initCrypto(opts: { preferNative?: boolean } = {}): Promise<void> {
  if (!ready) {
    await sodium.ready;
    ready = true;
  }
  if (opts.preferNative === false) {
    native = undefined;
    return;
  }
  if (native === undefined && nativeError === '') {
    try {
      const require = createRequire(import.meta.url);
      native = require('sodium-native') as SodiumNative;
    } catch (e) {
      nativeError = e instanceof Error ? e.message : String(e);
    }
  }
}

function checkReady(): void {
  assert(ready, 'crypto used before initCrypto() resolved');
}

/** Which library verifies signatures in this process. */
export function verifyBackend(): CryptoBackend {
  return native ? 'sodium-native' : 'libsodium-wrappers';
}

export interface KeyPair {
  readonly publicKey: Uint8Array;
  /** The 32-byte seed; the 64-byte libsodium secret key is derived from it. */
  readonly seed: Uint8Array;
}

export function generateKeyPair(): KeyPair {
  checkReady();
  return keyPairFromSeed(sodium.randombytes_buf(secretSeedBytes));
}

export function keyPairFromSeed(seed: Uint8Array): KeyPair {
  checkReady();
  assert(seed.length === secretSeedBytes, `Ed25519 seed must be ${secretSeedBytes} bytes`);
  const kp = sodium.crypto_sign_seed_keypair(seed);
  return { publicKey: kp.publicKey, seed: new Uint8Array(seed) };
}

export function randomBytes(n: number): Uint8Array {
  checkReady();
  return sodium.randombytes_buf(n);
}

/** BLAKE2b-256 (libsodium crypto_generichash, no key). */
export function hash(bytes: Uint8Array): Uint8Array {
  checkReady();
  return sodium.crypto_generichash(hashBytes, bytes, null);
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

export function createSigner(kp: KeyPair): Signer {
  checkReady();
  const secretKey = sodium.crypto_sign_seed_keypair(kp.seed).privateKey;
  return {
    publicKey: kp.publicKey,
    sign: (message) => sodium.crypto_sign_detached(message, secretKey),
  };
}

const toBuf = (b: Uint8Array): Buffer => (Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength));

export function createVerifier(): Verifier {
  checkReady();
  const n = native;
  if (n) {
    return {
      backend: 'sodium-native',
      verify: (sig, msg, pk) =>
        sig.length === signatureBytes && pk.length === publicKeyBytes && n.crypto_sign_verify_detached(toBuf(sig), toBuf(msg), toBuf(pk)),
    };
  }
  return wasmVerifier();
}

/** The libsodium-wrappers verifier, always available. */
export function wasmVerifier(): Verifier {
  checkReady();
  return {
    backend: 'libsodium-wrappers',
    verify: (sig, msg, pk) => {
      if (sig.length !== signatureBytes || pk.length !== publicKeyBytes) return false;
      try {
        return sodium.crypto_sign_verify_detached(sig, msg, pk);
      } catch {
        return false;
      }
    },
  };
}
