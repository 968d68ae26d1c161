// Consensus commit latency with agents inferring at full rate against without agents, in one run.
// fleet-sim's deterministic world (the real consensus shells, signatures and WALs over the simulated
// network) is paced to the wall clock in 5 ms slices, so anything that holds the event loop delays
// consensus the way it would on a device; a command's latency is the wall time between the slice that
// submits it and the slice that commits it. In the "with agents" runs every simulated validator runs
// its built-in agents flat out (each scheduler round starts as soon as the last one ends, every agent
// due every round; onnxruntime-node in its worker when it loads), and their attestations are signed
// with the validator's key and go into consensus as transactions. Runs alternate (without, with, with,
// without, ...) in repeated pairs, so drift in the machine's load falls on both sides.

import { Prng } from '../runtime/lib/prng.js';
import { percentile } from '../runtime/bench/measure.js';
import { decodeEnvelope } from '../runtime/wire/envelope.js';
import type { Scenario } from '../fleet-sim/scenario/scenario.js';
import { runScenario } from '../fleet-sim/sim/run.js';
import type { World } from '../fleet-sim/sim/world.js';
import type { Agent, AgentInputs } from './api/agent.js';
import { signedAttestationSink } from './api/attest-sink.js';
import { AgentScheduler } from './api/scheduler.js';
import { MemoryStateStore } from './api/state-store.js';
import { hazardDetectAgent } from './builtin/hazard-detect.js';
import { missionReflexAgent } from './builtin/mission-reflexes.js';
import { telemetryAnomalyAgent } from './builtin/telemetry-anomaly.js';
import { OrtWorker } from './inference/ort-worker.js';
import { castScan, telemetryBase, telemetryWindow, type Obstacle } from './sim/sensors.js';

const sliceMs = 5;

function scenario(seconds: number): Scenario {
  return {
    name: 'bench-agents',
    seed: 3,
    durationMs: seconds * 1000,
    validators: 4,
    followers: 0,
    mqtt: { latencyMs: 2, jitterMs: 1, loss: 0, duplicate: 0 },
    faults: [],
    workload: [{ kind: 'rate', from: 500, to: seconds * 1000 - 500, perSec: 20, command: 'noop' }],
    expect: { safety: true },
    consensus: { proposeMs: 300, commitWaitMs: 100, gossipMs: 200 },
    livenessBudgetMs: 5_000,
  };
}

/** The agent, due at every scheduler round: it infers as often as the machine lets it. */
const flatOut = <S>(a: Agent<S>): Agent<S> => ({ ...a, periodMs: 1 });

interface AgentLoad {
  stop(): Promise<{ rounds: number; ticksPerSec: Record<string, number>; engines: string[]; attestations: number }>;
}

/** Every validator of `w` runs its agents back to back on synthetic sensors; attestations go to `w`. */
async function startAgents(w: World, ort: OrtWorker): Promise<AgentLoad> {
  const prng = new Prng(5);
  const obstacles: Obstacle[] = Array.from({ length: 6 }, () => ({ northM: prng.range(-30, 30), eastM: prng.range(-30, 30), radiusM: 1.5 }));
  let attestations = 0;
  const devices: { s: AgentScheduler; p: Prng; base: ReturnType<typeof telemetryBase> }[] = [];
  for (const n of w.nodes) {
    const sink = signedAttestationSink(w.fleet, n.id, n.signer, (env) => {
      attestations++;
      w.publish(env);
    });
    const s = new AgentScheduler({ store: new MemoryStateStore(), act: () => undefined, attest: sink, cpuClock: () => performance.now() });
    s.add(flatOut(hazardDetectAgent({ ort })));
    s.add(flatOut(telemetryAnomalyAgent({ deviceId: n.id, ort })));
    s.add(flatOut(missionReflexAgent()));
    await s.start(0);
    devices.push({ s, p: prng.split(n.id), base: telemetryBase(prng) });
  }
  const t0 = performance.now();
  let rounds = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      const now = performance.now() - t0;
      for (const [i, d] of devices.entries()) {
        const a = (now / 1000) * 0.3 + i;
        const tw = telemetryWindow(d.p, now, 'normal', 1, d.base, d.p, undefined, 'steady');
        const inputs: AgentInputs = {
          nowMs: now,
          range: castScan(d.p, now, 20 * Math.cos(a), 20 * Math.sin(a), a + Math.PI / 2, obstacles, { spuriousP: 0.01, dropoutP: 0.01, noiseM: 0.05 }).readings,
          position: { timeMs: now, northM: 20 * Math.cos(a), eastM: 20 * Math.sin(a), altM: 30, headingRad: a + Math.PI / 2, velocityNorthMps: 0, velocityEastMps: 0 },
          link: { lastQuorumContactMs: now },
          imu: tw.imu,
          ...(tw.battery[0] ? { battery: tw.battery[0] } : {}),
        };
        await d.s.tick(inputs);
      }
      rounds++;
      // One turn of the event loop between rounds, as a device's agents give its consensus timers.
      await new Promise((r) => setImmediate(r));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      const secs = (performance.now() - t0) / 1000;
      const ticksPerSec: Record<string, number> = {};
      for (const d of devices) for (const a of d.s.status()) ticksPerSec[a.name] = (ticksPerSec[a.name] ?? 0) + a.ticks / secs;
      const engines = [...new Set(devices.flatMap((d) => d.s.status().map((x) => `${x.name}:${x.engine}`)))].sort();
      for (const d of devices) await d.s.stop(0);
      return { rounds, ticksPerSec, engines, attestations };
    },
  };
}

interface Half {
  readonly latencies: number[];
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly lagP99Ms: number;
  /** With agents: attestations signed and submitted, and those committed (an honest validator's chain). */
  readonly attestations?: { readonly submitted: number; readonly committed: number; readonly rounds: number; readonly ticksPerSec: Record<string, number>; readonly engines: string[] };
}

async function pacedRun(s: Scenario, ort: OrtWorker | null): Promise<Half> {
  let world: World | undefined;
  let agents: AgentLoad | null = null;
  let counted = 0;
  let committedAttestations = 0;
  const wallAt: number[] = [];
  const lags: number[] = [];
  let start = performance.now();
  await runScenario(s, s.seed, {
    sliceMs,
    onWorld: (w) => {
      world = w;
    },
    pace: async (t) => {
      const w = world as World;
      if (ort && agents === null) {
        agents = await startAgents(w, ort);
        start = performance.now() - t; // loading the models is not consensus time
      }
      // Attestations that reached a committed block (node 0 is an honest validator).
      const chain = w.nodes[0]?.shell?.core.chain;
      for (; chain && counted < chain.height; counted++) {
        for (const tx of w.committedBlock(counted + 1)?.block.txs ?? []) {
          const e = decodeEnvelope(tx);
          if (e.ok && e.value.kind === 'attestation') committedAttestations++;
        }
      }
      const now = performance.now();
      wallAt[Math.round(t / sliceMs)] = now;
      lags.push(Math.max(0, now - (start + t)));
      const wait = start + t - now;
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    },
  });
  const load = agents === null ? null : await (agents as AgentLoad).stop();
  if (!world) throw new Error('no world');
  const commitAt = new Map<string, number>();
  for (const [, d] of world.checkers.decided) for (const c of d.commands) if (!commitAt.has(c)) commitAt.set(c, d.atMs);
  const lat: number[] = [];
  for (const [key, at] of world.submitted) {
    const c = commitAt.get(key);
    if (c === undefined || c > s.durationMs) continue;
    const ws = wallAt[Math.ceil(at / sliceMs)];
    const wc = wallAt[Math.ceil(c / sliceMs)];
    if (ws !== undefined && wc !== undefined) lat.push(wc - ws);
  }
  lat.sort((a, b) => a - b);
  lags.sort((a, b) => a - b);
  return {
    latencies: lat,
    p50Ms: percentile(lat, 50),
    p99Ms: percentile(lat, 99),
    lagP99Ms: percentile(lags, 99),
    ...(load ? { attestations: { submitted: load.attestations, committed: committedAttestations, rounds: load.rounds, ticksPerSec: load.ticksPerSec, engines: load.engines } } : {}),
  };
}

const fmt = (x: number): string => x.toFixed(1);

export async function benchConsensusWithAgents(seconds = Number(process.env.BENCH_CONSENSUS_S ?? 10), pairs = Number(process.env.BENCH_PAIRS ?? 3)): Promise<{ text: string; json: unknown }> {
  const s = scenario(seconds);
  const ort = new OrtWorker();
  await pacedRun(scenario(3), null); // warm-up: JIT and first-run allocation would otherwise count against the first run
  const without: Half[] = [];
  const withAgents: Half[] = [];
  const lines: string[] = [];
  for (let i = 0; i < pairs; i++) {
    // ABBA: pair 0 runs without first, pair 1 with first, and so on.
    for (const agents of i % 2 === 0 ? [false, true] : [true, false]) {
      const h = await pacedRun(s, agents ? ort : null);
      (agents ? withAgents : without).push(h);
      const a = h.attestations;
      lines.push(`  pair ${i + 1} ${agents ? 'with   ' : 'without'}  p50 ${fmt(h.p50Ms)} ms  p99 ${fmt(h.p99Ms)} ms  (${h.latencies.length} commands; pacing lag p99 ${fmt(h.lagP99Ms)} ms)${a ? `  ${a.rounds} agent rounds, ${a.submitted} attestations submitted, ${a.committed} committed` : ''}`);
    }
  }
  await ort.close();
  const pooled = (hs: Half[]): { p50: number; p99: number } => {
    const all = hs.flatMap((h) => h.latencies).sort((a, b) => a - b);
    return { p50: percentile(all, 50), p99: percentile(all, 99) };
  };
  const w0 = pooled(without);
  const w1 = pooled(withAgents);
  const pairRatios = withAgents.map((h, i) => h.p50Ms / (without[i] as Half).p50Ms).sort((a, b) => a - b);
  const medianPairRatio = pairRatios[Math.floor(pairRatios.length / 2)] ?? NaN;
  const ratio50 = w1.p50 / w0.p50;
  const ratio99 = w1.p99 / w0.p99;
  const rate: Record<string, number> = {};
  for (const h of withAgents) for (const [k, v] of Object.entries(h.attestations?.ticksPerSec ?? {})) rate[k] = (rate[k] ?? 0) + v / withAgents.length;
  const engines = [...new Set(withAgents.flatMap((h) => h.attestations?.engines ?? []))].sort();
  const text = [
    `Consensus commit latency, fleet-sim paced to the wall clock (${s.validators} validators, ${seconds} s per run, 20 commands/s, ${sliceMs} ms slices), ${pairs} alternating pairs:`,
    ...lines,
    `  agents flat out (all 4 validators together): ${Object.entries(rate).map(([k, v]) => `${k} ${Math.round(v)} ticks/s`).join(', ')}; engines ${engines.join(', ')}`,
    `pooled without: p50 ${fmt(w0.p50)} ms  p99 ${fmt(w0.p99)} ms;  with: p50 ${fmt(w1.p50)} ms  p99 ${fmt(w1.p99)} ms`,
    `ratio with/without: p50 ${ratio50.toFixed(2)}  p99 ${ratio99.toFixed(2)}  median of per-pair p50 ratios ${medianPairRatio.toFixed(2)}  (target <= 1.2)`,
  ].join('\n');
  const strip = (h: Half): Omit<Half, 'latencies'> & { commands: number } => ({ p50Ms: h.p50Ms, p99Ms: h.p99Ms, lagP99Ms: h.lagP99Ms, commands: h.latencies.length, ...(h.attestations ? { attestations: h.attestations } : {}) });
  return { text, json: { seconds, pairs, without: without.map(strip), withAgents: withAgents.map(strip), pooledWithout: w0, pooledWith: w1, ratioP50: ratio50, ratioP99: ratio99, medianPairRatioP50: medianPairRatio, ticksPerSec: rate, engines } };
}
