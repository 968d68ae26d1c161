// npm run bench:sim: how fast the deterministic simulator runs whole fleets, as a ratio of simulated to
// wall time, and the memory each simulated follower costs. Runs the real node code (consensus shells,
// signatures, WALs) over the simulated network; no dashboard, no flights.
//   npx tsx fleet-sim/bench/bench-sim.ts [--only 7|1000] [--seconds S] [--followers N] [--full]
// --full also runs the big fleet with followers that hear every vote (followerSources 0), in the same
// process, and prints the speedup light followers give.

import { parseArgs } from 'node:util';
import { runScenario } from '../sim/run.js';
import type { Scenario } from '../scenario/scenario.js';

const { values } = parseArgs({ options: { only: { type: 'string' }, seconds: { type: 'string' }, followers: { type: 'string' }, full: { type: 'boolean' } } });

function fleet(name: string, validators: number, followers: number, seconds: number, rate: number, followerSources?: number): Scenario {
  return {
    name,
    seed: 1,
    durationMs: seconds * 1000,
    validators,
    followers,
    mqtt: { latencyMs: 2, jitterMs: 1, loss: 0, duplicate: 0 },
    faults: [],
    workload: [{ kind: 'rate', from: 500, to: seconds * 1000 - 500, perSec: rate, command: 'noop' }],
    expect: { safety: true },
    consensus: { proposeMs: 300, commitWaitMs: 100, gossipMs: 200, ...(followerSources !== undefined ? { followerSources } : {}) },
    livenessBudgetMs: 10_000,
  };
}

function heapMb(): number {
  globalThis.gc?.();
  return process.memoryUsage().heapUsed / 1_048_576;
}

async function measure(s: Scenario): Promise<{ ratio: number; heights: number; wallMs: number; heapMb: number; rssMb: number }> {
  const before = heapMb();
  // Memory is what the fleet keeps: the heap after a full collection at each simulated second (the
  // heap in use at an arbitrary moment is mostly garbage, and how much depends on how fast it ran).
  // Those collections are the benchmark's own work, so their time is taken off the wall time.
  let peakHeap = 0;
  let gcMs = 0;
  const t0 = performance.now();
  const r = await runScenario(s, s.seed, {
    sliceMs: 1000,
    pace: async () => {
      const g0 = performance.now();
      peakHeap = Math.max(peakHeap, heapMb());
      gcMs += performance.now() - g0;
    },
  });
  const wallMs = performance.now() - t0 - gcMs;
  if (!r.safety.ok) throw new Error(`${s.name}: safety violated: ${r.safety.violations[0]?.detail}`);
  return { ratio: s.durationMs / wallMs, heights: r.liveness.heights, wallMs, heapMb: peakHeap - before, rssMb: process.memoryUsage().rss / 1_048_576 };
}

const seconds = Number(values.seconds ?? '20');
const rows: string[] = [];
if (values.only === undefined || values.only === '7') {
  const m = await measure(fleet('bench-7', 7, 0, seconds, 50));
  rows.push(`7 validators, ${seconds} s simulated: ${m.heights} heights in ${(m.wallMs / 1000).toFixed(1)} s wall = ${m.ratio.toFixed(1)}x real time (target >= 100x)`);
}
if (values.only === undefined || values.only === '1000') {
  // Memory per follower: the same 16 validators with and without the followers.
  const followers = Number(values.followers ?? '984');
  const bigSeconds = Number(values.seconds ?? '3');
  const small = await measure(fleet('bench-16', 16, 0, bigSeconds, 20));
  const big = await measure(fleet('bench-fleet', 16, followers, bigSeconds, 20));
  const perFollowerKb = ((big.heapMb - small.heapMb) * 1024) / Math.max(1, followers);
  rows.push(`${16 + followers} devices (16 validators + ${followers} followers), ${bigSeconds} s simulated: ${big.heights} heights in ${(big.wallMs / 1000).toFixed(1)} s wall = ${big.ratio.toFixed(3)}x real time (target >= 1x)`);
  rows.push(`memory: heap kept (after a full collection) ${big.heapMb.toFixed(0)} MB with ${followers} followers vs ${small.heapMb.toFixed(0)} MB without: ${perFollowerKb.toFixed(0)} KB per simulated follower (rss ${big.rssMb.toFixed(0)} MB)`);
  if (values.full === true) {
    const full = await measure(fleet('bench-fleet-full', 16, followers, bigSeconds, 20, 0));
    rows.push(`the same fleet with followers hearing every vote (followerSources 0): ${full.heights} heights in ${(full.wallMs / 1000).toFixed(1)} s wall = ${full.ratio.toFixed(3)}x real time; light followers are ${(big.ratio / full.ratio).toFixed(1)}x faster`);
  }
}
process.stdout.write(rows.join('\n') + '\n');
