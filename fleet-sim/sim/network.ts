// The packet simulator: every message goes through the (simulated) broker to each addressee with
// latency + jitter, independent loss and duplication (which also reorders), symmetric and one-way
// partitions, and broker outages. All draws come from the world's seeded PRNG. The broker delivers
// what a device subscribes to (docs/topics.md): a light follower hears no consensus broadcast, only
// the announcements of the validators it follows (runtime/consensus/light-follower.ts).

import type { Prng } from '../../runtime/lib/prng.js';
import type { LinkModel } from '../scenario/scenario.js';
import type { EventQueue } from './event-queue.js';

/** Index -1 is the operator's console, which reaches the broker from outside any partition. */
export const operatorIndex = -1;

export class SimNetwork {
  brokerDown = false;
  lossOverride: number | null = null;
  /** Node index -> partition group; nodes not listed reach everyone. */
  private groups = new Map<number, number>();
  private oneWay = new Set<string>();
  /** Node index -> the validators whose announcements it takes, for light followers; absent: it hears
   *  every consensus broadcast. */
  private following = new Map<number, readonly number[]>();
  /** Validator index -> the light followers that take its announcements (the broker's subscriptions). */
  private followers = new Map<number, Set<number>>();
  delivered = 0;
  dropped = 0;
  /** Second copies made by the link model's duplication (each also counted in delivered). */
  duplicated = 0;
  bytes = 0;
  /** In a run split over threads (shards.ts): takes a delivery due at `at` to a node another thread
   *  runs, and says so; such a delivery is not scheduled here. */
  elsewhere: ((to: number, at: number, from: number, bytes: Uint8Array, announced: boolean) => boolean) | null = null;

  constructor(
    private readonly queue: EventQueue,
    private readonly prng: Prng,
    private readonly model: LinkModel,
    private readonly nodeCount: () => number,
    private readonly deliver: (to: number, bytes: Uint8Array, from: number, announced: boolean) => void,
  ) {}

  setPartition(groups: readonly (readonly number[])[]): void {
    this.groups = new Map();
    groups.forEach((g, i) => g.forEach((n) => this.groups.set(n, i)));
  }

  addOneWay(from: readonly number[], to: readonly number[]): void {
    for (const f of from) for (const t of to) this.oneWay.add(`${f}>${t}`);
  }

  /** A one-way partition ends; other faults (a broker outage, a symmetric partition) stay. */
  clearOneWay(): void {
    this.oneWay.clear();
  }

  heal(): void {
    this.groups = new Map();
    this.oneWay.clear();
    this.brokerDown = false;
    this.lossOverride = null;
  }

  /** A partition (symmetric or one-way) cuts from -> to; the operator's console is never cut off. */
  blocked(from: number, to: number): boolean {
    if (from === operatorIndex) return false;
    // Without a partition (most of any run) nothing is looked up, and no key is built.
    if (this.groups.size > 0) {
      const a = this.groups.get(from);
      const b = this.groups.get(to);
      if (a !== undefined && b !== undefined && a !== b) return true;
    }
    return this.oneWay.size > 0 && this.oneWay.has(`${from}>${to}`);
  }

  /** `to` null: every other node (a broker fan-out); a consensus broadcast skips light followers. */
  send(from: number, to: number | null, bytes: Uint8Array, consensus = false): void {
    this.bytes += bytes.length;
    const n = this.nodeCount();
    if (to !== null) return this.one(from, to, bytes);
    const skipLight = consensus && this.following.size > 0;
    for (let i = 0; i < n; i++) if (i !== from && !(skipLight && this.following.has(i))) this.one(from, i, bytes);
  }

  /** A validator's certified block, to the light followers that take blocks from it. */
  announce(from: number, bytes: Uint8Array): void {
    const subs = this.followers.get(from);
    if (!subs) return;
    this.bytes += bytes.length;
    for (const i of subs) this.one(from, i, bytes, true);
  }

  /** Node `i`'s subscriptions: null, every consensus broadcast; else these validators' announcements. */
  follow(i: number, sources: readonly number[] | null): void {
    for (const v of this.following.get(i) ?? []) this.followers.get(v)?.delete(i);
    if (sources === null) {
      this.following.delete(i);
      return;
    }
    this.following.set(i, sources);
    for (const v of sources) {
      let subs = this.followers.get(v);
      if (!subs) this.followers.set(v, (subs = new Set()));
      subs.add(i);
    }
  }

  private one(from: number, to: number, bytes: Uint8Array, announced = false): void {
    const loss = this.lossOverride ?? this.model.loss;
    if (this.brokerDown || this.blocked(from, to) || this.prng.chance(loss)) {
      this.dropped++;
      return;
    }
    const copies = this.prng.chance(this.model.duplicate) ? 2 : 1;
    this.duplicated += copies - 1;
    for (let c = 0; c < copies; c++) {
      const at = this.queue.now + this.model.latencyMs + this.prng.next() * this.model.jitterMs * (c + 1);
      this.delivered++;
      if (this.elsewhere?.(to, at, from, bytes, announced)) continue;
      this.queue.at(at, () => this.deliver(to, bytes, from, announced));
    }
  }
}
