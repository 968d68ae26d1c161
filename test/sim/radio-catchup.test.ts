// A radio that live consensus fills, with the broker down: a validator that was away catches up by
// block sync over the radio, and heartbeats still go out. Before, the radio's queue drained its lanes in
// strict order, so block-sync answers and heartbeats waited behind a lane that never emptied: the
// restarted validator stayed behind for good and its peers were declared dead. Deterministic world.

import { describe, expect, it } from 'vitest';
import { runScenario, type Report } from '../../fleet-sim/sim/run.js';
import type { World } from '../../fleet-sim/sim/world.js';
import { scenario } from './helpers.js';

const why = (r: Report): string => `seed ${r.seed} of ${r.scenario}: failed=${r.expect.failed.join('; ')} ${r.safety.violations[0]?.detail ?? ''}\n  replay: ${r.replay}`;

describe('a full radio mesh carrying consensus alone (broker down throughout)', () => {
  it('a validator back after 5 s away catches up over the radio while the others keep committing', async () => {
    const s = scenario({
      name: 'radio-catchup',
      seed: 3,
      durationMs: 30_000,
      followers: 0,
      radio: { baud: 57_600, mtuBytes: 252, loss: 0, rangeM: 1_000, hopLimit: 3 },
      linkPolicy: { consensus: 'first' },
      faults: [
        { at: 0, kind: 'broker-down', until: 30_000 },
        { at: 3_000, kind: 'crash', node: 3 },
        { at: 8_000, kind: 'restart', node: 3, wal: 'intact' },
      ],
      workload: [{ kind: 'rate', from: 500, to: 29_000, perSec: 5, command: 'noop' }],
      livenessBudgetMs: 60_000,
    });
    let world: World | null = null;
    const r = await runScenario(s, s.seed, { onWorld: (w) => (world = w) });
    const w = world as unknown as World;
    expect(r.safety.ok, why(r)).toBe(true);
    const heights = w.nodes.map((n) => n.shell?.core.chain.height ?? 0);
    const top = Math.max(...heights);
    expect(top, `${why(r)} heights ${heights.join(' ')}`).toBeGreaterThan(30);
    // Before: v03 stayed at the height it crashed at (0 block-sync answers over the radio).
    expect(heights[3], `${why(r)} heights ${heights.join(' ')}`).toBeGreaterThanOrEqual(top - 3);
  }, 60_000);
});
