// Files the operator names for the CLIs to write (--out, --save, --json FILE). As keygen always did, a
// missing parent directory is created; a path that still cannot be written is one line naming the path
// and why (exit 2), never an internal error.

import { statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { makeDirs } from '../lib/make-dirs.js';
import { CliError, exitCodes } from './kit.js';
import { fsReason } from '../lib/fs-reason.js';

export { fsReason };

/** mkdir -p fails with EEXIST when a part of the path is a file. */
const mkdirReason = (e: unknown): string => ((e as NodeJS.ErrnoException).code === 'EEXIST' ? 'a part of the path is a file, not a directory' : fsReason(e));

/**
 * Makes `path` writable as a file: a directory there is refused (naming a file in it to give instead),
 * and its parent directory is created when missing. `flag` names the option, like "--out".
 */
export function prepareOutputFile(path: string, flag: string, example = 'out'): void {
  let isDir = false;
  try {
    isDir = statSync(path).isDirectory();
  } catch {
    /* nothing there yet: the usual case */
  }
  if (isDir) throw new CliError(`${flag} ${path} is a directory; give a file path, like ${join(path, example)}`, exitCodes.usage);
  const dir = dirname(path);
  try {
    makeDirs(dir);
  } catch (e) {
    throw new CliError(`${flag} ${path}: cannot create the directory ${dir}: ${mkdirReason(e)}; give a path in a directory you can write`, exitCodes.usage);
  }
}

/** Makes `dir` a directory to write into (created when missing), or says why it cannot be. */
export function prepareOutputDir(dir: string, flag: string, mode = 0o755): void {
  try {
    makeDirs(dir, mode);
  } catch (e) {
    throw new CliError(`${flag} ${dir}: cannot create the directory: ${mkdirReason(e)}; give a path you can write`, exitCodes.usage);
  }
  if (!statSync(dir).isDirectory()) throw new CliError(`${flag} ${dir} is a file, not a directory; give a directory path`, exitCodes.usage);
}

export interface OutputOptions {
  /** The option that named the path, for the message ("--out"). */
  readonly flag: string;
  readonly mode?: number;
  /** Refuse (exit 3) when the file exists; the message says to pass --force. */
  readonly exclusive?: boolean;
  /** A file name to suggest when the path is a directory. */
  readonly example?: string;
}

/** Writes `data` to the operator's `path`, creating its directory; any failure is one CliError line. */
export function writeOutputFile(path: string, data: string | Uint8Array, o: OutputOptions): void {
  prepareOutputFile(path, o.flag, o.example);
  try {
    writeFileSync(path, data, { flag: o.exclusive ? 'wx' : 'w', ...(o.mode !== undefined ? { mode: o.mode } : {}) });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new CliError(`${path} already exists (pass --force to replace it)`, exitCodes.refused);
    throw new CliError(`${o.flag} ${path}: cannot write it: ${fsReason(e)}; give a path in a directory you can write`, exitCodes.usage);
  }
}
