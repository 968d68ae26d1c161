// The signer state's record format, byte for byte: each record is one frame filling whole sectors whose
// payload is exactly the CBOR (as encodeCbor writes it) of [height, round, step, digest, body, signature,
// padding] or, when a byte string cannot fill the gap, [..., padding, null]. The guard writes it from
// the six fields' encoding (runtime/node/signer-guard.ts record); a previous release reads it.

import { beforeAll, describe, expect, it } from 'vitest';
import { createSigner, hash, initCrypto, keyPairFromSeed } from '../../runtime/crypto/sodium.js';
import { SignerGuard, signerStateFile } from '../../runtime/node/signer-guard.js';
import { decodeCbor, encodeCbor } from '../../runtime/wire/cbor.js';
import { diskSectorBytes, readFrames } from '../../runtime/node/framed-log.js';
import { encodeVoteBody } from '../../runtime/wire/vote.js';
import { SimStorage } from '../../fleet-sim/sim/sim-storage.js';
import { Prng } from '../../runtime/lib/prng.js';

beforeAll(async () => {
  await initCrypto();
});

describe('signer state records', () => {
  it('are the CBOR of the fields and their padding, filling whole sectors, for every size of field', () => {
    const prng = new Prng(17);
    const storage = new SimStorage();
    const guard = new SignerGuard(createSigner(keyPairFromSeed(new Uint8Array(32).fill(5))), storage, hash);
    const seen = { withNull: 0, without: 0, lengths: new Set<number>() };
    // Heights and rounds across every integer width CBOR has (1, 2, 3, 5 and 9 bytes), and bodies from
    // none (a proposal) to a vote's through long ones, so the padding takes every head size.
    let height = 1;
    for (let i = 0; i < 400; i++) {
      height += 1 + Math.floor(prng.next() * [1, 30, 300, 70_000, 5e9][i % 5]!);
      const round = [0, 23, 24, 255, 256, 65_536][i % 6]!;
      const step = (['proposal', 'prevote', 'precommit'] as const)[i % 3]!;
      const body = step === 'proposal' ? null : i % 4 === 0 ? prng.bytes(Math.floor(prng.next() * 700)) : encodeVoteBody({ height, round, blockHash: i % 2 ? prng.bytes(32) : null });
      const r = guard.sign(height, round, step, prng.bytes(40 + i), body);
      expect(r.ok).toBe(true);
    }
    // Then body lengths enough for every gap the padding fills to come up (1,000 records in all: the
    // log is compacted at compactAfterRecords).
    for (let len = 0; len < 600; len++) expect(guard.sign(++height, 0, 'prevote', prng.bytes(40), prng.bytes(len)).ok).toBe(true);
    const file = storage.read(signerStateFile) as Uint8Array;
    const frames = readFrames(file, signerStateFile, 1024);
    expect(frames.ok).toBe(true);
    if (!frames.ok) return;
    expect(frames.value.payloads.length).toBe(1000);
    for (const f of frames.value.payloads) {
      expect((8 + f.bytes.length) % diskSectorBytes).toBe(0);
      const d = decodeCbor(f.bytes, 1024);
      expect(d.ok).toBe(true);
      const a = (d.ok ? d.value : []) as unknown[];
      expect(a.length === 7 || a.length === 8).toBe(true);
      if (a.length === 8) expect(a[7]).toBe(null);
      const pad = a[6] as Uint8Array;
      expect(pad.every((x) => x === 0)).toBe(true);
      // The padded array as encodeCbor writes it, byte for byte.
      expect(Buffer.from(encodeCbor(a)).equals(Buffer.from(f.bytes))).toBe(true);
      seen[a.length === 8 ? 'withNull' : 'without']++;
      seen.lengths.add(pad.length < 24 ? 1 : pad.length < 256 ? 2 : 3);
    }
    // Both endings, and padding heads of one, two and three bytes, were written.
    expect(seen.withNull).toBeGreaterThan(0);
    expect(seen.without).toBeGreaterThan(0);
    expect([...seen.lengths].sort()).toEqual([1, 2, 3]);
  });
});
