// Scratch directories and files named after the process that owns them (.murmur-tmp/bundle-...-PID,
// an --out's .partial-PID, a test run's .murmur-tmp/test-cli-PID): the ones whose process is gone (a run
// killed before it cleaned up) are removed when the next run starts, so they do not pile up.

import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

/** Whether a process with this PID exists (EPERM: it does, another user's). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes `dir`'s entries whose name matches `owned` (group 1: a pid) and whose process is gone (never
 *  this one's); returns the names removed, sorted. A missing `dir` has none. */
export function sweepDead(dir: string, owned: RegExp): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const n of names.sort()) {
    const pid = Number(owned.exec(n)?.[1] ?? NaN);
    if (!Number.isSafeInteger(pid) || pid === process.pid || pidAlive(pid)) continue;
    rmSync(join(dir, n), { recursive: true, force: true });
    removed.push(n);
  }
  return removed;
}
