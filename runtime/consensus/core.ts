// The Tendermint consensus core (Buchman, Kwon, Milosevic 2018, "The latest gossip on BFT consensus",
// Algorithm 1), as a pure step function: step(state, input) -> {state, effects}. "2f+1" reads as
// "more than 2/3 of the voting power" and "f+1" as "more than 1/3". No clock, I/O or randomness here.

import { toHex } from '../lib/bytes.js';
import { limits } from '../lib/limits.js';
import { encodeBlock } from '../wire/block.js';
import type { CertificateSignature } from '../wire/certificate.js';
import { encodeEvidenceBody, encodeStatusBody } from '../wire/consensus-aux.js';
import { encodeProof } from '../wire/proof.js';
import { blockTxBytesMax, ConsensusState, stepRank, type Candidate, type CoreParams } from './consensus-state.js';
import { txKey } from './mempool.js';
import { announce, askForBlocks, askForGap, follow, isLight, lightGossip, noteBlockFrom } from './light-follower.js';
import { onChunk, onOffer, syncTick } from './snapshot-fetch.js';
import { noteCommitted, onChunkRequest, onSnapshotRequest } from './state-sync.js';
import { evidenceKeyOf } from './chain-state.js';
import type { CheckedTx, CommittedBlock, Effect, Input, TimerKind, VerifiedProposal, VerifiedVote, VoteKind, WalRecord } from './types.js';
import { VoteSet } from './vote-set.js';

export { applyReplayed, blockTxBytesMax, ConsensusState, recordCheckpoint, restoreRound, restoreSigned, restoreSignedLock, stepRank, type Candidate, type CoreParams } from './consensus-state.js';

const evaluationPassesMax = 16;

export function createConsensus(p: CoreParams): ConsensusState {
  return new ConsensusState(p);
}

/** The pure transition: the state object is owned by the caller's shell and updated in place. */
export function step(s: ConsensusState, input: Input): { state: ConsensusState; effects: Effect[] } {
  const fx: Effect[] = [];
  handle(s, input, fx);
  if (!s.waiting) evaluate(s, input.now, fx);
  return { state: s, effects: fx };
}

const over23 = (power: number, total: number): boolean => 3 * power > 2 * total;
const over13 = (power: number, total: number): boolean => 3 * power > total;

function handle(s: ConsensusState, input: Input, fx: Effect[]): void {
  switch (input.type) {
    case 'start': {
      s.sync.progressAtMs = input.now;
      // Request nonces start from the clock, so a restarted node's requests differ from its last life's.
      s.sync.nonce = Math.max(s.sync.nonce, Math.floor(input.now));
      schedule(s, fx, 'gossip', s.height, 0, input.now + s.p.config.gossipMs);
      // After a restart the persisted round and step hold: never vote twice in one step.
      const restored = s.step;
      startRound(s, s.round, input.now, fx);
      if (restored !== 'propose') s.step = restored;
      follow(s, input.now, fx);
      return;
    }
    case 'timeout':
      onTimeout(s, input.timer, input.height, input.round, input.now, fx);
      return;
    case 'proposal':
      return onProposal(s, input.msg, input, fx);
    case 'vote':
      return onVote(s, input.msg, input, fx);
    case 'status':
      if (input.from === s.p.id) return; // its own id: a copy of this device (NodeShell), not a peer
      if (s.peers.size < limits.validatorsMax * 2 || s.peers.has(input.from)) s.peers.set(input.from, { height: input.height, round: input.round });
      // A peer working on the height this node committed just now is most likely hearing its votes
      // too (its status left before they arrived); on a slow radio sending it the block costs airtime
      // the next height needs. Two heights behind, or still one a gossip interval on, it gets blocks.
      if (input.height < s.chain.height || input.now - s.committedAtMs >= s.p.config.gossipMs) serveSync(s, input.from, input.height, input.now, fx);
      return;
    case 'sync-request':
      serveSync(s, input.from, input.height, input.now, fx);
      return;
    case 'sync-response':
      return onSyncResponse(s, input, fx);
    case 'tx':
      if (s.chain.txProblem(input.tx, input.now, null) !== null || s.mempool.add(input.tx) !== null) return;
      if (input.tx.kind === 'command' && s.waiting && !s.startingEarly && !isLight(s)) startEarly(s, input.now, fx);
      return;
    case 'snapshot-request':
      return onSnapshotRequest(s, input.from, input.height, input.nonce, input.now, fx);
    case 'snapshot-offer':
      return onOffer(s, input.offer, input.now, fx);
    case 'chunk-request':
      return onChunkRequest(s, input.from, input.height, input.first, input.count, input.nonce, input.now, fx);
    case 'snapshot-chunk':
      return onChunk(s, input.from, input.height, input.index, input.bytes, input.now, fx);
  }
}

function schedule(_s: ConsensusState, fx: Effect[], timer: TimerKind, height: number, round: number, atMs: number): void {
  fx.push({ type: 'schedule', timer, height, round, atMs });
}

function roundRecord(s: ConsensusState): WalRecord {
  return {
    t: 'round',
    height: s.height,
    round: s.round,
    step: s.step,
    lockedRound: s.lockedRound,
    lockedBlock: s.lockedValue?.block.bytes ?? null,
    validRound: s.validRound,
    validBlock: s.validValue?.block.bytes ?? null,
  };
}

/** Algorithm 1, StartRound (line 11). */
function startRound(s: ConsensusState, round: number, now: number, fx: Effect[]): void {
  s.round = round;
  s.step = 'propose';
  s.waiting = false;
  const c = s.p.config;
  if (s.isValidator() && s.proposer(round) === s.p.id) {
    const blockBytes = s.validValue ? s.validValue.block.bytes : buildBlock(s, now);
    fx.push({ type: 'persist', record: roundRecord(s) });
    fx.push({ type: 'sign-proposal', height: s.height, round, validRound: s.validValue ? s.validRound : -1, blockBytes });
    // A POLC travels with a re-proposed value so others can accept it (line 28) even if they missed it.
    if (s.validValue) relayPolka(s, s.validRound, s.validValue.value, null, fx);
  }
  // A light follower votes in no round: a round timer would only move its step. It leaves the height
  // when the next certified block comes (light-follower.ts).
  if (!isLight(s)) schedule(s, fx, 'propose', s.height, round, now + c.proposeMs + round * c.proposeDeltaMs);
}

function buildBlock(s: ConsensusState, now: number): Uint8Array {
  const timeMs = Math.max(Math.floor(now), s.chain.lastTimeMs + 1);
  const inBlock = new Set<string>();
  const txs: Uint8Array[] = [];
  const stale: string[] = [];
  let bytes = 0;
  for (const tx of s.mempool.values()) {
    if (txs.length >= limits.blockTxCountMax || bytes + tx.bytes.length > blockTxBytesMax) break;
    if (s.p.deps.checkTx?.(tx.bytes, s.height).kind === 'rejected') {
      stale.push(txKey(tx));
      continue;
    }
    if (s.chain.txProblem(tx, timeMs, inBlock) !== null) {
      // Evidence a block refuses now will not enter a later one either (committed already, too old, not
      // a validator's; or of a height after this block's, which only a liar signs so early): dropped.
      if (tx.kind === 'evidence') stale.push(txKey(tx));
      continue;
    }
    // The budget (a slow radio's) never keeps a block's first tx out: a large command still commits,
    // alone, and the next block goes on where this one stopped.
    if (txs.length > 0 && bytes + tx.bytes.length > s.txBytesBudget) break;
    txs.push(tx.bytes);
    bytes += tx.bytes.length;
  }
  for (const key of stale) s.mempool.remove(key);
  return encodeBlock({
    height: s.height,
    parent: s.chain.lastHash,
    timeMs,
    proposer: s.p.id,
    txs,
    lastCommit: s.chain.lastCertificate,
    manifestHash: s.chain.manifestAt(s.height).hash,
    appHash: s.chain.appHash,
  });
}

function relayPolka(s: ConsensusState, round: number, value: string, to: string | null, fx: Effect[]): void {
  const t = s.votes.tally('prevote', round);
  if (!t) return;
  const envelopes = VoteSet.forValue(t, value).map((v) => v.envelope);
  if (envelopes.length > 0) fx.push({ type: 'relay', to, envelopes });
}

function valid(s: ConsensusState, c: Candidate, fx: Effect[]): boolean {
  let r = s.validity.get(c.value);
  if (r === undefined) {
    r = s.chain.blockProblem(c.block.block, c.txs);
    s.validity.set(c.value, r);
    // Logged once per value: the validity cache remembers the verdict for the height.
    if (r !== null) fx.push({ type: 'log', level: 'warn', message: `${s.p.id} h${s.height}: invalid block from ${c.block.block.proposer}: ${r}` });
  }
  return r === null;
}

/** Blocks decided live that clockAheadOfNode takes the median of. */
const clockSamplesMax = 15;
/** Fewer live decisions than this say nothing yet: the first after a restart or a fleet-wide stall may
 *  be a block re-proposed with the time of an earlier round, seconds or minutes old. */
const clockSamplesMin = 5;

/**
 * How far the fleet's block times run ahead of this node's clock (negative: behind it), the median over
 * the last blocks it decided live, or null before it has decided any. A block's time is its proposer's
 * clock when it proposed, so with clocks in step this is minus the time from proposal to decision (a few
 * ms to a few s); a node whose clock is slow by more than limits.clockSkewMsMax prevotes nil on every
 * block (its vote is lost to the fleet), one fast by as much has every proposal of its own refused. The
 * median keeps a few odd blocks (one re-proposed with an old round's time) from moving it, but not a
 * proposer whose clock runs fast: the blocks after its own carry its time on (clockSetter). Null until
 * clockSamplesMin blocks were decided live.
 */
export function clockAheadOfNode(s: Pick<ConsensusState, 'clockSamples'>): number | null {
  if (s.clockSamples.length < clockSamplesMin) return null;
  const sorted = [...s.clockSamples].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

/**
 * The validator whose clock the fleet's block times followed in most of the blocks clockAheadOfNode
 * takes the median of, their times carried on from its block, or null when no one's did (as when each
 * proposer's clock sets its own blocks' times, however the proposers take turns). A block's time must be later than its parent's, so after a proposer whose clock runs ahead
 * the others' blocks carry its time on (parent + 1 ms) until their clocks catch up: proposing every few
 * heights, one clock up to limits.clockSkewMsMax fast keeps every block that far ahead, and a validator
 * whose own clock is a little slow then finds every block too far ahead of it. Its health names this
 * validator rather than only its own clock.
 */
export function clockSetter(s: ConsensusState): string | null {
  const counts = new Map<string, number>();
  for (const id of s.clockSetters) if (id !== null) counts.set(id, (counts.get(id) ?? 0) + 1);
  for (const [id, n] of counts) if (n * 2 > s.clockSetters.length) return id;
  return null;
}

/** Valid, and timely on this node's clock (chain-state.ts timeProblem): what a new proposal needs for
 *  this node's prevote. Untimely ones are logged once a minute at most: a node whose clock is off finds
 *  every block so (its health says so for as long as it lasts). */
function validAndTimely(s: ConsensusState, c: Candidate, now: number, fx: Effect[]): boolean {
  if (!valid(s, c, fx)) return false;
  const r = s.chain.timeProblem(c.block.block, now);
  if (r !== null && !(now - s.untimelyLoggedAtMs < untimelyLogEveryMs)) {
    s.untimelyLoggedAtMs = now;
    fx.push({ type: 'log', level: 'warn', message: `${s.p.id} h${s.height}: prevotes nil on the block from ${c.block.block.proposer}: ${r}` });
  }
  return r === null;
}

const untimelyLogEveryMs = 60_000;

function vote(s: ConsensusState, kind: 'prevote' | 'precommit', value: Candidate | null, fx: Effect[]): void {
  s.step = kind;
  if (!s.isValidator()) return;
  fx.push({ type: 'persist', record: roundRecord(s) });
  fx.push({ type: 'sign-vote', kind, height: s.height, round: s.round, blockHash: value ? value.block.hash : null });
}

function onTimeout(s: ConsensusState, timer: TimerKind, height: number, round: number, now: number, fx: Effect[]): void {
  const c = s.p.config;
  if (timer === 'gossip') {
    gossip(s, now, fx);
    syncTick(s, now, fx);
    schedule(s, fx, 'gossip', s.height, 0, now + c.gossipMs);
    return;
  }
  if (timer === 'next-height' && s.syncAhead.size > 0) {
    // Blocks kept past a checkpoint height: their turn has come (decide set a new next-height timer).
    const before = s.chain.height;
    drainSyncAhead(s, now, fx);
    if (s.chain.height !== before) return;
  }
  if (height !== s.height) return;
  if (timer === 'next-height') {
    if (s.waiting) {
      startRound(s, 0, now, fx);
      for (const m of s.future.splice(0)) handle(s, m, fx);
    }
    return;
  }
  if (round !== s.round || s.waiting) return;
  if (timer === 'propose' && s.step === 'propose') {
    vote(s, 'prevote', null, fx); // line 57
    // Not in Algorithm 1 (see skipToNextProposal): the next round's proposer, having heard nothing from
    // this round's, proposes at once instead of after a nil prevote and nil precommit quorum.
    if (s.isValidator() && s.proposer(round + 1) === s.p.id && !s.proposals.has(round)) leaveForNextRound(s, now, fx);
  } else if (timer === 'prevote' && s.step === 'prevote') vote(s, 'precommit', null, fx); // line 61
  else if (timer === 'precommit') startRound(s, s.round + 1, now, fx); // line 65
}

function gossip(s: ConsensusState, now: number, fx: Effect[]): void {
  // A follower never votes: its round matters to no one and its height only to a peer ahead of it. So
  // rather than a status to the whole fleet every interval (quadratic in the fleet size: 1000 devices
  // would exchange a million statuses), it says nothing while it keeps up and asks for blocks when it
  // falls behind. Validators' statuses tell it who is ahead (a light follower hears none: the blocks
  // it receives do, light-follower.ts).
  if (!s.isValidator()) return askAhead(s, now, fx);
  fx.push({ type: 'send', to: null, kind: 'status', body: encodeStatusBody({ height: s.height, round: s.round }) });
  // Our own messages from the lowest round a validator at our height reports on: one that lost our
  // votes of an earlier round than ours may need them to reach 2f+1 there and move on.
  let from = s.round;
  for (const peer of s.peers.values()) if (peer.height === s.height && peer.round < from) from = peer.round;
  const mine = s.ownEnvelopes.filter((e) => e.round >= from).map((e) => e.envelope);
  if (mine.length > 0) fx.push({ type: 'relay', to: null, envelopes: mine.slice(-limits.ownMessagesMax) });
  if (from < s.round) relayWhatMovedUs(s, from, fx);
  const p = s.proposals.get(s.round);
  if (p && p.validRound >= 0) relayPolka(s, p.validRound, p.value, null, fx);
}

/**
 * A validator at our height still in round `behind` (its status says so) may lack the votes of others
 * that moved this node on: Algorithm 1's liveness assumes that every message one correct process
 * receives reaches every correct process (its gossip), and a sender that reached some nodes only (a
 * lossy spell, then it went silent; a Byzantine one choosing whom to send to) breaks that unless the
 * nodes that heard it pass it on. Seen in `fleet-sim seeds` (world 8124989, four validators): one node
 * left round 0 on 2f+1 nil precommits, one of them a validator's that then went silent, the other two
 * never got that precommit, and neither side could reach 2f+1 again. So, beside our own messages: the
 * other validators' precommits of `behind` (2f+1 of them end a round: lines 47 and 65, and the nil
 * shortcut in rules) and their votes of our round (f+1 of the power there moves a node to it: line
 * 55). One vote per validator and kind each, and only while a peer reports being behind.
 *
 * A peer more than consensusRoundsAheadMax rounds behind drops the votes of our round unread (its
 * accepts, and its edge), so it gets those of the furthest round it takes instead: line 55 moves it
 * there, and it climbs that many rounds each gossip interval until it is in ours. Before, it got only
 * votes it dropped: an honest validator left 14 rounds behind (cut off while the others, helped by a
 * Byzantine validator's nil votes, failed round after round) never moved again, and with the Byzantine
 * one silent the other honest validators waited for it for good (test/consensus/round-gap).
 */
function relayWhatMovedUs(s: ConsensusState, behind: number, fx: Effect[]): void {
  const others: Uint8Array[] = [];
  const add = (kind: VoteKind, round: number): void => {
    for (const v of s.votes.tally(kind, round)?.votes.values() ?? []) if (v.from !== s.p.id) others.push(v.envelope);
  };
  const reach = Math.min(s.round, behind + limits.consensusRoundsAheadMax);
  add('precommit', behind);
  add('prevote', reach);
  add('precommit', reach);
  if (others.length > 0) fx.push({ type: 'relay', to: null, envelopes: others });
}

/** A follower that made no progress for a whole gossip interval while a peer is ahead asks one peer
 *  ahead for the blocks from its height on (askForBlocks); a follower keeping up sends nothing. A light
 *  follower, which hears no statuses, also asks after a longer stall (light-follower.ts). */
function askAhead(s: ConsensusState, now: number, fx: Effect[]): void {
  const stuck = s.heightAtGossip === s.height;
  s.heightAtGossip = s.height;
  if (isLight(s)) return lightGossip(s, stuck, now, fx);
  if (!stuck || ![...s.peers.values()].some((p) => p.height > s.height)) return;
  askForBlocks(s, fx);
}

function serveSync(s: ConsensusState, to: string, height: number, now: number, fx: Effect[]): void {
  // A peer working on `height` lacks blocks height..ours: block sync, never vote replay. At most one
  // answer per peer per gossip interval, so a flood of statuses cannot make us flood in return.
  if (height > s.chain.height) return;
  const last = s.servedAt.get(to);
  if (last !== undefined && now - last < s.p.config.gossipMs) return;
  if (s.servedAt.size >= limits.validatorsMax * 4) s.servedAt.clear();
  s.servedAt.set(to, now);
  for (let h = height; h <= s.chain.height && h < height + limits.syncBlocksPerAnswerMax; h++) {
    const proof = s.chain.recentProof(h);
    if (proof) fx.push({ type: 'send', to, kind: 'sync-response', body: proof }); // a sync-response body is a block proof
  }
}

function accepts(s: ConsensusState, height: number, round: number, input: Input): boolean {
  if (height !== s.height) return false; // other heights recover by re-broadcast and block sync
  if (s.waiting) {
    // Messages for the next height that arrive during the commit wait are kept for its start.
    if (s.future.length < limits.futureHeightMessagesMax) s.future.push(input);
    return false;
  }
  return round <= s.round + limits.consensusRoundsAheadMax;
}

function onProposal(s: ConsensusState, p: VerifiedProposal, input: Input, fx: Effect[]): void {
  if (!accepts(s, p.height, p.round, input)) return;
  if (p.from !== s.proposer(p.round)) {
    fx.push({ type: 'log', level: 'warn', message: `${s.p.id} h${s.height}: proposal for round ${p.round} from ${p.from}, who is not its proposer` });
    return;
  }
  if (s.proposals.has(p.round)) return; // first proposal per round wins; a second is the proposer's fault
  s.proposals.set(p.round, p);
  // Its value's votes count whoever else a liar sent junk first (vote-set.ts): the prevotes and
  // precommits of its round (lines 36 and 49) and the polka of its validRound (line 28).
  s.votes.pin('prevote', p.round, p.value);
  s.votes.pin('precommit', p.round, p.value);
  if (p.validRound >= 0) s.votes.pin('prevote', p.validRound, p.value);
  if (!s.candidates.has(p.value)) s.candidates.set(p.value, { block: p.block, value: p.value, txs: p.txs });
  if (p.from === s.p.id) keepOwn(s, p.round, p.envelope);
}

function onVote(s: ConsensusState, v: VerifiedVote, input: Input, fx: Effect[]): void {
  if (v.height < s.height) return onLateVote(s, v, fx);
  if (!accepts(s, v.height, v.round, input)) return;
  if (s.chain.powerOf(v.height, v.from) === 0) return;
  const r = s.votes.add(v);
  if (r.status === 'conflict') return reportEquivocation(s, r.earlier, v, fx);
  if (r.status === 'added' && v.from === s.p.id) keepOwn(s, v.round, v.envelope);
}

/**
 * A vote for a height this node has left: it counts for nothing now, but checked against the votes of
 * that height it can prove an equivocation whose two halves arrived on either side of the decision. It
 * joins only tallies that exist already (one per validator and position at most), so late votes for
 * made-up rounds cannot grow memory.
 */
function onLateVote(s: ConsensusState, v: VerifiedVote, fx: Effect[]): void {
  const past = s.pastVotes.find((p) => p.height === v.height);
  if (!past || !past.votes.tally(v.kind, v.round) || s.chain.powerOf(v.height, v.from) === 0) return;
  const r = past.votes.add(v);
  if (r.status === 'conflict') reportEquivocation(s, r.earlier, v, fx);
}

function reportEquivocation(s: ConsensusState, first: VerifiedVote, second: VerifiedVote, fx: Effect[]): void {
  // One report per validator and height: the chain commits one proof per validator and height.
  const key = evidenceKeyOf(second.from, second.height);
  if (s.evidenceSent.has(key) || s.chain.evidenceSeen(key) || !s.isValidator()) return;
  // Bounded: keys of heights no vote can reach any more go first (one liar per round must not use it up).
  if (s.evidenceSent.size >= limits.evidenceSentMax) {
    for (const k of s.evidenceSent) if (Number(k.split('/')[1]) < s.height - limits.lateVoteHeightsMax) s.evidenceSent.delete(k);
    if (s.evidenceSent.size >= limits.evidenceSentMax) return;
  }
  s.evidenceSent.add(key);
  fx.push({ type: 'log', level: 'warn', message: `${s.p.id}: ${second.from} equivocated: two ${second.kind}s at height ${second.height} round ${second.round}` });
  fx.push({ type: 'send', to: null, kind: 'evidence', body: encodeEvidenceBody({ first: first.envelope, second: second.envelope }) });
}

function keepOwn(s: ConsensusState, round: number, envelope: Uint8Array): void {
  s.ownEnvelopes.push({ round, envelope });
  if (s.ownEnvelopes.length > limits.ownMessagesMax) s.ownEnvelopes.shift();
}

function onSyncResponse(s: ConsensusState, input: Extract<Input, { type: 'sync-response' }>, fx: Effect[]): void {
  const { block, certificate } = input;
  const h = block.block.height;
  if (certificate.height !== h || h <= s.chain.height) return;
  if (h > s.chain.height + 1) {
    // Out of order: kept for its turn when it is close (the first copy of a height wins).
    noteBlockFrom(s, input.from, h, false, input.now);
    if (h <= s.chain.height + 1 + limits.syncAheadBlocksMax && !s.syncAhead.has(h)) {
      for (const k of s.syncAhead.keys()) if (k <= s.chain.height) s.syncAhead.delete(k);
      if (s.syncAhead.size < limits.syncAheadBlocksMax) s.syncAhead.set(h, input);
    }
    if (input.announced === true) askForGap(s, input.from, input.now, fx);
    return;
  }
  if (applySynced(s, input, input.now, fx)) drainSyncAhead(s, input.now, fx);
}

/** Applies kept blocks while the next height's is there. It stops at a checkpoint height (the shell
 *  records the checkpoint once this step's effects have run); the next-height timer the last commit set
 *  goes on from there. */
function drainSyncAhead(s: ConsensusState, now: number, fx: Effect[]): void {
  for (let next = s.syncAhead.get(s.chain.height + 1); next !== undefined && s.chain.checkpointDue === null; next = s.syncAhead.get(s.chain.height + 1)) {
    s.syncAhead.delete(next.block.block.height);
    applySynced(s, next, now, fx, true); // refused: deleted, and the chain did not move, so the loop ends
  }
}

/** Applies the certified block for the next height; false (logged) when its certificate does not hold.
 *  `recheck`: a block kept ahead of the chain, whose txs were checked on arrival against what the node
 *  knew then (a set change before it may not have been applied): checked again now (CoreDeps.checkTxs). */
function applySynced(s: ConsensusState, input: Extract<Input, { type: 'sync-response' }>, now: number, fx: Effect[], recheck = false): boolean {
  const { block, certificate } = input;
  const problem = s.chain.verifyCert(certificate, block.hash);
  if (problem) {
    fx.push({ type: 'log', level: 'warn', message: `${s.p.id}: sync block ${block.block.height} from ${input.from} refused: ${problem}` });
    return false;
  }
  // More than 2/3 of the power vouches for this block; txs our edge refused are logged, not applied.
  const verdicts = recheck ? (s.p.deps.checkTxs?.(block) ?? input.txs) : input.txs;
  const txs = verdicts.filter((t): t is CheckedTx => t.kind !== 'rejected');
  decide(s, { block, value: toHex(block.hash), txs }, certificate.round, certificate.signatures, now, fx, input.proof);
  noteBlockFrom(s, input.from, block.block.height, true, now);
  return true;
}

/** `proof`: the block and certificate as received (a sync answer), else encoded here. */
function decide(s: ConsensusState, c: Candidate, round: number, signatures: readonly CertificateSignature[], now: number, fx: Effect[], proof?: Uint8Array): CommittedBlock {
  const certificate = { height: s.height, round, blockHash: c.block.hash, signatures };
  const txs = c.txs.filter((t): t is CheckedTx => t.kind !== 'rejected');
  const p = proof ?? encodeProof(c.block.bytes, certificate);
  fx.push({ type: 'persist', record: { t: 'commit', blockBytes: c.block.bytes, certificate, proof: p } });
  const committed = { block: c.block.block, bytes: c.block.bytes, hash: c.block.hash, certificate, txs, proof: p };
  const forNothing = s.commandStartHeight === s.height && !txs.some((t) => t.kind === 'command');
  if (c.block.block.timeMs > s.chain.lastTimeMs + 1) s.timeSetBy = c.block.block.proposer;
  s.chain.apply(committed);
  noteCommitted(s, committed, now);
  for (const tx of txs) s.mempool.remove(txKey(tx));
  // A height brought forward for a command whose block carried none (its proposer had proposed before
  // the command reached it, on its own timer) brought no command's block forward: it does not count
  // against the next early start, or a lone command would wait a whole commit wait for it. Not when txs
  // that came before the command are still waiting (the pool is first come, first served): the block
  // had no room for them, let alone for it, and forgiven, the blocks of that backlog would follow each
  // other with no wait at all until the command's turn. Whatever the block's size, on a radio's budget
  // or a broker's. And once per commit wait at most.
  if (forNothing && commandIsNext(s, now) && now - s.commandRestoredAtMs >= s.p.config.commitWaitMs) {
    s.commandStartAtMs = s.commandStartBeforeMs;
    s.commandRestoredAtMs = now;
  }
  fx.push({ type: 'commit', committed });
  // The shell answers at once with recordCheckpoint: no block is built or judged before it has.
  if (s.chain.checkpointDue !== null) fx.push({ type: 'checkpoint', height: s.chain.checkpointDue });
  s.enterNextHeight();
  if (s.chain.manifestAt(s.height) !== s.chain.manifestAt(s.height - 1)) s.dropRefused();
  s.waiting = true;
  s.committedAtMs = now;
  // The next height starts after the commit wait, or sooner for an operator command: one waiting now
  // (it arrived while this block was voted on) or the first to arrive during the wait.
  schedule(s, fx, 'next-height', s.height, 0, now + s.p.config.commitWaitMs);
  // Starting early brings a waiting command's block sooner; a light follower proposes none.
  if (!isLight(s) && commandWaiting(s, now)) startEarly(s, now, fx);
  follow(s, now, fx); // the block may have changed this node's role or the validator set
  return committed;
}

/** Whether the oldest tx in the pool a block could still take is an operator command. */
function commandIsNext(s: ConsensusState, now: number): boolean {
  for (const tx of s.mempool.values()) if (s.chain.txProblem(tx, now, null) === null) return tx.kind === 'command';
  return false;
}

/**
 * Brings the next height forward for an operator command: at once, unless a height was brought forward
 * less than a commit wait ago, then when that wait is over. A lone command is proposed as it arrives;
 * commands coming faster than one per commit wait gather into one block per commit wait, as they would
 * without this. Starting a height early is always safe: only liveness reads the clock.
 */
function startEarly(s: ConsensusState, now: number, fx: Effect[]): void {
  s.startingEarly = true;
  const wait = s.p.config.commitWaitMs;
  s.commandStartBeforeMs = s.commandStartAtMs; // restored if this height's block carries no command (decide)
  s.commandStartHeight = s.height;
  // Never more than a commit wait ahead: commits by block sync, each starting early, must not push it on.
  s.commandStartAtMs = Math.min(now + wait, Math.max(now, s.commandStartAtMs + wait));
  schedule(s, fx, 'next-height', s.height, 0, s.commandStartAtMs);
}

/** Whether the mempool holds an operator command a block could take now. */
function commandWaiting(s: ConsensusState, now: number): boolean {
  for (const tx of s.mempool.values()) if (tx.kind === 'command' && s.chain.txProblem(tx, now, null) === null) return true;
  return false;
}

function buildSignatures(s: ConsensusState, round: number, value: string): CertificateSignature[] {
  const t = s.votes.tally('precommit', round);
  if (!t) return [];
  return VoteSet.forValue(t, value)
    .map((v) => ({ validator: v.from, signature: v.signature }))
    .sort((a, b) => (a.validator < b.validator ? -1 : a.validator > b.validator ? 1 : 0));
}

/** Runs the upon-rules of Algorithm 1 until none fires (bounded). */
function evaluate(s: ConsensusState, now: number, fx: Effect[]): void {
  for (let pass = 0; pass < evaluationPassesMax && !s.waiting; pass++) {
    // A pass that moved none of these reached the fixpoint (compared field by field: this runs after
    // every input, a command's included).
    const { height, round, step, lockedRound, validRound } = s;
    const timers = s.timersSet.size;
    const line36 = s.line36Done.size;
    rules(s, now, fx);
    if (s.height === height && s.round === round && s.step === step && s.lockedRound === lockedRound && s.validRound === validRound && s.timersSet.size === timers && s.line36Done.size === line36) break;
  }
}

/** Not in Algorithm 1, and safe: a node whose propose timer ran out in round r without a proposal has
 *  prevoted nil and cannot precommit a value in r (line 36 needs the proposal), and leaving a round early
 *  never endangers agreement, which rests on the locks (lines 22-28), not on when rounds change. So when
 *  round r+1's proposal is already here, it goes to r+1 instead of waiting for a nil prevote quorum and a
 *  nil precommit quorum (2d). With a crashed proposer the next commit then comes timeoutPropose + 3d
 *  after the height began, not + 5d. A round that could still commit loses nothing: a node at step
 *  propose (it may yet get r's proposal) or one that has r's proposal stays. */
function skipToNextProposal(s: ConsensusState): boolean {
  return s.step !== 'propose' && !s.proposals.has(s.round) && s.proposals.has(s.round + 1);
}

/** Leaves round r early (see skipToNextProposal) with a nil precommit for r cast first, if it has not
 *  precommitted yet: the nodes still in r count on 2f+1 precommits of r to move on (lines 47 and 65), and
 *  without ours they could wait forever when one validator is down. A nil precommit never locks and is
 *  what this node would send in r anyway, having prevoted nil. */
function leaveForNextRound(s: ConsensusState, now: number, fx: Effect[]): void {
  if (s.step === 'prevote') vote(s, 'precommit', null, fx);
  startRound(s, s.round + 1, now, fx);
}

function rules(s: ConsensusState, now: number, fx: Effect[]): void {
  const total = s.totalPower();
  const c = s.p.config;
  // Line 49: a value with 2f+1 precommits in any round is decided, if we hold it and it is valid.
  for (const [value, cand] of s.candidates) {
    for (const r of s.votes.rounds()) {
      const t = s.votes.tally('precommit', r);
      if (t && over23(t.byValue.get(value) ?? 0, total) && valid(s, cand, fx)) {
        const voter = s.isValidator();
        // Carried: its time is its parent's + 1 ms, not its proposer's clock, which was behind that.
        const carried = cand.block.block.timeMs === s.chain.lastTimeMs + 1;
        const committed = decide(s, cand, r, buildSignatures(s, r, value), now, fx);
        s.clockSamples.push(cand.block.block.timeMs - now);
        s.clockSetters.push(carried ? s.timeSetBy : null);
        if (s.clockSamples.length > clockSamplesMax) {
          s.clockSamples.shift();
          s.clockSetters.shift();
        }
        if (voter) announce(s, committed, fx);
        return;
      }
    }
  }
  // Line 55: f+1 of the power is already in a higher round: skip to it.
  for (const r of s.votes.rounds()) {
    if (r > s.round && over13(s.votes.powerInRound(r), total)) {
      startRound(s, r, now, fx);
      return;
    }
  }
  if (skipToNextProposal(s)) {
    leaveForNextRound(s, now, fx);
    return;
  }
  const r = s.round;
  const p = s.proposals.get(r);
  const cand = p ? s.candidates.get(p.value) : undefined;
  if (s.step === 'propose' && p && cand) {
    if (p.validRound === -1) {
      // Line 22.
      const ok = validAndTimely(s, cand, now, fx) && (s.lockedRound === -1 || s.lockedValue?.value === p.value);
      vote(s, 'prevote', ok ? cand : null, fx);
    } else if (p.validRound < r && over23(s.votes.tally('prevote', p.validRound)?.byValue.get(p.value) ?? 0, total)) {
      // Line 28.
      const ok = valid(s, cand, fx) && (s.lockedRound <= p.validRound || s.lockedValue?.value === p.value);
      vote(s, 'prevote', ok ? cand : null, fx);
    }
  }
  const prevotes = s.votes.tally('prevote', r);
  // Line 34.
  if (s.step === 'prevote' && prevotes && over23(prevotes.total, total) && !s.timersSet.has(`prevote/${r}`)) {
    s.timersSet.add(`prevote/${r}`);
    schedule(s, fx, 'prevote', s.height, r, now + c.prevoteMs + r * c.prevoteDeltaMs);
  }
  // Line 36.
  if (p && cand && prevotes && stepRank[s.step] >= 1 && !s.line36Done.has(r) && over23(prevotes.byValue.get(p.value) ?? 0, total) && valid(s, cand, fx)) {
    s.line36Done.add(r);
    // The valid value first (Algorithm 1 sets it after the precommit; the rule is one atomic step), so
    // the round state persisted with the precommit holds it as well as the lock.
    s.validValue = cand;
    s.validRound = r;
    if (s.step === 'prevote') {
      s.lockedValue = cand;
      s.lockedRound = r;
      vote(s, 'precommit', cand, fx);
    }
  }
  // Line 44.
  if (s.step === 'prevote' && prevotes && over23(prevotes.byValue.get('nil') ?? 0, total)) vote(s, 'precommit', null, fx);
  const precommits = s.votes.tally('precommit', r);
  // Not in Algorithm 1, and safe: with more than 2/3 precommitting nil nothing can commit in round r,
  // so waiting out timeoutPrecommit (line 47) would only delay the next proposer.
  if (precommits && over23(precommits.byValue.get('nil') ?? 0, total)) {
    startRound(s, r + 1, now, fx);
    return;
  }
  // Line 47.
  if (precommits && over23(precommits.total, total) && !s.timersSet.has(`precommit/${r}`)) {
    s.timersSet.add(`precommit/${r}`);
    schedule(s, fx, 'precommit', s.height, r, now + c.precommitMs + r * c.precommitDeltaMs);
  }
}
