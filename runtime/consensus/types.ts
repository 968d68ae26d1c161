// The closed vocabulary of the consensus core: what goes in (verified messages, time, timer fires)
// and what comes out (persist, sign, send, schedule, commit). The shell turns envelopes into these
// inputs (verify at the edge, STYLE.md §4) and executes the effects in order.

import type { Block, DecodedBlock } from '../wire/block.js';
import type { CommitCertificate } from '../wire/certificate.js';
import type { Manifest } from '../manifest/manifest.js';

export type VoteKind = 'prevote' | 'precommit';
export type Step = 'propose' | 'prevote' | 'precommit';
/** A position this node signed at the current height, as its signer state recorded it (restoreSigned):
 *  a proposal is step 'propose'; blockHash is the hex hash a vote was for, null for nil or a proposal. */
export interface SignedPosition {
  readonly round: number;
  readonly step: Step;
  readonly blockHash: string | null;
}
export type TimerKind = 'propose' | 'prevote' | 'precommit' | 'gossip' | 'next-height';

/** A transaction inside a block after the shell checked its envelope (signature, role, fleet). */
export type CheckedTx =
  | {
      readonly kind: 'command';
      readonly bytes: Uint8Array;
      readonly operator: string;
      readonly nonceKey: string;
      readonly issuedAt: number;
      readonly expiresAt: number;
      /** A fleet.update's: the hash of the manifest it carries (args.manifest, its only argument), which
       *  the chain then expects as a manifest tx (ChainState.pendingManifests) if an admin sent it. */
      readonly fleetUpdate?: Uint8Array;
    }
  | { readonly kind: 'evidence'; readonly bytes: Uint8Array; readonly culprit: string; readonly height: number; readonly round: number; readonly vote: VoteKind; readonly key: string }
  | { readonly kind: 'manifest'; readonly bytes: Uint8Array; readonly manifest: Manifest; readonly key: string }
  /** An attestation or device telemetry; `sender`: the device its signature proves (mempool caps per device). */
  | { readonly kind: 'other'; readonly bytes: Uint8Array; readonly key: string; readonly sender?: string };

/** A tx that failed the edge checks; a block holding one is invalid. */
export interface RejectedTx {
  readonly kind: 'rejected';
  readonly reason: string;
  /** What kind of failure, when the edge can tell (runtime/node/edge.ts DropCode): a device counts and
   *  logs drops by it, and command intake tells a forged or stranger's command from a member's. */
  readonly code?: string;
}

export interface VerifiedVote {
  readonly kind: VoteKind;
  readonly from: string;
  readonly height: number;
  readonly round: number;
  readonly blockHash: Uint8Array | null;
  /** Hex of blockHash or 'nil': the key votes are tallied by. */
  readonly value: string;
  readonly signature: Uint8Array;
  /** The signed envelope exactly as received, for re-broadcast and evidence. */
  readonly envelope: Uint8Array;
}

export interface VerifiedProposal {
  readonly from: string;
  readonly height: number;
  readonly round: number;
  readonly validRound: number;
  readonly block: DecodedBlock;
  readonly value: string;
  /** One entry per block tx, in order. */
  readonly txs: readonly (CheckedTx | RejectedTx)[];
  readonly envelope: Uint8Array;
}

export interface CommittedBlock {
  readonly block: Block;
  readonly bytes: Uint8Array;
  readonly hash: Uint8Array;
  readonly certificate: CommitCertificate;
  readonly txs: readonly CheckedTx[];
  /** CBOR [block bytes, certificate] (wire/proof.ts), made once per block: what the WAL's commit record
   *  holds, block sync serves, an announcement carries and the proof topic publishes. */
  readonly proof: Uint8Array;
}

export type Input =
  | { readonly type: 'start'; readonly now: number }
  | { readonly type: 'timeout'; readonly now: number; readonly timer: TimerKind; readonly height: number; readonly round: number }
  | { readonly type: 'proposal'; readonly now: number; readonly msg: VerifiedProposal }
  | { readonly type: 'vote'; readonly now: number; readonly msg: VerifiedVote }
  | { readonly type: 'status'; readonly now: number; readonly from: string; readonly height: number; readonly round: number }
  | { readonly type: 'sync-request'; readonly now: number; readonly from: string; readonly height: number }
  /** `proof`: the body as received when it is a block proof as encodeProof writes it (the certificate's
   *  bytes are then kept as they came instead of encoded again); absent, the proof is encoded at commit. */
  | { readonly type: 'sync-response'; readonly now: number; readonly from: string; readonly block: DecodedBlock; readonly txs: readonly (CheckedTx | RejectedTx)[]; readonly certificate: CommitCertificate; readonly announced?: boolean; readonly proof?: Uint8Array }
  /** A command, evidence or manifest update for the mempool (checked at the edge). */
  | { readonly type: 'tx'; readonly now: number; readonly tx: CheckedTx }
  // State sync (state-sync.ts): a peer asks for a snapshot above its height, offers one, asks for
  // chunks of one, or sends a chunk.
  | { readonly type: 'snapshot-request'; readonly now: number; readonly from: string; readonly height: number; readonly nonce: number }
  | { readonly type: 'snapshot-offer'; readonly now: number; readonly offer: SnapshotOffer }
  | { readonly type: 'chunk-request'; readonly now: number; readonly from: string; readonly height: number; readonly first: number; readonly count: number; readonly nonce: number }
  | { readonly type: 'snapshot-chunk'; readonly now: number; readonly from: string; readonly height: number; readonly index: number; readonly bytes: Uint8Array };

/** A snapshot offer after the edge checks: envelope signature, proof block decoded, manifest verified. */
export interface SnapshotOffer {
  readonly from: string;
  readonly height: number;
  readonly chunkHashes: readonly Uint8Array[];
  readonly proofBlock: DecodedBlock;
  readonly proofCertificate: CommitCertificate;
  /** The authority-verified manifest the offer names, or why it did not verify. */
  readonly manifest: Manifest | string;
  /** The nonce of the snapshot request it answers. */
  readonly nonce: number;
}

/** A snapshot whose every chunk and whole matched the certified commitment, ready to install. */
export interface VerifiedSnapshot {
  readonly height: number;
  /** The encoded state snapshot (snapshot.ts), exactly the bytes the commitment covers. */
  readonly bytes: Uint8Array;
  /** The application's part, for the shell to hand to the application. */
  readonly app: Uint8Array;
  /** The certificate of block `height` (the proof block's lastCommit), so this node can propose next. */
  readonly lastCertificate: CommitCertificate;
}

/** The write-ahead log records the core asks the shell to make durable before it acts. */
export type WalRecord =
  /** `proof`: the block and certificate as one CBOR array (CommittedBlock.proof); the record holds its two items. */
  | { readonly t: 'commit'; readonly blockBytes: Uint8Array; readonly certificate: CommitCertificate; readonly proof: Uint8Array }
  | { readonly t: 'round'; readonly height: number; readonly round: number; readonly step: Step; readonly lockedRound: number; readonly lockedBlock: Uint8Array | null; readonly validRound: number; readonly validBlock: Uint8Array | null };

export type Effect =
  | { readonly type: 'persist'; readonly record: WalRecord }
  | { readonly type: 'sign-proposal'; readonly height: number; readonly round: number; readonly validRound: number; readonly blockBytes: Uint8Array }
  | { readonly type: 'sign-vote'; readonly kind: VoteKind; readonly height: number; readonly round: number; readonly blockHash: Uint8Array | null }
  /** Send a body the shell seals with the node key (not a vote or proposal, so no signer guard). */
  | { readonly type: 'send'; readonly to: string | null; readonly kind: SendKind; readonly body: Uint8Array }
  /** Forward envelopes exactly as received or as signed before (gossip, re-broadcast). */
  | { readonly type: 'relay'; readonly to: string | null; readonly envelopes: readonly Uint8Array[] }
  | { readonly type: 'schedule'; readonly timer: TimerKind; readonly height: number; readonly round: number; readonly atMs: number }
  | { readonly type: 'commit'; readonly committed: CommittedBlock }
  /**
   * Block `height` was a checkpoint height: the shell encodes the chain and application state
   * (snapshot.ts) and hands the bytes back with recordCheckpoint before anything else happens.
   */
  | { readonly type: 'checkpoint'; readonly height: number }
  /** The core has restored its chain from a verified snapshot: the shell persists it and imports the app part. */
  | { readonly type: 'install-snapshot'; readonly snapshot: VerifiedSnapshot }
  | { readonly type: 'log'; readonly level: 'info' | 'warn'; readonly message: string }
  /** A block this validator decided by votes, with its certificate (a sync-response body), for the
   *  followers that take their blocks from it (light-follower.ts). */
  | { readonly type: 'announce'; readonly body: Uint8Array }
  /** Where this node hears consensus from: null, every peer (a validator); else the validators whose
   *  announced blocks it takes (a light follower). */
  | { readonly type: 'follow'; readonly sources: readonly string[] | null };

export type SendKind = 'status' | 'sync-request' | 'sync-response' | 'evidence' | 'snapshot-request' | 'snapshot-offer' | 'chunk-request' | 'snapshot-chunk';

/** Timeouts grow linearly with the round (Tendermint paper §3, timeoutX(r) = initX + r * deltaX). */
export interface ConsensusConfig {
  readonly proposeMs: number;
  readonly proposeDeltaMs: number;
  readonly prevoteMs: number;
  readonly prevoteDeltaMs: number;
  readonly precommitMs: number;
  readonly precommitDeltaMs: number;
  /** Pause after a commit before the next height starts, so commands can gather into one block. An
   *  operator command cuts it short: the next height starts when the command is there, but no sooner
   *  than this long after the last height so started. A lone command costs the vote rounds, not the
   *  block cadence; a stream of commands still gathers into blocks at most one per commit wait. */
  readonly commitWaitMs: number;
  /** How often latest votes and status are re-broadcast (links may drop anything). */
  readonly gossipMs: number;
  /**
   * Every this many heights each node encodes its state (chain and application) as a snapshot, and the
   * blocks after it carry the snapshot's commitment as appHash. Fleet-wide: every node must use the
   * same value, or their blocks' appHash differ.
   */
  readonly checkpointEveryHeights: number;
  /**
   * Committed blocks kept in memory to serve block sync (at most limits.recentBlocksMax). A node that
   * sees peers further ahead than this asks for a snapshot instead (state sync).
   */
  readonly syncWindowHeights: number;
  /**
   * How many validators a follower takes committed blocks from (light-follower.ts) instead of hearing
   * every vote; 0: followers hear every vote, as validators do. More than f of them and no f faulty
   * validators can slow a follower down; fewer, and a follower whose sources fail falls back on block
   * sync after lightStallGossips gossip intervals.
   */
  readonly followerSources: number;
  /**
   * A node about to sign its first vote after a gap (just caught up, or a fresh data directory) looks
   * in the certificates of the last committed blocks proposed within this many ms of its clock for
   * precommits with its key that it never signed, and stops if it finds one (runtime/node/shell.ts):
   * another process holds its key, or it lost its signer state while those votes are recent. Longer
   * catches copies that start later, and keeps a validator restored without its signer state stopped
   * longer; 0 turns the check off. Read by the node shell, not the core.
   */
  readonly ownVotesWindowMs: number;
}

/** A device writes its checkpoint to disk and empties its WAL every this many checkpoints by default
 *  (512 heights at the default interval): bounded disk. fleet-sim's nodes do the same. */
export const defaultSnapshotCheckpoints = 16;

export const defaultConsensusConfig: ConsensusConfig = {
  proposeMs: 1_000,
  proposeDeltaMs: 500,
  prevoteMs: 500,
  prevoteDeltaMs: 250,
  precommitMs: 500,
  precommitDeltaMs: 250,
  commitWaitMs: 100,
  gossipMs: 500,
  checkpointEveryHeights: 32,
  syncWindowHeights: 256,
  followerSources: 2,
  ownVotesWindowMs: 10_000,
};

/** Pure helpers the core is handed (hashing and signature checks are deterministic functions). */
export interface CoreDeps {
  readonly hash: (bytes: Uint8Array) => Uint8Array;
  readonly verify: (signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array) => boolean;
  /** The edge's verdicts on a block's txs against the chain as it is now (the shell's EdgeVerifier).
   *  A block kept ahead of the chain is checked again with it when its turn comes: checked on arrival,
   *  a tx of a height past what the chain knew may have met the wrong validator set. Absent: the
   *  verdicts of arrival stand. */
  readonly checkTxs?: (block: DecodedBlock) => readonly (CheckedTx | RejectedTx)[];
  /** The edge's verdict on one tx against the validator set of `height`. A proposer asks it for each
   *  mempool tx it puts in a block: a tx admitted under a set that a change has since replaced (from an
   *  operator or device the new set dropped) would make every node refuse the block, round after
   *  round, and is dropped instead. Absent: the verdict of admission stands. */
  readonly checkTx?: (bytes: Uint8Array, height: number) => CheckedTx | RejectedTx;
}
