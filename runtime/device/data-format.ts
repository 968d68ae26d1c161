// The data directory's format version: `data-format` in it holds one number, the newest format any
// release that ran on this directory wrote. A release reads formats up to its own `dataFormat` and
// refuses a newer one at start, naming it; install.sh refuses to make a release current (install or
// rollback) when the directory holds a format newer than that release's RELEASE.json declares.
//
// Why: the data directory is never rolled back with a release (the signer state must never go
// backwards, ARCHITECTURE.md "Deploy"), so an older release must not run on files it would misread.
// A release bumps `dataFormat` only when the release before it cannot read what it writes safely;
// additions an older release can ignore keep the number (format 1: the WAL, the ahead log, the signer
// state, snapshots). A directory without the file was written by a release from before
// it, which wrote format 1.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { err, ok, type Result } from '../lib/result.js';
import type { Storage } from '../node/ports.js';

export const dataFormat = 1;
export const dataFormatFile = 'data-format';

/** The format a data directory holds: 0 when it has no `data-format` file. */
function readDataFormat(dir: string): Result<number> {
  let text: string;
  try {
    text = readFileSync(join(dir, dataFormatFile), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return ok(0);
    return err(`cannot read ${join(dir, dataFormatFile)}: ${(e as Error).message}`);
  }
  const m = /^(\d{1,6})\n?$/.exec(text);
  if (!m) return err(`${join(dir, dataFormatFile)} holds ${JSON.stringify(text.slice(0, 40))}, not a data format number; restore it (this release writes ${dataFormat})`);
  return ok(Number(m[1]));
}

/** Whether this release may run on `dir`; a refusal says which format it holds and what to do. */
export function checkDataFormat(dir: string): Result<number> {
  const f = readDataFormat(dir);
  if (!f.ok) return f;
  if (f.value > dataFormat) {
    return err(`${dir} holds data format ${f.value}, written by a newer release; this release reads formats up to ${dataFormat}: install a release that reads format ${f.value} (never delete the directory: its signer state keeps the device from signing twice)`);
  }
  return f;
}

/** Records this release's format before anything else is written (a no-op when it is there already). */
export function markDataFormat(storage: Storage, found: number): void {
  if (found < dataFormat) storage.replace(dataFormatFile, new TextEncoder().encode(`${dataFormat}\n`));
}
