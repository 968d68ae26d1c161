// Following the fleet manifest from an operator's older copy (runtime/manifest/successors.ts): each
// change is proven by the certificate of the block that committed it, checked with the keys of the
// manifest in force at that block's height. A proof of too little power, of a manifest past its time
// (signed with keys rotated out since), or of another authority's manifest leads nowhere; two
// manifests of one epoch are a fork, and neither is followed.

import { beforeAll, describe, expect, it } from 'vitest';
import { createSigner, createVerifier, hash, keyPairFromSeed, type KeyPair, type Verifier } from '../../runtime/crypto/sodium.js';
import { unwrap } from '../../runtime/lib/result.js';
import { signManifest, type Manifest } from '../../runtime/manifest/manifest.js';
import { followManifests, manifestOfBlock } from '../../runtime/manifest/successors.js';
import { decodeManifestProofs, encodeManifestProofs, ManifestProofs, manifestProofsFile, manifestProofsKept } from '../../runtime/device/manifest-proofs.js';
import type { CommittedBlock } from '../../runtime/consensus/types.js';
import { SimStorage } from '../../fleet-sim/sim/sim-storage.js';
import { decodeBlockBytes, encodeBlock, zeroHash } from '../../runtime/wire/block.js';
import { encodeProof, type BlockProof } from '../../runtime/wire/proof.js';
import { signingBytes } from '../../runtime/wire/signing.js';
import { encodeVoteBody } from '../../runtime/wire/vote.js';
import { makeFleet, type FleetFixture } from '../support/fleet-fixture.js';

let fx: FleetFixture;
let verifier: Verifier;
/** v3's key after the rotation of epoch 2. */
let rotated: KeyPair;

beforeAll(async () => {
  fx = await makeFleet({ fleet: 'follow', validators: 4, seed: 21 });
  verifier = createVerifier();
  rotated = keyPairFromSeed(new Uint8Array(32).fill(33));
});

/** The next epoch of `from`, signed by `authority` (the fleet's by default), with `change` applied. */
function next(from: Manifest, change: (b: Manifest['body']) => Partial<Manifest['body']>, authority: KeyPair = fx.authority): Manifest {
  return unwrap(signManifest({ ...from.body, ...change(from.body), epoch: from.body.epoch + 1, authority: authority.publicKey }, createSigner(authority)));
}

/** A block at `height` naming `under`, holding `txs`, certified by `signers` (id -> key). */
function proof(height: number, under: Manifest, txs: Uint8Array[], signers: [string, KeyPair][]): { bytes: Uint8Array; proof: BlockProof } {
  const block = encodeBlock({ height, parent: zeroHash, timeMs: 1_700_000_000_000 + height, proposer: 'v0', txs, lastCommit: null, manifestHash: under.hash, appHash: zeroHash });
  const blockHash = hash(block);
  const msg = signingBytes('precommit', fx.fleet, encodeVoteBody({ height, round: 0, blockHash }));
  const signatures = [...signers].sort(([x], [y]) => (x < y ? -1 : 1)).map(([id, kp]) => ({ validator: id, signature: createSigner(kp).sign(msg) }));
  const bytes = encodeProof(block, { height, round: 0, blockHash, signatures });
  return { bytes, proof: { block: decodeBlockBytes(block), certificate: { height, round: 0, blockHash, signatures } } };
}

const key = (id: string): KeyPair => fx.keys.get(id) as KeyPair;
const old4 = (): [string, KeyPair][] => ['v0', 'v1', 'v2', 'v3'].map((id) => [id, key(id)]);
const new4 = (): [string, KeyPair][] => [...old4().slice(0, 3), ['v3', rotated]];

describe('following the fleet manifest from an older copy', () => {
  it('follows a key rotation and an added validator, each change proven under the manifest in force at its block', () => {
    const e2 = next(fx.manifest, (b) => ({ validators: b.validators.map((v) => (v.id === 'v3' ? { ...v, publicKey: rotated.publicKey } : v)) }));
    const v4 = keyPairFromSeed(new Uint8Array(32).fill(44));
    const e3 = next(e2, (b) => ({ validators: [...b.validators, { id: 'v4', publicKey: v4.publicKey, power: 1 }] }));
    const p2 = proof(10, fx.manifest, [e2.bytes], old4());
    const p3 = proof(20, e2, [e3.bytes], new4());
    // Given in any order, as devices' retained messages come.
    const chain = unwrap(followManifests(fx.manifest, [p3.proof, p2.proof], verifier));
    expect(chain.map((e) => [e.manifest.body.epoch, e.committedAt, e.fromHeight])).toEqual([
      [1, 0, 0],
      [2, 10, 12],
      [3, 20, 22],
    ]);
    // A block at 30 naming epoch 3 is checked against epoch 3; one at 21 named epoch 2; at 13, epoch 1 was over.
    expect(manifestOfBlock(chain, 30, e3.hash)?.manifest.body.epoch).toBe(3);
    expect(manifestOfBlock(chain, 21, e2.hash)?.manifest.body.epoch).toBe(2);
    expect(manifestOfBlock(chain, 13, fx.manifest.hash)).toBeNull();
    expect(manifestOfBlock(chain, 11, fx.manifest.hash)?.manifest.body.epoch).toBe(1);
    // The payload devices publish carries the same proofs.
    const decoded = unwrap(decodeManifestProofs(encodeManifestProofs([p2.bytes, p3.bytes])));
    expect(decoded.bad).toBe(0);
    expect(unwrap(followManifests(fx.manifest, decoded.proofs, verifier)).map((e) => e.manifest.body.epoch)).toEqual([1, 2, 3]);
  });

  it('two changes committed before the first is in force: the second was decided under the copy, and is followed too', () => {
    const e2 = next(fx.manifest, () => ({}));
    const e3 = next(e2, (b) => ({ validators: b.validators.filter((v) => v.id !== 'v3') }));
    const chain = unwrap(followManifests(fx.manifest, [proof(10, fx.manifest, [e2.bytes], old4()).proof, proof(11, fx.manifest, [e3.bytes], old4()).proof], verifier));
    expect(chain.map((e) => e.manifest.body.epoch)).toEqual([1, 2, 3]);
  });

  it('a proof of too little voting power, of another authority, or of a block past its manifest\'s time leads nowhere', () => {
    const e2 = next(fx.manifest, (b) => ({ validators: b.validators.map((v) => (v.id === 'v3' ? { ...v, publicKey: rotated.publicKey } : v)) }));
    // Two of four signers is not more than 2/3.
    expect(unwrap(followManifests(fx.manifest, [proof(10, fx.manifest, [e2.bytes], old4().slice(0, 2)).proof], verifier))).toHaveLength(1);
    // Another authority's manifest, certified by the whole set, is not this fleet's.
    const stranger = keyPairFromSeed(new Uint8Array(32).fill(7));
    const foreign = next(fx.manifest, () => ({}), stranger);
    expect(unwrap(followManifests(fx.manifest, [proof(10, fx.manifest, [foreign.bytes], old4()).proof], verifier))).toHaveLength(1);
    // The old keys (v3's rotated out at epoch 2, in force from 12) sign a block at 40 that still names
    // epoch 1 and carries an epoch-3 manifest of theirs: no device takes that block, nor does the chain.
    const forged = next(e2, (b) => ({ validators: b.validators.map((v) => (v.id === 'v3' ? { ...v, publicKey: key('v3').publicKey } : v)) }));
    const chain = unwrap(followManifests(fx.manifest, [proof(10, fx.manifest, [e2.bytes], old4()).proof, proof(40, fx.manifest, [forged.bytes], old4()).proof], verifier));
    expect(chain.map((e) => e.manifest.body.epoch)).toEqual([1, 2]);
  });

  it('two different manifests of one epoch, each proven, are a fork: neither is followed', () => {
    const a = next(fx.manifest, () => ({ createdAt: 1 }));
    const b = next(fx.manifest, () => ({ createdAt: 2 }));
    const r = followManifests(fx.manifest, [proof(10, fx.manifest, [a.bytes], old4()).proof, proof(11, fx.manifest, [b.bytes], old4()).proof], verifier);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatch(/^two different fleet manifests of epoch 2 \([0-9a-f]{16}, [0-9a-f]{16}\) are each proven by a certified block/);
  });

  it('a payload that is not proofs is an error naming it; a bad item is skipped and counted', () => {
    const d = decodeManifestProofs(new Uint8Array([0xff, 0x00]));
    expect(d.ok).toBe(false);
    if (!d.ok) expect(d.error).toMatch(/^manifest proofs: /);
    const e2 = next(fx.manifest, () => ({}));
    const good = proof(10, fx.manifest, [e2.bytes], old4()).bytes;
    const mixed = unwrap(decodeManifestProofs(encodeManifestProofs([new Uint8Array([1, 2, 3]), good])));
    expect([mixed.bad, mixed.proofs.length]).toEqual([1, 1]);
  });

  it('a device keeps the proofs of the blocks holding a manifest, once each, the newest 16, and publishes them again after a restart', () => {
    const storage = new SimStorage();
    const published: Uint8Array[] = [];
    const warnings: string[] = [];
    const keeper = new ManifestProofs(storage, (b) => published.push(b), (m) => warnings.push(m));
    const committed = (height: number, manifest: Manifest | null): CommittedBlock => {
      const p = proof(height, fx.manifest, manifest === null ? [] : [manifest.bytes], old4());
      const txs = manifest === null ? [] : [{ kind: 'manifest' as const, bytes: manifest.bytes, manifest, key: '' }];
      return { block: p.proof.block.block, bytes: new Uint8Array(0), hash: p.proof.block.hash, certificate: p.proof.certificate, txs, proof: p.bytes };
    };
    keeper.onCommit(committed(5, null));
    expect(published).toHaveLength(0);
    let m = fx.manifest;
    for (let h = 10; h < 10 + manifestProofsKept + 2; h++) keeper.onCommit(committed(h, (m = next(m, () => ({})))));
    keeper.onCommit(committed(12, next(fx.manifest, () => ({})))); // a replayed height: kept already
    expect(published).toHaveLength(manifestProofsKept + 2);
    const last = unwrap(decodeManifestProofs(published[published.length - 1] as Uint8Array));
    expect(last.proofs.map((p) => p.block.block.height)).toEqual(Array.from({ length: manifestProofsKept }, (_, i) => 12 + i));
    // A restart reads them back from the data directory.
    const again = new ManifestProofs(storage, () => undefined, (w) => warnings.push(w));
    expect(Buffer.from(again.payload() ?? [])).toEqual(Buffer.from(published[published.length - 1] as Uint8Array));
    expect(warnings).toEqual([]);
    // A damaged file is said, and kept anew from the next change.
    storage.replace(manifestProofsFile, new Uint8Array([0x9f, 0x41]));
    const damaged = new ManifestProofs(storage, () => undefined, (w) => warnings.push(w));
    expect(damaged.payload()).toBeNull();
    expect(warnings).toEqual([expect.stringMatching(/^manifest-proofs\.cbor in the data directory does not decode \(manifest proofs: .*\): kept anew from the next manifest change$/)]);
  });
});
