// A seeded fleet for agent simulations and tests: keys from the PRNG, a signed manifest, one signer
// per device. Needs `await initCrypto()` first.

import { createSigner, createVerifier, keyPairFromSeed, type Signer, type Verifier } from '../../runtime/crypto/sodium.js';
import type { Prng } from '../../runtime/lib/prng.js';
import { unwrap } from '../../runtime/lib/result.js';
import { signManifest, type Manifest } from '../../runtime/manifest/manifest.js';

export interface SimFleet {
  readonly fleet: string;
  readonly manifest: Manifest;
  /** Device ids: validators first (v0..), then followers (f0..). */
  readonly devices: readonly string[];
  readonly signers: ReadonlyMap<string, Signer>;
  readonly verifier: Verifier;
}

export function makeSimFleet(prng: Prng, validators: number, followers = 0, fleet = 'sim'): SimFleet {
  const authority = createSigner(keyPairFromSeed(prng.bytes(32)));
  const signers = new Map<string, Signer>();
  const vs = [];
  const fs = [];
  for (let i = 0; i < validators; i++) {
    const s = createSigner(keyPairFromSeed(prng.bytes(32)));
    signers.set(`v${i}`, s);
    vs.push({ id: `v${i}`, publicKey: s.publicKey, power: 1 });
  }
  for (let i = 0; i < followers; i++) {
    const s = createSigner(keyPairFromSeed(prng.bytes(32)));
    signers.set(`f${i}`, s);
    fs.push({ id: `f${i}`, publicKey: s.publicKey });
  }
  const manifest = unwrap(
    signManifest({ fleet, epoch: 1, authority: authority.publicKey, validators: vs, followers: fs, operators: [], createdAt: 0 }, authority),
    'sim manifest',
  );
  return { fleet, manifest, devices: [...signers.keys()], signers, verifier: createVerifier() };
}
