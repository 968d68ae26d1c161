// Commit certificates: >2/3 of the voting power, every signature valid, every signer a validator.

import { beforeAll, describe, expect, it } from 'vitest';
import { hash } from '../../runtime/crypto/sodium.js';
import { utf8 } from '../../runtime/lib/bytes.js';
import { decodeCbor, encodeCbor } from '../../runtime/wire/cbor.js';
import { certificateToCbor, parseCertificate, verifyCertificate, type CommitCertificate } from '../../runtime/wire/certificate.js';
import { parseWith } from '../../runtime/wire/fields.js';
import { signingBytes } from '../../runtime/wire/signing.js';
import { encodeVoteBody } from '../../runtime/wire/vote.js';
import { createVerifier, makeFleet, type FleetFixture } from '../support/fleet-fixture.js';

let fx: FleetFixture;
const blockHash = new Uint8Array(32);

beforeAll(async () => {
  fx = await makeFleet({ validators: 4, powers: [1, 1, 1, 3] });
  blockHash.set(hash(utf8('block 12')));
});

function certBy(ids: string[], opts: { height?: number; signAs?: Record<string, string> } = {}): CommitCertificate {
  const height = opts.height ?? 12;
  const msg = signingBytes('precommit', fx.fleet, encodeVoteBody({ height, round: 1, blockHash }));
  return {
    height,
    round: 1,
    blockHash,
    signatures: [...ids].sort().map((id) => ({ validator: id, signature: fx.signer(opts.signAs?.[id] ?? id).sign(msg) })),
  };
}

describe('commit certificates (validator powers 1, 1, 1, 3; total 6)', () => {
  it('power 5 of 6 commits', () => {
    const r = verifyCertificate(certBy(['v0', 'v1', 'v3']), fx.fleet, fx.manifest.validators, createVerifier(), blockHash);
    expect(r.ok && r.value).toEqual({ signedPower: 5, totalPower: 6, signers: ['v0', 'v1', 'v3'] });
  });
  it('power 4 of 6 (exactly 2/3) does not', () => {
    const r = verifyCertificate(certBy(['v0', 'v3']), fx.fleet, fx.manifest.validators, createVerifier());
    expect(!r.ok && r.error).toContain('more than 2/3');
  });
  it('three of four validators by count but only half the power does not', () => {
    const r = verifyCertificate(certBy(['v0', 'v1', 'v2']), fx.fleet, fx.manifest.validators, createVerifier());
    expect(!r.ok && r.error).toContain('3 of 6');
  });
  it('a forged signature rejects the whole certificate', () => {
    const r = verifyCertificate(certBy(['v0', 'v1', 'v3'], { signAs: { v1: 'v2' } }), fx.fleet, fx.manifest.validators, createVerifier());
    expect(!r.ok && r.error).toContain('"v1" does not verify');
  });
  it('a signer outside the validator set is refused', () => {
    const c = certBy(['v0', 'v3']);
    const withOp = { ...c, signatures: [...c.signatures, { validator: 'op', signature: new Uint8Array(64) }] };
    const r = verifyCertificate(withOp, fx.fleet, fx.manifest.validators, createVerifier());
    expect(!r.ok && r.error).toContain('not a validator');
  });
  it('a certificate for another block or another fleet does not verify', () => {
    const other = new Uint8Array(32).fill(1);
    expect(verifyCertificate(certBy(['v0', 'v1', 'v3']), fx.fleet, fx.manifest.validators, createVerifier(), other).ok).toBe(false);
    expect(verifyCertificate(certBy(['v0', 'v1', 'v3']), 'other-fleet', fx.manifest.validators, createVerifier()).ok).toBe(false);
  });
  it('a prevote signature cannot stand in for a precommit', () => {
    const msg = signingBytes('prevote', fx.fleet, encodeVoteBody({ height: 12, round: 1, blockHash }));
    const c: CommitCertificate = { height: 12, round: 1, blockHash, signatures: ['v0', 'v1', 'v3'].map((id) => ({ validator: id, signature: fx.signer(id).sign(msg) })) };
    expect(verifyCertificate(c, fx.fleet, fx.manifest.validators, createVerifier()).ok).toBe(false);
  });
  it('round-trips through CBOR and refuses unsorted or repeated signers', () => {
    const c = certBy(['v0', 'v1', 'v3']);
    const d = decodeCbor(encodeCbor(certificateToCbor(c)), 10_000);
    const parsed = d.ok ? parseWith('certificate', d.value, parseCertificate) : d;
    expect(parsed.ok && verifyCertificate(parsed.value, fx.fleet, fx.manifest.validators, createVerifier()).ok).toBe(true);
    const dup = certificateToCbor({ ...c, signatures: [c.signatures[0]!, c.signatures[0]!] });
    const d2 = decodeCbor(encodeCbor(dup), 10_000);
    const p2 = d2.ok ? parseWith('certificate', d2.value, parseCertificate) : d2;
    expect(!p2.ok && p2.error).toContain('sorted by validator id with no repeats');
  });
  it('names the signature entry that is malformed, and its field', () => {
    const c = certBy(['v0', 'v1', 'v3']);
    const parse = (cbor: unknown) => parseWith('certificate', cbor, parseCertificate);
    const short = certificateToCbor({ ...c, signatures: c.signatures.map((s, i) => (i === 1 ? { ...s, signature: s.signature.subarray(0, 10) } : s)) });
    expect(parse(short)).toEqual({ ok: false, error: 'bad field in certificate: certificate.signatures[1].signature must be 64 bytes, is 10' });
    const badId = certificateToCbor({ ...c, signatures: c.signatures.map((s, i) => (i === 2 ? { ...s, validator: 'V#3' } : s)) });
    expect(parse(badId)).toMatchObject({ ok: false, error: expect.stringContaining('certificate.signatures[2].validator must be an id') });
    expect(parse([12, 1, blockHash, [['v0']]])).toMatchObject({ ok: false, error: expect.stringContaining('certificate.signatures[0] must have 2 elements, has 1') });
  });
});
