// Append-only files of framed records, [length u32 BE][crc32 u32 BE][payload], as the consensus WAL and
// the signer state keep them. A final record cut short is a write a crash cut (the writer never finished
// its fsync) and is dropped, and so is a damaged one with no chain of intact records after it to the
// end; damage with such a chain after it is corruption, and the reader refuses, naming the file and the
// offsets (tendermint#573: silently skipping it would replay a hole).

import { err, ok, type Result } from '../lib/result.js';
import { crc32 } from './crc32.js';

export const frameHeaderBytes = 8;

/** Fills in the header of `out`, whose payload starts at frameHeaderBytes (room reserved by the writer). */
export function sealFrame(out: Uint8Array): Uint8Array {
  const payload = out.subarray(frameHeaderBytes);
  const dv = new DataView(out.buffer, out.byteOffset, frameHeaderBytes);
  dv.setUint32(0, payload.length);
  dv.setUint32(4, crc32(payload));
  return out;
}

/** One framed record holding `payload` (a copy). */
export function frame(payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(frameHeaderBytes + payload.length);
  out.set(payload, frameHeaderBytes);
  return sealFrame(out);
}

export interface Frames {
  /** Each intact record's payload with its offset in the file, in order. */
  readonly payloads: { readonly offset: number; readonly bytes: Uint8Array }[];
  /** Bytes of a torn final record that were ignored (0 when the file ends cleanly). */
  readonly tornTailBytes: number;
  /** Length of the valid prefix: a writer truncates to here before appending again. */
  readonly validBytes: number;
  /**
   * Whether that final record was damaged (a bad checksum, a length field that cannot be one) rather
   * than cut short. Nothing intact follows it, so it is the record whose fsync a power loss
   * interrupted, holes and all; but it may also be a record that was durable and then went bad on the
   * card, and a reader that made promises from it (the signer state) must act as if it had been kept.
   */
  readonly damagedTail: boolean;
}

export interface ReadOptions {
  /** Whether damage anywhere ends the log instead of stopping the reader: the records before it are the
   *  log, and the rest counts as torn (default false). For a file that is never fsynced (the ahead log,
   *  shell.ts): a power loss may leave a hole anywhere in it, and nothing in it is a promise. */
  readonly damageEndsLog?: boolean;
}

const allZero = (b: Uint8Array): boolean => b.every((x) => x === 0);

/** The unit a disk writes whole: a power loss keeps or loses each on its own (an assumption: SD cards
 *  and eMMC promise less, and may damage neighbouring durable data, which readers then refuse). */
export const diskSectorBytes = 512;

/** Checksum bytes the search for intact records after damage may cost beyond twice the file's size
 *  (intactRecordAfter): what a chain of real records costs, plus room for bytes that only look like one. */
export const damageScanBytesMax = 256 * 1_048_576;

/**
 * Where the first record after `from` starts that begins an intact chain of records running to the
 * file's end (each length in bounds, each checksum right): null when there is none, or 'undecided' when
 * finding out would cost more than `budget` checksum bytes. A chain may also end where zeros run to the
 * end of the file, if that is in the sector of the last byte that is not zero or at a sector boundary (a
 * file system extends a file in blocks; zeros anywhere else are a record's own bytes). Every offset is
 * a candidate (a damaged length says nothing about where the next record starts). Worked backwards from
 * the end, a candidate's checksum is computed only when a verified chain starts where it ends, so bytes
 * that merely look like headers (a block's small integers) cost next to nothing. Memory: one entry per
 * verified record. Records after damage whose chain ends in a torn write are not found.
 */
export function intactRecordAfter(bytes: Uint8Array, from: number, recordBytesMax: number, budget = damageScanBytesMax + 2 * bytes.length): number | null | 'undecided' {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let lastNonZero = bytes.length - 1;
  while (lastNonZero >= 0 && bytes[lastNonZero] === 0) lastNonZero--;
  const zerosFrom = (Math.floor(lastNonZero / diskSectorBytes) + 1) * diskSectorBytes;
  const starts = new Set<number>();
  const chainAt = (at: number): boolean => at === bytes.length || (at > lastNonZero && (at <= zerosFrom || at % diskSectorBytes === 0)) || starts.has(at);
  let first: number | null = null;
  for (let at = Math.min(lastNonZero, bytes.length - frameHeaderBytes); at >= from; at--) {
    const len = dv.getUint32(at);
    const end = at + frameHeaderBytes + len;
    if (len === 0 || len > recordBytesMax || end > bytes.length || !chainAt(end)) continue;
    budget -= len;
    if (budget < 0) return 'undecided';
    if (crc32(bytes.subarray(at + frameHeaderBytes, end)) !== dv.getUint32(at + 4)) continue;
    starts.add(at);
    first = at;
  }
  return first;
}

/**
 * The records of a framed log; an error names the file, the offset and what is wrong there. A final
 * record that is cut short, or zeros to the end (a file system that extended the file but never wrote
 * its data; writers never write a record of length 0), is a write whose fsync never returned: the log
 * ends before it. A damaged record (a bad length, a checksum mismatch) ends the log too when no chain of
 * intact records runs from after it to the end: a power loss may hole the write in flight anywhere,
 * its head included (a later sector written, an earlier one not). Such a chain means the damage is in
 * bytes that were durable: corruption, and the reader refuses (tendermint#573: skipping it would
 * replay a hole).
 */
export function readFrames(bytes: Uint8Array, fileName: string, recordBytesMax: number, o: ReadOptions = {}): Result<Frames> {
  const payloads: Frames['payloads'] = [];
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let off = 0;
  while (off < bytes.length) {
    const remaining = bytes.length - off;
    const damaged = (why: string): Result<Frames> => {
      const dropped = ok({ payloads, tornTailBytes: remaining, validBytes: off, damagedTail: true });
      if (o.damageEndsLog === true) return dropped;
      const after = intactRecordAfter(bytes, off + 1, recordBytesMax);
      if (after === null) return dropped;
      const at = `${fileName} is corrupt at offset ${off}: ${why}`;
      if (after === 'undecided') return err(`${at}, and whether intact records follow it could not be told within the checks allowed (${damageScanBytesMax / 1_048_576} MiB beyond twice the file)`);
      return err(`${at}, and intact records follow from offset ${after} to the end`);
    };
    const torn = (): Result<Frames> => ok({ payloads, tornTailBytes: remaining, validBytes: off, damagedTail: false });
    if (remaining < frameHeaderBytes) return torn();
    const len = dv.getUint32(off);
    if (len === 0) return allZero(bytes.subarray(off)) ? torn() : damaged('a record of length 0');
    const sum = dv.getUint32(off + 4);
    if (len > recordBytesMax) return damaged(`record length ${len} exceeds ${recordBytesMax}`);
    if (remaining < frameHeaderBytes + len) return torn();
    const payload = bytes.subarray(off + frameHeaderBytes, off + frameHeaderBytes + len);
    if (crc32(payload) !== sum) return damaged('checksum mismatch');
    payloads.push({ offset: off, bytes: payload });
    off += frameHeaderBytes + len;
  }
  return ok({ payloads, tornTailBytes: 0, validBytes: off, damagedTail: false });
}
