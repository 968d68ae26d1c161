// Consensus helper messages besides proposals and votes (docs/wire.md): status (8), sync-request (9),
// sync-response (10) and evidence (11). Status and sync let lossy links recover (no gossip
// property from MQTT or radio); evidence carries two conflicting signed votes from one validator.

import { limits } from '../lib/limits.js';
import { encodeCbor } from './cbor.js';
import { parseCertificate, type CommitCertificate } from './certificate.js';
import { encodeProof, hasProofHead } from './proof.js';
import { array, bytes, int, uint } from './fields.js';
import { cborHeadAt } from './vote.js';

/** (height, round) a node is working on; receivers answer with what the sender lacks. */
export interface StatusBody {
  readonly height: number;
  readonly round: number;
}
export const encodeStatusBody = (s: StatusBody): Uint8Array => encodeCbor([s.height, s.round]);
export function parseStatusBody(v: unknown): StatusBody {
  const a = array(v, 'status', 2, 2);
  return { height: uint(a[0], 'status.height'), round: int(a[1], 'status.round', 0, 0xffffffff) };
}

/** Asks for committed blocks from `height` on (block sync). */
export interface SyncRequestBody {
  readonly height: number;
}
export const encodeSyncRequestBody = (s: SyncRequestBody): Uint8Array => encodeCbor([s.height]);
export function parseSyncRequestBody(v: unknown): SyncRequestBody {
  const a = array(v, 'syncRequest', 1, 1);
  return { height: uint(a[0], 'syncRequest.height') };
}

/** One committed block, exactly as proposed, with the certificate that committed it. */
export interface SyncResponseBody {
  readonly blockBytes: Uint8Array;
  readonly certificate: CommitCertificate;
}
/** A sync-response body is a block proof (wire/proof.ts): a node serves and announces the proof it kept. */
export const encodeSyncResponseBody = (s: SyncResponseBody): Uint8Array => encodeProof(s.blockBytes, s.certificate);
export function parseSyncResponseBody(v: unknown): SyncResponseBody {
  const a = array(v, 'syncResponse', 2, 2);
  return { blockBytes: bytes(a[0], 'syncResponse.block', undefined, limits.blockBytesMax), certificate: parseCertificate(a[1]) };
}

/** The certificate's height in a sync-response body, read from its first bytes without decoding the
 *  rest; null when they are not what encodeSyncResponseBody writes (the full parse then says what is
 *  wrong). A block a node has already committed is dropped on it before its signature is checked. */
export function syncResponseHeightOf(body: Uint8Array): number | null {
  if (!hasProofHead(body)) return null;
  const block = cborHeadAt(body, 1);
  if (block === null || block.major !== 2) return null;
  const cert = cborHeadAt(body, block.next + block.value);
  if (cert === null || cert.major !== 4 || cert.value !== 4) return null;
  const height = cborHeadAt(body, cert.next);
  return height !== null && height.major === 0 ? height.value : null;
}

/** Two signed vote envelopes of one validator at one (height, round, step) for different values. */
export interface EvidenceBody {
  readonly first: Uint8Array;
  readonly second: Uint8Array;
}
export const encodeEvidenceBody = (e: EvidenceBody): Uint8Array => encodeCbor([e.first, e.second]);
export function parseEvidenceBody(v: unknown): EvidenceBody {
  const a = array(v, 'evidence', 2, 2);
  return { first: bytes(a[0], 'evidence.first', undefined, limits.voteBytesMax + 256), second: bytes(a[1], 'evidence.second', undefined, limits.voteBytesMax + 256) };
}
