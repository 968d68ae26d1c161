// Hand-picked round trips (votes, commands, proposals, the manifest) and one test per decode error the
// wire names. Every kind's property round trip is in every-kind.test.ts.

import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { hash } from '../../runtime/crypto/sodium.js';
import { keyLookup } from '../../runtime/manifest/manifest.js';
import { encodeBlock, encodeProposalBody, zeroHash } from '../../runtime/wire/block.js';
import { encodeCbor } from '../../runtime/wire/cbor.js';
import { encodeCommandBody } from '../../runtime/wire/command.js';
import { decodeEnvelope, openEnvelope, protocolVersion, sealEnvelope, type OpenContext } from '../../runtime/wire/envelope.js';
import { kinds, type KindName } from '../../runtime/wire/kinds.js';
import { signingBytes } from '../../runtime/wire/signing.js';
import { encodeVoteBody } from '../../runtime/wire/vote.js';
import { manifestToCbor } from '../../runtime/wire/manifest-body.js';
import { createVerifier, makeFleet, type FleetFixture } from '../support/fleet-fixture.js';

let fx: FleetFixture;
let ctx: OpenContext;

beforeAll(async () => {
  fx = await makeFleet({ validators: 4, followers: 2 });
  ctx = { fleet: fx.fleet, keyOf: keyLookup(fx.manifest), verifier: createVerifier() };
});

const hashArb = fc.uint8Array({ minLength: 32, maxLength: 32 });
const heightArb = fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER });
const roundArb = fc.integer({ min: 0, max: 0xffffffff });
const argsArb = fc.dictionary(
  fc.stringMatching(/^[a-z][a-zA-Z0-9]{0,11}$/),
  fc.oneof(fc.integer(), fc.string({ maxLength: 20 }), fc.boolean(), fc.array(fc.double({ noNaN: true, noDefaultInfinity: true }).map((x) => (Object.is(x, -0) ? 0 : x)), { maxLength: 4 })),
  { maxKeys: 6 },
);

describe('round trips', () => {
  it('prevote and precommit, nil or not, for any height and round', () => {
    fc.assert(
      fc.property(fc.constantFrom('prevote' as const, 'precommit' as const), heightArb, roundArb, fc.option(hashArb, { nil: null }), fc.constantFrom('v0', 'v1', 'v2', 'v3'), (kind, height, round, blockHash, sender) => {
        const bytes = sealEnvelope(kind, fx.fleet, sender, encodeVoteBody({ height, round, blockHash }), fx.signer(sender));
        const r = openEnvelope(bytes, ctx);
        expect(r.ok).toBe(true);
        if (!r.ok || (r.value.kind !== 'prevote' && r.value.kind !== 'precommit')) return;
        expect(r.value.kind).toBe(kind);
        expect(r.value.sender).toBe(sender);
        expect(r.value.parsed.height).toBe(height);
        expect(r.value.parsed.round).toBe(round);
        expect(r.value.parsed.blockHash === null ? null : Buffer.from(r.value.parsed.blockHash).toString("hex")).toBe(blockHash === null ? null : Buffer.from(blockHash).toString("hex"));
      }),
      { numRuns: 200 },
    );
  });

  it('the canonical vote body matches a generic CBOR encoder byte for byte', () => {
    fc.assert(
      fc.property(heightArb, roundArb, fc.option(hashArb, { nil: null }), (height, round, blockHash) => {
        const generic = encodeCbor([height, round, blockHash === null ? null : Buffer.from(blockHash)]);
        expect(Buffer.from(encodeVoteBody({ height, round, blockHash })).equals(Buffer.from(generic))).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('a sealed envelope is the generic CBOR encoder\'s array, byte for byte, for any kind, names and body size', () => {
    const names = fc.oneof(fc.stringMatching(/^[a-z0-9-]{1,40}$/), fc.string({ unit: 'grapheme', minLength: 1, maxLength: 30 }));
    const kindArb = fc.constantFrom(...(Object.keys(kinds) as KindName[]));
    fc.assert(
      fc.property(kindArb, names, names, fc.integer({ min: 0, max: 70_000 }), (kind, fleet, sender, size) => {
        const body = new Uint8Array(size).fill(size & 0xff);
        const signer = fx.signer('v0');
        const sealed = sealEnvelope(kind, fleet, sender, body, signer);
        const signature = signer.sign(signingBytes(kind, fleet, body));
        const generic = encodeCbor([protocolVersion, kinds[kind].code, fleet, sender, Buffer.from(body), Buffer.from(signature)]);
        expect(Buffer.from(sealed).equals(Buffer.from(generic))).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it('operator commands with arbitrary args', () => {
    fc.assert(
      fc.property(fc.constantFrom('noop', 'mission.survey', 'hold', 'param.set'), fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.integer({ min: 0, max: 2 ** 45 }), fc.integer({ min: 1, max: 3_600_000 }), argsArb, (type, nonce, issuedAt, life, args) => {
        const body = { type, nonce, issuedAt, expiresAt: issuedAt + life, args };
        const r = openEnvelope(sealEnvelope('command', fx.fleet, 'op', encodeCommandBody(body), fx.signer('op')), ctx);
        expect(r.ok).toBe(true);
        if (r.ok && r.value.kind === 'command') {
          expect(r.value.parsed.type).toBe(type);
          expect(r.value.parsed.args).toEqual(args);
          expect(Buffer.from(r.value.parsed.nonce).equals(Buffer.from(nonce))).toBe(true);
        }
      }),
      { numRuns: 150 },
    );
  });

  it('proposals carrying blocks of signed commands', () => {
    fc.assert(
      fc.property(heightArb, fc.integer({ min: 0, max: 50 }), fc.integer({ min: 0, max: 20 }), (height, round, txCount) => {
        const txs = Array.from({ length: txCount }, (_, i) =>
          sealEnvelope('command', fx.fleet, 'op', encodeCommandBody({ type: 'noop', nonce: new Uint8Array(16).fill(i), issuedAt: 1, expiresAt: 2, args: {} }), fx.signer('op')),
        );
        const blockBytes = encodeBlock({ height, parent: zeroHash, timeMs: 1_700_000_000_000, proposer: 'v1', txs, lastCommit: null, manifestHash: fx.manifest.hash, appHash: zeroHash });
        const validRound = round > 0 ? round - 1 : -1;
        const r = openEnvelope(sealEnvelope('proposal', fx.fleet, 'v1', encodeProposalBody({ height, round, validRound, blockBytes }), fx.signer('v1')), ctx);
        expect(r.ok).toBe(true);
        if (r.ok && r.value.kind === 'proposal') {
          expect(r.value.parsed.block.block.txs.length).toBe(txCount);
          expect(Buffer.from(r.value.parsed.block.hash).equals(Buffer.from(hash(blockBytes)))).toBe(true);
          expect(r.value.parsed.validRound).toBe(validRound);
        }
      }),
      { numRuns: 60 },
    );
  });

  it('the manifest', () => {
    const r = openEnvelope(fx.manifest.bytes, { ...ctx, keyOf: () => fx.authority.publicKey });
    expect(r.ok && r.value.kind === 'manifest' && r.value.parsed.validators.length === 4).toBe(true);
  });
});

describe('decode errors name what is wrong', () => {
  const vote = () => sealEnvelope('prevote', fx.fleet, 'v0', encodeVoteBody({ height: 5, round: 0, blockHash: null }), fx.signer('v0'));

  it('unknown kind', () => {
    const r = decodeEnvelope(encodeCbor([1, 99, fx.fleet, 'v0', Buffer.alloc(3), Buffer.alloc(64)]));
    expect(!r.ok && r.error.code).toBe('unknown-kind');
    expect(!r.ok && r.error.message).toContain('99');
  });
  it('bad version', () => {
    const r = decodeEnvelope(encodeCbor([2, 4, fx.fleet, 'v0', Buffer.alloc(3), Buffer.alloc(64)]));
    expect(!r.ok && r.error.code).toBe('bad-version');
  });
  it('too large', () => {
    const r = decodeEnvelope(new Uint8Array(2_000_000));
    expect(!r.ok && r.error.code).toBe('too-large');
  });
  it('a body over its kind limit', () => {
    const r = decodeEnvelope(encodeCbor([1, 4, fx.fleet, 'v0', Buffer.alloc(300), Buffer.alloc(64)]));
    expect(!r.ok && r.error.code).toBe('too-large');
    expect(!r.ok && r.error.message).toContain('prevote body');
  });
  it('wrong fleet', () => {
    const r = openEnvelope(sealEnvelope('prevote', 'other-fleet', 'v0', encodeVoteBody({ height: 5, round: 0, blockHash: null }), fx.signer('v0')), ctx);
    expect(!r.ok && r.error.code).toBe('wrong-fleet');
  });
  it('bad signature: one flipped bit in the body', () => {
    const b = vote();
    b[b.length - 70] = (b[b.length - 70] as number) ^ 1;
    const r = openEnvelope(b, ctx);
    expect(!r.ok && ['bad-signature', 'malformed', 'bad-field'].includes(r.error.code)).toBe(true);
  });
  it('bad signature: signed by another validator key', () => {
    const r = openEnvelope(sealEnvelope('prevote', fx.fleet, 'v0', encodeVoteBody({ height: 5, round: 0, blockHash: null }), fx.signer('v1')), ctx);
    expect(!r.ok && r.error.code).toBe('bad-signature');
  });
  it('unknown sender, and a sender not allowed to send a kind', () => {
    const r1 = openEnvelope(sealEnvelope('prevote', fx.fleet, 'v9', encodeVoteBody({ height: 5, round: 0, blockHash: null }), fx.signer('v0')), ctx);
    expect(!r1.ok && r1.error.code).toBe('unknown-sender');
    const r2 = openEnvelope(sealEnvelope('command', fx.fleet, 'v0', encodeCommandBody({ type: 'noop', nonce: new Uint8Array(16), issuedAt: 1, expiresAt: 2, args: {} }), fx.signer('v0')), ctx);
    expect(!r2.ok && r2.error.code).toBe('unknown-sender');
    expect(!r2.ok && r2.error.message).toContain('may not send command');
    const r3 = openEnvelope(sealEnvelope('precommit', fx.fleet, 'f0', encodeVoteBody({ height: 5, round: 0, blockHash: null }), fx.signer('f0')), ctx);
    expect(!r3.ok && r3.error.message).toContain('follower');
  });
  it('bad field: a command with a short nonce, signed correctly', () => {
    const body = encodeCbor({ type: 'noop', nonce: Buffer.alloc(4), issuedAt: 1, expiresAt: 2, args: {} });
    const r = openEnvelope(sealEnvelope('command', fx.fleet, 'op', body, fx.signer('op')), ctx);
    expect(!r.ok && r.error.code).toBe('bad-field');
    expect(!r.ok && r.error.message).toContain('command.nonce must be 16 bytes');
  });
  it('bad field: an unexpected key is never silently ignored', () => {
    const body = encodeCbor({ type: 'noop', nonce: Buffer.alloc(16), issuedAt: 1, expiresAt: 2, args: {}, admin: true });
    const r = openEnvelope(sealEnvelope('command', fx.fleet, 'op', body, fx.signer('op')), ctx);
    expect(!r.ok && r.error.message).toContain('unexpected key "admin"');
  });
  it('bad field: a command that expires more than an hour after it was issued', () => {
    const body = encodeCommandBody({ type: 'noop', nonce: new Uint8Array(16), issuedAt: 0, expiresAt: 4_000_000, args: {} });
    const r = openEnvelope(sealEnvelope('command', fx.fleet, 'op', body, fx.signer('op')), ctx);
    expect(!r.ok && r.error.message).toContain('lifetime');
  });
  it('malformed: not CBOR, a CBOR tag, an indefinite length, trailing bytes', () => {
    for (const [bytes, text] of [
      [Uint8Array.of(0xfc), 'reserved'],
      [Uint8Array.of(0xc1, 0x01), 'tag'],
      [Uint8Array.of(0x9f, 0x01, 0xff), 'indefinite'],
      [Uint8Array.of(0x01, 0x02), 'trailing'],
    ] as const) {
      const r = decodeEnvelope(bytes);
      expect(!r.ok && r.error.code).toBe('malformed');
      expect(!r.ok && r.error.message).toContain(text);
    }
  });
  it('a manifest body with the reserved id "authority" or duplicate ids is refused', () => {
    const b = { ...fx.manifest.body, followers: [{ id: 'v0', publicKey: new Uint8Array(32) }] };
    const r = openEnvelope(sealEnvelope('manifest', fx.fleet, 'authority', encodeCbor(manifestToCbor(b)), fx.signer('v0')), { ...ctx, keyOf: () => fx.keys.get('v0')?.publicKey as Uint8Array });
    expect(!r.ok && r.error.message).toContain('twice');
  });
});
