// The simulated broker's link model (fleet-sim/sim/network.ts) on its own: the scenario tests that
// inject loss, duplication, outages and partitions only check that the fleet survives them, which a
// model that quietly did nothing would pass too. Here each fault is counted at the packets. Seeded;
// each failure names its seed.

import { describe, expect, it } from 'vitest';
import { EventQueue } from '../../fleet-sim/sim/event-queue.js';
import { operatorIndex, SimNetwork } from '../../fleet-sim/sim/network.js';
import { Prng } from '../../runtime/lib/prng.js';
import type { LinkModel } from '../../fleet-sim/scenario/scenario.js';

const nodes = 5;
const payload = new Uint8Array([1, 2, 3]);

/** A network of five nodes; `got[to]` lists the senders of what reached `to`, `at[to]` when. */
function net(model: Partial<LinkModel>, seed = 1) {
  const queue = new EventQueue();
  const got: number[][] = Array.from({ length: nodes }, () => []);
  const at: number[][] = Array.from({ length: nodes }, () => []);
  const n = new SimNetwork(queue, new Prng(seed), { latencyMs: 2, jitterMs: 1, loss: 0, duplicate: 0, ...model }, () => nodes, (to, _bytes, from) => {
    got[to]?.push(from);
    at[to]?.push(queue.now);
  });
  const run = (): void => void queue.runUntil(queue.now + 1_000, 1e7);
  return { n, queue, got, at, run };
}

describe('the simulated broker', () => {
  it('delivers a broadcast once to every other node, after the latency and within its jitter', () => {
    const w = net({});
    w.n.send(0, null, payload);
    w.run();
    expect(w.got.map((g) => g.length)).toEqual([0, 1, 1, 1, 1]);
    for (const t of w.at.flat()) {
      expect(t).toBeGreaterThanOrEqual(2);
      expect(t).toBeLessThan(3);
    }
    expect([w.n.delivered, w.n.dropped, w.n.duplicated, w.n.bytes]).toEqual([4, 0, 0, 3]);
  });

  for (const seed of [1, 2, 3]) {
    it(`seed ${seed}: loss 0.2 drops about a fifth of the deliveries, duplication 0.05 doubles about a twentieth`, () => {
      const w = net({ loss: 0.2, duplicate: 0.05 }, seed);
      for (let i = 0; i < 2_000; i++) w.n.send(i % nodes, null, payload);
      w.run();
      const tries = 2_000 * (nodes - 1);
      const arrived = w.got.flat().length;
      expect(w.n.dropped + w.n.delivered - w.n.duplicated, `seed ${seed}`).toBe(tries);
      expect(arrived, `seed ${seed}: every delivery counted arrives`).toBe(w.n.delivered);
      expect(w.n.dropped / tries, `seed ${seed}: dropped ${w.n.dropped} of ${tries}`).toBeGreaterThan(0.18);
      expect(w.n.dropped / tries, `seed ${seed}: dropped ${w.n.dropped} of ${tries}`).toBeLessThan(0.22);
      const kept = tries - w.n.dropped;
      expect(w.n.duplicated / kept, `seed ${seed}: duplicated ${w.n.duplicated} of ${kept}`).toBeGreaterThan(0.04);
      expect(w.n.duplicated / kept, `seed ${seed}: duplicated ${w.n.duplicated} of ${kept}`).toBeLessThan(0.06);
    });
  }

  it('a loss override (a lossy stretch) replaces the model’s loss until heal', () => {
    const w = net({ loss: 0 });
    w.n.lossOverride = 1;
    for (let i = 0; i < 50; i++) w.n.send(0, null, payload);
    w.run();
    expect([w.got.flat().length, w.n.dropped]).toEqual([0, 200]);
    w.n.heal();
    w.n.send(0, null, payload);
    w.run();
    expect(w.got.flat().length).toBe(4);
  });

  it('while the broker is down nothing reaches anyone, the operator’s console included; after heal all of it does', () => {
    const w = net({});
    w.n.brokerDown = true;
    w.n.send(0, null, payload);
    w.n.send(operatorIndex, 3, payload);
    w.run();
    expect(w.got.flat()).toEqual([]);
    expect(w.n.dropped).toBe(5);
    w.n.heal();
    w.n.send(operatorIndex, 3, payload);
    w.run();
    expect(w.got[3]).toEqual([operatorIndex]);
  });

  it('a partition cuts across its groups only, never the operator; a one-way cut is one-way', () => {
    const w = net({});
    w.n.setPartition([[0, 1], [2, 3, 4]]);
    w.n.send(0, null, payload);
    w.n.send(3, null, payload);
    w.n.send(operatorIndex, 2, payload);
    w.run();
    expect(w.got.map((g) => [...g].sort((a, b) => a - b))).toEqual([[], [0], [operatorIndex, 3], [], [3]]);
    w.n.heal();
    w.n.addOneWay([0], [1]);
    const before = w.got.map((g) => g.length);
    w.n.send(0, 1, payload);
    w.n.send(1, 0, payload);
    w.run();
    expect(w.got.map((g, i) => g.length - (before[i] ?? 0))).toEqual([1, 0, 0, 0, 0]);
  });
});
