// Command intake at the edge: before a command reaches the mempool, decide whether it is unsigned,
// forged, unauthorized, expired, replayed, invalid or one more than the fleet keeps (full), so the operator hears which and why (in a signed
// "refused" ack) instead of a silent drop. Consensus re-checks everything itself; this only explains.

import { toHex } from '../lib/bytes.js';
import { limits } from '../lib/limits.js';
import { commandsFullReason } from '../consensus/chain-state.js';
import type { RejectedTx, CheckedTx } from '../consensus/types.js';
import { decodeCbor } from '../wire/cbor.js';
import { parseCommandBody } from '../wire/command.js';
import { decodeEnvelope } from '../wire/envelope.js';
import { parseWith } from '../wire/fields.js';
import { kinds } from '../wire/kinds.js';

export type RefusalKind = 'unsigned' | 'forged' | 'unauthorized' | 'expired' | 'replayed' | 'invalid' | 'full';

export type Intake =
  | { readonly verdict: 'pass' }
  /** A command we can name (operator and nonce, read from the unverified envelope). `signed`: its
   *  signature verified against its sender's key in the manifest (a member's own command, refused for
   *  what it says or when it came); false for anyone's (a stranger's, a forged one, another fleet's):
   *  those are explained at a bounded rate (mission-runner.ts). */
  | { readonly verdict: 'refused'; readonly kind: RefusalKind; readonly reason: string; readonly operator: string; readonly nonceHex: string; readonly expiresAt: number; readonly signed: boolean }
  /** Bytes that name no command at all. */
  | { readonly verdict: 'unreadable'; readonly kind: RefusalKind; readonly reason: string };

export interface IntakeContext {
  readonly fleet: string;
  readonly now: () => number;
  readonly checkTx: (bytes: Uint8Array) => CheckedTx | RejectedTx;
  /** Where (operator/nonce) was committed, if it was: its height, or (exact false) only a height by
   *  which it was (the chain's nonces, after a restore or once the exact record was forgotten). */
  readonly committedAt: (nonceKey: string) => { readonly height: number; readonly exact: boolean } | undefined;
  /** Commands committed and not yet expired; at limits.seenNoncesMax no block takes another. */
  readonly liveCommands: () => number;
  /** The bytes came on the commands topic without the link frame round them (the control plane's copy
   *  of a payload that is not a frame): a command no device takes, however well signed. */
  readonly unframed?: boolean;
}

export function intakeCommand(bytes: Uint8Array, ctx: IntakeContext): Intake {
  const raw = decodeEnvelope(bytes);
  if (!raw.ok) {
    const why = looksLikeJson(bytes) ? 'bare JSON; sign commands with `murmurctl send`' : raw.error.message;
    return { verdict: 'unreadable', kind: 'unsigned', reason: `unsigned: not a signed Murmur envelope (${why})` };
  }
  const e = raw.value;
  if (e.kind === 'manifest') return { verdict: 'pass' };
  if (e.kind !== 'command') return { verdict: 'unreadable', kind: 'invalid', reason: `invalid: a ${e.kind} message was published on the commands topic` };
  const d = decodeCbor(e.body, kinds.command.bodyBytesMax);
  const body = d.ok ? parseWith('command', d.value, parseCommandBody) : d;
  if (!body.ok) return { verdict: 'unreadable', kind: 'invalid', reason: `invalid: the command body does not parse: ${body.error}` };
  const b = body.value;
  const nonceHex = toHex(b.nonce);
  const refused = (kind: RefusalKind, reason: string, signed = true): Intake => ({ verdict: 'refused', kind, reason: `${kind}: ${reason}`, operator: e.sender, nonceHex, expiresAt: b.expiresAt, signed });
  if (e.fleet !== ctx.fleet) return refused('invalid', `the command is for fleet "${e.fleet}", this is fleet "${ctx.fleet}"`, false);
  const checked = ctx.checkTx(bytes);
  if (checked.kind === 'rejected') {
    const r = checked.reason;
    if (checked.code === 'bad-signature' || (checked.code === undefined && /signature/i.test(r))) return refused('forged', `the signature does not verify against ${e.sender}'s key in the fleet manifest (${r})`, false);
    // No code: the signature verified, and the member lacks the role (edge.ts checkTxUncached).
    return refused('unauthorized', r, checked.code === undefined);
  }
  const now = ctx.now();
  const key = `${e.sender}/${nonceHex}`;
  const at = ctx.committedAt(key);
  if (at !== undefined) return refused('replayed', `command ${key} was already committed ${at.exact ? 'at' : 'by'} height ${at.height}; sign a new command instead of resending this one`);
  if (now >= b.expiresAt) {
    // A copy that waited (a broker's queue, a replay) and a command signed a moment ago on a clock
    // behind this one look alike here: say both.
    const ttlS = Math.round((b.expiresAt - b.issuedAt) / 1000);
    return refused('expired', `the command expired at ${new Date(b.expiresAt).toISOString()}, ${now - b.expiresAt} ms ago; sign it again (if a command signed just now is refused so, the operator's clock is behind this device's by more than its ${ttlS} s lifetime: it was signed at ${new Date(b.issuedAt).toISOString()} by the operator's clock)`);
  }
  if (b.issuedAt > now + limits.clockSkewMsMax) return refused('invalid', `the command is issued ${b.issuedAt - now} ms ahead of this device's clock; check the operator's clock, or this device's (its health names a clock off the fleet's block times)`);
  const live = ctx.liveCommands();
  if (live >= limits.seenNoncesMax) return refused('full', commandsFullReason(live));
  // A client of its own that signs right but publishes the bare envelope: the link drops it as a bad
  // frame, so it was lost without a word to the operator (bare JSON was answered, a signed command not).
  if (ctx.unframed === true) return refused('invalid', 'the command came without its link frame, and devices take a command only inside one (docs/topics.md, "Link frame"; `murmurctl send --raw FILE` publishes a saved command framed)');
  return { verdict: 'pass' };
}

/** Whether bytes parse as a JSON object or list (someone typed a command into mosquitto_pub). */
function looksLikeJson(bytes: Uint8Array): boolean {
  const first = bytes[0];
  if (first !== 0x7b && first !== 0x5b) return false; // { or [
  try {
    JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
    return true;
  } catch {
    return false;
  }
}
