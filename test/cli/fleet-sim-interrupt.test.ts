// Ctrl-C in fleet-sim's deterministic runs. At the very end of a paced `fleet-sim start` run: after the
// last paced slice, the liveness check and the reports run without a turn of the event loop, so the
// signal waited in libuv for a handler the run then removed. It was swallowed: the run carried on as if
// nothing was pressed (and on a terminal the dashboard then waited for a second Ctrl-C). Now it is
// heard, said, and ends the program (130). And `fleet-sim run`, whose world ran without a turn of the
// loop at all: the process died by the signal without a word; now it stops within a simulated second.

import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { interruptCli } from '../support/interrupt-cli.js';
import { repoRoot } from '../support/run-cli.js';

const dir = mkdtempSync(join(tmpdir(), 'murmur-start-late-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('fleet-sim start, Ctrl-C as the paced run reaches its end', () => {
  it('is heard: the summary and reports stand, one line says so, exit 130', async () => {
    const reports = join(dir, 'reports');
    // Sent when the last paced slice printed its line (non-TTY progress: a line each 10 %); the liveness
    // check and the reports come next, ~0.8 s of work on an idle machine.
    const { code, signal, stdout, stderr, sentAt } = await interruptCli('fleet-sim', ['start', 'fleet-sim/scenarios/leader-crash.yaml', '--speed', '10', '--no-dashboard', '--reports', reports], (out) => out.includes('100%  20/20 s'), 60_000);
    const said = stdout + stderr;
    expect(sentAt, said).toBeGreaterThan(0);
    expect({ code, signal }, said).toEqual({ code: 130, signal: null });
    expect(stderr).toBe('fleet-sim: Ctrl-C came as the run finished: its summary and reports are above; the dashboard is closed\n');
    expect(stdout.slice(sentAt)).toContain('safety    ok');
    expect(readdirSync(reports).sort()).toEqual(['leader-crash-seed7.html', 'leader-crash-seed7.json']);
    expect(existsSync(join(reports, 'leader-crash-seed7.json'))).toBe(true);
  }, 90_000);
});

/** CPU seconds process `pid` has used (utime + stime of /proc/PID/stat, at 100 ticks a second). */
function cpuSeconds(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

describe('fleet-sim start, Ctrl-C during the paced run', () => {
  it('says how to get the reports at once with the options given (--reports, the dashboard\'s), exit 130', async () => {
    const reports = join(dir, "start's reports");
    // Paced at real time: the first progress line (non-TTY: one each 10 %) comes at 2 s of 20 s.
    const { code, signal, stdout, stderr, sentAt } = await interruptCli('fleet-sim', ['start', 'fleet-sim/scenarios/leader-crash.yaml', '--seed', '9', '--no-dashboard', '--exit', '--reports', reports], (out) => out.includes('10%'), 60_000);
    expect(sentAt, stdout + stderr).toBeGreaterThan(0);
    expect({ code, signal }, stdout + stderr).toEqual({ code: 130, signal: null });
    expect(stderr).toMatch(/^fleet-sim: interrupted at [\d.]+ s of 20 s; no report written\. The run is deterministic: fleet-sim start fleet-sim\/scenarios\/leader-crash\.yaml --seed 9 --speed 0 (.*) writes its reports without pacing\n$/);
    // The path as one shell word: in quotes, its own quote as '\''.
    expect(/--speed 0 (.*) writes/.exec(stderr)?.[1]).toBe(`--reports '${reports.replace(/'/g, "'\\''")}' --no-dashboard --exit`);
    expect(existsSync(reports) ? readdirSync(reports) : []).toEqual([]);
  }, 90_000);
});

describe('fleet-sim run, Ctrl-C during the world', () => {
  it('stops within a simulated second, says where and how to run it again, writes no report (exit 130)', async () => {
    // leader-crash, made 6,000 s long (about 40 s of CPU here): the signal lands mid-world.
    const scenario = join(dir, 'long.yaml');
    writeFileSync(scenario, readFileSync(join(repoRoot, 'fleet-sim/scenarios/leader-crash.yaml'), 'utf8').replace('duration: 20s', 'duration: 6000s'));
    const report = join(dir, 'long.json');
    // Sent once the world runs: after 3 s of CPU (starting the CLI and loading the simulator take well
    // under 1 s built, 1-2 s from the sources through tsx). Node catches SIGINT from its start whether or
    // not a listener is set (SigCgt), so /proc cannot tell when fleet-sim listens.
    const { code, signal, stdout, stderr, sentAt } = await interruptCli('fleet-sim', ['run', scenario, '--json', report], (_out, pid) => cpuSeconds(pid) >= 3, 60_000);
    expect(sentAt, `never sent: ${stdout}${stderr}`).toBeGreaterThanOrEqual(0);
    expect({ code, signal }, stdout + stderr).toEqual({ code: 130, signal: null });
    // Again with the user's --json FILE (it said --json -, which prints the report instead).
    expect(stderr).toMatch(new RegExp(`^fleet-sim: Ctrl-C: stopped at \\d+ s of 6000 s \\(simulated\\); no report written\\. The run is deterministic: npx fleet-sim run ${scenario.replace(/[.]/g, '\\.')} --seed 7 --json ${report.replace(/[.]/g, '\\.')} runs it again\\n$`));
    expect(Number(/stopped at (\d+) s/.exec(stderr)?.[1])).toBeLessThan(6000);
    expect(stdout).toBe('');
    expect(existsSync(report)).toBe(false);
  }, 90_000);
});
