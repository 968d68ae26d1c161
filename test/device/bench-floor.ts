// bench:e2e's floor: what the message pattern of one height costs on this machine with nothing else in
// the way. n relay processes (bench-transport-relay.ts in its `peers` mode: a device's topic plan, each
// message signed and each received one verified) on a Mosquitto configured as the device fleet's:
// the bench publishes a command, the proposer proposes, all prevote, all precommit, the proposer acks,
// each message signed and each received one verified. Measured in the same run as the devices, so
// the device fleet's latency can be read against what three broker hops plus quorum scheduling take
// here, on the same cores, rather than against the round trip alone.

import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import mqtt from 'mqtt';
import { Mosquitto } from '../links/processes.js';

const relayPath = fileURLToPath(new URL('./bench-transport-relay.ts', import.meta.url));

export interface FloorRun {
  /** QoS 1 publish-to-own-subscription round trips (ms) with the relays connected and idle. */
  readonly rtt: number[];
  /** Command published to the proposer's ack received (ms), one height at a time. */
  readonly height: number[];
}

export async function floorLatencies(n: number, heights: number, gapMs: number): Promise<FloorRun> {
  const broker = await Mosquitto.start();
  const relays: ChildProcess[] = [];
  const c = mqtt.connect(broker.url, { clientId: `floor-bench-${process.pid}` });
  const connected = new Promise<void>((r) => c.once('connect', () => r()));
  try {
    for (let i = 0; i < n; i++) relays.push(fork(relayPath, ['peers', String(i), String(n), broker.url], { execArgv: ['--import', 'tsx'], stdio: 'inherit' }));
    await Promise.all(
      relays.map(
        (r, i) =>
          new Promise<void>((resolve, reject) => {
            const t = setTimeout(() => reject(new Error(`floor relay ${i} not ready within 20 s`)), 20_000);
            r.once('message', () => (clearTimeout(t), resolve()));
            r.once('exit', (code) => (clearTimeout(t), reject(new Error(`floor relay ${i} exited with ${code}`))));
          }),
      ),
    );
    await connected;
    (c.stream as unknown as { setNoDelay?: (b: boolean) => void }).setNoDelay?.(true);
    await c.subscribeAsync({ 'floor/ack': { qos: 1 }, 'bench/rtt': { qos: 1 } });
    const waitFor = (topic: string, payload: string, send: () => void): Promise<number> =>
      new Promise((resolve, reject) => {
        const t0 = performance.now();
        const timer = setTimeout(() => (c.off('message', on), reject(new Error(`floor: no ${topic} ${payload} within 5 s`))), 5_000);
        const on = (tp: string, m: Buffer): void => {
          if (tp !== topic || (payload !== '' && m.toString() !== payload)) return;
          clearTimeout(timer);
          c.off('message', on);
          resolve(performance.now() - t0);
        };
        c.on('message', on);
        send();
      });
    const rtt: number[] = [];
    for (let i = 0; i < 300; i++) rtt.push(await waitFor('bench/rtt', '', () => c.publish('bench/rtt', Buffer.alloc(200), { qos: 1 })));
    for (let h = 0; h < 10; h++) await waitFor('floor/ack', String(h), () => c.publish('floor/cmd', String(h), { qos: 1 })); // warm-up
    const height: number[] = [];
    for (let h = 10; h < 10 + heights; h++) {
      height.push(await waitFor('floor/ack', String(h), () => c.publish('floor/cmd', String(h), { qos: 1 })));
      await new Promise((r) => setTimeout(r, gapMs));
    }
    return { rtt, height };
  } finally {
    await c.endAsync(true);
    for (const r of relays) if (r.exitCode === null) r.kill();
    await broker.stop();
  }
}
