// The membership view: who is alive, suspect, dead or recovered, from verified heartbeats. Time is an
// input. The view is exported to status and metrics and offered to consensus as hints (proposer
// choice, timeouts, link choice), never as a safety input: a wrong view costs time, not agreement.
//
// One detector per (peer, link): MQTT carries every heartbeat, a radio only every k-th (its airtime
// allows no more), and one detector over the merged stream would read the radio's gaps as losses and
// declare peers dead whenever the broker is down. Suspicion follows the fastest link that still works
// for the peer (crashes are suspected within MQTT intervals); death needs every working link silent.

import { compareIds } from '../lib/ids.js';
import { limits } from '../lib/limits.js';
import type { HeartbeatBody, Health, Position } from '../wire/heartbeat.js';
import { akkaClusterDefaults, PhiAccrualDetector, type PhiConfig } from './phi-accrual.js';

/**
 * alive: heartbeats arrive on time. suspect: the next heartbeat is overdue (phi >= threshold).
 * dead: the silence is too long to be losses (silencePhi >= deadThreshold). recovered: a heartbeat
 * came from a dead peer, or from a new session (a restart); it becomes alive after `recoveredBeats`.
 */
export type PeerStatus = 'alive' | 'suspect' | 'dead' | 'recovered';

export interface MembershipConfig {
  /** Detector settings for a link beating every `phi.expectedIntervalMs` (the fastest, usually MQTT). */
  readonly phi: PhiConfig;
  /** Heartbeats a recovered peer must send before it counts as alive again. */
  readonly recoveredBeats: number;
  readonly peersMax: number;
  /**
   * Heartbeat interval per link name (the fleet's device.yaml settings). A link beating k times slower
   * than `phi.expectedIntervalMs` gets k times the acceptable pause. Unlisted links use `phi` as is.
   */
  readonly linkIntervalsMs?: Readonly<Record<string, number>>;
  /**
   * Per link name: how long after this node's link is back a peer's silence on it still counts for
   * nothing. For MQTT, the longest reconnect delay: the broker came back to every peer at once, and
   * each one's backoff may be that far from its next try. Unlisted links: none.
   */
  readonly resumeGraceMs?: Readonly<Record<string, number>>;
}

export const defaultMembershipConfig: MembershipConfig = { phi: akkaClusterDefaults, recoveredBeats: 3, peersMax: limits.membershipPeersMax };

export interface PeerView {
  readonly id: string;
  readonly status: PeerStatus;
  readonly phi: number;
  readonly silencePhi: number;
  readonly lastHeardMs: number | undefined;
  readonly seq: number;
  readonly session: number;
  readonly height: number;
  readonly round: number;
  readonly health: Health;
  readonly position: Position | null;
  readonly batteryPct: number | null;
  readonly lossRate: number;
  /** Mean and spread of heartbeat intervals on the peer's fastest link (what suspicion is judged by). */
  readonly meanMs: number;
  readonly stdDevMs: number;
  /** Links this peer's heartbeats arrived on, with the last time on each. */
  readonly links: Readonly<Record<string, number>>;
}

export interface StatusChange {
  readonly id: string;
  readonly from: PeerStatus | 'unknown';
  readonly to: PeerStatus;
  readonly atMs: number;
}

export type HeartbeatVerdict = { readonly accepted: true } | { readonly accepted: false; readonly reason: string; readonly duplicate?: true };

/** One peer's heartbeats as heard on one link. */
interface LinkTrack {
  readonly detector: PhiAccrualDetector;
  /** Newest seq heard on this link (this session), or -1 after a restart. */
  lastSeq: number;
  /** Smallest seq step seen on this link: 1 on MQTT, k on a radio that carries every k-th beat. */
  strideSeq: number;
  /** Seq in units of this link's stride, so a radio's skipped beats are not counted as losses. */
  linkSeq: number;
}

interface Peer {
  readonly tracks: Map<string, LinkTrack>;
  status: PeerStatus;
  beatsSinceRecovery: number;
  last: HeartbeatBody;
  /** When `last` (the newest beat) arrived: how old a copy of an earlier beat is, see `freshCopy`. */
  lastAtMs: number;
  links: Record<string, number>;
}

const linksPerPeerMax = 8; // link names are ours (device.yaml), never from the wire; this bounds a bug

export interface MembershipCounters {
  heartbeats: number;
  /** The same heartbeat again (another link); not counted as stale. */
  duplicates: number;
  stale: number;
  mismatched: number;
  overCapacity: number;
}

export class MembershipView {
  private readonly peers = new Map<string, Peer>();
  private readonly changes: StatusChange[] = [];
  /** This node's links that were up at the last tick that named them (resumeLink on the way back up). */
  private linksUpBefore: ReadonlySet<string> | undefined;
  readonly counters: MembershipCounters = { heartbeats: 0, duplicates: 0, stale: 0, mismatched: 0, overCapacity: 0 };

  constructor(
    readonly self: string,
    readonly config: MembershipConfig = defaultMembershipConfig,
  ) {}

  /**
   * Feeds one heartbeat whose envelope signature has been verified; `sender` is the envelope sender.
   * A replayed or older heartbeat (same session, seq not newer) is refused: it proves nothing.
   */
  onHeartbeat(sender: string, hb: HeartbeatBody, nowMs: number, link = 'unknown'): HeartbeatVerdict {
    if (hb.node !== sender) {
      this.counters.mismatched++;
      return { accepted: false, reason: `heartbeat names node "${hb.node}" but was signed by "${sender}"` };
    }
    if (sender === this.self) return { accepted: false, reason: 'own heartbeat' };
    let peer = this.peers.get(sender);
    if (!peer) {
      if (this.peers.size >= this.config.peersMax) {
        this.counters.overCapacity++;
        return { accepted: false, reason: `membership view is full (${this.config.peersMax} peers)` };
      }
      peer = { tracks: new Map(), status: 'alive', beatsSinceRecovery: 0, last: { ...hb, seq: -1 }, lastAtMs: nowMs, links: {} };
      this.peers.set(sender, peer);
      this.changes.push({ id: sender, from: 'unknown', to: 'alive', atMs: nowMs });
    } else if (hb.session < peer.last.session) {
      this.counters.stale++;
      return { accepted: false, reason: `stale heartbeat from "${sender}" (session ${hb.session} seq ${hb.seq})` };
    } else if (hb.session > peer.last.session) {
      // A restart: the sequence starts again and the old arrival times mean nothing.
      for (const t of peer.tracks.values()) {
        t.detector.resetArrival();
        t.lastSeq = -1;
      }
      peer.last = { ...peer.last, session: hb.session, seq: -1 };
      this.setStatus(sender, peer, 'recovered', nowMs);
    }
    const track = this.track(peer, link);
    if (track === undefined || hb.seq <= track.lastSeq) {
      // Not newer on this link: the same copy again (a relay) or a replay.
      if (track !== undefined && hb.seq === track.lastSeq) {
        this.counters.duplicates++;
        return { accepted: false, reason: 'duplicate', duplicate: true };
      }
      this.counters.stale++;
      return { accepted: false, reason: `stale heartbeat from "${sender}" (session ${hb.session} seq ${hb.seq})` };
    }
    if (hb.seq <= peer.last.seq && !this.freshCopy(peer, hb.seq, link, nowMs)) {
      // Heard on another link long ago: a replay (or a copy too late to say anything about now). Taken
      // as this link's liveness, replayed old beats would keep a crashed peer from ever dying.
      this.counters.stale++;
      return { accepted: false, reason: `stale heartbeat from "${sender}" (session ${hb.session} seq ${hb.seq}: heard long ago on another link)` };
    }
    this.feed(track, hb.seq, nowMs);
    peer.links[link] = nowMs;
    if (hb.seq <= peer.last.seq) {
      // A beat already heard on another link: not new life, but it shows this link works.
      this.counters.duplicates++;
      return { accepted: false, reason: 'duplicate', duplicate: true };
    }
    if (peer.status === 'dead') this.setStatus(sender, peer, 'recovered', nowMs);
    else if (peer.status === 'suspect') this.setStatus(sender, peer, 'alive', nowMs);
    if (peer.status === 'recovered' && ++peer.beatsSinceRecovery >= this.config.recoveredBeats) this.setStatus(sender, peer, 'alive', nowMs);
    peer.last = hb;
    peer.lastAtMs = nowMs;
    this.counters.heartbeats++;
    return { accepted: true };
  }

  private track(peer: Peer, link: string): LinkTrack | undefined {
    let t = peer.tracks.get(link);
    if (t === undefined && peer.tracks.size < linksPerPeerMax) {
      t = { detector: new PhiAccrualDetector(this.linkPhi(link)), lastSeq: -1, strideSeq: Number.POSITIVE_INFINITY, linkSeq: 0 };
      peer.tracks.set(link, t);
    }
    return t;
  }

  /**
   * Whether a copy of beat `seq`, already heard on another link, is recent enough to show that `link`
   * works. Its age: the time since the newest beat arrived plus the beats sent since `seq`, one per
   * fastest interval. A copy may be one of `link`'s intervals and acceptable pauses late (a slow radio).
   */
  private freshCopy(peer: Peer, seq: number, link: string, nowMs: number): boolean {
    const phi = this.linkPhi(link);
    const ageMs = nowMs - peer.lastAtMs + (peer.last.seq - seq) * this.config.phi.expectedIntervalMs;
    return ageMs <= phi.expectedIntervalMs + phi.acceptablePauseMs;
  }

  private linkPhi(link: string): PhiConfig {
    const ms = this.config.linkIntervalsMs?.[link];
    if (ms === undefined) return this.config.phi;
    const scale = ms / this.config.phi.expectedIntervalMs;
    return { ...this.config.phi, expectedIntervalMs: ms, acceptablePauseMs: this.config.phi.acceptablePauseMs * scale };
  }

  private feed(t: LinkTrack, seq: number, nowMs: number): void {
    if (t.lastSeq >= 0) {
      const step = seq - t.lastSeq;
      t.strideSeq = Math.min(t.strideSeq, step);
      t.linkSeq += Math.max(1, Math.round(step / t.strideSeq));
    }
    t.lastSeq = seq;
    t.detector.heartbeat(nowMs, t.linkSeq);
  }

  /**
   * Re-evaluates every peer at `nowMs` (call it on a timer, e.g. every heartbeat interval / 4).
   * `linksUp` names this node's links that can hear now: a link that is down here (the broker is
   * gone) says nothing about peers, so its silence is not held against them. Omitted: all count.
   */
  tick(nowMs: number, linksUp?: ReadonlySet<string>): readonly StatusChange[] {
    const { threshold, deadThreshold } = this.config.phi;
    if (linksUp !== undefined) {
      if (this.linksUpBefore !== undefined) for (const name of [...linksUp].sort()) if (!this.linksUpBefore.has(name)) this.resumeLink(name, nowMs);
      this.linksUpBefore = new Set(linksUp);
    }
    for (const id of this.sortedIds()) {
      const peer = this.peers.get(id) as Peer;
      // Nothing below moves a dead peer (only a heartbeat does): skip its detectors, which for a peer
      // silent for hours are the costliest to ask.
      if (peer.status === 'dead') continue;
      const heard = [...peer.tracks].filter(([name, t]) => t.detector.lastHeardMs() !== undefined && (linksUp === undefined || linksUp.has(name))).map(([, t]) => t.detector);
      if (heard.length === 0) continue; // nothing here can hear this peer: no evidence either way
      const working = heard.filter((d) => d.silencePhi(nowMs) < deadThreshold);
      // The fastest links that still work for the peer decide suspicion (a hint, so speed wins): all of
      // them must be overdue. A slower radio is not waited for; it keeps a live peer from dying.
      const judges = fastest(working.length > 0 ? working : heard);
      if ((peer.status === 'alive' || peer.status === 'recovered') && judges.every((d) => d.phi(nowMs) >= threshold)) this.setStatus(id, peer, 'suspect', nowMs);
      if (peer.status === 'suspect' && working.length === 0) this.setStatus(id, peer, 'dead', nowMs);
    }
    return this.drainChanges();
  }

  /**
   * This node's link `name` is up again (the broker is back). Its silence while it was down is not held
   * against anyone, and neither is it once it is back: each peer's detector on it is judged from now.
   * Judged from the last beat before the outage, every peer was suspect and dead at the first tick, on
   * every device at once, before any beat could arrive (the broker restarted: all of them, 1-3 s).
   * Judged from the moment this node was back, a peer whose backoff put it back up to 3 s later was
   * declared dead where heartbeats are fast (200 ms: dead after about 2 s): hence `resumeGraceMs`.
   */
  private resumeLink(name: string, nowMs: number): void {
    const graceMs = this.config.resumeGraceMs?.[name] ?? 0;
    for (const id of this.sortedIds()) (this.peers.get(id) as Peer).tracks.get(name)?.detector.resume(nowMs, graceMs);
  }

  /**
   * Keeps only the peers in `members` (the manifest in force) and returns the ids forgotten, sorted: a
   * member a new epoch removed stops counting at once, instead of going suspect, then dead, and
   * staying in status and hints for good.
   */
  retain(members: ReadonlySet<string>): string[] {
    const gone = this.sortedIds().filter((id) => !members.has(id));
    for (const id of gone) this.peers.delete(id);
    // Changes not yet drained about them are dropped too: nothing is reported about a non-member.
    const kept = this.changes.filter((c) => members.has(c.id));
    this.changes.splice(0, this.changes.length, ...kept);
    return gone;
  }

  /** Status changes since the last call, in the order they happened. */
  drainChanges(): StatusChange[] {
    return this.changes.splice(0, this.changes.length);
  }

  status(id: string): PeerStatus | undefined {
    return this.peers.get(id)?.status;
  }

  /** Every peer, sorted by id (never Map order), with its phi at `nowMs`. */
  snapshot(nowMs: number): PeerView[] {
    return this.sortedIds().map((id) => {
      const p = this.peers.get(id) as Peer;
      const ds = [...p.tracks.values()].map((t) => t.detector).filter((d) => d.lastHeardMs() !== undefined);
      const min = (f: (d: PhiAccrualDetector) => number): number => (ds.length === 0 ? 0 : Math.min(...ds.map(f)));
      const heard = ds.map((d) => d.lastHeardMs() as number);
      const working = ds.filter((d) => d.silencePhi(nowMs) < this.config.phi.deadThreshold);
      const judge = fastest(working.length > 0 ? working : ds)[0];
      return {
        id,
        status: p.status,
        phi: round2(min((d) => d.phi(nowMs))),
        silencePhi: round2(min((d) => d.silencePhi(nowMs))),
        lastHeardMs: heard.length === 0 ? undefined : Math.max(...heard),
        seq: p.last.seq,
        session: p.last.session,
        height: p.last.height,
        round: p.last.round,
        health: p.last.health,
        position: p.last.position,
        batteryPct: p.last.batteryPct,
        lossRate: round2(min((d) => d.lossRate())),
        meanMs: Math.round(judge?.meanMs() ?? this.config.phi.expectedIntervalMs),
        stdDevMs: Math.round(judge?.stdDevMs() ?? this.config.phi.minStdDevMs),
        links: { ...p.links },
      };
    });
  }

  /** Ids by status: the hint consensus may use (for example, skip waiting on dead proposers). */
  hints(): Record<PeerStatus, string[]> {
    const out: Record<PeerStatus, string[]> = { alive: [], suspect: [], dead: [], recovered: [] };
    for (const id of this.sortedIds()) out[(this.peers.get(id) as Peer).status].push(id);
    return out;
  }

  /** Gauges for metrics: peers per status. */
  countsByStatus(): Record<PeerStatus, number> {
    const h = this.hints();
    return { alive: h.alive.length, suspect: h.suspect.length, dead: h.dead.length, recovered: h.recovered.length };
  }

  private setStatus(id: string, peer: Peer, to: PeerStatus, atMs: number): void {
    if (peer.status === to) return;
    this.changes.push({ id, from: peer.status, to, atMs });
    if (this.changes.length > this.config.peersMax * 4) this.changes.shift(); // nobody drains: keep it bounded
    peer.status = to;
    if (to === 'recovered') peer.beatsSinceRecovery = 0;
  }

  private sortedIds(): string[] {
    return [...this.peers.keys()].sort(compareIds);
  }
}

const round2 = (x: number): number => Math.round(x * 100) / 100;

/** The detectors of the links that beat at about the fastest cadence (within 1.5x), fastest first. */
function fastest(ds: readonly PhiAccrualDetector[]): PhiAccrualDetector[] {
  const min = Math.min(...ds.map((d) => d.meanMs()));
  return ds.filter((d) => d.meanMs() <= 1.5 * min).sort((a, b) => a.meanMs() - b.meanMs());
}
