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

  constructor(
    sizes: ClassQueueSizes = defaultQueueSizes,
    /** Called once per item dropped or refused, with its class. */
    private readonly onDrop: (cls: TrafficClass) => void = () => {},
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
    const q = this.queues[laneOf(cls, bulk)];
    const full = q.isFull();
    const accepted = q.push(item);
    if (full) this.onDrop(cls);
    return accepted;
  }

  /** The oldest item of the first lane that has one. */
  shift(): Queued<T> | undefined {
    for (const lane of lanes) {
      const item = this.queues[lane].shift();
      if (item !== undefined) return queued(lane, item);
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
    }
    return removed;
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
    for (const lane of lanes) this.queues[lane].clear();
  }
}

function laneOf(cls: TrafficClass, bulk: boolean): Lane {
  return bulk && cls === 'consensus' ? 'bulk' : cls;
}

function queued<T>(lane: Lane, item: T): Queued<T> {
  return lane === 'bulk' ? { cls: 'consensus', item, bulk: true } : { cls: lane, item, bulk: false };
}
