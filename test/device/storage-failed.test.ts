// A device whose data directory stops taking writes (here: a file-size limit the process runs under,
// which fails a write with EFBIG as a full disk fails it with ENOSPC, and needs no root; the tests run
// as root, for whom a read-only chmod changes nothing). It stops its device at once, before sending
// anything it could not record first, with one log line naming the file, the system's error and what
// to fix; then the process waits, saying so on its log and on /health (503), and once the directory
// takes writes again (here: prlimit raising the soft limit of the running process) it starts again
// from what it wrote and commits on. Before, it exited 74 and systemd restarted it every 2 s until
// its start limit (5 in 120 s) gave up, leaving the device down after the disk was freed.

import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { cliEntry, runCli } from '../support/run-cli.js';
import { fleetForFile } from '../support/fleet-procs.js';
import { readFileSync, writeFileSync } from 'node:fs';
import { freePort } from '../links/processes.js';

const fleet = fleetForFile({ validators: 1, followers: 0, brokerUrl: null, processes: true, fleet: 'storage-failed' });
const logged = fleetForFile({ validators: 1, followers: 0, brokerUrl: null, processes: true, fleet: 'storage-failed-log' });
const fresh = fleetForFile({ validators: 1, followers: 0, brokerUrl: null, processes: true, fleet: 'storage-failed-start' });

interface Limited {
  readonly proc: ChildProcess;
  output(): string;
  /** Resolves with the first line matching `re` after `from` (an offset in output()), else rejects after `ms`. */
  line(re: RegExp, ms: number, from?: number): Promise<string>;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; atMs: number }>;
  /** Raises the running process's file-size limit (soft; the hard one stays unlimited): the disk freed. */
  unlimit(): void;
}

/** Runs `murmur start` for `config` with files limited to `kib` KiB (bash's ulimit -S -f). */
function startLimited(config: string, kib: number, cwd: string): Limited {
  const proc = spawn('bash', ['-c', `ulimit -S -f ${kib} && exec "$0" "$@"`, process.execPath, cliEntry('murmur'), 'start', '--config', config], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  proc.stdout?.on('data', (b: Buffer) => (output += b.toString('utf8')));
  proc.stderr?.on('data', (b: Buffer) => (output += b.toString('utf8')));
  // Bounded: whatever a test does, the process is gone (by its PID) after 80 s.
  const timer = setTimeout(() => proc.kill('SIGKILL'), 80_000);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; atMs: number }>((resolve) =>
    proc.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, atMs: Date.now() });
    }),
  );
  const line = async (re: RegExp, ms: number, from = 0): Promise<string> => {
    const until = Date.now() + ms;
    for (;;) {
      const found = output.slice(from).split('\n').find((l) => re.test(l));
      if (found !== undefined) return found;
      if (Date.now() > until || proc.exitCode !== null || proc.signalCode !== null) throw new Error(`no line matching ${re} within ${ms} ms (exit ${proc.exitCode}); last output:\n${output.slice(-2_500)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const unlimit = (): void => void execFileSync('prlimit', ['--pid', String(proc.pid), '--fsize=unlimited:']);
  return { proc, output: () => output, line, exited, unlimit };
}

async function healthOf(url: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const r = await fetch(`${url}/health`);
  return { status: r.status, body: (await r.json()) as Record<string, unknown> };
}

/** A copy of `config` whose http.port is a fixed free one (as on a device), so /health is at one URL
 *  whether the device runs or waits. */
async function withFixedPort(config: string): Promise<{ config: string; url: string }> {
  const port = await freePort();
  const text = readFileSync(config, 'utf8');
  expect(text).toContain('http: { port: 0 }');
  const out = `${config}.port.yaml`;
  writeFileSync(out, text.replace('http: { port: 0 }', `http: { port: ${port} }`));
  return { config: out, url: `http://127.0.0.1:${port}` };
}

/** /health while the device waits; between its waits it tries to start (the port closed or the
 *  starting device's own 503 meanwhile), so asked again for up to 10 s. */
async function waitingHealth(url: string): Promise<Record<string, unknown>> {
  let last = '';
  for (let i = 0; i < 100; i++) {
    const h = await healthOf(url).catch((e: unknown) => ({ status: 0, body: { error: String(e) } as Record<string, unknown> }));
    if (h.status === 503 && h.body.state === 'waiting-for-storage') return h.body;
    last = `${h.status} ${JSON.stringify(h.body).slice(0, 300)}`;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`/health never said it waits for storage; last: ${last}`);
}

/** SIGTERM, and how long the process took to leave. */
async function term(l: Limited): Promise<{ code: number | null; ms: number }> {
  const t0 = Date.now();
  l.proc.kill('SIGTERM');
  const e = await l.exited;
  return { code: e.code, ms: e.atMs - t0 };
}

const noStack = /\n\s+at /;

/** A file-size limit a device starts under (no file it writes at start is near it) and a lone validator's
 *  signer state or WAL passes mid-run, a few dozen heights (a few seconds) in. */
const midRunLimitKiB = 32;

// The three cases run at once (describe.concurrent): each has its own fleet (directory, keys, embedded
// broker), its own device process and /health port, and kills that process in its own finally; each
// mostly waits on it (the storage retries, the limit raised). Measured here: 11 s of CPU in 28 s.
describe.concurrent('a data directory that stops taking writes', () => {
  it('mid-run: stops the device naming the file, error and fix, waits, and resumes from what it wrote once writable', async () => {
    const d = fleet.devices[0];
    if (!d) throw new Error('no device');
    const fixed = await withFixedPort(d.config);
    const l = startLimited(fixed.config, midRunLimitKiB, fleet.dir);
    try {
      await l.line(/"event":"ready"/, 20_000);
      const failed = await l.line(/"event":"storage-failed"/, 50_000);
      expect(failed).toContain('"code":"EFBIG"');
      expect(failed).toMatch(/writing \S+(consensus\.wal|signer-state|consensus\.ahead)/);
      expect(failed).toContain('raise the file-size limit');
      const heightAtStop = Number(/"height":(\d+)/.exec(failed)?.[1] ?? NaN);
      expect(heightAtStop, failed).toBeGreaterThan(1);
      // It stays up, waiting, and says so: the error, the fix, the free bytes, when it tries again.
      const at = l.output().indexOf(failed);
      const wait = await l.line(/"event":"storage-wait"/, 10_000, at);
      expect(wait).toMatch(/EFBIG[^\n]*raise the file-size limit/);
      expect(wait).toMatch(/"freeBytes":\d+/);
      expect(wait).toMatch(/"retryInS":\d+/);
      expect(wait).toContain(`"http":"${fixed.url}"`);
      const h = await waitingHealth(fixed.url);
      expect(h.ready).toBe(false);
      expect(JSON.stringify(h.healthReasons)).toMatch(/EFBIG.*raise the file-size limit/);
      const storage = h.storage as { code: string; freeBytes: number; attempts: number };
      expect(storage.code).toBe('EFBIG');
      expect(storage.freeBytes).toBeGreaterThan(0);
      expect(storage.attempts).toBeGreaterThanOrEqual(1);
      await new Promise((r) => setTimeout(r, 3_500)); // two more attempts (1 s, 2 s) fail the same way
      expect(l.proc.exitCode, l.output().slice(-2_000)).toBeNull();
      expect(l.output().slice(at).match(/"event":"storage-wait"/g)?.length, 'one warn line per kind of failure').toBe(1);
      expect(l.output()).not.toContain('invariant broken');

      // The disk freed: it starts again in this process, from what it wrote (a cut last record dropped).
      l.unlimit();
      const ready = await l.line(/"event":"ready"/, 20_000, at);
      expect(Number(/"height":(\d+)/.exec(ready)?.[1]), ready).toBeGreaterThanOrEqual(heightAtStop - 1);
      expect(await l.line(/"event":"storage-resumed"/, 1_000, at)).toMatch(/"waitedS":\d/);
      let health = await healthOf(fixed.url);
      for (let i = 0; i < 50 && Number(health.body.height) <= heightAtStop; i++) {
        await new Promise((r) => setTimeout(r, 200));
        health = await healthOf(fixed.url);
      }
      expect(health.status).toBe(200);
      expect(Number(health.body.height), l.output().slice(-2_000)).toBeGreaterThan(heightAtStop);
      const t = await term(l);
      expect(t.code, l.output().slice(-2_000)).toBe(0);
      expect(l.output()).not.toMatch(noStack);
    } finally {
      l.proc.kill('SIGKILL');
    }
  }, 90_000);

  // The first writes of a start (the data format, the session number) are made while the device is
  // built, before start(): a full disk there was taken for a bad device.yaml (exit 2, no fix named),
  // then exit 74 and systemd's restarts until its start limit gave up.
  it('at start: waits with the reason on /health, SIGTERM ends the wait at once, and a later start runs once writable', async () => {
    const d = fresh.devices[0];
    if (!d) throw new Error('no device');
    const fixed = await withFixedPort(d.config);
    const l = startLimited(fixed.config, 0, fresh.dir);
    try {
      const wait = await l.line(/"event":"storage-wait"/, 15_000);
      expect(wait).toMatch(/EFBIG[^\n]*raise the file-size limit/);
      const h = await waitingHealth(fixed.url);
      expect(h.ready).toBe(false);
      expect(JSON.stringify(h.healthReasons)).toMatch(/EFBIG.*raise the file-size limit/);
      // The directory stays this process's while it waits: a second start is refused, naming it.
      const second = await runCli('murmur', ['start', '--config', fixed.config], { cwd: fresh.dir, timeoutMs: 20_000 });
      expect(second.code, second.stderr).toBe(2);
      expect(second.stderr).toContain(`in use by another murmur process (pid ${l.proc.pid})`);
      await new Promise((r) => setTimeout(r, 2_000));
      expect(l.proc.exitCode, l.output().slice(-2_000)).toBeNull();
      const t = await term(l);
      expect(t.code, l.output().slice(-2_000)).toBe(0);
      expect(t.ms).toBeLessThan(1_500);
      expect(l.output()).not.toMatch(noStack);
    } finally {
      l.proc.kill('SIGKILL');
    }
    // The directory was left free (the lock released), and it waits the same way again, then runs
    // once writable.
    const again = startLimited(d.config, 0, fresh.dir);
    try {
      await again.line(/"event":"storage-wait"/, 15_000);
      again.unlimit();
      await again.line(/"event":"ready"/, 20_000);
      const t = await term(again);
      expect(t.code, again.output().slice(-2_000)).toBe(0);
    } finally {
      again.proc.kill('SIGKILL');
    }
  }, 60_000);

  // Its log file on a full file system too (device.yaml log.file; here /dev/full, which fails every
  // write with ENOSPC). A log write that failed threw out of whatever was logging: the device died on
  // its first line with a stack trace (exit 1), and the storage failure's own lines would have thrown
  // the same way. Now its lines go to stderr, said once, and the storage failure waits as above.
  it('a log file that cannot be written: lines on stderr, and the storage failure still waits', async () => {
    const d = logged.devices[0];
    if (!d) throw new Error('no device');
    const text = readFileSync(d.config, 'utf8');
    const config = `${d.config}.logged.yaml`;
    writeFileSync(config, text.replace(/log: \{ level: info \}/, 'log: { level: info, file: /dev/full }'));
    expect(readFileSync(config, 'utf8')).toContain('/dev/full');
    const l = startLimited(config, midRunLimitKiB, logged.dir);
    try {
      await l.line(/"event":"ready"/, 20_000);
      expect(l.output()).toMatch(/cannot write the log file \/dev\/full[^\n]*ENOSPC/);
      await l.line(/storage-failed[^\n]*EFBIG[^\n]*raise the file-size limit/, 50_000);
      await l.line(/"event":"storage-wait"/, 10_000);
      const t = await term(l);
      expect(t.code, l.output().slice(-2_000)).toBe(0);
      expect(l.output()).not.toMatch(noStack);
    } finally {
      l.proc.kill('SIGKILL');
    }
  }, 90_000);
});
