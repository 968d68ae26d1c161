// The proof that a block is committed: CBOR [block bytes, commit certificate], published by devices
// once per block that decided operator commands (docs/topics.md, proof/<height>). It carries no device
// signature because it needs none: the certificate is checked against the reader's own manifest.

import type { Verifier } from '../crypto/sodium.js';
import { limits } from '../lib/limits.js';
import { err, type Result } from '../lib/result.js';
import { decodeBlockBytes, type DecodedBlock } from './block.js';
import { decodeCbor } from './cbor.js';
import { CborWriter, Slabs } from './cbor-writer.js';
import { parseCertificate, verifyCertificate, type CertificateCheck, type CommitCertificate, type ValidatorPower } from './certificate.js';
import { array, bytes, fail, parseWith } from './fields.js';

export interface BlockProof {
  readonly block: DecodedBlock;
  readonly certificate: CommitCertificate;
}

/** Proofs are carved from slabs of their own (cbor-writer.ts Slabs): a node keeps them for its window. */
const proofSlabs = new Slabs();

/** encodeCbor([blockBytes, certificateToCbor(certificate)]), byte for byte, written directly into one
 *  buffer of about its size (CborWriter): every node encodes one per commit, and cbor-x copied the
 *  block through its own buffers and walked the certificate for large integers first. */
export function encodeProof(blockBytes: Uint8Array, certificate: CommitCertificate): Uint8Array {
  const c = certificate;
  // Heads are at most 9 bytes: the block's, the certificate's four items' and each signature pair's.
  let size = 32 + blockBytes.length + c.blockHash.length;
  for (const s of c.signatures) size += 24 + s.validator.length + s.signature.length;
  const w = new CborWriter(size, 0, proofSlabs);
  w.array(2).bytes(blockBytes).array(4).int(c.height).int(c.round).bytes(c.blockHash).array(c.signatures.length);
  for (const s of c.signatures) w.array(2).text(s.validator).bytes(s.signature);
  return w.finish();
}

/** Whether `bytes`, which decoded as a CBOR array of two items, start with the one-byte head
 *  encodeProof writes: then everything after that byte is the two items (proofItems). */
export function hasProofHead(bytes: Uint8Array): boolean {
  return bytes[0] === 0x82;
}

/** A proof's two items (block bytes, certificate) without the array head, for a record that holds them
 *  among its own items (the WAL's commit record) without encoding the certificate again. */
export function proofItems(proof: Uint8Array): Uint8Array {
  if (!hasProofHead(proof)) throw new Error('not a block proof as encodeProof writes it');
  return proof.subarray(1);
}

/** Decodes a proof; never throws on input. The error names what is wrong. */
export function decodeProof(input: Uint8Array): Result<BlockProof> {
  if (input.length > limits.proofBytesMax) return err(`too-large: proof of ${input.length} bytes exceeds ${limits.proofBytesMax}`);
  const d = decodeCbor(input, limits.proofBytesMax);
  if (!d.ok) return err(`malformed: proof: ${d.error}`);
  return parseWith('proof', d.value, (v) => {
    const a = array(v, 'proof', 2, 2);
    const block = decodeBlockBytes(bytes(a[0], 'proof.block', undefined, limits.blockBytesMax));
    const certificate = parseCertificate(a[1]);
    if (certificate.height !== block.block.height) fail(`proof.certificate is for height ${certificate.height}, the block is height ${block.block.height}`);
    return { block, certificate };
  });
}

/** Checks the certificate against `validators` (the set in force at the block's height) and the block hash. */
export function verifyProof(p: BlockProof, fleet: string, validators: readonly ValidatorPower[], verifier: Verifier): Result<CertificateCheck> {
  return verifyCertificate(p.certificate, fleet, validators, verifier, p.block.hash);
}
