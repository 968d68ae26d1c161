// What a running device takes from the manifest in force (runtime/device/manifest-in-force.ts): whom
// it listens to, and whether the fleet still counts it under its key (removed, rotated out, made an
// operator), with the health that follows.

import { describe, expect, it } from 'vitest';
import { createSigner, generateKeyPair } from '../../runtime/crypto/sodium.js';
import { assessHealth } from '../../runtime/device/device-health.js';
import { membershipProblem, peersOf } from '../../runtime/device/manifest-in-force.js';
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

  it('says when the manifest in force drops the device, lists another key for it or makes it an operator; nothing while it belongs or is older than its own', async () => {
    const f = await makeFleet({ validators: 4, followers: 1 });
    const key = (id: string): Uint8Array => f.signer(id).publicKey;
    const m = f.manifest;
    expect(membershipProblem('v3', key('v3'), m, m)).toBeNull();
    expect(membershipProblem('f0', key('f0'), m, m)).toBeNull();

    const removed = next(f, m, { validators: m.body.validators.filter((v) => v.id !== 'v3') });
    expect(membershipProblem('v3', key('v3'), m, removed)).toBe('the fleet manifest in force (epoch 2) no longer lists "v3": a fleet.update removed it');
    expect(membershipProblem('v2', key('v2'), m, removed)).toBeNull();

    const rotated = generateKeyPair().publicKey;
    const e2 = next(f, m, { validators: m.body.validators.map((v) => (v.id === 'v3' ? { ...v, publicKey: rotated } : v)) });
    const hex = (k: Uint8Array): string => Buffer.from(k).toString('hex').slice(0, 16);
    expect(membershipProblem('v3', key('v3'), m, e2)).toBe(`the fleet manifest in force (epoch 2) lists another key for "v3" (${hex(rotated)}…; this device holds ${hex(key('v3'))}…): its key was rotated`);
    // The process given the new key (and the new manifest) belongs.
    expect(membershipProblem('v3', rotated, e2, e2)).toBeNull();

    const operator = next(f, m, { validators: m.body.validators.filter((v) => v.id !== 'v3'), operators: [...m.body.operators, { id: 'v3', publicKey: key('v3'), roles: ['operator'] }] });
    expect(membershipProblem('v3', key('v3'), m, operator)).toBe('the fleet manifest in force (epoch 2) lists "v3" as an operator, no longer as a validator or follower');

    // A device provisioned with epoch 2 that is still replaying epoch 1 (where it is not yet listed).
    const added = next(f, m, { followers: [...m.body.followers, { id: 'n1', publicKey: rotated }] });
    expect(membershipProblem('n1', rotated, added, m)).toBeNull();
    expect(membershipProblem('n1', rotated, added, added)).toBeNull();
  });

  it('a device out of the fleet reports failing, with the reason first', () => {
    const fine = { links: [{ name: 'mqtt', up: true }], agents: [], failsafe: null, selfDegraded: null, hal: [], battery: null };
    expect(assessHealth({ ...fine, notMember: null })).toEqual({ health: 'ok', reasons: [] });
    const why = 'the fleet manifest in force (epoch 2) no longer lists "v3": a fleet.update removed it';
    expect(assessHealth({ ...fine, notMember: why, battery: 'low' })).toEqual({ health: 'failing', reasons: [why, 'battery low'] });
  });
});
