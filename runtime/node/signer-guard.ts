// Double-sign protection (CometBFT privval, tendermint spec consensus/signing.md). The guard keeps the
// last signed (height, round, step, hash of sign-bytes) on disk, durably BEFORE it returns a signature,
// and refuses anything that would move backwards or conflict at the same position.
//
// It also keeps a vote's body with its signature, so a node restarted in the middle of a height sends
// its votes of that height again (the core, restored past those steps, will not cast them again). The
// fsync that makes the signature safe makes the vote durable too: CometBFT writes its own messages to
// the WAL with an fsync of their own, one more per step. A proposal's body is not kept here (its block
// can be large, and the previous release reads records of at most 1024 bytes: a rollback must still
// read this file); the shell writes its own proposals to the WAL.
//
// A restart takes its position and its lock from here too: the WAL's round records are written ahead
// of each signature without an fsync of their own (the shell's persist), so the last durable one may
// be older than the last signature. A precommit for a block is the lock on it, so the height's newest
// such record is kept even when newer ones fill the newest few (kept, below).
//
// The file is a framed log (framed-log.ts): each new signature appends one record and fsyncs once; the
// last intact record is the state. CometBFT rewrites its state file instead (temp file, fsync, rename,
// directory fsync: two fsyncs per signature); on an SD card every fsync counts. A torn final record is
// a write whose fsync never returned, so its signature never existed and the record before it holds.
// Each record starts at a sector boundary and is padded to fill its sector (diskSectorBytes, padded): a
// disk writes a sector whole, so a power loss leaves the record in flight whole, absent (zeros) or cut
// short, never holed with a later part kept (which would read as damage). PostgreSQL keeps pg_control
// within one sector for the same reason. A last record that fails its checksum is then bytes that went
// bad after they were durable: it may be a signature that left, and the guard refuses to sign.
// The log is rewritten as its last height's newest records once it holds compactAfterRecords records,
// and after a write that failed; a file from before the log (one bare CBOR array, rewritten in
// place) is still read, and rewritten as a log.

import type { Signer } from '../crypto/sodium.js';
import { bytesEqual, concatBytes } from '../lib/bytes.js';
import { err, ok, type Result } from '../lib/result.js';
import { decodeCbor } from '../wire/cbor.js';
import { CborWriter } from '../wire/cbor-writer.js';
import { diskSectorBytes, frameHeaderBytes, readFrames, sealFrame, type Frames } from './framed-log.js';
import { limits } from '../lib/limits.js';
import { parseVoteBody, type VoteBody } from '../wire/vote.js';
import type { Storage } from './ports.js';

export type SignStep = 'proposal' | 'prevote' | 'precommit';
const stepRank: Record<SignStep, number> = { proposal: 1, prevote: 2, precommit: 3 };

export interface LastSigned {
  readonly height: number;
  readonly round: number;
  readonly step: SignStep;
  /** BLAKE2b of the exact bytes signed, so an identical request can be signed again (same signature). */
  readonly digest: Uint8Array;
  /** A vote's body and signature (null for a proposal, and in files written before votes were kept). */
  readonly signed: { readonly body: Uint8Array; readonly signature: Uint8Array } | null;
}

export const signerStateFile = 'signer-state';

/** Records the log holds before it is rewritten (a sector, 512 bytes, each: at most 512 KiB). */
export const compactAfterRecords = 1024;
/** The previous release's limit too: a rollback reads this file. */
const recordBytesMax = 1024;

export class SignerGuard {
  /** The newest records of the last signed height, oldest first, one per position (what a restart
   *  sends again, no more than the core re-sends of its own: limits.ownMessagesMax), and the height's
   *  newest precommit for a block if it is older than those (the lock a restart takes from here, see
   *  kept). The last one is the state. */
  private lastHeight: LastSigned[];
  /** Records in the file now. */
  private records: number;
  /** A write failed: the file may hold a record that is not the state here, so the next save rewrites
   *  it from memory instead of appending. */
  private damaged = false;
  /** A final record cut short (or zeros) that reading the file at construction dropped: a write a crash
   *  cut, whose signature never left (it waits for the record's fsync). For the start's log. */
  readonly droppedTail: { readonly bytes: number; readonly offset: number } | null;

  constructor(
    private readonly signer: Signer,
    private readonly storage: Storage,
    private readonly hash: (b: Uint8Array) => Uint8Array,
    /** Called between the append and its fsync, and between the durable write and the signature:
     *  fleet-sim crashes a node at these points. */
    private readonly failPoint: (label: string) => void = () => {},
  ) {
    const { lastHeight, records, rewrite, droppedTail } = SignerGuard.readFile(storage);
    this.lastHeight = lastHeight;
    this.records = records;
    this.droppedTail = droppedTail;
    // A torn tail must go before the next append (it would sit mid-log); a legacy file becomes a log, and
    // a log from before sector-aligned records becomes an aligned one.
    if (rewrite) this.rewrite();
    // After a process crash (no reboot) the file may hold a record whose fsync never finished: read
    // from the page cache, it is the state now (its message may be sent again), so it is made durable
    // before anything acts on it.
    else if (records > 0) storage.sync(signerStateFile);
  }

  private static readFile(storage: Storage): { lastHeight: LastSigned[]; records: number; rewrite: boolean; droppedTail: { bytes: number; offset: number } | null } {
    const b = storage.read(signerStateFile);
    if (!b || b.length === 0) return { lastHeight: [], records: 0, rewrite: false, droppedTail: null };
    // A log starts with a record length (u32 BE, its first byte 0); a legacy file with a CBOR array head.
    if (b[0] !== 0) return { lastHeight: [SignerGuard.parse(b)], records: 1, rewrite: true, droppedTail: null };
    // A damaged final record (not merely short or zeros) is not taken for a torn write: records fill
    // whole sectors, so a power loss cannot hole one; it went bad after it was durable (bit rot, a bad
    // card) and may be a signature that left this device: rolling back past it could sign twice.
    const f = readFrames(b, signerStateFile, recordBytesMax);
    if (!f.ok) throw new Error(`${f.error}; refusing to sign until an operator checks it`);
    if (f.value.damagedTail || lengthDecayed(b, f.value)) throw new Error(`${signerStateFile} is corrupt at offset ${f.value.validBytes}: its last record is damaged (it may be a signature that left this device); refusing to sign until an operator checks it`);
    // Only the last height's records are decoded: the newest first, back to the height before, and
    // past the newest few only as far as its lock (see kept).
    const newestFirst: LastSigned[] = [];
    for (let i = f.value.payloads.length - 1; i >= 0; i--) {
      const l = SignerGuard.parse((f.value.payloads[i] as { bytes: Uint8Array }).bytes);
      if (newestFirst.length > 0 && l.height !== newestFirst[0]?.height) break;
      // One record per position, the newest: an older one at the same position is a write that failed
      // (its signature never left), and sending both would be an equivocation.
      if (newestFirst.some((x) => x.round === l.round && x.step === l.step)) continue;
      const full = newestFirst.length >= limits.ownMessagesMax;
      if (full && newestFirst.some(isLock)) break;
      if (!full || isLock(l)) newestFirst.push(l);
    }
    const droppedTail = f.value.tornTailBytes > 0 ? { bytes: f.value.tornTailBytes, offset: f.value.validBytes } : null;
    return { lastHeight: newestFirst.reverse(), records: f.value.payloads.length, rewrite: droppedTail !== null || f.value.validBytes % diskSectorBytes !== 0, droppedTail };
  }

  private static parse(b: Uint8Array): LastSigned {
    const d = decodeCbor(b, recordBytesMax);
    if (!d.ok || !Array.isArray(d.value)) throw new Error(`${signerStateFile} is unreadable; refusing to sign until an operator checks it`);
    // Four fields in files written before votes were kept.
    const [height, round, step, digest, body, signature] = d.value as [number, number, SignStep, Uint8Array, Uint8Array | null | undefined, Uint8Array | null | undefined];
    if (!Number.isSafeInteger(height) || !Number.isSafeInteger(round) || !(step in stepRank) || !(digest instanceof Uint8Array)) {
      throw new Error(`${signerStateFile} holds a record that is not a signing position; refusing to sign until an operator checks it`);
    }
    // Copies: views would keep the whole file's buffer alive.
    return { height, round, step, digest: digest.slice(), signed: body instanceof Uint8Array && signature instanceof Uint8Array ? { body: body.slice(), signature: signature.slice() } : null };
  }

  /** The position's six fields as one CBOR array: encodeCbor's bytes for [height, round, step, digest,
   *  body or null, signature or null], written directly (a record is made for every signature). */
  private static fields(l: LastSigned): Uint8Array {
    const w = new CborWriter(64 + l.digest.length + (l.signed === null ? 0 : l.signed.body.length + l.signed.signature.length));
    w.array(6).int(l.height).int(l.round).text(l.step).bytes(l.digest);
    if (l.signed === null) w.null().null();
    else w.bytes(l.signed.body).bytes(l.signed.signature);
    return w.finish();
  }

  /** One record, filling whole sectors: the position's six fields, then padding the reader ignores (a
   *  byte string, and a null when a byte string cannot fill the gap exactly: its header grows from one
   *  byte to two at 24 bytes and to three at 256). Within the previous release's 1024 bytes. */
  private static record(l: LastSigned): Uint8Array {
    const bare = SignerGuard.fields(l);
    // The array's head stays one byte with a seventh and eighth element.
    const size = Math.ceil((frameHeaderBytes + bare.length + 1) / diskSectorBytes) * diskSectorBytes;
    const gap = size - frameHeaderBytes - bare.length;
    const padBytes = (n: number): number => n + (n < 24 ? 1 : n < 256 ? 2 : 3);
    let n = gap - 1;
    while (n > 0 && padBytes(n) > gap) n--;
    const withNull = padBytes(n) !== gap;
    // [...fields, padding (n zero bytes), null?], written from the bare array's encoding: a CBOR array is
    // its head and then each element's own encoding, so only the head changes (7 or 8 elements, one
    // byte either way), and the padding's byte string (its head, then zeros) and the null follow.
    const out = new Uint8Array(size);
    let p = frameHeaderBytes;
    out[p++] = withNull ? 0x88 : 0x87;
    out.set(bare.subarray(1), p);
    p += bare.length - 1;
    if (n < 24) out[p++] = 0x40 | n;
    else if (n < 256) {
      out[p++] = 0x58;
      out[p++] = n;
    } else {
      out[p++] = 0x59;
      out[p++] = n >> 8;
      out[p++] = n & 0xff;
    }
    p += n;
    if (withNull) out[p++] = 0xf6;
    // Checked before the signature can leave (save runs before sign returns it).
    if (bare[0] !== 0x86 || p !== size || size - frameHeaderBytes > recordBytesMax) throw new Error(`${signerStateFile}: a record of ${p} bytes (${size} expected, payload at most ${recordBytesMax}); refusing to sign`);
    return sealFrame(out);
  }

  /** Replaces the file with the last height's records (or nothing), atomically. */
  private rewrite(): void {
    this.storage.replace(signerStateFile, concatBytes(...this.lastHeight.map((l) => SignerGuard.record(l))));
    this.records = this.lastHeight.length;
    this.damaged = false;
  }

  /** Makes `l` the durable state: one more record, fsynced; or a fresh file when the log is full or a
   *  write failed before. Only then is it the state here: a write that throws leaves the guard
   *  where it was, and the next save rewrites the file from that. */
  private save(l: LastSigned): void {
    const before = this.lastHeight;
    // `l` is past every record here (sign refuses anything else), so positions stay one record each.
    const lastHeight = kept([...(before[0]?.height === l.height ? before : []), l]);
    try {
      if (this.damaged || this.records >= compactAfterRecords) {
        this.lastHeight = lastHeight;
        this.rewrite();
      } else {
        this.storage.append(signerStateFile, SignerGuard.record(l));
        this.failPoint('signer-append'); // appended, not durable yet
        this.storage.sync(signerStateFile);
        this.records++;
        this.lastHeight = lastHeight;
      }
    } catch (e) {
      this.lastHeight = before;
      this.damaged = true;
      throw e;
    }
  }

  /** The last signed position, with its message. */
  lastSigned(): LastSigned | null {
    return this.lastHeight.at(-1) ?? null;
  }

  /** The newest of what this node signed at `height` (one per position, oldest first), if that is the
   *  last height it signed at: what a restart sends again (votes; proposals have no body here). */
  signedAt(height: number): readonly LastSigned[] {
    return this.lastHeight[0]?.height === height ? this.lastHeight : [];
  }

  /** Where (height, round, step) lies from the last signed position: < 0 before it, 0 at it, > 0 after. */
  private from(height: number, round: number, step: SignStep): number {
    const l = this.lastSigned();
    return l ? height - l.height || round - l.round || stepRank[step] - stepRank[l.step] : 1;
  }

  /** Whether nothing has been signed at (height, round, step) or after it. */
  isAfterLastSigned(height: number, round: number, step: SignStep): boolean {
    return this.from(height, round, step) > 0;
  }

  /**
   * Whether a message signed with this node's key, at (height, round, step), whose signed bytes hash to
   * `digest` (this guard's hash of what it signs), is proof that something else signs with the key: its
   * position is past the last one signed here (each position is durable in this file before its
   * signature leaves, so nothing this node sent can be ahead of it), or a record kept here at that very
   * position holds other bytes. Anything else (an echo of a message sent from here, an older position
   * no longer kept) proves nothing.
   */
  notSignedHere(height: number, round: number, step: SignStep, digest: Uint8Array): boolean {
    if (this.from(height, round, step) > 0) return true;
    const at = this.keptAt(height, round, step);
    return at !== undefined && !bytesEqual(at.digest, digest);
  }

  /** Whether this guard holds a signature of exactly these bytes at that position (an echo of its own). */
  holds(height: number, round: number, step: SignStep, digest: Uint8Array): boolean {
    const at = this.keptAt(height, round, step);
    return at !== undefined && bytesEqual(at.digest, digest);
  }

  /** The hash this guard keeps of what it signs, for notSignedHere and holds. */
  digestOf(message: Uint8Array): Uint8Array {
    return this.hash(message);
  }

  private keptAt(height: number, round: number, step: SignStep): LastSigned | undefined {
    return this.signedAt(height).find((l) => l.round === round && l.step === step);
  }

  /** Signs `message` for position (height, round, step), or says why that would be a double sign. A vote
   *  passes its `body` too, kept with the signature (see signedAt). */
  sign(height: number, round: number, step: SignStep, message: Uint8Array, body: Uint8Array | null = null): Result<Uint8Array> {
    const digest = this.hash(message);
    const l = this.lastSigned();
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
    this.save({ height, round, step, digest, signed: body === null ? null : { body, signature } });
    this.failPoint('after-signer-persist');
    return ok(signature);
  }
}

/** The vote a kept body holds; null when the bytes are not a vote body. */
export function voteOf(body: Uint8Array): VoteBody | null {
  const d = decodeCbor(body, recordBytesMax);
  if (!d.ok) return null;
  try {
    return parseVoteBody(d.value);
  } catch {
    return null;
  }
}

/**
 * Whether a final record that reads as cut short is one whose length went bad instead: in a log of
 * sector-filling records (every intact one a whole number of sectors), a record at a sector boundary
 * claims a whole number of sectors, and a power loss that cuts it leaves less than a sector of it (the
 * file grows by whole sectors per append; a write cut mid-sector, a full disk, leaves the rest). A
 * claim of another size, or one whose whole sectors are there and still too short, is decay. Not
 * judged in a log from before sector-filling records, nor without an intact record to tell by.
 */
function lengthDecayed(b: Uint8Array, f: Frames): boolean {
  if (f.tornTailBytes < frameHeaderBytes || f.damagedTail || f.payloads.length === 0) return false;
  if (!f.payloads.every((p) => (frameHeaderBytes + p.bytes.length) % diskSectorBytes === 0)) return false;
  const len = new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(f.validBytes);
  if (len === 0) return false; // zeros: the sector never reached the disk
  return (frameHeaderBytes + len) % diskSectorBytes !== 0 || f.tornTailBytes % diskSectorBytes === 0;
}

/** isLock's answers, per record: kept() asks about every record of the height at each signature, and
 *  a record (readonly, its body never written into) always gets the same answer. */
const lockOf = new WeakMap<LastSigned, boolean>();

/** Whether `l` is a precommit for a block (not nil): the node locked on that block in that round. */
export function isLock(l: LastSigned): boolean {
  if (l.step !== 'precommit' || l.signed === null) return false;
  let lock = lockOf.get(l);
  if (lock === undefined) {
    lock = (voteOf(l.signed.body)?.blockHash ?? null) !== null;
    lockOf.set(l, lock);
  }
  return lock;
}

/**
 * What the guard keeps of one height's records (oldest first, one per position): the newest
 * limits.ownMessagesMax, and the newest precommit for a block before them if none of them is one. The
 * round state the WAL holds beside it is written ahead of each signature without an fsync of its own,
 * so after a crash this file is where a restart learns its lock (NodeShell.replay): a long height of nil
 * rounds after it must not push it out.
 */
function kept(records: readonly LastSigned[]): LastSigned[] {
  const newest = records.slice(-limits.ownMessagesMax);
  if (newest.some(isLock)) return newest;
  const lock = records.slice(0, -limits.ownMessagesMax).findLast(isLock);
  return lock ? [lock, ...newest] : newest;
}
