// mkdir -p that always ends (runtime/cli/output-file.ts for the CLIs' paths, device.yaml's dataDir).

import { mkdirSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

/**
 * mkdir -p, one level at a time, so it ends: Node's own recursive mkdir retries for ever where mkdir
 * answers ENOENT below a directory that exists (procfs: `murmur keygen --out /proc/x/k.key` spun at
 * 100 % CPU until killed, and so did `murmur start` with `dataDir: /proc/x`, deaf to SIGTERM). The
 * missing directories are found walking up, then made top down. Returns the ones it made, top down (a
 * refused `murmur start` removes them again: runtime/cli/start.ts).
 */
export function makeDirs(dir: string, mode?: number): string[] {
  const missing: string[] = [];
  for (let d = resolve(dir); ; ) {
    let st;
    try {
      st = statSync(d);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    if (st !== undefined) {
      if (st.isDirectory()) break;
      throw Object.assign(new Error(`${d} is not a directory`), { code: 'ENOTDIR' });
    }
    missing.push(d);
    const up = dirname(d);
    if (up === d) break;
    d = up;
  }
  const made: string[] = [];
  for (const d of missing.reverse()) {
    try {
      mkdirSync(d, mode === undefined ? undefined : { mode });
      made.push(d);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST' && statSync(d).isDirectory()) continue; // made meanwhile
      throw e;
    }
  }
  return made;
}
