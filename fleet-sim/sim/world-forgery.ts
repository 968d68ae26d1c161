// The scenario's forgedCommands faults in deterministic mode: an attacker on the broker publishes the
// forgeries of forged-commands.ts to every device, and each honest device that receives one runs the
// intake a real device runs on its commands topic (runtime/device/intake.ts). The verdicts go into
// the ledger; the bytes still go on to the node's consensus code, which must refuse them itself (the
// checkers flag any that commits, and so does the ledger).

import { createSigner, keyPairFromSeed } from '../../runtime/crypto/sodium.js';
import { explainAgainMs } from '../../runtime/device/mission-runner.js';
import { intakeCommand } from '../../runtime/device/intake.js';
import type { NodeShell } from '../../runtime/node/shell.js';
import type { Prng } from '../../runtime/lib/prng.js';
import type { Fault } from '../scenario/scenario.js';
import { commandRef, CommittedCopies, forgeCommand, ForgedCommandsLedger, forgerySchedule, type ForgeContext, type Forgery, type ForgeryKind } from './forged-commands.js';

type ForgeFault = Extract<Fault, { kind: 'forged-commands' }>;

/** What the forgery needs of the World. */
export interface ForgeryHost {
  readonly fleet: string;
  /** The clock commands carry and devices check expiry against (the World's epoch milliseconds). */
  readonly now: () => number;
  /** Runs `fire` at queue time `t` (the scenario's timeline), and `after` ms from now. */
  readonly at: (t: number, fire: () => void) => void;
  readonly after: (ms: number, fire: () => void) => void;
  /** Publishes bytes on the commands topic (the broker fans them out to every device). */
  readonly publish: (bytes: Uint8Array) => void;
  readonly operator: ForgeContext['operator'];
  readonly observer: ForgeContext['observer'];
  readonly prng: Prng;
}

/** Late copies of a forgery (duplicates, a slow link) arrive within seconds; its bytes are forgotten after. */
const inFlightMs = 60_000;

export class WorldForgery {
  readonly ledger = new ForgedCommandsLedger();
  /** The timeline: one line per forgery published (bounded). */
  readonly published: { at: number; detail: string }[] = [];
  /** The forgeries in flight, by the bytes object the network delivers (replays are copies). */
  private readonly inFlight = new Map<Uint8Array, { id: number; f: Forgery }>();
  private readonly copies = new CommittedCopies(explainAgainMs + 1_000);
  /** Commands committed so far, to count a replay committed a second time (only while forging). */
  private readonly committedRefs = new Set<string>();
  private readonly ctx: ForgeContext;

  constructor(private readonly host: ForgeryHost) {
    this.ctx = {
      fleet: host.fleet,
      operatorId: 'op',
      operator: host.operator,
      observerId: 'watcher',
      observer: host.observer,
      attacker: createSigner(keyPairFromSeed(host.prng.bytes(32))),
      nonce: () => host.prng.bytes(16),
      now: host.now,
      committedCopy: () => this.copies.pick(host.now(), (xs) => host.prng.pick(xs)),
    };
  }

  schedule(f: ForgeFault): void {
    for (const x of forgerySchedule(f)) this.host.at(x.at, () => this.publish(x.kind));
  }

  private publish(kind: ForgeryKind): void {
    const f = forgeCommand(kind, this.ctx);
    if (f === null) return; // a replay with nothing (not recently replayed) committed yet
    const id = this.ledger.onSent(f, this.host.now());
    this.inFlight.set(f.bytes, { id, f });
    this.host.after(inFlightMs, () => this.inFlight.delete(f.bytes));
    if (this.published.length < 10_000) this.published.push({ at: this.host.now(), detail: `${kind}: ${f.ref ?? 'a bare JSON land order'}` });
    this.host.publish(f.bytes);
  }

  /** The operator published this command envelope (a replay may copy it once committed). */
  onSubmitted(ref: string, envelope: Uint8Array): void {
    this.copies.onSubmitted(ref, envelope);
  }

  /** A block an honest node committed first at its height: every command in it, verified or not (a
   *  forged command that got in would not verify, and the checkers leave those out of their list). */
  onCommitted(txs: readonly Uint8Array[]): void {
    for (const tx of txs) {
      const ref = commandRef(tx);
      if (ref === null) continue;
      if (this.ledger.isForged(ref) || this.committedRefs.has(ref)) this.ledger.onCommitted();
      this.committedRefs.add(ref);
      this.copies.onCommitted(ref);
    }
  }

  /** An honest device received these bytes: when they are a forgery, its intake gives a verdict. */
  onDelivered(bytes: Uint8Array, device: string, shell: NodeShell): void {
    const hit = this.inFlight.get(bytes);
    if (hit === undefined) return;
    this.ledger.onReached(hit.id, hit.f);
    const chain = shell.core.chain;
    const r = intakeCommand(bytes, {
      fleet: this.host.fleet,
      now: this.host.now,
      checkTx: (b) => shell.edge.checkTx(b),
      committedAt: (k) => (chain.nonceSeen(k) ? { height: chain.height, exact: false } : undefined),
      liveCommands: () => chain.liveCommands,
    });
    this.ledger.onVerdict(hit.id, hit.f, r.verdict === 'pass' ? 'passed' : r.kind, device);
  }
}
