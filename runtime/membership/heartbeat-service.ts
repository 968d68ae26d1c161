// The heartbeat shell: signs and sends heartbeats on each link at that link's interval, verifies the
// heartbeats that arrive and feeds them to the membership view. The pure parts (schedule, detector,
// view) take time as an input; this file owns the timer, and takes its clock as a port too.

import type { Signer, Verifier } from '../crypto/sodium.js';
import type { Link, ReceivedFrame } from '../links/link.js';
import { openEnvelope, sealEnvelope } from '../wire/envelope.js';
import { encodeHeartbeatBody } from '../wire/heartbeat.js';
import { kinds, type KindName } from '../wire/kinds.js';
import { HeartbeatSchedule, type LocalState } from './heartbeat-schedule.js';
import type { MembershipView, StatusChange } from './membership-view.js';

export interface HeartbeatServiceOptions {
  readonly fleet: string;
  readonly node: string;
  /** Grows on every restart (persist it); carried in every heartbeat. */
  readonly session: number;
  readonly signer: Signer;
  readonly verifier: Verifier;
  readonly keyOf: (sender: string, kind: KindName) => Uint8Array | string;
  /** The links to beat on, by name, with each one's interval. */
  readonly links: readonly { readonly link: Link; readonly intervalMs: number }[];
  readonly view: MembershipView;
  readonly localState: () => LocalState;
  /**
   * Milliseconds, for the schedule and the view. Default `monotonicMs`: a wall clock (Date.now) steps
   * when NTP or GPS time arrives on a drone without a real-time clock, and a step back would stop this
   * node's heartbeats for its length while a step forward convicted every peer at once.
   */
  readonly now?: () => number;
  /** Status changes, for the log, metrics and consensus hints. */
  readonly onChange?: (c: StatusChange) => void;
  /**
   * Names of this node's links that are up now, as received frames name them. A link that is down
   * here hears nobody, so the view does not hold its silence against peers (MembershipView.tick).
   */
  readonly linksUp?: () => ReadonlySet<string>;
  /**
   * The ids of the manifest in force (the same set while it stays in force): when it changes, the
   * view forgets the peers it no longer lists (MembershipView.retain).
   */
  readonly members?: () => ReadonlySet<string>;
}

/** A monotonic clock on the wall clock's scale (ms since 1970 at process start, then never stepped). */
export const monotonicMs = (): number => performance.timeOrigin + performance.now();

export interface HeartbeatServiceCounters {
  sent: number;
  refused: number;
  received: number;
  rejected: number;
}

export class HeartbeatService {
  private readonly schedule: HeartbeatSchedule;
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private members: ReadonlySet<string> | undefined;
  readonly counters: HeartbeatServiceCounters = { sent: 0, refused: 0, received: 0, rejected: 0 };
  /** The last reason a received heartbeat was refused (bad signature, stale, ...). */
  lastRejection = '';
  /** The clock the schedule and the view run on: read the view (snapshot, tick) with this one. */
  readonly now: () => number;

  constructor(private readonly opts: HeartbeatServiceOptions) {
    this.now = opts.now ?? monotonicMs;
    this.schedule = new HeartbeatSchedule(opts.node, opts.session, Object.fromEntries(opts.links.map((l) => [l.link.name, l.intervalMs])), this.now());
    // A link may carry other kinds too; only heartbeats are taken here.
    for (const { link } of opts.links) link.onReceive((f) => this.receive(f));
  }

  start(): void {
    this.running = true;
    this.tick();
  }

  stop(): void {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
  }

  /** Sends what is due, re-evaluates the view and sets the timer for the next due time. */
  tick(): void {
    if (!this.running) return;
    const now = this.now();
    const due = this.schedule.due(now);
    if (due.length > 0) {
      // One body, one signature, for every link due now: the router drops the copies on receive.
      const bytes = sealEnvelope('heartbeat', this.opts.fleet, this.opts.node, encodeHeartbeatBody(this.schedule.makeBody(this.opts.localState())), this.opts.signer);
      for (const name of due) {
        const l = this.opts.links.find((x) => x.link.name === name)?.link;
        if (l?.isUp() && l.broadcast(bytes, 'heartbeat')) this.counters.sent++;
        else this.counters.refused++;
      }
    }
    const members = this.opts.members?.();
    if (members !== undefined && members !== this.members) {
      this.members = members;
      this.opts.view.retain(members);
    }
    for (const c of this.opts.view.tick(now, this.opts.linksUp?.())) this.opts.onChange?.(c);
    const minInterval = Math.min(...this.opts.links.map((l) => l.intervalMs));
    // Wake for the next beat, and at least four times per interval so suspicion is timely.
    const wait = Math.max(1, Math.min(this.schedule.nextDueMs() - now, minInterval / 4));
    this.timer = setTimeout(() => this.tick(), wait);
    this.timer.unref?.();
  }

  private receive(f: ReceivedFrame): void {
    // Envelopes start [0x86 array(6), 0x01 version, kind]: skip other kinds without decoding them;
    // their consumers verify them (docs/wire.md).
    if (f.bytes[0] !== 0x86 || f.bytes[1] !== 0x01 || f.bytes[2] !== kinds.heartbeat.code) return;
    const env = openEnvelope(f.bytes, { fleet: this.opts.fleet, keyOf: this.opts.keyOf, verifier: this.opts.verifier });
    if (!env.ok) return this.reject(env.error.message);
    if (env.value.kind !== 'heartbeat') return;
    const v = this.opts.view.onHeartbeat(env.value.sender, env.value.parsed, this.now(), f.link);
    if (v.accepted) this.counters.received++;
    else if (!v.duplicate) this.reject(v.reason);
  }

  private reject(reason: string): void {
    this.counters.rejected++;
    this.lastRejection = reason;
  }
}
