// The in-memory link: a hub that connects any number of links in one process, for tests and for
// fleet-sim. It uses the same frame codec and class queues as the MQTT link, bounded by count and by
// bytes (limits.link*QueueBytesMax: its frames are whole envelopes too), so bad frames and queue
// overflow behave the same. Delivery runs through `schedule` (default setImmediate) so a simulator
// can hand in its own virtual-time scheduler and make delivery deterministic.

import { limits } from '../lib/limits.js';
import { ClassQueue, defaultQueueBytes, defaultQueueSizes, type ClassQueueSizes } from './class-queue.js';
import { decodeFrame, encodeFrame, fleetTag, frameOverheadBytes } from './frame.js';
import type { Link, LinkCountersDetail, ReceivedFrame, TrafficClass } from './link.js';
import { LinkStats } from './link-stats.js';

export interface MemoryHubOptions {
  /** Runs a delivery later; fleet-sim passes its virtual-time scheduler. */
  readonly schedule?: (fn: () => void) => void;
  readonly mtuBytes?: number;
  /**
   * Decides per copy whether it is delivered (false: lost). fleet-sim uses it for loss and
   * partitions; with `to` undefined for nobody, it is called once per receiver of a broadcast.
   */
  readonly filter?: (from: string, to: string, frame: Uint8Array) => boolean;
}

interface Outbound {
  readonly to: string | undefined;
  readonly frame: Uint8Array;
}

export class MemoryHub {
  private readonly links = new Map<string, MemoryLink>();
  readonly schedule: (fn: () => void) => void;
  readonly mtuBytes: number;
  private readonly filter: (from: string, to: string, frame: Uint8Array) => boolean;
  /** Copies the filter dropped. */
  lost = 0;

  constructor(opts: MemoryHubOptions = {}) {
    this.schedule = opts.schedule ?? ((fn) => setImmediate(fn));
    this.mtuBytes = opts.mtuBytes ?? limits.envelopeBytesMax;
    this.filter = opts.filter ?? (() => true);
  }

  /** A link for `node` on this hub; the name defaults to "memory". */
  link(node: string, fleet: string, opts: { name?: string; queueSizes?: ClassQueueSizes; queueBytes?: ClassQueueSizes } = {}): MemoryLink {
    return new MemoryLink(this, node, fleet, opts.name ?? 'memory', opts.queueSizes ?? defaultQueueSizes, opts.queueBytes ?? defaultQueueBytes);
  }

  /** @internal */
  attach(node: string, link: MemoryLink): void {
    this.links.set(node, link);
  }

  /** @internal */
  detach(node: string, link: MemoryLink): void {
    if (this.links.get(node) === link) this.links.delete(node);
  }

  /** Delivers raw wire bytes to `to` as if they came off the wire (tests: bad frames). */
  inject(to: string, bytes: Uint8Array, from?: string): void {
    this.links.get(to)?.deliver(bytes, from);
  }

  /** @internal: fan a frame out to one node or to every other started link. */
  send(from: string, out: Outbound): void {
    const copy = (to: string, link: MemoryLink | undefined) => {
      if (!link) return;
      if (this.filter(from, to, out.frame)) link.deliver(out.frame, from);
      else this.lost++;
    };
    if (out.to !== undefined) return copy(out.to, this.links.get(out.to));
    for (const [node, link] of [...this.links.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      if (node !== from) copy(node, link);
    }
  }
}

export class MemoryLink implements Link {
  readonly mtuBytes: number;
  private readonly stats = new LinkStats();
  private readonly queue: ClassQueue<Outbound>;
  private readonly tag: number;
  private handlers: ((f: ReceivedFrame) => void)[] = [];
  private up = false;
  private drainScheduled = false;

  constructor(
    private readonly hub: MemoryHub,
    readonly node: string,
    fleet: string,
    readonly name: string,
    queueSizes: ClassQueueSizes,
    /** Bytes of link frames each lane may hold; a count alone let twenty 1 MB blocks hold 20 MB. */
    queueBytes: ClassQueueSizes,
  ) {
    this.mtuBytes = hub.mtuBytes;
    this.tag = fleetTag(fleet);
    this.queue = new ClassQueue<Outbound>(queueSizes, (cls, bound) => this.stats.queueFull(cls, 1, bound), { max: queueBytes, of: (o) => o.frame.length });
  }

  async start(): Promise<void> {
    this.up = true;
    this.hub.attach(this.node, this);
  }

  async stop(): Promise<void> {
    this.up = false;
    this.hub.detach(this.node, this);
    this.queue.clear();
  }

  broadcast(bytes: Uint8Array, cls: TrafficClass): boolean {
    return this.enqueue(undefined, bytes, cls);
  }

  unicast(to: string, bytes: Uint8Array, cls: TrafficClass): boolean {
    return this.enqueue(to, bytes, cls);
  }

  onReceive(handler: (frame: ReceivedFrame) => void): void {
    this.handlers.push(handler);
  }

  isUp(): boolean {
    return this.up;
  }

  counters(): LinkCountersDetail {
    return this.stats.snapshot();
  }

  /** @internal: bytes arriving from the hub. */
  deliver(wire: Uint8Array, from: string | undefined): void {
    if (!this.up) return;
    const f = decodeFrame(wire, this.tag, this.mtuBytes);
    if (!f.ok) {
      this.stats.badFrame(f.error);
      return;
    }
    this.stats.received(f.value.envelope.length);
    const frame: ReceivedFrame = { bytes: f.value.envelope, from, link: this.name };
    for (const h of this.handlers) h(frame);
  }

  private enqueue(to: string | undefined, bytes: Uint8Array, cls: TrafficClass): boolean {
    if (!this.up) return false;
    if (bytes.length > this.mtuBytes) {
      this.stats.oversize();
      return false;
    }
    if (!this.queue.push(cls, { to, frame: encodeFrame(this.tag, cls, bytes) })) return false;
    if (!this.drainScheduled) {
      this.drainScheduled = true;
      this.hub.schedule(() => this.drain());
    }
    return true;
  }

  private drain(): void {
    this.drainScheduled = false;
    // Bounded by the queue length at the time of the call.
    for (let n = this.queue.length; n > 0 && this.up; n--) {
      const q = this.queue.shift();
      if (!q) break;
      this.stats.sent(q.item.frame.length - frameOverheadBytes);
      this.hub.send(this.node, q.item);
    }
  }
}
