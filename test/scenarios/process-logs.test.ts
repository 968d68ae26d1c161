// A device run as its own process (fleet-sim --processes) keeps its log in the report directory, where
// a user reproducing a failure finds it after the run: bounded (device-log-file.ts), and across the
// device's crash and restart. Before, the output lived in memory and in the fleet's temporary
// directory, both gone at the end of the run unless MURMUR_KEEP_FLEET was set.

import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DeviceLogFile } from '../../fleet-sim/realtime/device-log-file.js';
import { FleetProcs } from '../../fleet-sim/realtime/fleet-procs.js';
import { cliRoot } from '../support/run-cli.js';

const dir = mkdtempSync(join(tmpdir(), 'murmur-process-logs-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('a device log file', () => {
  it('keeps the newest lines within twice its bound: the file before it moves to .1', () => {
    const path = join(dir, 'unit.log');
    const f = new DeviceLogFile(path, 1_000);
    let all = '';
    for (let i = 0; i < 250; i++) {
      const line = `line ${String(i).padStart(4, '0')}\n`; // 10 bytes
      all += line;
      f.write(Buffer.from(line));
    }
    f.close();
    expect(f.files()).toEqual([`${path}.1`, path]);
    const kept = f.files().map((p) => readFileSync(p, 'utf8')).join('');
    expect(statSync(path).size).toBeLessThanOrEqual(1_000);
    expect(statSync(`${path}.1`).size).toBeLessThanOrEqual(1_000);
    expect(kept.length).toBeGreaterThanOrEqual(1_000);
    expect(all.endsWith(kept)).toBe(true); // the newest lines, none missing in between
  });
});

describe('fleet-sim --processes: a device process', () => {
  it('logs to the report directory, across a SIGKILL and a restart, and the file outlives the fleet', async () => {
    const logOf = (id: string): string => join(dir, 'reports', `run-seed1.${id}.log`);
    const fleet = new FleetProcs({ validators: 1, followers: 0, brokerUrl: null, processes: true, launchRoot: cliRoot(), fleet: 'process-logs', processLogs: logOf });
    try {
      await fleet.setup();
      const d = fleet.devices[0];
      if (!d) throw new Error('no device');
      await fleet.start(d);
      const pid1 = d.proc?.pid;
      await fleet.kill(d); // SIGKILL by PID: a crash
      await fleet.start(d);
      expect(d.proc?.pid).not.toBe(pid1);
    } finally {
      await fleet.teardown();
    }
    expect(existsSync(fleet.dir)).toBe(false); // the fleet's keys and data are gone, the log is not
    expect(fleet.processLogFiles()).toEqual([logOf('v00')]);
    const lines = readFileSync(logOf('v00'), 'utf8').trim().split('\n');
    // Both runs' start-up, in order, and every line the device's JSON log.
    expect(lines.filter((l) => l.includes('"event":"ready"')).length).toBe(2);
    for (const l of lines) expect(() => JSON.parse(l) as unknown, l).not.toThrow();
  }, 90_000);

  // A report directory on a disk that fills during the run: /dev/full fails every write with ENOSPC, as
  // a full file system does. The write happened in the device's stdout 'data' listener, so it threw out
  // of it: fleet-sim died with a stack trace, leaving its murmur processes and fleet directory behind.
  it('keeps running when its log file cannot be written, and says so once', async () => {
    const fleet = new FleetProcs({ validators: 1, followers: 0, brokerUrl: null, processes: true, launchRoot: cliRoot(), fleet: 'process-logs-full', processLogs: () => '/dev/full' });
    const uncaught: Error[] = [];
    const onUncaught = (e: Error): void => void uncaught.push(e);
    process.on('uncaughtException', onUncaught);
    const warned: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string | Uint8Array, ...rest: never[]) => {
      warned.push(String(chunk));
      return write(chunk, ...rest);
    }) as typeof process.stderr.write;
    try {
      await fleet.setup();
      const d = fleet.devices[0];
      if (!d) throw new Error('no device');
      await fleet.start(d);
      expect(d.output).toContain('"event":"ready"');
    } finally {
      process.stderr.write = write;
      process.off('uncaughtException', onUncaught);
      await fleet.teardown();
    }
    expect(uncaught.map((e) => e.message)).toEqual([]);
    expect(existsSync(fleet.dir)).toBe(false);
    const lines = warned.filter((l) => l.includes('/dev/full'));
    expect(lines.length, warned.join('')).toBe(1);
    expect(lines[0]).toMatch(/ENOSPC/);
  }, 60_000);
});
