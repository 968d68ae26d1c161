// Report files written whole or not at all: each goes to a temporary file in the same directory, is
// fsynced, and only then renamed over the old one, so a crash, a second Ctrl-C or a full disk part way
// through leaves the previous report (or none), never a truncated one. Same recipe as the device's
// file storage (runtime/device/file-storage.ts, replace()).

import { closeSync, constants, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';

/** A file written next to its final name, not yet renamed into place. */
export interface StagedFile {
  readonly path: string;
  readonly tmp: string;
}

/** The temporary name of `path`: hidden, in the same directory (a rename never crosses file systems). */
export function stagingName(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
}

/** Writes and fsyncs `data` under a temporary name beside `path`; removes it again if that fails. */
export function stageFile(path: string, data: string | Uint8Array): StagedFile {
  const tmp = stagingName(path);
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o644);
  try {
    for (let off = 0; off < bytes.length; ) off += writeSync(fd, bytes, off, bytes.length - off);
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw e;
  }
  closeSync(fd);
  return { path, tmp };
}

/** Renames staged files into place, then fsyncs their directories so the renames last. */
export function commitStaged(files: readonly StagedFile[]): void {
  for (const f of files) renameSync(f.tmp, f.path);
  for (const dir of new Set(files.map((f) => dirname(f.path)))) {
    const fd = openSync(dir, constants.O_RDONLY);
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }
}

/** Removes staged files that will not be renamed (a later one failed). */
export function discardStaged(files: readonly StagedFile[]): void {
  for (const f of files) rmSync(f.tmp, { force: true });
}

/** Writes several files so that each is whole: all are written and fsynced before any is renamed into
 *  place, so a failure while writing (the long part) leaves every old file as it was. */
export function writeFilesAtomic(files: readonly { readonly path: string; readonly data: string | Uint8Array }[]): void {
  const staged: StagedFile[] = [];
  try {
    for (const f of files) staged.push(stageFile(f.path, f.data));
    commitStaged(staged);
  } catch (e) {
    discardStaged(staged);
    throw e;
  }
}
