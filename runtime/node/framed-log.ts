// Append-only files of framed records, [length u32 BE][crc32 u32 BE][payload], as the consensus WAL and
// the signer state keep them. A damaged or short record at the very end is a torn write from a crash
// (the writer never finished its fsync, so nothing acted on it) and is dropped; a damaged record with
// more data after it is corruption, and the reader refuses, naming the file and the offset
// (tendermint#573: silently skipping it would replay a hole).

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
}

export interface ReadOptions {
  /** Whether a final record of full length that fails its checksum counts as torn (default true, the
   *  WAL's choice) or as damage (the signer state's: it may be a signature that was returned). */
  readonly fullLengthTailIsTorn?: boolean;
  /** Whether damage anywhere ends the log instead of stopping the reader: the records before it are the
   *  log, and the rest counts as torn (default false). For a file that is never fsynced (the ahead log,
   *  shell.ts): a power loss may leave a hole anywhere in it, and nothing in it is a promise. */
  readonly damageEndsLog?: boolean;
}

const allZero = (b: Uint8Array): boolean => b.every((x) => x === 0);

/** The records of a framed log; an error names the file, the offset and what is wrong there. A tail of
 *  zero bytes (a file system that extended the file but never wrote its data) is torn; writers never
 *  write a record of length 0. */
export function readFrames(bytes: Uint8Array, fileName: string, recordBytesMax: number, o: ReadOptions = {}): Result<Frames> {
  const payloads: Frames['payloads'] = [];
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let off = 0;
  while (off < bytes.length) {
    const remaining = bytes.length - off;
    const torn = (): Result<Frames> => ok({ payloads, tornTailBytes: remaining, validBytes: off });
    const damaged = (why: string): Result<Frames> => (o.damageEndsLog === true ? torn() : err(why));
    if (remaining < frameHeaderBytes) return torn();
    const len = dv.getUint32(off);
    if (len === 0) return allZero(bytes.subarray(off)) ? torn() : damaged(`${fileName} is corrupt at offset ${off}: a record of length 0`);
    const sum = dv.getUint32(off + 4);
    if (len > recordBytesMax) {
      return damaged(`${fileName} is corrupt at offset ${off}: record length ${len} exceeds ${recordBytesMax}`);
    }
    if (remaining < frameHeaderBytes + len) return torn();
    const payload = bytes.subarray(off + frameHeaderBytes, off + frameHeaderBytes + len);
    const last = off + frameHeaderBytes + len === bytes.length;
    if (crc32(payload) !== sum) {
      if (last && (o.fullLengthTailIsTorn ?? true)) return torn();
      if (last) return damaged(`${fileName} is corrupt at offset ${off}: its last record fails its checksum`);
      return damaged(`${fileName} is corrupt at offset ${off}: checksum mismatch in a record followed by ${bytes.length - off - frameHeaderBytes - len} more bytes`);
    }
    payloads.push({ offset: off, bytes: payload });
    off += frameHeaderBytes + len;
  }
  return ok({ payloads, tornTailBytes: 0, validBytes: off });
}
