// The consensus core's state (Algorithm 1's variables plus the committed chain, mempool and state
// sync), and the few functions the shell calls outside `step`: replaying a commit from the WAL,
// handing back a checkpoint's snapshot, restoring the persisted round.

import { limits } from '../lib/limits.js';
import type { Manifest } from '../manifest/manifest.js';
import type { DecodedBlock } from '../wire/block.js';
import { ChainState } from './chain-state.js';
import { LightFollowing } from './light-follower.js';
import { Mempool, txKey } from './mempool.js';
import { proposerOf } from './proposer.js';
import { chunkHashesOf, commitmentOf } from './snapshot.js';
import { addServed, noteCommitted, StateSync } from './state-sync.js';
import type { CheckedTx, CommittedBlock, ConsensusConfig, CoreDeps, Input, RejectedTx, SignedPosition, Step, VerifiedProposal, VoteKind, WalRecord } from './types.js';
import { VoteSet } from './vote-set.js';

/** Transaction bytes in one block at most: the block limit less room for the header and last commit. */
export const blockTxBytesMax = limits.blockBytesMax - 65_536;

/** A block value this node has seen, with its edge-checked txs. */
export interface Candidate {
  readonly block: DecodedBlock;
  readonly value: string;
  readonly txs: readonly (CheckedTx | RejectedTx)[];
}

export interface CoreParams {
  readonly id: string;
  readonly fleet: string;
  readonly genesis: Manifest;
  readonly config: ConsensusConfig;
  readonly deps: CoreDeps;
}

export class ConsensusState {
  readonly chain: ChainState;
  readonly mempool = new Mempool();
  readonly sync = new StateSync();
  height = 1;
  round = 0;
  step: Step = 'propose';
  /** Between a commit and the start of the next height (commitWaitMs). */
  waiting = false;
  /** When the latest height brought forward for an operator command started (this node's clock). The
   *  next one starts no sooner than commitWaitMs after it, so a lone command is proposed at once and a
   *  stream of them gathers into blocks at most one per commit wait. See decide in core.ts. */
  commandStartAtMs = -Infinity;
  /** The height that start brought forward, and commandStartAtMs before it: restored when that height's
   *  block carried no command (decide in core.ts). */
  commandStartHeight = -1;
  commandStartBeforeMs = -Infinity;
  /** When that was last restored: at most once per commit wait. */
  commandRestoredAtMs = -Infinity;
  /** This commit wait already has a next-height timer for now (set by a command's arrival). */
  startingEarly = false;
  /** When this node last committed a block (its clock): a peer's status one height behind that block
   *  is served only once the peer had a gossip interval to hear the votes itself. */
  committedAtMs = -Infinity;
  lockedRound = -1;
  lockedValue: Candidate | null = null;
  validRound = -1;
  validValue: Candidate | null = null;
  votes: VoteSet;
  /** The vote sets of the last few heights left (limits.lateVoteHeightsMax, oldest first): a vote for a
   *  height decided here already can still be the second half of an equivocation (a twin that lags, a
   *  liar whose other vote was slower), and is checked against them. */
  readonly pastVotes: { readonly height: number; readonly votes: VoteSet }[] = [];
  proposals = new Map<number, VerifiedProposal>();
  candidates = new Map<string, Candidate>();
  validity = new Map<string, string | null>();
  /** How far each of the last few blocks decided live (on precommits, not caught up by block sync) was
   *  ahead of this node's clock at its decision, oldest first (clockSamplesMax): the median says whether
   *  this node's clock is off the fleet's (core.ts clockAheadOfNode). */
  readonly clockSamples: number[] = [];
  /** For each of clockSamples whose block's time was carried on from its parent's, the proposer whose
   *  clock set it (timeSetBy then); null for a block whose time was its own proposer's clock. */
  readonly clockSetters: (string | null)[] = [];
  /** The proposer of the latest decided block whose time its proposer's clock set, not the time
   *  carried on from the block before (lastTimeMs + 1, a proposer whose clock was behind it); null
   *  before one was decided here. A clock running ahead of the others drags block time with it. */
  timeSetBy: string | null = null;
  /** When an untimely proposal was last logged (core.ts validAndTimely). */
  untimelyLoggedAtMs = -Infinity;
  timersSet = new Set<string>();
  line36Done = new Set<number>();
  /** This node's own signed proposals and votes of the current height (newest last, a few rounds' worth),
   *  re-broadcast on the gossip timer for peers that lost them. */
  ownEnvelopes: { round: number; envelope: Uint8Array }[] = [];
  future: Input[] = [];
  evidenceSent = new Set<string>();
  /** Newest (height, round) status per peer (bounded by the manifest size). */
  peers = new Map<string, { height: number; round: number }>();
  /** When each peer was last sent blocks (rate limit; bounded by the fleet size, cleared on overflow). */
  servedAt = new Map<string, number>();
  /**
   * Transaction bytes this node puts in a block it proposes. The shell lowers it while consensus rides
   * only a slow radio (Router.blockTxBytesHint): a block arrives whole only when all its fragments do,
   * so at 2% packet loss a 7 KB proposal (29 radio packets) reaches a peer 55% of the time and rounds
   * time out, while 1.4 KB reaches it 90% of the time. Never consensus-critical: any size up to
   * limits.blockBytesMax is valid for everyone else.
   */
  txBytesBudget = blockTxBytesMax;
  /** The height a follower worked on at its last gossip tick: no progress for a whole interval while a
   *  peer is ahead means the votes are not reaching it, and it asks for blocks. */
  heightAtGossip = -1;
  /** Block-sync answers and announcements for heights after the next one, by height (they arrived out
   *  of order: one answer is several messages, and jitter or a radio reorders them). Unverified; applied
   *  in turn, each checked like any other. At most limits.syncAheadBlocksMax. */
  readonly syncAhead = new Map<number, Extract<Input, { type: 'sync-response' }>>();
  /** Where a light follower takes its blocks from (light-follower.ts). */
  readonly light = new LightFollowing();

  constructor(readonly p: CoreParams) {
    this.chain = new ChainState(p.genesis, p.fleet, p.deps, p.config);
    this.votes = this.newVoteSet();
  }

  /**
   * Drops the mempool txs the validator set of the current height refuses (a command of an operator it
   * removed, telemetry of a device it dropped), when a new set comes into force or a snapshot was
   * installed. Every block holding one is refused, so a proposer drops them when it builds one
   * (buildBlock); a follower never builds one, and kept them until they expired (telemetry: never).
   */
  dropRefused(): void {
    const check = this.p.deps.checkTx;
    if (!check) return;
    const refused = [...this.mempool.values()].filter((tx) => check(tx.bytes, this.height).kind === 'rejected');
    for (const tx of refused) this.mempool.remove(txKey(tx));
  }

  /** Resets the per-height state for the height after the chain's last block (Algorithm 1, line 54). */
  enterNextHeight(): void {
    const left = this.height;
    this.height = this.chain.height + 1;
    this.round = 0;
    this.step = 'propose';
    this.lockedRound = -1;
    this.lockedValue = null;
    this.validRound = -1;
    this.validValue = null;
    this.pastVotes.push({ height: left, votes: this.votes });
    if (this.pastVotes.length > limits.lateVoteHeightsMax) this.pastVotes.shift();
    this.votes = this.newVoteSet();
    this.proposals.clear();
    this.candidates.clear();
    this.validity.clear();
    this.timersSet.clear();
    this.line36Done.clear();
    this.startingEarly = false;
    this.ownEnvelopes = [];
  }

  newVoteSet(): VoteSet {
    const h = this.height;
    return new VoteSet((id) => this.chain.powerOf(h, id));
  }

  totalPower(): number {
    return this.chain.manifestAt(this.height).totalPower;
  }

  isValidator(): boolean {
    return this.chain.powerOf(this.height, this.p.id) > 0;
  }

  /**
   * Whether a vote with this position, sender and value (read unverified) could change anything here:
   * what core.ts onVote and onLateVote would do with it once verified, without the check. During the
   * commit wait a vote of the new height is kept for its start (accepts) as the vote set would take it
   * then (futureTakes).
   */
  takesVote(kind: VoteKind, height: number, round: number, from: string, value: string): boolean {
    if (height === this.height) {
      if (this.waiting) return this.futureTakes(kind, round, from, value);
      if (round > this.round + limits.consensusRoundsAheadMax || this.chain.powerOf(height, from) === 0) return false;
      return this.votes.wouldTake(kind, round, from, value);
    }
    const past = this.pastVotes.find((p) => p.height === height);
    if (past === undefined || past.votes.tally(kind, round) === undefined || this.chain.powerOf(height, from) === 0) return false;
    return past.votes.wouldTake(kind, round, from, value);
  }

  /**
   * Whether a proposal of this position (read unverified, from the round's proposer: the edge checked)
   * could change anything here. During the commit wait the new height's buffer keeps the first of each
   * round only: a round has one proposer, whose first proposal is the one that counts, and before, one
   * proposer's distinct proposals each cost a signature check and a decoded block and filled the
   * buffer (600 taken, 512 kept), whose overflow then dropped the honest validators' votes unread.
   */
  takesProposal(height: number, round: number): boolean {
    if (height !== this.height || !this.waiting) return true;
    if (this.future.length >= limits.futureHeightMessagesMax) return false;
    return !this.future.some((m) => m.type === 'proposal' && m.msg.round === round);
  }

  /**
   * During the commit wait, whether the new height's buffer (`future`, kept for its start) would keep
   * this vote: a validator's of that height, within the round window, with room left, not a copy of a
   * vote held and at most the sender's second value at its position (a third, an equivocator's, would
   * count only once a proposal pins it: its polka is relayed then, relayPolka). Before, any vote with
   * room left was kept, each after a signature check: one validator's distinct votes cost every
   * receiver 512 checks a height and filled the buffer, whose overflow then dropped the honest
   * validators' proposal and votes for the height unread (the protocol review of 2026-12-07).
   */
  private futureTakes(kind: VoteKind, round: number, from: string, value: string): boolean {
    if (this.future.length >= limits.futureHeightMessagesMax || round > this.round + limits.consensusRoundsAheadMax || this.chain.powerOf(this.height, from) === 0) return false;
    let values = 0;
    for (const m of this.future) {
      if (m.type !== 'vote' || m.msg.kind !== kind || m.msg.round !== round || m.msg.from !== from) continue;
      if (m.msg.value === value || ++values >= 2) return false;
    }
    return true;
  }

  proposer(round: number): string {
    return proposerOf(this.chain.manifestAt(this.height).validators, this.height, round);
  }
}

/** A commit the shell replays from its WAL at boot: applied like a decided block, without effects. */
export function applyReplayed(s: ConsensusState, c: CommittedBlock, now: number): void {
  s.chain.apply(c);
  noteCommitted(s, c, now);
  s.enterNextHeight();
}

/**
 * The shell's answer to a 'checkpoint' effect (or to a replayed checkpoint height): the encoded state
 * snapshot at `height`. Its commitment becomes the appHash of the blocks that follow, and the
 * snapshot is kept to serve state sync once the next block proves it.
 */
export function recordCheckpoint(s: ConsensusState, height: number, bytes: Uint8Array): Uint8Array {
  const chunkHashes = chunkHashesOf(bytes, s.p.deps.hash, s.sync.served[s.sync.served.length - 1]);
  const commitment = commitmentOf(chunkHashes, s.p.deps.hash);
  s.chain.recordCheckpoint(height, commitment);
  addServed(s, { height, bytes, chunkHashes, commitment, proof: null });
  return commitment;
}

/** The order of the steps within a round. */
export const stepRank: Record<Step, number> = { propose: 0, prevote: 1, precommit: 2 };

/**
 * Brings the restored round state up to what the node signed at this height (its signer state, oldest
 * first). Most round records are written ahead of each signature without an fsync of their own
 * (NodeShell.persist), so after a crash the last durable one may be older than the last signature: the
 * node is put at the position it last signed (the signer guard refuses anything before it anyway). A
 * precommit for a block in round r is a lock on that block in r and a valid value (line 36 sets all
 * three in the step that precommits). The round record that set them was fsynced with the block before
 * that precommit was signed, so the WAL normally restores them with the block; the signer state is a
 * second source of the lock for a WAL that lost it. Without the block the lock holds with no value
 * (lockedValue null): it refuses every other value, and its own too unless a proposal brings a proof of
 * lock change from round r or later (line 28).
 */
export function restoreSigned(s: ConsensusState, signed: readonly SignedPosition[]): void {
  for (const p of signed) {
    if (p.round > s.round || (p.round === s.round && stepRank[p.step] > stepRank[s.step])) {
      s.round = p.round;
      s.step = p.step;
    }
  }
  restoreSignedLock(s, signed);
}

/**
 * The lock (and valid value) of restoreSigned alone, for a node that reaches the height of its signer
 * state after it started (its WAL lost the commit before it: NodeShell.reachSignedHeight). Its round
 * and step stay where the core put them: its timers run for those, and it skips ahead to its peers' round
 * as any node does (f+1 of the power there, its own votes of that round fed back among them).
 */
export function restoreSignedLock(s: ConsensusState, signed: readonly SignedPosition[]): void {
  for (const p of signed) {
    if (p.step !== 'precommit' || p.blockHash === null) continue;
    const value = s.candidates.get(p.blockHash) ?? null;
    if (p.round > s.lockedRound) {
      s.lockedRound = p.round;
      s.lockedValue = value;
    }
    if (p.round > s.validRound) {
      s.validRound = p.round;
      s.validValue = value;
    }
  }
}

/** Restores the round state a node had persisted before a crash (the shell reads it from the WAL). */
export function restoreRound(s: ConsensusState, rec: Extract<WalRecord, { t: 'round' }>, decode: (bytes: Uint8Array) => Candidate | null): void {
  if (rec.height !== s.height) return;
  s.round = rec.round;
  s.step = rec.step;
  s.lockedRound = rec.lockedRound;
  s.lockedValue = rec.lockedBlock ? decode(rec.lockedBlock) : null;
  s.validRound = rec.validRound;
  s.validValue = rec.validBlock ? decode(rec.validBlock) : null;
  if (s.lockedValue) s.candidates.set(s.lockedValue.value, s.lockedValue);
  if (s.validValue) s.candidates.set(s.validValue.value, s.validValue);
}
