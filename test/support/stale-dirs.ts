// Scratch directories named after the process that owns them (.murmur-tmp/test-cli-PID of a test run,
// .murmur-tmp/build-PID of deploy/build.ts): the ones whose process is gone (a run killed before its
// teardown) are removed when the next run starts, so they do not pile up in the clone.

import { sweepDead } from '../../deploy/stale-dirs.js';

export { pidAlive } from '../../deploy/stale-dirs.js';

/** Removes `dir`'s test-cli-PID and build-PID entries whose PID is not a live process (never this
 *  one's); returns the names removed. A missing `dir` has none. */
export function sweepDeadScratch(dir: string): string[] {
  return sweepDead(dir, /^(?:test-cli|build)-(\d+)$/);
}
