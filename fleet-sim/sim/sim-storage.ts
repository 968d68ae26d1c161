// Simulated disk for one node: appended bytes sit in a volatile buffer until sync; a power loss loses
// them, or (torn mode) keeps a random prefix of them, or (holes mode) a random prefix in which some
// sectors never reached the disk and read as zeros, as a real disk can. A process crash (process mode:
// kill -9, a panic) keeps them all: the kernel has them.

import type { Prng } from '../../runtime/lib/prng.js';
import { concatBytes } from '../../runtime/lib/bytes.js';
import type { Storage } from '../../runtime/node/ports.js';
import { diskSectorBytes } from '../../runtime/node/framed-log.js';

export type CrashMode = 'intact' | 'torn' | 'holes' | 'process';


export class SimStorage implements Storage {
  /**
   * Durable bytes per file as chunks in order: a sync adds its appends as chunks instead of copying the
   * whole file, so a long WAL costs O(appended bytes), not O(file size) per sync. Read flattens once.
   */
  private readonly durable = new Map<string, Uint8Array[]>();
  private readonly pending = new Map<string, Uint8Array[]>();
  writes = 0;
  syncs = 0;

  read(name: string): Uint8Array | undefined {
    const d = this.durable.has(name) ? this.flat(name) : undefined;
    const p = this.pending.get(name);
    if (!p || p.length === 0) return d;
    return concatBytes(d ?? new Uint8Array(0), ...p);
  }

  append(name: string, bytes: Uint8Array): void {
    this.writes++;
    const p = this.pending.get(name) ?? [];
    p.push(bytes); // handed over (Storage.append): kept as it is
    this.pending.set(name, p);
  }

  sync(name: string): void {
    this.syncs++;
    const p = this.pending.get(name);
    if (!p || p.length === 0) return;
    const d = this.durable.get(name);
    if (d) d.push(...p);
    else this.durable.set(name, [...p]);
    this.pending.delete(name);
  }

  replace(name: string, bytes: Uint8Array): void {
    this.writes++;
    this.syncs++;
    this.pending.delete(name);
    this.durable.set(name, [new Uint8Array(bytes)]);
  }

  /** The durable bytes of one file as one array (kept, so the next read is free). */
  private flat(name: string): Uint8Array {
    const chunks = this.durable.get(name) ?? [];
    if (chunks.length === 1) return chunks[0] as Uint8Array;
    const all = concatBytes(...chunks);
    this.durable.set(name, [all]);
    return all;
  }

  /** Whether `name` has appended bytes not synced yet (a crash now tears them). */
  hasPending(name: string): boolean {
    return (this.pending.get(name)?.length ?? 0) > 0;
  }

  /** Power loss: unsynced bytes vanish, or a torn prefix of them survives, or (holes) a prefix of them
   *  with each sector kept or lost (zeros) on its own: later pages written and an earlier one not. A
   *  process crash: they all stay. */
  crash(mode: CrashMode, prng: Prng): void {
    for (const [name, p] of this.pending) {
      const all = concatBytes(...p);
      if (mode === 'process') {
        this.durable.set(name, [...(this.durable.get(name) ?? []), all]);
        continue;
      }
      if (mode === 'intact' || all.length <= 1) continue;
      const kept = all.slice(0, prng.int(all.length));
      if (mode === 'holes') {
        const base = this.durable.has(name) ? this.flat(name).length : 0;
        // Sectors are aligned to the file's offsets, not to where the unsynced bytes start.
        for (let at = 0; at < kept.length; ) {
          const end = Math.min(kept.length, (Math.floor((base + at) / diskSectorBytes) + 1) * diskSectorBytes - base);
          if (prng.chance(0.5)) kept.fill(0, at, end);
          at = end;
        }
      }
      this.durable.set(name, [...(this.durable.get(name) ?? []), kept]);
    }
    this.pending.clear();
  }

  /** Appends the first part of a record (a header promising more bytes than follow), as a crash mid-write
   *  leaves; `recordLen`: the payload length every record of this file has (the signer state's fill a
   *  sector), else one longer than what follows. */
  tearTail(name: string, prng: Prng, recordLen?: number): void {
    const d = this.durable.has(name) ? this.flat(name) : new Uint8Array(0);
    const partial = prng.bytes(prng.int(40));
    const header = new Uint8Array(8);
    const claimed = partial.length + 1 + prng.int(200); // drawn either way: seeds replay as before
    new DataView(header.buffer).setUint32(0, recordLen ?? claimed);
    new DataView(header.buffer).setUint32(4, prng.nextU32());
    this.durable.set(name, [concatBytes(d, header.subarray(0, 1 + prng.int(8)), partial.length > 0 && prng.chance(0.5) ? new Uint8Array(0) : new Uint8Array(0))]);
    if (prng.chance(0.5)) this.durable.set(name, [concatBytes(d, header, partial)]);
  }

  /** Flips one byte inside the file (a bad sector); used to prove mid-log corruption stops the node. */
  corrupt(name: string, offset: number): void {
    const d = this.durable.has(name) ? this.flat(name) : undefined;
    if (d && offset < d.length) d[offset] = (d[offset] as number) ^ 0xff;
  }

  /** Amnesia: the node forgets everything but its committed blocks (a Byzantine fault). */
  forget(keep: (name: string) => boolean): void {
    for (const name of [...this.durable.keys()]) if (!keep(name)) this.durable.delete(name);
    this.pending.clear();
  }

  rawDurable(name: string): Uint8Array | undefined {
    return this.durable.has(name) ? this.flat(name) : undefined;
  }

  setDurable(name: string, bytes: Uint8Array): void {
    this.durable.set(name, [bytes]);
  }
}
