// Commit certificates: the >2/3-power precommit signatures for one block. Anyone holding the signed
// manifest can check one without trusting the device or broker that delivered it (docs/wire.md).

import { hashBytes, signatureBytes, type Verifier } from '../crypto/sodium.js';
import { bytesEqual, toHex } from '../lib/bytes.js';
import { limits } from '../lib/limits.js';
import { err, ok, type Result } from '../lib/result.js';
import { array, bytes, eachOf, fail, id, int, uint } from './fields.js';
import { signingBytes } from './signing.js';
import { encodeVoteBody } from './vote.js';

export interface CertificateSignature {
  readonly validator: string;
  readonly signature: Uint8Array;
}

export interface CommitCertificate {
  readonly height: number;
  readonly round: number;
  readonly blockHash: Uint8Array;
  /** Sorted by validator id, one entry per validator. */
  readonly signatures: readonly CertificateSignature[];
}

export function certificateToCbor(c: CommitCertificate): unknown {
  return [c.height, c.round, c.blockHash, c.signatures.map((s) => [s.validator, s.signature])];
}

function parseSignature(e: unknown): CertificateSignature {
  const pair = array(e, '#', 2, 2);
  return { validator: id(pair[0], '#.validator'), signature: bytes(pair[1], '#.signature', signatureBytes) };
}

export function parseCertificate(v: unknown): CommitCertificate {
  const a = array(v, 'certificate', 4, 4);
  const sigs = eachOf(array(a[3], 'certificate.signatures', limits.certificateSignaturesMax), 'certificate.signatures', parseSignature);
  for (let i = 1; i < sigs.length; i++) {
    if ((sigs[i - 1] as CertificateSignature).validator >= (sigs[i] as CertificateSignature).validator) {
      fail('certificate.signatures must be sorted by validator id with no repeats');
    }
  }
  return {
    height: uint(a[0], 'certificate.height'),
    round: int(a[1], 'certificate.round', 0, 0xffffffff),
    blockHash: bytes(a[2], 'certificate.blockHash', hashBytes),
    signatures: sigs,
  };
}

export interface ValidatorPower {
  readonly id: string;
  readonly publicKey: Uint8Array;
  readonly power: number;
}

export interface CertificateCheck {
  readonly signedPower: number;
  readonly totalPower: number;
  readonly signers: readonly string[];
}

/** Validators by id and their total power, built once per validator set (a manifest's list is fixed;
 *  a follower checks a certificate per block against the same one). */
const indexes = new WeakMap<readonly ValidatorPower[], { readonly byId: ReadonlyMap<string, ValidatorPower>; readonly total: number }>();

function validatorIndex(validators: readonly ValidatorPower[]): { readonly byId: ReadonlyMap<string, ValidatorPower>; readonly total: number } {
  let x = indexes.get(validators);
  if (x === undefined) {
    let total = 0;
    for (const v of validators) total += v.power;
    x = { byId: new Map(validators.map((v) => [v.id, v])), total };
    indexes.set(validators, x);
  }
  return x;
}

/**
 * Verifies that validators holding more than 2/3 of the voting power signed a precommit for
 * (height, round, blockHash) in this fleet. Unknown validators or bad signatures fail the whole
 * certificate: a certificate is a proof, and a proof with a forged part is not one.
 */
export function verifyCertificate(
  cert: CommitCertificate,
  fleet: string,
  validators: readonly ValidatorPower[],
  verifier: Verifier,
  expectedBlockHash?: Uint8Array,
): Result<CertificateCheck> {
  if (expectedBlockHash && !bytesEqual(expectedBlockHash, cert.blockHash)) {
    return err(`certificate is for block ${toHex(cert.blockHash).slice(0, 16)}, not ${toHex(expectedBlockHash).slice(0, 16)}`);
  }
  const { byId, total } = validatorIndex(validators);
  const message = signingBytes('precommit', fleet, encodeVoteBody({ height: cert.height, round: cert.round, blockHash: cert.blockHash }));
  let signed = 0;
  const seen = new Set<string>();
  const signers: string[] = [];
  let sorted = true;
  for (const s of cert.signatures) {
    const v = byId.get(s.validator);
    if (!v) return err(`certificate signer "${s.validator}" is not a validator at height ${cert.height}`);
    if (seen.has(s.validator)) return err(`certificate lists validator "${s.validator}" twice`);
    seen.add(s.validator);
    if (!verifier.verify(s.signature, message, v.publicKey)) return err(`certificate signature of "${s.validator}" does not verify`);
    signed += v.power;
    if (signers.length > 0 && (signers[signers.length - 1] as string) > s.validator) sorted = false;
    signers.push(s.validator);
  }
  if (3 * signed <= 2 * total) return err(`certificate carries ${signed} of ${total} voting power; more than 2/3 is required`);
  if (!sorted) signers.sort();
  return ok({ signedPower: signed, totalPower: total, signers });
}
