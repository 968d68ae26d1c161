// The scratch trees of test runs killed before their teardown are removed by the next run's setup
// (test/support/built-cli.global.ts): only those whose owning PID is gone, never a live run's.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { pidAlive, sweepDeadScratch } from './stale-dirs.js';

/** The PID of a process that has exited (spawnSync waits for it). */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', '0'], { timeout: 10_000 });
  expect(r.status).toBe(0);
  expect(pidAlive(r.pid)).toBe(false);
  return r.pid;
}

describe('sweepDeadScratch', () => {
  it("removes test-cli-PID and build-PID of a process that is gone, and keeps a live process's, this one's and any other name", () => {
    const dir = mkdtempSync(join(tmpdir(), 'murmur-sweep-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const dead = deadPid();
    const live = process.ppid; // the vitest process that started this worker
    const names = [`test-cli-${dead}`, `build-${dead}`, `test-cli-${live}`, `test-cli-${process.pid}`, `demo-${dead}`, `test-cli-${dead}x`];
    for (const n of names) {
      mkdirSync(join(dir, n, 'dist'), { recursive: true });
      writeFileSync(join(dir, n, 'dist', 'a.js'), '');
    }
    expect(sweepDeadScratch(dir)).toEqual([`build-${dead}`, `test-cli-${dead}`]);
    expect(readdirSync(dir).sort()).toEqual([`demo-${dead}`, `test-cli-${dead}x`, `test-cli-${live}`, `test-cli-${process.pid}`].sort());
    expect(sweepDeadScratch(join(dir, 'absent'))).toEqual([]);
    expect(existsSync(join(dir, `test-cli-${live}`, 'dist', 'a.js'))).toBe(true);
  });
});
