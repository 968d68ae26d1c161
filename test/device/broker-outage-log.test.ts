// A device that cannot reach its broker says so at warn, once per outage and connection (not per retry),
// so an operator at log.level warn sees it; and says so again when the broker answers. First the logger
// alone, then a real `murmur start` with no broker at log.level warn.

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { linkLogger } from '../../runtime/device/observability.js';
import { freePort } from '../links/processes.js';
import { cliEntry, runCli } from '../support/run-cli.js';

function capture(level: string): { log: pino.Logger; lines: () => { level: number; msg: string; event?: string }[] } {
  let text = '';
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      text += chunk.toString('utf8');
      done();
    },
  });
  return { log: pino({ level }, sink), lines: () => text.trim().split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as { level: number; msg: string; event?: string }) };
}

describe('linkLogger', () => {
  it('warns once per outage of each connection, retries at debug, and warns when the broker is back', () => {
    const { log, lines } = capture('warn');
    let t = 0;
    const linkLog = linkLogger(log, 'mqtt://user:secret@127.0.0.1:1883', () => t);
    for (let i = 0; i < 5; i++) {
      linkLog('error', { link: 'mqtt', reason: 'connect ECONNREFUSED 127.0.0.1:1883' });
      linkLog('control-plane-error', { reason: 'connect ECONNREFUSED 127.0.0.1:1883' });
      t += 1_000;
    }
    linkLog('connected', { link: 'mqtt', url: 'mqtt://127.0.0.1:1883' });
    linkLog('error', { link: 'mqtt', reason: 'connect ECONNREFUSED 127.0.0.1:1883' }); // a new outage
    const got = lines();
    expect(got.map((l) => [l.level, l.msg])).toEqual([
      [40, 'cannot reach the broker at mqtt://user:***@127.0.0.1:1883 (mqtt link): connect ECONNREFUSED 127.0.0.1:1883; retrying until it answers'],
      [40, 'cannot reach the broker at mqtt://user:***@127.0.0.1:1883 (control plane): connect ECONNREFUSED 127.0.0.1:1883; retrying until it answers'],
      [40, 'broker at mqtt://user:***@127.0.0.1:1883 reached again (mqtt link) after 5.0 s'],
      [40, 'cannot reach the broker at mqtt://user:***@127.0.0.1:1883 (mqtt link): connect ECONNREFUSED 127.0.0.1:1883; retrying until it answers'],
    ]);
    expect(got.map((l) => l.msg).join('\n')).not.toContain('secret');
  });

  it("says at warn when a radio's serial port goes away and when it is back", () => {
    const { log, lines } = capture('warn');
    const linkLog = linkLogger(log, 'mqtt://127.0.0.1:1883');
    linkLog('port-gone', { link: 'radio', path: '/dev/ttyUSB0', reason: 'its device file is gone (unplugged?)', retryMs: 1_000 });
    linkLog('port-back', { link: 'radio', path: '/dev/ttyUSB0', downMs: 12_345, attempts: 12 });
    expect(lines().map((l) => [l.level, l.event, l.msg])).toEqual([
      [40, 'port-gone', 'radio link: serial port /dev/ttyUSB0 closed (its device file is gone (unplugged?)); reopening it every 1000 ms'],
      [40, 'port-back', 'radio link: serial port /dev/ttyUSB0 reopened after 12.3 s (12 attempts)'],
    ]);
  });

  it('keeps a connection without an outage at info', () => {
    const { log, lines } = capture('info');
    linkLogger(log, 'mqtt://127.0.0.1:1883')('connected', { link: 'mqtt' });
    expect(lines().map((l) => [l.level, l.msg])).toEqual([[30, 'link connected']]);
  });

  it('never writes the broker password of a URL an event carries', () => {
    const { log, lines } = capture('info');
    const linkLog = linkLogger(log, 'mqtt://v1:TopSecretPW@127.0.0.1:1883');
    for (const event of ['connected', 'control-plane-connected', 'disconnected', 'connection-dropped']) linkLog(event, { link: 'mqtt', url: 'mqtt://v1:TopSecretPW@127.0.0.1:1883', reason: 'closed' });
    const text = JSON.stringify(lines());
    expect(lines()).toHaveLength(4);
    expect(text).not.toContain('TopSecretPW');
    expect(text).toContain('mqtt://v1:***@127.0.0.1:1883');
  });
});

const dir = mkdtempSync(join(tmpdir(), 'murmur-outage-log-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('murmur start at log.level warn with no broker', () => {
  it('logs the unreachable broker once per connection while the device runs and retries', async () => {
    const p = (f: string): string => join(dir, f);
    for (const id of ['authority', 'd1']) expect((await runCli('murmur', ['keygen', '--id', id, '--out', p(`${id}.key`)])).code).toBe(0);
    expect((await runCli('murmur', ['fleet', 'init', '--fleet', 'outage', '--authority', p('authority.key'), '--out', p('draft.json')])).code).toBe(0);
    expect((await runCli('murmur', ['fleet', 'add', p('draft.json'), '--validator', '--key', p('d1.key.pub')])).code).toBe(0);
    expect((await runCli('murmur', ['fleet', 'sign', p('draft.json'), '--authority', p('authority.key'), '--out', p('fleet.manifest')])).code).toBe(0);
    const [brokerPort, httpPort] = [await freePort(), await freePort()];
    writeFileSync(p('d1.yaml'), `id: d1\nkey: ${p('d1.key')}\nmanifest: ${p('fleet.manifest')}\ndataDir: ${p('data')}\nmqtt: { url: "mqtt://127.0.0.1:${brokerPort}" }\nhttp: { port: ${httpPort} }\nlog: { level: warn }\nagents: { enabled: false }\n`);
    const proc = spawn(process.execPath, [cliEntry('murmur'), 'start', '--config', p('d1.yaml')], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    proc.stdout.on('data', (b: Buffer) => (out += b.toString('utf8')));
    proc.stderr.on('data', (b: Buffer) => (out += b.toString('utf8')));
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    try {
      // Ready (health answers), then long enough for several retries of both connections.
      const deadline = Date.now() + 30_000;
      for (;;) {
        const ready = await fetch(`http://127.0.0.1:${httpPort}/health`).then((r) => r.json() as Promise<{ ready?: boolean }>, () => null);
        if (ready?.ready === true) break;
        if (Date.now() > deadline || proc.exitCode !== null) throw new Error(`device not ready:\n${out}`);
        await new Promise((r) => setTimeout(r, 200));
      }
      await new Promise((r) => setTimeout(r, 3_000));
    } finally {
      if (proc.exitCode === null && proc.pid !== undefined) process.kill(proc.pid, 'SIGTERM');
      const kill = setTimeout(() => proc.exitCode === null && proc.pid !== undefined && process.kill(proc.pid, 'SIGKILL'), 10_000);
      await exited;
      clearTimeout(kill);
    }
    const lines = out.split('\n').filter((l) => l.includes('cannot reach the broker'));
    expect(lines, out).toHaveLength(2); // the MQTT link and the control plane, each once
    for (const l of lines) expect((JSON.parse(l) as { level: number }).level).toBe(40);
    expect(lines.join('\n')).toContain('(mqtt link)');
    expect(lines.join('\n')).toContain('(control plane)');
  }, 60_000);
});
