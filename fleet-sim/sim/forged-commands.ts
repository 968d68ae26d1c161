// An attacker on the broker (a leaked broker password, or a hostile broker) who does not hold the
// operator's signing key. It publishes commands that must never commit: each kind must be refused by
// the devices' intake (runtime/device/intake.ts) with the refusal the operator is meant to read, and
// none may reach a block (the checkers, or the real-time run's decision logs, see to that).
// Deterministic and real-time mode share the forgeries and the tally.

import type { Signer } from '../../runtime/crypto/sodium.js';
import type { RefusalKind } from '../../runtime/device/intake.js';
import { toHex } from '../../runtime/lib/bytes.js';
import { decodeCbor } from '../../runtime/wire/cbor.js';
import { encodeCommandBody, parseCommandBody } from '../../runtime/wire/command.js';
import { decodeEnvelope, sealEnvelope } from '../../runtime/wire/envelope.js';
import { parseWith } from '../../runtime/wire/fields.js';
import { kinds } from '../../runtime/wire/kinds.js';
import { rateTimes } from '../scenario/scenario.js';

/**
 * - unsigned: a bare JSON command, as someone would type into mosquitto_pub;
 * - bad-signature: a command in the operator's name, signed with the attacker's key;
 * - unknown-key: a command from a sender no manifest names;
 * - no-role: a command signed by a manifest member without the operator role (an observer);
 * - expired: a copy the operator really signed, found after it expired;
 * - replayed: a copy of a command the swarm already committed, published again.
 */
export const forgeryKinds = ['unsigned', 'bad-signature', 'unknown-key', 'no-role', 'expired', 'replayed'] as const;
export type ForgeryKind = (typeof forgeryKinds)[number];

/** What a device must answer to each forgery. */
export const expectedRefusal: Readonly<Record<ForgeryKind, RefusalKind>> = {
  unsigned: 'unsigned',
  'bad-signature': 'forged',
  'unknown-key': 'unauthorized',
  'no-role': 'unauthorized',
  expired: 'expired',
  replayed: 'replayed',
};

/** The id of the sender no manifest names. */
export const unknownSender = 'mallory';

export interface ForgeContext {
  readonly fleet: string;
  /** The operator the attacker impersonates, with the key it signed its real (later leaked) commands. */
  readonly operatorId: string;
  readonly operator: Signer;
  /** A manifest member without the operator role. */
  readonly observerId: string;
  readonly observer: Signer;
  /** A key in no manifest. */
  readonly attacker: Signer;
  readonly nonce: () => Uint8Array;
  /** Milliseconds on the clock the devices check expiry against. */
  readonly now: () => number;
  /** A copy of a command envelope the swarm committed, or null when none is known yet. */
  readonly committedCopy: () => Uint8Array | null;
}

export interface Forgery {
  readonly kind: ForgeryKind;
  /** What goes on the commands topic (an envelope; raw JSON for `unsigned`). */
  readonly bytes: Uint8Array;
  /** The command as acks and decision logs name it (sender/nonce hex); null for `unsigned`. */
  readonly ref: string | null;
}

/** The attacker's order: land the whole fleet. */
const order = { type: 'land', args: {} } as const;

/** One forgery of this kind, or null for `replayed` while nothing has committed. */
export function forgeCommand(kind: ForgeryKind, c: ForgeContext): Forgery | null {
  const now = Math.floor(c.now()); // command times are whole milliseconds
  const nonce = c.nonce();
  const body = (issuedAt: number, expiresAt: number): Uint8Array => encodeCommandBody({ ...order, nonce, issuedAt, expiresAt });
  const fresh = (): Uint8Array => body(now, now + 60_000);
  const named = (sender: string, bytes: Uint8Array): Forgery => ({ kind, bytes, ref: `${sender}/${toHex(nonce)}` });
  switch (kind) {
    case 'unsigned':
      return { kind, bytes: new TextEncoder().encode(JSON.stringify({ ...order, fleet: c.fleet, nonce: toHex(nonce) })), ref: null };
    case 'bad-signature':
      return named(c.operatorId, sealEnvelope('command', c.fleet, c.operatorId, fresh(), c.attacker));
    case 'unknown-key':
      return named(unknownSender, sealEnvelope('command', c.fleet, unknownSender, fresh(), c.attacker));
    case 'no-role':
      return named(c.observerId, sealEnvelope('command', c.fleet, c.observerId, fresh(), c.observer));
    case 'expired': {
      const issuedAt = Math.max(0, now - 60_000);
      return named(c.operatorId, sealEnvelope('command', c.fleet, c.operatorId, body(issuedAt, Math.max(issuedAt + 1, now - 1_000)), c.operator));
    }
    case 'replayed': {
      const copy = c.committedCopy();
      const ref = copy ? commandRef(copy) : null;
      // A copy of its own: the world tells forgeries from honest sends by the bytes object.
      return copy && ref ? { kind, bytes: Uint8Array.from(copy), ref } : null;
    }
  }
}

/** sender/nonce hex of a command envelope, or null when the bytes are not one. */
export function commandRef(envelope: Uint8Array): string | null {
  const e = decodeEnvelope(envelope);
  if (!e.ok || e.value.kind !== 'command') return null;
  const d = decodeCbor(e.value.body, kinds.command.bodyBytesMax);
  const b = d.ok ? parseWith('command', d.value, parseCommandBody) : null;
  return b?.ok ? `${e.value.sender}/${toHex(b.value.nonce)}` : null;
}

/** The refusal kind at the head of an intake reason ("forged: the signature ..."), if any. */
export function refusalKindOf(reason: string): string {
  return /^([a-z]+):/.exec(reason)?.[1] ?? 'unknown';
}

/** When each forgery of one fault goes out (ms on the run's clock) and of which kind: every 1/rate
 *  seconds from `at` until `until`, cycling through the kinds. */
export function forgerySchedule(f: { readonly at: number; readonly until: number; readonly perSec: number; readonly kinds: readonly ForgeryKind[] }): { at: number; kind: ForgeryKind }[] {
  return [...rateTimes(f.at, f.until, f.perSec, forgeriesPerFaultMax)].map((at, k) => ({ at, kind: f.kinds[k % f.kinds.length] as ForgeryKind }));
}

/** A fault publishes at most this many (50/s for 2,000 s); the parser caps the rate at 50/s. */
export const forgeriesPerFaultMax = 100_000;

/**
 * What the attacker has seen go by on the broker: the operator's command envelopes, and which of them
 * the swarm committed (the material of replays). A command replayed recently is not picked again for
 * `quietMs`: a device explains one command's refusal at most once per explainAgainMs, so a second
 * replay of it that soon would go unanswered by design.
 */
export class CommittedCopies {
  private readonly sentByRef = new Map<string, Uint8Array>();
  private readonly committed: { ref: string; envelope: Uint8Array }[] = [];
  private readonly replayedAt = new Map<string, number>();

  constructor(
    private readonly quietMs: number,
    private readonly keep = 64,
  ) {}

  /** The operator published this command envelope. */
  onSubmitted(ref: string, envelope: Uint8Array): void {
    if (this.sentByRef.size >= 4_096) this.sentByRef.delete(this.sentByRef.keys().next().value as string);
    this.sentByRef.set(ref, envelope);
  }

  /** The swarm committed this command (the first time it is seen committed). */
  onCommitted(ref: string): void {
    const envelope = this.sentByRef.get(ref);
    if (envelope === undefined) return;
    this.sentByRef.delete(ref);
    this.committed.push({ ref, envelope });
    if (this.committed.length > this.keep) this.committed.shift();
  }

  /** A committed envelope not replayed within quietMs of `now`, chosen with `pick`; null when none is. */
  pick(now: number, pick: <T>(xs: readonly T[]) => T): Uint8Array | null {
    const ready = this.committed.filter((c) => now - (this.replayedAt.get(c.ref) ?? -Infinity) >= this.quietMs);
    if (ready.length === 0) return null;
    const c = pick(ready);
    this.replayedAt.set(c.ref, now);
    if (this.replayedAt.size > 4 * this.keep) this.replayedAt.delete(this.replayedAt.keys().next().value as string);
    return c.envelope;
  }
}

/** The report's `forgedCommands` section. */
export interface ForgedCommandsReport {
  /** Forgeries published, by kind. */
  readonly sent: Partial<Record<ForgeryKind, number>>;
  /** Of those, how many reached at least one honest device (deterministic mode only: a forgery
   *  published while the broker is down reaches nobody, and so is refused by nobody). */
  readonly reached?: Partial<Record<ForgeryKind, number>>;
  /** Of those, how many some device refused with the expected refusal. Unsigned payloads name no
   *  command: in real-time mode they are matched to refusals by time (ForgedCommandsLedger.settleUnsigned). */
  readonly refused: Partial<Record<ForgeryKind, number>>;
  /** Refusals of a forgery with another reason, or a forgery a device let through to consensus. */
  readonly wrong: readonly string[];
  /** Forgeries found in a committed block (a safety violation besides). */
  readonly committed: number;
}

const wrongKept = 20;

/** The tally of one run. */
export class ForgedCommandsLedger {
  private readonly sent = new Map<ForgeryKind, number>();
  /** Forgeries not yet refused as expected, by the id onSent gave them, and when each went out. */
  private readonly pending = new Map<number, Forgery>();
  private readonly sentAt = new Map<number, number>();
  /** Forgeries some honest device received (deterministic mode sees each delivery). */
  private readonly reachedIds = new Set<number>();
  private readonly reached = new Map<ForgeryKind, number>();
  /** When devices refused unsigned payloads (real-time mode), newest last, bounded. */
  private readonly unsignedRefusals: number[] = [];
  private readonly refused = new Map<ForgeryKind, number>();
  private readonly wrong: string[] = [];
  /** Commands that exist only as forgeries (replays name a real, committed command). */
  private readonly forgedRefs = new Set<string>();
  private nextId = 0;
  private committed = 0;

  /** Records a forgery published at `at` (ms); its id names it in onVerdict. */
  onSent(f: Forgery, at: number): number {
    this.sent.set(f.kind, (this.sent.get(f.kind) ?? 0) + 1);
    this.pending.set(this.nextId, f);
    this.sentAt.set(this.nextId, at);
    if (f.ref !== null && f.kind !== 'replayed') this.forgedRefs.add(f.ref);
    return this.nextId++;
  }

  /** An honest device received forgery `id` (counted once per forgery). */
  onReached(id: number, f: Forgery): void {
    if (this.reachedIds.has(id)) return;
    this.reachedIds.add(id);
    this.reached.set(f.kind, (this.reached.get(f.kind) ?? 0) + 1);
  }

  /**
   * A device's verdict on one forgery: the intake's refusal kind, or 'passed' when it let the bytes
   * through to consensus. A replay may pass at a device that has not committed the original yet
   * (consensus then refuses the nonce a second time), so that alone is not wrong.
   */
  onVerdict(id: number, f: Forgery, refusal: string, device: string): void {
    if (refusal === expectedRefusal[f.kind]) {
      this.sentAt.delete(id);
      if (this.pending.delete(id)) this.count(f.kind);
    } else if (!(refusal === 'passed' && f.kind === 'replayed') && this.wrong.length < wrongKept) {
      this.wrong.push(`${device} answered ${refusal} to ${f.kind} ${f.ref ?? '(an unsigned payload)'}, expected ${expectedRefusal[f.kind]}`);
    }
  }

  /** A device's refusal ack naming `ref`, received at `at` (real-time mode): it answers the pending
   *  forgeries of that command published before it arrived. */
  onRefusalOf(ref: string, refusal: string, device: string, at: number): void {
    for (const [id, f] of [...this.pending]) if (f.ref === ref && (this.sentAt.get(id) ?? Infinity) <= at) this.onVerdict(id, f, refusal, device);
  }

  /** A device refused an unsigned payload at `at` (real-time mode; such refusals name no command, so
   *  settleUnsigned matches them to the payloads by time). */
  onUnsignedRefused(at: number): void {
    this.unsignedRefusals.push(at);
    if (this.unsignedRefusals.length > 10_000) this.unsignedRefusals.shift();
  }

  /**
   * At the end of a real-time run: an unsigned payload published at s was answered when some device
   * refused an unsigned payload within `answerMs` after s, or within `quietMs` before it (a device
   * explains payloads that name no command at most once per quietMs, runtime/device/mission-runner.ts,
   * so the devices that had just refused one stay silent about this one by design).
   */
  settleUnsigned(quietMs: number, answerMs: number): void {
    for (const [id, f] of [...this.pending]) {
      if (f.kind !== 'unsigned') continue;
      const s = this.sentAt.get(id) ?? Infinity;
      if (this.unsignedRefusals.some((t) => t > s - quietMs && t <= s + answerMs)) this.onVerdict(id, f, 'unsigned', 'a device');
    }
  }

  /** Whether a command reference is one of the forgeries (a decision naming it is a violation). */
  isForged(ref: string): boolean {
    return this.forgedRefs.has(ref);
  }

  /** A forgery was committed: a forged command, or a replayed one a second time. */
  onCommitted(): void {
    this.committed++;
  }

  private count(kind: ForgeryKind): void {
    this.refused.set(kind, (this.refused.get(kind) ?? 0) + 1);
  }

  report(): ForgedCommandsReport {
    return {
      sent: Object.fromEntries(this.sent),
      ...(this.reachedIds.size > 0 ? { reached: Object.fromEntries(this.reached) } : {}),
      refused: Object.fromEntries(this.refused),
      wrong: [...this.wrong],
      committed: this.committed,
    };
  }
}

/** The `forgedRefused` expectation: every forgery refused as expected, none let through or committed. */
export function forgedExpectFailures(r: ForgedCommandsReport | null): string[] {
  if (r === null) return ['forgedRefused: the scenario published no forged commands (add a forgedCommands fault)'];
  const failed: string[] = [];
  for (const k of forgeryKinds) {
    const sent = r.sent[k] ?? 0;
    const refused = r.refused[k] ?? 0;
    if (refused < sent) failed.push(`forgedRefused: ${sent - refused} of ${sent} ${k} commands were not refused as ${expectedRefusal[k]}`);
  }
  if (r.wrong.length > 0) failed.push(`forgedRefused: ${r.wrong[0]}${r.wrong.length > 1 ? ` (and ${r.wrong.length - 1} more)` : ''}`);
  if (r.committed > 0) failed.push(`forgedRefused: ${r.committed} forged commands were committed`);
  return failed;
}
