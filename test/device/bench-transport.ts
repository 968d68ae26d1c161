// What the message pattern of bench:e2e's floor costs, layer by layer, on one Mosquitto (loopback,
// configured as the device fleet's): the QoS 1 round trip; a bare 3-hop mqtt.js chain fanned out to n
// relay processes (chain); one height's pattern (proposal, prevotes, precommits, ack) with no crypto
// (plain); the same signed and verified, each relay subscribed to floor/# and so hearing and verifying
// its own messages too (signed: bench:e2e's floor until 2026-12-05); and signed with a device's topic
// plan (peers: each relay hears only the others and counts its own votes as it casts them; the floor
// since: bench-floor.ts runs this mode). For each, the CPU time and the time
// spent runnable but waiting for a core (schedstat of each thread) of the relays and the broker, per height.
// Usage: npm run bench:transport -- [heights=60] [gap ms=100]
// (TRANSPORT_MODES=chain,plain,signed,peers, TRANSPORT_N=4,7, TRANSPORT_QOS=1 or 0 for the relays' publishes.)

import { fork, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import mqtt from 'mqtt';
import { Mosquitto } from '../links/processes.js';

const relayPath = fileURLToPath(new URL('./bench-transport-relay.ts', import.meta.url));
const heights = Number(process.argv[2] ?? 60);
const gapMs = Number(process.argv[3] ?? 100);
const pct = (xs: number[], p: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] ?? NaN;
const r2 = (x: number): number => Math.round(x * 100) / 100;

/** [on-CPU ns, runnable-waiting ns] of a process's threads, summed. */
function sched(pid: number): [number, number] {
  let cpu = 0, wait = 0;
  try {
    for (const t of readdirSync(`/proc/${pid}/task`) as string[]) {
      const [a, b] = readFileSync(`/proc/${pid}/task/${t}/schedstat`, 'utf8').split(' ').map(Number);
      cpu += a ?? 0; wait += b ?? 0;
    }
  } catch { /* exited */ }
  return [cpu, wait];
}

async function measure(mode: 'chain' | 'plain' | 'signed' | 'peers', n: number): Promise<Record<string, number>> {
  const broker = await Mosquitto.start();
  const relays: ChildProcess[] = [];
  const c = mqtt.connect(broker.url, { clientId: `transport-bench-${process.pid}` });
  const connected = new Promise<void>((r) => c.once('connect', () => r()));
  try {
    for (let i = 0; i < n; i++) relays.push(fork(relayPath, [mode, String(i), String(n), broker.url], { execArgv: ['--import', 'tsx'], stdio: 'inherit' }));
    await Promise.all(relays.map((r, i) => new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`relay ${i} not ready within 20 s`)), 20_000);
      r.once('message', () => (clearTimeout(t), resolve()));
    })));
    await connected;
    (c.stream as unknown as { setNoDelay?: (b: boolean) => void }).setNoDelay?.(true);
    const done = mode === 'chain' ? 'chain/3' : 'floor/ack';
    await c.subscribeAsync({ [done]: { qos: 1 }, 'bench/rtt': { qos: 1 } });
    const once = (topic: string, payload: string, send: () => void): Promise<number> => new Promise((resolve, reject) => {
      const t0 = performance.now();
      const timer = setTimeout(() => (c.off('message', on), reject(new Error(`no ${topic} ${payload} within 5 s`))), 5_000);
      const on = (tp: string, m: Buffer): void => {
        if (tp !== topic || (payload !== '' && m.toString() !== payload)) return;
        clearTimeout(timer); c.off('message', on); resolve(performance.now() - t0);
      };
      c.on('message', on);
      send();
    });
    const start = (h: number): void => {
      c.publish(mode === 'chain' ? 'chain/0' : 'floor/cmd', String(h), { qos: 1 });
    };
    const rtt: number[] = [];
    for (let i = 0; i < 200; i++) rtt.push(await once('bench/rtt', '', () => c.publish('bench/rtt', Buffer.alloc(200), { qos: 1 })));
    for (let h = 0; h < 10; h++) await once(done, String(h), () => start(h));
    const pids = [...relays.map((r) => r.pid as number), broker.pid as number];
    const before = pids.map(sched);
    const lat: number[] = [];
    for (let h = 10; h < 10 + heights; h++) {
      lat.push(await once(done, String(h), () => start(h)));
      await new Promise((r) => setTimeout(r, gapMs));
    }
    const after = pids.map(sched);
    const d = (i: number, k: 0 | 1): number => ((after[i]![k] - before[i]![k]) / 1e6) / heights;
    const relayCpu = relays.reduce((s, _r, i) => s + d(i, 0), 0);
    const relayWait = relays.reduce((s, _r, i) => s + d(i, 1), 0);
    return { rttP50: r2(pct(rtt, 50)), p50: r2(pct(lat, 50)), p90: r2(pct(lat, 90)), ratio: r2(pct(lat, 50) / pct(rtt, 50)), relayCpuMsPerHeight: r2(relayCpu), relayRunqueueWaitMsPerHeight: r2(relayWait), brokerCpuMsPerHeight: r2(d(n, 0)), brokerWaitMsPerHeight: r2(d(n, 1)) };
  } finally {
    await c.endAsync(true);
    for (const r of relays) if (r.exitCode === null) r.kill();
    await broker.stop();
  }
}

const modes = (process.env.TRANSPORT_MODES ?? 'chain,plain,signed,peers').split(',') as ('chain' | 'plain' | 'signed' | 'peers')[];
const ns = (process.env.TRANSPORT_N ?? '4,7').split(',').map(Number);
for (const n of ns) for (const mode of modes) {
  const l0 = loadavg()[0]!;
  const r = await measure(mode, n);
  console.log(JSON.stringify({ n, mode, qos: Number(process.env.TRANSPORT_QOS ?? 1), ...r, load1: r2(l0), load1After: r2(loadavg()[0]!) }));
}
