// One validator equivocating for a long time. Committed evidence used to be kept forever and exported
// into every checkpoint; past 8,192 entries (about 35 simulated minutes here) no snapshot decoded, so a
// validator that restarted from its own refused to start, and one that state-synced gave up on every
// certified snapshot. Now the chain keeps evidence of the last limits.evidenceMaxAgeHeights heights,
// one entry per validator and height (chain-state.ts), and both catch up.

import { describe, expect, it } from 'vitest';
import { evidenceKeptMax } from '../../runtime/consensus/chain-state.js';
import { limits } from '../../runtime/lib/limits.js';
import { runScenario } from '../../fleet-sim/sim/run.js';
import type { World } from '../../fleet-sim/sim/world.js';
import { explain, scenario } from './helpers.js';

describe('evidence retention (n=4, f=1)', () => {
  it('v3 equivocates for 40 min: v1, down since 5 s, state-syncs; v0 restarts from its own snapshot; both catch up', async () => {
    const restartAt = 2_400_000;
    const s = scenario({
      name: 'evidence-retention',
      durationMs: restartAt + 60_000,
      followers: 0,
      consensus: { proposeMs: 300, commitWaitMs: 100, gossipMs: 200, snapshotEveryHeights: 64 },
      workload: [{ kind: 'rate', from: 500, to: restartAt + 55_000, perSec: 1, command: 'noop' }],
      faults: [
        { at: 1_000, kind: 'byzantine', node: 3, behavior: 'equivocate' },
        { at: 5_000, kind: 'crash', node: 1 },
        { at: restartAt, kind: 'restart', node: 1, wal: 'intact' },
        { at: restartAt + 30_000, kind: 'crash', node: 0 },
        { at: restartAt + 35_000, kind: 'restart', node: 0, wal: 'intact' },
      ],
    });
    let chains: { id: string; evidence: number; oldest: number; height: number }[] = [];
    const r = await runScenario(s, s.seed, {
      onWorld: (w: World) => {
        chains = [];
        w.queue.at(s.durationMs, () => {
          for (const n of w.nodes) {
            const c = n.shell?.core.chain;
            if (c && n.byzantine === null) chains.push({ id: n.id, evidence: c.evidence.length, oldest: Math.min(...c.evidence.map((e) => e.height)), height: c.height });
          }
        });
      },
    });
    const why = `${explain(r)}\n  chains: ${JSON.stringify(chains)}`;
    // Liveness: every honest node, v0 and v1 among them, reaches the last height after the run.
    expect(r.safety.ok, why).toBe(true);
    expect(r.liveness.ok, why).toBe(true);
    expect(r.stateSync.installs, why).toBeGreaterThanOrEqual(1);
    expect(new Set(r.evidence.map((e) => e.validator)), why).toEqual(new Set([3]));
    // Every height of the run holds an offence of v3's, but each chain keeps only the window's.
    expect(r.evidence.length, why).toBeGreaterThan(2 * limits.evidenceMaxAgeHeights);
    expect(chains.length, why).toBe(3);
    for (const c of chains) {
      expect(c.evidence, why).toBeLessThanOrEqual(limits.evidenceMaxAgeHeights + 1);
      expect(c.height - c.oldest, why).toBeLessThanOrEqual(limits.evidenceMaxAgeHeights);
      expect(c.evidence, why).toBeLessThanOrEqual(evidenceKeptMax);
    }
  }, 300_000);
});
