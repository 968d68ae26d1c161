// The ports a consensus node is built from. A device hands in real ones (wall clock, files with fsync,
// MQTT/radio links); fleet-sim hands in simulated ones. The shell between them is the same code.

import type { CommittedBlock } from '../consensus/types.js';
import type { Result } from '../lib/result.js';

export interface Clock {
  /** Milliseconds: Unix time on a device, virtual time in fleet-sim. */
  now(): number;
}

/** Calls `fire` once at (or after) `atMs` on the Clock's time line. */
export interface Scheduler {
  at(atMs: number, fire: () => void): void;
}

/**
 * Durable storage, synchronous on purpose: the consensus path waits for the disk anyway (save before
 * acting), and a synchronous port keeps the simulated world deterministic.
 */
export interface Storage {
  read(name: string): Uint8Array | undefined;
  /** Appends bytes; they may be lost at a crash until `sync` returns. The caller hands `bytes` over (a
   *  record it encoded for this write and does not touch again): a storage may keep them, not a copy. */
  append(name: string, bytes: Uint8Array): void;
  /** fsync: everything appended before is durable when this returns. */
  sync(name: string): void;
  /** Replaces the whole file atomically and durably (write temp, fsync, rename). */
  replace(name: string, bytes: Uint8Array): void;
}

/** Sends one signed envelope to one peer, or to every peer when `to` is null (a Link's job). */
export type SendPort = (to: string | null, bytes: Uint8Array) => void;

export interface Logger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export const silentLogger: Logger = { info: () => {}, warn: () => {}, error: () => {} };

/**
 * The application a shell drives (the mission runner on a device, fleet-sim's application there).
 * It sees every committed block once, in height order, live or replayed from the WAL, and it can
 * hand over its state as bytes for the snapshots every node takes at checkpoint heights.
 */
export interface Application {
  /** Applies one committed block. During WAL replay too: the application suppresses side effects itself. */
  commit(c: CommittedBlock): void;
  /**
   * The state after the last applied block as canonical bytes: two nodes with the same history give
   * byte-identical output, since the snapshot's hash rides in blocks and more than 2/3 must agree.
   */
  exportState(): Uint8Array;
  /** Replaces the state with bytes exportState gave (a snapshot); a reason when they do not decode. */
  importState(bytes: Uint8Array): Result<void>;
  /**
   * Why a device's report (`body` of an attestation or telemetry envelope from `sender`, unverified) can
   * change nothing in the state committed so far nor in any later one, whichever block `nextHeight` or
   * after took it; null when it may. The edge drops such a report before its signature is checked
   * (EdgeContext.superseded): a replay then takes no place in the mempool or a block. Absent: every
   * report goes on to the mempool.
   */
  superseded?(kind: 'attestation' | 'telemetry', sender: string, body: Uint8Array, nextHeight: number): string | null;
}
