// Commit certificates: the >2/3-power precommit signatures for one block. Anyone holding the signed
// manifest can check one without trusting the device or broker that delivered it (docs/wire.md).

import { hashBytes, signatureBytes, type Verifier } from '../crypto/sodium.js';
import { bytesEqual, toHex } from '../lib/bytes.js';
import { limits } from '../lib/limits.js';
import { err, ok, type Result } from '../lib/result.js';
import { array, bytes, fail, id, int, uint } from './fields.js';
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

export function parseCertificate(v: unknown): CommitCertificate {
  const a = array(v, 'certificate', 4, 4);
  const sigs = array(a[3], 'certificate.signatures', limits.certificateSignaturesMax).map((e, i) => {
    const pair = array(e, `certificate.signatures[${i}]`, 2, 2);
    return { validator: id(pair[0], `certificate.signatures[${i}].validator`), signature: bytes(pair[1], `certificate.signatures[${i}].signature`, signatureBytes) };
  });
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
  const byId = new Map(validators.map((v) => [v.id, v]));
  let total = 0;
  for (const v of validators) total += v.power;
  const message = signingBytes('precommit', fleet, encodeVoteBody({ height: cert.height, round: cert.round, blockHash: cert.blockHash }));
  let signed = 0;
  const seen = new Set<string>();
  for (const s of cert.signatures) {
    const v = byId.get(s.validator);
    if (!v) return err(`certificate signer "${s.validator}" is not a validator at height ${cert.height}`);
    if (seen.has(s.validator)) return err(`certificate lists validator "${s.validator}" twice`);
    seen.add(s.validator);
    if (!verifier.verify(s.signature, message, v.publicKey)) return err(`certificate signature of "${s.validator}" does not verify`);
    signed += v.power;
  }
  if (3 * signed <= 2 * total) return err(`certificate carries ${signed} of ${total} voting power; more than 2/3 is required`);
  return ok({ signedPower: signed, totalPower: total, signers: [...seen].sort() });
}
