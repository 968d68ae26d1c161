// The outbound queue of a link: one bounded queue per traffic class, drained highest class first so
// consensus is never stuck behind telemetry. Overflow (limits.ts): consensus and telemetry refuse the
// new item; heartbeats drop the oldest, since only the newest heartbeat says anything.

import { BoundedQueue } from '../lib/bounded-queue.js';
import { limits } from '../lib/limits.js';
import { trafficClasses, type TrafficClass } from './link.js';

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
}

export class ClassQueue<T> {
  private readonly queues: Record<TrafficClass, BoundedQueue<T>>;

  constructor(
    sizes: ClassQueueSizes = defaultQueueSizes,
    /** Called once per item dropped or refused, with its class. */
    private readonly onDrop: (cls: TrafficClass) => void = () => {},
  ) {
    this.queues = {
      consensus: new BoundedQueue<T>(sizes.consensus, 'reject'),
      heartbeat: new BoundedQueue<T>(sizes.heartbeat, 'drop-oldest'),
      telemetry: new BoundedQueue<T>(sizes.telemetry, 'reject'),
    };
  }

  /** False when the item was refused; a heartbeat is always accepted (an older one may be dropped). */
  push(cls: TrafficClass, item: T): boolean {
    const q = this.queues[cls];
    const full = q.isFull();
    const accepted = q.push(item);
    if (full) this.onDrop(cls);
    return accepted;
  }

  /** The oldest item of the highest class that has one. */
  shift(): Queued<T> | undefined {
    for (const cls of trafficClasses) {
      const item = this.queues[cls].shift();
      if (item !== undefined) return { cls, item };
    }
    return undefined;
  }

  peek(): Queued<T> | undefined {
    for (const cls of trafficClasses) {
      const item = this.queues[cls].peek();
      if (item !== undefined) return { cls, item };
    }
    return undefined;
  }

  /** Free places in the queue of `cls` (a fragmented envelope is queued only if all of it fits). */
  room(cls: TrafficClass): number {
    const q = this.queues[cls];
    return q.capacity - q.length;
  }

  /** Removes every queued item of `cls` that matches; returns how many went. */
  removeWhere(cls: TrafficClass, match: (item: T) => boolean): number {
    const q = this.queues[cls];
    const keep = [...q].filter((x) => !match(x));
    const removed = q.length - keep.length;
    if (removed > 0) {
      q.clear();
      for (const x of keep) q.push(x);
    }
    return removed;
  }

  /** The oldest queued item of `cls`. */
  peekClass(cls: TrafficClass): T | undefined {
    return this.queues[cls].peek();
  }

  get length(): number {
    return this.queues.consensus.length + this.queues.heartbeat.length + this.queues.telemetry.length;
  }

  clear(): void {
    for (const cls of trafficClasses) this.queues[cls].clear();
  }
}
