// Acks (kind 12) and block proofs (proof/<height>): round trips, the blockHash rule, and hostile proof
// bytes that must come back as a reason, never a throw.

import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { hash } from '../../runtime/crypto/sodium.js';
import { toHex } from '../../runtime/lib/bytes.js';
import { keyLookup } from '../../runtime/manifest/manifest.js';
import { ackStages, encodeAckBody, type AckBody } from '../../runtime/wire/ack.js';
import { encodeBlock, zeroHash } from '../../runtime/wire/block.js';
import { encodeCbor } from '../../runtime/wire/cbor.js';
import type { CommitCertificate } from '../../runtime/wire/certificate.js';
import { openEnvelope, sealEnvelope, type OpenContext } from '../../runtime/wire/envelope.js';
import { decodeProof, encodeProof, verifyProof } from '../../runtime/wire/proof.js';
import { signingBytes } from '../../runtime/wire/signing.js';
import { encodeVoteBody } from '../../runtime/wire/vote.js';
import { createVerifier, makeFleet, type FleetFixture } from '../support/fleet-fixture.js';

let fx: FleetFixture;
let ctx: OpenContext;

beforeAll(async () => {
  fx = await makeFleet({ validators: 4, followers: 1 });
  ctx = { fleet: fx.fleet, keyOf: keyLookup(fx.manifest), verifier: createVerifier() };
});

function certify(height: number, block: Uint8Array, signers: string[]): CommitCertificate {
  const blockHash = hash(block);
  const msg = signingBytes('precommit', fx.fleet, encodeVoteBody({ height, round: 1, blockHash }));
  return { height, round: 1, blockHash, signatures: [...signers].sort().map((v) => ({ validator: v, signature: fx.signer(v).sign(msg) })) };
}

describe('acks', () => {
  it('round trip for every stage; blockHash exactly on accepted and rejected', () => {
    fc.assert(
      fc.property(fc.constantFrom(...ackStages), fc.integer({ min: 0, max: 2 ** 40 }), fc.integer({ min: 0, max: 1000 }), fc.string({ maxLength: 40 }), fc.subarray(['v0', 'v1', 'f0']), fc.uint8Array({ minLength: 32, maxLength: 32 }), (stage, height, progress, reason, assigned, h) => {
        const decided = stage === 'accepted' || stage === 'rejected';
        const ack: AckBody = { command: `op/${'ab'.repeat(16)}`, node: 'v2', stage, height, reason, progress, assigned, blockHash: decided ? h : null };
        const r = openEnvelope(sealEnvelope('ack', fx.fleet, 'v2', encodeAckBody(ack), fx.signer('v2')), ctx);
        expect(r.ok ? r.value.kind : r.error.message).toBe('ack');
        if (r.ok && r.value.kind === 'ack') {
          expect({ ...r.value.parsed, blockHash: r.value.parsed.blockHash && toHex(r.value.parsed.blockHash) }).toEqual({ ...ack, blockHash: ack.blockHash && toHex(ack.blockHash) });
        }
        // The wrong presence of blockHash is a bad field, named.
        const wrong = { ...ack, blockHash: decided ? null : h };
        const w = openEnvelope(sealEnvelope('ack', fx.fleet, 'v2', encodeAckBody(wrong), fx.signer('v2')), ctx);
        expect(!w.ok && w.error.message).toMatch(/ack\.blockHash is set exactly on accepted and rejected acks/);
      }),
      { numRuns: 120 },
    );
  });
});

describe('block proofs', () => {
  const block = (): Uint8Array => encodeBlock({ height: 12, parent: zeroHash, timeMs: 1_700_000_000_000, proposer: 'v1', txs: [], lastCommit: null, manifestHash: fx.manifest.hash, appHash: zeroHash });

  it('a proof with >2/3 of the power verifies; short, forged or for another block does not', () => {
    const b = block();
    const good = decodeProof(encodeProof(b, certify(12, b, ['v0', 'v1', 'v2'])));
    expect(good.ok && verifyProof(good.value, fx.fleet, fx.manifest.validators, createVerifier()).ok).toBe(true);
    const short = decodeProof(encodeProof(b, certify(12, b, ['v0', 'v1'])));
    expect(short.ok && verifyProof(short.value, fx.fleet, fx.manifest.validators, createVerifier())).toMatchObject({ ok: false, error: expect.stringMatching(/more than 2\/3/) });
    const other = certify(12, encodeCbor('another block'), ['v0', 'v1', 'v2']);
    const swapped = decodeProof(encodeProof(b, other));
    expect(swapped.ok && verifyProof(swapped.value, fx.fleet, fx.manifest.validators, createVerifier())).toMatchObject({ ok: false, error: expect.stringMatching(/certificate is for block/) });
  });

  it('a certificate for another height is a bad field', () => {
    const b = block();
    const r = decodeProof(encodeProof(b, certify(13, b, ['v0', 'v1', 'v2'])));
    expect(!r.ok && r.error).toMatch(/bad field in proof: .*height 13.*height 12/);
  });

  it('random and mutated bytes give a reason and never throw', () => {
    const b = block();
    const good = encodeProof(b, certify(12, b, ['v0', 'v1', 'v2']));
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 300 }), fc.tuple(fc.nat(good.length - 1), fc.integer({ min: 1, max: 255 })).map(([i, x]) => {
        const m = good.slice();
        m[i] = (m[i] ?? 0) ^ x;
        return m;
      }), fc.nat(good.length - 1).map((n) => good.slice(0, n))), (bytes) => {
        const r = decodeProof(bytes);
        if (r.ok) expect(r.value.certificate.height).toBe(r.value.block.block.height);
        else expect(r.error.length).toBeGreaterThan(5);
      }),
      { numRuns: 400 },
    );
    expect(decodeProof(new Uint8Array(700_000))).toMatchObject({ ok: false, error: expect.stringMatching(/^too-large/) });
  });
});
