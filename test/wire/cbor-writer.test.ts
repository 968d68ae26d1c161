// CborWriter writes WAL records, block proofs and state snapshots without cbor-x; their bytes must be exactly what
// encodeCbor gives for the same values (a WAL or snapshot written before must read, and every node's
// snapshot commitment must match). Each test holds the writer's output beside encodeCbor's.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeStateSnapshot, type StateSnapshot } from '../../runtime/consensus/snapshot.js';
import { crc32 } from '../../runtime/node/crc32.js';
import { encodeWalRecord, readWal, type NodeWalRecord } from '../../runtime/node/wal.js';
import { encodeCbor } from '../../runtime/wire/cbor.js';
import { CborWriter, Slabs } from '../../runtime/wire/cbor-writer.js';
import { certificateToCbor } from '../../runtime/wire/certificate.js';
import { encodeProof } from '../../runtime/wire/proof.js';

// Bytes as hex: compared as one string, which shows where two outputs part on a failure; the same check as
// element-wise equality of number arrays, which took most of this file's time on 70,000-byte values.
const bin = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
// Lengths around every head boundary, plus random ones.
const lengthArb = fc.oneof(fc.constantFrom(0, 1, 23, 24, 255, 256, 65_535, 65_536, 70_000), fc.integer({ min: 0, max: 2_000 }));
/** n bytes from a 32-bit xorshift seeded by seed (never 0, a fixed point of xorshift). */
function seededBytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed | 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}
// fast-check draws each byte on its own (0.2 s for 70,000 of them: most of this file's time when every
// value was drawn so); past 2,000 bytes the length is what matters to the heads, and the bytes come from a seed.
const bytesArb = lengthArb.chain((n) => (n <= 2_000 ? fc.uint8Array({ minLength: n, maxLength: n }) : fc.integer().map((seed) => seededBytes(n, seed))));
// Any code points, lone surrogates included: what fc.string({ unit: 'binary' }) draws, without the
// 5-6 s that unit spends setting itself up on first use in a process.
const anyTextArb = (maxLength: number): fc.Arbitrary<string> => fc.array(fc.integer({ min: 0, max: 0x10ffff }), { maxLength }).map((c) => String.fromCodePoint(...c));
const safeIntArb = fc.oneof(
  fc.constantFrom(0, 23, 24, 255, 256, 65_535, 65_536, 0xffffffff, 0x100000000, Number.MAX_SAFE_INTEGER, -1, -24, -25, -256, -257, -65_536, -65_537, -0x100000000, -0x100000001, Number.MIN_SAFE_INTEGER),
  fc.integer(),
  fc.maxSafeInteger(),
  fc.maxSafeNat(),
);

/** The WAL framing as it has always been written: [length][crc32][encodeCbor(value)]. */
function framed(value: unknown): Uint8Array {
  const payload = encodeCbor(value);
  const out = new Uint8Array(8 + payload.length);
  new DataView(out.buffer).setUint32(0, payload.length);
  new DataView(out.buffer).setUint32(4, crc32(payload));
  out.set(payload, 8);
  return out;
}

describe('CborWriter', () => {
  it('writes integers, byte strings, text and null as encodeCbor does', () => {
    fc.assert(
      fc.property(safeIntArb, bytesArb, fc.string({ maxLength: 300 }), anyTextArb(40), (n, b, ascii, unicode) => {
        const w = new CborWriter(8).array(5).int(n).bytes(b).text(ascii).text(unicode).null();
        expect(bin(w.finish())).toBe(bin(encodeCbor([n, b, ascii, unicode, null])));
      }),
      { numRuns: 200 },
    );
  });

  it('carves what it writes from a slab, trimmed to what was written, and never over an earlier value', () => {
    const slabs = new Slabs(8192);
    const values = [new Uint8Array(300).fill(1), new Uint8Array(100).fill(2), new Uint8Array(500).fill(3), new Uint8Array(200).fill(4), new Uint8Array(1100).fill(5)];
    // Each writer asks for more than it writes (the rest goes back to the slab), but the second, which
    // outgrows the buffer it was given and moves out of the slab; the last is past an eighth of a slab.
    const out = values.map((v, i) => new CborWriter(i === 1 ? 4 : v.length + 64, 8, slabs).bytes(v).finish());
    out.forEach((o, i) => expect(bin(o)).toBe('00'.repeat(8) + bin(encodeCbor(values[i]))));
    const [a, b, c, d, e] = out as [Uint8Array, Uint8Array, Uint8Array, Uint8Array, Uint8Array];
    expect(c.buffer).toBe(a.buffer);
    expect(d.buffer).toBe(a.buffer);
    expect(d.byteOffset).toBe(c.byteOffset + c.length); // c was trimmed to what it holds
    expect(c.byteOffset).toBeGreaterThanOrEqual(a.byteOffset + a.length);
    expect(b.buffer).not.toBe(a.buffer);
    expect(e.buffer).not.toBe(a.buffer);
  });

  it('leaves the reserved front out of the CBOR', () => {
    const w = new CborWriter(4, 8).int(1_700_000_000_000);
    const out = w.finish();
    expect(bin(out.subarray(8))).toBe(bin(encodeCbor(1_700_000_000_000)));
  });
});

const hashArb = fc.uint8Array({ minLength: 32, maxLength: 32 });
const idArb = fc.stringMatching(/^[a-z0-9][a-z0-9._-]{0,10}$/);
const certArb = fc.record({
  height: fc.maxSafeNat(),
  round: fc.integer({ min: 0, max: 0xffffffff }),
  blockHash: hashArb,
  // Sorted by validator with no repeats, as parseCertificate requires on the way back.
  signatures: fc
    .uniqueArray(fc.record({ validator: idArb, signature: fc.uint8Array({ minLength: 64, maxLength: 64 }) }), { maxLength: 5, selector: (s) => s.validator })
    .map((a) => a.sort((x, y) => (x.validator < y.validator ? -1 : 1))),
});
const recordArb: fc.Arbitrary<NodeWalRecord> = fc.oneof(
  fc.record({ t: fc.constant('commit' as const), blockBytes: bytesArb, certificate: certArb }).map((r) => ({ ...r, proof: encodeProof(r.blockBytes, r.certificate) })),
  fc.record({ t: fc.constant('own' as const), envelope: bytesArb }),
  fc.record({
    t: fc.constant('round' as const),
    height: fc.maxSafeNat(),
    round: fc.integer({ min: 0, max: 0xffffffff }),
    step: fc.constantFrom('propose' as const, 'prevote' as const, 'precommit' as const),
    lockedRound: fc.integer({ min: -1, max: 1_000 }),
    lockedBlock: fc.option(bytesArb, { nil: null }),
    validRound: fc.integer({ min: -1, max: 1_000 }),
    validBlock: fc.option(bytesArb, { nil: null }),
  }),
);

describe('WAL records', () => {
  it('are byte for byte the framing of encodeCbor, and read back', () => {
    fc.assert(
      fc.property(recordArb, (r) => {
        const value =
          r.t === 'commit'
            ? ['commit', r.blockBytes, certificateToCbor(r.certificate)]
            : r.t === 'own'
              ? ['own', r.envelope]
              : ['round', r.height, r.round, r.step, r.lockedRound, r.lockedBlock, r.validRound, r.validBlock];
        const bytes = encodeWalRecord(r);
        expect(bin(bytes)).toBe(bin(framed(value)));
        const back = readWal(bytes, 'consensus.wal');
        expect(back.ok && back.value.records.length).toBe(1);
        // A commit record read back gives the proof it was written from (a replayed block serves it).
        const read = back.ok ? back.value.records[0] : undefined;
        if (r.t === 'commit') expect(read?.t === 'commit' && bin(read.proof)).toBe(bin(r.proof));
      }),
      { numRuns: 150 },
    );
  });
});

describe('block proofs', () => {
  it('are byte for byte encodeCbor of [block bytes, certificate]', () => {
    fc.assert(
      fc.property(bytesArb, certArb, (b, c) => {
        expect(bin(encodeProof(b, c))).toBe(bin(encodeCbor([b, certificateToCbor(c)])));
      }),
      { numRuns: 60 },
    );
  });
});

describe('state snapshots', () => {
  it('are byte for byte encodeCbor of the snapshot array', () => {
    const snapArb: fc.Arbitrary<StateSnapshot> = fc.record({
      height: fc.maxSafeNat(),
      lastHash: hashArb,
      lastTimeMs: fc.integer({ min: 1_600_000_000_000, max: 2_000_000_000_000 }),
      manifests: fc.array(fc.record({ fromHeight: fc.maxSafeNat(), bytes: bytesArb }), { maxLength: 3 }),
      nonces: fc.array(fc.tuple(fc.oneof(fc.stringMatching(/^[a-z]{1,8}\/[0-9a-f]{32}$/), anyTextArb(30)), fc.maxSafeNat()), { maxLength: 200 }),
      evidence: fc.array(fc.record({ culprit: idArb, height: fc.maxSafeNat(), round: fc.nat(), vote: fc.constantFrom('prevote', 'precommit'), committedAt: fc.maxSafeNat() }), { maxLength: 3 }),
      app: bytesArb,
    });
    fc.assert(
      fc.property(snapArb, (s) => {
        const old = encodeCbor([
          1,
          s.height,
          s.lastHash,
          s.lastTimeMs,
          s.manifests.map((m) => [m.fromHeight, m.bytes]),
          s.nonces.map(([k, v]) => [k, v]),
          s.evidence.map((e) => [e.culprit, e.height, e.round, e.vote, e.committedAt]),
          s.app,
        ]);
        expect(bin(encodeStateSnapshot(s))).toBe(bin(old));
      }),
      { numRuns: 100 },
    );
  });
});
