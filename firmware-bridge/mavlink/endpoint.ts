// One MAVLink 2 endpoint on a byte transport: sends with a rolling sequence (and signature when a key
// is set), checks and decodes what arrives, sends HEARTBEAT at 1 Hz and declares a peer lost after 5
// missed heartbeats (mavlink.io/en/services/heartbeat.html).

import { minimal, type MavLinkData } from 'node-mavlink';
import type { ByteTransport } from '../transport.js';
import {
  decodeMessage,
  encodeFrame,
  FrameSplitter,
  signatureLinkId,
  signatureTimestamp,
  signingEpochMs,
  verifySignature,
  type MavFrame,
  type SigningKey,
} from './codec.js';

/** Signed streams remembered for replay protection; a further new stream is refused. */
const signingStreamsMax = 256;
/** How far behind our timestamp a new signed stream may start: one minute, in 10 µs units. */
const newStreamLag10us = 6_000_000;
/** A partial frame held this long with no byte arriving is given up and its bytes rescanned (a stray
 *  STX must not hold the frames behind it until its length fills). A flight controller writes a frame
 *  in one go; the gaps inside one, even across a radio's air packets, are far shorter. */
export const partialFrameIdleMsDefault = 250;

export interface HeartbeatContent {
  readonly type: number; // MAV_TYPE
  readonly autopilot: number; // MAV_AUTOPILOT
  readonly baseMode: number;
  readonly customMode: number;
  readonly systemStatus: number; // MAV_STATE
}

export interface SigningPolicy extends SigningKey {
  /** Which unsigned messages to accept anyway (the spec's accept-unsigned callback); default none. */
  readonly acceptUnsigned?: (msgid: number) => boolean;
}

export interface EndpointOptions {
  readonly transport: ByteTransport;
  readonly sysid: number;
  readonly compid: number;
  readonly heartbeat: () => HeartbeatContent;
  readonly heartbeatIntervalMs?: number;
  /** Missed heartbeats before a peer counts as lost (spec: 4-5 on RF links). */
  readonly heartbeatsMissedMax?: number;
  readonly signing?: SigningPolicy;
  /** How the user gives this side a signing key, for signingMismatch() (the device's: "set
   *  `hal.mavlink.signingKeyFile` in device.yaml to a file holding its key"). */
  readonly signingFix?: string;
  readonly nowMs?: () => number;
  /** Quiet time after which a partial frame is given up and rescanned (default partialFrameIdleMsDefault). */
  readonly partialFrameIdleMs?: number;
}

export interface ReceivedMessage {
  readonly msg: MavLinkData;
  readonly frame: MavFrame;
}

/** A component of a system came up or was lost: MAVLink's connection protocol tracks components by
 *  (system, component) id, so a gimbal or camera heartbeating on the flight controller's system id
 *  neither keeps the autopilot "up" nor stands in for it. */
export type LinkEvent = { readonly type: 'up' | 'lost'; readonly sysid: number; readonly compid: number };

/** Whether an event is about `target` (compid 0: any component of its system). */
export function isAbout(e: LinkEvent, target: { readonly sysid: number; readonly compid: number }): boolean {
  return e.sysid === target.sysid && (target.compid === 0 || e.compid === target.compid);
}

export interface EndpointCounters {
  framesSent: number;
  framesReceived: number;
  bytesReceived: number;
  badCrc: number;
  /** MAVLink 1 frames heard (and ignored): any with a valid CRC, which random bytes make now and then. */
  v1Frames: number;
  /** Of those, HEARTBEATs: a flight controller speaking MAVLink 1. */
  v1Heartbeats: number;
  rejectedUnsigned: number;
  rejectedSignature: number;
  /** Signed frames taken without a check because this side has no signing key: a peer that signs most
   *  likely also refuses what we send unsigned (signingMismatch). */
  signedUnchecked: number;
  /** Signed frames not newer than the last of their stream, or opening a stream more than a minute
   *  behind our timestamp (a recording replayed). */
  rejectedReplay: number;
  /** Signed frames opening a new stream while signingStreamsMax streams are remembered already. */
  rejectedStreamsFull: number;
}

interface PeerState {
  readonly sysid: number;
  readonly compid: number;
  lastHeartbeatMs: number;
  up: boolean;
}

/** Peers are keyed by system and component id. */
const peerKey = (sysid: number, compid: number): number => sysid * 256 + compid;

/** Components remembered at most, besides those kept (keepPeer): past it, a newly heard one takes the
 *  place of the one heard longest ago (a lost one first, as lost ones are the longest silent). */
export const peersMax = 64;

export class MavlinkEndpoint {
  readonly sysid: number;
  readonly compid: number;
  private seq = 0;
  private readonly splitter = new FrameSplitter();
  private readonly handlers = new Set<(m: ReceivedMessage) => void>();
  private readonly linkHandlers = new Set<(e: LinkEvent) => void>();
  private readonly peers = new Map<number, PeerState>();
  /** Components always admitted to `peers` and never made room for (compid 0: all of the system's). */
  private readonly kept: { readonly sysid: number; readonly compid: number }[] = [];
  private readonly lastSignTs = new Map<string, number>();
  /** Our signing timestamp: the newest we sent, or accepted in a correctly signed frame. */
  private lastOwnTs = 0;
  private timer: NodeJS.Timeout | null = null;
  private idleTimer: NodeJS.Timeout | null = null;
  private readonly intervalMs: number;
  private readonly missedMax: number;
  private readonly now: () => number;
  private readonly stats: EndpointCounters = { framesSent: 0, framesReceived: 0, bytesReceived: 0, badCrc: 0, v1Frames: 0, v1Heartbeats: 0, rejectedUnsigned: 0, rejectedSignature: 0, signedUnchecked: 0, rejectedReplay: 0, rejectedStreamsFull: 0 };
  /** Heartbeats can be paused (tests use it to simulate a hung companion). */
  heartbeatsEnabled = true;

  constructor(private readonly o: EndpointOptions) {
    this.sysid = o.sysid;
    this.compid = o.compid;
    this.intervalMs = o.heartbeatIntervalMs ?? 1000;
    this.missedMax = o.heartbeatsMissedMax ?? 5;
    this.now = o.nowMs ?? Date.now;
    o.transport.onData((chunk) => this.receive(chunk));
  }

  start(): void {
    if (this.timer) return;
    this.sendHeartbeat();
    this.timer = setInterval(() => {
      this.sendHeartbeat();
      this.checkPeers();
    }, this.intervalMs);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
  }

  send(msg: MavLinkData): void {
    const signing = this.o.signing;
    let frame: Buffer;
    if (signing) {
      // Timestamps must strictly increase per link (spec: message signing, timestamp).
      const ts = Math.max(this.lastOwnTs + 1, this.ownTimestamp());
      this.lastOwnTs = ts;
      frame = encodeFrame(msg, { sysid: this.sysid, compid: this.compid, seq: this.seq, signing: { ...signing, timestamp10us: ts } });
    } else {
      frame = encodeFrame(msg, { sysid: this.sysid, compid: this.compid, seq: this.seq });
    }
    this.seq = (this.seq + 1) & 0xff;
    this.stats.framesSent++;
    this.o.transport.write(frame);
  }

  onMessage(handler: (m: ReceivedMessage) => void): () => void {
    this.handlers.add(handler);
    return () => this.handlers.delete(handler);
  }

  onLink(handler: (e: LinkEvent) => void): () => void {
    this.linkHandlers.add(handler);
    return () => this.linkHandlers.delete(handler);
  }

  /**
   * Always remembers the component (compid 0: every component of the system) however many others are
   * heard: the flight controller this endpoint is for. When it forwards a shared radio network, 64 other
   * systems filled the table first and its own HEARTBEATs were never admitted (never "up").
   */
  keepPeer(sysid: number, compid: number): void {
    if (!this.kept.some((k) => k.sysid === sysid && k.compid === compid)) this.kept.push({ sysid, compid });
  }

  private isKept(sysid: number, compid: number): boolean {
    return this.kept.some((k) => k.sysid === sysid && (k.compid === 0 || k.compid === compid));
  }

  /** Forgets the component not kept that was heard longest ago (silently: it is not lost, only no longer
   *  tracked; heard again, it is admitted as new). False when every one is kept. */
  private makeRoom(): boolean {
    let oldest: PeerState | null = null;
    for (const p of this.peers.values()) {
      if (this.isKept(p.sysid, p.compid)) continue;
      if (oldest === null || p.lastHeartbeatMs < oldest.lastHeartbeatMs) oldest = p;
    }
    if (oldest === null) return false;
    this.peers.delete(peerKey(oldest.sysid, oldest.compid));
    return true;
  }

  /** The components heard of `sysid` (all of them, or just `compid` unless it is 0 or left out). */
  private componentsOf(sysid: number, compid = 0): PeerState[] {
    if (compid !== 0) {
      const p = this.peers.get(peerKey(sysid, compid));
      return p ? [p] : [];
    }
    return [...this.peers.values()].filter((p) => p.sysid === sysid);
  }

  /** Whether the component (compid 0 or left out: any component of the system) is up. */
  isPeerUp(sysid: number, compid = 0): boolean {
    return this.componentsOf(sysid, compid).some((p) => p.up);
  }

  /** Whether the component was heard and has since been declared lost (and not heard again); for a
   *  whole system (compid 0 or left out), whether some component was heard and none is up. */
  isPeerLost(sysid: number, compid = 0): boolean {
    const c = this.componentsOf(sysid, compid);
    return c.length > 0 && c.every((p) => !p.up);
  }

  /** Component ids of `sysid` whose HEARTBEAT we have heard, ascending. */
  heardComponents(sysid: number): number[] {
    return this.componentsOf(sysid)
      .map((p) => p.compid)
      .sort((a, b) => a - b);
  }

  counters(): Readonly<EndpointCounters> {
    return { ...this.stats, badCrc: this.splitter.counters.badCrc, v1Frames: this.splitter.counters.v1Frames, v1Heartbeats: this.splitter.counters.v1Heartbeats };
  }

  /**
   * Why a peer may be ignoring what we send: it signs its frames and we have no key, so ours go out
   * unsigned, which a flight controller that enforces signing drops without a word (null when we sign or
   * nothing signed has come). For the timeouts of commands and transfers to say.
   */
  signingMismatch(): string | null {
    if (this.o.signing || this.stats.signedUnchecked === 0) return null;
    return `the flight controller signs its frames (${this.stats.signedUnchecked} signed frames heard on ${this.transportName}) and this side has no signing key, so it sends unsigned frames, which a flight controller that enforces signing ignores: ${this.o.signingFix ?? 'give this side the same signing key'}`;
  }

  /** How long a peer's silence takes to count as lost. */
  get lostAfterMs(): number {
    return this.missedMax * this.intervalMs;
  }

  /** The transport's name (serial:PATH, udp:PORT), for messages. */
  get transportName(): string {
    return this.o.transport.name;
  }

  /** System ids whose HEARTBEAT we have heard, ascending. */
  heardSystems(): number[] {
    return [...new Set([...this.peers.values()].map((p) => p.sysid))].sort((a, b) => a - b);
  }

  /** Our signing clock: 10 µs units since the signing epoch, never behind what we last sent. */
  private ownTimestamp(): number {
    return Math.max(this.lastOwnTs, Math.floor((this.now() - signingEpochMs) * 100));
  }

  private sendHeartbeat(): void {
    if (!this.heartbeatsEnabled) return;
    const c = this.o.heartbeat();
    const hb = new minimal.Heartbeat();
    hb.type = c.type;
    hb.autopilot = c.autopilot;
    hb.baseMode = c.baseMode;
    hb.customMode = c.customMode;
    hb.systemStatus = c.systemStatus;
    hb.mavlinkVersion = 3;
    this.send(hb);
  }

  private checkPeers(): void {
    const now = this.now();
    for (const [, p] of [...this.peers.entries()].sort((a, b) => a[0] - b[0])) {
      if (p.up && now - p.lastHeartbeatMs > this.missedMax * this.intervalMs) {
        p.up = false;
        for (const h of this.linkHandlers) h({ type: 'lost', sysid: p.sysid, compid: p.compid });
      }
    }
  }

  private receive(chunk: Uint8Array): void {
    this.stats.bytesReceived += chunk.length;
    this.deliver(this.splitter.push(chunk));
    this.watchPartialFrame();
  }

  /** While the splitter holds a partial frame, a quiet spell of partialFrameIdleMs gives it up. */
  private watchPartialFrame(): void {
    if (this.splitter.heldBytes === 0) {
      if (this.idleTimer) clearTimeout(this.idleTimer);
      this.idleTimer = null;
    } else if (this.idleTimer) {
      this.idleTimer.refresh();
    } else {
      this.idleTimer = setTimeout(() => {
        this.idleTimer = null;
        this.deliver(this.splitter.flush());
        this.watchPartialFrame();
      }, this.o.partialFrameIdleMs ?? partialFrameIdleMsDefault);
      this.idleTimer.unref();
    }
  }

  private deliver(frames: readonly MavFrame[]): void {
    for (const frame of frames) {
      if (frame.sysid === this.sysid && frame.compid === this.compid) continue; // our own echo
      if (!this.accept(frame)) continue;
      const msg = decodeMessage(frame);
      if (msg === null) continue;
      this.stats.framesReceived++;
      if (msg instanceof minimal.Heartbeat) this.noteHeartbeat(frame.sysid, frame.compid);
      for (const h of this.handlers) h({ msg, frame });
    }
  }

  private accept(frame: MavFrame): boolean {
    const s = this.o.signing;
    if (!s) {
      if (frame.signed && frame.sysid !== this.sysid) this.stats.signedUnchecked++;
      return true;
    }
    if (!frame.signed) {
      if (s.acceptUnsigned?.(frame.msgid)) return true;
      this.stats.rejectedUnsigned++;
      return false;
    }
    if (!verifySignature(frame, s.key)) {
      this.stats.rejectedSignature++;
      return false;
    }
    // Replay protection: per (sysid, compid, linkId) the timestamp must increase. A stream we have not
    // heard yet (all of them after we restart) must be no more than a minute behind our own timestamp,
    // else a recorded session could be replayed in order (one consistent with itself, as a recording
    // is); and a stream we cannot remember is refused (mavlink.io message signing, "Accepting Signed
    // Packets"; the C library's mavlink_signature_check).
    const stream = `${frame.sysid}/${frame.compid}/${signatureLinkId(frame)}`;
    const ts = signatureTimestamp(frame);
    const last = this.lastSignTs.get(stream);
    if (last === undefined && this.lastSignTs.size >= signingStreamsMax) {
      this.stats.rejectedStreamsFull++;
      return false;
    }
    if (last === undefined ? ts + newStreamLag10us < this.ownTimestamp() : ts <= last) {
      this.stats.rejectedReplay++;
      return false;
    }
    this.lastSignTs.set(stream, ts);
    // The spec's timestamp rule: a correctly signed frame that is ahead of us moves our timestamp up
    // to its own. So a peer whose clock is more than a minute ahead accepts our frames once we have
    // heard it, and one that is behind catches up once it accepts one of ours (as the C library does).
    if (ts > this.lastOwnTs) this.lastOwnTs = ts;
    return true;
  }

  private noteHeartbeat(sysid: number, compid: number): void {
    const p = this.peers.get(peerKey(sysid, compid));
    const now = this.now();
    if (p) {
      p.lastHeartbeatMs = now;
      if (!p.up) {
        p.up = true;
        for (const h of this.linkHandlers) h({ type: 'up', sysid, compid });
      }
    } else if (this.peers.size < peersMax || this.makeRoom() || this.isKept(sysid, compid)) {
      this.peers.set(peerKey(sysid, compid), { sysid, compid, lastHeartbeatMs: now, up: true });
      for (const h of this.linkHandlers) h({ type: 'up', sysid, compid });
    }
  }
}
