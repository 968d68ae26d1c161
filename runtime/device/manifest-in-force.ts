// What a running device takes from the fleet manifest in force, which a fleet.update changes while it
// runs: the peers its links listen to (every validator and follower but itself). Pure: device.ts asks
// after its replay, on each commit and once a second.

import type { Manifest } from '../manifest/manifest.js';

/** The devices `self` listens to: the members of every manifest given (the one in force and one already
 *  committed to take over two heights later, so a new member's first votes are heard), sorted. */
export function peersOf(self: string, manifests: readonly Manifest[]): string[] {
  const ids = new Set<string>();
  for (const m of manifests) for (const x of [...m.body.validators, ...m.body.followers]) if (x.id !== self) ids.add(x.id);
  return [...ids].sort();
}
