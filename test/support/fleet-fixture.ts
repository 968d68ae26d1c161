// A deterministic fleet for tests: keys derived from a seed, a signed manifest, signers by id; and its
// files (the manifest and each member's key file) for tests that start devices on them.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeKeyFile } from '../../runtime/crypto/key-file.js';

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
  /** The validators' ids (default v0, v1, ...: `validators` of them). */
  validatorIds?: readonly string[];
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
  const validatorIds = opts.validatorIds ?? Array.from({ length: opts.validators ?? 4 }, (_, i) => `v${i}`);
  const validators = validatorIds.map((id, i) => ({ id, publicKey: key(id).publicKey, power: opts.powers?.[i] ?? 1 }));
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

/** Writes `dir`/fleet.manifest and, for each member, `dir`/ID.key (what `murmur keygen` and `murmur fleet
 *  sign` write); returns the manifest's path. */
export async function writeFleetFiles(f: FleetFixture, dir: string): Promise<string> {
  const manifest = join(dir, 'fleet.manifest');
  writeFileSync(manifest, f.manifest.bytes);
  for (const [id, kp] of f.keys) unwrap(await writeKeyFile(join(dir, `${id}.key`), { id, ...kp }));
  return manifest;
}

export { createVerifier };
