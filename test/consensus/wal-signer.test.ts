// The save-before-acting pieces on their own: WAL framing (torn tail tolerated, mid-log corruption
// refused with file and offset), the signer guard (refuses conflicting or backward signatures, even
// after a restart from its state file, kept as a log of one fsynced record per signature) and the
// device's file storage (a file created by an append has its directory fsynced on its first sync).

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { createSigner, hash, initCrypto, keyPairFromSeed } from '../../runtime/crypto/sodium.js';
import { concatBytes } from '../../runtime/lib/bytes.js';
import { compactAfterRecords, SignerGuard, signerStateFile, voteOf } from '../../runtime/node/signer-guard.js';
import { FileStorage } from '../../runtime/device/file-storage.js';
import { decodeCbor, encodeCbor } from '../../runtime/wire/cbor.js';
import { encodeWalRecord, readWal, type NodeWalRecord } from '../../runtime/node/wal.js';
import { diskSectorBytes as sectorBytes, frame, intactRecordAfter, readFrames } from '../../runtime/node/framed-log.js';
import { SimStorage } from '../../fleet-sim/sim/sim-storage.js';
import { decodeEnvelope } from '../../runtime/wire/envelope.js';
import { encodeVoteBody } from '../../runtime/wire/vote.js';
import { Prng } from '../../runtime/lib/prng.js';

beforeAll(async () => {
  await initCrypto();
});

/** A seeded world (seed 3) run to 1.5 s, and its node 2 (a validator), for crash and restart tests. */
async function worldNode2(name: string) {
  const { World } = await import('../../fleet-sim/sim/world.js');
  const { scenario } = await import('../sim/helpers.js');
  const w = new World(scenario({ name, durationMs: 2_000 }), 3);
  w.start();
  w.queue.runUntil(1_500, 1e7);
  const n = w.nodes[2];
  if (!n?.shell) throw new Error('no node 2');
  return { w, n };
}

/** A simulated disk that records its appends, syncs and replaces; once armed, its next sync fails (EIO). */
function flakyDisk(): { storage: SimStorage; calls: string[]; failNextSync: () => void } {
  const calls: string[] = [];
  let failNext = false;
  const storage = new (class extends SimStorage {
    override append(name: string, b: Uint8Array): void {
      calls.push(`append ${name}`);
      super.append(name, b);
    }
    override replace(name: string, b: Uint8Array): void {
      calls.push(`replace ${name}`);
      super.replace(name, b);
    }
    override sync(name: string): void {
      calls.push(`sync ${name}`);
      if (failNext) {
        failNext = false;
        throw new Error('EIO');
      }
      super.sync(name);
    }
  })();
  return {
    storage,
    calls,
    failNextSync: () => {
      failNext = true;
    },
  };
}

const rec = (round: number): NodeWalRecord => ({ t: 'round', height: 3, round, step: 'prevote', lockedRound: -1, lockedBlock: null, validRound: -1, validBlock: null });

/** A commit record from a simulated node's WAL (a real block and certificate). */
async function aCommitRecord(): Promise<NodeWalRecord> {
  const { n } = await worldNode2('a-commit');
  const wal = readWal(n.storage.read('consensus.wal') ?? new Uint8Array(0), 'consensus.wal');
  if (!wal.ok) throw new Error(wal.error);
  const commit = wal.value.records.find((r) => r.t === 'commit');
  if (!commit) throw new Error('no commit record');
  return commit;
}

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

  it('refuses a corrupt record in the middle, naming the file and the offset', async () => {
    const a = encodeWalRecord(rec(0));
    const b = encodeWalRecord(rec(1));
    const c = encodeWalRecord(rec(2));
    const bytes = concatBytes(a, b, c, encodeWalRecord(await aCommitRecord()));
    bytes[a.length + 12] = (bytes[a.length + 12] as number) ^ 0xff;
    const r = readWal(bytes, 'consensus.wal');
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatch(new RegExp(`consensus\\.wal is corrupt at offset ${a.length}: checksum mismatch`));
  });

  it('drops a final record holed at its head (zeros over its first bytes, the rest kept) when nothing intact follows; refuses when a record does', () => {
    const a = encodeWalRecord(rec(0));
    const b = encodeWalRecord(rec(1));
    const holed = concatBytes(a, b);
    holed.fill(0, a.length, a.length + 16);
    const r = readWal(holed, 'consensus.wal');
    expect(r.ok && { n: r.value.records.length, validBytes: r.value.validBytes, damaged: r.value.damagedTail }).toEqual({ n: 1, validBytes: a.length, damaged: true });
    // A torn (short) tail is not damage.
    const short = readWal(concatBytes(a, b.subarray(0, b.length - 3)), 'consensus.wal');
    expect(short.ok && short.value.damagedTail).toBe(false);
    // The same hole with an intact record after it: durable bytes went bad, and the reader refuses.
    const c = encodeWalRecord(rec(2));
    const mid = concatBytes(holed, c);
    const m = readWal(mid, 'consensus.wal');
    expect(m.ok ? 'read' : m.error).toBe(`consensus.wal is corrupt at offset ${a.length}: a record of length 0, and intact records follow from offset ${a.length + b.length} to the end; refusing to start (move the file aside to resync from peers)`);
  });

  it('the search for intact records after damage finds a chain of them to the end, and is bounded: past its budget it says it cannot tell', () => {
    const records = [0, 1, 2, 3].map((i) => encodeWalRecord(rec(i)));
    const bytes = concatBytes(...records);
    const first = records[0]?.length ?? 0;
    expect(intactRecordAfter(bytes, 1, 1 << 20)).toBe(first);
    expect(intactRecordAfter(bytes, first + 1, 1 << 20)).toBe(first + (records[1]?.length ?? 0));
    expect(intactRecordAfter(bytes, 1, 1 << 20, 4)).toBe('undecided');
    expect(intactRecordAfter(bytes.subarray(0, first + 5), 1, 1 << 20)).toBe(null);
  });

  it('a restarted node fsyncs the WAL it found before it signs (a kill -9 may have left its last record in the page cache only)', async () => {
    const { w, n } = await worldNode2('wal-sync-at-boot');
    w.crash(n, 'process');
    const calls: string[] = [];
    const st = n.storage;
    const [sync, append] = [st.sync.bind(st), st.append.bind(st)];
    st.sync = (name: string) => (calls.push(`sync ${name}`), sync(name));
    st.append = (name: string, b: Uint8Array) => (calls.push(`append ${name}`), append(name, b));
    w.restart(n);
    w.queue.runUntil(w.queue.now + 500, 1e7);
    const signed = calls.indexOf('append signer-state');
    expect(signed, calls.join(', ')).toBeGreaterThan(-1);
    expect(calls.slice(0, signed)).toContain('sync consensus.wal');
  });

  it('a torn write is dropped without a search, even when its bytes hold records of their own (a tx carrying them)', () => {
    const a = encodeWalRecord(rec(0));
    const tiny = frame(Uint8Array.of(0x41));
    const inflight = encodeWalRecord({ t: 'own', envelope: concatBytes(new Uint8Array(300).fill(0x61), ...Array.from({ length: 50 }, () => tiny)) });
    const whole = concatBytes(a, inflight);
    const refused: number[] = [];
    for (let cut = a.length + 1; cut < whole.length; cut++) if (!readWal(whole.subarray(0, cut), 'consensus.wal').ok) refused.push(cut);
    expect(refused).toEqual([]);
  });

  it('a record of small integers whose last sectors never reached the disk (zeros) is dropped at once, not left undecided', () => {
    const prng = new Prng(5);
    const block = new Uint8Array(512 * 1024).map(() => prng.int(24));
    const a = encodeWalRecord(rec(0));
    const file = concatBytes(a, encodeWalRecord({ t: 'round', height: 3, round: 1, step: 'precommit', lockedRound: 1, lockedBlock: block, validRound: 1, validBlock: null }));
    file.fill(0, Math.floor((file.length - 256 * 1024) / 512) * 512);
    const r = readWal(file, 'consensus.wal');
    expect(r.ok && { n: r.value.records.length, validBytes: r.value.validBytes }).toEqual({ n: 1, validBytes: a.length });
    // Every candidate that merely looked like a header landing in the zeros is skipped without a checksum.
    expect(intactRecordAfter(file, a.length + 1, 1 << 21, 1 << 20)).toBe(null);
  });

  it('a node whose WAL is corrupt in the middle refuses to start', async () => {
    const { w, n } = await worldNode2('corrupt');
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
    expect(g.sign(5, 0, 'prevote', msg('A'), msg('A')).ok).toBe(true);
    expect(g.sign(5, 0, 'prevote', msg('A'), msg('A')).ok).toBe(true);
    expect(g.sign(5, 0, 'prevote', msg('B'), msg('B')).ok).toBe(false);
    expect(g.sign(4, 9, 'precommit', msg('C'), msg('C')).ok).toBe(false);
    expect(g.sign(5, 0, 'precommit', msg('D'), msg('D')).ok).toBe(true);
    // Power loss right after: the state file was replaced durably before the signature existed.
    storage.crash('torn', new Prng(1));
    const again = new SignerGuard(signer(), storage, hash);
    expect(again.lastSigned()?.step).toBe('precommit');
    expect(again.sign(5, 0, 'precommit', msg('E'), msg('E')).ok).toBe(false);
    expect(again.sign(5, 0, 'prevote', msg('A'), msg('A')).ok).toBe(false);
    expect(again.sign(5, 1, 'proposal', msg('F'), msg('F')).ok).toBe(true);
  });
});

describe('signer state log', () => {
  const signer = () => createSigner(keyPairFromSeed(new Uint8Array(32).fill(7)));
  const msg = (s: string) => new TextEncoder().encode(s);
  const file = (st: SimStorage): Uint8Array => st.read(signerStateFile) ?? new Uint8Array(0);

  it('a new signature costs one append and one sync (no temp file, no rename); a repeat costs nothing', () => {
    const { storage, calls } = flakyDisk();
    const g = new SignerGuard(signer(), storage, hash);
    expect(g.sign(1, 0, 'prevote', msg('A'), msg('A')).ok).toBe(true);
    expect(g.sign(1, 0, 'precommit', msg('B'), msg('B')).ok).toBe(true);
    expect(g.sign(1, 0, 'precommit', msg('B'), msg('B')).ok).toBe(true);
    expect(calls).toEqual(['append signer-state', 'sync signer-state', 'append signer-state', 'sync signer-state']);
    expect(file(storage)[0]).toBe(0); // a framed record: its length's high byte
  });

  it('a torn final record, cut at every byte, leaves the state before it; signing goes on and the file stays readable', () => {
    const full = new SimStorage();
    const g = new SignerGuard(signer(), full, hash);
    g.sign(2, 0, 'prevote', msg('A'), msg('A'));
    const one = file(full).length;
    g.sign(2, 0, 'precommit', msg('B'), msg('B'));
    const both = file(full);
    for (let cut = one + 1; cut < both.length; cut++) {
      const storage = new SimStorage();
      storage.replace(signerStateFile, both.subarray(0, cut));
      const again = new SignerGuard(signer(), storage, hash);
      expect(again.lastSigned()?.step, `cut ${cut}`).toBe('prevote');
      // The torn write never returned a signature, so a different precommit is allowed...
      expect(again.sign(2, 0, 'precommit', msg('C'), msg('C')).ok, `cut ${cut}`).toBe(true);
      // ...and the log behind it is intact: the torn bytes were dropped before the append.
      const third = new SignerGuard(signer(), storage, hash);
      expect(third.sign(2, 0, 'precommit', msg('B'), msg('B')).ok, `cut ${cut}`).toBe(false);
    }
  });

  it('refuses a log damaged before its last record, naming the file and the offset', () => {
    const storage = new SimStorage();
    const g = new SignerGuard(signer(), storage, hash);
    g.sign(3, 0, 'prevote', msg('A'), msg('A'));
    g.sign(3, 0, 'precommit', msg('B'), msg('B'));
    const bytes = new Uint8Array(file(storage));
    bytes[12] = (bytes[12] as number) ^ 0xff;
    storage.replace(signerStateFile, bytes);
    expect(() => new SignerGuard(signer(), storage, hash)).toThrow(/^signer-state is corrupt at offset 0: checksum mismatch, and intact records follow from offset \d+ to the end; refusing to sign until an operator checks it$/);
  });

  // Records fill whole sectors, so a power loss leaves the one in flight whole, zeros or cut short; a
  // last record that fails its checksum (at full length, or with its head gone and the rest there) went
  // bad after it was durable, and may be a signature that left.
  for (const [damage, hurt] of [
    ['fails its checksum at full length', (b: Uint8Array, at: number) => void (b[b.length - 1] = (b[b.length - 1] as number) ^ 0x01, at)],
    ['has lost its head (zeros, the rest there)', (b: Uint8Array, at: number) => void b.fill(0, at, at + 12)],
  ] as const) {
    it(`refuses a last record that ${damage}: it may be a signature that was returned`, () => {
      const storage = new SimStorage();
      const g = new SignerGuard(signer(), storage, hash);
      g.sign(3, 0, 'prevote', msg('A'), msg('A'));
      const at = file(storage).length;
      g.sign(3, 0, 'precommit', msg('B'), msg('B'));
      const bytes = new Uint8Array(file(storage));
      hurt(bytes, at);
      storage.replace(signerStateFile, bytes);
      expect(() => new SignerGuard(signer(), storage, hash)).toThrow(`signer-state is corrupt at offset ${at}: its last record is damaged (it may be a signature that left this device); refusing to sign until an operator checks it`);
    });
  }

  it('refuses a last record whose length field went bad (it reads as cut short, but a power loss leaves less than a sector of a record); a real cut, or zeros, is dropped', () => {
    const storage = new SimStorage();
    const g = new SignerGuard(signer(), storage, hash);
    g.sign(3, 0, 'prevote', msg('A'), msg('A'));
    const at = file(storage).length;
    g.sign(3, 0, 'precommit', msg('B'), msg('B'));
    const whole = file(storage);
    for (const [byte, bit] of [[3, 1], [3, 2], [3, 4], [2, 2]] as const) {
      const bytes = new Uint8Array(whole);
      bytes[at + byte] = (bytes[at + byte] as number) ^ bit;
      const st = new SimStorage();
      st.replace(signerStateFile, bytes);
      expect(() => new SignerGuard(signer(), st, hash), `byte ${byte} ^ ${bit}`).toThrow(`signer-state is corrupt at offset ${at}: its last record is damaged`);
    }
    for (const tail of [whole.subarray(0, at + 300), concatBytes(whole.subarray(0, at), new Uint8Array(sectorBytes))]) {
      const st = new SimStorage();
      st.replace(signerStateFile, tail);
      expect(new SignerGuard(signer(), st, hash).lastSigned()?.step).toBe('prevote');
    }
  });

  it('refuses to sign what would make a record longer than the previous release reads, before the signature leaves', () => {
    const storage = new SimStorage();
    const g = new SignerGuard(signer(), storage, hash);
    expect(() => g.sign(5, 0, 'prevote', msg('A'), new Uint8Array(1_200))).toThrow(/signer-state: a record of 1536 bytes .* refusing to sign/);
    expect(file(storage).length).toBe(0);
  });

  it(`puts every record at a sector boundary, filling whole ${sectorBytes}-byte sectors (a power loss cannot hole one), within the previous release's 1024 bytes; a log from before is rewritten so`, () => {
    const storage = new SimStorage();
    const g = new SignerGuard(signer(), storage, hash);
    const sizes: number[] = [];
    for (let h = 1; h <= 40; h++) {
      // Bodies of every size a vote's could have, and none (a proposal), so the padding meets every CBOR head size.
      const body = new Uint8Array(h * 7);
      const before = file(storage).length;
      expect(g.sign(h, 0, h % 3 === 0 ? 'proposal' : 'prevote', msg(`m${h}`), h % 3 === 0 ? null : body).ok).toBe(true);
      sizes.push(file(storage).length - before);
    }
    expect(sizes.every((n) => n === sectorBytes || n === 2 * sectorBytes)).toBe(true);
    const f = readFrames(file(storage), signerStateFile, 1024);
    expect(f.ok && f.value.payloads.map((p) => p.offset % sectorBytes)).toEqual(Array.from({ length: 40 }, () => 0));
    // Each record is the position's six fields then padding (what the previous release reads: the six).
    const last = f.ok ? decodeCbor(f.value.payloads.at(-1)?.bytes ?? new Uint8Array(0), 1024) : null;
    expect(last?.ok && Array.isArray(last.value) && last.value.slice(0, 3)).toEqual([40, 0, 'prevote']);
    // A log written before records were aligned (unpadded records) is read, and rewritten aligned at start.
    const old = new SimStorage();
    old.replace(signerStateFile, concatBytes(frame(encodeCbor([7, 0, 'prevote', hash(msg('A')), msg('A'), new Uint8Array(64)])), frame(encodeCbor([7, 0, 'precommit', hash(msg('B')), msg('B'), new Uint8Array(64)]))));
    const again = new SignerGuard(signer(), old, hash);
    expect(again.lastSigned()?.step).toBe('precommit');
    expect(file(old).length % sectorBytes).toBe(0);
    expect(again.sign(7, 0, 'precommit', msg('C'), msg('C')).ok).toBe(false);
    expect(again.sign(8, 0, 'prevote', msg('D'), msg('D')).ok).toBe(true);
    expect(file(old).length % sectorBytes).toBe(0);
  });

  it('takes a tail of zero bytes (the file grew, its data never reached the disk) for a torn write', () => {
    const storage = new SimStorage();
    const g = new SignerGuard(signer(), storage, hash);
    g.sign(4, 0, 'prevote', msg('A'), msg('A'));
    for (const zeros of [3, 8, 200]) {
      const st = new SimStorage();
      st.replace(signerStateFile, concatBytes(file(storage), new Uint8Array(zeros)));
      const again = new SignerGuard(signer(), st, hash);
      expect(again.lastSigned()?.step, `${zeros} zero bytes`).toBe('prevote');
      expect(file(st).length, 'the zeros are cut off before the next append').toBe(file(storage).length);
    }
  });

  it('a write that fails leaves the guard where the disk is: asked again, it writes again before it signs', () => {
    const { storage, calls, failNextSync } = flakyDisk();
    const g = new SignerGuard(signer(), storage, hash);
    g.sign(5, 0, 'prevote', msg('A'), msg('A'));
    failNextSync();
    expect(() => g.sign(5, 0, 'precommit', msg('B'), msg('B'))).toThrow('EIO');
    expect(g.lastSigned()?.step).toBe('prevote');
    calls.length = 0;
    expect(g.sign(5, 0, 'precommit', msg('B'), msg('B')).ok).toBe(true);
    // The failed record may still be in the file: the file is rewritten from what is known durable.
    expect(calls).toEqual(['replace signer-state']);
  });

  it('makes a log it finds at start durable before acting on it (a crash may have left its last write in the page cache only)', () => {
    const storage = new SimStorage();
    new SignerGuard(signer(), storage, hash).sign(6, 0, 'prevote', msg('A'), msg('A'));
    const syncs = storage.syncs;
    new SignerGuard(signer(), storage, hash);
    expect(storage.syncs).toBe(syncs + 1);
  });

  it('reads a state file from before the log (one bare CBOR array) and rewrites it as a log', () => {
    const storage = new SimStorage();
    storage.replace(signerStateFile, encodeCbor([7, 1, 'precommit', hash(msg('X')), null, null]));
    const g = new SignerGuard(signer(), storage, hash);
    expect(g.lastSigned()).toMatchObject({ height: 7, round: 1, step: 'precommit' });
    expect(file(storage)[0]).toBe(0);
    expect(g.sign(7, 1, 'prevote', msg('Y'), msg('Y')).ok).toBe(false);
    expect(new SignerGuard(signer(), storage, hash).sign(7, 2, 'proposal', msg('Z'), msg('Z')).ok).toBe(true);
  });

  it(`rewrites itself as its last height's records after ${compactAfterRecords} records`, () => {
    const storage = new SimStorage();
    const g = new SignerGuard(signer(), storage, hash);
    g.sign(1, 0, 'prevote', msg('first'), msg('first'));
    const one = file(storage).length;
    for (let h = 2; h <= compactAfterRecords + 3; h++) expect(g.sign(h, 0, 'prevote', msg(`v${h}`), msg(`v${h}`)).ok).toBe(true);
    // Record 1025 was the rewrite (one record), then two more appends.
    expect(file(storage).length).toBeLessThanOrEqual(3 * (one + 8));
    const again = new SignerGuard(signer(), storage, hash);
    expect(again.lastSigned()?.height).toBe(compactAfterRecords + 3);
    expect(again.sign(compactAfterRecords + 2, 0, 'precommit', msg('back'), msg('back')).ok).toBe(false);
  });
});

describe('own votes in the signer state', () => {
  const signer = () => createSigner(keyPairFromSeed(new Uint8Array(32).fill(7)));
  const msg = (s: string) => new TextEncoder().encode(s);
  const bodies = (g: SignerGuard, h: number) => g.signedAt(h).map((l) => `${l.step}:${l.signed ? new TextDecoder().decode(l.signed.body) : '-'}`);

  it("keeps the last height's votes with body and signature (a proposal without its block); a restart finds them, a torn last one is gone", () => {
    const storage = new SimStorage();
    const g = new SignerGuard(signer(), storage, hash);
    g.sign(8, 0, 'precommit', msg('old'), msg('old'));
    g.sign(9, 0, 'proposal', msg('sign-P'));
    const v = g.sign(9, 0, 'prevote', msg('sign-V'), msg('V'));
    g.sign(9, 0, 'precommit', msg('sign-C'), msg('C'));
    expect(bodies(g, 9)).toEqual(['proposal:-', 'prevote:V', 'precommit:C']);
    expect(g.signedAt(8)).toEqual([]);
    const again = new SignerGuard(signer(), storage, hash);
    expect(bodies(again, 9)).toEqual(['proposal:-', 'prevote:V', 'precommit:C']);
    expect(v.ok && [...(again.signedAt(9)[1]?.signed?.signature ?? [])]).toEqual(v.ok && [...v.value]);
    // The precommit's write torn: its signature never left, the two before it are still there.
    const whole = storage.read(signerStateFile) ?? new Uint8Array(0);
    const torn = new SimStorage();
    torn.replace(signerStateFile, whole.subarray(0, whole.length - 3));
    expect(bodies(new SignerGuard(signer(), torn, hash), 9)).toEqual(['proposal:-', 'prevote:V']);
    expect(bodies(new SignerGuard(signer(), torn, hash), 9), 'and the file was rewritten with them').toEqual(['proposal:-', 'prevote:V']);
    // Every record fits the previous release's reader (records of at most 1024 bytes).
    expect(readFrames(whole, signerStateFile, 1024).ok).toBe(true);
  });

  it('after a write that failed, a different vote at that position replaces it: a restart never finds both', () => {
    const { storage, failNextSync } = flakyDisk();
    const g = new SignerGuard(signer(), storage, hash);
    g.sign(5, 0, 'prevote', msg('A'), msg('A'));
    failNextSync();
    expect(() => g.sign(5, 0, 'precommit', msg('B'), msg('B'))).toThrow('EIO');
    expect(g.sign(5, 0, 'precommit', msg('C'), msg('C')).ok).toBe(true);
    expect(bodies(g, 5)).toEqual(['prevote:A', 'precommit:C']);
    // The failed append stayed in the page cache: the next save rewrote the file instead of appending.
    storage.crash('intact', new Prng(1));
    expect(bodies(new SignerGuard(signer(), storage, hash), 5)).toEqual(['prevote:A', 'precommit:C']);
    // And a file holding both (a process that went on appending after the failure) yields the newest.
    const log = (...signs: [number, 'prevote' | 'precommit', string][]): Uint8Array => {
      const st = new SimStorage();
      const guard = new SignerGuard(signer(), st, hash);
      for (const [h, step, m] of signs) guard.sign(h, 0, step, msg(m), msg(m));
      return st.read(signerStateFile) ?? new Uint8Array(0);
    };
    const mixed = new SimStorage();
    mixed.replace(signerStateFile, concatBytes(log([6, 'prevote', 'A']), log([6, 'precommit', 'B']), log([6, 'precommit', 'C'])));
    expect(bodies(new SignerGuard(signer(), mixed, hash), 6)).toEqual(['prevote:A', 'precommit:C']);
  });

  it('a write cut short (a full disk) leaves the guard as it was, and the next signature rewrites the file: it stays readable', () => {
    let cutNext = false;
    const storage = new (class extends SimStorage {
      override append(name: string, b: Uint8Array): void {
        if (!cutNext) return super.append(name, b);
        cutNext = false;
        super.append(name, b.subarray(0, 20));
        throw new Error('ENOSPC');
      }
    })();
    const g = new SignerGuard(signer(), storage, hash);
    g.sign(5, 0, 'prevote', msg('A'), msg('A'));
    cutNext = true;
    expect(() => g.sign(5, 0, 'precommit', msg('B'), msg('B'))).toThrow('ENOSPC');
    expect(bodies(g, 5)).toEqual(['prevote:A']);
    expect(g.lastSigned()?.step).toBe('prevote');
    expect(g.sign(5, 0, 'precommit', msg('B'), msg('B')).ok).toBe(true);
    expect(g.sign(5, 1, 'prevote', msg('C'), msg('C')).ok).toBe(true);
    // Appending after the 20 stray bytes would have left them mid-log: a file the next start refuses.
    const again = new SignerGuard(signer(), storage, hash);
    expect(bodies(again, 5)).toEqual(['prevote:A', 'precommit:B', 'prevote:C']);
  });

  it(`stays bounded within one long height too: rewritten once it holds ${compactAfterRecords} records`, () => {
    const storage = new SimStorage();
    const g = new SignerGuard(signer(), storage, hash);
    let largest = 0;
    for (let r = 0; r < 3_000; r++) {
      g.sign(7, r, 'prevote', msg(`v${r}`), msg(`v${r}`));
      largest = Math.max(largest, (storage.read(signerStateFile) ?? new Uint8Array(0)).length);
    }
    expect(largest).toBeLessThanOrEqual(compactAfterRecords * sectorBytes);
    expect(new SignerGuard(signer(), storage, hash).lastSigned()?.round).toBe(2_999);
  });

  it('keeps at most the newest 9 of a long height (what the core re-sends), in memory and after a restart', () => {
    const storage = new SimStorage();
    const g = new SignerGuard(signer(), storage, hash);
    for (let r = 0; r < 2_000; r++) expect(g.sign(7, r, 'prevote', msg(`v${r}`), msg(`v${r}`)).ok).toBe(true);
    expect(g.signedAt(7).map((l) => l.round)).toEqual([1991, 1992, 1993, 1994, 1995, 1996, 1997, 1998, 1999]);
    expect(new SignerGuard(signer(), storage, hash).signedAt(7).map((l) => l.round)).toEqual([1991, 1992, 1993, 1994, 1995, 1996, 1997, 1998, 1999]);
  });

  it('keeps the height\'s newest precommit for a block past the newest 9 (the lock a restart takes), across restarts and a rewrite', () => {
    const storage = new SimStorage();
    const g = new SignerGuard(signer(), storage, hash);
    const vote = (round: number, block: number | null) => encodeVoteBody({ height: 7, round, blockHash: block === null ? null : new Uint8Array(32).fill(block) });
    const sign = (guard: SignerGuard, round: number, step: 'prevote' | 'precommit', block: number | null) => expect(guard.sign(7, round, step, msg(`${step}${round}`), vote(round, block)).ok).toBe(true);
    sign(g, 0, 'prevote', 1);
    sign(g, 0, 'precommit', 1); // locked on block 1 in round 0
    sign(g, 1, 'prevote', 2);
    sign(g, 1, 'precommit', 2); // then on block 2 in round 1
    for (let r = 2; r < 12; r++) {
      sign(g, r, 'prevote', null);
      sign(g, r, 'precommit', null);
    }
    const expected = ['1/precommit', ...[7, 8, 9, 10, 11].flatMap((r) => [`${r}/prevote`, `${r}/precommit`]).slice(1)];
    const positions = (guard: SignerGuard) => guard.signedAt(7).map((l) => `${l.round}/${l.step}`);
    expect(positions(g)).toEqual(expected);
    expect(positions(new SignerGuard(signer(), storage, hash)), 'after a restart').toEqual(expected);
    // A nil vote is no lock: with the lock among the newest 9, nothing older is kept.
    sign(g, 12, 'prevote', 3);
    sign(g, 12, 'precommit', 3);
    expect(positions(g)[0]).toBe('8/precommit');
    // Rewritten (a failed write marks the file damaged): the records written are the ones kept.
    const torn = new SimStorage();
    torn.replace(signerStateFile, concatBytes(storage.read(signerStateFile) ?? new Uint8Array(0), Uint8Array.of(0, 0, 0)));
    expect(positions(new SignerGuard(signer(), torn, hash))).toEqual(positions(g));
  });

  it("a node's ahead log holds its own proposals only; its votes are in the signer state", async () => {
    const { n } = await worldNode2('own-records');
    const wal = readWal(n.storage.read('consensus.wal') ?? new Uint8Array(0), 'consensus.wal');
    const ahead = readWal(n.storage.read('consensus.ahead') ?? new Uint8Array(0), 'consensus.ahead');
    if (!wal.ok) throw new Error(wal.error);
    if (!ahead.ok) throw new Error(ahead.error);
    expect(wal.value.records.filter((r) => r.t === 'own'), 'the WAL holds no own message').toEqual([]);
    const own = ahead.value.records.flatMap((r) => (r.t === 'own' ? [r.envelope] : []));
    expect(own.length, 'node 2 proposed').toBeGreaterThan(0);
    expect(own.map((e) => (decodeEnvelope(e) as { ok: true; value: { kind: string } }).value.kind).filter((k) => k !== 'proposal')).toEqual([]);
  });

  it('a validator restarted mid-height has its own prevote and precommit of that height back (both, from the signer state)', async () => {
    const { w, n } = await worldNode2('refeed');
    const core = n.shell?.core;
    if (!core) throw new Error('no core');
    const id = 'v02';
    const mine = (c: typeof core, kind: 'prevote' | 'precommit') => c.votes.tally(kind, c.round)?.votes.has(id) ?? false;
    // On to a moment it has prevoted and precommitted and the height is not decided yet (1 ms steps).
    for (let t = 1_501; t < 2_000 && !(mine(core, 'prevote') && mine(core, 'precommit')); t++) w.queue.runUntil(t, 1e6);
    expect(mine(core, 'prevote') && mine(core, 'precommit')).toBe(true);
    const at = { height: core.height, round: core.round };
    w.crash(n, 'intact');
    w.restart(n);
    w.queue.runUntil(w.queue.now, 1e6); // its start, at the same moment
    const back = n.shell?.core;
    if (!back) throw new Error(`not restarted: ${n.fatal}`);
    expect({ height: back.height, round: back.round }).toEqual(at);
    expect(mine(back, 'prevote'), 'its prevote').toBe(true);
    expect(mine(back, 'precommit'), 'its precommit').toBe(true);
  });

  it('a prevote\'s round record goes to the ahead log without an fsync: a validator crashed right after its prevote restarts at the position it signed; the round record of a lock is fsynced in the WAL', async () => {
    const { w, n } = await worldNode2('position-from-signer');
    const core = n.shell?.core;
    if (!core) throw new Error('no core');
    const id = 'v02';
    const mine = (c: typeof core, kind: 'prevote' | 'precommit') => c.votes.tally(kind, c.round)?.votes.get(id);
    // On to a moment it has prevoted and not precommitted yet (0.05 ms steps).
    for (let t = 1_501; t < 2_000 && !(mine(core, 'prevote') && !mine(core, 'precommit') && !core.waiting); t += 0.05) w.queue.runUntil(t, 1e6);
    expect(mine(core, 'prevote') !== undefined && mine(core, 'precommit') === undefined).toBe(true);
    const at = { height: core.height, round: core.round, step: core.step };
    expect(at.step).toBe('prevote');
    // Its round record for the prevote is written, not durable: the crash loses it.
    expect(n.storage.hasPending('consensus.ahead')).toBe(true);
    expect(n.storage.hasPending('consensus.wal'), 'everything in the WAL is fsynced').toBe(false);
    w.crash(n, 'intact');
    for (const file of ['consensus.wal', 'consensus.ahead']) {
      const log = readWal(n.storage.read(file) ?? new Uint8Array(0), file);
      if (!log.ok) throw new Error(log.error);
      expect(log.value.records.some((r) => r.t === 'round' && r.height === at.height && r.round === at.round && r.step === 'prevote'), `${file} on disk does not hold the prevote step`).toBe(false);
    }
    w.restart(n);
    const back = n.shell?.core;
    if (!back) throw new Error(`not restarted: ${n.fatal}`);
    expect({ height: back.height, round: back.round, step: back.step }).toEqual(at);
    // On to its precommit for a block: the round record with the lock (and the block) was fsynced before it.
    const until = w.queue.now + 500;
    for (let t = w.queue.now + 0.05; t < until && !(back.lockedRound >= 0 && mine(back, 'precommit')); t += 0.05) w.queue.runUntil(t, 1e6);
    expect(back.lockedRound).toBeGreaterThanOrEqual(0);
    expect(n.storage.hasPending('consensus.wal'), 'nothing of the lock waits for an fsync').toBe(false);
  });
});

describe('a fleet-wide power loss', () => {
  it('every validator loses power the moment it has precommitted a block (seed 3): they restart locked on it, with it, and the height commits', async () => {
    const { World } = await import('../../fleet-sim/sim/world.js');
    const { scenario } = await import('../sim/helpers.js');
    const seed = 3;
    const w = new World(scenario({ name: 'lost-block', durationMs: 20_000, followers: 0 }), seed);
    w.start();
    w.queue.runUntil(1_500, 1e7);
    const vals = w.nodes.slice(0, 4);
    type Peek = { guard: SignerGuard; core: { height: number; waiting: boolean } };
    const precommittedBlock = (n: (typeof vals)[number]): boolean => {
      const sh = n.shell as unknown as Peek | null;
      const l = sh?.guard.lastSigned();
      return !!sh && !!l && l.height === sh.core.height && l.step === 'precommit' && l.signed !== null && (voteOf(l.signed.body)?.blockHash ?? null) !== null && !sh.core.waiting;
    };
    // 0.05 ms steps: each validator crashes (unsynced writes lost) as soon as it has signed its
    // precommit for the height's block, before any of them decides it.
    let height = -1;
    for (let t = 1_500; t < 4_000 && vals.some((n) => n.shell); t += 0.05) {
      w.queue.runUntil(t, 1e6);
      for (const n of vals) {
        if (!n.shell || !precommittedBlock(n)) continue;
        if (height === -1) height = n.shell.core.height;
        if (n.shell.core.height === height) w.crash(n, 'intact');
      }
      if (height !== -1 && vals.some((n) => n.shell && n.shell.core.height > height)) break;
    }
    expect(vals.every((n) => !n.shell), `seed ${seed}: every validator down before one decided height ${height}`).toBe(true);
    for (const n of vals) w.restart(n);
    for (const n of vals) {
      const c = n.shell?.core;
      expect(c?.lockedRound, `${n.id} locked`).toBeGreaterThanOrEqual(0);
      expect(c?.lockedValue, `${n.id} has the block it is locked on`).not.toBe(null);
    }
    w.queue.runUntil(w.queue.now + 3_000, 1e7);
    const heights = vals.map((n) => n.shell?.core.height ?? -1);
    expect(Math.min(...heights), `seed ${seed}: crashed at height ${height}, 3 s after the restart at ${heights}`).toBeGreaterThan(height + 5);
  });
});

describe('round records', () => {
  it('the round state persisted with a precommit for a block holds the valid value as well as the lock', async () => {
    const { n } = await worldNode2('valid-with-lock');
    const wal = readWal(n.storage.read('consensus.wal') ?? new Uint8Array(0), 'consensus.wal');
    if (!wal.ok) throw new Error(wal.error);
    const locked = wal.value.records.flatMap((r) => (r.t === 'round' && r.step === 'precommit' && r.lockedRound >= 0 ? [r] : []));
    expect(locked.length).toBeGreaterThan(0);
    for (const r of locked) expect({ validRound: r.validRound, validBlock: r.validBlock?.length }).toEqual({ validRound: r.lockedRound, validBlock: r.lockedBlock?.length });
  });
});

describe('signer state log in the simulator', () => {
  it('a torn-disk crash tears the signer log too; the node restarts on the records before it', async () => {
    const { w, n } = await worldNode2('torn-signer');
    const before = n.storage.read(signerStateFile) ?? new Uint8Array(0);
    w.crash(n, 'torn');
    const torn = n.storage.read(signerStateFile) ?? new Uint8Array(0);
    expect(torn.length, 'a partial record after the durable ones').toBeGreaterThan(before.length);
    expect([...torn.subarray(0, before.length)]).toEqual([...before]);
    w.restart(n);
    expect(n.fatal).toBe(null);
    expect(n.shell).not.toBe(null);
    expect([...(n.storage.read(signerStateFile) ?? [])], "rewritten as its last height's intact records").toEqual([...lastHeightRecords(before)]);
  });
});

/** The framed records of a signer log's last height, headers included (readFrames, framed-log.ts). */
function lastHeightRecords(log: Uint8Array): Uint8Array {
  const f = readFrames(log, signerStateFile, 1_048_576);
  if (!f.ok) throw new Error(f.error);
  const heightOf = (b: Uint8Array): unknown => (decodeCbor(b, b.length) as { ok: true; value: unknown[] }).value[0];
  const last = f.value.payloads.at(-1);
  if (!last) return new Uint8Array(0);
  let first = last;
  for (const p of f.value.payloads) if (heightOf(p.bytes) === heightOf(last.bytes)) {
    first = p;
    break;
  }
  return log.subarray(first.offset);
}

describe('device file storage', () => {
  it('fsyncs the directory on the first sync of a file in a process, and after a replace; not on later syncs', () => {
    const dir = mkdtempSync(join(tmpdir(), 'murmur-storage-'));
    try {
      let fsyncs = 0;
      const st = new FileStorage(dir, () => fsyncs++);
      st.append('log', Uint8Array.of(1));
      st.sync('log');
      expect(fsyncs).toBe(2); // the file, then its directory
      st.append('log', Uint8Array.of(2));
      st.sync('log');
      expect(fsyncs).toBe(3);
      st.replace('log', Uint8Array.of(9)); // temp file, then the directory after the rename
      expect(fsyncs).toBe(5);
      st.append('log', Uint8Array.of(3));
      st.sync('log');
      expect(fsyncs).toBe(6);
      st.close();
      // A second process finds the file there, perhaps left by a crash before its directory fsync:
      // its first sync fsyncs the directory too, the next ones do not.
      const again = new FileStorage(dir, () => fsyncs++);
      again.append('log', Uint8Array.of(4));
      again.sync('log');
      expect(fsyncs).toBe(8);
      again.sync('log');
      expect(fsyncs).toBe(9);
      again.close();
      expect([...readFileSync(join(dir, 'log'))]).toEqual([9, 3, 4]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
