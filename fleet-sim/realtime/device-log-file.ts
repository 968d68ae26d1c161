// One --processes device's output (its JSON log lines on stdout, anything on stderr) kept in the report
// directory, bounded: past capBytes the file moves to <name>.1 (replacing the one before) and a new one
// starts, so the newest capBytes to 2 x capBytes are kept, whatever the run's length. The device's
// restarts (crash faults, amnesia) append to the same file, so a crash and what came after it read as one.

import { closeSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';

export class DeviceLogFile {
  private fd: number;
  private bytes = 0;
  /** Whether <path>.1 holds older lines. */
  rotated = false;

  constructor(
    readonly path: string,
    private readonly capBytes: number,
  ) {
    rmSync(`${path}.1`, { force: true }); // this run's lines only
    this.fd = openSync(path, 'w');
  }

  /** Called once with a one-line reason when the file cannot be written (a full disk): from then on
   *  this device's output is no longer kept, and the run goes on. */
  onError: ((reason: string) => void) | undefined;

  /** Never throws: it runs in the device's output listener, where a throw ended fleet-sim mid-run. */
  write(chunk: Buffer): void {
    if (this.fd < 0) return;
    try {
      if (this.bytes > 0 && this.bytes + chunk.length > this.capBytes) {
        closeSync(this.fd);
        this.fd = -1;
        renameSync(this.path, `${this.path}.1`);
        this.fd = openSync(this.path, 'w');
        this.bytes = 0;
        this.rotated = true;
      }
      // A chunk larger than the cap on its own keeps its newest capBytes.
      const tail = chunk.length > this.capBytes ? chunk.subarray(chunk.length - this.capBytes) : chunk;
      for (let off = 0; off < tail.length; ) off += writeSync(this.fd, tail, off, tail.length - off);
      this.bytes += tail.length;
    } catch (e) {
      this.close();
      this.onError?.(`cannot write ${this.path}: ${(e as Error).message}; this device's output is no longer kept there`);
    }
  }

  /** The files that hold this device's lines, oldest first. */
  files(): string[] {
    return this.rotated ? [`${this.path}.1`, this.path] : [this.path];
  }

  close(): void {
    if (this.fd < 0) return;
    const fd = this.fd;
    this.fd = -1;
    try {
      closeSync(fd);
    } catch {
      // closing fails only on a descriptor already gone: nothing more to keep
    }
  }
}
