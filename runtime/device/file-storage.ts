// The Storage port on a device's disk: files in the data directory, appended and fsynced (the WAL and
// the signer state's log; a file's first sync in a process also fsyncs the directory that lists it),
// appended only (the ahead log), or replaced atomically (write temp, fsync, rename, fsync the directory).

import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync, constants } from 'node:fs';
import { join } from 'node:path';
import type { Storage } from '../node/ports.js';

const namePattern = /^[a-z0-9][a-z0-9._-]{0,63}$/;

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
      fd = openSync(this.path(name), constants.O_WRONLY | constants.O_CREAT | constants.O_APPEND, 0o600);
      this.fds.set(name, fd);
    }
    return fd;
  }

  append(name: string, bytes: Uint8Array): void {
    const fd = this.fd(name);
    for (let off = 0; off < bytes.length; ) off += writeSync(fd, bytes, off, bytes.length - off);
  }

  sync(name: string): void {
    this.timed(() => fsyncSync(this.fd(name)));
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
    const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC, 0o600);
    try {
      for (let off = 0; off < bytes.length; ) off += writeSync(fd, bytes, off, bytes.length - off);
      this.timed(() => fsyncSync(fd));
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.path(name));
    // The rename is durable only once the directory entry is.
    this.syncDir();
    this.dirSynced.add(name);
  }

  private syncDir(): void {
    const dfd = openSync(this.dir, constants.O_RDONLY);
    try {
      this.timed(() => fsyncSync(dfd));
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
    this.onFsync(Number(process.hrtime.bigint() - t0) / 1e9);
  }
}
