// Crash a validator at every persist and send point of its first heights, restart it from its disk
// (unsynced writes lost, or a torn tail), and prove no honest node ever signs two different messages
// at one (height, round, kind): the signer state is durable before any signature leaves. The same
// around disk snapshots (written, then the WAL emptied) and around a state-sync restore.

import { describe, expect, it } from 'vitest';
import { runScenario } from '../../fleet-sim/sim/run.js';
import type { World } from '../../fleet-sim/sim/world.js';
import { explain, scenario } from '../sim/helpers.js';

const s = scenario({ name: 'crash-points', durationMs: 2_000, workload: [{ kind: 'rate', from: 100, to: 1_800, perSec: 20, command: 'noop' }] });
const points = 80;

describe('crash at every persist and send point', () => {
  // intact, torn and holes: a power loss (holes: the sectors of the write in flight kept or lost each on
  // its own, its head included); process: kill -9 (what was written stays, the ahead log included).
  for (const mode of ['intact', 'torn', 'holes', 'process'] as const) {
    it(`node 0, points 1..${points}, ${mode} disk: no double sign, no fork, progress after restart`, async () => {
      const failures: string[] = [];
      const dropped = new Set<string>();
      const log = { info: () => {}, error: () => {}, warn: (m: string) => void (/from a damaged record at offset/.test(m) && dropped.add(m.replace(/^v\d+: /, '').split(':')[0] as string)) };
      for (let point = 1; point <= points; point++) {
        const r = await runScenario(s, 100 + point, { crashPoint: { node: 0, point, restartAfterMs: 50 + (point % 7) * 40, mode }, log });
        if (!r.nodes.crashed.includes(0)) failures.push(`point ${point}: node 0 never reached this point`);
        if (!r.safety.ok || !r.liveness.ok) failures.push(`point ${point}: ${explain(r)}`);
      }
      expect(failures).toEqual([]);
      // Holes: some crash cut a WAL write with its head lost and a later sector kept; the node dropped that
      // record instead of refusing to start. The signer state's records fill whole sectors: never holed.
      expect([...dropped].sort()).toEqual(mode === 'holes' ? ['consensus.wal'] : []);
    });
  }

  it('with one validator down, node 0 crashed between persisting a vote and sending it (points 1..12): it sends that vote after restart, and heights go on', async () => {
    // Every vote of node 0 is needed for a quorum. Before the signer state kept the vote itself, a crash
    // after its durable write and before the WAL's `own` record or the send lost the vote for good: the
    // restored core had passed that step, and nothing committed until the liveness phase restarted node 3.
    // The same after a crash between the signer log's append and its fsync (signer-append): the vote never
    // reached the signer state, so the shell casts it at boot (NodeShell.castLostVote).
    const down = scenario({ name: 'lost-vote', durationMs: 3_000, faults: [{ at: 300, kind: 'crash', node: 3 }], workload: [{ kind: 'rate', from: 100, to: 2_800, perSec: 20, command: 'noop' }] });
    const failures: string[] = [];
    const labels = new Set<string>();
    // A power loss (the ahead log's records lost: the signer state is below the step) and a process
    // crash (they stay: the round record of the step is read back from the ahead log).
    for (const mode of ['intact', 'process'] as const) {
      for (let point = 1; point <= 12; point++) {
        let w: World | undefined;
        const r = await runScenario(down, 902, { crashPoint: { node: 0, point, armAtMs: 500, restartAfterMs: 130, mode }, onWorld: (x) => (w = x) });
        const label = w?.nodes[0]?.crashLabels.join(',') ?? '?';
        labels.add(label);
        if (!r.safety.ok || r.liveness.maxStallMs > 1_500 || r.liveness.heights < 15) failures.push(`${mode}, point ${point} (${label}): ${r.liveness.heights} heights, longest stall ${r.liveness.maxStallMs} ms; ${explain(r)}`);
      }
    }
    expect(failures).toEqual([]);
    expect(labels.has('after-signer-persist')).toBe(true);
    expect(labels.has('signer-append')).toBe(true);
  });

  it('with a checkpoint and a disk snapshot every 2 heights, node 0 at points 1..60 (torn disk): safe and live', async () => {
    const failures: string[] = [];
    const labels = new Set<string>();
    for (let point = 1; point <= 60; point++) {
      let w: World | undefined;
      const r = await runScenario(s, 400 + point, { snapshotEveryHeights: 2, consensus: { checkpointEveryHeights: 2 }, crashPoint: { node: 0, point, restartAfterMs: 50 + (point % 5) * 60, mode: 'torn' }, onWorld: (x) => (w = x) });
      for (const l of w?.nodes[0]?.crashLabels ?? []) labels.add(l);
      if (!r.safety.ok || !r.liveness.ok) failures.push(`point ${point}: ${explain(r)}`);
    }
    expect(failures).toEqual([]);
    expect([...labels].filter((l) => l.startsWith('snapshot')).sort()).toEqual(['snapshot', 'snapshot-wal']);
  });

  it('a validator restoring by state sync, crashed at each of its first 40 points after restart: safe, live, restored', async () => {
    const far = scenario({
      name: 'crash-restore',
      durationMs: 6_000,
      followers: 1,
      workload: [{ kind: 'rate', from: 100, to: 5_500, perSec: 10, command: 'noop' }],
      faults: [
        { at: 500, kind: 'crash', node: 2 },
        { at: 3_500, kind: 'restart', node: 2, wal: 'intact' },
      ],
    });
    const failures: string[] = [];
    const labels = new Set<string>();
    for (let point = 1; point <= 40; point++) {
      let w: World | undefined;
      const mode = point % 2 === 0 ? 'torn' : 'intact';
      const r = await runScenario(far, 500 + point, { consensus: { checkpointEveryHeights: 4, syncWindowHeights: 12 }, snapshotEveryHeights: 8, crashPoint: { node: 2, point, restartAfterMs: 80 + (point % 4) * 70, mode, armAtMs: 3_500 }, onWorld: (x) => (w = x) });
      for (const l of w?.nodes[2]?.crashLabels ?? []) labels.add(l);
      if (!r.safety.ok || !r.liveness.ok) failures.push(`point ${point}: ${explain(r)}`);
      const n2 = w?.nodes[2];
      // A crash after the install restarts from the snapshot it wrote: count installs of every incarnation.
      if ((n2?.earlierSync.installs ?? 0) + (n2?.shell?.core.sync.restored ?? 0) < 1) failures.push(`point ${point}: node 2 caught up without state sync (${explain(r)})`);
    }
    expect(failures).toEqual([]);
    expect([...labels].filter((l) => l.startsWith('install')).sort()).toEqual(['install-snapshot', 'install-wal']);
  });

  it('the proposer of height 1 crashing right after its signer persisted still never double-signs', async () => {
    // v01 proposes height 1 round 0 (weighted round-robin: (1 + 0) mod 4); its 2nd fail point is the signer's.
    const r = await runScenario(s, 5, { crashPoint: { node: 1, point: 2, restartAfterMs: 10, mode: 'intact' } });
    expect(r.safety.ok, explain(r)).toBe(true);
    expect(r.nodes.crashed).toEqual([1]);
  });
});
