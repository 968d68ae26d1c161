// Scratch directories named after the process that owns them (.murmur-tmp/test-cli-PID of a test run,
// .murmur-tmp/build-PID of deploy/build.ts): the ones whose process is gone (a run killed before its
// teardown) are removed when the next run starts, so they do not pile up in the clone.

import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const owned = /^(test-cli|build)-(\d+)$/;

/** Whether a process with this PID exists (EPERM: it does, another user's). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes `dir`'s test-cli-PID and build-PID entries whose PID is not a live process (never this
 *  one's); returns the names removed. A missing `dir` has none. */
export function sweepDeadScratch(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names.sort()) {
    const m = owned.exec(name);
    if (!m) continue;
    const pid = Number(m[2]);
    if (pid === process.pid || pidAlive(pid)) continue;
    rmSync(join(dir, name), { recursive: true, force: true });
    removed.push(name);
  }
  return removed;
}
