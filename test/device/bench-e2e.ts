// `npm run bench:e2e`: real `murmur start` processes on a real Mosquitto (loopback). Measures, in one
// run: the MQTT round trip (QoS 1 publish to own subscription), operator-to-commit latency at n = 4 and
// n = 7 (publish of a signed command to a verified commit certificate in a device's ack, the same proof
// murmurctl checks) as a ratio to that round trip, resident memory per device at n = 7, and
// start-to-ready of one device joining a running fleet. A sniffer on the consensus topics splits each
// command's latency into stages: until its block is proposed, the prevote and precommit quorums (as the
// broker delivers them), and from the precommit quorum to the verified ack. Before each fleet, the
// floor (bench-floor.ts): n bare relay processes passing one height's signed messages over their own
// Mosquitto, the same pattern with nothing else, as a ratio to the round trip measured beside them.

import { readFileSync } from 'node:fs';
import mqtt from 'mqtt';
import { createSigner, initCrypto, keyPairFromSeed, randomBytes } from '../../runtime/crypto/sodium.js';
import { readKeyFile } from '../../runtime/crypto/key-file.js';
import { toHex } from '../../runtime/lib/bytes.js';
import { unwrap } from '../../runtime/lib/result.js';
import { decodeFrame, encodeFrame, fleetTag } from '../../runtime/links/frame.js';
import { limits } from '../../runtime/lib/limits.js';
import { openAck } from '../../runtime/cli/ctl-common.js';
import { controlTopics } from '../../runtime/device/control-topics.js';
import { decodeProof, verifyProof, type BlockProof } from '../../runtime/wire/proof.js';
import { encodeCommandBody } from '../../runtime/wire/command.js';
import { decodeEnvelope, sealEnvelope } from '../../runtime/wire/envelope.js';
import { kinds } from '../../runtime/wire/kinds.js';
import { decodeCbor } from '../../runtime/wire/cbor.js';
import { createVerifier } from '../../runtime/crypto/sodium.js';
import { DeviceFleet } from './device-fleet.js';
import { floorLatencies } from './bench-floor.js';

const commandsPerRun = Number(process.env.BENCH_COMMANDS ?? 40);
const commitWaitMs = Number(process.env.BENCH_COMMIT_WAIT_MS ?? 100);

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
};
const r2 = (x: number): number => Math.round(x * 100) / 100;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function mqttRoundTrip(url: string, samples: number): Promise<number[]> {
  const c = mqtt.connect(url, { clientId: `bench-rtt-${process.pid}` });
  await new Promise<void>((r) => c.once('connect', () => r()));
  (c.stream as unknown as { setNoDelay?: (b: boolean) => void }).setNoDelay?.(true);
  await c.subscribeAsync('bench/rtt', { qos: 1 });
  const out: number[] = [];
  for (let i = 0; i < samples; i++) {
    const t0 = performance.now();
    await new Promise<void>((resolve) => {
      c.once('message', () => resolve());
      c.publish('bench/rtt', Buffer.alloc(200), { qos: 1 });
    });
    out.push(performance.now() - t0);
  }
  await c.endAsync();
  return out;
}

/** When the broker delivered each height's proposal and each validator's first prevote and precommit. */
interface HeightSeen {
  proposal: number | null;
  prevote: Map<string, number>;
  precommit: Map<string, number>;
}

/** Subscribes to every device's consensus topic and timestamps proposals and votes by height. */
async function sniffConsensus(url: string): Promise<{ seen: Map<number, HeightSeen>; end: () => Promise<void> }> {
  const seen = new Map<number, HeightSeen>();
  const c = mqtt.connect(url, { clientId: `bench-sniff-${process.pid}` });
  await new Promise<void>((r) => c.once('connect', () => r()));
  (c.stream as unknown as { setNoDelay?: (b: boolean) => void }).setNoDelay?.(true);
  c.on('message', (_topic, p: Buffer) => {
    const at = performance.now();
    const f = decodeFrame(new Uint8Array(p), fleetTag('e2e'), limits.envelopeBytesMax);
    if (!f.ok) return;
    const e = decodeEnvelope(f.value.envelope);
    if (!e.ok || (e.value.kind !== 'proposal' && e.value.kind !== 'prevote' && e.value.kind !== 'precommit')) return;
    const raw = decodeCbor(e.value.body, limits.envelopeBytesMax);
    if (!raw.ok) return;
    const { height } = kinds[e.value.kind].parse(raw.value) as { height: number };
    const h = seen.get(height) ?? { proposal: null, prevote: new Map(), precommit: new Map() };
    seen.set(height, h);
    if (e.value.kind === 'proposal') h.proposal ??= at;
    else if (!h[e.value.kind].has(e.value.sender)) h[e.value.kind].set(e.value.sender, at);
  });
  await c.subscribeAsync('murmur/v1/e2e/consensus/+', { qos: 0 });
  return { seen, end: () => c.endAsync() };
}

/** One command's latency split at its block's proposal and vote quorums (null: a stage not seen). */
interface Stages {
  toProposal: number | null;
  prevoteQuorum: number | null;
  precommitQuorum: number | null;
  toAck: number | null;
}

function stagesOf(h: HeightSeen | undefined, t0: number, done: number, quorum: number): Stages {
  const nth = (m: Map<string, number> | undefined): number | null => (m && m.size >= quorum ? ([...m.values()].sort((a, b) => a - b)[quorum - 1] as number) : null);
  const p = h?.proposal ?? null;
  const pv = nth(h?.prevote);
  const pc = nth(h?.precommit);
  return {
    toProposal: p === null ? null : p - t0,
    prevoteQuorum: p === null || pv === null ? null : pv - p,
    precommitQuorum: pv === null || pc === null ? null : pc - pv,
    toAck: pc === null ? null : done - pc,
  };
}

async function commitLatencies(fleet: DeviceFleet, count: number, stages: Stages[] = []): Promise<number[]> {
  const verifier = createVerifier();
  const idn = unwrap(await readKeyFile(fleet.keyFile('ops')));
  const signer = createSigner(keyPairFromSeed(idn.seed));
  const topics = controlTopics('e2e');
  const c = mqtt.connect(fleet.broker.url, { clientId: `bench-op-${process.pid}` });
  await new Promise<void>((r) => c.once('connect', () => r()));
  (c.stream as unknown as { setNoDelay?: (b: boolean) => void }).setNoDelay?.(true);
  await c.subscribeAsync({ [topics.acksOf('ops')]: { qos: 1 }, [topics.proofsAll]: { qos: 1 } });
  const sniffer = await sniffConsensus(fleet.broker.url);
  const n = fleet.manifest.validators.length;
  const quorum = Math.floor((2 * n) / 3) + 1;
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    const nonce = randomBytes(16);
    const ref = `ops/${toHex(nonce)}`;
    const now = Date.now();
    const env = sealEnvelope('command', 'e2e', 'ops', encodeCommandBody({ type: 'noop', nonce, issuedAt: now, expiresAt: now + 60_000, args: {} }), signer);
    const t0 = performance.now();
    const got = await new Promise<number | null>((resolve) => {
      const timer = setTimeout(() => resolve(null), 15_000);
      let hashHex: string | null = null;
      // Proofs by block hash, decoded as they come and verified only for the block the ack names, as
      // murmurctl send does: every device publishes every block's proof, and checking each copy's
      // certificate here would take this process's CPU from the devices it shares two cores with.
      const proofs = new Map<string, BlockProof[]>();
      const finish = (): void => {
        const copies = hashHex === null ? undefined : proofs.get(hashHex);
        let p: BlockProof | undefined;
        while (copies !== undefined && p === undefined && copies.length > 0) {
          const next = copies.shift() as BlockProof;
          if (verifyProof(next, 'e2e', fleet.manifest.validators, verifier).ok) p = next;
        }
        if (p === undefined) return;
        clearTimeout(timer);
        c.off('message', onMsg);
        const done = performance.now();
        stages.push(stagesOf(sniffer.seen.get(p.certificate.height), t0, done, quorum));
        resolve(done - t0);
      };
      const onMsg = (topic: string, p: Buffer): void => {
        if (topics.isProof(topic)) {
          const d = decodeProof(new Uint8Array(p));
          if (!d.ok) return;
          const h = toHex(d.value.block.hash);
          proofs.set(h, [...(proofs.get(h) ?? []), d.value]);
          return finish();
        }
        const o = openAck(new Uint8Array(p), fleet.manifest, verifier);
        if (!o.ok || o.ack.command !== ref || o.ack.stage !== 'accepted' || !o.ack.blockHash) return;
        hashHex = toHex(o.ack.blockHash);
        finish();
      };
      c.on('message', onMsg);
      c.publish(topics.commands, Buffer.from(encodeFrame(fleetTag('e2e'), 'consensus', env)), { qos: 1 });
    });
    if (got === null) throw new Error(`command ${i} was not committed within 15 s`);
    out.push(got);
    // One command at a time, as an operator sends them: the next at least a commit wait after this
    // one, so each is a lone command (faster ones are gathered, up to a commit wait each, by design:
    // ARCHITECTURE.md, Timeouts), at a spread of phases of the idle block cycle.
    await sleep(commitWaitMs + (i % 7) * 11);
  }
  await c.endAsync();
  await sniffer.end();
  return out;
}

function rssMb(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

async function run(n: number): Promise<{ rtt: number[]; commit: number[]; stages: Stages[]; rss: number[]; readyMs: number[]; joinReadyMs: number | null }> {
  const fleet = new DeviceFleet({ validators: n, logLevel: 'info', consensus: { commitWaitMs } });
  await fleet.setup();
  try {
    const readyMs = await fleet.startAll();
    await sleep(3_000); // let every device connect, sync and settle
    await commitLatencies(fleet, 5); // warm-up (JIT, first subscriptions)
    const rtt = await mqttRoundTrip(fleet.broker.url, 300);
    const stages: Stages[] = [];
    const commit = await commitLatencies(fleet, commandsPerRun, stages);
    const rttAfter = await mqttRoundTrip(fleet.broker.url, 300);
    let rss: number[] = [];
    let joinReadyMs: number | null = null;
    if (n === 7) {
      await sleep(5_000);
      rss = [...fleet.devices.keys()].map((id) => rssMb(fleet.pid(id)));
      // Start to ready of one device joining a running fleet (its WAL already holds the chain so far).
      await fleet.stop('d7');
      const d = fleet.start('d7');
      joinReadyMs = await d.ready;
    }
    return { rtt: [...rtt, ...rttAfter], commit, stages, rss, readyMs, joinReadyMs };
  } finally {
    await fleet.teardown();
  }
}

function stageMedians(xs: Stages[]): Record<keyof Stages, number | null> {
  const med = (k: keyof Stages): number | null => {
    const v = xs.map((x) => x[k]).filter((x): x is number => x !== null);
    return v.length === 0 ? null : r2(pct(v, 50));
  };
  return { toProposal: med('toProposal'), prevoteQuorum: med('prevoteQuorum'), precommitQuorum: med('precommitQuorum'), toAck: med('toAck') };
}

async function main(): Promise<void> {
  await initCrypto();
  const report: Record<string, unknown> = { commitWaitMs, commandsPerRun, entry: process.env.MURMUR_E2E_ENTRY ?? 'bin/murmur.js (tsx)', nodeFlags: process.env.MURMUR_E2E_NODE_FLAGS ?? '' };
  for (const n of [4, 7]) {
    const floor = await floorLatencies(n, commandsPerRun, commitWaitMs);
    const floorRtt50 = pct(floor.rtt, 50);
    const floor50 = pct(floor.height, 50);
    const r = await run(n);
    const rtt50 = pct(r.rtt, 50);
    const c50 = pct(r.commit, 50);
    const c99 = pct(r.commit, 99);
    report[`n${n}`] = {
      mqttRttMsP50: r2(rtt50),
      commitMsP50: r2(c50),
      commitMsP99: r2(c99),
      ratioP50: r2(c50 / rtt50),
      ratioP99: r2(c99 / rtt50),
      stagesMsP50: stageMedians(r.stages),
      floor: { mqttRttMsP50: r2(floorRtt50), heightMsP50: r2(floor50), heightMsP99: r2(pct(floor.height, 99)), ratioP50: r2(floor50 / floorRtt50) },
      devicesOverFloorP50: r2(c50 / floor50),
      startAllReadyMs: r.readyMs,
      ...(n === 7 ? { rssMb: r.rss.map((x) => Math.round(x)), rssMbMax: Math.round(Math.max(...r.rss)), joinReadyMs: r.joinReadyMs } : {}),
    };
    console.log(`n=${n}: MQTT RTT p50 ${r2(rtt50)} ms; operator-to-commit p50 ${r2(c50)} ms (ratio ${r2(c50 / rtt50)}), p99 ${r2(c99)} ms (ratio ${r2(c99 / rtt50)})`);
    console.log(`n=${n}: floor (${n} bare relay processes, one height's signed messages, nothing else): p50 ${r2(floor50)} ms over a ${r2(floorRtt50)} ms round trip (ratio ${r2(floor50 / floorRtt50)}), p99 ${r2(pct(floor.height, 99))} ms; the devices take ${r2(c50 / floor50)}x the floor`);
    const st = stageMedians(r.stages);
    console.log(`n=${n}: stages p50: to the proposal ${st.toProposal} ms, prevote quorum ${st.prevoteQuorum} ms, precommit quorum ${st.precommitQuorum} ms, to the verified ack ${st.toAck} ms`);
    if (n === 7) console.log(`n=7: resident memory per device ${r.rss.map((x) => Math.round(x)).join(', ')} MB; start-to-ready of a joining device ${r.joinReadyMs} ms`);
  }
  console.log(JSON.stringify(report));
}

// A timeout or Ctrl-C still runs the 'exit' hook of device-fleet.ts, which kills the devices.
process.once('SIGTERM', () => process.exit(143));
process.once('SIGINT', () => process.exit(130));
await main();
