// Blocks and proposals. A block is CBOR bytes; its hash is BLAKE2b-256 of exactly those bytes, so a
// block is never re-encoded once proposed.

import { hash, hashBytes } from '../crypto/sodium.js';
import { limits } from '../lib/limits.js';
import { decodeCbor, encodeCbor } from './cbor.js';
import { array, bytes, fail, id, int, map, onlyKeys, uint } from './fields.js';
import { parseCertificate, type CommitCertificate, certificateToCbor } from './certificate.js';
import { cborHeadAt, type Position } from './vote.js';

export interface Block {
  readonly height: number;
  /** Hash of the block at height - 1; 32 zero bytes at height 1. */
  readonly parent: Uint8Array;
  /** The proposer's clock in Unix ms: the replicated timestamp that commands' expiry is judged by. */
  readonly timeMs: number;
  readonly proposer: string;
  /** Signed envelopes (commands, attestations, evidence), each exactly as it arrived. */
  readonly txs: readonly Uint8Array[];
  /** The certificate that committed the parent; null at height 1. */
  readonly lastCommit: CommitCertificate | null;
  /** Hash of the signed manifest (validator set) in force at this height. */
  readonly manifestHash: Uint8Array;
  /** Hash of the application state after applying the parent block. */
  readonly appHash: Uint8Array;
}

export const zeroHash = new Uint8Array(hashBytes);

export function encodeBlock(b: Block): Uint8Array {
  return encodeCbor({
    height: b.height,
    parent: b.parent,
    timeMs: b.timeMs,
    proposer: b.proposer,
    txs: b.txs,
    lastCommit: b.lastCommit === null ? null : certificateToCbor(b.lastCommit),
    manifestHash: b.manifestHash,
    appHash: b.appHash,
  });
}

export function parseBlock(v: unknown): Block {
  const m = map(v, 'block');
  onlyKeys(m, ['height', 'parent', 'timeMs', 'proposer', 'txs', 'lastCommit', 'manifestHash', 'appHash'], 'block');
  const height = uint(m.height, 'block.height');
  if (height < 1) fail('block.height must be at least 1');
  const txs = array(m.txs, 'block.txs', limits.blockTxCountMax).map((t, i) => bytes(t, `block.txs[${i}]`, undefined, limits.blockTxBytesMax));
  return {
    height,
    parent: bytes(m.parent, 'block.parent', hashBytes),
    timeMs: uint(m.timeMs, 'block.timeMs'),
    proposer: id(m.proposer, 'block.proposer'),
    txs,
    lastCommit: m.lastCommit === null ? null : parseCertificate(m.lastCommit),
    manifestHash: bytes(m.manifestHash, 'block.manifestHash', hashBytes),
    appHash: bytes(m.appHash, 'block.appHash', hashBytes),
  };
}

export interface DecodedBlock {
  readonly block: Block;
  readonly bytes: Uint8Array;
  readonly hash: Uint8Array;
}

/** `blockHash`: BLAKE2b-256 (crypto/sodium.ts's hash, the default), or one that gives its answers. */
export function decodeBlockBytes(blockBytes: Uint8Array, blockHash: (b: Uint8Array) => Uint8Array = hash): DecodedBlock {
  const d = decodeCbor(blockBytes, limits.blockBytesMax);
  if (!d.ok) fail(`proposal.block: ${d.error}`);
  return { block: parseBlock(d.value), bytes: blockBytes, hash: blockHash(blockBytes) };
}

export interface ProposalBody {
  readonly height: number;
  readonly round: number;
  /** Tendermint's validRound: the round in which the block got a polka, or -1. */
  readonly validRound: number;
  readonly block: DecodedBlock;
}

export function encodeProposalBody(p: { height: number; round: number; validRound: number; blockBytes: Uint8Array }): Uint8Array {
  return encodeCbor({ height: p.height, round: p.round, validRound: p.validRound, block: p.blockBytes });
}

const heightKey = Uint8Array.from([0x66, ...Buffer.from('height')]);
const roundKey = Uint8Array.from([0x65, ...Buffer.from('round')]);

/** Whether `key`'s bytes stand at `at` in `b`. */
function keyAt(b: Uint8Array, at: number, key: Uint8Array): boolean {
  if (at + key.length > b.length) return false;
  for (let i = 0; i < key.length; i++) if (b[at + i] !== key[i]) return false;
  return true;
}

/**
 * The height and round of a proposal body, read from its first bytes (a map of four whose first keys are
 * height and round, as encodeProposalBody writes it) without decoding the block; null for any other
 * layout (the full parse then says what is wrong). Unverified: the edge uses it only to drop a
 * proposal that consensus would drop on its position or sender alone, before paying for its block.
 */
export function proposalPositionOf(body: Uint8Array): Position | null {
  if (body[0] !== 0xa4 || !keyAt(body, 1, heightKey)) return null;
  const h = cborHeadAt(body, 1 + heightKey.length);
  if (h === null || h.major !== 0 || !keyAt(body, h.next, roundKey)) return null;
  const r = cborHeadAt(body, h.next + roundKey.length);
  return r !== null && r.major === 0 ? { height: h.value, round: r.value } : null;
}

export function parseProposalBody(v: unknown): ProposalBody {
  const m = map(v, 'proposal');
  onlyKeys(m, ['height', 'round', 'validRound', 'block'], 'proposal');
  const height = uint(m.height, 'proposal.height');
  const round = int(m.round, 'proposal.round', 0, 0xffffffff);
  const validRound = int(m.validRound, 'proposal.validRound', -1, round - 1);
  const block = decodeBlockBytes(bytes(m.block, 'proposal.block', undefined, limits.blockBytesMax));
  if (block.block.height !== height) fail(`proposal.height ${height} differs from block.height ${block.block.height}`);
  return { height, round, validRound, block };
}
