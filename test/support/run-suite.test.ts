// The suite's watchdog (run-suite.ts) against a vitest whose worker blocks before its file ends, as a
// hung worker does: the stall is named, the unfinished file re-run, and the verdict is the files'.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';

const here = import.meta.dirname;
const tsx = join(here, '..', '..', 'node_modules', '.bin', 'tsx');

function runSuite(env: Record<string, string>): Promise<{ code: number | null; err: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'murmur-stall-'));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  const child = spawn(tsx, [join(here, 'run-suite.ts'), '--config', join(here, 'fixtures', 'stall', 'vitest.config.ts')], {
    // TMPDIR: the fixture's vitest writes its transformed modules under the temporary directory, and a
    // killed worker leaves them there; inside `dir` they go when the test ends.
    env: { ...process.env, TMPDIR: dir, MURMUR_TEST_STALL_S: '8', STALL_MARKER: join(dir, 'stalled'), ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  onTestFinished(() => { if (child.exitCode === null) process.kill(child.pid!, 'SIGKILL'); });
  let err = '';
  child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, err })));
}

describe.concurrent('run-suite watchdog', () => {
  it('names the stalled file, re-runs it alone, and passes when the re-run passes', async () => {
    const r = await runSuite({});
    expect(r.err).toMatch(/no progress from vitest for 8 s with 1 file\(s\) not finished: .*b\.fixture\.ts/);
    expect(r.err).toMatch(/1 file\(s\) finished before the stall \(0 failed\); re-running the 1 that had not/);
    expect(r.err).toMatch(/the re-run of 1 file\(s\) passed/);
    expect(r.code).toBe(0);
  }, 60_000);

  it('fails when a file failed before the stall, though the re-run passes', async () => {
    const r = await runSuite({ FAIL_A: '1' });
    expect(r.err).toMatch(/1 failed\)/);
    expect(r.err).toMatch(/failed in the first run: .*a\.fixture\.ts/);
    expect(r.code).toBe(1);
  }, 60_000);

  it('fails when a test of the stalled file failed before the stall, though the re-run passes', async () => {
    const r = await runSuite({ FAIL_B_ONCE: '1' });
    expect(r.err).toMatch(/re-running the 1 that had not/);
    expect(r.err).toMatch(/failed in the first run: .*b\.fixture\.ts \(a test, before the stall\)/);
    expect(r.code).toBe(1);
  }, 60_000);

  it('fails when the re-run stalls too', async () => {
    const r = await runSuite({ STALL_ALWAYS: '1' });
    expect(r.err).toMatch(/the re-run stalled too: failing/);
    expect(r.code).toBe(1);
  }, 60_000);
});

describe('run-suite settings', () => {
  it('refuses a stall bound that is not a number of seconds, naming it (it read as NaN: no watchdog)', async () => {
    const r = await runSuite({ MURMUR_TEST_STALL_S: '5m' });
    expect(r.err).toMatch(/^MURMUR_TEST_STALL_S must be a number of seconds more than 0 \(got "5m"\)$/m);
    expect(r.code).toBe(2);
  }, 30_000);
});
