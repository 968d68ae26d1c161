// npm run bench:sim: how fast the deterministic simulator runs whole fleets, as a ratio of simulated to
// wall time, and the memory each simulated follower costs. Runs the real node code (consensus shells,
// signatures, WALs) over the simulated network; no dashboard, no flights.
//   npx tsx fleet-sim/bench/bench-sim.ts [--only 7|1000] [--seconds S] [--followers N] [--rate R] [--full]
// --rate: operator commands per second for the 7-validator fleet (default 50).
// --full also runs the big fleet with followers that hear every vote (followerSources 0), in the same
// process, and prints the speedup light followers give.

import { parseArgs } from 'node:util';
import { createSigner, createVerifier, initCrypto, keyPairFromSeed } from '../../runtime/crypto/sodium.js';
import type { World } from '../sim/world.js';
import { runScenario } from '../sim/run.js';
import type { Scenario } from '../scenario/scenario.js';

const { values } = parseArgs({ options: { only: { type: 'string' }, seconds: { type: 'string' }, followers: { type: 'string' }, full: { type: 'boolean' }, rate: { type: 'string' } } });

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

/** This process's Ed25519 rates now (signatures per second), over about 100 ms each. */
async function cryptoRates(): Promise<{ verifyPerSec: number; signPerSec: number }> {
  await initCrypto();
  const signer = createSigner(keyPairFromSeed(new Uint8Array(32).fill(7)));
  const verifier = createVerifier();
  const msg = new Uint8Array(200).fill(1);
  const rate = (op: (i: number) => void): number => {
    let n = 0;
    const t0 = performance.now();
    while (performance.now() - t0 < 100) for (let k = 0; k < 50; k++) op(n++);
    return n / ((performance.now() - t0) / 1000);
  };
  const sig = signer.sign(msg);
  const signPerSec = rate((i) => signer.sign(msg.fill(i & 255, 0, 1)));
  msg[0] = 1;
  const verifyPerSec = rate(() => verifier.verify(sig, msg, signer.publicKey));
  return { verifyPerSec, signPerSec };
}

interface Measured { ratio: number; heights: number; wallMs: number; heapMb: number; rssMb: number; verified: number; signed: number }

/** The ceiling the signatures alone put on the ratio: the run's distinct checks and signatures at the
 *  rates this process has now, as if nothing else took any time. */
function cryptoLine(s: Scenario, m: Measured, r: { verifyPerSec: number; signPerSec: number }): string {
  const ms = (m.verified / r.verifyPerSec + m.signed / r.signPerSec) * 1000;
  return `  signatures: ${m.verified} checked + ${m.signed} made = ${ms.toFixed(0)} ms at ${Math.round(r.verifyPerSec)} checks/s and ${Math.round(r.signPerSec)} signatures/s (measured now): ${((100 * ms) / m.wallMs).toFixed(0)}% of the wall time; with nothing else the ratio could be at most ${(s.durationMs / ms).toFixed(0)}x`;
}

async function measure(s: Scenario): Promise<Measured> {
  const before = heapMb();
  // Memory is what the fleet keeps: the heap after a full collection at each simulated second (the
  // heap in use at an arbitrary moment is mostly garbage, and how much depends on how fast it ran).
  // Those collections are the benchmark's own work, so their time is taken off the wall time.
  let peakHeap = 0;
  let gcMs = 0;
  let world: World | null = null;
  const t0 = performance.now();
  const r = await runScenario(s, s.seed, {
    sliceMs: 1000,
    onWorld: (w) => (world = w),
    pace: async () => {
      const g0 = performance.now();
      peakHeap = Math.max(peakHeap, heapMb());
      gcMs += performance.now() - g0;
    },
  });
  const wallMs = performance.now() - t0 - gcMs;
  if (!r.safety.ok) throw new Error(`${s.name}: safety violated: ${r.safety.violations[0]?.detail}`);
  const c = (world as World | null)?.crypto ?? { verified: 0, signed: 0 };
  return { ratio: s.durationMs / wallMs, heights: r.liveness.heights, wallMs, heapMb: peakHeap - before, rssMb: process.memoryUsage().rss / 1_048_576, verified: c.verified, signed: c.signed };
}

const seconds = Number(values.seconds ?? '20');
const rows: string[] = [];
if (values.only === undefined || values.only === '7') {
  const s = fleet('bench-7', 7, 0, seconds, Number(values.rate ?? '50'));
  const m = await measure(s);
  rows.push(`7 validators, ${seconds} s simulated: ${m.heights} heights in ${(m.wallMs / 1000).toFixed(1)} s wall = ${m.ratio.toFixed(1)}x real time (target >= 100x)`);
  rows.push(cryptoLine(s, m, await cryptoRates()));
}
if (values.only === undefined || values.only === '1000') {
  // Memory per follower: the same 16 validators with and without the followers.
  const followers = Number(values.followers ?? '984');
  const bigSeconds = Number(values.seconds ?? '3');
  const small = await measure(fleet('bench-16', 16, 0, bigSeconds, 20));
  const big = await measure(fleet('bench-fleet', 16, followers, bigSeconds, 20));
  const perFollowerKb = ((big.heapMb - small.heapMb) * 1024) / Math.max(1, followers);
  rows.push(`${16 + followers} devices (16 validators + ${followers} followers), ${bigSeconds} s simulated: ${big.heights} heights in ${(big.wallMs / 1000).toFixed(1)} s wall = ${big.ratio.toFixed(3)}x real time (target >= 1x)`);
  rows.push(cryptoLine(fleet('bench-fleet', 16, followers, bigSeconds, 20), big, await cryptoRates()));
  rows.push(`memory: heap kept (after a full collection) ${big.heapMb.toFixed(0)} MB with ${followers} followers vs ${small.heapMb.toFixed(0)} MB without: ${perFollowerKb.toFixed(0)} KB per simulated follower (rss ${big.rssMb.toFixed(0)} MB)`);
  if (values.full === true) {
    const full = await measure(fleet('bench-fleet-full', 16, followers, bigSeconds, 20, 0));
    rows.push(`the same fleet with followers hearing every vote (followerSources 0): ${full.heights} heights in ${(full.wallMs / 1000).toFixed(1)} s wall = ${full.ratio.toFixed(3)}x real time; light followers are ${(big.ratio / full.ratio).toFixed(1)}x faster`);
  }
}
process.stdout.write(rows.join('\n') + '\n');
