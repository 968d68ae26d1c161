// murmurctl's connection to the broker, said for what went wrong: --broker pointed at something that
// answers but is not an MQTT broker (an HTTP port) was "cannot reach the broker ...: Invalid header flag
// bits, must be 0x0 for puback packet"; a --timeout too short for the broker's CONNACK was "cannot
// reach the broker ...: connack timeout" while the broker was up. A server that takes the connection and
// never answers stands for a broker slower than --timeout (a real one's CONNACK on loopback may come
// within 1 ms, or not); a real Mosquitto shows that the longest --timeout (24h) is taken.

import { mkdtempSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { Mosquitto } from '../links/processes.js';
import { makeFleet, writeFleetFiles } from '../support/fleet-fixture.js';
import { runCli, type CliRun } from '../support/run-cli.js';

const dir = mkdtempSync(join(tmpdir(), 'murmur-ctl-connect-'));
let manifest = '';
let http: HttpServer;
let silent: net.Server;
const held = new Set<net.Socket>();
let broker: Mosquitto;
const urlOf = (s: net.Server | HttpServer): string => `mqtt://127.0.0.1:${(s.address() as AddressInfo).port}`;

beforeAll(async () => {
  manifest = await writeFleetFiles(await makeFleet({ fleet: 'connect', validators: 4, seed: 7 }), dir);
  http = createHttpServer((_req, res) => res.end('hello\n'));
  // Takes every connection and says nothing (the sockets are kept, so none is closed by the collector).
  silent = net.createServer((s) => {
    held.add(s);
    s.on('close', () => held.delete(s));
  });
  await Promise.all([new Promise<void>((r) => http.listen(0, '127.0.0.1', () => r())), new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()))]);
  broker = await Mosquitto.start();
}, 30_000);

afterAll(async () => {
  for (const s of held) s.destroy();
  await Promise.all([new Promise((r) => http?.close(r)), new Promise((r) => silent?.close(r))]);
  await broker?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const ctl = (broker: string, ...args: string[]): Promise<CliRun & { ms: number }> => {
  const t0 = performance.now();
  return runCli('murmurctl', [...args, '--broker', broker, '--manifest', manifest], { timeoutMs: 30_000 }).then((r) => ({ ...r, ms: performance.now() - t0 }));
};
const key = (): string[] => ['--key', join(dir, 'op.key')];

describe.concurrent('murmurctl against a server that is not an MQTT broker (an HTTP port)', () => {
  it('send, status and watch say the server answered, but not as an MQTT broker (exit 5)', async ({ expect }) => {
    const url = urlOf(http);
    const runs = await Promise.all([ctl(url, 'send', 'noop', ...key(), '--wait', 'none'), ctl(url, 'status'), ctl(url, 'watch', '--timeout', '5s'), ctl(url, 'log')]);
    for (const r of runs) {
      expect(r.stderr).toBe(`murmurctl: the server at ${url} answered, but not as an MQTT broker (an HTTP port?); check --broker\n`);
      expect(r.stdout).toBe('');
      expect(r.code, r.stderr).toBe(5);
    }
  });

  it('a server whose first bytes read as an oversized packet is said the same way (the packet filter hid its first byte)', async ({ expect }) => {
    const odd = net.createServer((s) => {
      held.add(s);
      s.on('close', () => held.delete(s));
      s.once('data', () => s.write(Buffer.from([0x50, 0xff, 0xff, 0x7f, 0x00])));
    });
    await new Promise<void>((r) => odd.listen(0, '127.0.0.1', () => r()));
    try {
      const url = urlOf(odd);
      const r = await ctl(url, 'status');
      expect(r.stderr).toBe(`murmurctl: the server at ${url} answered, but not as an MQTT broker (an HTTP port?); check --broker\n`);
      expect(r.code, r.stderr).toBe(5);
    } finally {
      await new Promise((r) => odd.close(r));
    }
  });
});

describe.concurrent('murmurctl send against a broker whose CONNACK does not come within --timeout', () => {
  it('a --timeout shorter than the connection wait says so and the fix (exit 5), at --timeout', async ({ expect }) => {
    const url = urlOf(silent);
    const [ms300, ms1] = await Promise.all([ctl(url, 'send', 'noop', ...key(), '--timeout', '300ms', '--wait', 'none'), ctl(url, 'send', 'noop', ...key(), '--timeout', '1ms', '--wait', 'none')]);
    expect(ms300.stderr).toBe(`murmurctl: no CONNACK from the broker at ${url} within --timeout (300 ms); give a longer --timeout\n`);
    expect(ms1.stderr).toBe(`murmurctl: no CONNACK from the broker at ${url} within --timeout (1 ms); give a longer --timeout\n`);
    for (const r of [ms300, ms1]) {
      expect(r.code, r.stderr).toBe(5);
      expect(r.stdout).toBe('');
    }
  });

  it('with a longer --timeout the connection is waited for 5 s, then said as a broker that sent no CONNACK (exit 5)', async ({ expect }) => {
    const url = urlOf(silent);
    const r = await ctl(url, 'send', 'noop', ...key(), '--timeout', '20s', '--wait', 'none');
    expect(r.stderr).toBe(`murmurctl: the broker at ${url} took the connection but sent no CONNACK within 5 s: is it an MQTT broker, and not overloaded?\n`);
    expect(r.code, r.stderr).toBe(5);
    expect(r.ms).toBeLessThan(15_000);
  });
});

describe.concurrent('murmurctl send with the longest --timeout on a real broker', () => {
  it('--timeout 24h --wait none publishes (exit 0) with no warning from Node', async ({ expect }) => {
    const r = await ctl(broker.url, 'send', 'noop', ...key(), '--timeout', '24h', '--wait', 'none');
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^published noop op\/[0-9a-f]{32}\n$/);
    expect(r.code).toBe(0);
  });
});
