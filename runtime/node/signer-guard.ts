// Double-sign protection (CometBFT privval, tendermint spec consensus/signing.md). The guard keeps the
// last signed (height, round, step, hash of sign-bytes) on disk, durably BEFORE it returns a signature,
// and refuses anything that would move backwards or conflict at the same position. For a vote it also
// keeps the body and signature, so a node that crashed between this write and sending the vote can send
// that same vote after its restart (the core, restored to that step, will not vote again).
//
// The file is a framed log (framed-log.ts): each new signature appends one record and fsyncs once; the
// last intact record is the state. CometBFT rewrites its state file instead (temp file, fsync, rename,
// directory fsync: two fsyncs per signature); on an SD card every fsync counts. A torn final record is
// a write whose fsync never returned, so its signature never existed and the record before it holds.
// The log is rewritten as its last record every compactAfterRecords records; a file from before the
// log (one bare CBOR array, rewritten in place) is still read, and rewritten as a log.

import type { Signer } from '../crypto/sodium.js';
import { bytesEqual } from '../lib/bytes.js';
import { err, ok, type Result } from '../lib/result.js';
import { decodeCbor, encodeCbor } from '../wire/cbor.js';
import { frame, readFrames } from './framed-log.js';
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

/** Records the log holds before it is rewritten as its last one (~180 bytes each). */
export const compactAfterRecords = 1024;
const recordBytesMax = 1024;

export class SignerGuard {
  private last: LastSigned | null;
  /** Records in the file now (the next append makes one more). */
  private records: number;

  constructor(
    private readonly signer: Signer,
    private readonly storage: Storage,
    private readonly hash: (b: Uint8Array) => Uint8Array,
    /** Called between the append and its fsync, and between the durable write and the signature:
     *  fleet-sim crashes a node at these points. */
    private readonly failPoint: (label: string) => void = () => {},
  ) {
    const { last, records, rewrite } = SignerGuard.readFile(storage);
    this.last = last;
    this.records = records;
    // A torn tail must go before the next append (it would sit mid-log); a legacy file becomes a log.
    if (rewrite) this.rewrite(last);
    // After a process crash (no reboot) the file may hold a record whose fsync never finished: read
    // from the page cache, it is the state now (its vote may be sent again), so it is made durable
    // before anything acts on it.
    else if (records > 0) storage.sync(signerStateFile);
  }

  private static readFile(storage: Storage): { last: LastSigned | null; records: number; rewrite: boolean } {
    const b = storage.read(signerStateFile);
    if (!b || b.length === 0) return { last: null, records: 0, rewrite: false };
    // A log starts with a record length (u32 BE, its first byte 0); a legacy file with a CBOR array head.
    if (b[0] !== 0) return { last: SignerGuard.parse(b), records: 1, rewrite: true };
    // A final record of full length that fails its checksum is not taken for a torn write: it may be a
    // signature that left this device (bit rot, a bad card), and rolling back past it could sign twice.
    const f = readFrames(b, signerStateFile, recordBytesMax, { fullLengthTailIsTorn: false });
    if (!f.ok) throw new Error(`${f.error}; refusing to sign until an operator checks it`);
    const lastFrame = f.value.payloads.at(-1);
    return { last: lastFrame ? SignerGuard.parse(lastFrame.bytes) : null, records: f.value.payloads.length, rewrite: f.value.tornTailBytes > 0 };
  }

  private static parse(b: Uint8Array): LastSigned {
    const d = decodeCbor(b, recordBytesMax);
    if (!d.ok || !Array.isArray(d.value)) throw new Error(`${signerStateFile} is unreadable; refusing to sign until an operator checks it`);
    // Four fields in files written before votes were kept.
    const [height, round, step, digest, body, signature] = d.value as [number, number, SignStep, Uint8Array, Uint8Array | null | undefined, Uint8Array | null | undefined];
    return { height, round, step, digest, vote: body instanceof Uint8Array && signature instanceof Uint8Array ? { body, signature } : null };
  }

  private static record(l: LastSigned): Uint8Array {
    return frame(encodeCbor([l.height, l.round, l.step, l.digest, l.vote?.body ?? null, l.vote?.signature ?? null]));
  }

  /** Replaces the file with `l` alone (or nothing), atomically. */
  private rewrite(l: LastSigned | null): void {
    this.storage.replace(signerStateFile, l ? SignerGuard.record(l) : new Uint8Array(0));
    this.records = l ? 1 : 0;
  }

  /** Makes `l` the durable state: one more record, fsynced; or a fresh file when the log is full. Only
   *  then is it the state here: a write that throws leaves the guard where the disk is. */
  private save(l: LastSigned): void {
    if (this.records >= compactAfterRecords) this.rewrite(l);
    else {
      this.storage.append(signerStateFile, SignerGuard.record(l));
      this.failPoint('signer-append'); // appended, not durable yet
      this.storage.sync(signerStateFile);
      this.records++;
    }
    this.last = l;
  }
  lastSigned(): LastSigned | null {
    return this.last;
  }

  /** Where (height, round, step) lies from the last signed position: < 0 before it, 0 at it, > 0 after. */
  private from(height: number, round: number, step: SignStep): number {
    const l = this.last;
    return l ? height - l.height || round - l.round || stepRank[step] - stepRank[l.step] : 1;
  }

  /** Whether nothing has been signed at (height, round, step) or after it. */
  isAfterLastSigned(height: number, round: number, step: SignStep): boolean {
    return this.from(height, round, step) > 0;
  }

  /** Signs `message` for position (height, round, step), or says why that would be a double sign. A vote
   *  passes its `body` too, kept with the signature (see lastSigned). */
  sign(height: number, round: number, step: SignStep, message: Uint8Array, body: Uint8Array | null = null): Result<Uint8Array> {
    const digest = this.hash(message);
    const l = this.last;
    if (l) {
      const cmp = this.from(height, round, step);
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
    this.save({ height, round, step, digest, vote });
    this.failPoint('after-signer-persist');
    return ok(signature);
  }
}
