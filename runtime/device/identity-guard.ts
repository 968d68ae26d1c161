// One identity, one process. Two processes with the same device key (a copied device.yaml and key on
// a second machine, an SD card image flashed twice, a second `murmur start` with its own data
// directory) each keep their own signer state, so each signs votes the other does not know of: the
// fleet commits equivocation evidence against an honest device, and with two such keys a quorum of
// liars. They also share the MQTT client id, so the broker drops one whenever the other connects.
//
// Each process announces itself in every birth (the retained online state it publishes at each
// connection), in the Last Will it leaves with the broker for that connection and in its goodbye: a
// random instance id, when the connection was made (its clock) and its signature over both. Another
// instance's state, signed with this device's key, for a connection made since this process started,
// shows another process holds the key and is running now when
// - it comes as published, not retained: that process is connected at this moment (a second process
//   with a client id of its own); or
// - the same instance is heard for a newer connection than before: it connected again while this one
//   ran. Two processes with one client id are never connected at once (the broker drops the older
//   connection, whose Will then stands retained), but each finds the other's newer birth or Will
//   retained when it connects again.
// What an earlier run of this device left is older than this process, and retained it is heard once;
// a broker restarted from an older save hands back an older state, never a newer one. Unsigned or
// wrongly signed states are ignored (anyone the broker lets publish there could write one). A genuine
// state is public, so whoever can publish on an open broker can replay one; a replayed state is older
// than this process (unless its clock started far behind) and is not counted. A device that finds a
// conflict stops before it signs anything more.
//
// The consensus path sees what the broker cannot: a proposal or vote signed with this device's key
// that its signer state proves it never signed (a position past its last signature, or another
// signature at a position it signed: runtime/node/shell.ts, onForeignSignature), received at the
// height it signs at however it came (a radio, a bridged broker), or in the certificates of the last
// blocks as it is about to sign after catching up. So a copy that never shares the broker stops
// before its first vote once the original's precommits are in the blocks it caught up with, or at
// the first message one of the two signs that the other did not; a copy that signs exactly what this
// one signs (the same bytes) is indistinguishable from an echo and harms nothing until the two differ.
// What neither sees: the first few hundred ms of the dance on one broker, while each is connected once
// before it hears the other, as long as the two sign the same votes.

import { randomBytes } from 'node:crypto';
import { fromHex, toHex, utf8 } from '../lib/bytes.js';
import type { Signer, Verifier } from '../crypto/sodium.js';
import type { ConnectionProof, NodeState } from '../links/mqtt-topics.js';
import { signingBytes } from '../wire/signing.js';

/** How another process holding this device's key showed itself. */
export type IdentityConflict =
  /** Its birth, Will or goodbye: its instance id, and when it connected by its own clock. */
  | { readonly seen: 'birth'; readonly instance: string; readonly since: number }
  /** A proposal or vote signed with the key that this process never signed (received, or in a recent
   *  block's certificate). */
  | { readonly seen: 'signature'; readonly kind: 'proposal' | 'prevote' | 'precommit'; readonly height: number; readonly round: number };

/** One line for the log: what was seen, and what it means. */
export function describeConflict(node: string, k: IdentityConflict): string {
  if (k.seen === 'birth') return `another process holds the key of ${node} and connected to the broker at ${new Date(k.since).toISOString()} (instance ${k.instance})`;
  return `a ${k.kind} for height ${k.height} round ${k.round} signed with the key of ${node} turned up that this process never signed: another process holds the key, or this device's data directory was replaced since it last signed`;
}

/** Other instances remembered (an earlier run or two of this device, and at most a few impostors). */
const heardMax = 16;

export class IdentityGuard {
  readonly instance = randomBytes(8).toString('hex');
  private conflict: IdentityConflict | null = null;
  /** Other instances heard so far, each with the connection time it was first heard with (bounded). */
  private readonly heard = new Map<string, number>();

  constructor(
    private readonly o: {
      readonly fleet: string;
      readonly node: string;
      readonly signer: Signer;
      readonly verifier: Verifier;
      /** When this process started (ms, its clock): states of connections made before are not counted. */
      readonly startedAtMs: number;
      readonly now: () => number;
    },
  ) {}

  private message(instance: string, since: number): Uint8Array {
    return signingBytes('birth', this.o.fleet, utf8(`${this.o.node}\u0000${instance}\u0000${since}`));
  }

  /** The fields of this process's birth, signed now. */
  birth(): ConnectionProof {
    const since = Math.floor(this.o.now());
    return { instance: this.instance, since, sig: toHex(this.o.signer.sign(this.message(this.instance, since))) };
  }

  /** A birth, Will or goodbye heard on the state topic (`retained`: sent as retained, on subscribing):
   *  the conflict it shows, the first time one does, else null. */
  check(s: NodeState, retained: boolean): IdentityConflict | null {
    if (this.conflict !== null || s.node !== this.o.node) return null;
    if (s.instance === undefined || s.since === undefined || s.sig === undefined || s.instance === this.instance) return null;
    if (!/^[0-9a-f]{128}$/.test(s.sig) || s.instance.length > 64) return null;
    const sig = fromHex(s.sig);
    if (sig === undefined || !this.o.verifier.verify(sig, this.message(s.instance, s.since), this.o.signer.publicKey)) return null;
    // Fresh: a connection made since this process started. A genuine old state published again (by a
    // bridge catching up, a broker cluster, anyone who kept a copy) is older than that; only a clock
    // set far back at this start could let one through, and then it must still pass the rules below.
    if (s.since < this.o.startedAtMs) return null;
    const before = this.heard.get(s.instance);
    // Retained, its first connection heard, or one no newer than heard before (a broker restarted from
    // an older save hands back an older state): not proof that the other is running now.
    if (retained && (before === undefined || s.since <= before)) {
      if (before === undefined && this.heard.size < heardMax) this.heard.set(s.instance, s.since);
      return null;
    }
    this.conflict = { seen: 'birth', instance: s.instance, since: s.since };
    return this.conflict;
  }
}
