// Bounded disk: with a snapshot every K heights the WAL holds at most K heights of records, a node
// restarted from snapshot + WAL rejoins without a double sign with its application state intact, and
// a damaged snapshot stops it loudly.

import { describe, expect, it } from 'vitest';
import { hash, initCrypto } from '../../runtime/crypto/sodium.js';
import { chunkHashesOf } from '../../runtime/consensus/snapshot.js';
import { defaultSnapshotCheckpoints } from '../../runtime/consensus/types.js';
import { bytesEqual, toHex } from '../../runtime/lib/bytes.js';
import { limits } from '../../runtime/lib/limits.js';
import { Prng } from '../../runtime/lib/prng.js';
import { runScenario } from '../../fleet-sim/sim/run.js';
import { readWal } from '../../runtime/node/wal.js';
import { World } from '../../fleet-sim/sim/world.js';
import { explain, scenario } from '../sim/helpers.js';

describe('snapshots every K heights', () => {
  it('crashes at every fifth persist/send point of runs with a snapshot every 3 heights (torn disk) stay safe and live', async () => {
    const s = scenario({ name: 'snapshots', durationMs: 2_500, workload: [{ kind: 'rate', from: 100, to: 2_000, perSec: 20, command: 'noop' }] });
    const failures: string[] = [];
    const labels = new Set<string>();
    for (let point = 5; point <= 60; point += 5) {
      let w: World | undefined;
      const r = await runScenario(s, 300 + point, { snapshotEveryHeights: 3, consensus: { checkpointEveryHeights: 3 }, crashPoint: { node: 2, point, restartAfterMs: 120, mode: 'torn' }, onWorld: (x) => (w = x) });
      for (const l of w?.nodes[2]?.crashLabels ?? []) labels.add(l);
      if (!r.nodes.crashed.includes(2)) failures.push(`point ${point}: node 2 never reached this point (seed ${r.seed})`);
      if (!r.safety.ok || !r.liveness.ok) failures.push(`point ${point}: ${explain(r)}`);
    }
    expect(failures).toEqual([]);
    // Where it crashed: persisting, sending, appending (test/consensus/crash-points.test.ts crashes at the
    // snapshot writes themselves, every point of a run with a snapshot every 2 heights).
    expect([...labels].filter((l) => l === 'send' || l === 'wal-append' || l.startsWith('persist-')).length, [...labels].join(', ')).toBeGreaterThanOrEqual(3);
  });

  it('on a long run the WAL stays bounded: never more than K heights of commits, and its peak does not grow', async () => {
    await initCrypto();
    const k = 16;
    const w = new World(scenario({ name: 'long', durationMs: 45_000, workload: [{ kind: 'rate', from: 100, to: 45_000, perSec: 20, command: 'noop' }] }), 31, { snapshotEveryHeights: k, consensus: { checkpointEveryHeights: 8 } });
    w.start();
    const peaks = [0, 0, 0];
    let commitsMax = 0;
    for (let t = 500; t <= 45_000; t += 500) {
      w.queue.runUntil(t, 1e8);
      for (const n of w.nodes) {
        const bytes = n.storage.read('consensus.wal') ?? new Uint8Array(0);
        const third = Math.min(2, Math.floor((3 * t) / 45_001));
        peaks[third] = Math.max(peaks[third] as number, bytes.length);
        const wal = readWal(bytes, 'consensus.wal');
        if (wal.ok) commitsMax = Math.max(commitsMax, wal.value.records.filter((r) => r.t === 'commit').length);
      }
    }
    const heights = w.nodes[0]?.shell?.core.chain.height ?? 0;
    expect(heights, 'dozens of snapshots were taken').toBeGreaterThan(20 * k);
    expect(commitsMax).toBeLessThanOrEqual(k);
    expect(peaks[2], `WAL peaks by third of the run: ${peaks.join(', ')} bytes`).toBeLessThanOrEqual(1.5 * (peaks[0] as number));
    expect(w.checkers.violations).toEqual([]);
  });

  it("without a setting, every 16th checkpoint, as a device's default: a simulated node's WAL does not grow with the run", async () => {
    await initCrypto();
    const every = 2; // checkpoints every 2 heights: a disk snapshot every 32
    const w = new World(scenario({ name: 'default-snapshots', durationMs: 8_000, workload: [{ kind: 'rate', from: 100, to: 8_000, perSec: 20, command: 'noop' }] }), 41, { consensus: { checkpointEveryHeights: every } });
    w.start();
    let commitsMax = 0;
    for (let t = 250; t <= 8_000; t += 250) {
      w.queue.runUntil(t, 1e8);
      for (const n of w.nodes) {
        const wal = readWal(n.storage.read('consensus.wal') ?? new Uint8Array(0), 'consensus.wal');
        if (wal.ok) commitsMax = Math.max(commitsMax, wal.value.records.filter((r) => r.t === 'commit').length);
      }
    }
    expect(w.nodes[0]?.shell?.core.chain.height ?? 0, 'several snapshots were due').toBeGreaterThan(2 * defaultSnapshotCheckpoints * every);
    expect(commitsMax).toBeLessThanOrEqual(defaultSnapshotCheckpoints * every);
    expect(w.nodes.every((n) => n.storage.read('consensus.snapshot') !== undefined)).toBe(true);
    expect(w.checkers.violations).toEqual([]);
  });

  it('a node restores from its snapshot, the WAL stays below K heights of blocks, and a bad snapshot refuses to start', async () => {
    await initCrypto();
    const w = new World(scenario({ name: 'snap', durationMs: 4_000 }), 9, { snapshotEveryHeights: 5, consensus: { checkpointEveryHeights: 5 } });
    w.start();
    w.queue.runUntil(2_000, 1e8);
    const n = w.nodes[1];
    if (!n?.shell) throw new Error('node 1 down');
    const h = n.shell.core.chain.height;
    expect(h).toBeGreaterThan(10);
    expect(n.storage.read('consensus.snapshot')?.length ?? 0).toBeGreaterThan(0);
    const wal = readWal(n.storage.read('consensus.wal') ?? new Uint8Array(0), 'consensus.wal');
    expect(wal.ok && wal.value.records.filter((r) => r.t === 'commit').length).toBeLessThanOrEqual(5);
    const app = n.app?.exportState();
    w.crash(n, 'intact');
    w.restart(n);
    expect(n.shell?.core.chain.height).toBe(h);
    // Snapshot + WAL tail rebuild the application state too, byte for byte.
    expect(n.app?.exportState()).toEqual(app);
    expect(n.app?.commands ?? 0).toBeGreaterThan(0);
    w.queue.runUntil(4_000, 1e8);
    expect(n.shell?.core.chain.height ?? 0).toBeGreaterThan(h);
    expect(w.checkers.violations).toEqual([]);
    w.crash(n, 'intact');
    n.storage.corrupt('consensus.snapshot', 10);
    w.restart(n);
    expect(n.shell).toBe(null);
    expect(n.fatal).toMatch(/consensus\.snapshot fails its checksum/);
  });
});

describe('chunk hashes', () => {
  it('reuse the hash of a chunk equal to the one at its index in the previous snapshot, and give what hashing every chunk gives', async () => {
    await initCrypto();
    const size = limits.snapshotChunkBytes;
    let calls = 0;
    const counted = (x: Uint8Array): Uint8Array => {
      calls++;
      return hash(x);
    };
    const prng = new Prng(7);
    const bytesOf = (n: number): Uint8Array => prng.bytes(n);
    for (let run = 0; run < 40; run++) {
      const old = bytesOf(prng.int(6 * size) + 1);
      // The next state: the same bytes with a few changed, and a different length half of the time.
      const next = new Uint8Array(prng.int(2) === 0 ? old.length : prng.int(6 * size) + 1);
      next.set(old.subarray(0, next.length));
      if (next.length > old.length) next.set(bytesOf(next.length - old.length), old.length);
      for (let k = prng.int(3); k > 0; k--) {
        const at = prng.int(next.length);
        next[at] = (next[at] as number) ^ 0x5a;
      }
      const previous = { bytes: old, chunkHashes: chunkHashesOf(old, hash) };
      calls = 0;
      const reused = chunkHashesOf(next, counted, previous);
      expect(reused.map(toHex), `run ${run}`).toEqual(chunkHashesOf(next, hash).map(toHex));
      // Only the chunks that differ (or were not there) are hashed.
      let differing = 0;
      for (let i = 0; i * size < next.length || i === 0; i++) if (!bytesEqual(next.subarray(i * size, (i + 1) * size), old.subarray(i * size, (i + 1) * size))) differing++;
      expect(calls, `run ${run}`).toBe(differing);
    }
  });
});
