// The node shell: the one place that runs the consensus core's effects, in order: persist (WAL, fsync)
// -> sign (through the signer guard, which persists first) -> send -> apply, then feeds its own signed
// messages back in. Built from ports, so a device and fleet-sim run exactly this code.

import { hash as blake2b, type Signer, type Verifier } from '../crypto/sodium.js';
import { assert, assertNever } from '../lib/assert.js';
import { manifestAuthority, type Manifest } from '../manifest/manifest.js';
import { encodeProposalBody, parseProposalBody } from '../wire/block.js';
import { decodeCbor } from '../wire/cbor.js';
import { parseWith } from '../wire/fields.js';
import { decodeEnvelope, sealEnvelope } from '../wire/envelope.js';
import { encodeVoteBody } from '../wire/vote.js';
import type { EnvelopeMemo } from '../wire/envelope-memo.js';
import { signingBytes } from '../wire/signing.js';
import { applyReplayed, createConsensus, recordCheckpoint, restoreRound, restoreSigned, restoreSignedLock, step, stepRank, type Candidate, type ConsensusState } from '../consensus/core.js';
import { chunkHashesOf, decodeStateSnapshot, encodeStateSnapshot, snapshotBytesMax } from '../consensus/snapshot.js';
import { installSnapshot, verifiedManifests } from '../consensus/state-sync.js';
import type { CommittedBlock, ConsensusConfig, Effect, Input, SignedPosition, VerifiedSnapshot, WalRecord } from '../consensus/types.js';
import { decodeBlockBytes, type DecodedBlock } from '../wire/block.js';
import { decodeProof } from '../wire/proof.js';
import { bytesEqual, hashHex, toHex } from '../lib/bytes.js';
import { limits } from '../lib/limits.js';
import { EdgeVerifier, type EdgeDrop } from './edge.js';
import { decodeSnapshotFile, encodeSnapshotFile, snapshotFile } from './snapshot-file.js';
import type { Application, Clock, Logger, Scheduler, SendPort, Storage } from './ports.js';
import { SignerGuard, signerStateFile, voteOf, type LastSigned } from './signer-guard.js';
import { encodeWalRecord, readWal, type NodeWalRecord } from './wal.js';
import { trace, tracing } from '../lib/trace.js';

/** The write-ahead log: commits and the round records that bring a lock or a valid value, each fsynced
 *  before anything acts on it. */
export const walFile = 'consensus.wal';
/** The ahead log: round records that bring nothing new to keep and own proposals, written without an
 *  fsync (persist, below). A restart takes what is intact of it, up to the first damage. */
export const aheadFile = 'consensus.ahead';

export interface NodeShellOptions {
  readonly id: string;
  readonly genesis: Manifest;
  readonly config: ConsensusConfig;
  readonly clock: Clock;
  readonly scheduler: Scheduler;
  readonly storage: Storage;
  readonly send: SendPort;
  /** Publishes a certified block for the followers that take blocks from this validator (a link's
   *  `announce`); false when no link took it. Absent: announcements are dropped, and followers fall
   *  back on block sync. */
  readonly announce?: (envelope: Uint8Array) => boolean;
  /** Where to hear consensus from (a link's `follow`): null, every peer; else these validators'
   *  announcements only. Absent: the links keep hearing everyone. */
  readonly follow?: (sources: readonly string[] | null) => void;
  readonly signer: Signer;
  readonly verifier: Verifier;
  /** BLAKE2b-256 (crypto/sodium.ts's hash, the default): block ids, checkpoint chunks, the signer
   *  state. fleet-sim passes one that remembers its answers across the nodes of a world. */
  readonly hash?: (bytes: Uint8Array) => Uint8Array;
  /** Envelopes decoded and opened once for every node of a simulated world (wire/envelope-memo.ts);
   *  absent: each is decoded and opened here (a device). */
  readonly envelopeMemo?: EnvelopeMemo;
  readonly logger: Logger;
  /** Applies each block once it is durable, and exports and imports its state for snapshots. */
  readonly app: Application;
  /** Called before every persist and send; fleet-sim throws from here to crash the node at that point. */
  readonly failPoint?: (label: string) => void;
  /**
   * Every this many heights (a multiple of config.checkpointEveryHeights), write that checkpoint's
   * snapshot (chain and application state) to disk and empty the WAL, so the disk stays bounded and a
   * restart replays at most this many heights. Unset: the WAL holds the whole history.
   */
  readonly snapshotEveryHeights?: number;
  /** Called with every envelope this node signs (fleet-sim's double-sign checker listens here). */
  readonly onSigned?: (envelope: Uint8Array) => void;
  /**
   * Called when a proposal or vote signed with this node's key turns up that this node never signed
   * (SignerGuard.notSignedHere): received at the height it signs at (or the next), kept from a height it
   * had not signed at yet and checked before its first signature there, or in the certificates of the
   * last few blocks as it is about to sign its first vote after catching up. Another process holds its
   * key. True: this node stops (it signs nothing more); false: it goes on (fleet-sim's twins and
   * amnesiac nodes, Byzantine by design). A received one its signer state does not hold never reaches
   * the core, reported or not (ownKeyMessage). Absent: nothing is checked (the deterministic
   * simulator's twins share a key by design).
   */
  readonly onForeignSignature?: (m: ForeignSignature) => boolean;
}

/** A proposal or vote signed with a node's own key that the node did not sign (onForeignSignature). */
export interface ForeignSignature {
  readonly kind: 'proposal' | 'prevote' | 'precommit';
  readonly height: number;
  readonly round: number;
}

/** A proposal or vote with a node's own key, and the signer guard's hash of its signed bytes. */
interface OwnKeyMessage extends ForeignSignature {
  readonly digest: Uint8Array;
}

/** Own-key messages kept for the check before a node's first signature at their height. */
const unvouchedMax = 16;

/** How many committed blocks back a node about to sign its first vote after catching up looks, at most,
 *  for precommits with its key that it never signed: every block it holds (limits.recentBlocksMax) that
 *  was proposed at most config.ownVotesWindowMs (10 s) before its clock. An older block's precommits tell
 *  of a signer that was running then, not now (a device restarted without its signer state, as it was
 *  before). Four blocks, as CometBFT's double_sign_check_height, were 0.4 s of a fleet committing ten
 *  heights a second: a validator back without its signer state 1 s after a crash found none of its
 *  precommits in them and voted (test/sim/signer-state-lost.test.ts). */
const joinCheckHeightsMax = limits.recentBlocksMax;

/** The WAL holds a block that names another manifest than the one in force at its height when replayed
 *  from the genesis given (replay): the chain did not start from that genesis. */
export class GenesisMismatchError extends Error {}

const selfDeliveriesMax = 1_024; // inputs one external input may cause (own votes fed back); overflow: assertion

export class NodeShell {
  readonly core: ConsensusState;
  readonly edge: EdgeVerifier;
  private readonly guard: SignerGuard;
  private readonly fleet: string;
  private readonly hash: (bytes: Uint8Array) => Uint8Array;
  private readonly queue: Input[] = [];
  private running = false;
  bytesSent = 0;
  messagesSent = 0;

  constructor(private readonly o: NodeShellOptions) {
    const k = o.snapshotEveryHeights;
    const c = o.config.checkpointEveryHeights;
    if (k !== undefined && (!Number.isInteger(k) || k < c || k % c !== 0)) throw new Error(`snapshotEveryHeights is ${k}; it must be a multiple of checkpointEveryHeights (${c})`);
    this.fleet = o.genesis.body.fleet;
    this.hash = o.hash ?? blake2b;
    const deps = { hash: this.hash, verify: (sig: Uint8Array, msg: Uint8Array, pk: Uint8Array) => o.verifier.verify(sig, msg, pk), checkTxs: (b: DecodedBlock) => this.edge.checkTxs(b), checkTx: (tx: Uint8Array, h: number) => this.edge.checkTx(tx, undefined, h) };
    this.core = createConsensus({ id: o.id, fleet: this.fleet, genesis: o.genesis, config: o.config, deps });
    this.edge = new EdgeVerifier({
      fleet: this.fleet,
      verifier: o.verifier,
      hash: this.hash,
      manifestAt: (h) => this.core.chain.manifestAt(h),
      currentHeight: () => this.core.height,
      currentRound: () => this.core.round,
      self: o.id,
      takesVote: (kind, height, round, from, value) => this.core.takesVote(kind, height, round, from, value),
      takesProposal: (height, round) => this.core.takesProposal(height, round),
      votes: () => this.core.isValidator(),
      authority: o.genesis.body.authority,
      ...(o.app.superseded !== undefined ? { superseded: (kind, sender, body) => o.app.superseded?.(kind, sender, body, this.core.height) ?? null } : {}),
      ...(o.envelopeMemo !== undefined ? { memo: o.envelopeMemo } : {}),
    });
    this.guard = new SignerGuard(o.signer, o.storage, this.hash, (l) => this.fail(l));
    // Said as the WAL's torn tail is (readLog): a start that changed a file says what it changed.
    const t = this.guard.droppedTail;
    if (t !== null) this.o.logger.warn(`${o.id}: ${signerStateFile}: dropped a torn final record of ${t.bytes} bytes at offset ${t.offset} (a write a crash cut; its signature never left: a signature waits for its record's fsync)`);
  }

  private fail(label: string): void {
    this.o.failPoint?.(label);
  }

  /** Recovers from the snapshot file, the WAL after it (throws naming file and offset on corruption) and
   *  the ahead log, then starts the core. */
  boot(): void {
    const snap = this.o.storage.read(snapshotFile);
    if (snap && snap.length > 0) this.restoreFile(snap);
    const wal = this.readLog(walFile, false);
    const ahead = this.readLog(aheadFile, true);
    this.aheadBytes = ahead.bytes;
    this.replay(wal.records, ahead.records);
    this.o.scheduler.at(this.o.clock.now(), () => this.input({ type: 'start', now: this.o.clock.now() }));
  }

  /** One log's intact records; a torn tail (for the ahead log: anything from its first damage on) is cut
   *  off the file, so appends go after intact records, and the WAL is fsynced before it is acted on. */
  private readLog(name: string, damageEndsLog: boolean): { readonly records: NodeWalRecord[]; readonly bytes: number } {
    const bytes = this.o.storage.read(name);
    if (!bytes || bytes.length === 0) return { records: [], bytes: 0 };
    const w = readWal(bytes, name, { damageEndsLog });
    if (!w.ok) throw new Error(w.error);
    if (w.value.tornTailBytes > 0) {
      const what = damageEndsLog
        ? `the ${w.value.tornTailBytes} bytes from the first damaged record on (written ahead, never promised)`
        : w.value.damagedTail
          ? `the ${w.value.tornTailBytes} bytes from a damaged record at offset ${w.value.validBytes} on (no chain of intact records runs from it to the end: a write a crash cut)`
          : `a torn final record of ${w.value.tornTailBytes} bytes at offset ${w.value.validBytes} (a write a crash cut)`;
      this.o.logger.warn(`${this.o.id}: ${name}: dropped ${what}`);
      this.o.storage.replace(name, bytes.subarray(0, w.value.validBytes));
    } else if (!damageEndsLog) {
      // After a process crash the WAL may end in a record whose fsync never finished, read back from the
      // page cache: the node acts on it now (a commit applied, a lock), so it is made durable first, as
      // the signer guard does its log.
      this.o.storage.sync(name);
    }
    return { records: w.value.records, bytes: w.value.validBytes };
  }

  private restoreFile(file: Uint8Array): void {
    const refuse = (why: string): never => {
      throw new Error(`${snapshotFile}: ${why}; refusing to start (move it aside to resync from peers)`);
    };
    const f = decodeSnapshotFile(file);
    if (!f.ok) throw new Error(f.error);
    const d = decodeStateSnapshot(f.value.state);
    if (!d.ok) return refuse(d.error);
    const manifests = verifiedManifests(this.core, d.value);
    if (typeof manifests === 'string') {
      // The chain here is another authority's than the manifest given (device.yaml's manifest replaced, or
      // this directory is another fleet's): moving the snapshot aside would not help, the manifest is the fix.
      const theirs = d.value.manifests[0] === undefined ? null : manifestAuthority(d.value.manifests[0].bytes);
      const ours = this.o.genesis.body.authority;
      if (theirs !== null && !bytesEqual(theirs, ours)) {
        throw new Error(`${snapshotFile}: the chain in this data directory is fleet authority ${toHex(theirs).slice(0, 16)}…'s, but the manifest this device was given is signed by authority ${toHex(ours).slice(0, 16)}…; give the device its own fleet's manifest (device.yaml: manifest), or an empty dataDir to join the fleet of the new one; refusing to start`);
      }
      return refuse(manifests);
    }
    if (f.value.lastCertificate === null || f.value.lastCertificate.height !== d.value.height) return refuse('the certificate of its last block is missing');
    const a = this.o.app.importState(d.value.app);
    if (!a.ok) return refuse(`application state: ${a.error}`);
    const v: VerifiedSnapshot = { height: d.value.height, bytes: f.value.state, app: d.value.app, lastCertificate: f.value.lastCertificate };
    // Not proven yet: the WAL's first commit (the block after it) is its proof, attached on replay.
    installSnapshot(this.core, v, d.value, manifests, chunkHashesOf(f.value.state, this.hash), null, this.o.clock.now(), null);
  }

  /** The WAL's blocks, then the round state of the height they reach from the round records of both
   *  logs, and the own messages of that height. A WAL written before the ahead log existed holds all
   *  three kinds. */
  private replay(records: readonly NodeWalRecord[], ahead: readonly NodeWalRecord[]): void {
    let rounds: RoundRecord[] = [];
    const own: Uint8Array[] = [];
    // Committed blocks past a gap (the snapshot they follow was removed): skipped, the node catches up
    // from peers instead; said once, so a start that discards what the WAL holds says so.
    let gap = null as { from: number; to: number; count: number; at: number } | null;
    for (const r of records) {
      if (r.t === 'commit') {
        const block = decodeBlockBytes(r.blockBytes, this.hash);
        if (block.block.height > this.core.chain.height + 1) {
          if (gap === null) gap = { from: block.block.height, to: block.block.height, count: 1, at: this.core.chain.height };
          else {
            gap.to = block.block.height;
            gap.count++;
          }
          continue;
        }
        if (block.block.height !== this.core.chain.height + 1) continue;
        // Every committed block named the manifest in force at its height (valid(v)): one that names
        // another was committed under another history than the one this node replays (a genesis
        // other than the chain's), whose blocks it would decide differently, for good.
        const inForce = this.core.chain.manifestAt(block.block.height);
        if (!bytesEqual(block.block.manifestHash, inForce.hash)) {
          throw new GenesisMismatchError(`${walFile}: block ${block.block.height} names fleet manifest ${toHex(block.block.manifestHash).slice(0, 16)}…, but replayed from this node's genesis (epoch ${this.core.chain.committedManifests()[0]?.body.epoch ?? '?'}) the manifest in force there is epoch ${inForce.body.epoch} (${toHex(inForce.hash).slice(0, 16)}…): this chain did not start from that genesis; refusing to replay it`);
        }
        const txs = this.edge.checkTxs(block).filter((t) => t.kind !== 'rejected');
        const committed: CommittedBlock = { block: block.block, bytes: block.bytes, hash: block.hash, certificate: r.certificate, txs, proof: r.proof };
        applyReplayed(this.core, committed, this.o.clock.now());
        this.o.app.commit(committed);
        if (this.core.chain.checkpointDue !== null) this.checkpoint(this.core.chain.checkpointDue, true);
        rounds = [];
        own.length = 0;
      } else if (r.t === 'round') rounds.push(r);
      else own.push(r.envelope);
    }
    if (gap !== null) {
      this.o.logger.warn(
        `${this.o.id}: ${walFile}: skipped ${gap.count} committed blocks (heights ${gap.from}-${gap.to}) that do not follow the chain here (height ${gap.at}; ${snapshotFile} missing or older than the WAL?); catching up from peers instead`,
      );
    }
    // The ahead log holds earlier heights too (it is emptied only now and then, commit()): only the
    // current height's records count, and the signer state's height when that is later (below).
    const signedHeight = this.guard.lastSigned()?.height ?? 0;
    const ownLater: Uint8Array[] = [];
    for (const r of ahead) {
      if (r.t === 'round') rounds.push(r);
      else if (r.t === 'own' && this.ownHeight(r.envelope) === this.core.height) own.push(r.envelope);
      else if (r.t === 'own' && signedHeight > this.core.height && this.ownHeight(r.envelope) === signedHeight) ownLater.push(r.envelope);
    }
    // Signatures of a height after the WAL's last commit: that commit was lost (a disk that said an fsync
    // was done when it was not, or damage the WAL's read dropped), the signatures were not. They go in
    // when the core gets there (reachSignedHeight).
    if (signedHeight > this.core.height) this.signedAhead = { height: signedHeight, proposals: ownLater };
    const last = roundStateOf(rounds.filter((r) => r.height === this.core.height));
    if (last) restoreRound(this.core, last, (b) => this.candidate(b));
    // The round records may be older than the last signature (the ahead log is not fsynced): the
    // signer state has the position and the lock.
    restoreSigned(this.core, this.guard.signedAt(this.core.height).map(positionOf));
    // Own signed messages of the current height go back in, so they count and get re-broadcast (a crash
    // may have kept any of them from the wire): proposals from the ahead log's 'own' records (and the
    // WAL's, votes too, in a WAL written before those existed), votes from the signer state (each was durable
    // there before it was sent). The restored core is past those steps and would never make them again
    // (a repeat is a no-op). The newest few of each, as many as the core re-sends of its own: a height
    // of many rounds must not queue more at boot than one input may cause.
    this.feedSigned(this.core.height, own);
    if (last) this.castLostVote(last);
  }

  /** This node's own signed messages of `height` back into the core's queue (they count like anyone's
   *  and its gossip sends them again): the newest few `proposals` (its ahead log's), and the votes its
   *  signer state keeps with their signatures. */
  private feedSigned(height: number, proposals: readonly Uint8Array[]): void {
    const now = this.o.clock.now();
    const mine = proposals.slice(-limits.ownMessagesMax);
    for (const l of this.guard.signedAt(height)) {
      const signed = l.signed;
      if (signed) mine.push(sealEnvelope(l.step, this.fleet, this.o.id, signed.body, { publicKey: this.o.signer.publicKey, sign: () => signed.signature }));
    }
    for (const e of mine) {
      const i = this.edge.toInput(e, now);
      if (i.ok) this.queue.push(i.value);
    }
  }

  /**
   * The core has reached the height of a signer state that was ahead of its WAL at boot (replay): what
   * was signed there goes in now, as a boot does for its own height. Without it the node counted none of
   * its earlier votes there, and refused each vote its core asked for at those positions (a different one
   * was signed): with one validator down the fleet waited on it at that height for good (seen in
   * test/device/state-sync.test.ts: d3's WAL lost its last commit, d2 killed, nothing committed again).
   * The lock its precommits made holds again too. A core that passed that height (a state sync) has
   * nothing to take.
   */
  private reachSignedHeight(): void {
    const a = this.signedAhead;
    if (a === null || this.core.height < a.height) return;
    this.signedAhead = null;
    if (this.core.height !== a.height) return;
    const signed = this.guard.signedAt(a.height);
    restoreSignedLock(this.core, signed.map(positionOf));
    this.feedSigned(a.height, a.proposals);
    this.o.logger.info(`${this.o.id}: back at height ${a.height}, where its signer state holds ${signed.length} signature${signed.length === 1 ? '' : 's'} from before the WAL's last commit was lost: ${signed.length === 1 ? 'it counts' : 'they count'} again`);
  }

  /** Set at boot when the signer state has signed at a later height than the WAL reaches. */
  private signedAhead: { readonly height: number; readonly proposals: readonly Uint8Array[] } | null = null;

  /** The height of an own proposal, read without checking its signature or its txs (those are checked
   *  when it goes back in); null when it is not one. */
  private ownHeight(envelope: Uint8Array): number | null {
    const raw = decodeEnvelope(envelope);
    if (!raw.ok || raw.value.kind !== 'proposal') return null;
    const body = decodeCbor(raw.value.body, limits.envelopeBytesMax);
    const p = body.ok ? parseWith('proposal', body.value, parseProposalBody) : body;
    return p.ok ? p.value.height : null;
  }

  /**
   * The vote of the step the WAL restored, when the signer state is below it: the crash came after the
   * round record and before the signer's write was durable, so no signature for that position left this
   * node, and the restored core, past that step, would never cast it (with one validator down that
   * stalled the fleet). Cast now: nil for a prevote (the proposal may be gone), and for a precommit the
   * block locked in this very round, else nil (what the core decided at line 36 or 44). The signer guard
   * still stands behind it.
   */
  private castLostVote(r: RoundRecord): void {
    if (r.height !== this.core.height || (r.step !== 'prevote' && r.step !== 'precommit') || !this.core.isValidator()) return;
    if (!this.guard.isAfterLastSigned(r.height, r.round, r.step)) return;
    const locked = r.step === 'precommit' && this.core.lockedRound === r.round ? this.core.lockedValue : null;
    this.signAndSend(r.step, r.height, r.round, encodeVoteBody({ height: r.height, round: r.round, blockHash: locked ? locked.block.hash : null }));
  }

  private candidate(bytes: Uint8Array): Candidate | null {
    try {
      const block = decodeBlockBytes(bytes, this.hash);
      return { block, value: hashHex(block.hash), txs: this.edge.checkTxs(block) };
    } catch {
      return null;
    }
  }

  /** Bytes from a link (`announced`: on a validator's announcement topic). Anything that fails the edge
   *  checks is dropped here, never reaching the core; so is a proposal or vote with this node's own key
   *  that its signer state does not hold (ownKeyMessage). */
  receive(bytes: Uint8Array, announced = false): string | null {
    return this.receiveOrDrop(bytes, announced)?.message ?? null;
  }

  /** receive, with the drop's code beside its reason (EdgeDrop: a device counts and logs drops by it). */
  receiveOrDrop(bytes: Uint8Array, announced = false): EdgeDrop | null {
    const i = this.edge.toInputOrDrop(bytes, this.o.clock.now(), announced);
    if (tracing) trace('edge', bytes, i.ok ? 'ok' : i.error.message);
    if (!i.ok) return i.error;
    const own = this.ownKeyMessage(i.value);
    if (own !== null) return { code: 'own-key', message: own };
    this.input(i.value);
    if (tracing) trace('core', bytes);
    return null;
  }

  /**
   * A proposal or vote with this node's own key at its height or later that its signer state does not
   * hold (not an echo of its own): why it is dropped, else null. Counted as this node's own it could
   * complete a quorum with a vote never cast here, and once this node signed at that position its core
   * would take its own vote for the second of an equivocating pair. At the height it signs at (or the
   * next) the signer state proves it signed elsewhere (SignerGuard.notSignedHere): onForeignSignature.
   * Past that (this node is behind, or has signed nothing yet) it is kept for the check before this
   * node's first signature at its height (unvouchedAt). Older heights go on to the core as before: a
   * node passing through them is sent its own earlier votes, from before its data directory was
   * replaced too, and they can no longer make a quorum here. Not checked without onForeignSignature
   * (the deterministic simulator's twins share a key by design).
   */
  private ownKeyMessage(i: Input): string | null {
    if (this.o.onForeignSignature === undefined || (i.type !== 'vote' && i.type !== 'proposal') || i.msg.from !== this.o.id || i.msg.height < this.core.height) return null;
    const kind = i.type === 'vote' ? i.msg.kind : 'proposal';
    const env = decodeEnvelope(i.msg.envelope);
    if (!env.ok) return null; // the edge has opened it already
    const m: OwnKeyMessage = { kind, height: i.msg.height, round: i.msg.round, digest: this.guard.digestOf(signingBytes(kind, this.fleet, env.value.body)) };
    if (this.guard.holds(m.height, m.round, m.kind, m.digest)) return null;
    const last = this.guard.lastSigned();
    if (last !== null && m.height <= last.height + 1 && this.guard.notSignedHere(m.height, m.round, m.kind, m.digest)) {
      this.reportForeign(m);
      return `a ${kind} at ${m.height}/${m.round} signed with this node's key that this node never signed`;
    }
    while (this.unvouched.length > 0 && (this.unvouched.length >= unvouchedMax || (this.unvouched[0]?.height ?? 0) < this.core.height)) this.unvouched.shift();
    this.unvouched.push(m);
    return `a ${kind} at ${m.height}/${m.round} signed with this node's key that its signer state does not hold: not counted as its own`;
  }

  /** Own-key proposals and votes at heights this node had not signed at yet (ownKeyMessage), oldest first. */
  private readonly unvouched: OwnKeyMessage[] = [];

  /** Tells onForeignSignature; true (and from then on) when this node is to sign nothing more. */
  private reportForeign(m: OwnKeyMessage): boolean {
    if (this.o.onForeignSignature?.({ kind: m.kind, height: m.height, round: m.round }) === true) this.keyHeldElsewhere = true;
    return this.keyHeldElsewhere;
  }

  /** onForeignSignature said stop: this node signs nothing more. */
  private keyHeldElsewhere = false;

  /** Before a signature at `height`: an own-key message kept by ownKeyMessage there or at the height
   *  before, which the signer state proves it never signed, is another process signing now. */
  private unvouchedAt(height: number): boolean {
    const m = this.unvouched.find((x) => x.height >= height - 1 && this.guard.notSignedHere(x.height, x.round, x.kind, x.digest));
    return m !== undefined && this.reportForeign(m);
  }

  /**
   * Before its first signature at a height more than one past the last it signed at (it has just caught
   * up, or has signed nothing: a fresh data directory), a node looks at the certificates of the committed
   * blocks it holds from the window (below) for precommits with its key that it never signed: another
   * process signing with its key right now, whose vote this node's would contradict (CometBFT's
   * double_sign_check_height, on the blocks this node already holds, by time rather than a count). Only blocks proposed at most ownVotesWindowMs before this node's clock
   * count (by the proposer's clock: a node whose clock runs that far ahead of the proposers' checks
   * nothing), so a device restarted without its signer state is stopped while the blocks before the
   * height it resumes at are that recent, and runs when started later; a fleet that stalled longer
   * than that since its last block gives this check nothing to find. Precommits of a key the manifest no
   * longer gives this id (the device was re-keyed) are not its own.
   */
  private joinsOverForeignSignature(height: number): boolean {
    if (this.o.onForeignSignature === undefined || this.o.config.ownVotesWindowMs <= 0) return false;
    const last = this.guard.lastSigned();
    if (last !== null && last.height >= height - 1) return false;
    for (let h = height - 1; h >= Math.max(1, height - joinCheckHeightsMax); h--) {
      const bytes = this.core.chain.recentProof(h);
      const p = bytes === undefined ? null : decodeProof(bytes);
      if (p === null || !p.ok) continue;
      if (p.value.block.block.timeMs < this.o.clock.now() - this.o.config.ownVotesWindowMs) break;
      const cert = p.value.certificate;
      const mine = cert.signatures.find((x) => x.validator === this.o.id);
      const key = this.core.chain.manifestAt(cert.height).body.validators.find((v) => v.id === this.o.id)?.publicKey;
      if (mine === undefined || key === undefined || !bytesEqual(key, this.o.signer.publicKey)) continue;
      const m: OwnKeyMessage = { kind: 'precommit', height: cert.height, round: cert.round, digest: this.guard.digestOf(signingBytes('precommit', this.fleet, encodeVoteBody({ height: cert.height, round: cert.round, blockHash: cert.blockHash }))) };
      if (this.guard.notSignedHere(m.height, m.round, m.kind, m.digest)) return this.reportForeign(m);
    }
    return false;
  }

  input(i: Input): void {
    this.queue.push(i);
    if (this.running) return;
    this.running = true;
    try {
      for (let n = 0; n < selfDeliveriesMax && this.queue.length > 0; n++) {
        const next = this.queue.shift() as Input;
        for (const e of step(this.core, next).effects) this.execute(e);
        if (this.signedAhead !== null) this.reachSignedHeight();
      }
      assert(this.queue.length === 0, `${this.o.id}: more than ${selfDeliveriesMax} inputs from one input`);
    } finally {
      this.running = false;
    }
  }

  /**
   * Writes a consensus record. A commit goes to the WAL, fsynced before the block is applied, and so does
   * a round record that brings a lock or a valid value the WAL does not hold durably yet: a precommit for
   * a block is durable in the signer state, and the block must be too, or a fleet that loses power after
   * precommitting it comes back locked on a block nobody has (test/consensus/wal-signer.test.ts). The
   * other round records and own proposals go to the ahead log without an fsync: what safety needs of them
   * is in the signer state, whose fsync every signature waits for anyway (the position signed, the lock:
   * replay). A proposal and a prevote cost one fsync each instead of three and two; a precommit for a
   * block still two. Every WAL record is fsynced as it is written, so a power loss can damage only its
   * last record (torn or holed: a restart drops it, framed-log.ts); the ahead log may lose any part of
   * what it holds, holes included, and a restart takes its records up to the first damage.
   */
  private persist(r: NodeWalRecord): void {
    this.fail(`persist-${r.t}`);
    const record = encodeWalRecord(r);
    if (r.t === 'commit') return this.commit(record);
    const values = r.t === 'round' && (r.lockedBlock !== null || r.validBlock !== null) ? `${r.height}/${r.lockedRound}/${r.validRound}` : null;
    if (values === null || values === this.durableValues) {
      this.o.storage.append(aheadFile, record);
      this.aheadBytes += record.length;
      return;
    }
    this.o.storage.append(walFile, record);
    this.fail('wal-append'); // appended, not durable yet
    this.o.storage.sync(walFile);
    this.durableValues = values;
  }

  /** The height, locked round and valid round of the last round record fsynced with its blocks. */
  private durableValues = '';
  /** Bytes in the ahead log, bounded by emptying it at a commit (whatever it holds is of this height or
   *  earlier ones, none of which a restart reads once the commit is durable). */
  private aheadBytes = 0;

  private commit(record: Uint8Array): void {
    this.o.storage.append(walFile, record);
    this.fail('wal-append'); // appended, not durable yet
    this.o.storage.sync(walFile);
    if (this.aheadBytes <= limits.aheadLogBytesMax) return;
    this.o.storage.replace(aheadFile, new Uint8Array(0));
    this.aheadBytes = 0;
  }

  private sendOut(to: string | null, bytes: Uint8Array): void {
    this.fail('send');
    this.bytesSent += bytes.length;
    this.messagesSent++;
    this.o.send(to, bytes);
  }

  private signAndSend(kind: 'proposal' | 'prevote' | 'precommit', height: number, round: number, body: Uint8Array): void {
    if (this.keyHeldElsewhere || this.unvouchedAt(height) || this.joinsOverForeignSignature(height)) return;
    // The guard's durable write keeps a vote too (a restart sends it again); a proposal, whose block
    // can be large, goes to the WAL after it (below).
    const signed = this.guard.sign(height, round, kind, signingBytes(kind, this.fleet, body), kind === 'proposal' ? null : body);
    if (!signed.ok) {
      this.o.logger.warn(`${this.o.id}: ${signed.error}`);
      return;
    }
    const envelope = sealEnvelope(kind, this.fleet, this.o.id, body, { publicKey: this.o.signer.publicKey, sign: () => signed.value });
    this.o.onSigned?.(envelope);
    if (tracing) trace('signed', envelope, `${this.o.id} ${kind} ${height} ${round}`);
    if (kind === 'proposal') this.persist({ t: 'own', envelope });
    this.sendOut(null, envelope);
    const i = this.edge.toInput(envelope, this.o.clock.now());
    if (i.ok) this.queue.push(i.value);
  }

  private execute(e: Effect): void {
    switch (e.type) {
      case 'persist':
        return this.persist(e.record);
      case 'sign-proposal':
        return this.signAndSend('proposal', e.height, e.round, encodeProposalBody({ height: e.height, round: e.round, validRound: e.validRound, blockBytes: e.blockBytes }));
      case 'sign-vote':
        return this.signAndSend(e.kind, e.height, e.round, encodeVoteBody({ height: e.height, round: e.round, blockHash: e.blockHash }));
      case 'send': {
        const env = sealEnvelope(e.kind, this.fleet, this.o.id, e.body, this.o.signer);
        this.sendOut(e.to, env);
        if (e.kind === 'evidence') this.receive(env);
        return;
      }
      case 'relay':
        for (const env of e.envelopes) this.sendOut(e.to, env);
        return;
      case 'announce': {
        this.fail('send');
        if (!this.o.announce) return;
        const env = sealEnvelope('sync-response', this.fleet, this.o.id, e.body, this.o.signer);
        if (!this.o.announce(env)) return;
        this.bytesSent += env.length;
        this.messagesSent++;
        return;
      }
      case 'follow':
        this.o.follow?.(e.sources);
        return;
      case 'schedule': {
        const { timer, height, round, atMs } = e;
        this.o.scheduler.at(atMs, () => this.input({ type: 'timeout', now: this.o.clock.now(), timer, height, round }));
        return;
      }
      case 'commit':
        this.edge.forgetCommitted(e.committed.txs);
        return this.o.app.commit(e.committed);
      case 'checkpoint':
        return this.checkpoint(e.height, false);
      case 'install-snapshot':
        return this.install(e.snapshot);
      case 'log':
        if (e.level === 'warn') this.o.logger.warn(e.message);
        else this.o.logger.info(e.message);
        return;
      default:
        assertNever(e, 'effect');
    }
  }

  /** Encodes the checkpoint's state for the core; every snapshotEveryHeights, also to disk. */
  private checkpoint(height: number, replaying: boolean): void {
    const state = encodeStateSnapshot({ ...this.core.chain.exportState(), app: this.o.app.exportState() });
    recordCheckpoint(this.core, height, state);
    const k = this.o.snapshotEveryHeights;
    if (replaying || k === undefined || height % k !== 0) return;
    if (state.length > snapshotBytesMax) {
      this.o.logger.warn(`${this.o.id}: the state at height ${height} is ${state.length} bytes, over the ${snapshotBytesMax}-byte snapshot limit; the WAL keeps growing`);
      return;
    }
    // Snapshot first, then drop the log it covers: a crash between the two replays harmlessly.
    this.fail('snapshot');
    this.o.storage.replace(snapshotFile, encodeSnapshotFile({ state, lastCertificate: this.core.chain.lastCertificate }));
    this.fail('snapshot-wal');
    this.emptyLogs();
  }

  private emptyLogs(): void {
    this.o.storage.replace(walFile, new Uint8Array(0));
    this.o.storage.replace(aheadFile, new Uint8Array(0));
    this.aheadBytes = 0;
  }

  /** A snapshot state sync verified: durable first (snapshot, then an empty WAL), then the application's part. */
  private install(v: VerifiedSnapshot): void {
    this.fail('install-snapshot');
    this.o.storage.replace(snapshotFile, encodeSnapshotFile({ state: v.bytes, lastCertificate: v.lastCertificate }));
    this.fail('install-wal');
    this.emptyLogs();
    const r = this.o.app.importState(v.app);
    // More than 2/3 of the power vouched for these bytes: an application that cannot read them is broken.
    assert(r.ok, `${this.o.id}: the application cannot import certified snapshot ${v.height}: ${r.ok ? '' : r.error}`);
    this.o.logger.info(`${this.o.id}: installed snapshot ${v.height} from state sync`);
  }
}

/** A signer-state record as the core's restore takes it: the block hash of a vote (null: nil, or a
 *  proposal, whose body the signer state does not keep). */
function positionOf(l: LastSigned): SignedPosition {
  const hash = l.step !== 'proposal' && l.signed ? (voteOf(l.signed.body)?.blockHash ?? null) : null;
  const blockHash = hash ? hashHex(hash) : null;
  return { round: l.round, step: l.step === 'proposal' ? 'propose' : l.step, blockHash };
}

type RoundRecord = Extract<WalRecord, { t: 'round' }>;

/**
 * One height's round state from its round records, in whatever order the two logs held them: the
 * position of the newest, the lock of the highest locked round and the valid value of the highest valid
 * round (both only grow within a height; one with its block before one without). Not simply the newest
 * record: after a rollback to a release that ignores the ahead log and a roll forward, an ahead record
 * can be newer than a lock that release took.
 */
export function roundStateOf(rs: readonly RoundRecord[]): RoundRecord | null {
  if (rs.length === 0) return null;
  const by = (key: (r: RoundRecord) => number) => rs.reduce((a, b) => (key(b) > key(a) ? b : a));
  const at = by((r) => r.round * 3 + stepRank[r.step]);
  const lock = by((r) => 2 * r.lockedRound + (r.lockedBlock ? 1 : 0));
  const valid = by((r) => 2 * r.validRound + (r.validBlock ? 1 : 0));
  return { ...at, lockedRound: lock.lockedRound, lockedBlock: lock.lockedBlock, validRound: valid.validRound, validBlock: valid.validBlock };
}
