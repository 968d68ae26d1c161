// The scenario's forgedCommands faults in real-time mode: the attacker publishes the forgeries of
// fleet-sim/sim/forged-commands.ts on the real commands topic, through the run's own broker connection
// (it holds a broker login, not the operator's signing key), and reads the devices' answers where an
// operator would: their refusal acks and refusals in JSON (docs/topics.md).

import { randomBytes } from 'node:crypto';
import { createSigner, generateKeyPair } from '../../runtime/crypto/sodium.js';
import { explainAgainMs } from '../../runtime/device/mission-runner.js';
import { encodeFrame, fleetTag } from '../../runtime/links/frame.js';
import type { Fault } from '../scenario/scenario.js';
import { forgeCommand, ForgedCommandsLedger, refusalKindOf, type ForgeContext, type ForgeryKind } from '../sim/forged-commands.js';
import type { FleetProcs } from './fleet-procs.js';

type ForgeFault = Extract<Fault, { kind: 'forged-commands' }>;

const copiesKept = 64;

export class RealtimeForgery {
  readonly ledger = new ForgedCommandsLedger();
  /** The operator's envelopes by command reference until committed; then the newest committed ones. */
  private readonly sentByRef = new Map<string, Uint8Array>();
  private readonly committed: Uint8Array[] = [];
  private readonly ctx: ForgeContext;
  private readonly tag: number;

  constructor(
    fleet: FleetProcs,
    private readonly now: () => number,
    private readonly send: (payload: Buffer) => void,
    private readonly onPublished: (detail: string) => void,
  ) {
    this.tag = fleetTag(fleet.fleet);
    this.ctx = {
      fleet: fleet.fleet,
      operatorId: fleet.operator.id,
      operator: createSigner(fleet.operator),
      observerId: fleet.observer.id,
      observer: createSigner(fleet.observer),
      attacker: createSigner(generateKeyPair()),
      nonce: () => randomBytes(16),
      now: () => Date.now(),
      committedCopy: () => (this.committed.length === 0 ? null : (this.committed[Math.floor(Math.random() * this.committed.length)] as Uint8Array)),
    };
  }

  /** The run's timeline entries for one fault: a publish every 1/rate seconds, cycling the kinds. */
  actions(f: ForgeFault): { at: number; run: () => void }[] {
    const out: { at: number; run: () => void }[] = [];
    const gap = 1000 / f.perSec;
    for (let t = f.at, k = 0; t < f.until && k < 10_000; t += gap, k++) {
      const kind = f.kinds[k % f.kinds.length] as ForgeryKind;
      out.push({ at: t, run: () => this.publish(kind) });
    }
    return out;
  }

  private publish(kind: ForgeryKind): void {
    const f = forgeCommand(kind, this.ctx);
    if (f === null) return; // a replay before anything committed
    this.ledger.onSent(f, this.now());
    // Envelopes go in link frames as murmurctl sends them; the unsigned JSON goes as it is.
    this.send(Buffer.from(kind === 'unsigned' ? f.bytes : encodeFrame(this.tag, 'consensus', f.bytes)));
    this.onPublished(`${kind}: ${f.ref ?? 'a bare JSON land order'}`);
  }

  /** The operator published this command envelope. */
  onSubmitted(ref: string, envelope: Uint8Array): void {
    if (this.sentByRef.size >= 4_096) this.sentByRef.delete(this.sentByRef.keys().next().value as string);
    this.sentByRef.set(ref, envelope);
  }

  /** A device's decision log named this command as committed (first time seen). */
  onCommitted(ref: string): void {
    const env = this.sentByRef.get(ref);
    if (env === undefined) return;
    this.sentByRef.delete(ref);
    this.committed.push(env);
    if (this.committed.length > copiesKept) this.committed.shift();
  }

  /** A JSON ack from a device ({command, node, stage, reason}). */
  onAck(a: { command?: unknown; node?: unknown; stage?: unknown; reason?: unknown }): void {
    if (a.stage !== 'refused' || typeof a.command !== 'string' || typeof a.reason !== 'string') return;
    this.ledger.onRefusalOf(a.command, refusalKindOf(a.reason), String(a.node));
  }

  /** A JSON refusal of a payload that names no command ({node, reason}). */
  onRefused(r: { node?: unknown; reason?: unknown }): void {
    if (typeof r.reason === 'string' && refusalKindOf(r.reason) === 'unsigned') this.ledger.onUnsignedRefused(String(r.node), this.now());
  }

  report(): ReturnType<ForgedCommandsLedger['report']> {
    this.ledger.settleQuietUnsigned(explainAgainMs);
    return this.ledger.report();
  }
}
