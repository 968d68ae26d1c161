// State sync, pure like the rest of the core: the state it keeps (StateSync), serving, and installing.
// Serving: the newest checkpoint snapshots stay in memory with their proof (the next block and its
// certificate: that block's appHash is the snapshot's commitment). Fetching one is snapshot-fetch.ts;
// a snapshot it verified, or the shell's own at boot, is installed here.

import { limits } from '../lib/limits.js';
import { verifyManifest, type Manifest } from '../manifest/manifest.js';
import type { CommitCertificate } from '../wire/certificate.js';
import { encodeSnapshotChunkBody, encodeSnapshotOfferBody } from '../wire/state-sync.js';
import type { ConsensusState } from './consensus-state.js';
import { follow } from './light-follower.js';
import { txKey } from './mempool.js';
import type { Fetch } from './snapshot-fetch.js';
import { chunkOf, commitmentOf, type StateSnapshot } from './snapshot.js';
import type { CommittedBlock, Effect, VerifiedSnapshot } from './types.js';

/** A checkpoint this node can serve once the block after it is committed (its proof). */
export interface ServedSnapshot {
  readonly height: number;
  readonly bytes: Uint8Array;
  readonly chunkHashes: readonly Uint8Array[];
  readonly commitment: Uint8Array;
  proof: { readonly blockBytes: Uint8Array; readonly certificate: CommitCertificate } | null;
}

/** What state sync keeps on a node: snapshots to serve, the fetch under way, and what peers did. */
export class StateSync {
  /** Oldest first, at most limits.snapshotsServedMax. */
  served: ServedSnapshot[] = [];
  fetch: Fetch | null = null;
  /** Peers that served a wrong offer or chunk: ignored by state sync from then on. */
  readonly bad = new Map<string, number>();
  /** Offers and chunks refused (wrong, truncated or unproven), and fetches given up on. */
  rejected = 0;
  /** Snapshots installed by state sync. */
  restored = 0;
  /** Last commit or install: a node behind with no progress for long asks for a snapshot. */
  progressAtMs = 0;
  /** A stale offer (offerStale) was logged since the last fetch began: a wait is said once, not once
   *  per offer (peers offering two old snapshots by turns, or a member answering with ever new heights,
   *  logged a line per offer). */
  staleNoted = false;
  /** When the last snapshot request went out during a fetch (syncTick asks again at most every
   *  stateSyncReaskGossips). */
  reaskedAtMs = -Infinity;
  /** The next request's nonce: every request differs, so links' duplicate filters never drop a retry. */
  nonce = 0;
  /** The newest snapshot requests' nonces, oldest first: only an offer answering one is taken. */
  readonly requested: number[] = [];
  /**
   * Chunk requests each peer let time out with no chunk from it since, reset by its next chunk. Sources
   * with the fewest choose their ranges first, so one that stays silent (crashed, out of radio range, or
   * lying) gets only what the others leave. Not a verdict: silence is no proof of a lie, so it is not `bad`.
   */
  readonly quiet = new Map<string, number>();
  private readonly offeredAt = new Map<string, number>();
  private readonly chunkBudget = new Map<string, { atMs: number; sent: number }>();

  /** Rate limit: one offer per peer per interval (bounded by the fleet size; cleared on overflow). */
  mayOffer(to: string, now: number, intervalMs: number): boolean {
    const last = this.offeredAt.get(to);
    if (last !== undefined && now - last < intervalMs) return false;
    if (this.offeredAt.size >= limits.validatorsMax * 4) this.offeredAt.clear();
    this.offeredAt.set(to, now);
    return true;
  }

  /** Rate limit: at most snapshotChunksPerPeerPerGossipMax chunks per peer per interval. */
  takeChunk(to: string, now: number, intervalMs: number): boolean {
    let b = this.chunkBudget.get(to);
    if (!b || now - b.atMs >= intervalMs) {
      if (!b && this.chunkBudget.size >= limits.validatorsMax * 4) this.chunkBudget.clear();
      b = { atMs: now, sent: 0 };
      this.chunkBudget.set(to, b);
    }
    if (b.sent >= limits.snapshotChunksPerPeerPerGossipMax) return false;
    b.sent++;
    return true;
  }
}

/** Keeps a checkpoint to serve; the oldest goes when more than snapshotsServedMax are held. */
export function addServed(s: ConsensusState, snap: ServedSnapshot): void {
  const list = s.sync.served.filter((x) => x.height !== snap.height);
  list.push(snap);
  while (list.length > limits.snapshotsServedMax) list.shift();
  s.sync.served = list;
}

/** Every applied block passes here: the block after a held checkpoint is that checkpoint's proof. */
export function noteCommitted(s: ConsensusState, c: CommittedBlock, now: number): void {
  s.sync.progressAtMs = now;
  for (const x of s.sync.served) if (x.proof === null && x.height === c.block.height - 1) x.proof = { blockBytes: c.bytes, certificate: c.certificate };
}

export const hashOf = (s: ConsensusState) => s.p.deps.hash;
export const verifierOf = (s: ConsensusState) => ({ backend: 'libsodium-wrappers' as const, verify: s.p.deps.verify });

// Serving ---------------------------------------------------------------------------------------

export function onSnapshotRequest(s: ConsensusState, from: string, height: number, nonce: number, now: number, fx: Effect[]): void {
  let snap: ServedSnapshot | undefined;
  for (const x of s.sync.served) if (x.proof && x.height > height && x.chunkHashes.length <= limits.snapshotChunksMax) snap = x;
  if (!snap?.proof || !s.sync.mayOffer(from, now, s.p.config.gossipMs)) return;
  const manifest = s.chain.manifestAt(snap.height + 1);
  const body = encodeSnapshotOfferBody({ height: snap.height, chunkHashes: snap.chunkHashes, proofBlock: snap.proof.blockBytes, proofCertificate: snap.proof.certificate, manifest: manifest.bytes, nonce });
  fx.push({ type: 'send', to: from, kind: 'snapshot-offer', body });
}

export function onChunkRequest(s: ConsensusState, from: string, height: number, first: number, count: number, nonce: number, now: number, fx: Effect[]): void {
  const snap = s.sync.served.find((x) => x.height === height);
  if (!snap) return;
  for (let i = first; i < first + count && i < snap.chunkHashes.length; i++) {
    if (!s.sync.takeChunk(from, now, s.p.config.gossipMs)) return;
    fx.push({ type: 'send', to: from, kind: 'snapshot-chunk', body: encodeSnapshotChunkBody({ height, index: i, bytes: chunkOf(snap.bytes, i), nonce }) });
  }
}

/** The snapshot's manifests, each verified against the pinned authority, or why one is not. */
export function verifiedManifests(s: ConsensusState, snap: StateSnapshot): { fromHeight: number; manifest: Manifest }[] | string {
  const out: { fromHeight: number; manifest: Manifest }[] = [];
  for (const m of snap.manifests) {
    const v = verifyManifest(m.bytes, verifierOf(s), s.p.genesis.body.authority);
    if (!v.ok) return `manifest from height ${m.fromHeight}: ${v.error}`;
    out.push({ fromHeight: m.fromHeight, manifest: v.value });
  }
  return out.length > 0 ? out : 'it holds no manifest';
}

/**
 * Replaces the chain with a verified snapshot and starts the next height after it, as a commit does.
 * Used by state sync and, with no proof yet, by the shell at boot from its own snapshot file.
 */
export function installSnapshot(
  s: ConsensusState,
  v: VerifiedSnapshot,
  snap: StateSnapshot,
  manifests: readonly { fromHeight: number; manifest: Manifest }[],
  chunkHashes: readonly Uint8Array[],
  proof: ServedSnapshot['proof'],
  now: number,
  fx: Effect[] | null,
): void {
  const commitment = commitmentOf(chunkHashes, hashOf(s));
  s.chain.importState(snap, manifests, commitment, v.lastCertificate);
  s.sync.fetch = null;
  s.sync.progressAtMs = now;
  s.sync.served = [];
  addServed(s, { height: v.height, bytes: v.bytes, chunkHashes, commitment, proof });
  // Txs the snapshot shows committed (or now expired) can never enter a block: drop them.
  for (const tx of [...s.mempool.values()]) if (s.chain.txProblem(tx, s.chain.lastTimeMs, null) !== null) s.mempool.remove(txKey(tx));
  s.enterNextHeight();
  s.dropRefused(); // the snapshot may cross a validator-set change
  s.future = [];
  if (fx === null) return;
  // Persist (and hand the app its part) before anything else runs, then wait out the commit pause.
  fx.push({ type: 'install-snapshot', snapshot: v });
  s.waiting = true;
  fx.push({ type: 'schedule', timer: 'next-height', height: s.height, round: 0, atMs: now + s.p.config.commitWaitMs });
  follow(s, now, fx); // the snapshot may cross a validator-set change that promoted or demoted this node
}
