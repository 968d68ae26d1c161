// The save-before-acting pieces on their own: WAL framing (torn tail tolerated, mid-log corruption
// refused with file and offset) and the signer guard (refuses conflicting or backward signatures,
// even after a restart from its state file).

import { beforeAll, describe, expect, it } from 'vitest';
import { createSigner, hash, initCrypto, keyPairFromSeed } from '../../runtime/crypto/sodium.js';
import { concatBytes } from '../../runtime/lib/bytes.js';
import { SignerGuard } from '../../runtime/node/signer-guard.js';
import { encodeWalRecord, readWal, type NodeWalRecord } from '../../runtime/node/wal.js';
import { SimStorage } from '../../fleet-sim/sim/sim-storage.js';
import { Prng } from '../../runtime/lib/prng.js';

beforeAll(async () => {
  await initCrypto();
});

const rec = (round: number): NodeWalRecord => ({ t: 'round', height: 3, round, step: 'prevote', lockedRound: -1, lockedBlock: null, validRound: -1, validBlock: null });

describe('WAL', () => {
  it('reads back what was written', () => {
    const bytes = concatBytes(encodeWalRecord(rec(0)), encodeWalRecord(rec(1)), encodeWalRecord({ t: 'own', envelope: Uint8Array.of(1, 2, 3) }));
    const r = readWal(bytes, 'consensus.wal');
    expect(r.ok && r.value.records.length).toBe(3);
  });

  it('drops a torn final record at every cut point and reports the valid prefix', () => {
    const a = encodeWalRecord(rec(0));
    const b = encodeWalRecord(rec(1));
    for (let cut = 1; cut < b.length; cut++) {
      const r = readWal(concatBytes(a, b.subarray(0, cut)), 'consensus.wal');
      expect(r.ok, `cut ${cut}`).toBe(true);
      if (r.ok) {
        expect(r.value.records.length).toBe(1);
        expect(r.value.validBytes).toBe(a.length);
      }
    }
  });

  it('refuses a corrupt record in the middle, naming the file and the offset', () => {
    const a = encodeWalRecord(rec(0));
    const b = encodeWalRecord(rec(1));
    const c = encodeWalRecord(rec(2));
    const bytes = concatBytes(a, b, c);
    bytes[a.length + 12] = (bytes[a.length + 12] as number) ^ 0xff;
    const r = readWal(bytes, 'consensus.wal');
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatch(new RegExp(`consensus\\.wal is corrupt at offset ${a.length}: checksum mismatch`));
  });

  it('a node whose WAL is corrupt in the middle refuses to start', async () => {
    const { World } = await import('../../fleet-sim/sim/world.js');
    const { scenario } = await import('../sim/helpers.js');
    const w = new World(scenario({ name: 'corrupt', durationMs: 2_000 }), 3);
    w.start();
    w.queue.runUntil(1_500, 1e7);
    const n = w.nodes[2];
    if (!n) throw new Error('no node 2');
    w.crash(n, 'intact');
    n.storage.corrupt('consensus.wal', 20);
    w.restart(n);
    expect(n.shell).toBe(null);
    expect(n.fatal).toMatch(/consensus\.wal is corrupt at offset 0/);
  });
});

describe('signer guard', () => {
  const signer = () => createSigner(keyPairFromSeed(new Uint8Array(32).fill(7)));
  const msg = (s: string) => new TextEncoder().encode(s);

  it('signs forward, re-signs identical bytes, refuses conflicts and going back, across restarts', () => {
    const storage = new SimStorage();
    const g = new SignerGuard(signer(), storage, hash);
    expect(g.sign(5, 0, 'prevote', msg('A')).ok).toBe(true);
    expect(g.sign(5, 0, 'prevote', msg('A')).ok).toBe(true);
    expect(g.sign(5, 0, 'prevote', msg('B')).ok).toBe(false);
    expect(g.sign(4, 9, 'precommit', msg('C')).ok).toBe(false);
    expect(g.sign(5, 0, 'precommit', msg('D')).ok).toBe(true);
    // Power loss right after: the state file was replaced durably before the signature existed.
    storage.crash('torn', new Prng(1));
    const again = new SignerGuard(signer(), storage, hash);
    expect(again.lastSigned()?.step).toBe('precommit');
    expect(again.sign(5, 0, 'precommit', msg('E')).ok).toBe(false);
    expect(again.sign(5, 0, 'prevote', msg('A')).ok).toBe(false);
    expect(again.sign(5, 1, 'proposal', msg('F')).ok).toBe(true);
  });
});
