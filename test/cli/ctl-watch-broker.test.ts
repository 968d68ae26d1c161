// `murmurctl watch` across a broker restart: it says it lost the broker, reconnects, says so, and goes
// on showing what the fleet publishes; Ctrl-C ends it (exit 0). Before, the broker going away ended the
// watch without a word and exit 0. A real murmurctl process on a real Mosquitto, stopped and started
// again on the same port.

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, describe, expect, it, onTestFinished } from 'vitest';
import { Mosquitto } from '../links/processes.js';
import { makeFleet } from '../support/fleet-fixture.js';
import { cliEntry } from '../support/run-cli.js';

const dir = mkdtempSync(join(tmpdir(), 'murmur-ctl-watch-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Resolves once `check()` holds, checking every 50 ms; rejects after `ms`. */
async function until(check: () => boolean, ms: number, what: string): Promise<void> {
  for (const end = Date.now() + ms; !check(); ) {
    if (Date.now() > end) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('murmurctl watch when the broker goes away and comes back', () => {
  it('says so both times and goes on watching (exit 0 at Ctrl-C)', async () => {
    const broker = await Mosquitto.start();
    const fx = await makeFleet({ fleet: 'watch-restart', validators: 1, seed: 31 });
    writeFileSync(join(dir, 'fleet.manifest'), fx.manifest.bytes);
    const child = spawn(process.execPath, [cliEntry('murmurctl'), 'watch', '--broker', broker.url, '--manifest', join(dir, 'fleet.manifest')], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    onTestFinished(async () => {
      if (child.exitCode === null) child.kill('SIGKILL');
      await broker.stop();
    });
    const publish = async (text: string): Promise<void> => {
      const c = await mqtt.connectAsync(broker.url, { clientId: `watch-test-${text}`, reconnectPeriod: 0 });
      await c.publishAsync('murmur/v1/watch-restart/json/v0/status', text, { qos: 1 });
      await c.endAsync();
    };
    // Watching: what the fleet publishes shows (published until it does: the subscription may come later).
    for (let i = 0; i < 100 && !stdout.includes('v0/status  before'); i++) {
      await publish('before');
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(stdout).toContain('v0/status  before');
    await broker.kill(); // the broker process ends; run() starts it again on the same port
    await until(() => stderr.includes('lost the broker'), 10_000, 'the lost line');
    expect(child.exitCode).toBeNull(); // still watching
    await broker.run();
    await until(() => stderr.includes('answers again'), 15_000, 'the reconnected line');
    for (let i = 0; i < 100 && !stdout.includes('v0/status  after'); i++) {
      await publish('after');
      await new Promise((r) => setTimeout(r, 100));
    }
    child.kill('SIGINT');
    expect(await exited, stderr).toBe(0);
    expect(stdout).toContain('v0/status  after');
    expect(stderr).toBe(`murmurctl: lost the broker at ${broker.url}; reconnecting every second (Ctrl-C to stop)\nmurmurctl: the broker at ${broker.url} answers again; watching on\n`);
  }, 60_000);
});
