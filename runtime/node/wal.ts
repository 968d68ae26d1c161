// The consensus write-ahead log: records framed as [length u32 BE][crc32 u32 BE][CBOR payload].
// On reading, a damaged or short record at the very end is a torn write from a crash and is dropped;
// a damaged record followed by more data is corruption, and the node refuses to start (tendermint#573).

import { limits } from '../lib/limits.js';
import { err, ok, type Result } from '../lib/result.js';
import { decodeCbor, encodeCbor } from '../wire/cbor.js';
import { certificateToCbor, parseCertificate } from '../wire/certificate.js';
import { fail, parseWith } from '../wire/fields.js';
import type { Step, WalRecord } from '../consensus/types.js';
import { crc32 } from './crc32.js';
import { CborWriter } from '../wire/cbor-writer.js';

/** Core records plus the node's own signed envelopes (so a restarted node can re-send them). */
export type NodeWalRecord = WalRecord | { readonly t: 'own'; readonly envelope: Uint8Array };

const headerBytes = 8;

export function encodeWalRecord(r: NodeWalRecord): Uint8Array {
  // The CBOR array is written straight after the header, so a block in the record is copied once.
  const w = new CborWriter(headerBytes + 64 + walBlockBytes(r), headerBytes);
  if (r.t === 'commit') w.array(3).text('commit').bytes(r.blockBytes).raw(encodeCbor(certificateToCbor(r.certificate)));
  else if (r.t === 'own') w.array(2).text('own').bytes(r.envelope);
  else {
    w.array(8).text('round').int(r.height).int(r.round).text(r.step).int(r.lockedRound);
    if (r.lockedBlock === null) w.null();
    else w.bytes(r.lockedBlock);
    w.int(r.validRound);
    if (r.validBlock === null) w.null();
    else w.bytes(r.validBlock);
  }
  const out = w.finish();
  const payload = out.subarray(headerBytes);
  const dv = new DataView(out.buffer, out.byteOffset, headerBytes);
  dv.setUint32(0, payload.length);
  dv.setUint32(4, crc32(payload));
  return out;
}

function walBlockBytes(r: NodeWalRecord): number {
  if (r.t === 'commit') return r.blockBytes.length + 64 * r.certificate.signatures.length + 64;
  if (r.t === 'own') return r.envelope.length;
  return (r.lockedBlock?.length ?? 0) + (r.validBlock?.length ?? 0);
}

function parseRecord(v: unknown): NodeWalRecord {
  if (!Array.isArray(v)) fail('record is not an array');
  const [t] = v as unknown[];
  if (t === 'commit') return { t: 'commit', blockBytes: v[1] as Uint8Array, certificate: parseCertificate(v[2]) };
  if (t === 'own') return { t: 'own', envelope: v[1] as Uint8Array };
  if (t === 'round') {
    const [, height, round, step, lockedRound, lockedBlock, validRound, validBlock] = v as [unknown, number, number, Step, number, Uint8Array | null, number, Uint8Array | null];
    return { t: 'round', height, round, step, lockedRound, lockedBlock, validRound, validBlock };
  }
  return fail(`unknown record type ${String(t)}`);
}

export interface WalReadout {
  readonly records: NodeWalRecord[];
  /** Bytes of a torn final record that were ignored (0 when the log ends cleanly). */
  readonly tornTailBytes: number;
  /** Length of the valid prefix: a writer truncates to here before appending again. */
  readonly validBytes: number;
}

export function readWal(bytes: Uint8Array, fileName: string): Result<WalReadout> {
  const records: NodeWalRecord[] = [];
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let off = 0;
  while (off < bytes.length) {
    const remaining = bytes.length - off;
    const torn = (): Result<WalReadout> => ok({ records, tornTailBytes: remaining, validBytes: off });
    if (remaining < headerBytes) return torn();
    const len = dv.getUint32(off);
    const sum = dv.getUint32(off + 4);
    if (len > limits.walRecordBytesMax) {
      return err(`${fileName} is corrupt at offset ${off}: record length ${len} exceeds ${limits.walRecordBytesMax}; refusing to start (move the file aside to resync from peers)`);
    }
    if (remaining < headerBytes + len) return torn();
    const payload = bytes.subarray(off + headerBytes, off + headerBytes + len);
    const last = off + headerBytes + len === bytes.length;
    if (crc32(payload) !== sum) {
      if (last) return torn();
      return err(`${fileName} is corrupt at offset ${off}: checksum mismatch in a record followed by ${bytes.length - off - headerBytes - len} more bytes; refusing to start (move the file aside to resync from peers)`);
    }
    const d = decodeCbor(payload, limits.walRecordBytesMax);
    const rec = d.ok ? parseWith('wal record', d.value, parseRecord) : d;
    if (!rec.ok) return err(`${fileName} is corrupt at offset ${off}: ${rec.error}`);
    records.push(rec.value);
    off += headerBytes + len;
  }
  return ok({ records, tornTailBytes: 0, validBytes: off });
}
