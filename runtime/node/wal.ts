// The consensus write-ahead log: CBOR records in a framed log (framed-log.ts: a torn or damaged final
// record is dropped, a damaged one with intact records after it to the end is corruption and the node
// refuses to start).

import { limits } from '../lib/limits.js';
import { err, ok, type Result } from '../lib/result.js';
import { decodeCbor } from '../wire/cbor.js';
import { parseCertificate } from '../wire/certificate.js';
import { encodeProof, proofItems } from '../wire/proof.js';
import { fail, parseWith } from '../wire/fields.js';
import type { Step, WalRecord } from '../consensus/types.js';
import { frameHeaderBytes, readFrames, sealFrame } from './framed-log.js';
import { CborWriter, Slabs } from '../wire/cbor-writer.js';

/** Core records plus the node's own signed proposals (so a restarted node can re-send them; its votes
 *  are kept by the signer state, signer-guard.ts, and WALs from before that hold them here too). */
export type NodeWalRecord = WalRecord | { readonly t: 'own'; readonly envelope: Uint8Array };

/** WAL records are carved from slabs of their own (cbor-writer.ts Slabs). */
const walSlabs = new Slabs();

export function encodeWalRecord(r: NodeWalRecord): Uint8Array {
  // The CBOR array is written straight after the header, so a block in the record is copied once.
  const w = new CborWriter(frameHeaderBytes + 64 + walBlockBytes(r), frameHeaderBytes, walSlabs);
  // ['commit', block bytes, certificate]: the proof's two items as they are, the certificate not encoded again.
  if (r.t === 'commit') w.array(3).text('commit').raw(proofItems(r.proof));
  else if (r.t === 'own') w.array(2).text('own').bytes(r.envelope);
  else {
    w.array(8).text('round').int(r.height).int(r.round).text(r.step).int(r.lockedRound);
    if (r.lockedBlock === null) w.null();
    else w.bytes(r.lockedBlock);
    w.int(r.validRound);
    if (r.validBlock === null) w.null();
    else w.bytes(r.validBlock);
  }
  return sealFrame(w.finish());
}

function walBlockBytes(r: NodeWalRecord): number {
  if (r.t === 'commit') return r.proof.length;
  if (r.t === 'own') return r.envelope.length;
  return (r.lockedBlock?.length ?? 0) + (r.validBlock?.length ?? 0);
}

function parseRecord(v: unknown): NodeWalRecord {
  if (!Array.isArray(v)) fail('record is not an array');
  const [t] = v as unknown[];
  if (t === 'commit') {
    const blockBytes = v[1] as Uint8Array;
    const certificate = parseCertificate(v[2]);
    return { t: 'commit', blockBytes, certificate, proof: encodeProof(blockBytes, certificate) };
  }
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
  /** Whether that final record was damaged rather than cut short (framed-log.ts Frames.damagedTail). */
  readonly damagedTail: boolean;
}

/**
 * The records of a WAL file. `damageEndsLog` (the ahead log, which is never fsynced): damage anywhere,
 * a record that does not parse included, ends the log there instead of failing, and what follows counts
 * as a torn tail.
 */
export function readWal(bytes: Uint8Array, fileName: string, o: { readonly damageEndsLog?: boolean } = {}): Result<WalReadout> {
  const f = readFrames(bytes, fileName, limits.walRecordBytesMax, { damageEndsLog: o.damageEndsLog ?? false });
  if (!f.ok) return err(`${f.error}; refusing to start (move the file aside to resync from peers)`);
  const records: NodeWalRecord[] = [];
  for (const p of f.value.payloads) {
    const d = decodeCbor(p.bytes, limits.walRecordBytesMax);
    const rec = d.ok ? parseWith('wal record', d.value, parseRecord) : d;
    if (!rec.ok && o.damageEndsLog === true) return ok({ records, tornTailBytes: bytes.length - p.offset, validBytes: p.offset, damagedTail: true });
    if (!rec.ok) return err(`${fileName} is corrupt at offset ${p.offset}: ${rec.error}`);
    records.push(rec.value);
  }
  return ok({ records, tornTailBytes: f.value.tornTailBytes, validBytes: f.value.validBytes, damagedTail: f.value.damagedTail });
}
