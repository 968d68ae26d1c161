// The scenario's forgedCommands faults in real-time mode: the attacker publishes the forgeries of
// fleet-sim/sim/forged-commands.ts on the real commands topic, through the run's own broker connection
// (it holds a broker login, not the operator's signing key), and reads the devices' answers where an
// operator would: their refusal acks and refusals in JSON (docs/topics.md).

import { randomBytes } from 'node:crypto';
import { createSigner, generateKeyPair } from '../../runtime/crypto/sodium.js';
import { explainAgainMs } from '../../runtime/device/mission-runner.js';
import { encodeFrame, fleetTag } from '../../runtime/links/frame.js';
import type { Fault } from '../scenario/scenario.js';
import { CommittedCopies, forgeCommand, ForgedCommandsLedger, forgerySchedule, refusalKindOf, type ForgeContext, type ForgedCommandsReport, type ForgeryKind } from '../sim/forged-commands.js';
import type { FleetProcs } from './fleet-procs.js';

type ForgeFault = Extract<Fault, { kind: 'forged-commands' }>;

/** How long after an unsigned payload a refusal of one still answers it (delivery and a loaded loop). */
const unsignedAnswerMs = 5_000;

export class RealtimeForgery {
  readonly ledger = new ForgedCommandsLedger();
  private readonly copies = new CommittedCopies(explainAgainMs + 1_000);
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
      committedCopy: () => this.copies.pick(this.now(), (xs) => xs[Math.floor(Math.random() * xs.length)] as (typeof xs)[number]),
    };
  }

  /** The run's timeline entries for one fault. */
  actions(f: ForgeFault): { at: number; run: () => void }[] {
    return forgerySchedule(f).map((x) => ({ at: x.at, run: () => this.publish(x.kind) }));
  }

  private publish(kind: ForgeryKind): void {
    const f = forgeCommand(kind, this.ctx);
    if (f === null) return; // a replay with nothing (not recently replayed) committed yet
    this.ledger.onSent(f, this.now());
    // Envelopes go in link frames as murmurctl sends them; the unsigned JSON goes as it is.
    this.send(Buffer.from(kind === 'unsigned' ? f.bytes : encodeFrame(this.tag, 'consensus', f.bytes)));
    this.onPublished(`${kind}: ${f.ref ?? 'a bare JSON land order'}`);
  }

  /** The operator published this command envelope. */
  onSubmitted(ref: string, envelope: Uint8Array): void {
    this.copies.onSubmitted(ref, envelope);
  }

  /** A device's decision log named this command as committed (the first time it is seen). */
  onCommitted(ref: string): void {
    this.copies.onCommitted(ref);
  }

  /** A JSON ack from a device ({command, node, stage, reason}). */
  onAck(a: { command?: unknown; node?: unknown; stage?: unknown; reason?: unknown }): void {
    if (a.stage !== 'refused' || typeof a.command !== 'string' || typeof a.reason !== 'string') return;
    this.ledger.onRefusalOf(a.command, refusalKindOf(a.reason), String(a.node), this.now());
  }

  /** A JSON refusal of a payload that names no command ({node, reason}). */
  onRefused(r: { reason?: unknown }): void {
    if (typeof r.reason === 'string' && refusalKindOf(r.reason) === 'unsigned') this.ledger.onUnsignedRefused(this.now());
  }

  report(): ForgedCommandsReport {
    this.ledger.settleUnsigned(explainAgainMs, unsignedAnswerMs);
    return this.ledger.report();
  }
}
