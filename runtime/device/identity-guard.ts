// One identity, one process. Two processes with the same device key (a copied device.yaml and key on
// a second machine, an SD card image flashed twice, a second `murmur start` with its own data
// directory) each keep their own signer state, so each signs votes the other does not know of: the
// fleet commits equivocation evidence against an honest device, and with two such keys a quorum of
// liars. They also share the MQTT client id, so the broker drops one whenever the other connects.
//
// Each process announces itself in every birth (the retained online state it publishes at each
// connection) and in the Last Will it leaves with the broker for that connection: a random instance
// id, when it connected (its clock) and its signature over both. The two processes are never connected
// at once (one client id: the broker drops the older connection, whose Will then replaces the birth),
// but each finds the other's birth or Will retained when it connects again. A process that hears a
// state of its own id, signed with its own key, by another instance, for a connection made after it
// started, knows another process holds its key and is connecting now: what an earlier run of this
// device left retained is older than this process. It stops before it signs anything more.
// Unsigned or wrongly signed births are ignored (the state topic is open to any client the broker
// lets publish there): only the key's holder can stop a device this way.

import { randomBytes } from 'node:crypto';
import { fromHex, toHex, utf8 } from '../lib/bytes.js';
import type { Signer, Verifier } from '../crypto/sodium.js';
import type { NodeState } from '../links/mqtt-topics.js';
import { signingBytes } from '../wire/signing.js';

export interface IdentityConflict {
  /** The other process's instance id, and when it connected by its own clock. */
  readonly instance: string;
  readonly since: number;
}

export class IdentityGuard {
  readonly instance = randomBytes(8).toString('hex');
  private conflict: IdentityConflict | null = null;

  constructor(
    private readonly o: {
      readonly fleet: string;
      readonly node: string;
      readonly signer: Signer;
      readonly verifier: Verifier;
      /** When this process started (wall clock, ms): births from before it may be an earlier run's. */
      readonly startedAtMs: number;
      readonly now: () => number;
    },
  ) {}

  private message(instance: string, since: number): Uint8Array {
    return signingBytes('birth', this.o.fleet, utf8(`${this.o.node}\u0000${instance}\u0000${since}`));
  }

  /** The fields of this process's birth, signed now. */
  birth(): Pick<NodeState, 'instance' | 'since' | 'sig'> {
    const since = Math.floor(this.o.now());
    return { instance: this.instance, since, sig: toHex(this.o.signer.sign(this.message(this.instance, since))) };
  }

  /** A birth or Will heard on the state topic: the conflict it shows, the first time one does, else null. */
  check(s: NodeState): IdentityConflict | null {
    if (this.conflict !== null || s.node !== this.o.node) return null;
    if (s.instance === undefined || s.since === undefined || s.sig === undefined || s.instance === this.instance) return null;
    if (s.since < this.o.startedAtMs || !/^[0-9a-f]{128}$/.test(s.sig) || s.instance.length > 64) return null;
    const sig = fromHex(s.sig);
    if (sig === undefined || !this.o.verifier.verify(sig, this.message(s.instance, s.since), this.o.signer.publicKey)) return null;
    this.conflict = { instance: s.instance, since: s.since };
    return this.conflict;
  }
}
