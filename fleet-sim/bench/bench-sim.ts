// npm run bench:sim: how fast the deterministic simulator runs whole fleets, as a ratio of simulated to
// wall time, and the memory each simulated follower costs. Runs the real node code (consensus shells,
// signatures, WALs) over the simulated network; no dashboard, no flights. The 1000-device fleet twice:
// the shipped fleet-1000 scenario as users run it (a commit about every 190 ms, a proposer crash), and
// the benchmark's own fleet of the same devices committing twice as often (commit wait 100 ms).
//   npx tsx fleet-sim/bench/bench-sim.ts [--only 7|1000] [--seconds S] [--followers N] [--rate R] [--threads T] [--full]
// --seconds: simulated time of the 7 validators (default 20 s) and of the benchmark's 1000-device fleet
// (default 10 s); with --seconds or --followers the shipped scenario is not run.
// --rate: operator commands per second for the 7-validator fleet (default 50).
// --threads: the big fleet also runs split over T threads (fleet-sim/sim/shards.ts; default 2, 1: not).
// --full also runs the big fleet with followers that hear every vote (followerSources 0), in the same
// process, and prints the speedup light followers give.

import { parseArgs } from 'node:util';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { createSigner, createVerifier, initCrypto, keyPairFromSeed } from '../../runtime/crypto/sodium.js';
import type { World } from '../sim/world.js';
import { runScenario } from '../sim/run.js';
import { parseScenario } from '../scenario/parse.js';
import type { Scenario } from '../scenario/scenario.js';

const { values } = parseArgs({ options: { only: { type: 'string' }, seconds: { type: 'string' }, followers: { type: 'string' }, full: { type: 'boolean' }, rate: { type: 'string' }, threads: { type: 'string' }, child: { type: 'string' } } });

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

interface Measured { ratio: number; heights: number; wallMs: number; heapMb: number; rssMb: number; verified: number; signed: number; cpuMs: number; startMs: number; simMs: number; scenarioRatio: number; expect: string }

/** The ceiling the signatures alone put on the ratio: the run's distinct checks and signatures at the
 *  rates this process has now, as if nothing else took any time. */
function cryptoLine(m: Measured, r: { verifyPerSec: number; signPerSec: number }): string {
  const ms = (m.verified / r.verifyPerSec + m.signed / r.signPerSec) * 1000;
  return `  signatures: ${m.verified} checked + ${m.signed} made = ${ms.toFixed(0)} ms at ${Math.round(r.verifyPerSec)} checks/s and ${Math.round(r.signPerSec)} signatures/s (measured now): ${((100 * ms) / m.wallMs).toFixed(0)}% of the wall time; with nothing else the ratio could be at most ${(m.simMs / ms).toFixed(0)}x`;
}

/**
 * One run of a scenario. Speed and memory are measured in separate runs: memory is what the fleet
 * keeps, the heap after a full collection at each simulated second (the heap in use at an arbitrary
 * moment is mostly garbage, and how much depends on how fast it ran). Those collections are the
 * benchmark's own work; their time is taken off the wall time, but not what they do to the run after
 * them (V8 shrinks the young generation and promotes what survives): 7 validators ran 29x with them
 * and 33-35x without. So a speed run (`heap: false`) forces no collection and reports no heap.
 */
async function measure(s: Scenario, threads = 1, heap = false): Promise<Measured> {
  const before = heap ? heapMb() : 0;
  let peakHeap = 0;
  let gcMs = 0;
  let world: World | null = null;
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const r = await runScenario(s, s.seed, {
    threads,
    sliceMs: 1000,
    onWorld: (w) => (world = w),
    ...(heap
      ? {
          pace: async () => {
            const g0 = performance.now();
            peakHeap = Math.max(peakHeap, heapMb());
            gcMs += performance.now() - g0;
          },
        }
      : {}),
  });
  const wallMs = performance.now() - t0 - gcMs;
  const cpu = process.cpuUsage(cpu0);
  if (!r.safety.ok) throw new Error(`${s.name}: safety violated: ${r.safety.violations[0]?.detail}`);
  const w = world as World | null;
  const c = w?.crypto ?? { verified: 0, signed: 0 };
  const workers = w?.workerTotals() ?? [];
  const verified = c.verified + workers.reduce((a, t) => a + t.verified, 0);
  const signed = c.signed + workers.reduce((a, t) => a + t.signed, 0);
  // The simulated time is the scenario's plus the liveness phase after it (at least 250 ms), which the
  // wall time covers too; scenarioRatio is the scenario's duration alone over it (the older measure).
  return { ratio: r.simulatedMs / wallMs, heights: r.liveness.heights, wallMs, heapMb: peakHeap - before, rssMb: process.memoryUsage().rss / 1_048_576, verified, signed, cpuMs: (cpu.user + cpu.system) / 1000, startMs: w?.workerStartMs ?? 0, simMs: r.simulatedMs, scenarioRatio: s.durationMs / wallMs, expect: r.expect.met ? 'met' : `missed (${r.expect.failed.join('; ')})` };
}

/** The shipped 1000-device scenario (fleet-sim/scenarios/fleet-1000.yaml), as `fleet-sim run` reads it. */
function shippedFleet(): Scenario {
  const file = fileURLToPath(new URL('../scenarios/fleet-1000.yaml', import.meta.url));
  return parseScenario(readFileSync(file, 'utf8'));
}

/** What a child process measures: the shipped scenario, or the benchmark's own fleet. */
type BigFleet = { readonly kind: 'shipped' } | { readonly kind: 'bench'; readonly followers: number; readonly seconds: number };

/**
 * A big fleet's speed, measured in a fresh process each time: a worker thread starts with cold
 * compiled code while this process's main thread would be warm from the runs before, so only
 * fresh-against-fresh compares one thread with several fairly.
 */
function measureFresh(f: BigFleet, threads: number): Measured {
  const spec = f.kind === 'shipped' ? `shipped,${threads}` : `${f.followers},${f.seconds},${threads}`;
  const out = execFileSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), '--child', spec], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  return JSON.parse(out) as Measured;
}

if (values.child !== undefined) {
  // `shipped,<threads>` or `<followers>,<seconds>,<threads>` (measureFresh writes them).
  const parts = values.child.split(',');
  const n = parts.map(Number);
  const valid = parts[0] === 'shipped' ? parts.length === 2 && Number.isInteger(n[1]) : parts.length === 3 && n.every((x) => Number.isInteger(x) && x > 0);
  if (!valid) {
    process.stderr.write(`bench-sim: --child takes shipped,<threads> or <followers>,<seconds>,<threads>, got "${values.child}"\n`);
    process.exit(2);
  }
  const m = parts[0] === 'shipped' ? await measure(shippedFleet(), n[1] as number) : await measure(fleet('bench-fleet', 16, n[0] as number, n[1] as number, 20), n[2] as number);
  process.stdout.write(JSON.stringify(m) + '\n');
  process.exit(0);
}

const seconds = Number(values.seconds ?? '20');
const rows: string[] = [];
if (values.only === undefined || values.only === '7') {
  const s = fleet('bench-7', 7, 0, seconds, Number(values.rate ?? '50'));
  const m = await measure(s);
  rows.push(`7 validators, ${seconds} s simulated (${(m.simMs / 1000).toFixed(2)} s with the liveness phase): ${m.heights} heights in ${(m.wallMs / 1000).toFixed(1)} s wall = ${m.ratio.toFixed(1)}x real time (${m.scenarioRatio.toFixed(1)}x counting the scenario's ${seconds} s alone; target >= 100x)`);
  // On a shared machine the wall time moves with the others' load; the process's CPU time much less.
  rows.push(`  process CPU ${(m.cpuMs / 1000).toFixed(2)} s (${(m.cpuMs / m.wallMs).toFixed(2)} cores, V8's collector and compiler threads included): ${(m.simMs / m.cpuMs).toFixed(1)}x simulated time over CPU time; load average ${loadavg()[0]?.toFixed(1)}`);
  rows.push(cryptoLine(m, await cryptoRates()));
}
if (values.only === undefined || values.only === '1000') {
  const followers = Number(values.followers ?? '984');
  // 10 s by default: over 3 s, starting the worker thread and compiling the code are a third of the wall time.
  const bigSeconds = Number(values.seconds ?? '10');
  const threads = Number(values.threads ?? '2');
  const speed = (m: Measured, t: number, seconds: number): string =>
    `${t === 1 ? 'one thread' : `${t} threads`}, a fresh process: ${(m.wallMs / 1000).toFixed(1)} s wall${t > 1 ? `, ${(m.startMs / 1000).toFixed(1)} s of it starting the workers` : ''} = ${m.ratio.toFixed(3)}x real time for ${(m.simMs / 1000).toFixed(2)} s simulated with the liveness phase (${m.scenarioRatio.toFixed(3)}x counting the scenario's ${seconds} s alone; target >= 1x on 2 cores); process CPU ${(m.cpuMs / 1000).toFixed(1)} s (${(m.cpuMs / m.wallMs).toFixed(2)} cores: V8's own collector threads included)`;
  const both = (f: BigFleet, title: (m: Measured) => string, seconds: number): Measured => {
    const one = measureFresh(f, 1);
    rows.push(`${title(one)}, ${speed(one, 1, seconds)}`);
    if (threads > 1) {
      const split = measureFresh(f, threads);
      rows.push(`${title(split)}, ${speed(split, threads, seconds)}`);
      rows.push(`  ${threads} threads against one: ${(split.ratio / one.ratio).toFixed(2)}x as fast`);
    }
    return one;
  };
  // The shipped scenario, as users run it: a commit about every 190 ms, the proposer crashed at 8 s.
  if (values.followers === undefined && values.seconds === undefined) {
    const shipped = shippedFleet();
    const faults = shipped.faults.map((f) => `${f.kind} at ${f.at / 1000} s`).join(', ') || 'no faults';
    both({ kind: 'shipped' }, (m) => `fleet-1000 (the shipped scenario: ${shipped.validators} validators + ${shipped.followers} followers, commit wait ${shipped.consensus.commitWaitMs} ms, ${faults}; expect ${m.expect}), ${shipped.durationMs / 1000} s simulated (${m.heights} heights)`, shipped.durationMs / 1000);
  }
  // The benchmark's own fleet: the same devices committing twice as often (commit wait 100 ms).
  const one = both({ kind: 'bench', followers, seconds: bigSeconds }, (m) => `${16 + followers} devices (16 validators + ${followers} followers, commit wait 100 ms), ${bigSeconds} s simulated (${m.heights} heights)`, bigSeconds);
  rows.push(cryptoLine(one, await cryptoRates()).replace('  signatures:', "  signatures (the benchmark's fleet, one thread):"));
  // Memory per follower: the same 16 validators with and without the followers, in this process.
  const small = await measure(fleet('bench-16', 16, 0, bigSeconds, 20), 1, true);
  const big = await measure(fleet('bench-fleet', 16, followers, bigSeconds, 20), 1, true);
  const perFollowerKb = ((big.heapMb - small.heapMb) * 1024) / Math.max(1, followers);
  rows.push(`memory: heap kept (after a full collection) ${big.heapMb.toFixed(0)} MB with ${followers} followers vs ${small.heapMb.toFixed(0)} MB without: ${perFollowerKb.toFixed(0)} KB per simulated follower (rss ${big.rssMb.toFixed(0)} MB)`);
  if (values.full === true) {
    const full = await measure(fleet('bench-fleet-full', 16, followers, bigSeconds, 20, 0), 1, true);
    rows.push(`the same fleet with followers hearing every vote (followerSources 0): ${full.heights} heights in ${(full.wallMs / 1000).toFixed(1)} s wall = ${full.ratio.toFixed(3)}x real time; light followers are ${(big.ratio / full.ratio).toFixed(1)}x faster (both in this process)`);
  }
}
process.stdout.write(rows.join('\n') + '\n');
