// Crash a validator at every persist and send point of its first heights, restart it from its disk
// (unsynced writes lost, or a torn tail), and prove no honest node ever signs two different messages
// at one (height, round, kind): the signer state is durable before any signature leaves.

import { describe, expect, it } from 'vitest';
import { runScenario } from '../../fleet-sim/sim/run.js';
import { explain, scenario } from '../sim/helpers.js';

const s = scenario({ name: 'crash-points', durationMs: 2_000, workload: [{ kind: 'rate', from: 100, to: 1_800, perSec: 20, command: 'noop' }] });
const points = 80;

describe('crash at every persist and send point', () => {
  for (const mode of ['intact', 'torn'] as const) {
    it(`node 0, points 1..${points}, ${mode} disk: no double sign, no fork, progress after restart`, async () => {
      const failures: string[] = [];
      for (let point = 1; point <= points; point++) {
        const r = await runScenario(s, 100 + point, { crashPoint: { node: 0, point, restartAfterMs: 50 + (point % 7) * 40, mode } });
        if (!r.nodes.crashed.includes(0)) failures.push(`point ${point}: node 0 never reached this point`);
        if (!r.safety.ok || !r.liveness.ok) failures.push(`point ${point}: ${explain(r)}`);
      }
      expect(failures).toEqual([]);
    });
  }

  it('the proposer of height 1 crashing right after its signer persisted still never double-signs', async () => {
    // v01 proposes height 1 round 0 (weighted round-robin: (1 + 0) mod 4); its 2nd fail point is the signer's.
    const r = await runScenario(s, 5, { crashPoint: { node: 1, point: 2, restartAfterMs: 10, mode: 'intact' } });
    expect(r.safety.ok, explain(r)).toBe(true);
    expect(r.nodes.crashed).toEqual([1]);
  });
});
