// A validator whose WAL lost its last commit while its signer state kept the signatures of the height
// after it: a disk that said an fsync was done when it was not, or a last record the WAL's read drops as
// damaged (test/device/state-sync.test.ts holes one on a real disk). It restarts a height behind what
// it signed, catches up, and at that height takes back its votes and its lock from the signer state
// (NodeShell.reachSignedHeight). Before, it counted none of them and its signer refused each vote its
// core asked for there (a different one was signed): with one more validator down, the fleet waited
// on it at that height for good. Deterministic worlds; each failure names its seed.

import { beforeAll, describe, expect, it } from 'vitest';
import { initCrypto } from '../../runtime/crypto/sodium.js';
import { readFrames } from '../../runtime/node/framed-log.js';
import { voteOf, type SignerGuard } from '../../runtime/node/signer-guard.js';
import { readWal } from '../../runtime/node/wal.js';
import { World } from '../../fleet-sim/sim/world.js';
import { scenario } from '../sim/helpers.js';

beforeAll(async () => {
  await initCrypto();
});

type Peek = { guard: SignerGuard; core: { height: number; round: number; waiting: boolean; lockedRound: number } };

/** Runs a 4-validator world until validator `victim` has signed `step` (a precommit: for a block) at its
 *  current height, crashes it, cuts its WAL before the last commit, restarts it and crashes the next
 *  validator for good. Returns the world, the height signed at, the round and the victim. */
function signedAheadWorld(seed: number, victim: number, step: 'prevote' | 'precommit') {
  const w = new World(scenario({ name: 'signed-ahead', durationMs: 30_000, followers: 0 }), seed);
  w.start();
  w.queue.runUntil(1_500, 1e7);
  const n = w.nodes[victim];
  if (!n) throw new Error(`seed ${seed}: no node ${victim}`);
  const peek = (): Peek => n.shell as unknown as Peek;
  const signedHere = (): boolean => {
    const l = peek().guard.lastSigned();
    if (!l || l.height !== peek().core.height || l.step !== step || peek().core.waiting) return false;
    return step === 'prevote' || (l.signed !== null && (voteOf(l.signed.body)?.blockHash ?? null) !== null);
  };
  for (let t = 1_500; t < 5_000 && !signedHere(); t += 0.05) w.queue.runUntil(t, 1e6);
  expect(signedHere(), `seed ${seed}: v0${victim} signed a ${step} within 5 s`).toBe(true);
  const height = peek().core.height;
  const round = peek().guard.lastSigned()?.round ?? -1;
  w.crash(n, 'intact');
  // Everything from the last commit on goes (the lock record a precommit for a block wrote after it too).
  const bytes = n.storage.read('consensus.wal') ?? new Uint8Array(0);
  const frames = readFrames(bytes, 'consensus.wal', 1 << 22);
  const wal = readWal(bytes, 'consensus.wal');
  if (!frames.ok || !wal.ok) throw new Error(`seed ${seed}: the WAL does not read`);
  const lastCommit = wal.value.records.findLastIndex((r) => r.t === 'commit');
  const cut = frames.value.payloads[lastCommit]?.offset;
  if (cut === undefined) throw new Error(`seed ${seed}: no commit in v0${victim}'s WAL`);
  n.storage.replace('consensus.wal', bytes.subarray(0, cut));
  n.storage.sync('consensus.wal');
  w.restart(n);
  const back = peek();
  expect(back.core.height, `seed ${seed}: restarted behind what it signed`).toBeLessThan(height);
  w.crash(w.nodes[(victim + 1) % 4] as (typeof w.nodes)[number], 'intact');
  return { w, height, round, back: peek };
}

describe('a validator whose WAL lost its last commit, its signer state not', () => {
  for (const seed of [3, 4]) {
    for (const victim of [0, 1, 2, 3]) {
      it(`seed ${seed}, v0${victim} crashed after its prevote: back at that height its vote counts again, and with another validator down the fleet commits on`, () => {
        const { w, height } = signedAheadWorld(seed, victim, 'prevote');
        w.queue.runUntil(w.queue.now + 5_000, 1e7);
        const heights = w.nodes.slice(0, 4).map((m) => m.shell?.core.height ?? -1);
        expect(Math.min(...heights.filter((h) => h >= 0)), `seed ${seed}: v0${victim} signed at ${height}; heights 5 s after its restart ${heights}`).toBeGreaterThan(height + 5);
      });

      it(`seed ${seed}, v0${victim} crashed after its precommit for a block: back at that height it is locked on it again, and the fleet commits on`, () => {
        const { w, height, round, back } = signedAheadWorld(seed, victim, 'precommit');
        // The first moment it is at that height: the lock is there already (nothing of that height ran
        // yet). Unless block sync brought that height's block with the one before (the others committed
        // it with the precommit it sent before the crash): then it has nothing to be locked on.
        for (let t = w.queue.now; t < w.queue.now + 5_000 && back().core.height < height; t += 0.05) w.queue.runUntil(t, 1e6);
        expect(back().core.height, `seed ${seed}: caught up to ${height}`).toBeGreaterThanOrEqual(height);
        if (back().core.height === height) expect(back().core.lockedRound, `seed ${seed}: locked in the round it precommitted (${round})`).toBe(round);
        w.queue.runUntil(w.queue.now + 5_000, 1e7);
        const heights = w.nodes.slice(0, 4).map((m) => m.shell?.core.height ?? -1);
        expect(Math.min(...heights.filter((h) => h >= 0)), `seed ${seed}: v0${victim} precommitted at ${height}; heights 5 s after ${heights}`).toBeGreaterThan(height + 5);
      });
    }
  }
});
