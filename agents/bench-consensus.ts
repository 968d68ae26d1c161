// Consensus commit latency with and without agents inferring at full rate, in one run. fleet-sim's
// deterministic world (the real consensus shells, signatures and WALs over the simulated network) is
// paced to the wall clock in 5 ms slices, so anything that holds the event loop delays consensus the
// way it would on a device; a command's latency is the wall time between the slice that submits it and
// the slice that commits it. The "with agents" half runs every simulated node's built-in agents at
// their declared periods (onnxruntime-node in the worker when it loads), signing their attestations.

import { createSigner, keyPairFromSeed } from '../runtime/crypto/sodium.js';
import { Prng } from '../runtime/lib/prng.js';
import { percentile } from '../runtime/bench/measure.js';
import type { Scenario } from '../fleet-sim/scenario/scenario.js';
import { runScenario } from '../fleet-sim/sim/run.js';
import type { World } from '../fleet-sim/sim/world.js';
import type { AgentInputs } from './api/agent.js';
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

/** Drives `devices` agent schedulers on wall-clock time with synthetic sensors, until stopped. */
async function startAgents(devices: number, ort: OrtWorker): Promise<{ stop: () => Promise<{ ticks: number; engines: string[] }> }> {
  const prng = new Prng(5);
  const obstacles: Obstacle[] = Array.from({ length: 6 }, () => ({ northM: prng.range(-30, 30), eastM: prng.range(-30, 30), radiusM: 1.5 }));
  const scheds: { s: AgentScheduler; p: Prng; base: ReturnType<typeof telemetryBase> }[] = [];
  for (let i = 0; i < devices; i++) {
    const signer = createSigner(keyPairFromSeed(prng.bytes(32)));
    const s = new AgentScheduler({ store: new MemoryStateStore(), act: () => undefined, attest: signedAttestationSink('bench', `d${i}`, signer, () => undefined), cpuClock: () => performance.now() });
    s.add(hazardDetectAgent({ ort }));
    s.add(telemetryAnomalyAgent({ deviceId: `d${i}`, ort }));
    s.add(missionReflexAgent());
    await s.start(0);
    scheds.push({ s, p: prng.split(`d${i}`), base: telemetryBase(prng) });
  }
  const t0 = performance.now();
  let ticks = 0;
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    void (async () => {
      const now = Math.round(performance.now() - t0);
      for (const [i, d] of scheds.entries()) {
        const a = (now / 1000) * 0.3 + i;
        const w = telemetryWindow(d.p, now, 'normal', 1, d.base, d.p, undefined, 'steady');
        const inputs: AgentInputs = {
          nowMs: now,
          range: castScan(d.p, now, 20 * Math.cos(a), 20 * Math.sin(a), a + Math.PI / 2, obstacles, { spuriousP: 0.01, dropoutP: 0.01, noiseM: 0.05 }).readings,
          position: { timeMs: now, northM: 20 * Math.cos(a), eastM: 20 * Math.sin(a), altM: 30, headingRad: a + Math.PI / 2, velocityNorthMps: 0, velocityEastMps: 0 },
          link: { lastQuorumContactMs: now },
          imu: w.imu,
          ...(w.battery[0] ? { battery: w.battery[0] } : {}),
        };
        await d.s.tick(inputs);
      }
      ticks++;
      busy = false;
    })();
  }, 100);
  return {
    stop: async () => {
      clearInterval(timer);
      const engines = [...new Set(scheds.flatMap((d) => d.s.status().map((x) => `${x.name}:${x.engine}`)))].sort();
      for (const d of scheds) await d.s.stop(0);
      return { ticks, engines };
    },
  };
}

interface Half {
  p50Ms: number;
  p99Ms: number;
  commands: number;
  lagP99Ms: number;
}

async function pacedRun(s: Scenario): Promise<Half> {
  let world: World | undefined;
  const wallAt: number[] = [];
  const lags: number[] = [];
  const start = performance.now();
  await runScenario(s, s.seed, {
    sliceMs,
    onWorld: (w) => {
      world = w;
    },
    pace: async (t) => {
      const now = performance.now();
      wallAt[Math.round(t / sliceMs)] = now;
      lags.push(Math.max(0, now - (start + t)));
      const wait = start + t - now;
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    },
  });
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
  return { p50Ms: percentile(lat, 50), p99Ms: percentile(lat, 99), commands: lat.length, lagP99Ms: percentile(lags, 99) };
}

export async function benchConsensusWithAgents(seconds = Number(process.env.BENCH_CONSENSUS_S ?? 15)): Promise<{ text: string; json: unknown }> {
  const s = scenario(seconds);
  await pacedRun(scenario(3)); // warm-up: JIT and first-run allocation would otherwise count against "without"
  const without = await pacedRun(s);
  const ort = new OrtWorker();
  const agents = await startAgents(s.validators + s.followers, ort);
  const withAgents = await pacedRun(s);
  const { ticks, engines } = await agents.stop();
  await ort.close();
  const ratio50 = withAgents.p50Ms / without.p50Ms;
  const ratio99 = withAgents.p99Ms / without.p99Ms;
  const line = (n: string, h: Half): string => `${n.padEnd(16)} commit p50 ${h.p50Ms.toFixed(1)} ms  p99 ${h.p99Ms.toFixed(1)} ms  (${h.commands} commands; pacing lag p99 ${h.lagP99Ms.toFixed(1)} ms)`;
  const text = [
    `Consensus commit latency, fleet-sim paced to the wall clock (${s.validators} validators, ${seconds} s, 20 commands/s, ${sliceMs} ms slices):`,
    line('without agents', without),
    line('with agents', withAgents),
    `  agents: ${s.validators + s.followers} devices x 3 agents at their periods, ${ticks} scheduler rounds; engines ${engines.join(', ')}`,
    `ratio with/without: p50 ${ratio50.toFixed(2)}  p99 ${ratio99.toFixed(2)}  (target <= 1.2)`,
  ].join('\n');
  return { text, json: { without, withAgents, ratioP50: ratio50, ratioP99: ratio99, agentRounds: ticks, engines } };
}
