// `crash: proposer` crashes the proposer in office, unless it is Byzantine: crashing the liar would test
// nothing (the default scenario has one equivocator among 7 validators and a proposer crash, and in a
// real-time run the liar held office at the crash one time in seven). Then the first honest proposer
// after it goes down, within proposerCrashWaitMs.

import { describe, expect, it } from 'vitest';
import { initCrypto } from '../../runtime/crypto/sodium.js';
import type { Scenario } from '../../fleet-sim/scenario/scenario.js';
import { World } from '../../fleet-sim/sim/world.js';
import { proposerCrashWaitMs } from '../../fleet-sim/sim/world-faults.js';

const liar = 1;

function scenario(crashAt: number | null): Scenario {
  return {
    name: 'proposer-crash',
    seed: 7,
    durationMs: 6_000,
    validators: 4,
    followers: 0,
    mqtt: { latencyMs: 2, jitterMs: 1, loss: 0, duplicate: 0 },
    faults: [{ kind: 'byzantine', at: 500, node: liar, behavior: 'equivocate' }, ...(crashAt === null ? [] : [{ kind: 'crash' as const, at: crashAt, node: 'proposer' as const }])],
    workload: [{ kind: 'rate', from: 500, to: 5_500, perSec: 5, command: 'noop' }],
    expect: { safety: true },
    consensus: { proposeMs: 300, commitWaitMs: 100, gossipMs: 200 },
    livenessBudgetMs: 10_000,
  };
}

describe('crash: proposer', () => {
  it('skips a Byzantine proposer in office and crashes the next honest one', async () => {
    await initCrypto();
    // A moment the liar is in office, found in a run without the crash (the same seed runs the same).
    const probe = new World(scenario(null), 7, {});
    probe.start();
    let at: number | null = null;
    for (let t = 2_000; t < 4_000 && at === null; t += 5) {
      probe.queue.runUntil(t, 1e8);
      if (probe.currentProposer() === liar) at = t + 5; // in office for a while: a height takes over 100 ms
    }
    expect(at, 'the liar proposes some height between 2 s and 4 s').not.toBeNull();

    const w = new World(scenario(at), 7, {});
    w.start();
    w.queue.runUntil((at as number) - 1, 1e8);
    expect(w.currentProposer(), `seed 7: the liar is in office at ${at} ms`).toBe(liar);
    w.queue.runUntil((at as number) + proposerCrashWaitMs, 1e8);
    const crashed = [...w.crashedIds];
    expect(crashed, `seed 7, crash at ${at} ms`).toHaveLength(1);
    expect(crashed[0], `seed 7, crash at ${at} ms: an honest validator went down`).not.toBe(liar);
    expect(crashed[0]).toBeLessThan(4);
    w.queue.runUntil(6_000, 1e8);
    expect(w.checkers.violations).toEqual([]);
  });
});
