// The membership view: who is alive, suspect, dead or recovered, from verified heartbeats. Time is an
// input. The view is exported to status and metrics and offered to consensus as hints (proposer
// choice, timeouts, link choice), never as a safety input: a wrong view costs time, not agreement.

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
  readonly phi: PhiConfig;
  /** Heartbeats a recovered peer must send before it counts as alive again. */
  readonly recoveredBeats: number;
  readonly peersMax: number;
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

interface Peer {
  detector: PhiAccrualDetector;
  status: PeerStatus;
  beatsSinceRecovery: number;
  last: HeartbeatBody;
  links: Record<string, number>;
}

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
      peer = { detector: new PhiAccrualDetector(this.config.phi), status: 'alive', beatsSinceRecovery: 0, last: hb, links: {} };
      this.peers.set(sender, peer);
      this.changes.push({ id: sender, from: 'unknown', to: 'alive', atMs: nowMs });
    } else if (hb.session === peer.last.session && hb.seq === peer.last.seq) {
      // The same heartbeat over a second link: not new life, but it shows that link works.
      peer.links[link] = nowMs;
      this.counters.duplicates++;
      return { accepted: false, reason: 'duplicate', duplicate: true };
    } else if (hb.session < peer.last.session || (hb.session === peer.last.session && hb.seq < peer.last.seq)) {
      this.counters.stale++;
      return { accepted: false, reason: `stale heartbeat from "${sender}" (session ${hb.session} seq ${hb.seq})` };
    } else if (hb.session > peer.last.session) {
      // A restart: the sequence starts again and the old arrival time means nothing.
      peer.detector.resetArrival();
      this.setStatus(sender, peer, 'recovered', nowMs);
    } else if (peer.status === 'dead') {
      this.setStatus(sender, peer, 'recovered', nowMs);
    } else if (peer.status === 'suspect') {
      this.setStatus(sender, peer, 'alive', nowMs);
    }
    if (peer.status === 'recovered' && ++peer.beatsSinceRecovery >= this.config.recoveredBeats) this.setStatus(sender, peer, 'alive', nowMs);
    peer.detector.heartbeat(nowMs, hb.seq);
    peer.last = hb;
    peer.links[link] = nowMs;
    this.counters.heartbeats++;
    return { accepted: true };
  }

  /** Re-evaluates every peer at `nowMs` (call it on a timer, e.g. every heartbeat interval / 4). */
  tick(nowMs: number): readonly StatusChange[] {
    for (const id of this.sortedIds()) {
      const peer = this.peers.get(id) as Peer;
      const d = peer.detector;
      if ((peer.status === 'alive' || peer.status === 'recovered') && d.phi(nowMs) >= this.config.phi.threshold) this.setStatus(id, peer, 'suspect', nowMs);
      if (peer.status === 'suspect' && d.silencePhi(nowMs) >= this.config.phi.deadThreshold) this.setStatus(id, peer, 'dead', nowMs);
    }
    return this.drainChanges();
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
      return {
        id,
        status: p.status,
        phi: round2(p.detector.phi(nowMs)),
        silencePhi: round2(p.detector.silencePhi(nowMs)),
        lastHeardMs: p.detector.lastHeardMs(),
        seq: p.last.seq,
        session: p.last.session,
        height: p.last.height,
        round: p.last.round,
        health: p.last.health,
        position: p.last.position,
        batteryPct: p.last.batteryPct,
        lossRate: round2(p.detector.lossRate()),
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
