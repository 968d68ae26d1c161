// What the committed chain has decided so far: the last block and its certificate, the validator sets
// in force by height, committed nonces and evidence, the commitment of the latest checkpoint (appHash)
// and a window of recent blocks for block sync. It also holds the block rules (valid(v) in Algorithm 1),
// since they depend on exactly this state.

import { assert } from '../lib/assert.js';
import { bytesEqual, toHex } from '../lib/bytes.js';
import { limits } from '../lib/limits.js';
import { hasRole, operatorOf, type Manifest } from '../manifest/manifest.js';
import type { Block } from '../wire/block.js';
import { verifyCertificate, type CommitCertificate } from '../wire/certificate.js';
import type { CheckedTx, CommittedBlock, CoreDeps, RejectedTx } from './types.js';
import { NonceTable } from './nonce-table.js';
import type { ChainExport } from './snapshot.js';

/** One committed proof of equivocation: `culprit` signed two conflicting `vote`s at `height`/`round`;
 *  the block at `committedAt` carried it. */
export interface CommittedEvidence {
  readonly culprit: string;
  readonly height: number;
  readonly round: number;
  readonly vote: string;
  readonly committedAt: number;
}

/**
 * The key of committed evidence: one validator at one offence height. A second proof against the same
 * validator at the same height (another round, the other vote kind) proves nothing new and is refused,
 * so the store holds at most one entry per validator of a height.
 */
export function evidenceKeyOf(culprit: string, height: number): string {
  return `${culprit}/${height}`;
}

/**
 * The most committed evidence a chain keeps (and a snapshot holds): after block h it keeps offences
 * at heights h - limits.evidenceMaxAgeHeights .. h, at most one per validator of each (a manifest
 * names at most limits.validatorsMax). 32,896 entries of about 20 bytes: 0.6 MiB of a snapshot when
 * every validator equivocates at every height; one validator doing so keeps 257 (5 KiB).
 */
export const evidenceKeptMax = limits.validatorsMax * (limits.evidenceMaxAgeHeights + 1);

/** Why a command is refused while the fleet keeps limits.seenNoncesMax live commands (block rule and intake). */
export function commandsFullReason(live: number): string {
  return `the fleet keeps ${live} commands within their lifetime, the most it holds (${limits.seenNoncesMax}); send it again once some expire, and give commands a shorter --ttl`;
}

/** A manifest takes effect two heights after the block that commits it (CometBFT's H+2 rule). */
export const manifestDelayHeights = 2;

/** A manifest an admin's committed fleet.update named, not committed as a manifest tx yet. */
export interface PendingManifest {
  /** The manifest's hash (its signed bytes'). */
  readonly hash: Uint8Array;
  /** The fleet.update's nonce key (operator/nonce), which the decision log names it by. */
  readonly command: string;
}

/** Pending manifests kept; past it the oldest is forgotten (its fleet.update must be sent again). */
export const pendingManifestsMax = 8;

/** Why a manifest tx no fleet.update made pending may not enter a block. */
export function unannouncedManifestReason(m: Manifest): string {
  return `manifest epoch ${m.body.epoch} (${toHex(m.hash).slice(0, 16)}…) is not named by a fleet.update an admin committed and not yet applied; send it with \`murmurctl send fleet.update\``;
}

export class ChainState {
  /** Height of the last committed block; 0 before the first. */
  height = 0;
  lastHash: Uint8Array;
  lastTimeMs = 0;
  lastCertificate: CommitCertificate | null = null;
  /**
   * The commitment (snapshot.ts commitmentOf) of the state snapshot at the latest checkpoint height;
   * 32 zero bytes before the first. Every block carries it, so a certified block vouches for it.
   */
  appHash: Uint8Array;
  /** A checkpoint height whose commitment the shell has not handed back yet (recordCheckpoint). */
  checkpointDue: number | null = null;
  /**
   * Committed evidence whose offence is at most limits.evidenceMaxAgeHeights behind the chain, in the
   * order committed (newest last). Older evidence is forgotten at each block, alike on every node,
   * and refused as too old by the block rules, so it cannot be committed again as new.
   */
  readonly evidence: CommittedEvidence[] = [];
  /** The lowest offence height in `evidence` (Infinity when empty): a block forgets nothing below it. */
  private oldestEvidenceHeight = Infinity;
  private readonly manifests: { fromHeight: number; manifest: Manifest }[];
  /** Manifests committed fleet.updates named, oldest first: the only ones a manifest tx may carry (a
   *  manifest signed by the authority changes the fleet only through the audited command). */
  private readonly pendingManifests: PendingManifest[] = [];
  /** The manifests the last applied block committed, each with the fleet.update that named it (command
   *  '': none, in a block an older release committed) for the decision log; not state: the block's. */
  lastAppliedManifests: readonly (PendingManifest & { readonly epoch: number; readonly fromHeight: number })[] = [];
  private readonly nonces = new NonceTable();
  private readonly evidenceKeys = new Set<string>();
  /** Proofs of the last syncWindowHeights committed blocks, oldest first (the first at `recentFrom`):
   *  what block sync serves. Bytes rather than the decoded blocks: 256 of them per device, where a
   *  decoded block and its certificates are some 40 objects and views into the messages they came in. */
  private readonly recent: Uint8Array[] = [];
  private recentFrom = 0;

  constructor(
    genesis: Manifest,
    private readonly fleet: string,
    private readonly deps: CoreDeps,
    private readonly window: { readonly checkpointEveryHeights: number; readonly syncWindowHeights: number },
  ) {
    assert(window.checkpointEveryHeights >= 1, 'checkpointEveryHeights must be at least 1');
    assert(window.syncWindowHeights >= 1 && window.syncWindowHeights <= limits.recentBlocksMax, `syncWindowHeights must be 1..${limits.recentBlocksMax}`);
    this.manifests = [{ fromHeight: 1, manifest: genesis }];
    this.lastHash = new Uint8Array(32);
    this.appHash = new Uint8Array(32);
  }

  isCheckpoint(height: number): boolean {
    return height % this.window.checkpointEveryHeights === 0;
  }

  manifestAt(height: number): Manifest {
    // The newest first: a lookup at a recent height (every tx a node checks) stops at once.
    for (let i = this.manifests.length - 1; i > 0; i--) {
      const e = this.manifests[i] as { fromHeight: number; manifest: Manifest };
      if (e.fromHeight <= height) return e.manifest;
    }
    return (this.manifests[0] as { manifest: Manifest }).manifest;
  }

  latestEpoch(): number {
    return this.latestManifest().body.epoch;
  }

  /** The newest manifest this chain committed, in force now or two heights after its block. */
  latestManifest(): Manifest {
    return (this.manifests[this.manifests.length - 1] as { manifest: Manifest }).manifest;
  }

  /** Every manifest this chain holds, the genesis first and then by the height each came into force. */
  committedManifests(): readonly Manifest[] {
    return this.manifests.map((m) => m.manifest);
  }

  /** The fleet.update that named a manifest with this hash and is not applied yet, or undefined. */
  pendingManifest(hash: Uint8Array): PendingManifest | undefined {
    return this.pendingManifests.find((p) => bytesEqual(p.hash, hash));
  }

  powerOf(height: number, id: string): number {
    return this.manifestAt(height).validators.find((v) => v.id === id)?.power ?? 0;
  }

  nonceSeen(key: string): boolean {
    return this.nonces.has(key);
  }

  /** Commands committed and not yet expired (their nonces kept). */
  get liveCommands(): number {
    return this.nonces.size;
  }

  evidenceSeen(key: string): boolean {
    return this.evidenceKeys.has(key);
  }

  /** The proof (wire/proof.ts) of committed block `height`, while it is in the window. */
  recentProof(height: number): Uint8Array | undefined {
    return height >= this.recentFrom ? this.recent[height - this.recentFrom] : undefined;
  }

  verifyCert(cert: CommitCertificate, blockHash: Uint8Array): string | null {
    const r = verifyCertificate(cert, this.fleet, this.manifestAt(cert.height).validators, { backend: 'libsodium-wrappers', verify: this.deps.verify }, blockHash);
    return r.ok ? null : r.error;
  }

  /**
   * The rules for a tx entering a block at `timeMs` (also used to fill a proposal from the mempool).
   * `inBlock` holds the keys of the block's earlier txs and gains this one's; null for a tx on its own.
   */
  txProblem(tx: CheckedTx, timeMs: number, inBlock: Set<string> | null): string | null {
    switch (tx.kind) {
      case 'command':
        if (this.nonces.has(tx.nonceKey) || inBlock?.has(tx.nonceKey)) return `command ${tx.nonceKey} was seen before`;
        if (timeMs >= tx.expiresAt) return `command ${tx.nonceKey} expired at ${tx.expiresAt}`;
        if (tx.issuedAt > timeMs + limits.clockSkewMsMax) return `command ${tx.nonceKey} is issued in the future`;
        // The table keeps every command until it expires; a full one takes no more (the block's other
        // keys count too: a few hundred at most against the bound, and the rule stays one comparison).
        if (this.nonces.size + (inBlock?.size ?? 0) >= limits.seenNoncesMax) return commandsFullReason(this.nonces.size);
        inBlock?.add(tx.nonceKey);
        return null;
      case 'evidence': {
        const h = this.height + 1; // the block it would enter
        // Votes of a height after the block's prove nothing yet, and would never age out of the store.
        if (tx.height > h) return `evidence names height ${tx.height}, after the block it would enter (${h})`;
        // Evidence past the window is forgotten (apply), so it is refused: it would be committed again as new.
        if (h - tx.height > limits.evidenceMaxAgeHeights) return `evidence of height ${tx.height} is too old for block ${h} (at most ${limits.evidenceMaxAgeHeights} heights, limits.evidenceMaxAgeHeights)`;
        if (this.evidenceKeys.has(tx.key) || inBlock?.has(tx.key)) return `evidence against ${tx.culprit} at height ${tx.height} already committed`;
        if (this.powerOf(tx.height, tx.culprit) === 0) return `evidence names ${tx.culprit}, not a validator at height ${tx.height}`;
        inBlock?.add(tx.key);
        return null;
      }
      case 'manifest':
        if (tx.manifest.body.epoch <= this.latestEpoch() || inBlock?.has('manifest')) return `manifest epoch ${tx.manifest.body.epoch} is not newer than ${this.latestEpoch()}`;
        if (tx.manifest.body.fleet !== this.fleet) return 'manifest is for another fleet';
        if (this.pendingManifest(tx.manifest.hash) === undefined) return unannouncedManifestReason(tx.manifest);
        inBlock?.add('manifest');
        return null;
      case 'other':
        if (inBlock?.has(tx.key)) return 'duplicate tx';
        inBlock?.add(tx.key);
        return null;
    }
  }

  /** valid(v): returns why a block may not be committed at the next height, or null. A function of the
   *  chain and the block only, so every correct node judges a block alike; how its time compares with
   *  this node's clock is timeProblem's, asked only before prevoting a new proposal. */
  blockProblem(block: Block, txs: readonly (CheckedTx | RejectedTx)[]): string | null {
    assert(this.checkpointDue === null, `block rules asked before the checkpoint of height ${this.checkpointDue} was recorded`);
    const h = this.height + 1;
    if (block.height !== h) return `block height ${block.height}, expected ${h}`;
    if (!bytesEqual(block.parent, this.lastHash)) return 'block parent is not the last committed block';
    if (!bytesEqual(block.manifestHash, this.manifestAt(h).hash)) return 'block names a manifest not in force at its height';
    // Either the proposer's state differs from ours, or the fleet takes checkpoints at other heights:
    // the interval is set per device, and a device set otherwise refuses every block after one. A
    // release that keeps other state (evidence: README, "Upgrading a fleet whose chain holds committed
    // evidence") does too, until every validator runs one release.
    if (!bytesEqual(block.appHash, this.appHash)) return `block appHash differs from the commitment of the latest checkpoint (this device takes one every ${this.window.checkpointEveryHeights} heights, consensus.checkpointEveryHeights, which must be the same on every device of the fleet; and every validator must run a release that keeps the same state)`;
    if (block.timeMs <= this.lastTimeMs) return 'block time does not increase';
    if (h > 1) {
      if (block.lastCommit === null || block.lastCommit.height !== h - 1) return 'block lacks the certificate of its parent';
      const p = this.verifyCert(block.lastCommit, this.lastHash);
      if (p) return `lastCommit: ${p}`;
    } else if (block.lastCommit !== null) return 'the first block carries no lastCommit';
    const inBlock = new Set<string>();
    for (const tx of txs) {
      if (tx.kind === 'rejected') return `block holds a bad tx: ${tx.reason}`;
      const p = this.txProblem(tx, block.timeMs, inBlock);
      if (p) return p;
    }
    return null;
  }

  /**
   * Whether a proposed block's time is timely for this node: at most limits.clockSkewMsMax ahead of its
   * clock (so a proposer whose clock runs ahead cannot carry block time, and command expiry with it,
   * into the future). Asked before prevoting a new proposal only: a block that 2f+1 of the power
   * prevoted (a polka) or precommitted was found timely by at least f+1 correct nodes, and a node whose
   * own clock is slow must still lock on it and decide it, or it would fall out of consensus.
   */
  timeProblem(block: Block, nowMs: number): string | null {
    const ahead = block.timeMs - nowMs;
    return ahead > limits.clockSkewMsMax ? `block time is too far in the future: ${ahead} ms ahead of this node's clock (at most ${limits.clockSkewMsMax} ms; is this node's clock slow, or the proposer's fast?)` : null;
  }

  apply(c: CommittedBlock): void {
    assert(c.block.height === this.height + 1, `applying block ${c.block.height} at height ${this.height}`);
    assert(this.checkpointDue === null, `applying block ${c.block.height} before the checkpoint of height ${this.checkpointDue} was recorded`);
    if (this.lastAppliedManifests.length > 0) this.lastAppliedManifests = [];
    for (const tx of c.txs) {
      if (tx.kind === 'command') {
        this.nonces.add(tx.nonceKey, tx.expiresAt);
        // The mission machine accepts a fleet.update from an admin of the set in force (commands.ts);
        // the manifest tx it names is then expected. The epoch is checked when that tx comes.
        if (tx.fleetUpdate !== undefined) {
          const op = operatorOf(this.manifestAt(c.block.height), tx.operator);
          if (op !== undefined && hasRole(op, 'admin')) this.expectManifest({ hash: tx.fleetUpdate, command: tx.nonceKey });
        }
      } else if (tx.kind === 'evidence') {
        this.keepEvidence({ culprit: tx.culprit, height: tx.height, round: tx.round, vote: tx.vote, committedAt: c.block.height }, c.block.height);
      } else if (tx.kind === 'manifest') {
        const fromHeight = c.block.height + manifestDelayHeights;
        this.manifests.push({ fromHeight, manifest: tx.manifest });
        const i = this.pendingManifests.findIndex((p) => bytesEqual(p.hash, tx.manifest.hash));
        // Always one (the block rules): a WAL or block of an older release may hold one no fleet.update named.
        const named = i >= 0 ? this.pendingManifests.splice(i, 1)[0] : undefined;
        this.lastAppliedManifests = [...this.lastAppliedManifests, { hash: tx.manifest.hash, command: named?.command ?? '', epoch: tx.manifest.body.epoch, fromHeight }];
      }
    }
    // An expired command can never enter a block again, so its nonce need not be remembered.
    this.nonces.forgetBefore(c.block.timeMs - limits.clockSkewMsMax);
    this.forgetEvidenceBefore(c.block.height - limits.evidenceMaxAgeHeights);
    assert(this.evidence.length <= evidenceKeptMax, `${this.evidence.length} evidence entries kept, more than ${evidenceKeptMax}`);
    this.height = c.block.height;
    this.lastHash = c.hash;
    this.lastTimeMs = c.block.timeMs;
    this.lastCertificate = c.certificate;
    if (this.recent.length === 0) this.recentFrom = c.block.height;
    this.recent.push(c.proof);
    if (this.recent.length > this.window.syncWindowHeights) {
      this.recent.shift();
      this.recentFrom++;
    }
    if (this.isCheckpoint(c.block.height)) this.checkpointDue = c.block.height;
  }

  /** The shell encoded the state at the due checkpoint; blocks from here on carry its commitment. */
  recordCheckpoint(height: number, commitment: Uint8Array): void {
    assert(this.checkpointDue === height, `checkpoint ${height} recorded, but ${this.checkpointDue ?? 'none'} is due`);
    this.appHash = commitment;
    this.checkpointDue = null;
  }

  exportState(): ChainExport {
    return {
      height: this.height,
      lastHash: this.lastHash,
      lastTimeMs: this.lastTimeMs,
      manifests: this.manifests.map((m) => ({ fromHeight: m.fromHeight, bytes: m.manifest.bytes })),
      nonces: this.nonces.export(),
      evidence: [...this.evidence],
      pendingManifests: [...this.pendingManifests],
    };
  }

  private expectManifest(p: PendingManifest): void {
    if (this.pendingManifest(p.hash) !== undefined) return;
    this.pendingManifests.push(p);
    if (this.pendingManifests.length > pendingManifestsMax) this.pendingManifests.shift();
  }

  /**
   * Replaces the whole chain state with a snapshot's (at boot, or in state sync far ahead of this
   * one): `manifests` are the snapshot's, already verified against the authority; `commitment` is the
   * snapshot's own, which the blocks after it carry.
   */
  importState(s: ChainExport, manifests: readonly { fromHeight: number; manifest: Manifest }[], commitment: Uint8Array, lastCertificate: CommitCertificate | null): void {
    assert(s.height >= this.height, `a snapshot at height ${s.height} would move the chain back from ${this.height}`);
    assert(manifests.length > 0, 'a snapshot names at least the genesis manifest');
    this.height = s.height;
    this.lastHash = s.lastHash;
    this.lastTimeMs = s.lastTimeMs;
    this.lastCertificate = lastCertificate;
    this.appHash = commitment;
    this.checkpointDue = null;
    this.recent.length = 0;
    this.manifests.length = 0;
    this.manifests.push(...manifests);
    this.nonces.load(s.nonces);
    this.evidence.length = 0;
    this.evidenceKeys.clear();
    this.oldestEvidenceHeight = Infinity;
    // A snapshot written before evidence was forgotten holds all of it (and one entry per round and
    // vote kind): kept as blocks would have kept it, so every node that loads one keeps the same.
    for (const e of s.evidence) this.keepEvidence(e, s.height);
    this.pendingManifests.length = 0;
    this.pendingManifests.push(...(s.pendingManifests ?? []));
  }

  /**
   * Adds evidence the block at `height` committed, unless it repeats a kept key or lies outside the
   * window. A block that passed the rules (txProblem) never has such; blocks and snapshots committed
   * before evidence was bounded do (replayed from a WAL, loaded at boot or by state sync), and skipping
   * them here leaves every node with what the rules would have let in.
   */
  private keepEvidence(e: CommittedEvidence, height: number): void {
    const key = evidenceKeyOf(e.culprit, e.height);
    if (this.evidenceKeys.has(key) || e.height > height || height - e.height > limits.evidenceMaxAgeHeights) return;
    this.evidenceKeys.add(key);
    this.evidence.push(e);
    this.oldestEvidenceHeight = Math.min(this.oldestEvidenceHeight, e.height);
  }

  /** Forgets evidence of offence heights below `height` (their keys too: the rules refuse them as too old). */
  private forgetEvidenceBefore(height: number): void {
    if (this.oldestEvidenceHeight >= height) return;
    let kept = 0;
    this.oldestEvidenceHeight = Infinity;
    for (const e of this.evidence) {
      if (e.height < height) {
        this.evidenceKeys.delete(evidenceKeyOf(e.culprit, e.height));
        continue;
      }
      this.evidence[kept++] = e;
      this.oldestEvidenceHeight = Math.min(this.oldestEvidenceHeight, e.height);
    }
    this.evidence.length = kept;
  }

  describe(): string {
    return `height ${this.height} ${toHex(this.lastHash).slice(0, 12)}`;
  }
}
