// Hostile bytes: random input and mutations of valid envelopes never make the decoder throw, always
// come back with a reason, and never let a length claim allocate past the limits.

import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { keyLookup } from '../../runtime/manifest/manifest.js';
import { limits } from '../../runtime/lib/limits.js';
import { scanCbor } from '../../runtime/wire/cbor-scan.js';
import { defaultScanLimits } from '../../runtime/wire/cbor.js';
import { encodeBlock, encodeProposalBody, zeroHash } from '../../runtime/wire/block.js';
import { encodeCommandBody } from '../../runtime/wire/command.js';
import { decodeEnvelope, openEnvelope, sealEnvelope, type OpenContext } from '../../runtime/wire/envelope.js';
import { encodeVoteBody } from '../../runtime/wire/vote.js';
import { createVerifier, makeFleet, type FleetFixture } from '../support/fleet-fixture.js';

let fx: FleetFixture;
let ctx: OpenContext;
let samples: Uint8Array[];

beforeAll(async () => {
  fx = await makeFleet({ validators: 4 });
  ctx = { fleet: fx.fleet, keyOf: keyLookup(fx.manifest), verifier: createVerifier() };
  const cmd = sealEnvelope('command', fx.fleet, 'op', encodeCommandBody({ type: 'mission.goto', nonce: new Uint8Array(16).fill(7), issuedAt: 1_700_000_000_000, expiresAt: 1_700_000_060_000, args: { waypoints: [[1, 2, 30]], group: 'all' } }), fx.signer('op'));
  const blockBytes = encodeBlock({ height: 9, parent: zeroHash, timeMs: 1_700_000_000_000, proposer: 'v2', txs: [cmd, cmd], lastCommit: { height: 8, round: 0, blockHash: zeroHash, signatures: [{ validator: 'v0', signature: new Uint8Array(64) }] }, manifestHash: fx.manifest.hash, appHash: zeroHash });
  samples = [
    cmd,
    sealEnvelope('precommit', fx.fleet, 'v1', encodeVoteBody({ height: 300, round: 2, blockHash: zeroHash }), fx.signer('v1')),
    sealEnvelope('proposal', fx.fleet, 'v2', encodeProposalBody({ height: 9, round: 1, validRound: 0, blockBytes }), fx.signer('v2')),
    fx.manifest.bytes,
  ];
});

function expectReason(bytes: Uint8Array): void {
  const r = openEnvelope(bytes, ctx);
  if (!r.ok) {
    expect(r.error.message.length).toBeGreaterThan(5);
    expect(typeof r.error.code).toBe('string');
  }
}

describe('the decoder under hostile input', () => {
  it('random bytes never throw and always give a reason', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2048 }), (bytes) => {
        expect(() => expectReason(bytes)).not.toThrow();
        const r = decodeEnvelope(bytes);
        if (!r.ok) expect(r.error.message).not.toBe('');
      }),
      { numRuns: 3000 },
    );
  });

  it('mutated valid envelopes (bit flips, truncation, splices) never throw', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 3 }), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }), fc.nat(), fc.boolean(), (which, flips, cut, truncate) => {
        const base = samples[which] as Uint8Array;
        let b = new Uint8Array(base);
        for (const [at, value] of flips) b[at % b.length] = value;
        if (truncate) b = b.slice(0, cut % b.length);
        expect(() => expectReason(b)).not.toThrow();
      }),
      { numRuns: 3000 },
    );
  });

  it('a mutated envelope is never accepted with a different body than was signed', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 }), fc.nat(), fc.integer({ min: 1, max: 255 }), (which, at, xor) => {
        const base = samples[which] as Uint8Array;
        const b = new Uint8Array(base);
        const i = at % b.length;
        b[i] = (b[i] as number) ^ xor;
        const r = openEnvelope(b, ctx);
        // Either rejected, or the change hit bytes outside what was signed and decodes to the same body.
        if (r.ok) {
          const original = openEnvelope(base, ctx);
          expect(original.ok && Buffer.from(original.value.body).equals(Buffer.from(r.value.body))).toBe(true);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('length claims larger than the input are refused before allocation', () => {
    const claims: [Uint8Array, string][] = [
      [Uint8Array.of(0x5b, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00), 'claims'], // bytes of length 2^32
      [Uint8Array.of(0x9b, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff), 'entries'], // array of 2^32-1
      [Uint8Array.of(0xbb, 0x00, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), 'entries'], // map of 2^53-1
      [Uint8Array.of(0x7a, 0x7f, 0xff, 0xff, 0xff, 0x61), 'claims'], // text of 2 GiB
      [Uint8Array.of(0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), 'exceeds 2^53-1'],
    ];
    for (const [bytes, why] of claims) {
      const r = scanCbor(bytes, defaultScanLimits);
      expect(r.ok).toBe(false);
      expect(!r.ok && r.error).toContain(why);
    }
  });

  it('nesting deeper than the limit is refused without recursion', () => {
    const deep = new Uint8Array(100_000).fill(0x81); // [[[[...
    const r = scanCbor(deep, defaultScanLimits);
    expect(!r.ok && r.error).toContain(`nesting deeper than ${limits.cborDepthMax}`);
  });

  it('too many items in total is refused', () => {
    const n = limits.cborItemsMax + 10;
    // an array of n small ints, split into nested arrays to stay under the per-collection length limit
    const outer = Math.ceil(n / 200);
    const parts: number[] = [0x99, outer >> 8, outer & 0xff];
    for (let i = 0; i < outer; i++) parts.push(0x98, 200, ...new Array<number>(200).fill(0x01));
    const r = scanCbor(Uint8Array.from(parts), { ...defaultScanLimits, collectionLengthMax: 1000 });
    expect(!r.ok && r.error).toContain('too many CBOR items');
  });

  it('a decode of the largest allowed envelope stays within its bounds', () => {
    const before = process.memoryUsage().arrayBuffers;
    for (let i = 0; i < 200; i++) decodeEnvelope(Uint8Array.of(0x9b, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff));
    const grown = process.memoryUsage().arrayBuffers - before;
    expect(grown).toBeLessThan(16 * 1024 * 1024);
  });
});
