// A `murmur start` refused because something it needs is taken or missing (http.port in use, the
// flight controller's serial port not there: exit 5) leaves the data directory as it found it: not
// there when it was not, and, when it was, the same files with the same bytes. Before, a refused start
// made the directory and wrote its `data-format` and a new `session` number in it, and on a directory
// in use moved the session number on. Real processes (bin/murmur.js), as test/device/start-refusals.test.ts.

import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../links/processes.js';
import { cliEntry, runCli, type CliRun } from '../support/run-cli.js';

const dir = mkdtempSync(join(tmpdir(), 'murmur-refusal-data-'));
const p = (f: string): string => join(dir, f);
const murmur = (...args: string[]): Promise<CliRun> => runCli('murmur', args, { cwd: dir });
let taken: Server;
let takenPort = 0;

afterAll(async () => {
  await new Promise<void>((r) => taken.close(() => r()));
  rmSync(dir, { recursive: true, force: true });
});

beforeAll(async () => {
  for (const id of ['authority', 'd1']) expect((await murmur('keygen', '--id', id, '--out', p(`keys/${id}.key`))).code).toBe(0);
  expect((await murmur('fleet', 'init', '--fleet', 'demo', '--authority', p('keys/authority.key'), '--out', p('fleet.json'))).code).toBe(0);
  expect((await murmur('fleet', 'add', p('fleet.json'), '--validator', '--key', p('keys/d1.key.pub'))).code).toBe(0);
  const signed = await murmur('fleet', 'sign', p('fleet.json'), '--authority', p('keys/authority.key'), '--out', p('fleet.manifest'));
  expect(signed.code, signed.stderr).toBe(0);
  // A port another program listens on.
  taken = createServer();
  await new Promise<void>((r) => taken.listen(0, '127.0.0.1', () => r()));
  takenPort = (taken.address() as { port: number }).port;
}, 60_000);

/** A device.yaml for d1 (dataDir two levels below anything that exists) with `extra` lines; its agents
 *  off unless `agents` (the default of a device.yaml, as the README's quickstart runs it). */
function config(name: string, extra: string, httpPort: number, agents = false): { file: string; data: string } {
  const data = p(`data-${name}/d1`);
  const file = p(`${name}.yaml`);
  writeFileSync(file, `id: d1\nkey: ${p('keys/d1.key')}\nmanifest: ${p('fleet.manifest')}\ndataDir: ${data}\nmqtt: { url: "mqtt://127.0.0.1:1" }\nhttp: { port: ${httpPort} }\n${agents ? '' : 'agents: { enabled: false }\n'}${extra}`);
  return { file, data };
}

/** Every file under `d` (relative name -> sha256 of its bytes, with its mode), sorted. */
function contents(d: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of readdirSync(d, { recursive: true, withFileTypes: true })) {
    const full = join(e.parentPath, e.name);
    const rel = full.slice(d.length + 1);
    out[rel] = e.isFile() ? `${createHash('sha256').update(readFileSync(full)).digest('hex')} ${(statSync(full).mode & 0o777).toString(8)}` : 'dir';
  }
  return out;
}

/** The refusal as an operator sees it: one line naming `text`, no stack trace, exit 5. */
function refused(r: CliRun, text: string): void {
  expect(r.stderr, r.stderr).toContain(text);
  expect(r.stderr.trimEnd().split('\n'), r.stderr).toHaveLength(1);
  expect(r.stderr + r.stdout).not.toMatch(/\n\s+at /);
  expect(r.code, r.stderr).toBe(5);
}

describe('a refused murmur start leaves the data directory as it found it', () => {
  it('http.port in use, on a fresh data directory: exit 5, no data directory (nor the one above it that it made)', async () => {
    const c = config('fresh-port', '', takenPort);
    refused(await murmur('start', '--config', c.file), `${c.file}: http.port: ${takenPort} is in use (another program listens on 127.0.0.1:${takenPort}`);
    // Before: data-fresh-port/d1 was left with data-format and session in it.
    expect(existsSync(p('data-fresh-port'))).toBe(false);
  }, 20_000);

  // The agents' state directory was made when the device was built, before the port was tried: a
  // refused start left data-.../d1/agents behind even once the format and session waited for the ports.
  it('http.port in use, with the agents on (the default): exit 5, no data directory', async () => {
    const c = config('fresh-agents', '', takenPort, true);
    const r = await murmur('start', '--config', c.file);
    refused(r, `${c.file}: http.port: ${takenPort} is in use (another program listens on 127.0.0.1:${takenPort}`);
    // Nor a log line per agent saying it stopped, for agents that never started, nor the device's
    // own "stopped" before the one line that says why it did not start.
    expect(r.stdout).not.toContain('"event":"agent"');
    expect(r.stdout).not.toContain('"event":"stopped"');
    expect(existsSync(p('data-fresh-agents')) ? contents(p('data-fresh-agents')) : null).toBeNull();
  }, 20_000);

  it("hal.mavlink.serial not there, on a fresh data directory: exit 5, no data directory", async () => {
    const c = config('fresh-fc', `hal: { driver: mavlink, mavlink: { serial: ${p('ttyNOPE')} } }\n`, 0);
    refused(await murmur('start', '--config', c.file), `hal.mavlink.serial: cannot open serial port ${p('ttyNOPE')}`);
    expect(existsSync(p('data-fresh-fc'))).toBe(false);
  }, 20_000);

  it('http.port in use, or a damaged snapshot, on the data directory of a device that ran before: every file as it was (the session number not moved on)', async () => {
    // The device runs once (its data directory made and written), and stops.
    const free = await freePort();
    const c = config('ran', '', free);
    const proc = spawn(process.execPath, [cliEntry('murmur'), 'start', '--config', c.file], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    proc.stdout.on('data', (b: Buffer) => (out += b.toString('utf8')));
    proc.stderr.on('data', (b: Buffer) => (out += b.toString('utf8')));
    const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
    try {
      for (let i = 0; i < 150 && !out.includes('"event":"ready"') && proc.exitCode === null; i++) await new Promise((r) => setTimeout(r, 100));
      expect(out, out.slice(-2_000)).toContain('"event":"ready"');
      if (proc.pid !== undefined) process.kill(proc.pid, 'SIGTERM');
      expect(await exited, out.slice(-2_000)).toBe(0);
    } finally {
      if (proc.exitCode === null && proc.signalCode === null && proc.pid !== undefined) process.kill(proc.pid, 'SIGKILL');
    }
    const before = contents(c.data);
    expect(Object.keys(before)).toEqual(expect.arrayContaining(['data-format', 'session']));
    // The same device.yaml, with its port now taken.
    writeFileSync(c.file, readFileSync(c.file, 'utf8').replace(`http: { port: ${free} }`, `http: { port: ${takenPort} }`));
    refused(await murmur('start', '--config', c.file), `${c.file}: http.port: ${takenPort} is in use (another program listens on 127.0.0.1:${takenPort}`);
    expect(contents(c.data)).toEqual(before);
    // A directory the device refuses (exit 2): a snapshot that fails its checksum. Its port free again.
    writeFileSync(c.file, readFileSync(c.file, 'utf8').replace(`http: { port: ${takenPort} }`, 'http: { port: 0 }'));
    writeFileSync(join(c.data, 'consensus.snapshot'), Buffer.alloc(300, 7));
    const damaged = contents(c.data);
    const r = await murmur('start', '--config', c.file);
    expect(r.stderr, r.stderr).toContain('consensus.snapshot fails its checksum; refusing to start');
    expect(r.code, r.stderr).toBe(2);
    // Before: the session number moved on.
    expect(contents(c.data)).toEqual(damaged);
  }, 40_000);
});
