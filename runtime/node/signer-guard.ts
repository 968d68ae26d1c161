// Double-sign protection (CometBFT privval, tendermint spec consensus/signing.md). The guard keeps the
// last signed (height, round, step, hash of sign-bytes) in a file it replaces durably BEFORE it returns
// a signature, and refuses anything that would move backwards or conflict at the same position. For a
// vote it also keeps the body and signature, so a node that crashed between this write and sending the
// vote can send that same vote after its restart (the core, restored to that step, will not vote again).

import type { Signer } from '../crypto/sodium.js';
import { bytesEqual } from '../lib/bytes.js';
import { err, ok, type Result } from '../lib/result.js';
import { decodeCbor, encodeCbor } from '../wire/cbor.js';
import type { Storage } from './ports.js';

export type SignStep = 'proposal' | 'prevote' | 'precommit';
const stepRank: Record<SignStep, number> = { proposal: 1, prevote: 2, precommit: 3 };

export interface LastSigned {
  readonly height: number;
  readonly round: number;
  readonly step: SignStep;
  /** BLAKE2b of the exact bytes signed, so an identical request can be signed again (same signature). */
  readonly digest: Uint8Array;
  /** A vote's body and signature (null for a proposal, whose block can be large). */
  readonly vote: { readonly body: Uint8Array; readonly signature: Uint8Array } | null;
}

export const signerStateFile = 'signer-state';

export class SignerGuard {
  private last: LastSigned | null;

  constructor(
    private readonly signer: Signer,
    private readonly storage: Storage,
    private readonly hash: (b: Uint8Array) => Uint8Array,
    /** Called between the durable write and the signature: fleet-sim crashes a node here. */
    private readonly failPoint: (label: string) => void = () => {},
  ) {
    this.last = SignerGuard.load(storage);
  }

  static load(storage: Storage): LastSigned | null {
    const b = storage.read(signerStateFile);
    if (!b || b.length === 0) return null;
    const d = decodeCbor(b, 1024);
    if (!d.ok || !Array.isArray(d.value)) throw new Error(`${signerStateFile} is unreadable; refusing to sign until an operator checks it`);
    // Four fields in files written before votes were kept.
    const [height, round, step, digest, body, signature] = d.value as [number, number, SignStep, Uint8Array, Uint8Array | null | undefined, Uint8Array | null | undefined];
    return { height, round, step, digest, vote: body instanceof Uint8Array && signature instanceof Uint8Array ? { body, signature } : null };
  }

  lastSigned(): LastSigned | null {
    return this.last;
  }

  /** Signs `message` for position (height, round, step), or says why that would be a double sign. A vote
   *  passes its `body` too, kept with the signature (see lastSigned). */
  sign(height: number, round: number, step: SignStep, message: Uint8Array, body: Uint8Array | null = null): Result<Uint8Array> {
    const digest = this.hash(message);
    const l = this.last;
    if (l) {
      const cmp = height - l.height || round - l.round || stepRank[step] - stepRank[l.step];
      if (cmp < 0) return err(`refusing to sign ${step} at ${height}/${round}: already signed ${l.step} at ${l.height}/${l.round}`);
      if (cmp === 0 && !bytesEqual(digest, l.digest)) return err(`refusing to sign a different ${step} at ${height}/${round}: one was signed before`);
    }
    if (l && bytesEqual(digest, l.digest)) {
      this.failPoint('after-signer-persist');
      return ok(l.vote?.signature ?? this.signer.sign(message));
    }
    // Computed before the durable write (it leaves this process only after it), so the file holds it.
    const signature = this.signer.sign(message);
    const vote = body !== null ? { body, signature } : null;
    this.storage.replace(signerStateFile, encodeCbor([height, round, step, digest, vote?.body ?? null, vote?.signature ?? null]));
    this.last = { height, round, step, digest, vote };
    this.failPoint('after-signer-persist');
    return ok(signature);
  }
}
