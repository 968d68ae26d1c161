// The data directory's genesis.manifest and the check of the manifest device.yaml names against the
// chain (runtime/device/genesis-file.ts): pure, and one temporary directory per case.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createSigner, createVerifier, generateKeyPair, initCrypto, type KeyPair } from '../../runtime/crypto/sodium.js';
import { unwrap } from '../../runtime/lib/result.js';
import { signManifest, type Manifest } from '../../runtime/manifest/manifest.js';
import type { ManifestBody } from '../../runtime/wire/manifest-body.js';
import { genesisFile, givenManifestProblem, readGenesisFile } from '../../runtime/device/genesis-file.js';

let authority: KeyPair;
let e1: Manifest;
let e2: Manifest;
let e2Other: Manifest;
const dirs: string[] = [];

function sign(body: Partial<ManifestBody>, by: KeyPair = authority): Manifest {
  const d1 = generateKeyPair();
  const full: ManifestBody = { fleet: 'g', epoch: 1, authority: by.publicKey, validators: [{ id: 'd1', publicKey: d1.publicKey, power: 1 }], followers: [], operators: [], createdAt: 1, ...body };
  return unwrap(signManifest(full, createSigner(by)));
}

beforeAll(async () => {
  await initCrypto();
  authority = generateKeyPair();
  e1 = sign({});
  e2 = sign({ epoch: 2 });
  e2Other = sign({ epoch: 2, createdAt: 2 });
});
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function dirWith(bytes?: Uint8Array): string {
  const d = mkdtempSync(join(tmpdir(), 'murmur-genesis-'));
  dirs.push(d);
  if (bytes) writeFileSync(join(d, genesisFile), bytes);
  return d;
}

describe('readGenesisFile', () => {
  it('is null for a directory that keeps none, and the manifest it keeps otherwise', () => {
    expect(unwrap(readGenesisFile(dirWith(), e2, createVerifier()))).toBeNull();
    expect(unwrap(readGenesisFile(dirWith(e1.bytes), e2, createVerifier()))?.body.epoch).toBe(1);
  });

  it('refuses one that is not a manifest, or another authority\'s or fleet\'s, naming the file and the fix', () => {
    const damaged = readGenesisFile(dirWith(new Uint8Array([1, 2, 3])), e2, createVerifier());
    expect(damaged.ok ? '' : damaged.error).toMatch(/genesis\.manifest: manifest is not a valid signed envelope.*; restore it, or move the data directory aside to join the fleet by state sync$/);
    const other = readGenesisFile(dirWith(sign({}, generateKeyPair()).bytes), e2, createVerifier());
    expect(other.ok ? '' : other.error).toMatch(/genesis\.manifest: the chain in this data directory is fleet authority [0-9a-f]{16}…'s, but the manifest this device was given is signed by authority [0-9a-f]{16}…; give the device its own fleet's manifest \(device\.yaml: manifest\), or an empty dataDir to join the fleet of the new one$/);
    const fleet = readGenesisFile(dirWith(sign({ fleet: 'h' }).bytes), e2, createVerifier());
    expect(fleet.ok ? '' : fleet.error).toContain('genesis.manifest: the chain in this data directory is fleet "h"\'s, not the manifest\'s "g"; give the device its own fleet\'s manifest');
  });
});

describe('givenManifestProblem: the manifest device.yaml names is a trust anchor', () => {
  it('passes one the chain committed, old or new, and any on a chain with nothing committed', () => {
    expect(givenManifestProblem(e1, [e1, e2], 40)).toBeNull();
    expect(givenManifestProblem(e2, [e1, e2], 40)).toBeNull();
    // A new member has only the newest file; it joins by state sync.
    expect(givenManifestProblem(e2, [e2], 0)).toBeNull();
  });

  it('refuses one newer than the chain has committed, naming both epochs and the fix', () => {
    expect(givenManifestProblem(e2, [e1], 40)).toMatch(
      /^the manifest this device was given is epoch 2 \([0-9a-f]{16}…\), but the chain in this data directory \(height 40\) has committed epochs 1 only, the newest epoch 1 \([0-9a-f]{16}…\); start it with that manifest until it has caught up past the fleet\.update of epoch 2, or move the data directory aside to join the fleet by state sync$/,
    );
  });

  it('refuses one of an epoch the chain committed with other bytes', () => {
    expect(givenManifestProblem(e2Other, [e1, e2], 40)).toMatch(/^the manifest this device was given is epoch 2 \([0-9a-f]{16}…\), which the chain in this data directory \(height 40\) never committed \(it holds epochs 1, 2, the newest epoch 2/);
  });
});
