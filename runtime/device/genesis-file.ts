// The chain's genesis: `genesis.manifest` in the data directory holds the manifest in force at height 1
// of the chain kept there, written once that chain has committed a block (so the chain itself proved
// it), and read at every start after. The manifest device.yaml names is then a trust anchor only: it
// must be one the chain committed, never the set the chain is replayed under. Before, a device restarted
// with a newer manifest (it must be, after its key was rotated) replayed its WAL from height 1 under that
// newer set, decided old blocks differently and refused every block after (its appHash differed).

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { bytesEqual, toHex } from '../lib/bytes.js';
import { err, ok, type Result } from '../lib/result.js';
import { manifestAuthority, verifyManifest, type Manifest } from '../manifest/manifest.js';
import type { Verifier } from '../crypto/sodium.js';

export const genesisFile = 'genesis.manifest';

/** The genesis manifest kept in `dir` (null when there is none yet), verified against the authority of
 *  the manifest the device was given and of its fleet; a problem names the file and the fix. */
export function readGenesisFile(dir: string, given: Manifest, verifier: Verifier): Result<Manifest | null> {
  const path = join(dir, genesisFile);
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(readFileSync(path));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return ok(null);
    return err(`cannot read ${path}: ${(e as Error).message}`);
  }
  // Another fleet's or authority's genesis: the manifest given may be the wrong one (as data-fleet.ts says).
  const theirs = manifestAuthority(bytes);
  if (theirs !== null && !bytesEqual(theirs, given.body.authority)) {
    return err(`${path}: the chain in this data directory is fleet authority ${toHex(theirs).slice(0, 16)}…'s, but the manifest this device was given is signed by authority ${toHex(given.body.authority).slice(0, 16)}…; give the device its own fleet's manifest (device.yaml: manifest), or an empty dataDir to join the fleet of the new one`);
  }
  const fix = 'restore it, or move the data directory aside to join the fleet by state sync';
  const m = verifyManifest(bytes, verifier, given.body.authority);
  if (!m.ok) return err(`${path}: ${m.error}; ${fix}`);
  if (m.value.body.fleet !== given.body.fleet) return err(`${path}: the chain in this data directory is fleet "${m.value.body.fleet}"'s, not the manifest's "${given.body.fleet}"; give the device its own fleet's manifest (device.yaml: manifest), or an empty dataDir to join the fleet of the new one`);
  return ok(m.value);
}

const name = (m: Manifest): string => `epoch ${m.body.epoch} (${toHex(m.hash).slice(0, 16)}…)`;

/**
 * Why the manifest a device was given cannot be trusted with the chain in its data directory, or null.
 * `committed` are the manifests the chain holds (genesis first, by epoch); `height` the chain's. The
 * given one must be among them; one newer than the chain's newest cannot be checked yet, which is
 * fine only for a chain with nothing committed (a new member: it joins by state sync, whose snapshot is
 * checked against the authority and the certified block that names it).
 */
export function givenManifestProblem(given: Manifest, committed: readonly Manifest[], height: number): string | null {
  if (height === 0 || committed.some((m) => bytesEqual(m.hash, given.hash))) return null;
  const newest = committed[committed.length - 1] as Manifest;
  const epochs = committed.map((m) => m.body.epoch).join(', ');
  if (given.body.epoch > newest.body.epoch) {
    return `the manifest this device was given is ${name(given)}, but the chain in this data directory (height ${height}) has committed epochs ${epochs} only, the newest ${name(newest)}; start it with that manifest until it has caught up past the fleet.update of epoch ${given.body.epoch}, or move the data directory aside to join the fleet by state sync`;
  }
  return `the manifest this device was given is ${name(given)}, which the chain in this data directory (height ${height}) never committed (it holds epochs ${epochs}, the newest ${name(newest)}); give the device a manifest the fleet committed (device.yaml: manifest)`;
}
