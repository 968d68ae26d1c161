// `npm run bench:start -- [RUNS] [ROOT ...]`: the CPU and wall time of one device's start, spawn to its
// `ready` line: `node ROOT/bin/murmur.js start` of a one-member-of-four fleet on a real Mosquitto, with
// agents on and off, a fresh data directory each time, RUNS starts per root and setting (default 10).
// Each ROOT is a release tree (bin/, dist/, package.json, node_modules: what `npm run build` and
// test/support/built-cli.global.ts make); default the clone itself after `npm run build`. Several roots
// take turns start by start, so a before/after comparison shares the machine's load. CPU is the
// process's user+sys at the ready line (/proc/PID/stat: every thread, V8's helpers and the agents'
// inference worker included) and its main thread's alone.

import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { makeFleet, writeFleetFiles } from '../support/fleet-fixture.js';
import { Mosquitto } from '../links/processes.js';

const clockTicksPerSecond = 100; // USER_HZ on Linux
const readyWaitMs = 30_000;

/** user+sys of a process (every thread) or of one of its threads, ms. */
function cpuMs(stat: string): number {
  const f = readFileSync(stat, 'utf8');
  const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / clockTicksPerSecond;
}

interface Sample {
  readonly cpuMs: number;
  readonly mainMs: number;
  readonly wallMs: number;
}

async function startOnce(root: string, dir: string, config: string): Promise<Sample> {
  const t0 = performance.now();
  const p = spawn(process.execPath, [join(root, 'bin', 'murmur.js'), 'start', '--config', config], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  p.stderr.on('data', (b: Buffer) => (err += b.toString()));
  try {
    return await new Promise<Sample>((res, rej) => {
      const timer = setTimeout(() => rej(new Error(`no ready line in ${readyWaitMs} ms:\n${out}${err}`)), readyWaitMs);
      p.once('exit', (code) => rej(new Error(`exited ${code} before ready:\n${out}${err}`)));
      p.stdout.on('data', (b: Buffer) => {
        out += b.toString();
        if (!out.includes('"event":"ready"') || p.pid === undefined) return;
        clearTimeout(timer);
        p.stdout.removeAllListeners('data');
        res({ cpuMs: cpuMs(`/proc/${p.pid}/stat`), mainMs: cpuMs(`/proc/${p.pid}/task/${p.pid}/stat`), wallMs: performance.now() - t0 });
      });
    });
  } finally {
    p.removeAllListeners('exit');
    if (p.exitCode === null && p.signalCode === null) {
      const gone = new Promise((r) => p.once('exit', r));
      p.kill('SIGTERM');
      await gone;
    }
  }
}

const summary = (xs: number[]): string => {
  const s = [...xs].sort((a, b) => a - b);
  return `median ${Math.round(s[Math.floor(s.length / 2)] ?? NaN)} (${Math.round(s[0] ?? NaN)}-${Math.round(s.at(-1) ?? NaN)})`;
};

async function main(): Promise<void> {
  const [runsArg, ...rootArgs] = process.argv.slice(2);
  const runs = Number(runsArg ?? 10);
  if (!Number.isInteger(runs) || runs < 1 || runs > 1000) throw new Error(`RUNS: ${runsArg}: give a whole number from 1 to 1000`);
  const roots = (rootArgs.length > 0 ? rootArgs : [join(import.meta.dirname, '..', '..')]).map((r) => resolve(r));
  const dir = mkdtempSync(join(tmpdir(), 'murmur-bench-start-'));
  const broker = await Mosquitto.start();
  try {
    await writeFleetFiles(await makeFleet({ validators: 4 }), dir);
    const samples = new Map<string, Sample[]>();
    let n = 0;
    for (let i = 0; i < runs; i++) {
      for (const agents of [true, false]) {
        // Roots in turn, the order reversed every other round.
        for (const root of i % 2 === 0 ? roots : [...roots].reverse()) {
          const config = join(dir, `start-${n}.yaml`);
          writeFileSync(config, [`id: v0`, 'key: v0.key', 'manifest: fleet.manifest', `dataDir: data/${n++}`, `mqtt: { url: "${broker.url}" }`, 'http: { port: 0 }', 'log: { level: info }', ...(agents ? [] : ['agents: { enabled: false }']), ''].join('\n'));
          const key = `${root} agents ${agents ? 'on' : 'off'}`;
          samples.set(key, [...(samples.get(key) ?? []), await startOnce(root, dir, config)]);
        }
      }
    }
    for (const [key, s] of samples) {
      process.stdout.write(`${key} (${s.length} starts): CPU at ready ${summary(s.map((x) => x.cpuMs))} ms, main thread ${summary(s.map((x) => x.mainMs))} ms, spawn to ready ${summary(s.map((x) => x.wallMs))} ms\n`);
    }
  } finally {
    await broker.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
