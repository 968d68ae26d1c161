// connectMqtt: mqtt:// and mqtts:// over Murmur's own TCP and TLS stream builders (so mqtt.js's
// WebSocket and SOCKS transports are never loaded), with the TLS checks mqtt.js makes.

import { readFileSync } from 'node:fs';
import net, { type AddressInfo, type Socket } from 'node:net';
import { createRequire } from 'node:module';
import { Aedes } from 'aedes';
import type { MqttClient } from 'mqtt';
import { describe, expect, it } from 'vitest';
import { EmbeddedBroker } from '../../runtime/links/broker.js';
import { closeMqtt, connectMqtt, flushNow } from '../../runtime/links/mqtt-connect.js';
import { Mosquitto } from './processes.js';

const fleet = 'tls-fleet';
const pem = (f: string): string => readFileSync(new URL(`./fixtures/tls/${f}`, import.meta.url), 'utf8');

/** Resolves with 'connect' or the first error's message, within 10 s. */
function outcome(c: MqttClient): Promise<string> {
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve('timeout'), 10_000);
    c.once('connect', () => (clearTimeout(t), resolve('connect')));
    c.once('error', (e) => (clearTimeout(t), resolve(`error: ${e.message}`)));
  });
}

describe('connectMqtt', () => {
  it('talks MQTT over TCP to Mosquitto without loading ws or socks', async () => {
    const broker = await Mosquitto.start();
    const c = connectMqtt(broker.url, { clientId: 'connect-test', reconnectPeriod: 0 });
    try {
      expect(await outcome(c)).toBe('connect');
      const got = new Promise<string>((resolve) => c.once('message', (_t, p: Buffer) => resolve(p.toString())));
      await c.subscribeAsync('t/x', { qos: 1 });
      await c.publishAsync('t/x', 'hello', { qos: 1 });
      expect(await got).toBe('hello');
      const loaded = Object.keys(createRequire(import.meta.url).cache).filter((k) => /node_modules\/(ws|socks|ip-address)\//.test(k));
      expect(loaded).toEqual([]);
    } finally {
      await c.endAsync();
      await broker.stop();
    }
  });

  it('flushNow hands a published packet to the kernel before the caller returns, whole and in order', async () => {
    const broker = await Mosquitto.start();
    const c = connectMqtt(broker.url, { clientId: 'flush-test', reconnectPeriod: 0 });
    try {
      expect(await outcome(c)).toBe('connect');
      await c.subscribeAsync('t/flush', { qos: 1 });
      const got: string[] = [];
      const both = new Promise<void>((resolve) => c.on('message', (_t, p: Buffer) => got.push(p.toString()) === 2 && resolve()));
      const s = c.stream as unknown as { writableCorked: number; writableLength: number };
      c.publish('t/flush', 'first', { qos: 1 });
      // mqtt-packet corked the socket until the next tick: the packet is still in Node's buffer.
      expect(s.writableCorked).toBe(1);
      expect(s.writableLength).toBeGreaterThan(0);
      flushNow(c);
      expect(s.writableCorked).toBe(0);
      expect(s.writableLength).toBe(0);
      c.publish('t/flush', 'second', { qos: 1 });
      flushNow(c);
      expect(s.writableLength).toBe(0);
      await both;
      expect(got).toEqual(['first', 'second']);
    } finally {
      await c.endAsync();
      await broker.stop();
    }
  });

  it('over TLS: connects with the CA and a client certificate, refuses an unknown server certificate', async () => {
    const broker = new EmbeddedBroker({
      credentials: [{ id: 'a', role: 'device', fleet }],
      tls: { key: pem('server.key'), cert: pem('server.crt'), ca: pem('ca.crt'), requestCert: true },
    });
    await broker.start();
    const good = connectMqtt(broker.url, { clientId: `murmur-${fleet}-a`, reconnectPeriod: 0, ca: pem('ca.crt'), cert: pem('device-a.crt'), key: pem('device-a.key') });
    const untrusted = connectMqtt(broker.url, { clientId: `murmur-${fleet}-a2`, reconnectPeriod: 0, cert: pem('device-a.crt'), key: pem('device-a.key') });
    const [goodOutcome, untrustedOutcome] = [outcome(good), outcome(untrusted)];
    try {
      expect(await goodOutcome).toBe('connect');
      expect(await untrustedOutcome).toMatch(/^error: .*(self[- ]signed|unable to (get|verify))/i);
      expect(untrusted.connected).toBe(false);
    } finally {
      await good.endAsync();
      untrusted.end(true);
      await broker.stop();
    }
  });
});

describe('a broker that sends a packet larger than any Murmur packet', () => {
  // Credentials in the URL take mqtt.js's own stream builder (connectMqtt's other path).
  it.each([['our TCP stream', ''], ["mqtt.js's stream", 'user:pw@']])('is cut off at the packet header, before the client buffers the body, with the reason logged (%s)', async (_path, auth) => {
    const net = await import('node:net');
    const { MqttLink } = await import('../../runtime/links/mqtt-link.js');
    const { limits } = await import('../../runtime/lib/limits.js');
    // A hostile broker: CONNACK, then a PUBLISH announcing 200 MB, fed as fast as the client reads.
    let sent = 0;
    let closedAtBytes: number | undefined;
    const conns = new Set<import('node:net').Socket>();
    const server = net.createServer((s) => {
      conns.add(s);
      s.on('error', () => undefined);
      s.on('close', () => (closedAtBytes ??= sent));
      s.once('data', () => {
        s.write(Buffer.from([0x20, 0x02, 0x00, 0x00]));
        const n = 200_000_000;
        const len: number[] = [];
        for (let x = n; ; ) {
          const b = x % 128;
          x = Math.floor(x / 128);
          len.push(x > 0 ? b | 0x80 : b);
          if (x === 0) break;
        }
        // QoS 2: its exchange is mqtt.js's, so it cannot be skipped (a QoS 0 or 1 one is: below).
        s.write(Buffer.from([0x34, ...len, 0x00, 0x03, 0x61, 0x2f, 0x62, 0x00, 0x01]));
        const chunk = Buffer.alloc(65_536, 1);
        const pump = (): void => {
          while (!s.destroyed && sent < 16_000_000) {
            sent += chunk.length;
            if (!s.write(chunk)) return void s.once('drain', pump);
          }
        };
        pump();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as import('node:net').AddressInfo).port;
    const events: string[] = [];
    const link = new MqttLink({ url: `mqtt://${auth}127.0.0.1:${port}`, fleet, node: 'a', startWaitMs: 1_000, reconnectMsMin: 60_000, log: (e, d) => events.push(`${e} ${String(d.reason ?? '')}`) });
    try {
      await link.start();
      const deadline = Date.now() + 3_000;
      while (closedAtBytes === undefined && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      // Before: the client read all 16 MB into mqtt-packet's buffer (200 MB if the broker kept going).
      expect(closedAtBytes, `the client was still reading after ${sent} bytes`).toBeDefined();
      expect(closedAtBytes).toBeLessThan(12_000_000); // what the kernel's socket buffers may hold, at most
      expect(events.some((e) => e.includes(`broker sent a QoS 2 PUBLISH of 200000000 bytes, more than ${limits.brokerPacketBytesMax}`)), events.join('\n')).toBe(true);
    } finally {
      await link.stop();
      for (const s of conns) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  // One retained message too big to be a frame halted a fleet: each reconnect subscribed again and got it
  // again. Now it is skipped unparsed (and acknowledged), and the connection carries on.
  it.each([['our TCP stream', ''], ["mqtt.js's stream", 'user:pw@']])('an oversized QoS 1 PUBLISH (a retained one, say) is skipped and acknowledged, and the frames after it arrive (%s)', async (_path, auth) => {
    const net = await import('node:net');
    const { MqttLink } = await import('../../runtime/links/mqtt-link.js');
    const { limits } = await import('../../runtime/lib/limits.js');
    const { encodeFrame } = await import('../../runtime/links/frame.js');
    const { fleetTopics, fleetPrefix } = await import('../../runtime/links/mqtt-topics.js');
    const { fleetTag } = await import('../../runtime/links/frame.js');
    const topics = { ...fleetTopics(fleet), root: fleetPrefix(fleet) };
    const publish = (flags: number, topic: string, packetId: number | null, body: Buffer): Buffer => {
      const t = Buffer.from(topic);
      const rest = Buffer.concat([Buffer.from([t.length >> 8, t.length & 0xff]), t, packetId === null ? Buffer.alloc(0) : Buffer.from([packetId >> 8, packetId & 0xff]), body]);
      const len: number[] = [];
      for (let x = rest.length; ; ) {
        const b = x % 128;
        x = Math.floor(x / 128);
        len.push(x > 0 ? b | 0x80 : b);
        if (x === 0) break;
      }
      return Buffer.concat([Buffer.from([0x30 | flags, ...len]), rest]);
    };
    const received: number[] = [];
    const conns = new Set<import('node:net').Socket>();
    let connections = 0;
    const server = net.createServer((s) => {
      conns.add(s);
      connections++;
      s.on('error', () => undefined);
      let bytes = Buffer.alloc(0);
      let scanned = 0;
      s.on('data', (d: Buffer) => {
        bytes = Buffer.concat([bytes, d]);
        // PUBACK (0x40 0x02 id) from the client for the skipped message's id 7 (the client sends only
        // CONNECT, SUBSCRIBE and PINGREQ besides, none with these two bytes at a packet's start here).
        for (; scanned + 3 < bytes.length; scanned++) if (bytes[scanned] === 0x40 && bytes[scanned + 1] === 0x02) received.push(((bytes[scanned + 2] as number) << 8) | (bytes[scanned + 3] as number));
      });
      s.once('data', () => {
        s.write(Buffer.from([0x20, 0x02, 0x00, 0x00]));
        // Retained (flag 1), QoS 1 (flags 2), 2 MB, split across writes mid-header and mid-body; then a
        // good frame on a peer's consensus topic at QoS 0, in the same write as the junk's tail.
        // Before it, in the same write, a good QoS 1 frame (id 6): acknowledged first, as MQTT wants the
        // PUBACKs in the order the PUBLISHes came (one written at once for the junk went out first).
        const big = publish(0x03, `${topics.root}/node/x/state`, 7, Buffer.alloc(2_000_000, 0x41));
        const first = publish(0x02, `${topics.root}/consensus/b`, 6, Buffer.from(encodeFrame(fleetTag(fleet), 'consensus', new Uint8Array([9, 9, 9]))));
        const good = publish(0x00, `${topics.root}/consensus/b`, null, Buffer.from(encodeFrame(fleetTag(fleet), 'consensus', new Uint8Array([1, 2, 3]))));
        s.write(Buffer.concat([first, big.subarray(0, 2)]));
        setTimeout(() => {
          s.write(big.subarray(2, 1_000_000));
          setTimeout(() => s.write(Buffer.concat([big.subarray(1_000_000), good])), 20);
        }, 20);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as import('node:net').AddressInfo).port;
    const events: string[] = [];
    const link = new MqttLink({ url: `mqtt://${auth}127.0.0.1:${port}`, fleet, node: 'a', peers: ['a', 'b'], startWaitMs: 1_000, reconnectMsMin: 60_000, log: (e, d) => events.push(`${e} ${String(d.reason ?? '')}`) });
    const frames: Uint8Array[] = [];
    link.onReceive((f) => frames.push(f.bytes));
    try {
      await link.start();
      const deadline = Date.now() + 3_000;
      while ((frames.length < 2 || received.length < 2) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      expect(frames.map((f) => [...f])).toEqual([[9, 9, 9], [1, 2, 3]]);
      expect(received).toEqual([6, 7]);
      expect(link.isUp()).toBe(true);
      expect(connections).toBe(1);
      expect(link.counters().badFrameReasons).toMatchObject({ oversized: 1 });
      const said = events.find((e) => e.startsWith('oversized-publish'));
      expect(said, events.join('\n')).toBe(`oversized-publish the broker sent a retained message of ${2_000_000 + 2 + `${topics.root}/node/x/state`.length + 2} bytes on ${topics.root}/node/x/state, more than any Murmur frame (${limits.brokerPacketBytesMax}): skipped; it stays on the broker for every new subscriber until deleted (mosquitto_pub -r -n -t TOPIC), and the broker can refuse such messages (Mosquitto: message_size_limit)`);
      expect(events.filter((e) => e.startsWith('error'))).toEqual([]);
    } finally {
      await link.stop();
      for (const s of conns) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});

describe('closeMqtt', () => {
  // mqtt.js's graceful end() waits for every unacknowledged QoS 1 packet, and stops reconnecting first:
  // a publish made after the broker died held it for ever (fleet-sim's real-time run, murmurctl).
  it('ends a client holding a QoS 1 publish the broker died before acknowledging, within its bound', async () => {
    const broker = await Mosquitto.start();
    const c = connectMqtt(broker.url, { clientId: 'close-test', reconnectPeriod: 200 });
    try {
      expect(await outcome(c)).toBe('connect');
      await broker.stop();
      for (let i = 0; i < 100 && c.connected; i++) await new Promise((r) => setTimeout(r, 20));
      expect(c.connected).toBe(false);
      c.publish('t/x', 'into the outage', { qos: 1 });
      expect(Object.keys(c.outgoing)).toHaveLength(1); // what end(false) would wait on
      const t0 = performance.now();
      await closeMqtt(c, 1_000);
      expect(performance.now() - t0).toBeLessThan(5_000);
      expect(c.disconnected).toBe(true);
    } finally {
      c.end(true);
      await broker.stop();
    }
  });

  it('ends a connected client whose broker never acknowledges a publish, within its bound', async () => {
    // An aedes broker that takes the publish and never answers it (frozen, or hostile).
    const aedes = await Aedes.createBroker({ authorizePublish: () => undefined });
    const server = net.createServer((sock) => aedes.handle(sock));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const c = connectMqtt(`mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`, { clientId: 'never-acked', reconnectPeriod: 0 });
    try {
      expect(await outcome(c)).toBe('connect');
      c.publish('t/x', 'never acknowledged', { qos: 1 });
      await new Promise((r) => setTimeout(r, 200));
      expect(c.connected).toBe(true);
      expect(Object.keys(c.outgoing)).toHaveLength(1);
      const t0 = performance.now();
      await closeMqtt(c, 500);
      expect(performance.now() - t0).toBeLessThan(3_000);
      // Ended: the socket destroyed, not connected, and no reconnect after an end().
      expect((c.stream as unknown as Socket).destroyed).toBe(true);
      await new Promise((r) => setTimeout(r, 50));
      expect(c.connected).toBe(false);
      expect(c.disconnecting).toBe(true);
    } finally {
      c.end(true);
      server.close();
      await new Promise<void>((r) => aedes.close(() => r()));
    }
  });
});
