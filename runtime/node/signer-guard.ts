// Double-sign protection (CometBFT privval, tendermint spec consensus/signing.md). The guard keeps the
// last signed (height, round, step, hash of sign-bytes) on disk, durably BEFORE it returns a signature,
// and refuses anything that would move backwards or conflict at the same position.
//
// It is also where a node's own signed messages are kept: each record holds the signed body and the
// signature, so a node restarted in the middle of a height sends its proposal and votes of that height
// again (the core, restored past those steps, will not make them again). CometBFT writes its own
// messages to the WAL with an fsync of their own; here the fsync that makes the signature safe makes
// the message durable too: one fsync per step fewer on the way to the wire.
//
// The file is a framed log (framed-log.ts): each new signature appends one record and fsyncs once; the
// last intact record is the state. CometBFT rewrites its state file instead (temp file, fsync, rename,
// directory fsync: two fsyncs per signature); on an SD card every fsync counts. A torn final record is
// a write whose fsync never returned, so its signature never existed and the record before it holds.
// The log is rewritten as the records of its last height once it holds compactAfterRecords records or
// compactAfterBytes bytes; a file from before the log (one bare CBOR array, rewritten in place) is
// still read, and rewritten as a log.

import type { Signer } from '../crypto/sodium.js';
import { bytesEqual } from '../lib/bytes.js';
import { err, ok, type Result } from '../lib/result.js';
import { decodeCbor, encodeCbor } from '../wire/cbor.js';
import { frame, readFrames } from './framed-log.js';
import { limits } from '../lib/limits.js';
import type { Storage } from './ports.js';

export type SignStep = 'proposal' | 'prevote' | 'precommit';
const stepRank: Record<SignStep, number> = { proposal: 1, prevote: 2, precommit: 3 };

export interface LastSigned {
  readonly height: number;
  readonly round: number;
  readonly step: SignStep;
  /** BLAKE2b of the exact bytes signed, so an identical request can be signed again (same signature). */
  readonly digest: Uint8Array;
  /** The signed body and its signature; null only in files written before they were kept (and, in
   *  files from before proposals were kept, for a proposal). */
  readonly signed: { readonly body: Uint8Array; readonly signature: Uint8Array } | null;
}

export const signerStateFile = 'signer-state';

/** Records the log holds before it is rewritten as its last height's (~180 bytes for a vote). */
export const compactAfterRecords = 1024;
/** Bytes the log holds before it is rewritten (proposals carry their block). */
export const compactAfterBytes = 4 * 1_048_576;
/** One record: a proposal with the largest block, and its position, digest and signature. */
const recordBytesMax = limits.blockBytesMax + 1024;

export class SignerGuard {
  private last: LastSigned | null;
  /** The records of the last signed height, oldest first (what a restart sends again). */
  private lastHeight: LastSigned[];
  /** Records and bytes in the file now, and the bytes of lastHeight's records among them. */
  private records: number;
  private bytes: number;
  private lastHeightBytes: number;

  constructor(
    private readonly signer: Signer,
    private readonly storage: Storage,
    private readonly hash: (b: Uint8Array) => Uint8Array,
    /** Called between the append and its fsync, and between the durable write and the signature:
     *  fleet-sim crashes a node at these points. */
    private readonly failPoint: (label: string) => void = () => {},
  ) {
    const { lastHeight, records, bytes, lastHeightBytes, rewrite } = SignerGuard.readFile(storage);
    this.lastHeight = lastHeight;
    this.last = lastHeight.at(-1) ?? null;
    this.records = records;
    this.bytes = bytes;
    this.lastHeightBytes = lastHeightBytes;
    // A torn tail must go before the next append (it would sit mid-log); a legacy file becomes a log.
    if (rewrite) this.rewrite();
    // After a process crash (no reboot) the file may hold a record whose fsync never finished: read
    // from the page cache, it is the state now (its message may be sent again), so it is made durable
    // before anything acts on it.
    else if (records > 0) storage.sync(signerStateFile);
  }

  private static readFile(storage: Storage): { lastHeight: LastSigned[]; records: number; bytes: number; lastHeightBytes: number; rewrite: boolean } {
    const b = storage.read(signerStateFile);
    if (!b || b.length === 0) return { lastHeight: [], records: 0, bytes: 0, lastHeightBytes: 0, rewrite: false };
    // A log starts with a record length (u32 BE, its first byte 0); a legacy file with a CBOR array head.
    if (b[0] !== 0) return { lastHeight: [SignerGuard.parse(b)], records: 1, bytes: b.length, lastHeightBytes: b.length, rewrite: true };
    // A final record of full length that fails its checksum is not taken for a torn write: it may be a
    // signature that left this device (bit rot, a bad card), and rolling back past it could sign twice.
    const f = readFrames(b, signerStateFile, recordBytesMax, { fullLengthTailIsTorn: false });
    if (!f.ok) throw new Error(`${f.error}; refusing to sign until an operator checks it`);
    // Only the last height's records are decoded: the newest first, back to the height before.
    const lastHeight: LastSigned[] = [];
    let lastHeightFrom = f.value.validBytes;
    for (let i = f.value.payloads.length - 1; i >= 0; i--) {
      const p = f.value.payloads[i] as { offset: number; bytes: Uint8Array };
      const l = SignerGuard.parse(p.bytes);
      if (lastHeight.length > 0 && l.height !== lastHeight[0]?.height) break;
      lastHeight.unshift(l);
      lastHeightFrom = p.offset;
    }
    const bytes = f.value.validBytes;
    return { lastHeight, records: f.value.payloads.length, bytes, lastHeightBytes: bytes - lastHeightFrom, rewrite: f.value.tornTailBytes > 0 };
  }

  private static parse(b: Uint8Array): LastSigned {
    const d = decodeCbor(b, recordBytesMax);
    if (!d.ok || !Array.isArray(d.value)) throw new Error(`${signerStateFile} is unreadable; refusing to sign until an operator checks it`);
    // Four fields in files written before votes were kept.
    const [height, round, step, digest, body, signature] = d.value as [number, number, SignStep, Uint8Array, Uint8Array | null | undefined, Uint8Array | null | undefined];
    return { height, round, step, digest, signed: body instanceof Uint8Array && signature instanceof Uint8Array ? { body, signature } : null };
  }

  private static record(l: LastSigned): Uint8Array {
    return frame(encodeCbor([l.height, l.round, l.step, l.digest, l.signed?.body ?? null, l.signed?.signature ?? null]));
  }

  /** Replaces the file with the last height's records (or nothing), atomically. */
  private rewrite(): void {
    const frames = this.lastHeight.map((l) => SignerGuard.record(l));
    const all = new Uint8Array(frames.reduce((n, f) => n + f.length, 0));
    let off = 0;
    for (const f of frames) {
      all.set(f, off);
      off += f.length;
    }
    this.storage.replace(signerStateFile, all);
    this.records = frames.length;
    this.bytes = all.length;
    this.lastHeightBytes = all.length;
  }

  /** Makes `l` the durable state: one more record, fsynced; or a fresh file when the records of older
   *  heights fill the log. Only then is it the state here: a write that throws leaves the guard where
   *  the disk is. */
  private save(l: LastSigned): void {
    const before = this.lastHeight;
    const sameHeight = before[0]?.height === l.height;
    const lastHeight = sameHeight ? [...before, l] : [l];
    const olderRecords = this.records - (sameHeight ? before.length : 0);
    const olderBytes = this.bytes - (sameHeight ? this.lastHeightBytes : 0);
    if (olderRecords >= compactAfterRecords || olderBytes >= compactAfterBytes) {
      this.lastHeight = lastHeight;
      try {
        this.rewrite();
      } catch (e) {
        this.lastHeight = before;
        throw e;
      }
    } else {
      const r = SignerGuard.record(l);
      this.storage.append(signerStateFile, r);
      this.failPoint('signer-append'); // appended, not durable yet
      this.storage.sync(signerStateFile);
      this.records++;
      this.bytes += r.length;
      this.lastHeightBytes = (sameHeight ? this.lastHeightBytes : 0) + r.length;
      this.lastHeight = lastHeight;
    }
    this.last = l;
  }

  /** The last signed position, with its message. */
  lastSigned(): LastSigned | null {
    return this.last;
  }

  /** What this node signed at `height`, in order, if that is the last height it signed at: the messages
   *  a restart sends again. */
  signedAt(height: number): readonly LastSigned[] {
    return this.lastHeight[0]?.height === height ? this.lastHeight : [];
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

  /** Signs `message` for position (height, round, step), or says why that would be a double sign. The
   *  `body` it was built from is kept with the signature (see signedAt). */
  sign(height: number, round: number, step: SignStep, message: Uint8Array, body: Uint8Array): Result<Uint8Array> {
    const digest = this.hash(message);
    const l = this.last;
    if (l) {
      const cmp = this.from(height, round, step);
      if (cmp < 0) return err(`refusing to sign ${step} at ${height}/${round}: already signed ${l.step} at ${l.height}/${l.round}`);
      if (cmp === 0 && !bytesEqual(digest, l.digest)) return err(`refusing to sign a different ${step} at ${height}/${round}: one was signed before`);
    }
    if (l && bytesEqual(digest, l.digest)) {
      this.failPoint('after-signer-persist');
      return ok(l.signed?.signature ?? this.signer.sign(message));
    }
    // Computed before the durable write (it leaves this process only after it), so the file holds it.
    const signature = this.signer.sign(message);
    this.save({ height, round, step, digest, signed: { body, signature } });
    this.failPoint('after-signer-persist');
    return ok(signature);
  }
}
