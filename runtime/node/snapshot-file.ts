// The snapshot file: [crc32 u32 BE][CBOR of the chain snapshot], replaced atomically. A snapshot that
// fails its checksum stops the node with the file name (never a silent start from height 0).

import { err, type Result } from '../lib/result.js';
import { decodeCbor, encodeCbor } from '../wire/cbor.js';
import { certificateToCbor, parseCertificate } from '../wire/certificate.js';
import { fail, parseWith } from '../wire/fields.js';
import type { ChainSnapshot } from '../consensus/snapshot.js';
import { crc32 } from './crc32.js';

export const snapshotFile = 'consensus.snapshot';
const snapshotBytesMax = 64 * 1024 * 1024;

export function encodeSnapshot(s: ChainSnapshot): Uint8Array {
  const body = encodeCbor([
    s.height,
    s.lastHash,
    s.lastTimeMs,
    s.lastCertificate ? certificateToCbor(s.lastCertificate) : null,
    s.appHash,
    s.manifests.map((m) => [m.fromHeight, m.bytes]),
    s.nonces.map(([k, v]) => [k, v]),
    s.evidence.map((e) => [e.culprit, e.height, e.round, e.vote, e.committedAt]),
  ]);
  const out = new Uint8Array(4 + body.length);
  new DataView(out.buffer).setUint32(0, crc32(body));
  out.set(body, 4);
  return out;
}

function parse(v: unknown): ChainSnapshot {
  if (!Array.isArray(v) || v.length !== 8) fail('snapshot must be an array of 8');
  const [height, lastHash, lastTimeMs, cert, appHash, manifests, nonces, evidence] = v as [number, Uint8Array, number, unknown, Uint8Array, [number, Uint8Array][], [string, number][], [string, number, number, string, number][]];
  return {
    height,
    lastHash,
    lastTimeMs,
    lastCertificate: cert === null ? null : parseCertificate(cert),
    appHash,
    manifests: manifests.map(([fromHeight, bytes]) => ({ fromHeight, bytes })),
    nonces: nonces.map(([k, n]) => [k, n] as const),
    evidence: evidence.map(([culprit, h, round, vote, committedAt]) => ({ culprit, height: h, round, vote, committedAt })),
  };
}

export function decodeSnapshot(bytes: Uint8Array): Result<ChainSnapshot> {
  if (bytes.length < 4) return err(`${snapshotFile} is truncated (${bytes.length} bytes); refusing to start`);
  const body = bytes.subarray(4);
  if (crc32(body) !== new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0)) return err(`${snapshotFile} fails its checksum; refusing to start (move it aside to resync from peers)`);
  const d = decodeCbor(body, snapshotBytesMax);
  if (!d.ok) return err(`${snapshotFile}: ${d.error}`);
  return parseWith(snapshotFile, d.value, parse);
}
