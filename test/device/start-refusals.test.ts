// What a field device's operator meets at `murmur start` (real processes): a refused start is one line
// naming the device.yaml field and the fix, with the documented exit code, and leaves no data directory
// behind; a device started from a terminal stops cleanly when the terminal goes (SIGHUP).

import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../links/processes.js';
import { cliEntry, runCli, type CliRun } from '../support/run-cli.js';

const dir = mkdtempSync(join(tmpdir(), 'murmur-start-refusals-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const p = (f: string): string => join(dir, f);
const murmur = (...args: string[]): Promise<CliRun> => runCli('murmur', args, { cwd: dir });

/** One line on stderr naming `text`, no stack trace, the exit code given. */
function oneLine(r: CliRun, code: number, text: string): void {
  expect(r.stderr, r.stderr).toContain(text);
  expect(r.stderr.trimEnd().split('\n'), r.stderr).toHaveLength(1);
  expect(r.stderr + r.stdout).not.toMatch(/\n\s+at /);
  expect(r.code, r.stderr).toBe(code);
}

let authorityPub = '';

beforeAll(async () => {
  for (const id of ['authority', 'other', 'd1']) expect((await murmur('keygen', '--id', id, '--out', p(`keys/${id}.key`))).code).toBe(0);
  for (const a of ['authority', 'other']) {
    expect((await murmur('fleet', 'init', '--fleet', 'demo', '--authority', p(`keys/${a}.key`), '--out', p(`${a}.json`))).code).toBe(0);
    expect((await murmur('fleet', 'add', p(`${a}.json`), '--validator', '--key', p('keys/d1.key.pub'))).code).toBe(0);
    const signed = await murmur('fleet', 'sign', p(`${a}.json`), '--authority', p(`keys/${a}.key`), '--out', p(`${a}.manifest`));
    expect(signed.code, signed.stderr).toBe(0);
  }
  authorityPub = /[0-9a-f]{64}/.exec(readFileSync(p('keys/authority.key.pub'), 'utf8'))?.[0] ?? '';
  expect(authorityPub).toMatch(/^[0-9a-f]{64}$/);
  writeFileSync(p('garbage.key'), 'this is not a key\n');
  chmodSync(p('garbage.key'), 0o600);
  writeFileSync(p('a-file'), 'not a directory\n');
}, 60_000);

/** A device.yaml for d1 with its own data directory and `extra` lines; returns its path and data directory. */
function config(name: string, extra: string, o: { key?: string; manifest?: string } = {}): { file: string; data: string } {
  const data = p(`data/${name}`);
  const file = p(`${name}.yaml`);
  writeFileSync(file, `id: d1\nkey: ${o.key ?? p('keys/d1.key')}\nmanifest: ${o.manifest ?? p('authority.manifest')}\ndataDir: ${data}\nmqtt: { url: "mqtt://127.0.0.1:1" }\nhttp: { port: 0 }\nagents: { enabled: false }\n${extra}`);
  return { file, data };
}

describe('murmur start refuses a bad identity before it makes the data directory', () => {
  it('a key file that is not one: names key, says the fix, exit 2, no data directory', async () => {
    const c = config('garbage-key', '', { key: p('garbage.key') });
    oneLine(await murmur('start', '--config', c.file), 2, `${c.file}: key: key file ${p('garbage.key')} is not valid JSON (damaged, or not a key file); give the secret key file written by \`murmur keygen\`, or restore this one from its backup`);
    // Before, the config check made it (empty, 0700) and the start was refused after.
    expect(existsSync(c.data)).toBe(false);
  }, 20_000);

  it("another authority's manifest with the authority pinned: names both keys and the fix, exit 2, no data directory", async () => {
    const c = config('other-authority', `authority: ${authorityPub}\n`, { manifest: p('other.manifest') });
    const r = await murmur('start', '--config', c.file);
    oneLine(r, 2, `but this device trusts authority ${authorityPub.slice(0, 16)}…; give the manifest the fleet authority signed, or set \`authority\` to the key that signs this fleet`);
    expect(existsSync(c.data)).toBe(false);
  }, 20_000);
});

describe('murmur start names the field of a file or device it cannot use, with the fix', () => {
  it('mqtt.caFile missing: the CA fix, not the advice for a missing mqtt section', async () => {
    const c = config('no-ca', '').file;
    writeFileSync(c, readFileSync(c, 'utf8').replace('mqtt: { url: "mqtt://127.0.0.1:1" }', 'mqtt: { url: "mqtts://127.0.0.1:1", caFile: nope.pem }'));
    oneLine(await murmur('start', '--config', c), 2, `${c}: mqtt.caFile: cannot read ${p('nope.pem')}; set it to the PEM file of the CA that signed the broker's certificate (relative to this file), or remove it`);
  }, 20_000);

  it('log.file that cannot be opened: names log.file and the fix (it said only the system error)', async () => {
    const c = config('bad-log', `log: { file: ${p('a-file/d1.log')} }\n`).file;
    const r = await murmur('start', '--config', c);
    oneLine(r, 2, `${c}: log.file: cannot open ${p('a-file/d1.log')}: a part of the path is a file, not a directory; set it to a file the device may append to (its directory is created), or remove it to log to standard output`);
  }, 20_000);

  it('a file of the data directory it cannot open: names dataDir, the file and why (it named only the config file and the system error)', async () => {
    const c = config('bad-data-file', '');
    // A start that makes the data directory, stopped once ready.
    const first = spawn(process.execPath, [cliEntry('murmur'), 'start', '--config', c.file], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    first.stdout.on('data', (b: Buffer) => (out += b.toString()));
    for (const deadline = Date.now() + 15_000; !out.includes('"event":"ready"') && first.exitCode === null && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 50));
    expect(out, 'the first start became ready').toContain('"event":"ready"');
    const exited = new Promise((r) => first.once('exit', r));
    first.kill('SIGTERM');
    await exited;
    // The signer state replaced by a link to itself: what root meets where another user meets EACCES
    // (a file made unreadable, or owned by root after a start as root), which says the chown to run.
    const signer = join(c.data, 'signer-state');
    rmSync(signer);
    symlinkSync('signer-state', signer);
    oneLine(await murmur('start', '--config', c.file), 2, `${c.file}: dataDir: ${signer}: a symbolic link that leads back to itself`);
  }, 30_000);

  it('log.file under /proc: one line, exit 2 (pino made its directory with Node\'s recursive mkdir, which spun there for ever, deaf to SIGTERM)', async () => {
    const where = `/proc/murmur-test-${process.pid}/d1.log`;
    const c = config('proc-log', `log: { file: ${where} }\n`).file;
    oneLine(await murmur('start', '--config', c), 2, `${c}: log.file: cannot open ${where}: no such file or directory; set it to a file the device may append to`);
  }, 20_000);

  it('hal.mavlink.serial that is not there: names the field and what to check, exit 5', async () => {
    const c = config('no-fc', `hal: { driver: mavlink, mavlink: { serial: ${p('ttyNOPE')} } }\n`).file;
    const r = await murmur('start', '--config', c);
    oneLine(r, 5, `${c}: hal.mavlink.serial: cannot open serial port ${p('ttyNOPE')}`);
    expect(r.stderr).toContain("; set it to the flight controller's serial device (ls /dev/serial/by-id/), and check that it is plugged in and that this user may open it (group dialout)");
  }, 20_000);

  it('hal.led.name that is not there: names the field, exit 5', async () => {
    mkdirSync(p('leds'), { recursive: true });
    const c = config('no-led', `hal: { driver: none, led: { driver: sysfs, name: NOPE, classDir: ${p('leds')} } }\n`).file;
    oneLine(await murmur('start', '--config', c), 5, `${c}: hal.led.name: no LED at ${p('leds/NOPE')} (brightness file missing); set it to an LED that /sys/class/leds lists`);
  }, 20_000);
});

describe('murmur start and stop signals', () => {
  // A SIGTERM while its modules still load: test/cli/early-signal.test.ts (the moment held open by a
  // module hook; a guessed moment here, 2x node's start-up, fell after the modules were in on a fast machine).
  it('stops cleanly (exit 0, "stopped" logged) when its terminal goes away, as for SIGTERM', async () => {
    const httpPort = await freePort();
    const c = config('hup', '').file;
    writeFileSync(c, readFileSync(c, 'utf8').replace('http: { port: 0 }', `http: { port: ${httpPort} }`));
    const proc = spawn(process.execPath, [cliEntry('murmur'), 'start', '--config', c], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    proc.stdout.on('data', (b: Buffer) => (out += b.toString('utf8')));
    proc.stderr.on('data', (b: Buffer) => (out += b.toString('utf8')));
    const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
    try {
      for (let i = 0; i < 100 && !out.includes('"event":"ready"') && proc.exitCode === null; i++) await new Promise((r) => setTimeout(r, 100));
      expect(out, out).toContain('"event":"ready"');
      if (proc.pid !== undefined) process.kill(proc.pid, 'SIGHUP');
      const t = setTimeout(() => proc.exitCode === null && proc.pid !== undefined && process.kill(proc.pid, 'SIGKILL'), 10_000);
      const end = await exited;
      clearTimeout(t);
      // Before: the default action, killed by the signal (code null, signal SIGHUP) without its shutdown.
      expect(end, out.slice(-2_000)).toEqual({ code: 0, signal: null });
      expect(out).toContain('"event":"signal","signal":"SIGHUP"');
      expect(out).toContain('"event":"stopped"');
    } finally {
      if (proc.exitCode === null && proc.signalCode === null && proc.pid !== undefined) process.kill(proc.pid, 'SIGKILL');
    }
  }, 20_000);
});
