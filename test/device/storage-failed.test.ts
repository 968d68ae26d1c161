// A device whose data directory stops taking writes (here: a file-size limit the process runs under,
// which fails a write with EFBIG as a full disk fails it with ENOSPC, and needs no root): it stops at
// once, before sending anything it could not record first, with one log line naming the file, the
// system's error and what to fix, and exit status 74; started again without the limit, it recovers
// from what it wrote and commits on. Before, this was "invariant broken" and exit 70, the same as a bug.

import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../support/run-cli.js';
import { fleetForFile } from '../support/fleet-procs.js';
import { join } from 'node:path';
import { readFileSync, writeFileSync } from 'node:fs';

const fleet = fleetForFile({ validators: 1, followers: 0, brokerUrl: null, processes: true, fleet: 'storage-failed' });
const logged = fleetForFile({ validators: 1, followers: 0, brokerUrl: null, processes: true, fleet: 'storage-failed-log' });
const fresh = fleetForFile({ validators: 1, followers: 0, brokerUrl: null, processes: true, fleet: 'storage-failed-start' });

/** Runs `murmur start` for `config` with files limited to `kib` KiB (bash's ulimit -f), to its exit. */
function startLimited(config: string, kib: number, cwd: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const proc = spawn('bash', ['-c', `ulimit -f ${kib} && exec "$0" "$@"`, process.execPath, join(repoRoot, 'bin', 'murmur.js'), 'start', '--config', config], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    proc.stdout.on('data', (b: Buffer) => (output += b.toString('utf8')));
    proc.stderr.on('data', (b: Buffer) => (output += b.toString('utf8')));
    // Bounded: a device that never fills its limit is stopped (by its PID) and the test fails on the status.
    const timer = setTimeout(() => proc.kill('SIGKILL'), 60_000);
    proc.on('error', reject);
    proc.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

describe('a data directory that stops taking writes', () => {
  it('stops the device with the file, the error and the fix named, exit 74; a restart recovers', async () => {
    const d = fleet.devices[0];
    if (!d) throw new Error('no device');
    // 96 KiB: enough to start; the WAL passes it after a few hundred heights of a lone validator.
    const r = await startLimited(d.config, 96, fleet.dir);
    const why = r.output.slice(-3_000);
    expect(r.code, why).toBe(74);
    expect(r.output, why).toContain('"event":"ready"');
    const line = r.output.split('\n').find((l) => l.includes('"event":"storage-failed"'));
    expect(line, why).toBeDefined();
    expect(line).toContain('"code":"EFBIG"');
    expect(line).toMatch(/writing \S+(consensus\.wal|signer-state|consensus\.ahead)/);
    expect(line).toContain('raise the file-size limit');
    expect(r.output).not.toContain('invariant broken');
    expect(r.output).not.toMatch(/\n\s+at /); // no stack trace
    const heightAtStop = Number(/"height":(\d+)[^\n]*"event":"storage-failed"/.exec(r.output)?.[1] ?? NaN);
    expect(heightAtStop, why).toBeGreaterThan(1);

    // With a limit its files are already past, it refuses at once, the same way (at start or first write).
    const again = await startLimited(d.config, 8, fleet.dir);
    expect(again.code, again.output.slice(-2_000)).toBe(74);
    expect(again.output, again.output.slice(-2_000)).toMatch(/EFBIG[^\n]*raise the file-size limit/);
    expect(again.output).not.toMatch(/\n\s+at /);

    // Without the limit it starts from what it wrote (a cut last record dropped) and commits on.
    await fleet.start(d);
    const ready = d.output.split('\n').find((l) => l.includes('"event":"ready"')) ?? '';
    const port = Number(/"http":"http:\/\/[^":]+:(\d+)"/.exec(ready)?.[1]);
    expect(Number(/"height":(\d+)/.exec(ready)?.[1]), ready).toBeGreaterThanOrEqual(heightAtStop - 1);
    let height = 0;
    for (let i = 0; i < 50 && height <= heightAtStop; i++) {
      height = ((await (await fetch(`http://127.0.0.1:${port}/health`)).json()) as { height: number }).height;
      if (height <= heightAtStop) await new Promise((r) => setTimeout(r, 200));
    }
    expect(height, d.output.slice(-2_000)).toBeGreaterThan(heightAtStop);
    await fleet.kill(d);
  }, 90_000);

  // The first writes of a start (the data format, the session number) are made while the device is
  // built, before start(): a full disk there was taken for a bad device.yaml (exit 2, no fix named).
  it('a first write at start that fails is the same storage failure, exit 74', async () => {
    const d = fresh.devices[0];
    if (!d) throw new Error('no device');
    const r = await startLimited(d.config, 0, fresh.dir);
    const why = r.output.slice(-2_000);
    expect(r.code, why).toBe(74);
    expect(r.output, why).toMatch(/EFBIG[^\n]*raise the file-size limit/);
    expect(r.output).not.toMatch(/\n\s+at /);
  }, 30_000);

  // Its log file on a full file system too (device.yaml log.file; here /dev/full, which fails every
  // write with ENOSPC). A log write that failed threw out of whatever was logging: the device died on
  // its first line with a stack trace (exit 1), and the storage failure's own fatal line would have
  // thrown the same way. Now its lines go to stderr, said once, and the storage failure is exit 74.
  it('a log file that cannot be written: lines on stderr, and the storage failure still exit 74', async () => {
    const d = logged.devices[0];
    if (!d) throw new Error('no device');
    const text = readFileSync(d.config, 'utf8');
    const config = `${d.config}.logged.yaml`;
    writeFileSync(config, text.replace(/log: \{ level: info \}/, 'log: { level: info, file: /dev/full }'));
    expect(readFileSync(config, 'utf8')).toContain('/dev/full');
    const r = await startLimited(config, 96, logged.dir);
    const why = r.output.slice(-3_000);
    expect(r.code, why).toBe(74);
    expect(r.output, why).toMatch(/cannot write the log file \/dev\/full[^\n]*ENOSPC/);
    expect(r.output, why).toContain('"event":"ready"');
    expect(r.output, why).toMatch(/storage-failed[^\n]*EFBIG[^\n]*raise the file-size limit/);
    expect(r.output).not.toMatch(/\n\s+at /);
  }, 90_000);
});
