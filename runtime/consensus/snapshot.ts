// State snapshots: the chain state valid(v) and apply need (last block hash and time, validator sets
// by height as signed manifest bytes, live nonces, evidence) plus the application's own canonical
// bytes, in one canonical encoding. Every node takes one at each checkpoint height; equal histories
// give equal bytes, so the commitment (the hash of the chunk hashes) can ride in blocks as appHash.

import { assert } from '../lib/assert.js';
import { concatBytes, sameBytes } from '../lib/bytes.js';
import { limits } from '../lib/limits.js';
import { err, type Result } from '../lib/result.js';
import { decodeCbor, encodeCbor } from '../wire/cbor.js';
import { CborWriter } from '../wire/cbor-writer.js';
import { array, bytes, fail, id, parseWith, text, uint } from '../wire/fields.js';
import { evidenceKeptMax, pendingManifestsMax, type CommittedEvidence, type PendingManifest } from './chain-state.js';

/** What a chain exports at a checkpoint (no certificate: which >2/3 signed differs between nodes). */
export interface ChainExport {
  readonly height: number;
  readonly lastHash: Uint8Array;
  readonly lastTimeMs: number;
  readonly manifests: readonly { readonly fromHeight: number; readonly bytes: Uint8Array }[];
  /** Sorted by key. */
  readonly nonces: readonly (readonly [string, number])[];
  readonly evidence: readonly CommittedEvidence[];
  /** Manifests named by committed fleet.updates and not yet applied, oldest first (ChainState);
   *  absent: none. */
  readonly pendingManifests?: readonly PendingManifest[];
}

export interface StateSnapshot extends ChainExport {
  /** The application's state as it exported it (its own canonical encoding). */
  readonly app: Uint8Array;
}

const formatVersion = 1;
export const snapshotBytesMax = limits.snapshotChunkBytes * limits.snapshotChunksMax;

/** Evidence entries a snapshot may hold when read: an older release's kept every entry ever committed
 *  (ChainState.importState keeps the window of them); this release writes at most evidenceKeptMax. */
const evidenceReadMax = limits.seenNoncesMax;

// Nonces and evidence are the long lists: the scan limits grow to their bounds, within the byte
// bound. Items: a manifest entry is 3 (array, height, bytes), a pending one 3, a nonce 3, an evidence entry 6; every
// list at its bound at once must still read, or a full state would be written and never read back.
const scanLimits = {
  depthMax: 6,
  itemsMax: 16 + 3 * pendingManifestsMax + 3 * limits.cborCollectionLengthMax + 3 * limits.seenNoncesMax + 6 * evidenceReadMax,
  collectionLengthMax: Math.max(limits.seenNoncesMax, evidenceReadMax),
  textBytesMax: limits.cborTextBytesMax,
};

/**
 * The canonical bytes of `s`. Never a list longer than decodeStateSnapshot reads: every node writes
 * these bytes to disk and certifies their commitment, and a snapshot that cannot be read back stops
 * restarts and state sync for the whole fleet (as 8,193 evidence entries once did). The chain keeps
 * its lists within these bounds, so a state past one is a broken invariant (assert), not input. The
 * byte bound (snapshotBytesMax) is the shell's to check before it writes one (shell.ts checkpoint).
 */
export function encodeStateSnapshot(s: StateSnapshot): Uint8Array {
  assert(s.manifests.length <= limits.cborCollectionLengthMax, `the state at height ${s.height} holds ${s.manifests.length} manifests; a snapshot holds at most ${limits.cborCollectionLengthMax}`);
  assert(s.nonces.length <= limits.seenNoncesMax, `the state at height ${s.height} holds ${s.nonces.length} nonces; a snapshot holds at most ${limits.seenNoncesMax}`);
  assert(s.evidence.length <= evidenceKeptMax, `the state at height ${s.height} holds ${s.evidence.length} evidence entries; a snapshot holds at most ${evidenceKeptMax}`);
  // Written directly (CborWriter): the nonces are most of it, and each expiry is past 32 bits.
  const w = new CborWriter(256 + s.app.length + 64 * s.nonces.length + s.manifests.reduce((n, m) => n + m.bytes.length + 16, 0));
  // The pending manifests are a ninth element only while there are some: a fleet with none (nearly
  // always) keeps the bytes, and so the appHash, it had before they existed (README, upgrade notes).
  const pendingManifests = s.pendingManifests ?? [];
  const pending = pendingManifests.length > 0;
  assert(pendingManifests.length <= pendingManifestsMax, `the state at height ${s.height} holds ${pendingManifests.length} pending manifests; at most ${pendingManifestsMax}`);
  w.array(pending ? 9 : 8).int(formatVersion).int(s.height).bytes(s.lastHash).int(s.lastTimeMs);
  w.array(s.manifests.length);
  for (const m of s.manifests) w.array(2).int(m.fromHeight).bytes(m.bytes);
  w.array(s.nonces.length);
  for (const [k, v] of s.nonces) w.array(2).text(k).int(v);
  w.raw(encodeCbor(s.evidence.map((e) => [e.culprit, e.height, e.round, e.vote, e.committedAt])));
  w.bytes(s.app);
  if (pending) w.raw(encodeCbor(pendingManifests.map((p) => [p.hash, p.command])));
  return w.finish();
}

function parse(v: unknown): StateSnapshot {
  const a = array(v, 'snapshot', 9);
  if (a.length < 8) fail(`snapshot must have 8 or 9 elements, has ${a.length}`);
  if (a[0] !== formatVersion) fail(`snapshot format ${String(a[0])} is not ${formatVersion}`);
  return {
    height: uint(a[1], 'snapshot.height'),
    lastHash: bytes(a[2], 'snapshot.lastHash', 32),
    lastTimeMs: uint(a[3], 'snapshot.lastTimeMs'),
    manifests: array(a[4], 'snapshot.manifests', limits.cborCollectionLengthMax).map((m, i) => {
      const e = array(m, `snapshot.manifests[${i}]`, 2, 2);
      return { fromHeight: uint(e[0], `snapshot.manifests[${i}].fromHeight`), bytes: bytes(e[1], `snapshot.manifests[${i}].bytes`, undefined, limits.manifestBytesMax) };
    }),
    nonces: array(a[5], 'snapshot.nonces', limits.seenNoncesMax).map((n, i) => {
      const e = array(n, `snapshot.nonces[${i}]`, 2, 2);
      return [text(e[0], `snapshot.nonces[${i}].key`, 2 * limits.idBytesMax + 2 * limits.nonceBytes + 1), uint(e[1], `snapshot.nonces[${i}].expiresAt`)] as const;
    }),
    evidence: array(a[6], 'snapshot.evidence', evidenceReadMax).map((x, i) => {
      const e = array(x, `snapshot.evidence[${i}]`, 5, 5);
      const at = `snapshot.evidence[${i}]`;
      return { culprit: id(e[0], `${at}.culprit`), height: uint(e[1], `${at}.height`), round: uint(e[2], `${at}.round`), vote: text(e[3], `${at}.vote`, 16), committedAt: uint(e[4], `${at}.committedAt`) };
    }),
    app: bytes(a[7], 'snapshot.app', undefined, snapshotBytesMax),
    ...(a[8] === undefined
      ? {}
      : {
          pendingManifests: array(a[8], 'snapshot.pendingManifests', pendingManifestsMax).map((x, i) => {
            const e = array(x, `snapshot.pendingManifests[${i}]`, 2, 2);
            return { hash: bytes(e[0], `snapshot.pendingManifests[${i}].hash`, 32), command: text(e[1], `snapshot.pendingManifests[${i}].command`, 2 * limits.idBytesMax + 2 * limits.nonceBytes + 1) };
          }),
        }),
  };
}

export function decodeStateSnapshot(b: Uint8Array): Result<StateSnapshot> {
  const d = decodeCbor(b, snapshotBytesMax, scanLimits);
  if (!d.ok) return err(`snapshot: ${d.error}`);
  return parseWith('snapshot', d.value, parse);
}

/**
 * The hashes of the snapshot's chunks of limits.snapshotChunkBytes (the last one may be shorter).
 * `previous`: an earlier snapshot and its chunk hashes; a chunk equal byte for byte to the one at its
 * index there takes that hash instead of hashing again. Between checkpoints most of the state stays
 * where it was (the manifests come right after a header of fixed width), and comparing bytes costs a
 * fraction of hashing them.
 */
export function chunkHashesOf(b: Uint8Array, hash: (x: Uint8Array) => Uint8Array, previous?: { readonly bytes: Uint8Array; readonly chunkHashes: readonly Uint8Array[] }): Uint8Array[] {
  const out: Uint8Array[] = [];
  const size = limits.snapshotChunkBytes;
  for (let off = 0, i = 0; off === 0 || off < b.length; off += size, i++) {
    const chunk = b.subarray(off, off + size);
    const known = previous?.chunkHashes[i];
    const before = previous?.bytes.subarray(off, off + size);
    out.push(known !== undefined && before !== undefined && sameBytes(chunk, before) ? known : hash(chunk));
  }
  return out;
}

/** The commitment blocks carry as appHash: BLAKE2b-256 of the chunk hashes, concatenated in order. */
export function commitmentOf(chunkHashes: readonly Uint8Array[], hash: (x: Uint8Array) => Uint8Array): Uint8Array {
  return hash(concatBytes(...chunkHashes));
}

export function chunkOf(b: Uint8Array, index: number): Uint8Array {
  return b.subarray(index * limits.snapshotChunkBytes, (index + 1) * limits.snapshotChunkBytes);
}

export function chunkCountOf(byteLength: number): number {
  return Math.max(1, Math.ceil(byteLength / limits.snapshotChunkBytes));
}
