// The router: one Link over every configured link (MQTT, radio, ...). It sends on the links that are
// up, drops the copies that arrive on several links within a short window (not later re-sends), and
// rides through a dead link with no restart: broker down means the radio carries consensus; broker
// back means MQTT is used again.

import { limits } from '../lib/limits.js';
import { bytesDigest, DedupWindow } from './dedup-cache.js';
import type { Link, LinkCounters, LinkCountersDetail, ReceivedFrame, TrafficClass } from './link.js';
import { LinkStats } from './link-stats.js';

/** 'all': every link that is up (redundancy); 'first': the first link that is up, in configured order. */
export type ClassPolicy = 'all' | 'first';

export interface RouterOptions {
  /** In order of preference (for 'first'): usually MQTT, then radio. */
  readonly links: readonly Link[];
  readonly name?: string;
  readonly policy?: Partial<Record<TrafficClass, ClassPolicy>>;
  readonly dedupEntries?: number;
  /** Copies of one envelope within this long of the first are duplicates (default limits.routerDedupWindowMs). */
  readonly dedupWindowMs?: number;
  readonly now?: () => number;
  /** This node's id: a frame from it (a copy of this device on a radio) says nothing about the peers. */
  readonly self?: string;
}

export const defaultPolicy: Readonly<Record<TrafficClass, ClassPolicy>> = { consensus: 'all', heartbeat: 'all', telemetry: 'first' };

export interface LinkState {
  readonly name: string;
  readonly up: boolean;
  readonly mtuBytes: number;
  readonly counters: LinkCounters;
  /** Envelopes that came on this link and that the router dropped as copies of one already seen (on
   *  another link, or on this one within the dedup window; this node's own messages coming back too). */
  readonly duplicates: number;
}

export class Router implements Link {
  readonly name: string;
  readonly mtuBytes: number;
  private readonly links: readonly Link[];
  private readonly policy: Record<TrafficClass, ClassPolicy>;
  private readonly seen: DedupWindow;
  private readonly now: () => number;
  private readonly stats = new LinkStats();
  private readonly handlers: ((f: ReceivedFrame) => void)[] = [];
  /**
   * When each peer was last heard on each link, by the link-level sender (untrusted: it only decides
   * where to send, never what is accepted). Under 'first' a message also goes on a later link that is up
   * while some peer was heard on that link and not on the first within limits.routerAloneHeardMs: a
   * peer still off the broker after an outage, or out of the broker's reach, keeps hearing us.
   */
  private readonly heard = new Map<string, Map<string, number>>();
  /** Sends that went on a later link only because some peer was heard there alone. */
  alsoSent = 0;
  /** Why a link failed to start, by name (it stays down; the others carry on). */
  readonly startErrors = new Map<string, string>();
  /** Envelopes whose first copy here came through a radio relay: multi-hop carried them. */
  relayedFirst = 0;
  private readonly self: string | undefined;
  /** LinkState.duplicates, by link name (only the configured links': bounded). */
  private readonly duplicatesOn = new Map<string, number>();

  constructor(opts: RouterOptions) {
    if (opts.links.length === 0) throw new Error('the router needs at least one link');
    const names = new Set(opts.links.map((l) => l.name));
    if (names.size !== opts.links.length) throw new Error(`link names must be unique, got ${opts.links.map((l) => l.name).join(', ')}`);
    this.name = opts.name ?? 'router';
    this.links = opts.links;
    this.policy = { ...defaultPolicy, ...opts.policy };
    this.seen = new DedupWindow(opts.dedupEntries ?? limits.routerDedupEntriesMax, opts.dedupWindowMs ?? limits.routerDedupWindowMs);
    this.now = opts.now ?? (() => performance.now());
    this.self = opts.self;
    this.mtuBytes = Math.max(...opts.links.map((l) => l.mtuBytes));
    for (const l of opts.links) this.duplicatesOn.set(l.name, 0);
    for (const l of opts.links) l.onReceive((f) => this.receive(f));
  }

  /** Starts every link; fails only when none starts. */
  async start(): Promise<void> {
    const results = await Promise.allSettled(this.links.map((l) => l.start()));
    results.forEach((r, i) => {
      if (r.status === 'rejected') this.startErrors.set((this.links[i] as Link).name, r.reason instanceof Error ? r.reason.message : String(r.reason));
    });
    if (this.startErrors.size === this.links.length) throw new Error(`no link started: ${[...this.startErrors].map(([n, e]) => `${n}: ${e}`).join('; ')}`);
  }

  async stop(): Promise<void> {
    await Promise.allSettled(this.links.map((l) => l.stop()));
  }

  broadcast(bytes: Uint8Array, cls: TrafficClass): boolean {
    return this.send(bytes, cls, (l) => l.broadcast(bytes, cls));
  }

  unicast(to: string, bytes: Uint8Array, cls: TrafficClass): boolean {
    return this.send(bytes, cls, (l) => l.unicast(to, bytes, cls));
  }

  onReceive(handler: (frame: ReceivedFrame) => void): void {
    this.handlers.push(handler);
  }

  /** On every link that is up and carries announcements (the broker). */
  announce(bytes: Uint8Array): boolean {
    let sent = false;
    for (const l of this.links) if (l.announce && l.isUp() && l.announce(bytes)) sent = true;
    if (sent) this.stats.sent(bytes.length);
    return sent;
  }

  follow(sources: readonly string[] | null): void {
    for (const l of this.links) l.follow?.(sources);
  }

  /** Re-plans every link's peers (a new manifest in force: Link.setPeers). */
  setPeers(peers: readonly string[]): void {
    for (const l of this.links) l.setPeers?.(peers);
  }

  isUp(): boolean {
    return this.links.some((l) => l.isUp());
  }

  /**
   * The block budget for this node's proposals: none while a link without a limit of its own (the
   * broker) is up; otherwise the most any up link carries well (a radio's quarter second). Under
   * 'first', a proposal also goes on the radio to peers heard only there while the broker is up, and is
   * not budgeted then (those peers are few, and the broker carries it to the rest).
   */
  get blockTxBytesHint(): number | undefined {
    let best: number | undefined;
    for (const l of this.links) {
      if (!l.isUp()) continue;
      if (l.blockTxBytesHint === undefined) return undefined;
      best = Math.max(best ?? 0, l.blockTxBytesHint);
    }
    return best;
  }

  /** Each link's state, for status and metrics. */
  linkStates(): LinkState[] {
    return this.links.map((l) => ({ name: l.name, up: l.isUp(), mtuBytes: l.mtuBytes, counters: l.counters(), duplicates: this.duplicatesOn.get(l.name) ?? 0 }));
  }

  /** The router's own counts: envelopes accepted for sending, delivered up, duplicates dropped (each
   *  link's share: linkStates). */
  counters(): LinkCountersDetail {
    return this.stats.snapshot();
  }

  private send(bytes: Uint8Array, cls: TrafficClass, sendOn: (l: Link) => boolean): boolean {
    if (bytes.length > this.mtuBytes) {
      this.stats.oversize();
      return false;
    }
    // Remember our own message so its echo (a broker, a radio relay) is not delivered back to us.
    this.seen.add(bytesDigest(bytes), this.now());
    let sent = false;
    let tooLarge = false;
    let first: Link | null = null;
    for (const l of this.links) {
      if (!l.isUp()) continue;
      if (bytes.length > l.mtuBytes) {
        tooLarge = true;
        continue;
      }
      if (first !== null && !this.heardOnlyOn(l, first)) continue;
      if (sendOn(l)) {
        sent = true;
        if (first !== null) this.alsoSent++;
        else if (this.policy[cls] === 'first') first = l;
      }
    }
    if (sent) this.stats.sent(bytes.length);
    // Larger than every link that is up (the broker gone, a radio's smaller MTU): not a full queue.
    else if (tooLarge && !this.links.some((l) => l.isUp() && bytes.length <= l.mtuBytes)) this.stats.oversize();
    else this.stats.queueFull(cls);
    return sent;
  }

  /** Whether some peer was heard on `later` and not on `first` within limits.routerAloneHeardMs. */
  private heardOnlyOn(later: Link, first: Link): boolean {
    const since = this.now() - limits.routerAloneHeardMs;
    for (const byLink of this.heard.values()) {
      if ((byLink.get(later.name) ?? -Infinity) >= since && (byLink.get(first.name) ?? -Infinity) < since) return true;
    }
    return false;
  }

  private hear(f: ReceivedFrame): void {
    if (f.from === undefined || f.from === this.self) return;
    let byLink = this.heard.get(f.from);
    if (!byLink) {
      if (this.heard.size >= limits.routerHeardPeersMax) this.heard.delete(this.heard.keys().next().value as string);
      byLink = new Map();
      this.heard.set(f.from, byLink);
    }
    byLink.set(f.link, this.now());
  }

  private receive(f: ReceivedFrame): void {
    this.hear(f);
    // Within the window a second copy (another link, a relay) is dropped; later it is a deliberate
    // re-send (consensus re-broadcasts the same signed bytes) and must reach the node.
    if (!this.seen.add(bytesDigest(f.bytes), this.now())) {
      this.stats.duplicate();
      const n = this.duplicatesOn.get(f.link);
      if (n !== undefined) this.duplicatesOn.set(f.link, n + 1);
      return;
    }
    this.stats.received(f.bytes.length);
    if (f.relayed === true) this.relayedFirst++;
    for (const h of this.handlers) h(f);
  }
}
