// The ahead log (runtime/node/shell.ts persist): round records that bring nothing new to keep and a
// node's own proposals go to consensus.ahead without an fsync, and everything in consensus.wal is
// fsynced as it is written. A power loss may leave holes anywhere in what was not fsynced; with the two
// kinds of record in one file such a hole sat before intact records and stopped the node as
// corruption. These tests check the reader's rule for the ahead log, the simulated disk's holes, and
// whole fleets losing power with holes in every validator's ahead log.

import { beforeAll, describe, expect, it, vi } from 'vitest';
import { initCrypto } from '../../runtime/crypto/sodium.js';
import { concatBytes } from '../../runtime/lib/bytes.js';
import { limits } from '../../runtime/lib/limits.js';
import { Prng } from '../../runtime/lib/prng.js';
import { frame } from '../../runtime/node/framed-log.js';
import { crc32 } from '../../runtime/node/crc32.js';
import { aheadFile, roundStateOf, walFile } from '../../runtime/node/shell.js';
import { EdgeVerifier } from '../../runtime/node/edge.js';
import { decodeEnvelope } from '../../runtime/wire/envelope.js';
import { encodeWalRecord, readWal, type NodeWalRecord } from '../../runtime/node/wal.js';
import { SimStorage } from '../../fleet-sim/sim/sim-storage.js';
import { decodeCbor, encodeCbor } from '../../runtime/wire/cbor.js';
import { scenario } from '../sim/helpers.js';

beforeAll(async () => {
  await initCrypto();
});

/** The height in an own proposal's body (its first key). */
function ownHeightOf(envelope: Uint8Array): number {
  const d = decodeEnvelope(envelope);
  if (!d.ok) throw new Error(d.error.message);
  const body = decodeCbor(d.value.body, 1 << 20);
  if (!body.ok) throw new Error(body.error);
  return (body.value as { height: number }).height;
}

const round = (r: number): NodeWalRecord => ({ t: 'round', height: 3, round: r, step: 'prevote', lockedRound: -1, lockedBlock: null, validRound: -1, validBlock: null });

describe('reading the ahead log', () => {
  const [a, b, c] = [round(0), round(1), round(2)].map(encodeWalRecord) as [Uint8Array, Uint8Array, Uint8Array];

  it('a hole before intact records ends the log there; the WAL reader refuses the same bytes as corruption', () => {
    const holed = concatBytes(a, new Uint8Array(b.length), c);
    const wal = readWal(holed, walFile);
    expect(wal.ok ? 'read' : wal.error).toContain(`consensus.wal is corrupt at offset ${a.length}`);
    const ahead = readWal(holed, aheadFile, { damageEndsLog: true });
    if (!ahead.ok) throw new Error(ahead.error);
    expect(ahead.value.records).toEqual([round(0)]);
    expect({ validBytes: ahead.value.validBytes, tornTailBytes: ahead.value.tornTailBytes }).toEqual({ validBytes: a.length, tornTailBytes: b.length + c.length });
  });

  it('a checksum mismatch, an impossible length and a frame that is not a record each end it', () => {
    const flipped = Uint8Array.from(b);
    flipped[b.length - 1] = (flipped[b.length - 1] as number) ^ 1;
    const tooLong = Uint8Array.from(b);
    new DataView(tooLong.buffer).setUint32(0, limits.walRecordBytesMax + 1);
    const notARecord = frame(encodeCbor(['nonsense', 1]));
    for (const [what, bad] of [['checksum', flipped], ['length', tooLong], ['not a record', notARecord]] as const) {
      const bytes = concatBytes(a, bad, c);
      expect(readWal(bytes, walFile).ok, `${what}: the WAL refuses`).toBe(false);
      const ahead = readWal(bytes, aheadFile, { damageEndsLog: true });
      if (!ahead.ok) throw new Error(`${what}: ${ahead.error}`);
      expect(ahead.value.records, what).toEqual([round(0)]);
      expect(ahead.value.validBytes, what).toBe(a.length);
    }
  });
});

describe('the simulated disk after a power loss with holes', () => {
  it('keeps a prefix of the unsynced bytes in which each 512-byte sector of the file is whole or zeros', () => {
    let holes = 0;
    for (let seed = 1; seed <= 20; seed++) {
      const disk = new SimStorage();
      disk.append('f', new Uint8Array(100).fill(1));
      disk.sync('f');
      disk.append('f', new Uint8Array(3_000).fill(2));
      disk.crash('holes', new Prng(seed));
      const after = disk.read('f') ?? new Uint8Array(0);
      expect(after.length, `seed ${seed}`).toBeLessThan(3_100);
      expect([...after.subarray(0, 100)].every((x) => x === 1), `seed ${seed}: the synced bytes stay`).toBe(true);
      const sectors: string[] = [];
      for (let at = 0; at < after.length; at += 512) {
        const s = after.subarray(Math.max(at, 100), Math.min(at + 512, after.length));
        const kinds = new Set(s);
        expect(kinds.size, `seed ${seed}: sector at ${at} is whole or zeros`).toBeLessThanOrEqual(1);
        sectors.push(kinds.has(0) ? 'lost' : 'kept');
      }
      if (sectors.join(',').includes('lost,kept')) holes++;
    }
    expect(holes, 'some power losses leave a lost sector before a kept one').toBeGreaterThan(0);
  });
});

/** Whether the log has damage with an intact record somewhere after it (what a reader that stopped at
 *  damage before intact records would refuse): every offset after the valid prefix, checked directly. */
function holeBeforeIntactRecord(bytes: Uint8Array): boolean {
  const r = readWal(bytes, aheadFile, { damageEndsLog: true });
  if (!r.ok || r.value.tornTailBytes === 0) return false;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let at = r.value.validBytes + 1; at + 8 < bytes.length; at++) {
    const len = dv.getUint32(at);
    if (len === 0 || at + 8 + len > bytes.length) continue;
    if (crc32(bytes.subarray(at + 8, at + 8 + len)) === dv.getUint32(at + 4)) return true;
  }
  return false;
}

describe('a fleet-wide power loss that leaves holes in the ahead logs', () => {
  it('every validator loses power the moment a proposal is out, three times, with holes in what was not fsynced: each restarts and the fleet commits on (seeds 1-4)', async () => {
    const { World } = await import('../../fleet-sim/sim/world.js');
    let holed = 0;
    for (let seed = 1; seed <= 4; seed++) {
      // 200 commands a second: proposals of several kilobytes, many sectors of unsynced bytes.
      const w = new World(scenario({ name: 'power-loss-holes', durationMs: 20_000, followers: 1, workload: [{ kind: 'rate', from: 500, to: 20_000, perSec: 200, command: 'noop' }] }), seed);
      w.start();
      const vals = w.nodes.slice(0, 4);
      const proposed = (): boolean => vals.some((n) => {
        const c = n.shell?.core;
        return !!c && [...c.proposals.values()].some((p) => p.from === n.id && p.height === c.height) && c.step !== 'precommit';
      });
      for (const from of [1_500, 2_700, 3_900]) {
        // On to the moment a proposer has signed its proposal and not precommitted (0.05 ms steps): its
        // proposal and round records wait for no fsync.
        w.queue.runUntil(from, 1e7);
        for (let t = from; t < from + 1_000 && !proposed(); t += 0.05) w.queue.runUntil(t, 1e6);
        expect(proposed(), `seed ${seed}: a proposal after ${from} ms`).toBe(true);
        for (const n of vals) w.crash(n, 'holes');
        for (const n of vals) if (holeBeforeIntactRecord(n.storage.read(aheadFile) ?? new Uint8Array(0))) holed++;
        const before = Math.max(...vals.map((n) => n.app?.height ?? 0));
        for (const n of vals) w.restart(n);
        for (const n of vals) expect(n.fatal, `seed ${seed}, ${n.id}, power lost at ${w.queue.now} ms`).toBe(null);
        w.queue.runUntil(w.queue.now + 1_000, 1e7);
        const heights = vals.map((n) => n.shell?.core.height ?? -1);
        expect(Math.min(...heights), `seed ${seed}: power lost at height ${before}; 1 s after the restart: ${heights}`).toBeGreaterThan(before + 3);
      }
      expect(w.checkers.violations, `seed ${seed}`).toEqual([]);
    }
    expect(holed, 'some ahead logs had a hole before intact records').toBeGreaterThan(0);
  });
});

describe('the round state a restart takes from both logs', () => {
  const block = (b: number) => Uint8Array.of(b, b, b);
  const at = (r: number, step: 'propose' | 'prevote' | 'precommit', lockedRound = -1, lockedBlock: Uint8Array | null = null, validRound = lockedRound, validBlock = lockedBlock) =>
    ({ t: 'round', height: 7, round: r, step, lockedRound, lockedBlock, validRound, validBlock }) as const;

  it('the position of the newest record, the lock of the highest locked round and the valid value of the highest valid round, in any order', () => {
    const lock0 = at(0, 'precommit', 0, block(1));
    const later = at(2, 'prevote'); // a record without the lock: after a rollback and a roll forward
    const valid1 = at(1, 'precommit', 0, block(1), 1, block(2));
    for (const order of [[lock0, later, valid1], [later, valid1, lock0], [valid1, lock0, later]]) {
      expect(roundStateOf(order)).toEqual({ ...later, lockedRound: 0, lockedBlock: block(1), validRound: 1, validBlock: block(2) });
    }
    expect(roundStateOf([]), 'no records').toBe(null);
  });

  it('a lock with its block wins over the same lock round without it', () => {
    const withBlock = at(1, 'precommit', 1, block(3));
    const without = at(2, 'prevote', 1, null, -1, null);
    expect(roundStateOf([without, withBlock])).toMatchObject({ round: 2, step: 'prevote', lockedRound: 1, lockedBlock: block(3) });
  });

  it('a validator rolled back to a release that ignores the ahead log and forward again keeps its lock and its block (seed 3)', async () => {
    const { World } = await import('../../fleet-sim/sim/world.js');
    const w = new World(scenario({ name: 'stale-ahead', durationMs: 5_000 }), 3);
    w.start();
    const n = w.nodes[1];
    if (!n?.shell) throw new Error('no node 1');
    let height = -1;
    for (let t = 1_000; t < 5_000 && height < 0; t += 0.05) {
      w.queue.runUntil(t, 1e6);
      const c = n.shell.core;
      if (c.step === 'precommit' && c.round === 0 && c.lockedRound === 0) height = c.height;
    }
    expect(height, 'seed 3: node 1 locked in round 0').toBeGreaterThan(0);
    w.crash(n, 'intact');
    // Left by this release before the rollback: a record at a later position than the earlier
    // release's lock, holding no lock (written before that lock was taken, in an earlier life).
    const stale = encodeWalRecord({ t: 'round', height, round: 1, step: 'prevote', lockedRound: -1, lockedBlock: null, validRound: -1, validBlock: null });
    n.storage.replace(aheadFile, concatBytes(n.storage.read(aheadFile) ?? new Uint8Array(0), stale));
    w.restart(n);
    const c = n.shell?.core;
    if (!c) throw new Error(`not restarted: ${n.fatal}`);
    expect({ height: c.height, round: c.round, step: c.step }).toEqual({ height, round: 1, step: 'prevote' });
    expect({ lockedRound: c.lockedRound, validRound: c.validRound }).toEqual({ lockedRound: 0, validRound: 0 });
    expect(c.lockedValue, 'the locked block').not.toBe(null);
    expect(c.validValue, 'the valid block').not.toBe(null);
  });
});

describe('which log a record goes to', () => {
  it('a round record that brings a lock or valid value the WAL does not hold yet goes to the WAL, fsynced; one that only carries them again, or none, goes to the ahead log', async () => {
    const { World } = await import('../../fleet-sim/sim/world.js');
    const w = new World(scenario({ name: 'which-log', durationMs: 2_000 }), 3);
    w.start();
    w.queue.runUntil(500, 1e7);
    const n = w.nodes[2];
    if (!n?.shell) throw new Error('no node 2');
    const shell = n.shell as unknown as { persist(r: NodeWalRecord): void };
    const h = n.shell.core.height + 100; // records of a height the node is not at: only the files matter here
    const b = Uint8Array.of(1, 2, 3);
    const rec = (round: number, step: 'propose' | 'prevote' | 'precommit', lockedRound: number, validRound: number, height = h): NodeWalRecord =>
      ({ t: 'round', height, round, step, lockedRound, lockedBlock: lockedRound < 0 ? null : b, validRound, validBlock: validRound < 0 ? null : b });
    const size = (f: string) => n.storage.read(f)?.length ?? 0;
    const placed = (r: NodeWalRecord): string => {
      const [wal, ahead] = [size(walFile), size(aheadFile)];
      shell.persist(r);
      expect(n.storage.hasPending(walFile), 'nothing in the WAL waits for an fsync').toBe(false);
      return size(walFile) > wal ? 'wal' : size(aheadFile) > ahead ? 'ahead' : 'nowhere';
    };
    expect([
      placed(rec(0, 'prevote', -1, -1)), // no lock
      placed(rec(0, 'precommit', 0, 0)), // the lock of round 0
      placed(rec(1, 'propose', 0, 0)), // carried again
      placed(rec(1, 'precommit', 1, 1)), // a new lock in round 1
      placed(rec(2, 'propose', 1, 2)), // a newer valid value
      placed(rec(2, 'prevote', 1, 2)), // carried again
      placed(rec(0, 'precommit', 0, 0, h + 1)), // the next height's first lock, with the same round numbers
    ]).toEqual(['ahead', 'wal', 'ahead', 'wal', 'wal', 'ahead', 'wal']);
  });
});

describe('the ahead log on a restart', () => {
  it('a proposer restarted after its ahead log reached the disk has its own proposal back from it; not when the log was lost; and from a WAL of the earlier layout, which held those records itself', async () => {
    const { World } = await import('../../fleet-sim/sim/world.js');
    for (const disk of ['written', 'lost', 'one file'] as const) {
      const w = new World(scenario({ name: 'ahead-proposal', durationMs: 5_000 }), 3);
      w.start();
      const n = w.nodes[2];
      if (!n?.shell) throw new Error('no node 2');
      const core = n.shell.core;
      const own = (c: typeof core) => [...c.proposals.values()].find((p) => p.from === n.id && p.height === c.height);
      // On to a moment node 2 has just proposed (0.05 ms steps).
      for (let t = 1_000; t < 5_000 && !own(core); t += 0.05) w.queue.runUntil(t, 1e6);
      const mine = own(core);
      if (!mine) throw new Error('seed 3: node 2 never proposed');
      // The OS wrote the dirty pages back (nothing in Murmur fsyncs the ahead log), or did not; then the
      // power went.
      if (disk !== 'lost') n.storage.sync(aheadFile);
      w.crash(n, 'intact');
      if (disk === 'one file') {
        // The earlier layout: every record in consensus.wal, in the order written. Here the WAL ends with
        // the last commit (the height's lock comes later), so that is the WAL and then the ahead log's
        // records of this height.
        const ahead = readWal(n.storage.read(aheadFile) ?? new Uint8Array(0), aheadFile);
        if (!ahead.ok) throw new Error(ahead.error);
        const current = ahead.value.records.filter((r) => (r.t === 'round' ? r.height === mine.height : r.t === 'own' && ownHeightOf(r.envelope) === mine.height));
        const wal = readWal(n.storage.read(walFile) ?? new Uint8Array(0), walFile);
        if (!wal.ok) throw new Error(wal.error);
        expect(wal.value.records.at(-1)?.t, 'the WAL ends with a commit').toBe('commit');
        n.storage.replace(walFile, concatBytes(n.storage.read(walFile) ?? new Uint8Array(0), ...current.map(encodeWalRecord)));
        n.storage.replace(aheadFile, new Uint8Array(0));
      }
      const ownProposals = (file: string) => {
        const log = readWal(n.storage.read(file) ?? new Uint8Array(0), file);
        return log.ok ? log.value.records.filter((r) => r.t === 'own').length : -1;
      };
      const kept = ownProposals(disk === 'one file' ? walFile : aheadFile);
      // Boot checks (signature, every tx) only the own proposals of the height it resumes.
      const opened = vi.spyOn(EdgeVerifier.prototype, 'toInput');
      w.restart(n);
      const fed = opened.mock.calls.filter(([e]) => {
        const d = decodeEnvelope(e);
        return d.ok && d.value.kind === 'proposal' && d.value.sender === n.id;
      }).length;
      opened.mockRestore();
      if (disk === 'written') expect(kept, 'the ahead log holds proposals of earlier heights too').toBeGreaterThan(1);
      expect(fed, `${disk}: own proposals checked at boot`).toBe(disk === 'lost' ? 0 : 1);
      const back = n.shell?.core;
      if (!back) throw new Error(`${disk}: not restarted: ${n.fatal}`);
      w.queue.runUntil(w.queue.now + 0.01, 1e6); // its start; no peer's message arrives this soon
      expect({ height: back.height, round: back.round }, disk).toEqual({ height: mine.height, round: mine.round });
      expect(own(back)?.value, `${disk}: its own proposal`).toBe(disk === 'lost' ? undefined : mine.value);
    }
  });

  it('stays bounded: a commit empties it once it holds more than limits.aheadLogBytesMax', async () => {
    const { World } = await import('../../fleet-sim/sim/world.js');
    const saved = limits.aheadLogBytesMax;
    (limits as { aheadLogBytesMax: number }).aheadLogBytesMax = 4_096;
    try {
      const w = new World(scenario({ name: 'ahead-bounded', durationMs: 6_000 }), 5);
      w.start();
      let largest = 0;
      let emptied = 0;
      const sizes = new Map<string, number>();
      for (let t = 100; t <= 6_000; t += 10) {
        w.queue.runUntil(t, 1e7);
        for (const n of w.nodes.slice(0, 4)) {
          const size = n.storage.read(aheadFile)?.length ?? 0;
          if (size < (sizes.get(n.id) ?? 0)) emptied++;
          sizes.set(n.id, size);
          largest = Math.max(largest, size);
        }
      }
      const heights = Math.min(...w.nodes.slice(0, 4).map((n) => n.shell?.core.height ?? 0));
      expect(heights, 'the fleet committed').toBeGreaterThan(30);
      expect(emptied, 'ahead logs were emptied at commits').toBeGreaterThan(4);
      // At most the limit plus what one height writes (round records and a proposal of a few noops).
      expect(largest).toBeLessThan(4_096 + 16_384);
    } finally {
      (limits as { aheadLogBytesMax: number }).aheadLogBytesMax = saved;
    }
  });
});
