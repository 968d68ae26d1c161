// The outbound queue of a link: one bounded queue per traffic class, drained highest class first so
// consensus is never stuck behind telemetry; on a radio (LaneShares below), each lower lane is still
// guaranteed its share of what is sent, so a radio that live consensus fills keeps sending heartbeats
// and block-sync answers. In each lane a radio's relays of others' frames wait behind its own. Overflow (limits.ts): consensus refuses the new item;
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

import { assert } from '../lib/assert.js';
import { BoundedQueue } from '../lib/bounded-queue.js';
import { limits } from '../lib/limits.js';
import { peekEnvelope, peekEnvelopeCode } from '../wire/envelope.js';
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

/** The same from an envelope's first fragment (a radio relaying it sees one fragment at a time). */
export function bulkEnvelopeStart(firstFragment: Uint8Array): boolean {
  const code = peekEnvelopeCode(firstFragment);
  return code !== null && bulkCodes.has(code);
}

/** The radio's lane shares (SerialLink and fleet-sim's radio): heartbeats their configured share of the
 *  airtime (radios[].heartbeatShare, default 0.1; the heartbeat plan keeps the fleet's heartbeats and
 *  their relays within it); block-sync answers and state sync a quarter, enough for a validator that fell
 *  behind to catch up while the others keep committing; telemetry a twentieth. */
export function radioLaneShares(heartbeatShare = 0.1): LaneShares {
  return { heartbeat: heartbeatShare, bulk: 0.25, telemetry: 0.05 };
}

type Lane = TrafficClass | 'bulk';
/** The order lanes are drained in when none is owed airtime (LaneShares). */
const lanes: readonly Lane[] = ['consensus', 'heartbeat', 'bulk', 'telemetry'];

/** Where a queued item comes from: this device, or a neighbour whose frame a radio relays. */
export type Origin = 'own' | 'relay';

/**
 * The share of what is sent that each lane but live consensus is guaranteed while it has something
 * queued (fractions, summing below 1; live consensus has the rest, and all of it when the others are
 * empty). Without shares the lanes drain in strict order: on a radio that live consensus fills, that
 * sent no block-sync answer and no heartbeat for as long as it stayed full, so a validator that fell
 * behind never caught up and neighbours the radio heard were declared dead.
 */
export interface LaneShares {
  readonly heartbeat: number;
  readonly bulk: number;
  readonly telemetry: number;
}

/** One lane: this device's own items first, relays of others' behind them, one bound for both. */
class LaneQueue<T> {
  private readonly own: BoundedQueue<T>;
  private readonly relay: BoundedQueue<T>;

  constructor(
    readonly capacity: number,
    readonly policy: 'reject' | 'drop-oldest',
  ) {
    this.own = new BoundedQueue<T>(capacity, 'reject');
    this.relay = new BoundedQueue<T>(capacity, 'reject');
  }

  get length(): number {
    return this.own.length + this.relay.length;
  }

  isFull(): boolean {
    return this.length >= this.capacity;
  }

  /** False when refused ('reject' and full); 'drop-oldest' drops the oldest relay first, then the
   *  oldest own item (evict). */
  push(item: T, from: Origin): boolean {
    if (this.isFull()) {
      if (this.policy === 'reject') return false;
      this.evict();
    }
    return (from === 'own' ? this.own : this.relay).push(item);
  }

  /** The item a full 'drop-oldest' lane gives up first: its oldest relay, else its oldest own item. */
  peekEvictable(): T | undefined {
    return this.relay.peek() ?? this.own.peek();
  }

  /** Takes out the item peekEvictable names. */
  evict(): T | undefined {
    return this.relay.length > 0 ? this.relay.shift() : this.own.shift();
  }

  /** The oldest relay. */
  peekRelay(): T | undefined {
    return this.relay.peek();
  }

  /** The item that would go first: own before relays. */
  peek(): T | undefined {
    return this.own.peek() ?? this.relay.peek();
  }

  shift(): T | undefined {
    return this.own.shift() ?? this.relay.shift();
  }

  /** Removes the items that match; returns them. */
  removeWhere(match: (item: T) => boolean): T[] {
    const gone: T[] = [];
    for (const q of [this.own, this.relay]) {
      const keep = [...q].filter((x) => !match(x));
      if (keep.length === q.length) continue;
      for (const x of q) if (match(x)) gone.push(x);
      q.clear();
      for (const x of keep) q.push(x);
    }
    return gone;
  }

  clear(): void {
    this.own.clear();
    this.relay.clear();
  }

  /** In the order they would be sent. */
  *[Symbol.iterator](): IterableIterator<T> {
    yield* this.own;
    yield* this.relay;
  }
}

export class ClassQueue<T> {
  private readonly queues: Record<Lane, LaneQueue<T>>;
  /** Bytes held per lane (with a byte bound). */
  private readonly held: Record<Lane, number> = { consensus: 0, heartbeat: 0, bulk: 0, telemetry: 0 };
  /** Bytes (items, without a byte bound) each lane is owed under its share: it earns its share of
   *  every send while it has something queued, pays for what it sends, and is served before live
   *  consensus once it is owed its head item. Reset when the lane empties (no saving up). */
  private readonly owed: Record<Lane, number> = { consensus: 0, heartbeat: 0, bulk: 0, telemetry: 0 };

  constructor(
    sizes: ClassQueueSizes = defaultQueueSizes,
    /** Called once per item dropped or refused, with its class and the bound it hit. */
    private readonly onDrop: (cls: TrafficClass, bound: QueueBound) => void = () => {},
    /** Without it only the counts bound the lanes. */
    private readonly byteBound?: QueueBytes<T>,
    /** Without them the lanes drain in strict order (MQTT and in-memory links, which are not
     *  airtime-bound). */
    private readonly shares?: LaneShares,
  ) {
    if (shares) {
      const sum = shares.heartbeat + shares.bulk + shares.telemetry;
      assert(shares.heartbeat >= 0 && shares.bulk >= 0 && shares.telemetry >= 0 && sum < 1, `lane shares must be non-negative and sum below 1, are ${JSON.stringify(shares)}`);
    }
    this.queues = {
      consensus: new LaneQueue<T>(sizes.consensus, 'reject'),
      heartbeat: new LaneQueue<T>(sizes.heartbeat, 'drop-oldest'),
      bulk: new LaneQueue<T>(sizes.consensus, 'reject'),
      telemetry: new LaneQueue<T>(sizes.telemetry, 'drop-oldest'),
    };
  }

  /** False when the item was refused; a heartbeat or telemetry is always accepted (an older one may be
   *  dropped, a relay before an own one).
   *  `bulk` puts a consensus item in the bulk lane (see above); a relay goes behind the lane's own items. */
  push(cls: TrafficClass, item: T, bulk = false, from: Origin = 'own'): boolean {
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
        this.held[lane] -= b.of(q.evict() as T);
        this.onDrop(cls, 'bytes');
      }
    }
    const full = q.isFull();
    const oldest = full && b && q.policy === 'drop-oldest' ? q.peekEvictable() : undefined;
    const accepted = q.push(item, from);
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

  /** The item peek() names, taken out. */
  shift(): Queued<T> | undefined {
    const lane = this.next();
    if (lane === undefined) return undefined;
    const item = this.queues[lane].shift() as T;
    const size = this.sizeOf(item);
    if (this.byteBound) this.held[lane] -= size;
    if (this.shares) this.settle(lane, size);
    return queued(lane, item);
  }

  /** The next item to send: the head of the first lane owed its airtime, else of the first lane that
   *  has one (own items before relays in each). */
  peek(): Queued<T> | undefined {
    const lane = this.next();
    return lane === undefined ? undefined : queued(lane, this.queues[lane].peek() as T);
  }

  private next(): Lane | undefined {
    if (this.shares) {
      for (const lane of lanes) {
        const head = this.queues[lane].peek();
        if (head !== undefined && lane !== 'consensus' && this.owed[lane] >= this.sizeOf(head)) return lane;
      }
    }
    return lanes.find((lane) => this.queues[lane].length > 0);
  }

  /** `lane` sent `size`: it and every other lane with items queued earn their share of it, and `lane`
   *  pays for it (what it is still owed after that is kept while it has items again by the next send:
   *  a heartbeat lane that holds one beat at a time still gets its whole share). */
  private settle(lane: Lane, size: number): void {
    const shares = this.shares as LaneShares;
    for (const l of lanes) {
      if (l === 'consensus') continue;
      if (l === lane) this.owed[l] = Math.max(0, this.owed[l] + shares[l] * size - size);
      else if (this.queues[l].length === 0) this.owed[l] = 0;
      else this.owed[l] += shares[l] * size;
    }
  }

  private sizeOf(item: T): number {
    return this.byteBound ? this.byteBound.of(item) : 1;
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
      const gone = this.queues[lane].removeWhere(match);
      removed += gone.length;
      const b = this.byteBound;
      if (b) for (const x of gone) this.held[lane] -= b.of(x);
      if (this.queues[lane].length === 0) this.owed[lane] = 0;
    }
    return removed;
  }

  /** The first queued item of `cls`'s lane (consensus's bulk lane with `bulk`), in sending order, that matches. */
  firstWhere(cls: TrafficClass, match: (item: T) => boolean, bulk = false): T | undefined {
    for (const x of this.queues[laneOf(cls, bulk)]) if (match(x)) return x;
    return undefined;
  }

  /** The item of `cls`'s lane (consensus's bulk lane with `bulk`) that would go first. */
  peekClass(cls: TrafficClass, bulk = false): T | undefined {
    return this.queues[laneOf(cls, bulk)].peek();
  }

  /** The oldest relay in `cls`'s lane (consensus's bulk lane with `bulk`). */
  peekRelay(cls: TrafficClass, bulk = false): T | undefined {
    return this.queues[laneOf(cls, bulk)].peekRelay();
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
      this.owed[lane] = 0;
    }
  }
}

function laneOf(cls: TrafficClass, bulk: boolean): Lane {
  return bulk && cls === 'consensus' ? 'bulk' : cls;
}

function queued<T>(lane: Lane, item: T): Queued<T> {
  return lane === 'bulk' ? { cls: 'consensus', item, bulk: true } : { cls: lane, item, bulk: false };
}
