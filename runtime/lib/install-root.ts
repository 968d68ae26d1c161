// Where Murmur's launchers are, seen from a module of Murmur's own: the clone's root when the module
// runs as TypeScript source (runtime/..., fleet-sim/...), the release's root when it runs built
// (dist/runtime/..., dist/fleet-sim/... beside bin/ in a bundle or a `npm run build` tree). Code that
// starts another Murmur process (fleet-sim's device processes, the simulated flight controller) starts
// it through bin/ there, so the child runs the same way as its parent: from source or built.

import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The nearest directory above the module at `moduleUrl` that holds bin/murmur.js. */
export function installRoot(moduleUrl: string): string {
  let dir = dirname(fileURLToPath(moduleUrl));
  // A module is at most a few folders below the root; the bound keeps a misplaced file from walking to /.
  for (let i = 0; i < 8; i += 1) {
    if (existsSync(join(dir, 'bin', 'murmur.js'))) return dir;
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  throw new Error(`no bin/murmur.js above ${fileURLToPath(moduleUrl)}: Murmur's files are not laid out as a clone or a release`);
}
