// The node shell: the one place that runs the consensus core's effects, in order: persist (WAL, fsync)
// -> sign (through the signer guard, which persists first) -> send -> apply, then feeds its own signed
// messages back in. Built from ports, so a device and fleet-sim run exactly this code.

import { hash as blake2b, type Signer, type Verifier } from '../crypto/sodium.js';
import { assert, assertNever } from '../lib/assert.js';
import type { Manifest } from '../manifest/manifest.js';
import { encodeProposalBody } from '../wire/block.js';
import { sealEnvelope } from '../wire/envelope.js';
import { encodeVoteBody } from '../wire/vote.js';
import { signingBytes } from '../wire/signing.js';
import { createConsensus, restoreRound, step, type Candidate, type ConsensusState } from '../consensus/core.js';
import type { CommittedBlock, ConsensusConfig, Effect, Input, WalRecord } from '../consensus/types.js';
import { decodeBlockBytes } from '../wire/block.js';
import { toHex } from '../lib/bytes.js';
import { EdgeVerifier } from './edge.js';
import { decodeSnapshot, encodeSnapshot, snapshotFile } from './snapshot-file.js';
import { restoreSnapshot, takeSnapshot } from '../consensus/snapshot.js';
import { verifyManifest } from '../manifest/manifest.js';
import { unwrap } from '../lib/result.js';
import type { Clock, Logger, Scheduler, SendPort, Storage } from './ports.js';
import { SignerGuard } from './signer-guard.js';
import { encodeWalRecord, readWal, type NodeWalRecord } from './wal.js';

export const walFile = 'consensus.wal';

export interface NodeShellOptions {
  readonly id: string;
  readonly genesis: Manifest;
  readonly config: ConsensusConfig;
  readonly clock: Clock;
  readonly scheduler: Scheduler;
  readonly storage: Storage;
  readonly send: SendPort;
  readonly signer: Signer;
  readonly verifier: Verifier;
  readonly logger: Logger;
  /** Called after each commit is durable: the application applies the block here. */
  readonly onCommit?: (c: CommittedBlock) => void;
  /** Called before every persist and send; fleet-sim throws from here to crash the node at that point. */
  readonly failPoint?: (label: string) => void;
  /**
   * Every this many heights, write a snapshot of the chain state and empty the WAL, so the disk stays
   * bounded. Off by default: an application that rebuilds its own state from replayed commits needs
   * its own snapshot at the same height first.
   */
  readonly snapshotEveryHeights?: number;
  /** Called with every envelope this node signs (fleet-sim's double-sign checker listens here). */
  readonly onSigned?: (envelope: Uint8Array) => void;
}

const selfDeliveriesMax = 1_024; // inputs one external input may cause (own votes fed back); overflow: assertion

export class NodeShell {
  readonly core: ConsensusState;
  readonly edge: EdgeVerifier;
  private readonly guard: SignerGuard;
  private readonly fleet: string;
  private readonly queue: Input[] = [];
  private running = false;
  bytesSent = 0;
  messagesSent = 0;

  constructor(private readonly o: NodeShellOptions) {
    this.fleet = o.genesis.body.fleet;
    const deps = { hash: blake2b, verify: (sig: Uint8Array, msg: Uint8Array, pk: Uint8Array) => o.verifier.verify(sig, msg, pk) };
    this.core = createConsensus({ id: o.id, fleet: this.fleet, genesis: o.genesis, config: o.config, deps });
    this.edge = new EdgeVerifier({
      fleet: this.fleet,
      verifier: o.verifier,
      hash: blake2b,
      manifestAt: (h) => this.core.chain.manifestAt(h),
      currentHeight: () => this.core.height,
      authority: o.genesis.body.authority,
    });
    this.guard = new SignerGuard(o.signer, o.storage, blake2b, (l) => this.fail(l));
  }

  private fail(label: string): void {
    this.o.failPoint?.(label);
  }

  /** Recovers from the WAL (throws with file and offset on corruption), then starts the core. */
  boot(): void {
    const snap = this.o.storage.read(snapshotFile);
    if (snap && snap.length > 0) {
      const d = decodeSnapshot(snap);
      if (!d.ok) throw new Error(d.error);
      restoreSnapshot(this.core.chain, d.value, (b) => unwrap(verifyManifest(b, this.o.verifier, this.o.genesis.body.authority), snapshotFile));
      this.core.height = this.core.chain.height + 1;
      this.core.votes = this.core.newVoteSet();
    }
    const bytes = this.o.storage.read(walFile);
    if (bytes && bytes.length > 0) {
      const w = readWal(bytes, walFile);
      if (!w.ok) throw new Error(w.error);
      if (w.value.tornTailBytes > 0) {
        this.o.logger.warn(`${this.o.id}: ${walFile}: dropped a torn final record of ${w.value.tornTailBytes} bytes`);
        this.o.storage.replace(walFile, bytes.subarray(0, w.value.validBytes));
      }
      this.replay(w.value.records);
    }
    this.o.scheduler.at(this.o.clock.now(), () => this.input({ type: 'start', now: this.o.clock.now() }));
  }

  private replay(records: readonly NodeWalRecord[]): void {
    let lastRound: Extract<WalRecord, { t: 'round' }> | null = null;
    const own: Uint8Array[] = [];
    for (const r of records) {
      if (r.t === 'commit') {
        const block = decodeBlockBytes(r.blockBytes);
        if (block.block.height !== this.core.chain.height + 1) continue;
        const txs = this.edge.checkTxs(block).filter((t) => t.kind !== 'rejected');
        const committed: CommittedBlock = { block: block.block, bytes: block.bytes, hash: block.hash, certificate: r.certificate, txs } as CommittedBlock;
        this.core.chain.apply(committed);
        this.core.height = this.core.chain.height + 1;
        this.core.votes = this.core.newVoteSet();
        this.o.onCommit?.(committed);
        lastRound = null;
        own.length = 0;
      } else if (r.t === 'round') lastRound = r;
      else own.push(r.envelope);
    }
    if (lastRound) restoreRound(this.core, lastRound, (b) => this.candidate(b));
    // Own signed messages of the current height go back in, so they count and get re-broadcast.
    const now = this.o.clock.now();
    for (const e of own) {
      const i = this.edge.toInput(e, now);
      if (i.ok) this.queue.push(i.value);
    }
  }

  private candidate(bytes: Uint8Array): Candidate | null {
    try {
      const block = decodeBlockBytes(bytes);
      return { block, value: toHex(block.hash), txs: this.edge.checkTxs(block) };
    } catch {
      return null;
    }
  }

  /** Bytes from a link. Anything that fails the edge checks is dropped here, never reaching the core. */
  receive(bytes: Uint8Array): string | null {
    const i = this.edge.toInput(bytes, this.o.clock.now());
    if (!i.ok) return i.error;
    this.input(i.value);
    return null;
  }

  input(i: Input): void {
    this.queue.push(i);
    if (this.running) return;
    this.running = true;
    try {
      for (let n = 0; n < selfDeliveriesMax && this.queue.length > 0; n++) {
        const next = this.queue.shift() as Input;
        for (const e of step(this.core, next).effects) this.execute(e);
      }
      assert(this.queue.length === 0, `${this.o.id}: more than ${selfDeliveriesMax} inputs from one input`);
    } finally {
      this.running = false;
    }
  }

  private persist(r: NodeWalRecord): void {
    this.fail(`persist-${r.t}`);
    this.o.storage.append(walFile, encodeWalRecord(r));
    this.o.storage.sync(walFile);
  }

  private sendOut(to: string | null, bytes: Uint8Array): void {
    this.fail('send');
    this.bytesSent += bytes.length;
    this.messagesSent++;
    this.o.send(to, bytes);
  }

  private signAndSend(kind: 'proposal' | 'prevote' | 'precommit', height: number, round: number, body: Uint8Array): void {
    const signed = this.guard.sign(height, round, kind, signingBytes(kind, this.fleet, body));
    if (!signed.ok) {
      this.o.logger.warn(`${this.o.id}: ${signed.error}`);
      return;
    }
    const envelope = sealEnvelope(kind, this.fleet, this.o.id, body, { publicKey: this.o.signer.publicKey, sign: () => signed.value });
    this.o.onSigned?.(envelope);
    // Recorded so a restart can re-send it; the signer state, not this record, prevents double signs.
    this.persist({ t: 'own', envelope });
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
      case 'schedule': {
        const { timer, height, round, atMs } = e;
        this.o.scheduler.at(atMs, () => this.input({ type: 'timeout', now: this.o.clock.now(), timer, height, round }));
        return;
      }
      case 'commit': {
        this.o.onCommit?.(e.committed);
        const k = this.o.snapshotEveryHeights;
        if (k !== undefined && e.committed.block.height % k === 0) {
          // Snapshot first, then drop the log it covers: a crash between the two replays harmlessly.
          this.fail('snapshot');
          this.o.storage.replace(snapshotFile, encodeSnapshot(takeSnapshot(this.core.chain)));
          this.o.storage.replace(walFile, new Uint8Array(0));
        }
        return;
      }
      case 'log':
        if (e.level === 'warn') this.o.logger.warn(e.message);
        else this.o.logger.info(e.message);
        return;
      default:
        assertNever(e, 'effect');
    }
  }
}
