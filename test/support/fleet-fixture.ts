// A deterministic fleet for tests: keys derived from a seed, a signed manifest, signers by id.

import { createSigner, createVerifier, initCrypto, keyPairFromSeed, type KeyPair, type Signer } from '../../runtime/crypto/sodium.js';
import { Prng } from '../../runtime/lib/prng.js';
import { unwrap } from '../../runtime/lib/result.js';
import { signManifest, type Manifest } from '../../runtime/manifest/manifest.js';
import type { OperatorRole } from '../../runtime/wire/manifest-body.js';

export interface FleetFixture {
  readonly fleet: string;
  readonly manifest: Manifest;
  readonly authority: KeyPair;
  readonly keys: ReadonlyMap<string, KeyPair>;
  signer(id: string): Signer;
}

export async function makeFleet(opts: {
  fleet?: string;
  validators?: number;
  followers?: number;
  operators?: { id: string; roles: OperatorRole[] }[];
  powers?: number[];
  seed?: number;
}): Promise<FleetFixture> {
  await initCrypto();
  const fleet = opts.fleet ?? 'test-fleet';
  const prng = new Prng(opts.seed ?? 1);
  const keys = new Map<string, KeyPair>();
  const key = (id: string) => {
    const kp = keyPairFromSeed(prng.bytes(32));
    keys.set(id, kp);
    return kp;
  };
  const authority = keyPairFromSeed(prng.bytes(32));
  const validators = Array.from({ length: opts.validators ?? 4 }, (_, i) => ({ id: `v${i}`, publicKey: key(`v${i}`).publicKey, power: opts.powers?.[i] ?? 1 }));
  const followers = Array.from({ length: opts.followers ?? 0 }, (_, i) => ({ id: `f${i}`, publicKey: key(`f${i}`).publicKey }));
  const operators = (opts.operators ?? [{ id: 'op', roles: ['operator'] as OperatorRole[] }]).map((o) => ({ id: o.id, publicKey: key(o.id).publicKey, roles: o.roles }));
  const body = { fleet, epoch: 1, authority: authority.publicKey, validators, followers, operators, createdAt: 1_700_000_000_000 };
  const manifest = unwrap(signManifest(body, createSigner(authority)));
  return {
    fleet,
    manifest,
    authority,
    keys,
    signer: (id) => {
      const kp = keys.get(id);
      if (!kp) throw new Error(`no key for ${id}`);
      return createSigner(kp);
    },
  };
}

export { createVerifier };
