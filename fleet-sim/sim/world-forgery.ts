// The scenario's forgedCommands faults in deterministic mode: an attacker on the broker publishes the
// forgeries of forged-commands.ts to every device, and each honest device that receives one runs the
// intake a real device runs on its commands topic (runtime/device/intake.ts). The verdicts go into
// the ledger; the bytes still go on to the node's consensus code, which must refuse them itself (the
// checkers flag any that commits).

import { createSigner, keyPairFromSeed } from '../../runtime/crypto/sodium.js';
import { intakeCommand } from '../../runtime/device/intake.js';
import type { NodeShell } from '../../runtime/node/shell.js';
import type { Prng } from '../../runtime/lib/prng.js';
import type { Fault } from '../scenario/scenario.js';
import { forgeCommand, ForgedCommandsLedger, type ForgeContext, type Forgery } from './forged-commands.js';

type ForgeFault = Extract<Fault, { kind: 'forged-commands' }>;

/** What the forgery needs of the World. */
export interface ForgeryHost {
  readonly fleet: string;
  readonly now: () => number;
  readonly at: (t: number, fire: () => void) => void;
  /** Publishes bytes on the commands topic (the broker fans them out to every device). */
  readonly publish: (bytes: Uint8Array) => void;
  readonly operator: ForgeContext['operator'];
  readonly observer: ForgeContext['observer'];
  readonly prng: Prng;
}

const copiesKept = 64;

export class WorldForgery {
  readonly ledger = new ForgedCommandsLedger();
  /** The timeline: one line per forgery published. */
  readonly published: { at: number; detail: string }[] = [];
  /** The forgeries in flight, by the bytes object the network delivers (replays are copies). */
  private readonly inFlight = new Map<Uint8Array, { id: number; f: Forgery }>();
  /** The operator's envelopes by command reference, until committed; then the newest committed ones. */
  private readonly sentByRef = new Map<string, Uint8Array>();
  private readonly committed: Uint8Array[] = [];
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
      committedCopy: () => (this.committed.length === 0 ? null : host.prng.pick(this.committed)),
    };
  }

  schedule(f: ForgeFault): void {
    const gap = 1000 / f.perSec;
    let k = 0;
    for (let t = f.at; t < f.until && k < 100_000; t += gap, k++) {
      const kind = f.kinds[k % f.kinds.length] as ForgeFault['kinds'][number];
      this.host.at(t, () => this.publish(kind));
    }
  }

  private publish(kind: ForgeFault['kinds'][number]): void {
    const f = forgeCommand(kind, this.ctx);
    if (f === null) return; // a replay before anything committed: nothing to replay yet
    const id = this.ledger.onSent(f, this.host.now());
    this.inFlight.set(f.bytes, { id, f });
    // Late copies (duplicates, a slow link) arrive within seconds; forget the bytes after a minute.
    this.host.at(this.host.now() + 60_000, () => this.inFlight.delete(f.bytes));
    if (this.published.length < 10_000) this.published.push({ at: this.host.now(), detail: `${kind}: ${f.ref ?? 'a bare JSON land order'}` });
    this.host.publish(f.bytes);
  }

  /** The operator published this command envelope (a replay may copy it once committed). */
  onSubmitted(ref: string, envelope: Uint8Array): void {
    if (this.sentByRef.size >= 4_096) this.sentByRef.delete(this.sentByRef.keys().next().value as string);
    this.sentByRef.set(ref, envelope);
  }

  /** Commands an honest node committed first at some height. */
  onCommitted(refs: readonly string[]): void {
    for (const ref of refs) {
      if (this.ledger.isForged(ref)) this.ledger.onCommitted();
      const env = this.sentByRef.get(ref);
      if (env === undefined) continue;
      this.sentByRef.delete(ref);
      this.committed.push(env);
      if (this.committed.length > copiesKept) this.committed.shift();
    }
  }

  /** An honest device received these bytes: when they are a forgery, its intake gives a verdict. */
  onDelivered(bytes: Uint8Array, device: string, shell: NodeShell): void {
    const hit = this.inFlight.get(bytes);
    if (hit === undefined) return;
    const chain = shell.core.chain;
    const r = intakeCommand(bytes, {
      fleet: this.host.fleet,
      now: this.host.now,
      checkTx: (b) => shell.edge.checkTx(b),
      committedAt: (k) => (chain.nonceSeen(k) ? chain.height : undefined),
    });
    this.ledger.onVerdict(hit.id, hit.f, r.verdict === 'pass' ? 'passed' : r.kind, device);
  }
}
