// What `fleet-sim run` and `start` read as a scenario file, and the seeds they take: a device file or a
// huge file was read until the process held gigabytes; `--seed` of run refused seeds a scenario file
// and `start` accept, so a failed run's replay line was refused by run itself.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/run-cli.js';

const dir = mkdtempSync(join(tmpdir(), 'murmur-scenario-file-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('fleet-sim scenario files and seeds', () => {
  it('refuses a device, a directory and a file over 1 MiB, each in one line naming it (exit 2)', async () => {
    const big = join(dir, 'big.yaml');
    writeFileSync(big, `name: big\n# ${'x'.repeat(1 << 20)}\n`);
    const [zero, folder, huge, started] = await Promise.all([
      runCli('fleet-sim', ['run', '/dev/zero'], { timeoutMs: 30_000 }),
      runCli('fleet-sim', ['run', dir]),
      runCli('fleet-sim', ['run', big]),
      runCli('fleet-sim', ['start', '/dev/zero', '--no-dashboard', '--exit']),
    ]);
    // The shipped scenario's path is the tree's the CLI runs from (a built one in the tests).
    expect(zero.code).toBe(2);
    expect(zero.stderr).toMatch(/^fleet-sim: \/dev\/zero is not a regular file \(a device or socket\); give a scenario file, like \S*fleet-sim\/scenarios\/leader-crash\.yaml\n$/);
    expect([started.code, started.stderr]).toEqual([2, zero.stderr]);
    expect([folder.code, folder.stderr]).toEqual([2, `fleet-sim: ${dir} is a directory; give a scenario file in it, like ${join(dir, 'leader-crash.yaml')}\n`]);
    expect([huge.code, huge.stderr]).toEqual([2, `fleet-sim: ${big} is larger than 1 MiB; a scenario file is a few kilobytes (the 1000-device fleet's is under 2 KB)\n`]);
  });

  it('takes a seed up to 2^53 - 1 as a scenario file does, and says that bound', async () => {
    const file = join(dir, 'short.yaml');
    writeFileSync(file, 'name: short\nduration: 1s\nseed: 9007199254740991\nworkload:\n  - { from: 100ms, to: 900ms, rate: 5/s, command: noop }\n');
    const [top, over, low] = await Promise.all([
      runCli('fleet-sim', ['run', file, '--seed', '9007199254740991']),
      runCli('fleet-sim', ['run', file, '--seed', '9007199254740992']),
      runCli('fleet-sim', ['run', file, '--seed', '-1']),
    ]);
    expect(top.code, top.stderr).toBe(0);
    expect(top.stdout).toMatch(/^short seed 9007199254740991: ok /);
    expect([over.code, over.stderr]).toEqual([2, 'fleet-sim: --seed must be a whole number in 0..9007199254740991, got "9007199254740992"\n']);
    expect(low.code).toBe(2);
    const threads = await runCli('fleet-sim', ['run', file, '--threads', '0']);
    expect([threads.code, threads.stderr]).toEqual([2, 'fleet-sim: --threads must be a whole number from 1 to 16, got "0"\n']);
  });

  it('a scenario with hil run in the deterministic simulator says that only real time flies the flight controller', async () => {
    const file = join(dir, 'hil.yaml');
    writeFileSync(file, 'name: hil-note\nduration: 1s\nvalidators: 4\nhil: { nodes: [0, 2], autopilot: px4 }\n');
    const [run, start] = await Promise.all([runCli('fleet-sim', ['run', file]), runCli('fleet-sim', ['start', file, '--no-dashboard', '--exit', '--speed', '0', '--reports', join(dir, 'reports')])]);
    const note = `fleet-sim: note: hil (nodes 0, 2) flies the simulated flight controller over MAVLink in real time only; this deterministic run flies the simulated multirotor there (fleet-sim start ${file} --realtime for the flight controller)\n`;
    expect([run.code, run.stderr]).toEqual([0, note]);
    expect(start.code, start.stderr).toBe(0);
    expect(start.stderr).toContain(note);
  });
});
