// What a running device takes from the manifest in force (runtime/device/manifest-in-force.ts): whom
// it listens to.

import { describe, expect, it } from 'vitest';
import { createSigner, generateKeyPair } from '../../runtime/crypto/sodium.js';
import { peersOf } from '../../runtime/device/manifest-in-force.js';
import { unwrap } from '../../runtime/lib/result.js';
import { signManifest, type Manifest } from '../../runtime/manifest/manifest.js';
import { makeFleet, type FleetFixture } from '../support/fleet-fixture.js';

const next = (f: FleetFixture, from: Manifest, change: Partial<Manifest['body']>): Manifest => unwrap(signManifest({ ...from.body, ...change, epoch: from.body.epoch + 1 }, createSigner(f.authority)));

describe('the manifest in force, as a device reads it', () => {
  it('listens to every validator and follower of the manifests given but itself, sorted, each once', async () => {
    const f = await makeFleet({ validators: 4, followers: 1 });
    expect(peersOf('v1', [f.manifest])).toEqual(['f0', 'v0', 'v2', 'v3']);
    const newcomer = { id: 'a9', publicKey: generateKeyPair().publicKey, power: 1 };
    const e2 = next(f, f.manifest, { validators: [...f.manifest.body.validators.filter((v) => v.id !== 'v3'), newcomer] });
    // In force and committed to come: the newcomer is heard before its first height, v3 until its last.
    expect(peersOf('v1', [f.manifest, e2])).toEqual(['a9', 'f0', 'v0', 'v2', 'v3']);
    expect(peersOf('v1', [e2])).toEqual(['a9', 'f0', 'v0', 'v2']);
  });

});
