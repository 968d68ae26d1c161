// Which fleet a data directory belongs to: `fleet` in it names the fleet and its authority key, written
// at the first start. A start whose manifest names another fleet or another authority is refused, naming
// both: a directory kept from a fleet made again (new keys, as after redoing the quickstart without
// `rm -rf data`) or another fleet's replayed a chain whose certificates no key of the new manifest
// signed, and the device went round after round refusing its own blocks until an assertion stopped it
// (exit 70), again at every restart.
// A directory without the file (new, or written by a release from before it) is taken as this fleet's.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { toHex } from '../lib/bytes.js';
import { err, ok, type Result } from '../lib/result.js';
import type { Storage } from '../node/ports.js';

export const dataFleetFile = 'fleet';

export interface DataFleet {
  readonly fleet: string;
  /** The fleet authority's public key, hex. */
  readonly authority: string;
}

export function dataFleetOf(fleet: string, authority: Uint8Array): DataFleet {
  return { fleet, authority: toHex(authority) };
}

/** The fleet `dir` belongs to, null when it names none yet; an error when the file is not one. */
function readDataFleet(dir: string): Result<DataFleet | null> {
  let text: string;
  try {
    text = readFileSync(join(dir, dataFleetFile), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return ok(null);
    return err(`cannot read ${join(dir, dataFleetFile)}: ${(e as Error).message}`);
  }
  try {
    const j = JSON.parse(text) as Partial<DataFleet>;
    if (typeof j.fleet === 'string' && typeof j.authority === 'string') return ok({ fleet: j.fleet, authority: j.authority });
  } catch {
    /* said below */
  }
  return err(`${join(dir, dataFleetFile)} does not name a fleet and its authority; restore it, or remove that file if this directory is the fleet's`);
}

/** Whether `dir` is the data of `want`'s fleet (or of none yet); a refusal names both and what to do. */
export function checkDataFleet(dir: string, want: DataFleet): Result<void> {
  const has = readDataFleet(dir);
  if (!has.ok) return has;
  if (has.value === null || (has.value.fleet === want.fleet && has.value.authority === want.authority)) return ok(undefined);
  const name = (f: DataFleet): string => `fleet "${f.fleet}" (authority ${f.authority.slice(0, 16)}…)`;
  // Which of the two is wrong this device cannot tell: a manifest of another fleet put in place of its own
  // (a provisioning mix-up: the data is right, the manifest is not), or a fleet made anew with new keys
  // over a directory kept from before (the manifest is right, the data is stale). Both fixes are named,
  // the manifest's first (manifest-replaced.test.ts, data-fleet.test.ts).
  return err(`${dir} holds the data of ${name(has.value)}, not of the manifest's ${name(want)}: give the device its own fleet's manifest (device.yaml: manifest); or, if the fleet was made anew, give this device a dataDir of its own for it, or move that directory aside to start afresh`);
}

/** Names the fleet in the directory (written once, at the first start that finds no name). */
export function markDataFleet(storage: Storage, dir: string, fleet: DataFleet): void {
  const has = readDataFleet(dir);
  if (has.ok && has.value === null) storage.replace(dataFleetFile, new TextEncoder().encode(`${JSON.stringify(fleet)}\n`));
}
