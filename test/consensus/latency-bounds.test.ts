// The consensus issue's latency bounds, in the deterministic simulator (virtual time, so exact and not
// a timed test): with a fixed one-way delay d and no faults a height commits within 3d of its start; when
// the proposer of the next height has crashed, it commits within timeoutPropose + 3d of its start.

import { describe, expect, it } from 'vitest';
import { proposerOf } from '../../runtime/consensus/proposer.js';
import { initCrypto } from '../../runtime/crypto/sodium.js';
import type { Scenario } from '../../fleet-sim/scenario/scenario.js';
import { World } from '../../fleet-sim/sim/world.js';

const d = 20;
const commitWaitMs = 100;
const proposeMs = 300;

function world(n: number, seed: number): World {
  const s: Scenario = {
    name: `bounds-n${n}`,
    seed,
    durationMs: 6_000,
    validators: n,
    followers: 1,
    mqtt: { latencyMs: d, jitterMs: 0, loss: 0, duplicate: 0 },
    faults: [],
    workload: [{ kind: 'rate', from: 0, to: 6_000, perSec: 10, command: 'noop' }],
    expect: { safety: true },
    consensus: { proposeMs, commitWaitMs, gossipMs: 1_000 },
    livenessBudgetMs: 10_000,
  };
  return new World(s, seed, {});
}

function gaps(w: World, from: number, to: number): number[] {
  const out: number[] = [];
  for (let h = from + 1; h <= to; h++) {
    const a = w.checkers.decided.get(h - 1)?.atMs;
    const b = w.checkers.decided.get(h)?.atMs;
    if (a !== undefined && b !== undefined) out.push(b - a);
  }
  return out;
}

describe('latency bounds with a fixed one-way delay d = 20 ms', () => {
  for (const n of [4, 7]) {
    for (const seed of [1, 2]) {
      it(`n=${n} seed ${seed}: every height commits within commitWait + 3d, and within commitWait + timeoutPropose + 3d after its proposer crashed`, async () => {
        await initCrypto();
        const w = world(n, seed);
        w.start();
        w.queue.runUntil(3_000, 1e8);
        const node0 = w.nodes[0]?.shell?.core;
        expect(node0, `seed ${seed}: node 0 is up`).toBeDefined();
        if (!node0) return;
        const before = node0.chain.height;
        const steady = gaps(w, 2, before);
        expect(steady.length, `seed ${seed}: heights before the crash`).toBeGreaterThan(5);
        expect(Math.max(...steady), `seed ${seed}: steady gaps ${steady.join(',')}`).toBeLessThanOrEqual(commitWaitMs + 3 * d);

        const target = before + 2;
        const pid = proposerOf(node0.chain.manifestAt(target).validators, target, 0);
        const victim = w.nodes.find((x) => x.id === pid);
        expect(victim, `seed ${seed}: proposer ${pid} of height ${target}`).toBeDefined();
        if (!victim) return;
        w.crash(victim, 'intact');
        w.queue.runUntil(6_000, 1e8);
        const [crashGap] = gaps(w, target - 1, target);
        expect(crashGap, `seed ${seed}: height ${target} committed`).toBeDefined();
        // Exactly the bound: the simulator charges no processing time.
        expect(crashGap, `seed ${seed}: height ${target} after its proposer ${pid} crashed`).toBeLessThanOrEqual(commitWaitMs + proposeMs + 3 * d);
        expect(crashGap, `seed ${seed}: the round-0 propose timeout did run out`).toBeGreaterThanOrEqual(commitWaitMs + proposeMs);
        expect(w.checkers.violations, `seed ${seed}`).toEqual([]);
      });
    }
  }
});
