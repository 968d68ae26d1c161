// State sync messages (docs/wire.md, "State sync"): snapshot-request (14), snapshot-offer (15),
// chunk-request (16) and snapshot-chunk (17). A node too far behind for block sync asks for a snapshot,
// checks the offer's proof (a certified block whose appHash commits to the chunk hashes), then fetches
// the chunks, each checked against its hash before it is kept. Every request carries a nonce that its
// answers echo: routers drop byte-identical envelopes they saw recently, and a retry must get through.

import { hashBytes } from '../crypto/sodium.js';
import { limits } from '../lib/limits.js';
import { encodeCbor } from './cbor.js';
import { certificateToCbor, parseCertificate, type CommitCertificate } from './certificate.js';
import { array, bytes, fail, uint } from './fields.js';

/** "My last committed height is `height`: offer me a snapshot above it." */
export interface SnapshotRequestBody {
  readonly height: number;
  readonly nonce: number;
}
export const encodeSnapshotRequestBody = (b: SnapshotRequestBody): Uint8Array => encodeCbor([b.height, b.nonce]);
export function parseSnapshotRequestBody(v: unknown): SnapshotRequestBody {
  const a = array(v, 'snapshotRequest', 2, 2);
  return { height: uint(a[0], 'snapshotRequest.height'), nonce: uint(a[1], 'snapshotRequest.nonce') };
}

/**
 * A snapshot of the state after block `height`: the hashes of its chunks, and the proof that the fleet
 * committed to them: block height+1 (whose appHash is the hash of the chunk hashes), that block's
 * certificate, and the signed manifest in force at height+1 (the one the block names).
 */
export interface SnapshotOfferBody {
  readonly height: number;
  readonly chunkHashes: readonly Uint8Array[];
  readonly proofBlock: Uint8Array;
  readonly proofCertificate: CommitCertificate;
  readonly manifest: Uint8Array;
  /** The nonce of the request this answers. */
  readonly nonce: number;
}
export const encodeSnapshotOfferBody = (b: SnapshotOfferBody): Uint8Array =>
  encodeCbor([b.height, b.chunkHashes, b.proofBlock, certificateToCbor(b.proofCertificate), b.manifest, b.nonce]);
export function parseSnapshotOfferBody(v: unknown): SnapshotOfferBody {
  const a = array(v, 'snapshotOffer', 6, 6);
  const hashes = array(a[1], 'snapshotOffer.chunkHashes', limits.snapshotChunksMax);
  return {
    height: uint(a[0], 'snapshotOffer.height'),
    chunkHashes: hashes.map((h, i) => bytes(h, `snapshotOffer.chunkHashes[${i}]`, hashBytes)),
    proofBlock: bytes(a[2], 'snapshotOffer.proofBlock', undefined, limits.blockBytesMax),
    proofCertificate: parseCertificate(a[3]),
    manifest: bytes(a[4], 'snapshotOffer.manifest', undefined, limits.manifestBytesMax),
    nonce: uint(a[5], 'snapshotOffer.nonce'),
  };
}

/** Asks for chunks first..first+count-1 of the snapshot after block `height`. */
export interface ChunkRequestBody {
  readonly height: number;
  readonly first: number;
  readonly count: number;
  readonly nonce: number;
}
export const encodeChunkRequestBody = (b: ChunkRequestBody): Uint8Array => encodeCbor([b.height, b.first, b.count, b.nonce]);
export function parseChunkRequestBody(v: unknown): ChunkRequestBody {
  const a = array(v, 'chunkRequest', 4, 4);
  const count = uint(a[2], 'chunkRequest.count', limits.snapshotChunksPerRequestMax);
  if (count < 1) fail('chunkRequest.count must be at least 1');
  return { height: uint(a[0], 'chunkRequest.height'), first: uint(a[1], 'chunkRequest.first', limits.snapshotChunksMax - 1), count, nonce: uint(a[3], 'chunkRequest.nonce') };
}

/** Chunk `index` of the snapshot after block `height`: bytes index*snapshotChunkBytes.. of it. */
export interface SnapshotChunkBody {
  readonly height: number;
  readonly index: number;
  readonly bytes: Uint8Array;
  /** The nonce of the chunk-request this answers. */
  readonly nonce: number;
}
export const encodeSnapshotChunkBody = (b: SnapshotChunkBody): Uint8Array => encodeCbor([b.height, b.index, b.bytes, b.nonce]);
export function parseSnapshotChunkBody(v: unknown): SnapshotChunkBody {
  const a = array(v, 'snapshotChunk', 4, 4);
  return {
    height: uint(a[0], 'snapshotChunk.height'),
    index: uint(a[1], 'snapshotChunk.index', limits.snapshotChunksMax - 1),
    bytes: bytes(a[2], 'snapshotChunk.bytes', undefined, limits.snapshotChunkBytes),
    nonce: uint(a[3], 'snapshotChunk.nonce'),
  };
}
