// The Storage port on a device's disk: files in the data directory, appended and fsynced (the WAL and
// the signer state's log; a file's first sync in a process also fsyncs the directory that lists it),
// appended only (the ahead log), or replaced atomically (write temp, fsync, rename, fsync the directory).
// A write that fails (disk full, a file-size limit, an I/O error, a directory gone read-only) throws a
// StorageError naming the file and the operation, so the device can say what to fix (device.ts).

import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync, constants } from 'node:fs';
import { join } from 'node:path';
import type { Storage } from '../node/ports.js';
import { traceMark, tracing } from '../lib/trace.js';

const namePattern = /^[a-z0-9][a-z0-9._-]{0,63}$/;

/** A data-directory write, sync or rename that failed: `code` is the system's (ENOSPC, EIO, EROFS...). */
export class StorageError extends Error {
  constructor(
    readonly op: string,
    readonly file: string,
    readonly code: string,
    cause: Error,
  ) {
    super(`${op} ${file}: ${cause.message}`);
  }
}

/** What an operator does about a failed write, by its system error code. */
export function storageFix(code: string): string {
  switch (code) {
    case 'ENOSPC':
    case 'EDQUOT':
      return 'free space on that file system (or raise the quota)';
    case 'EFBIG':
      return 'raise the file-size limit this process runs under (ulimit -f, LimitFSIZE= in its systemd unit)';
    case 'EROFS':
      return 'the file system went read-only (often after disk errors): check the disk and remount it read-write';
    case 'EIO':
      return 'the disk reported an I/O error: check it (dmesg) and replace it if it keeps failing';
    case 'EACCES':
    case 'EPERM':
      return "give this process's user write access to the data directory";
    case 'ENOENT':
      return 'the data directory or a file in it was removed while the device ran: restore it or start afresh with an empty one';
    default:
      return 'fix the data directory';
  }
}

/** Runs `f`, turning a system error into a StorageError that names the file and what was being done. */
function io<T>(op: string, file: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) throw new StorageError(op, file, code, e as Error);
    throw e;
  }
}

export class FileStorage implements Storage {
  private readonly fds = new Map<string, number>();
  /** Files whose directory entry this process has fsynced (after their first sync or a replace). */
  private readonly dirSynced = new Set<string>();

  constructor(
    private readonly dir: string,
    /** Told how long each fsync took, in seconds (the WAL fsync metric). */
    private readonly onFsync: (seconds: number) => void = () => {},
  ) {}

  private path(name: string): string {
    if (!namePattern.test(name)) throw new Error(`storage file name "${name}" is not allowed`);
    return join(this.dir, name);
  }

  read(name: string): Uint8Array | undefined {
    try {
      return new Uint8Array(readFileSync(this.path(name)));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  }

  private fd(name: string): number {
    let fd = this.fds.get(name);
    if (fd === undefined) {
      const path = this.path(name);
      fd = io('opening', path, () => openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_APPEND, 0o600));
      this.fds.set(name, fd);
    }
    return fd;
  }

  append(name: string, bytes: Uint8Array): void {
    const fd = this.fd(name);
    io('writing', this.path(name), () => {
      for (let off = 0; off < bytes.length; ) off += writeSync(fd, bytes, off, bytes.length - off);
    });
  }

  sync(name: string): void {
    const fd = this.fd(name);
    io('syncing', this.path(name), () => this.timed(() => fsyncSync(fd)));
    // A file is durable only once its directory entry is: this process may have created it, or a
    // process that crashed before its directory fsync. Once per file per process.
    if (!this.dirSynced.has(name)) {
      this.syncDir();
      this.dirSynced.add(name);
    }
  }

  replace(name: string, bytes: Uint8Array): void {
    const open = this.fds.get(name);
    if (open !== undefined) {
      closeSync(open);
      this.fds.delete(name);
    }
    const tmp = `${this.path(name)}.tmp`;
    const fd = io('creating', tmp, () => openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC, 0o600));
    try {
      io('writing', tmp, () => {
        for (let off = 0; off < bytes.length; ) off += writeSync(fd, bytes, off, bytes.length - off);
        this.timed(() => fsyncSync(fd));
      });
    } finally {
      closeSync(fd);
    }
    io('renaming', tmp, () => renameSync(tmp, this.path(name)));
    // The rename is durable only once the directory entry is.
    this.syncDir();
    this.dirSynced.add(name);
  }

  private syncDir(): void {
    const dfd = io('opening', this.dir, () => openSync(this.dir, constants.O_RDONLY));
    try {
      io('syncing', this.dir, () => this.timed(() => fsyncSync(dfd)));
    } finally {
      closeSync(dfd);
    }
  }

  close(): void {
    for (const fd of this.fds.values()) closeSync(fd);
    this.fds.clear();
  }

  private timed(f: () => void): void {
    const t0 = process.hrtime.bigint();
    f();
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    if (tracing) traceMark('fsync', 'fsync', (s * 1e3).toFixed(3));
    this.onFsync(s);
  }
}
