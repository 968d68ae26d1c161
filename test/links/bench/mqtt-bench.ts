// MQTT benchmark: round trip p50/p99 and messages/s through the MqttLink against a bare mqtt.js
// client in the same run, on the embedded aedes broker (own process) and on Mosquitto.

import { spawn, type ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import mqtt, { type MqttClient } from 'mqtt';
import { Mosquitto } from '../processes.js';
import { MqttLink } from '../../../runtime/links/mqtt-link.js';
import { fleetTopics } from '../../../runtime/links/mqtt-topics.js';

const fleet = 'bench';
const password = 'bench';
const payloadBytes = 150; // about one signed vote envelope
const peers = ['a', 'b']; // from the fleet manifest on a device

export interface MqttResult {
  readonly broker: string;
  readonly client: 'link' | 'bare';
  readonly rttUsP50: number;
  readonly rttUsP99: number;
  /** Median over rounds of msgs/s; and the median of link/bare ratios from paired runs. */
  readonly msgsPerSec: number;
  readonly pairedRatioP50: number;
}

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return Math.round(s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? Number.NaN);
};

async function bare(url: string, id: string): Promise<MqttClient> {
  const c = await mqtt.connectAsync(url, { username: id, password, clientId: id, reconnectPeriod: 0 });
  (c.stream as unknown as Socket).setNoDelay(true);
  return c;
}

/** Sequential QoS 1 round trips: a sends, b echoes, a times it. */
async function rttBare(url: string, n: number): Promise<number[]> {
  const t = fleetTopics(fleet);
  const a = await bare(url, 'bare-a');
  const b = await bare(url, 'bare-b');
  await b.subscribeAsync(t.consensus('bare-a'), { qos: 1 });
  await a.subscribeAsync(t.consensus('bare-b'), { qos: 1 });
  b.on('message', (_t, p) => b.publish(t.consensus('bare-b'), p, { qos: 1 }));
  const out: number[] = [];
  let resolve: () => void = () => {};
  a.on('message', () => resolve());
  const payload = Buffer.alloc(payloadBytes, 1);
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await new Promise<void>((r) => {
      resolve = r;
      a.publish(t.consensus('bare-a'), payload, { qos: 1 });
    });
    out.push((performance.now() - t0) * 1000);
  }
  await a.endAsync();
  await b.endAsync();
  return out;
}

async function rttLink(url: string, n: number): Promise<number[]> {
  const a = new MqttLink({ url, fleet, node: 'a', username: 'a', password, peers });
  const b = new MqttLink({ url, fleet, node: 'b', username: 'b', password, peers });
  await a.start();
  await b.start();
  b.onReceive((f) => b.broadcast(f.bytes, 'consensus'));
  let resolve: () => void = () => {};
  a.onReceive(() => resolve());
  const payload = Buffer.alloc(payloadBytes, 1);
  const out: number[] = [];
  await new Promise((r) => setTimeout(r, 100)); // subscriptions settle
  for (let i = 0; i < n; i++) {
    payload.writeUInt32BE(i, 0); // distinct bytes, as real envelopes are
    const t0 = performance.now();
    await new Promise<void>((r) => {
      resolve = r;
      a.broadcast(payload, 'consensus');
    });
    out.push((performance.now() - t0) * 1000);
  }
  await a.stop();
  await b.stop();
  return out;
}

/** Deliveries per second at QoS 1, with at most `window` messages sent but not yet delivered. */
async function rateBare(url: string, total: number, window: number): Promise<number> {
  const t = fleetTopics(fleet);
  const a = await bare(url, 'bare-a');
  const b = await bare(url, 'bare-b');
  await b.subscribeAsync(t.consensus('bare-a'), { qos: 1 });
  let got = 0;
  let wake: () => void = () => {};
  b.on('message', () => {
    got++;
    wake();
  });
  const payload = Buffer.alloc(payloadBytes, 2);
  const t0 = performance.now();
  let sent = 0;
  while (got < total) {
    while (sent < total && sent - got < window) {
      a.publish(t.consensus('bare-a'), payload, { qos: 1 });
      sent++;
    }
    await new Promise<void>((r) => (wake = r));
  }
  const rate = total / ((performance.now() - t0) / 1000);
  await a.endAsync();
  await b.endAsync();
  return rate;
}

async function rateLink(url: string, total: number, window: number): Promise<number> {
  const a = new MqttLink({ url, fleet, node: 'a', username: 'a', password, peers });
  const b = new MqttLink({ url, fleet, node: 'b', username: 'b', password, peers });
  await a.start();
  await b.start();
  await new Promise((r) => setTimeout(r, 100));
  let got = 0;
  let wake: () => void = () => {};
  b.onReceive(() => {
    got++;
    wake();
  });
  const payload = Buffer.alloc(payloadBytes, 2);
  const t0 = performance.now();
  let sent = 0;
  while (got < total) {
    while (sent < total && sent - got < window) {
      payload.writeUInt32BE(sent, 0);
      if (!a.broadcast(payload, 'consensus')) break; // queue full: wait for deliveries
      sent++;
    }
    await new Promise<void>((r) => (wake = r));
  }
  const rate = total / ((performance.now() - t0) / 1000);
  await a.stop();
  await b.stop();
  return rate;
}

async function startAedesProcess(): Promise<{ url: string; proc: ChildProcess }> {
  const proc = spawn(process.execPath, ['--import', 'tsx', new URL('./aedes-server.ts', import.meta.url).pathname, fleet, password], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('aedes did not start within 10 s')), 10_000);
    proc.stdout?.once('data', (d: Buffer) => {
      clearTimeout(timer);
      resolve(Number(d.toString().trim()));
    });
  });
  return { url: `mqtt://127.0.0.1:${port}`, proc };
}

export async function runMqttBench(opts: { rttSamples: number; messages: number; window: number; rounds: number }): Promise<MqttResult[]> {
  const results: MqttResult[] = [];
  const brokers: { name: string; start(): Promise<{ url: string; stop(): Promise<void> }> }[] = [
    {
      name: 'aedes',
      start: async () => {
        const { url, proc } = await startAedesProcess();
        return { url, stop: async () => void (proc.pid !== undefined && process.kill(proc.pid, 'SIGTERM')) };
      },
    },
    {
      name: 'mosquitto',
      start: async () => {
        const m = await Mosquitto.start();
        return { url: m.url, stop: () => m.stop() };
      },
    },
  ];
  for (const b of brokers) {
    const s = await b.start();
    try {
      // Alternate bare and link runs so drift in the shared machine's load hits both alike.
      const bareRtt = await rttBare(s.url, opts.rttSamples);
      const linkRtt = await rttLink(s.url, opts.rttSamples);
      // One discarded run each so neither side is measured before the JIT has warmed it up.
      await rateBare(s.url, opts.messages, opts.window);
      await rateLink(s.url, opts.messages, opts.window);
      // Paired short runs in alternating order; the machine is shared, so compare medians of pairs.
      const bareRate: number[] = [];
      const linkRate: number[] = [];
      const ratios: number[] = [];
      for (let i = 0; i < opts.rounds; i++) {
        let br: number;
        let lr: number;
        if (i % 2 === 0) {
          br = await rateBare(s.url, opts.messages, opts.window);
          lr = await rateLink(s.url, opts.messages, opts.window);
        } else {
          lr = await rateLink(s.url, opts.messages, opts.window);
          br = await rateBare(s.url, opts.messages, opts.window);
        }
        bareRate.push(br);
        linkRate.push(lr);
        ratios.push(lr / br);
      }
      const med = (xs: number[]) => pct(xs.map((x) => x * 1000), 50) / 1000;
      results.push({ broker: b.name, client: 'bare', rttUsP50: pct(bareRtt, 50), rttUsP99: pct(bareRtt, 99), msgsPerSec: Math.round(med(bareRate)), pairedRatioP50: 1 });
      results.push({ broker: b.name, client: 'link', rttUsP50: pct(linkRtt, 50), rttUsP99: pct(linkRtt, 99), msgsPerSec: Math.round(med(linkRate)), pairedRatioP50: Math.round(med(ratios) * 100) / 100 });
    } finally {
      await s.stop();
    }
  }
  return results;
}
