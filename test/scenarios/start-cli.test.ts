// `fleet-sim start` (npm start) as a process: bad input is one line naming what is wrong, exit 2; a
// short run prints the dashboard address, progress, the summary and writes both reports.
// The tests of each block run at once (describe.concurrent; vitest's maxConcurrency, 5), each with its own
// scenario file and report names: the real-time runs, which mostly wait on the wall clock, beside the
// refusals (a short process each); then the deterministic runs, which are CPU-bound, on their own.

import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type AddressInfo } from 'node:net';
import { afterAll, describe, it } from 'vitest';
import { runCli } from '../support/run-cli.js';

const dir = mkdtempSync(join(tmpdir(), 'murmur-start-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.concurrent('fleet-sim start on the wall clock, and what it refuses before any run', () => {
  it('--realtime (what npm start adds) runs the real runtime on the wall clock: progress, summary, reports', async ({ expect }) => {
    const file = join(dir, 'rt.yaml');
    // foo.bar: committed as rejected, which the report and the summary say (from the decision logs).
    writeFileSync(file, 'name: rt\nseed: 6\nduration: 6s\nvalidators: 4\nfollowers: 1\nworkload:\n  - { at: 500ms, command: foo.bar }\n  - { from: 500ms, to: 5s, rate: 5/s, command: noop }\nexpect: { safety: true, committedFraction: 0.5 }\n');
    // --reports relative to the working directory, as `npm start`'s default "reports" is; from the
    // clone's sources, as npm start runs it (the other cases start the run's built CLI).
    const r = await runCli('fleet-sim', ['start', file, '--realtime', '--port', '0', '--exit', '--reports', 'out'], { timeoutMs: 90_000, cwd: dir, source: true });
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(r.stdout).toMatch(/fleet-sim dashboard: http:\/\/127\.0\.0\.1:\d+\//);
    expect(r.stdout).toMatch(/all 5 devices ready in/);
    expect(r.stdout).toMatch(/\] +\d+%\s+\d+\/6 s\s+height \d+/); // progress lines (not a terminal: one per tenth)
    expect(r.stdout).toMatch(/safety\s+ok/);
    expect(r.stdout).toMatch(/expect\s+met/);
    const json = JSON.parse(readFileSync(join(dir, 'out', 'rt-seed6.json'), 'utf8')) as { mode: string; file: string; liveness: { heights: number; commandsRejected: number; rejections: { height: number; type: string; reason: string }[] } };
    expect(json.mode).toBe('realtime');
    expect(json.liveness.heights).toBeGreaterThan(3);
    expect(json.liveness.commandsRejected, r.stdout).toBe(1);
    expect(json.liveness.rejections).toEqual([{ height: expect.any(Number), type: 'foo.bar', reason: expect.stringMatching(/^unknown command type "foo\.bar"; known: /) }]);
    expect(r.stdout).toMatch(/commands \(1 rejected: foo\.bar: unknown command type "foo\.bar"\), /);
    // The report names its scenario file, so replay can tell what to run again (it said SCENARIO.yaml).
    expect(json.file).toBe(file);
    const replay = await runCli('fleet-sim', ['replay', join(dir, 'out', 'rt-seed6.json')], { cwd: dir });
    expect(replay.code, replay.stderr).toBe(2);
    expect(replay.stderr).toContain(`run the scenario again with fleet-sim start ${file} --realtime --seed 6, or in the deterministic simulator with fleet-sim run ${file} --seed 6`);
    expect(existsSync(join(dir, 'out', 'rt-seed6.html'))).toBe(true);
    // The devices' own logs go to a file beside the reports, not between the progress lines.
    expect(r.stdout).toContain(`device logs: ${join(dir, 'out', 'rt-seed6.devices.log')}`);
    expect(r.stdout).not.toContain('"level":');
    const lines = readFileSync(join(dir, 'out', 'rt-seed6.devices.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { node: string; msg: string });
    expect(new Set(lines.map((l) => l.node))).toEqual(new Set(['v00', 'v01', 'v02', 'v03', 'f00']));
    expect(lines.some((l) => l.msg.includes('ready'))).toBe(true);
  });

  it('--realtime: the device log of a scenario whose name has a space is named as its reports are', async ({ expect }) => {
    const file = join(dir, 'spaced.yaml');
    writeFileSync(file, 'name: my run\nseed: 8\nduration: 6s\nvalidators: 4\nworkload:\n  - { from: 500ms, to: 5500ms, rate: 5/s, command: noop }\nexpect: { safety: true }\n');
    const r = await runCli('fleet-sim', ['start', file, '--realtime', '--no-dashboard', '--exit', '--reports', join(dir, 'spaced')], { timeoutMs: 90_000 });
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(existsSync(join(dir, 'spaced', 'my_run-seed8.json'))).toBe(true);
    expect(r.stdout).toContain(`device logs: ${join(dir, 'spaced', 'my_run-seed8.devices.log')}`);
    expect(existsSync(join(dir, 'spaced', 'my_run-seed8.devices.log'))).toBe(true);
  });

  it('names the bad field of a scenario file and exits 2', async ({ expect }) => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'name: bad\nvalidators: 4\nfaults:\n  - { at: 2s, crash: 9 }\n');
    const r = await runCli('fleet-sim', ['start', bad, '--no-dashboard', '--exit']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('faults[0].crash');
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });

  it('refuses --broker without --realtime, and a malformed broker URL', async ({ expect }) => {
    const [a, b] = await Promise.all([runCli('fleet-sim', ['start', '--broker', 'mqtt://127.0.0.1:1883', '--exit']), runCli('fleet-sim', ['start', '--realtime', '--broker', 'localhost', '--exit'])]);
    expect(a.code).toBe(2);
    expect(a.stderr).toContain('--broker needs --realtime');
    expect(b.code).toBe(2);
    expect(b.stderr).toContain('give one like mqtt://127.0.0.1:1883');
  });

  it('refuses what it would ignore or round: a second scenario, a fractional seed or port, --port with --no-dashboard', async ({ expect }) => {
    const lc = 'fleet-sim/scenarios/leader-crash.yaml';
    const cases: [string[], string][] = [
      [[lc, 'fleet-sim/scenarios/geofence.yaml'], `fleet-sim: start takes one scenario file, got 2: ${lc} fleet-sim/scenarios/geofence.yaml`],
      [[lc, '--seed', '1.5'], 'fleet-sim: --seed must be a whole number in 0..9007199254740991, got "1.5"'],
      [[lc, '--port', '80.5'], 'fleet-sim: --port must be a whole number in 0..65535, got "80.5"'],
      [[lc, '--no-dashboard', '--port', '9000'], 'fleet-sim: --port 9000 and --no-dashboard: give one of them'],
    ];
    const runs = await Promise.all(cases.map(([args]) => runCli('fleet-sim', ['start', ...args, '--speed', '0', '--exit', '--reports', dir])));
    runs.forEach((r, i) => {
      expect(r.stderr.trim(), r.stdout).toBe((cases[i] as [string[], string])[1]);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe(''); // nothing ran
    });
  });

  it('checks --reports DIR before the run, in both modes: a file there is one line, exit 2, not an internal error at the end', async ({ expect }) => {
    const file = join(dir, 'a-file');
    writeFileSync(file, 'not a directory\n');
    const runs = await Promise.all([['--speed', '0'], ['--realtime']].map((mode) => runCli('fleet-sim', ['start', 'fleet-sim/scenarios/leader-crash.yaml', ...mode, '--no-dashboard', '--exit', '--reports', file], { timeoutMs: 60_000 })));
    for (const r of runs) {
      expect(r.stderr.trimEnd().split('\n'), r.stderr).toEqual([`fleet-sim: --reports ${file}: cannot create the directory: a part of the path is a file, not a directory; give a path you can write`]);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe(''); // refused before the run, not after it
    }
  });

  it('help names the scenario start runs by default, as start --help does (it said start ran run\'s default)', async ({ expect }) => {
    const [main, start] = await Promise.all([runCli('fleet-sim', ['--help']), runCli('fleet-sim', ['start', '--help'])]);
    expect(start.stdout).toContain('Runs a scenario (default fleet-sim/scenarios/default.yaml)');
    const entry = main.stdout.slice(main.stdout.indexOf('  start '), main.stdout.indexOf('  seeds '));
    expect(entry.replace(/\s+/g, ' ')).toContain('run one (default fleet-sim/scenarios/default.yaml) with the live dashboard');
    expect(main.stdout).toContain('fleet-sim start --help');
  });

  it('--realtime --broker with nothing listening there is one line naming the broker, exit 5 (unavailable), not an internal error', async ({ expect }) => {
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const r = await runCli('fleet-sim', ['start', 'fleet-sim/scenarios/leader-crash.yaml', '--realtime', '--broker', `mqtt://127.0.0.1:${port}`, '--no-dashboard', '--exit', '--reports', dir], { timeoutMs: 90_000 });
    const errs = r.stderr.trimEnd().split('\n');
    expect(errs, r.stderr).toEqual([`fleet-sim: --broker mqtt://127.0.0.1:${port}: cannot connect (connect ECONNREFUSED 127.0.0.1:${port}); start the broker, or leave out --broker for the embedded one`]);
    expect(r.code).toBe(5);
  });

  it('a dashboard port already taken is one line naming the port and the fix (exit 2), in both modes, before any run', async ({ expect, onTestFinished }) => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    onTestFinished(() => new Promise<void>((resolve) => taken.close(() => resolve())));
    const port = String((taken.address() as AddressInfo).port);
    const runs = await Promise.all([['--speed', '0'], ['--realtime']].map((extra) => runCli('fleet-sim', ['start', 'fleet-sim/scenarios/leader-crash.yaml', '--port', port, '--exit', '--reports', dir, ...extra], { timeoutMs: 60_000 })));
    for (const r of runs) {
      expect(r.stderr.trimEnd().split('\n'), r.stderr).toEqual([`fleet-sim: --port ${port}: 127.0.0.1:${port} is in use (another fleet-sim dashboard?); give another port, or --port 0 for a free one`]);
      expect(r.code).toBe(2);
      expect(r.stdout).not.toContain('%'); // refused before the run, not after it
    }
  });
});

// After the block above (a plain describe: concurrent sibling blocks would run beside each other), its
// tests at once: they keep two cores busy, which would starve the real-time fleets there.
describe('fleet-sim start in the deterministic simulator', () => {
  it.concurrent('runs a short scenario flat out: dashboard address, progress, summary, JSON and HTML reports', async ({ expect }) => {
    const file = join(dir, 'short.yaml');
    writeFileSync(file, 'name: short\nseed: 5\nduration: 4s\nvalidators: 4\nfollowers: 2\nfaults:\n  - { at: 2s, crash: proposer }\nworkload:\n  - { from: 200ms, to: 3800ms, rate: 10/s, command: noop }\nexpect: { safety: true, committedFraction: 0.9 }\n');
    const r = await runCli('fleet-sim', ['start', file, '--speed', '0', '--port', '0', '--exit', '--reports', dir], { timeoutMs: 60_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/fleet-sim dashboard: http:\/\/127\.0\.0\.1:\d+\//);
    expect(r.stdout).toContain('100%');
    expect(r.stdout).toMatch(/safety\s+ok/);
    expect(r.stdout).toMatch(/expect\s+met/);
    const json = JSON.parse(readFileSync(join(dir, 'short-seed5.json'), 'utf8')) as { scenario: string; safety: { ok: boolean }; nodes: { crashed: number[] } };
    expect(json.scenario).toBe('short');
    expect(json.safety.ok).toBe(true);
    expect(json.nodes.crashed.length).toBe(1);
    expect(existsSync(join(dir, 'short-seed5.html'))).toBe(true);
    expect(readFileSync(join(dir, 'short-seed5.html'), 'utf8')).toContain('<script id="recording"');
  });

  it.concurrent('--realtime without socat on the PATH: a scenario with radios says so and runs deterministically instead', async ({ expect, onTestFinished }) => {
    const file = join(dir, 'radio.yaml');
    writeFileSync(file, 'name: radio-nosocat\nseed: 7\nduration: 3s\nvalidators: 4\nlinks:\n  radio: { baud: 57600, mtu: 252, rangeM: 500 }\nworkload:\n  - { from: 200ms, to: 2800ms, rate: 5/s, command: noop }\nexpect: { safety: true }\n');
    const empty = mkdtempSync(join(tmpdir(), 'murmur-nopath-'));
    onTestFinished(() => rmSync(empty, { recursive: true, force: true }));
    const r = await runCli('fleet-sim', ['start', file, '--realtime', '--speed', '0', '--no-dashboard', '--exit', '--reports', dir], { timeoutMs: 60_000, env: { PATH: empty } });
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(r.stderr).toContain('socat is not installed (Debian: apt-get install socat)');
    expect(r.stderr).toContain('runs in the deterministic simulator');
    expect(r.stderr).not.toMatch(/\n\s+at /);
    const json = JSON.parse(readFileSync(join(dir, 'radio-nosocat-seed7.json'), 'utf8')) as { mode: string };
    expect(json.mode).toBe('deterministic');
  });

  it.concurrent('finds its default scenarios from any working directory, not only the clone', async ({ expect, onTestFinished }) => {
    const elsewhere = mkdtempSync(join(tmpdir(), 'murmur-elsewhere-'));
    onTestFinished(() => rmSync(elsewhere, { recursive: true, force: true }));
    // start reads fleet-sim/scenarios/default.yaml first, then checks its options against it.
    const [run, start] = await Promise.all([runCli('fleet-sim', ['run', '--json', '-'], { cwd: elsewhere, timeoutMs: 60_000 }), runCli('fleet-sim', ['start', '--seed', 'x', '--no-dashboard', '--exit'], { cwd: elsewhere })]);
    expect(run.code, run.stderr).toBe(0);
    expect((JSON.parse(run.stdout) as { scenario: string }).scenario).toBe('leader-crash');
    expect(start.stderr.trim(), start.stderr).toBe('fleet-sim: --seed must be a whole number in 0..9007199254740991, got "x"');
    expect(start.code).toBe(2);
  });
});
