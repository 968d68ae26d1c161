// The snapshot file: [crc32 u32 BE][CBOR [state snapshot bytes, certificate of its last block or null]],
// replaced atomically. The state bytes are exactly the checkpoint's (runtime/consensus/snapshot.ts), so
// their commitment is recomputed at boot. A file that fails its checksum stops the node with the file
// name (never a silent start from height 0).

import { err, ok, type Result } from '../lib/result.js';
import { decodeCbor, encodeCbor } from '../wire/cbor.js';
import { certificateToCbor, parseCertificate, type CommitCertificate } from '../wire/certificate.js';
import { array, bytes, parseWith } from '../wire/fields.js';
import { snapshotBytesMax } from '../consensus/snapshot.js';
import { crc32 } from './crc32.js';

export const snapshotFile = 'consensus.snapshot';

export interface SnapshotFile {
  readonly state: Uint8Array;
  readonly lastCertificate: CommitCertificate | null;
}

export function encodeSnapshotFile(f: SnapshotFile): Uint8Array {
  const body = encodeCbor([f.state, f.lastCertificate ? certificateToCbor(f.lastCertificate) : null]);
  const out = new Uint8Array(4 + body.length);
  new DataView(out.buffer).setUint32(0, crc32(body));
  out.set(body, 4);
  return out;
}

function parse(v: unknown): SnapshotFile {
  const a = array(v, 'snapshot file', 2, 2);
  return { state: bytes(a[0], 'snapshot file state', undefined, snapshotBytesMax), lastCertificate: a[1] === null ? null : parseCertificate(a[1]) };
}

export function decodeSnapshotFile(b: Uint8Array): Result<SnapshotFile> {
  if (b.length < 4) return err(`${snapshotFile} is truncated (${b.length} bytes); refusing to start`);
  const body = b.subarray(4);
  if (crc32(body) !== new DataView(b.buffer, b.byteOffset, 4).getUint32(0)) return err(`${snapshotFile} fails its checksum; refusing to start (move it aside to resync from peers)`);
  const d = decodeCbor(body, snapshotBytesMax + 65_536);
  if (!d.ok) return err(`${snapshotFile}: ${d.error}`);
  const r = parseWith(snapshotFile, d.value, parse);
  return r.ok ? ok(r.value) : err(`${r.error}; refusing to start (move it aside to resync from peers)`);
}
