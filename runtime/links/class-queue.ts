// The outbound queue of a link: one bounded queue per traffic class, drained highest class first so
// consensus is never stuck behind telemetry. Overflow (limits.ts): consensus refuses the new item;
// heartbeats and telemetry drop the oldest, since only the newest heartbeat, and the newest position
// report, says anything (a queue that kept the oldest sent positions minutes stale and refused the
// current one).
//
// Consensus has a second lane for bulk: block-sync answers and state-sync offers and chunks
// (bulkEnvelope), drained after heartbeats and before telemetry. On a radio a block-sync answer is
// tens of packets, over a second of airtime at 57600 baud; in one lane with the votes, a validator
// answering a lagging peer held its own prevotes and precommits behind it for that long, and the
// height's rounds timed out (fleet-sim's default scenario, when the broker goes down). On the wire a
// bulk envelope is still consensus; only the order in which this device sends differs.

import { BoundedQueue } from '../lib/bounded-queue.js';
import { limits } from '../lib/limits.js';
import { peekEnvelope } from '../wire/envelope.js';
import { kinds } from '../wire/kinds.js';
import type { TrafficClass } from './link.js';

export interface ClassQueueSizes {
  readonly consensus: number;
  readonly heartbeat: number;
  readonly telemetry: number;
}

export const defaultQueueSizes: ClassQueueSizes = {
  consensus: limits.linkConsensusQueueMax,
  heartbeat: limits.linkHeartbeatQueueMax,
  telemetry: limits.linkTelemetryQueueMax,
};

/** Bytes each lane may hold (consensus's bulk lane has the consensus budget again, its own). */
export const defaultQueueBytes: ClassQueueSizes = {
  consensus: limits.linkConsensusQueueBytesMax,
  heartbeat: limits.linkHeartbeatQueueBytesMax,
  telemetry: limits.linkTelemetryQueueBytesMax,
};

/** Which bound an item was dropped or refused for. */
export type QueueBound = 'count' | 'bytes';

/** A byte bound per lane, and how many bytes an item holds. */
export interface QueueBytes<T> {
  readonly max: ClassQueueSizes;
  readonly of: (item: T) => number;
}

export interface Queued<T> {
  readonly cls: TrafficClass;
  readonly item: T;
  /** Queued in consensus's bulk lane. */
  readonly bulk: boolean;
}

const bulkCodes: ReadonlySet<number> = new Set([kinds['sync-response'].code, kinds['snapshot-offer'].code, kinds['snapshot-chunk'].code]);

/** A consensus envelope that carries blocks or state for a peer catching up, not a step of the live height. */
export function bulkEnvelope(envelope: Uint8Array): boolean {
  const code = peekEnvelope(envelope)?.code;
  return code !== undefined && bulkCodes.has(code);
}

type Lane = TrafficClass | 'bulk';
/** The order lanes are drained in. */
const lanes: readonly Lane[] = ['consensus', 'heartbeat', 'bulk', 'telemetry'];

export class ClassQueue<T> {
  private readonly queues: Record<Lane, BoundedQueue<T>>;
  /** Bytes held per lane (with a byte bound). */
  private readonly held: Record<Lane, number> = { consensus: 0, heartbeat: 0, bulk: 0, telemetry: 0 };

  constructor(
    sizes: ClassQueueSizes = defaultQueueSizes,
    /** Called once per item dropped or refused, with its class and the bound it hit. */
    private readonly onDrop: (cls: TrafficClass, bound: QueueBound) => void = () => {},
    /** Without it only the counts bound the lanes. */
    private readonly byteBound?: QueueBytes<T>,
  ) {
    this.queues = {
      consensus: new BoundedQueue<T>(sizes.consensus, 'reject'),
      heartbeat: new BoundedQueue<T>(sizes.heartbeat, 'drop-oldest'),
      bulk: new BoundedQueue<T>(sizes.consensus, 'reject'),
      telemetry: new BoundedQueue<T>(sizes.telemetry, 'drop-oldest'),
    };
  }

  /** False when the item was refused; a heartbeat or telemetry is always accepted (an older one may be
   *  dropped).
   *  `bulk` puts a consensus item in the bulk lane (see above). */
  push(cls: TrafficClass, item: T, bulk = false): boolean {
    const lane = laneOf(cls, bulk);
    const q = this.queues[lane];
    const b = this.byteBound;
    const size = b ? b.of(item) : 0;
    if (b) {
      // By bytes as by count: consensus refuses, the others drop their oldest until the new one fits.
      const max = b.max[cls];
      if (size > max || (q.policy !== 'drop-oldest' && this.held[lane] + size > max)) {
        this.onDrop(cls, 'bytes');
        return false;
      }
      while (this.held[lane] + size > max) {
        this.held[lane] -= b.of(q.shift() as T);
        this.onDrop(cls, 'bytes');
      }
    }
    const full = q.isFull();
    const oldest = full && b && q.policy === 'drop-oldest' ? q.peek() : undefined;
    const accepted = q.push(item);
    if (full) this.onDrop(cls, 'count');
    if (b && accepted) this.held[lane] += size - (oldest === undefined ? 0 : b.of(oldest));
    return accepted;
  }

  /** Bytes held in all lanes (0 without a byte bound). */
  get bytes(): number {
    let n = 0;
    for (const lane of lanes) n += this.held[lane];
    return n;
  }

  /** The oldest item of the first lane that has one. */
  shift(): Queued<T> | undefined {
    for (const lane of lanes) {
      const item = this.queues[lane].shift();
      if (item === undefined) continue;
      if (this.byteBound) this.held[lane] -= this.byteBound.of(item);
      return queued(lane, item);
    }
    return undefined;
  }

  peek(): Queued<T> | undefined {
    for (const lane of lanes) {
      const item = this.queues[lane].peek();
      if (item !== undefined) return queued(lane, item);
    }
    return undefined;
  }

  /** Free places in the lane of `cls` (a fragmented envelope is queued only if all of it fits). */
  room(cls: TrafficClass, bulk = false): number {
    const q = this.queues[laneOf(cls, bulk)];
    return q.capacity - q.length;
  }

  /** Free bytes in the lane of `cls` (Infinity without a byte bound): a fragmented envelope is queued
   *  only if all of it fits by bytes too. */
  roomBytes(cls: TrafficClass, bulk = false): number {
    return this.byteBound ? this.byteBound.max[cls] - this.held[laneOf(cls, bulk)] : Infinity;
  }

  /** Removes every queued item of `cls` (for consensus, of both its lanes) that matches; returns how many went. */
  removeWhere(cls: TrafficClass, match: (item: T) => boolean): number {
    let removed = 0;
    for (const lane of cls === 'consensus' ? (['consensus', 'bulk'] as const) : [cls]) {
      const q = this.queues[lane];
      const keep = [...q].filter((x) => !match(x));
      const gone = q.length - keep.length;
      if (gone === 0) continue;
      removed += gone;
      q.clear();
      for (const x of keep) q.push(x);
      const b = this.byteBound;
      if (b) this.held[lane] = keep.reduce((n, x) => n + b.of(x), 0);
    }
    return removed;
  }

  /** The oldest queued item of `cls`'s lane (consensus's bulk lane with `bulk`) that matches. */
  firstWhere(cls: TrafficClass, match: (item: T) => boolean, bulk = false): T | undefined {
    for (const x of this.queues[laneOf(cls, bulk)]) if (match(x)) return x;
    return undefined;
  }

  /** The oldest queued item of `cls` (of consensus's bulk lane with `bulk`). */
  peekClass(cls: TrafficClass, bulk = false): T | undefined {
    return this.queues[laneOf(cls, bulk)].peek();
  }

  get length(): number {
    let n = 0;
    for (const lane of lanes) n += this.queues[lane].length;
    return n;
  }

  clear(): void {
    for (const lane of lanes) {
      this.queues[lane].clear();
      this.held[lane] = 0;
    }
  }
}

function laneOf(cls: TrafficClass, bulk: boolean): Lane {
  return bulk && cls === 'consensus' ? 'bulk' : cls;
}

function queued<T>(lane: Lane, item: T): Queued<T> {
  return lane === 'bulk' ? { cls: 'consensus', item, bulk: true } : { cls: lane, item, bulk: false };
}
