// Where one command's latency goes, hop by hop: runs an n-device fleet as bench:e2e does, with
// MURMUR_TRACE_DIR set (runtime/lib/trace.ts), sends lone commands, and joins every process's
// timestamps by message: for each height, the command's publish, and for the proposal, each prevote
// and each precommit: signed and handed to mqtt.js (tx), written (wire), its socket had data at each
// receiver (sock), mqtt.js emitted it (rx), edge checks done (edge: decode + signature), core done
// (core: the steps it caused, fsyncs and the messages it signed included).
// Usage: npm run bench:e2e-trace -- [n=4] [commands=30] (TRACE=0: CPU only, no trace; TRACE_TIMELINE=0: no timeline)

import { mkdtempSync, readdirSync, readFileSync, appendFileSync } from 'node:fs';

/** [on-CPU ms, runnable-but-waiting ms] of a process's threads, summed (schedstat of each of /proc/PID/task). */
function sched(pid: number | undefined): [number, number] {
  let cpu = 0;
  let wait = 0;
  try {
    for (const t of readdirSync(`/proc/${pid}/task`)) {
      const [a, b] = readFileSync(`/proc/${pid}/task/${t}/schedstat`, 'utf8').split(' ').map(Number);
      cpu += (a ?? 0) / 1e6;
      wait += (b ?? 0) / 1e6;
    }
  } catch {
    /* exited */
  }
  return [cpu, wait];
}
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';

const n = Number(process.argv[2] ?? 4);
const count = Number(process.argv[3] ?? 30);
const commitWaitMs = 100;
const traceDir = mkdtempSync(join(tmpdir(), 'murmur-trace-'));
if (process.env.TRACE !== '0') process.env.MURMUR_TRACE_DIR = traceDir;
const { createSigner, initCrypto, keyPairFromSeed, randomBytes, createVerifier } = await import('../../runtime/crypto/sodium.js');
const { readKeyFile } = await import('../../runtime/crypto/key-file.js');
const { unwrap } = await import('../../runtime/lib/result.js');
const { encodeFrame, fleetTag } = await import('../../runtime/links/frame.js');
const { openAck } = await import('../../runtime/cli/ctl-common.js');
const { controlTopics } = await import('../../runtime/device/control-topics.js');
const { encodeCommandBody } = await import('../../runtime/wire/command.js');
const { sealEnvelope } = await import('../../runtime/wire/envelope.js');
const { toHex } = await import('../../runtime/lib/bytes.js');
const { traceKey, traceNow } = await import('../../runtime/lib/trace.js');
const { DeviceFleet } = await import('./device-fleet.js');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const med = (xs: number[]): number => (xs.length === 0 ? NaN : Math.round([...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]! * 100) / 100);

await initCrypto();
const fleet = new DeviceFleet({ validators: n, logLevel: 'info', consensus: { commitWaitMs } });
await fleet.setup();
const benchFile = join(traceDir, 'bench.trace');
const l0 = loadavg()[0]!;
try {
  await fleet.startAll();
  await sleep(3_000);
  const verifier = createVerifier();
  const signer = createSigner(keyPairFromSeed(unwrap(await readKeyFile(fleet.keyFile('ops'))).seed));
  const topics = controlTopics('e2e');
  const c = mqtt.connect(fleet.broker.url, { clientId: `trace-op-${process.pid}` });
  await new Promise<void>((r) => c.once('connect', () => r()));
  (c.stream as unknown as { setNoDelay?: (b: boolean) => void }).setNoDelay?.(true);
  await c.subscribeAsync({ [topics.acksOf('ops')]: { qos: 1 } });
  const pids = [...fleet.devices.keys()].map((id) => fleet.pid(id));
  let before: [number, number][] = [];
  let brokerBefore: [number, number] = [0, 0];
  let tStart = 0;
  for (let i = 0; i < count + 5; i++) {
    if (i === 5) {
      before = pids.map(sched);
      brokerBefore = sched(fleet.broker.pid);
      tStart = performance.now();
    }
    const nonce = randomBytes(16);
    const ref = `ops/${toHex(nonce)}`;
    const now = Date.now();
    const env = sealEnvelope('command', 'e2e', 'ops', encodeCommandBody({ type: 'noop', nonce, issuedAt: now, expiresAt: now + 60_000, args: {} }), signer);
    const t0 = traceNow();
    const ok = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => (c.off('message', on), resolve(false)), 15_000);
      const on = (_t: string, p: Buffer): void => {
        const o = openAck(new Uint8Array(p), fleet.manifest, verifier);
        if (!o.ok || o.ack.command !== ref || o.ack.stage !== 'accepted' || !o.ack.blockHash) return;
        clearTimeout(timer);
        c.off('message', on);
        if (i >= 5) appendFileSync(benchFile, `cmd ${traceKey(env)} ${t0.toFixed(3)} ${traceNow().toFixed(3)}\n`);
        resolve(true);
      };
      c.on('message', on);
      c.publish(topics.commands, Buffer.from(encodeFrame(fleetTag('e2e'), 'consensus', env)), { qos: 1 });
    });
    if (!ok) throw new Error(`command ${i} not committed`);
    await sleep(commitWaitMs + (i % 7) * 11);
  }
  const secs = (performance.now() - tStart) / 1000;
  const after = pids.map(sched);
  const brokerAfter = sched(fleet.broker.pid);
  const devCpu = after.reduce((s, a, i) => s + a[0] - before[i]![0], 0);
  const devWait = after.reduce((s, a, i) => s + a[1] - before[i]![1], 0);
  console.log(`CPU over ${secs.toFixed(1)} s: devices ${(devCpu / secs).toFixed(1)} ms/s (waiting for a core ${(devWait / secs).toFixed(1)} ms/s), broker ${((brokerAfter[0] - brokerBefore[0]) / secs).toFixed(1)} ms/s; per command ${(devCpu / count).toFixed(1)} and ${((brokerAfter[0] - brokerBefore[0]) / count).toFixed(2)} ms`);
  await c.endAsync();
  await sleep(1_500); // each device's trace buffer is written once a second
} finally {
  await fleet.teardown();
}

// Join.
type Ev = { ev: string; key: string; at: number; rest: string[]; file: string };
const evs: Ev[] = [];
for (const f of readdirSync(traceDir)) for (const line of readFileSync(join(traceDir, f), 'utf8').split('\n')) {
  const [ev, key, at, ...rest] = line.split(' ');
  if (ev && key && at) evs.push({ ev, key, at: Number(at), rest, file: f });
}
const byKey = new Map<string, Ev[]>();
for (const e of evs) byKey.set(e.key, [...(byKey.get(e.key) ?? []), e]);
const cmds = evs.filter((e) => e.ev === 'cmd');
const signed = evs.filter((e) => e.ev === 'signed'); // rest: node kind height round
const out: Record<string, number[]> = {};
const add = (k: string, v: number): void => void (out[k] ??= []).push(v);
const quorum = Math.floor((2 * n) / 3) + 1;
for (const cmd of cmds) {
  const t0 = cmd.at;
  const tEnd = Number(cmd.rest[0]);
  add('total', tEnd - t0);
  // The command at each device: socket, rx.
  const crx = (byKey.get(cmd.key) ?? []).filter((e) => e.ev === 'rx');
  for (const r of crx) add('cmd: publish -> rx at a device', r.at - t0);
  // The height it went into: the first proposal signed after t0 at round 0 whose height is then committed.
  const prop = signed.filter((s) => s.rest[1] === 'proposal' && s.at > t0 && s.at < tEnd).sort((a, b) => a.at - b.at)[0];
  if (!prop) continue;
  const h = prop.rest[2];
  const proposer = prop.rest[0]!;
  const cmdAtProposer = crx.find((r) => r.rest[0] === proposer);
  if (cmdAtProposer) add('proposer: command rx -> proposal signed', prop.at - cmdAtProposer.at);
  add('publish -> proposal signed', prop.at - t0);
  const hop = (kind: string): { sent: number[]; got: Map<string, number[]> } => {
    const sent: number[] = [];
    const got = new Map<string, number[]>();
    for (const s of signed.filter((x) => x.rest[1] === kind && x.rest[2] === h && x.rest[3] === '0')) {
      const es = byKey.get(s.key) ?? [];
      const tx = es.find((e) => e.ev === 'tx')!;
      const wire = es.find((e) => e.ev === 'wire');
      sent.push(s.at);
      if (tx) add(`${kind}: signed -> tx`, tx.at - s.at);
      if (tx && wire) add(`${kind}: tx -> wire (flushed)`, wire.at - tx.at);
      for (const r of es.filter((e) => e.ev === 'rx')) {
        const node = r.rest[0]!;
        const sock = Number(r.rest[1]);
        if (wire) add(`${kind}: wire -> receiver socket has data`, sock - wire.at);
        add(`${kind}: socket data -> mqtt.js emits`, r.at - sock);
        const edge = es.find((e) => e.ev === 'edge' && e.at >= r.at && e.at - r.at < 1_000);
        if (edge) add(`${kind}: rx -> edge checked (decode+verify)`, edge.at - r.at);
        const core = es.find((e) => e.ev === 'core' && edge && e.at >= edge.at && e.at - edge.at < 1_000);
        if (core && edge) add(`${kind}: edge -> core done (steps, fsync, sign, send)`, core.at - edge.at);
        got.set(node, [...(got.get(node) ?? []), core?.at ?? r.at]);
      }
    }
    return { sent, got };
  };
  const pr = hop('proposal');
  const pv = hop('prevote');
  const pc = hop('precommit');
  const nth = (xs: number[], k: number): number => [...xs].sort((a, b) => a - b)[k - 1] ?? NaN;
  add('proposal signed -> prevote quorum (quorum-th prevote signed)', nth(pv.sent, quorum) - prop.at);
  add('prevote quorum signed -> precommit quorum signed', nth(pc.sent, quorum) - nth(pv.sent, quorum));
  add('precommit quorum signed -> ack received', tEnd - nth(pc.sent, quorum));
  void pr;
}
// fsyncs inside each command's window, per device.
const nodeOf = new Map<string, string>();
for (const e of evs) if (e.ev === 'tx') nodeOf.set(e.file, e.rest[0]!);
const fsyncs = evs.filter((e) => e.ev === 'fsync');
for (const cmd of cmds) {
  const inside = fsyncs.filter((f) => f.at >= cmd.at && f.at <= Number(cmd.rest[0]));
  add('fsyncs per command window (all devices)', inside.length);
  add('fsync ms summed per command window (all devices)', inside.reduce((s, f) => s + Number(f.rest[1]), 0));
  for (const f of inside) add('one fsync (ms)', Number(f.rest[1]));
}
// The timeline of the median command.
const byTotal = [...cmds].sort((a, b) => (Number(a.rest[0]) - a.at) - (Number(b.rest[0]) - b.at));
const mid = byTotal[Math.floor(byTotal.length / 2)];
if (mid && process.env.TRACE_TIMELINE !== '0') {
  const t0 = mid.at, t1 = Number(mid.rest[0]);
  const kindOf = new Map<string, string>();
  for (const s of signed) kindOf.set(s.key, `${s.rest[1]}@${s.rest[2]}.${s.rest[3]} from ${s.rest[0]}`);
  kindOf.set(mid.key, 'command');
  console.log(`timeline of the median command (${(t1 - t0).toFixed(2)} ms):`);
  for (const e of evs.filter((x) => x.at >= t0 - 0.01 && x.at <= t1 + 0.01 && x.ev !== 'cmd').sort((a, b) => a.at - b.at)) {
    const who = nodeOf.get(e.file) ?? e.file;
    const what = e.ev === 'fsync' ? `${e.rest[1]} ms` : (kindOf.get(e.key) ?? e.key) + (e.ev === 'rx' ? ` (socket data ${(Number(e.rest[1]) - t0).toFixed(2)})` : '');
    console.log(`${(e.at - t0).toFixed(2).padStart(7)} ${who.padEnd(4)} ${e.ev.padEnd(6)} ${what}`);
  }
}
const rows = Object.entries(out).map(([k, v]) => ({ stage: k, p50: med(v), samples: v.length }));
console.log(`n=${n}, ${cmds.length} commands, load average ${l0.toFixed(2)} -> ${loadavg()[0]!.toFixed(2)}, trace ${traceDir}`);
for (const r of rows) console.log(`${String(r.p50).padStart(8)} ms  ${r.stage} (${r.samples})`);
