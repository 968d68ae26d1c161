// Worlds that found bugs, kept whole as `fleet-sim seeds` drew them: a new draw in the generator may
// change what their seed makes now (fleet-sim/sim/random-world.ts), and a regression test must keep
// replaying the world that failed.

import { readFileSync } from 'node:fs';
import type { Scenario } from '../../../fleet-sim/scenario/scenario.js';

/** The world in test/consensus/worlds/`file`, and its path for a failure message. */
export function keptWorld(file: string): { world: Scenario; path: string } {
  const url = new URL(file, import.meta.url);
  return { world: JSON.parse(readFileSync(url, 'utf8')) as Scenario, path: url.pathname };
}
