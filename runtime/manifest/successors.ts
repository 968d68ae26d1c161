// Following a fleet's manifest from an older copy to the one in force, as a light client would: each
// manifest change is a manifest tx in a block, and that block's commit certificate, signed under the
// manifest in force at its height, proves the change. An operator who holds epoch 1 and the proofs of
// the blocks that committed epochs 2, 3, ... (devices publish them retained, docs/topics.md "Manifest
// proofs") learns epoch N by checking each link with keys it already trusts: no device and no broker
// is believed. Pure: murmurctl collects the proofs and asks.

import type { Verifier } from '../crypto/sodium.js';
import { bytesEqual, toHex } from '../lib/bytes.js';
import { err, ok, type Result } from '../lib/result.js';
import { verifyProof, type BlockProof } from '../wire/proof.js';
import { verifyManifest, type Manifest } from './manifest.js';

/** A manifest takes effect two heights after the block that commits it (chain-state.ts, CometBFT's H+2). */
const delayHeights = 2;

/** One manifest of the chain: the copy (committedAt 0: its block is not known, nor needed), then each
 *  successor with the height of the block that committed it. */
export interface FollowedManifest {
  readonly manifest: Manifest;
  /** The height of the block that committed it; 0 for the copy followed from. */
  readonly committedAt: number;
  /** The first height it is in force at (committedAt + 2); 0 for the copy. */
  readonly fromHeight: number;
}

const short = (h: Uint8Array): string => toHex(h).slice(0, 16);

/** The chain before any change is followed: the copy alone. */
export function copyOnly(copy: Manifest): FollowedManifest[] {
  return [{ manifest: copy, committedAt: 0, fromHeight: 0 }];
}

/**
 * The chain of manifests from `copy` on, as far as `proofs` prove it: the copy first, then each
 * manifest a certified block committed, in the order the chain took them. A block proves a successor
 * when it names a manifest of the chain that is in force at its height (from that manifest's
 * fromHeight until the next one's), its certificate verifies against that manifest's validators, and
 * it holds a manifest of the same fleet, signed by the copy's authority, of a newer epoch than the
 * chain's last. A block under a manifest at a height past that manifest's time counts for nothing:
 * keys rotated out since may sign such a block, and no device would take it.
 *
 * Refused (an error naming both): two different manifests of one epoch, each proven. Only a fork, or
 * more than a third of some epoch's voting power signing against the protocol, makes that; following
 * either would trust whoever signed it.
 */
export function followManifests(copy: Manifest, proofs: readonly BlockProof[], verifier: Verifier): Result<FollowedManifest[]> {
  const fleet = copy.body.fleet;
  const chain = copyOnly(copy);
  // Each proof is checked at most once against each manifest (a verify is ~100 µs per signature).
  const checked = new Map<string, boolean>();
  const certified = (p: BlockProof, m: Manifest): boolean => {
    const key = `${toHex(p.block.hash)}/${toHex(m.hash)}`;
    let v = checked.get(key);
    if (v === undefined) checked.set(key, (v = verifyProof(p, fleet, m.validators, verifier).ok));
    return v;
  };
  /** The chain's manifest in force at `height`, or undefined before the copy's own time is known. */
  const inForceAt = (height: number): FollowedManifest | undefined => {
    for (let i = chain.length - 1; i >= 0; i--) if ((chain[i] as FollowedManifest).fromHeight <= height) return chain[i];
    return undefined;
  };
  for (let step = 0; step <= proofs.length; step++) {
    const last = chain[chain.length - 1] as FollowedManifest;
    let next: { manifest: Manifest; height: number } | null = null;
    const seen = new Map<number, Manifest>(); // epoch -> a proven manifest of it (fork check)
    for (const p of proofs) {
      const h = p.block.block.height;
      if (h <= last.committedAt) continue;
      const under = inForceAt(h);
      if (under === undefined || !bytesEqual(p.block.block.manifestHash, under.manifest.hash)) continue;
      let carried: Manifest | null = null;
      for (const tx of p.block.block.txs) {
        const m = verifyManifest(tx, verifier, copy.body.authority);
        if (m.ok && m.value.body.fleet === fleet && m.value.body.epoch > last.manifest.body.epoch) carried = m.value;
      }
      if (carried === null || !certified(p, under.manifest)) continue;
      const other = seen.get(carried.body.epoch);
      if (other !== undefined && !bytesEqual(other.hash, carried.hash)) {
        return err(`two different fleet manifests of epoch ${carried.body.epoch} (${short(other.hash)}, ${short(carried.hash)}) are each proven by a certified block: the fleet forked, or validators signed against the protocol; follow neither`);
      }
      seen.set(carried.body.epoch, carried);
      if (next === null || h < next.height) next = { manifest: carried, height: h };
    }
    if (next === null) return ok(chain);
    chain.push({ manifest: next.manifest, committedAt: next.height, fromHeight: next.height + delayHeights });
  }
  return ok(chain);
}

/**
 * The manifest of `chain` a block at `height` naming `manifestHash` was decided under, or null when
 * none is in force at that height with that hash (a block the chain followed does not account for).
 */
export function manifestOfBlock(chain: readonly FollowedManifest[], height: number, manifestHash: Uint8Array): FollowedManifest | null {
  for (let i = chain.length - 1; i >= 0; i--) {
    const e = chain[i] as FollowedManifest;
    if (e.fromHeight > height) continue;
    return bytesEqual(e.manifest.hash, manifestHash) ? e : null;
  }
  return null;
}
