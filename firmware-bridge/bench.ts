// npm run bench:bridge: MAVLink 2 encode and decode rates (node-mavlink serialiser, our splitter and
// node-mavlink's payload decoder), and request/response round-trip latency to the C99 reference
// firmware over a socat pty. Prints one JSON object; `-- --json FILE` also writes it to FILE.

import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { common } from 'node-mavlink';
import { decodeMessage, encodeFrame, FrameSplitter } from './mavlink/codec.js';
import { openSerial } from './transport.js';
import { McuClient } from './mcu/client.js';
import { mcuMethod } from './mcu/frame.js';
import { repoRoot, startPtyPair } from './tools/processes.js';

function position(i: number): common.GlobalPositionInt {
  return Object.assign(new common.GlobalPositionInt(), { timeBootMs: i, lat: 473977420 + i, lon: 85455940, alt: 498123, relativeAlt: 10123, vx: -150, vy: 230, vz: -5, hdg: 27001 });
}

function rate(label: string, n: number, fn: (i: number) => void): { label: string; perSec: number } {
  for (let i = 0; i < Math.min(n, 20_000); i++) fn(i); // warm-up
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) fn(i);
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  return { label, perSec: Math.round(n / s) };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

async function firmwareRoundTrip(requests: number): Promise<Record<string, number>> {
  const dir = mkdtempSync(join(tmpdir(), 'murmur-bench-'));
  const bin = join(dir, 'murmur-mcu');
  const c = join(repoRoot, 'firmware-bridge', 'c');
  execFileSync('cc', ['-std=c99', '-Wall', '-Wextra', '-Werror', '-O2', '-o', bin, join(c, 'main_posix.c'), join(c, 'murmur_mcu.c')]);
  const pty = await startPtyPair();
  const fw = spawn(bin, [pty.b], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve) => fw.stdout?.once('data', () => resolve()));
  const port = await openSerial({ path: pty.a, baudRate: 921_600 });
  const client = new McuClient(port, { timeoutMs: 200, retries: 5 });
  try {
    const hello = await client.handshake();
    if (!hello.ok) throw new Error(hello.error.message);
    const lat: number[] = [];
    for (let i = 0; i < requests; i++) {
      const t0 = process.hrtime.bigint();
      const r = await client.request(mcuMethod.add, 1);
      if (!r.ok) throw new Error(r.error.message);
      lat.push(Number(process.hrtime.bigint() - t0) / 1000);
    }
    lat.sort((x, y) => x - y);
    return { requests, p50Us: Math.round(percentile(lat, 50)), p99Us: Math.round(percentile(lat, 99)), maxUs: Math.round(lat[lat.length - 1] ?? 0) };
  } finally {
    client.close();
    await port.close();
    if (fw.pid) process.kill(fw.pid, 'SIGTERM');
    await pty.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const n = 200_000;
  const msgs = Array.from({ length: 1024 }, (_, i) => position(i));
  const frames = msgs.map((m, i) => encodeFrame(m, { sysid: 1, compid: 1, seq: i }));
  const stream = Buffer.concat(frames);
  const key = Buffer.alloc(32, 7);
  const encode = rate('encode GLOBAL_POSITION_INT', n, (i) => encodeFrame(msgs[i & 1023] as common.GlobalPositionInt, { sysid: 1, compid: 1, seq: i }));
  const encodeSigned = rate('encode signed', n / 4, (i) => encodeFrame(msgs[i & 1023] as common.GlobalPositionInt, { sysid: 1, compid: 1, seq: i, signing: { key, linkId: 0, timestamp10us: i + 1 } }));
  const splitter = new FrameSplitter();
  let split = 0;
  const splitRate = rate('split+check (1024-frame chunks)', n / 1024, () => {
    split += splitter.push(stream).length;
  });
  const decode = rate('split+check+decode', n / 1024, () => {
    for (const f of splitter.push(stream)) decodeMessage(f);
  });
  const rtt = await firmwareRoundTrip(Number(process.env.BENCH_MCU_REQUESTS ?? 2000));
  const result = {
    node: process.version,
    mavlink: {
      encodeMsgsPerSec: encode.perSec,
      encodeSignedMsgsPerSec: encodeSigned.perSec,
      splitCheckMsgsPerSec: splitRate.perSec * 1024,
      decodeMsgsPerSec: decode.perSec * 1024,
      framesSplit: split,
    },
    mcuRoundTripOverPty: rtt,
  };
  const out = JSON.stringify(result, null, 2);
  process.stdout.write(out + '\n');
  const i = process.argv.indexOf('--json');
  const file = i >= 0 ? process.argv[i + 1] : undefined;
  if (file) writeFileSync(file, out + '\n');
}

main().catch((e: unknown) => {
  process.stderr.write(`bench:bridge: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});
