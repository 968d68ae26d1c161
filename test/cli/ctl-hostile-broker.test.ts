// The operator's CLI against a broker that stops acknowledging: a real aedes broker on loopback that
// takes murmurctl's connection and then swallows its command publish (no PUBACK, nothing forwarded) or
// its subscription (no SUBACK), as a frozen or hostile broker does. murmurctl used to wait on that
// acknowledgement, and then on the end of its connection (mqtt.js's graceful end waits for every
// unacknowledged packet), for ever: past --timeout, with nothing said. Now every wait ends by --timeout
// and says which acknowledgement the broker kept.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import net, { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Aedes } from 'aedes';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { makeFleet, writeFleetFiles } from '../support/fleet-fixture.js';
import { cliEntry, type CliRun } from '../support/run-cli.js';

const dir = mkdtempSync(join(tmpdir(), 'murmur-hostile-broker-'));
/** The hostile broker keeps the command publishes of the fleets named swallow-pub*, and fleet
 *  "swallow-sub"'s subscriptions, unacknowledged; the cases run side by side, each with its fleet. */
const fleets = ['pub', 'pub-int', 'sub'] as const;
type Which = (typeof fleets)[number];
const manifests: Record<Which, string> = { pub: '', 'pub-int': '', sub: '' };
/** Command publishes the broker received, by fleet. */
const seen = new Map<string, number>();
const commandsOf = (which: Which): number => seen.get(`swallow-${which}`) ?? 0;
let aedes: Aedes;
let server: net.Server;
let url = '';

beforeAll(async () => {
  for (const which of fleets) {
    mkdirSync(join(dir, which));
    manifests[which] = await writeFleetFiles(await makeFleet({ fleet: `swallow-${which}`, validators: 4, seed: 41 }), join(dir, which));
  }
  aedes = await Aedes.createBroker({
    // Never answered: the packet is neither acknowledged nor forwarded.
    authorizePublish: (_client, packet, done) => {
      if (!packet.topic.endsWith('/commands')) return done(null);
      const fleet = packet.topic.split('/')[2] ?? '';
      seen.set(fleet, (seen.get(fleet) ?? 0) + 1);
      if (!fleet.startsWith('swallow-pub')) done(null);
    },
    authorizeSubscribe: (_client, sub, done) => {
      if (!sub.topic.includes('/swallow-sub/')) done(null, sub);
    },
  });
  server = net.createServer({ noDelay: true }, (s) => aedes.handle(s));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  url = `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`;
}, 30_000);

afterAll(async () => {
  server?.close();
  await new Promise<void>((r) => (aedes ? aedes.close(() => r()) : r()));
  rmSync(dir, { recursive: true, force: true });
});

/** Runs murmurctl; killed by its PID (and the case failed) if it has not exited within `boundMs`.
 *  `started` gets the process (to signal it). */
function murmurctl(which: Which, args: string[], boundMs: number, started?: (p: ChildProcess) => void): Promise<CliRun & { ms: number }> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const p = spawn(process.execPath, [cliEntry('murmurctl'), ...args, '--broker', url, '--manifest', manifests[which]], { stdio: ['ignore', 'pipe', 'pipe'] });
    started?.(p);
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    p.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const kill = setTimeout(() => p.pid !== undefined && process.kill(p.pid, 'SIGKILL'), boundMs);
    p.once('exit', (code, signal) => {
      clearTimeout(kill);
      resolve({ code: code ?? (signal === 'SIGKILL' ? -9 : 1), stdout, stderr, ms: Math.round(performance.now() - t0) });
    });
  });
}

describe.concurrent('murmurctl against a broker that swallows the command (no PUBACK)', () => {
  it('send --wait committed ends at --timeout (exit 4) and says the broker did not acknowledge the command', async ({ expect }) => {
    const r = await murmurctl('pub', ['send', 'noop', '--json', '--timeout', '2s', '--key', join(dir, 'pub', 'op.key')], 30_000);
    expect(r.code, `${r.ms} ms: ${r.stdout}${r.stderr}`).toBe(4);
    expect(commandsOf('pub')).toBeGreaterThan(0);
    const out = JSON.parse(r.stdout) as { outcome: string; reason: string };
    expect(out.outcome).toBe('timeout');
    expect(out.reason).toBe(`the broker at ${url} did not acknowledge the command (no PUBACK) within --timeout: it may not have reached the fleet; murmurctl log shows whether it was committed`);
  }, 40_000);

  it('send --wait none: the acknowledgement is the outcome, so no PUBACK by --timeout is a timeout (exit 4)', async ({ expect }) => {
    const r = await murmurctl('pub', ['send', 'noop', '--wait', 'none', '--timeout', '2s', '--key', join(dir, 'pub', 'op.key')], 30_000);
    expect(r.code, `${r.ms} ms: ${r.stdout}${r.stderr}`).toBe(4);
    expect(r.stdout).toBe(`timeout: the broker at ${url} did not acknowledge the command (no PUBACK) within --timeout: it may not have reached the fleet; murmurctl log shows whether it was committed\n`);
  }, 40_000);

  // The swallowed command keeps send waiting: Ctrl-C there, as an operator would.
  it('send --json cut short by Ctrl-C prints its result so far as JSON (outcome interrupted, until when it may commit), exit 130', async ({ expect }) => {
    const r = await murmurctl('pub-int', ['send', 'noop', '--json', '--timeout', '20s', '--ttl', '2m', '--key', join(dir, 'pub-int', 'op.key')], 30_000, (p) => {
      const poll = setInterval(() => {
        if (commandsOf('pub-int') === 0) return; // not published yet
        clearInterval(poll);
        if (p.pid !== undefined) process.kill(p.pid, 'SIGINT');
      }, 50);
      p.once('exit', () => clearInterval(poll));
    });
    expect(r.code, `${r.ms} ms: ${r.stdout}${r.stderr}`).toBe(130);
    const out = JSON.parse(r.stdout) as { command: string; type: string; outcome: string; interrupted: boolean; height: number | null; expiresAt: string };
    expect(out).toMatchObject({ type: 'noop', outcome: 'interrupted', interrupted: true, height: null });
    expect(out.command).toMatch(/^op\/[0-9a-f]{32}$/);
    const left = Date.parse(out.expiresAt) - Date.now();
    expect(left).toBeGreaterThan(90_000);
    expect(left).toBeLessThanOrEqual(120_000);
    expect(r.stderr).toContain(`murmurctl: interrupted: noop ${out.command} went to the broker and may still be committed until`);
  }, 40_000);
});

describe.concurrent('murmurctl against a broker that swallows subscriptions (no SUBACK)', () => {
  it('send refuses to publish a command it could not hear the answers to (exit 5), within --timeout', async ({ expect }) => {
    const r = await murmurctl('sub', ['send', 'noop', '--timeout', '2s', '--key', join(dir, 'sub', 'op.key')], 30_000);
    expect(r.code, `${r.ms} ms: ${r.stdout}${r.stderr}`).toBe(5);
    expect(r.stderr).toBe(`murmurctl: the broker at ${url} did not acknowledge the subscription to the fleet's answers within --timeout 2 s: nothing was published\n`);
    expect(commandsOf('sub')).toBe(0);
  }, 40_000);

  it('status says the broker did not acknowledge its subscription (exit 5)', async ({ expect }) => {
    const r = await murmurctl('sub', ['status', '--timeout', '1s'], 30_000);
    expect(r.code, `${r.ms} ms: ${r.stdout}${r.stderr}`).toBe(5);
    expect(r.stderr).toBe(`murmurctl: the broker at ${url} did not acknowledge the subscription to murmur/v1/swallow-sub/json/+/status within 5 s\n`);
  }, 40_000);
});
