// The serial radio link for transparent radios (SiK at 57600 baud with 252-byte packets; LoRa modules
// such as the Ebyte E32 with 58-byte packets). Envelopes are cut into fragments that each fit one
// radio packet, framed with a CRC and COBS, and flooded with a hop limit so a device out of range is
// reached through the others. Sending respects an airtime budget and goes consensus first.
// Frame layout: radio-frame.ts and docs/topics.md.

import { randomInt } from 'node:crypto';
import { existsSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
// serialport (its native binding and parsers, ~1 MB of heap) is imported when a radio opens, so a
// device without radios never loads it.
import type { SerialPort } from 'serialport';
import { assert } from '../lib/assert.js';
import { concatBytes, utf8 } from '../lib/bytes.js';
import { limits } from '../lib/limits.js';
import { crc32 } from 'node:zlib';
import { AirtimeBudget, blockTxBytesOnAir, bytesPerSecond, defaultStaleMs, relayStaleMs } from './airtime.js';
import { bulkEnvelope, bulkEnvelopeStart, ClassQueue, defaultQueueSizes, radioLaneShares, type ClassQueueSizes } from './class-queue.js';
import { RelayAllowance } from './relay-allowance.js';
import { WaitingEnvelopes } from './waiting-envelopes.js';
import { CobsSplitter, cobsDecode, cobsEncode } from './cobs.js';
import { DedupCache } from './dedup-cache.js';
import { fleetTag as tagOfFleet } from './frame.js';
import type { Link, LinkCountersDetail, ReceivedFrame, TrafficClass } from './link.js';
import { LinkStats } from './link-stats.js';
import { decodeRadioFrame, encodeRadioFrame, fragmentBytesMax, type RadioFrame } from './radio-frame.js';

/**
 * Counter-based relay suppression (Ni, Tseng et al., "The broadcast storm problem in a mobile ad hoc
 * network", MobiCom 1999): a relay still queued (or waiting out its jitter) is cancelled once its packet
 * was heard this many times, the first copy included: enough neighbours sent it already that one more
 * copy would mostly reach radios that have it. 3 keeps lines and sparse meshes as they were (a radio in
 * a line hears at most two copies before its own relay) and cuts a dense mesh's relays to a few per
 * packet. 0 turns it off (every new packet relayed while hops are left).
 */
export const defaultRelaySuppress = 3;
export const relaySuppressMax = 16;

/**
 * The default relay wait: up to four packets' airtime at the radio's own rate (SiK at 57600 baud with
 * 252-byte packets: 0-175 ms, 88 ms a hop on average; E32 at 2.4 kbps with 58: 0-967 ms), duty cycle
 * aside. Without a wait every neighbour that heard a packet relays it at once, before any can hear
 * another's copy, so suppression never acts (and radios without their own medium access, LoRa
 * transparent mode, collide). In the simulator (fleet-sim/sim/radio-net.ts), ten radios in range of
 * each other relay a packet 9 times without suppression; with 3 copies and waits of up to 2, 4 and 8
 * packets, 5.8, 4.0 and 3.1 times; twenty radios: 19, then 9.7, 5.6 and 3.6.
 */
export function defaultRelayJitterMs(packetBytes: number, baud: number, airBitsPerSec?: number): number {
  return Math.ceil((4 * packetBytes * 1000) / (Math.min(baud, airBitsPerSec ?? baud) / 10));
}

/** Radio presets from edge-anchors.md §3 (SiK: 252-byte packets; E32: 58-byte packets, 2.4 kbps air). */
export const radioPresets = {
  sik: { baud: 57_600, packetBytes: 252 },
  e32: { baud: 9_600, packetBytes: 58, airBitsPerSec: 2_400 },
} as const;

export interface SerialLinkOptions {
  readonly fleet: string;
  readonly node: string;
  readonly name?: string;
  /** One radio. Tests emulate a radio neighbourhood with one pty per neighbour. */
  readonly paths: readonly string[];
  readonly baud: number;
  /** Bytes per radio packet on the air, COBS and delimiter included. */
  readonly packetBytes: number;
  readonly airBitsPerSec?: number;
  readonly dutyCycle?: number;
  /** Relay hops for a flood (default 3, as Meshtastic). */
  readonly hopLimit?: number;
  /** The fleet's other members: received frames are named by them, and only their frames are relayed
   *  (none without them). */
  readonly peers?: readonly string[];
  /** false sends as fast as the port takes bytes (benchmarks of the framing alone). */
  readonly throttle?: boolean;
  readonly queueSizes?: ClassQueueSizes;
  /** Bytes on the air each lane may hold (default radioQueueBytes: limits.radioQueueAirMs of this
   *  radio's airtime); never less than one largest envelope. */
  readonly queueBytes?: ClassQueueSizes;
  readonly fragmentsMax?: number;
  readonly now?: () => number;
  /** Relays wait a random 0..relayJitterMs first (default defaultRelayJitterMs: four packets' airtime;
   *  0: relay at once). */
  readonly relayJitterMs?: number;
  /** The draw in [0, 1) for a relay's wait (default Math.random; tests fix it). */
  readonly random?: () => number;
  /** Copies of a packet heard that cancel this radio's relay of it, if not yet sent (default
   *  defaultRelaySuppress; 0: never cancel; otherwise 2..relaySuppressMax). */
  readonly relaySuppress?: number;
  /** Retry interval for a port that went away (default 1 s). */
  readonly reopenMs?: number;
  /** Where the link says that a port went away ('port-gone': path, reason, retryMs) and came back
   *  ('port-back': path, downMs, attempts); the device logs both at warn (observability.ts linkLogger). */
  readonly log?: (event: string, detail: Record<string, unknown>) => void;
  /** A consensus envelope still queued this long after it was queued is dropped unsent (default
   *  limits.radioConsensusStaleMs): consensus re-sends what still matters, and a saturated radio
   *  must not spend its airtime on votes for rounds long over. */
  readonly consensusStaleMs?: number;
  /** The share of this radio's airtime its heartbeat lane is guaranteed (radios[].heartbeatShare,
   *  default 0.1; class-queue.ts radioLaneShares). */
  readonly heartbeatShare?: number;
}

interface Packet {
  readonly wire: Buffer;
  /** Envelope bytes this packet completes (0 for all but the last fragment, and for relays). */
  readonly completes: number;
  readonly relay: boolean;
  /** origin:msgId, so a whole envelope (own or relayed) can be evicted at once. */
  readonly key: string;
  /** A relay's origin:msgId:index (its entry in relaysQueued); '' for own packets. */
  readonly frag: string;
  /** When it was queued (the link's clock), for consensusStaleMs. */
  readonly queuedMs: number;
}

interface Reassembly {
  readonly parts: (Uint8Array | undefined)[];
  got: number;
  readonly startedMs: number;
  readonly dest: number | undefined;
}

/** The default byte bound of each lane of a radio's queue: limits.radioQueueAirMs of airtime at
 *  `airBytesPerSec`, and at least one largest envelope (`fragmentsMax` full packets). Shared by
 *  SerialLink and fleet-sim's radio. */
export function radioQueueBytes(airBytesPerSec: number, packetBytes: number, fragmentsMax: number): number {
  return Math.max(Math.floor((airBytesPerSec * limits.radioQueueAirMs) / 1000), fragmentsMax * packetBytes);
}

/** A node's origin tag in radio frames (radio-frame.ts). */
export const nodeTag = (id: string): number => crc32(utf8(id)) >>> 0;

export class SerialLink implements Link {
  readonly name: string;
  readonly mtuBytes: number;
  private readonly stats = new LinkStats();
  private readonly queue: ClassQueue<Packet>;
  private readonly fleetTag: number;
  private readonly selfTag: number;
  private readonly peerByTag = new Map<number, string>();
  private readonly dedup = new DedupCache(limits.radioDedupEntriesMax);
  private readonly reassembly = new Map<string, Reassembly>();
  private readonly budget: AirtimeBudget | undefined;
  private readonly handlers: ((f: ReceivedFrame) => void)[] = [];
  private readonly ports: SerialPort[] = [];
  private readonly reopenTimers = new Map<number, NodeJS.Timeout>();
  /** Per port gone while running: since when, the reason it went, and the reopen attempts so far. */
  private readonly gone = new Map<number, { readonly sinceMs: number; attempts: number }>();
  /** The last error each port reported (its close follows): the reason port-gone gives. */
  private readonly portErrors = new Map<number, string>();
  private readonly rx: CobsSplitter[] = [];
  private readonly now: () => number;
  private readonly fragmentsMax: number;
  private readonly hopLimit: number;
  private readonly staleMs: number;
  /** The same for relays of live consensus (airtime.ts relayStaleMs), counted from when the packet
   *  was heard, and at least twice the longest relay wait (relayJitterMs), so a relay that drew the
   *  longest wait has as long again in the queue. */
  private readonly relayStaleMs: number;
  /** The live consensus envelope whose fragment went out last: its remaining fragments are never
   *  dropped as stale. */
  private onAir = '';
  /** The same for consensus's bulk lane, whose envelopes the live height's messages may interrupt. */
  private onAirBulk = '';
  /** The same for heartbeats and telemetry. Each lane keeps its own mark: with lane shares a heartbeat
   *  goes out between a proposal's fragments, and a mark it overwrote left the rest of the proposal to
   *  be dropped as stale (whole rounds lost on a busy radio). */
  private onAirOther = '';
  /** Own envelopes waiting in the queue, so a re-broadcast of one is not queued twice. */
  private readonly waiting = new WaitingEnvelopes();
  readonly blockTxBytesHint: number;
  private msgId = randomInt(0, 0xffffffff);
  private running = false;
  private pumping = false;
  private waitingDrain = false;
  private pendingRelays = 0;
  private readonly relaySuppress: number;
  private readonly relayJitterMs: number;
  /** Relays not yet on the air (queued, or waiting out their jitter), by fragment, with the copies of
   *  their packet heard so far. An entry goes when its relay goes out, is cancelled, is dropped as
   *  stale or evicted, or when the link stops; at most relaysTrackedMax (what the queue and the jitter
   *  waits hold), the oldest forgotten first. */
  private readonly relaysTrackedMax: number;
  /** Relayed envelopes (origin:msgId) cut short by a full queue: their later fragments are not relayed. */
  private readonly cutRelays = new Set<string>();
  private readonly relaysQueued = new Map<string, { readonly packet: Packet; readonly cls: TrafficClass; heard: number; queued: boolean }>();
  /** Relayed envelopes (origin:msgId) whose first fragment was a block-sync answer or state sync: their
   *  fragments go in the bulk lane. The oldest forgotten first. */
  private readonly bulkRelays = new Set<string>();
  /** Airtime each origin's relays may take (relay-allowance.ts). */
  private readonly relayAllowance: RelayAllowance;
  private timer: NodeJS.Timeout | undefined;
  private watchdog: NodeJS.Timeout | undefined;

  constructor(private readonly opts: SerialLinkOptions) {
    assert(opts.paths.length > 0, 'a serial link needs at least one port path');
    assert(opts.packetBytes >= 32 && opts.packetBytes <= 256, `packetBytes must be 32..256, is ${opts.packetBytes}`);
    this.name = opts.name ?? 'radio';
    this.now = opts.now ?? (() => performance.now());
    this.fragmentsMax = Math.min(opts.fragmentsMax ?? limits.radioFragmentsMax, 255);
    this.hopLimit = opts.hopLimit ?? 3;
    // Slow radios get longer: at least the airtime of radioStalePackets full packets (E32 at 2.4 kbps: 7.7 s).
    const airBytesPerSec = bytesPerSecond({ baud: opts.baud, burstBytes: opts.packetBytes, ...(opts.airBitsPerSec !== undefined ? { airBitsPerSec: opts.airBitsPerSec } : {}), ...(opts.dutyCycle !== undefined ? { dutyCycle: opts.dutyCycle } : {}) });
    this.staleMs = opts.consensusStaleMs ?? defaultStaleMs(opts.packetBytes, airBytesPerSec);
    this.blockTxBytesHint = blockTxBytesOnAir(airBytesPerSec);
    assert(this.staleMs > 0, `consensusStaleMs must be positive, is ${this.staleMs}`);
    assert(this.hopLimit >= 1 && this.hopLimit <= limits.radioHopLimitMax, `hopLimit must be 1..${limits.radioHopLimitMax}`);
    this.relaySuppress = opts.relaySuppress ?? defaultRelaySuppress;
    // The default follows the airtime, up to the most a relay may wait (a very slow air's four packets).
    this.relayJitterMs = opts.relayJitterMs ?? Math.min(defaultRelayJitterMs(opts.packetBytes, opts.baud, opts.airBitsPerSec), limits.radioRelayJitterMsMax);
    assert(this.relayJitterMs >= 0 && this.relayJitterMs <= limits.radioRelayJitterMsMax, `relayJitterMs must be 0..${limits.radioRelayJitterMsMax}, is ${this.relayJitterMs}`);
    this.relayStaleMs = relayStaleMs(opts.packetBytes, airBytesPerSec, this.staleMs, this.relayJitterMs);
    assert(Number.isInteger(this.relaySuppress) && (this.relaySuppress === 0 || (this.relaySuppress >= 2 && this.relaySuppress <= relaySuppressMax)), `relaySuppress must be 0 or 2..${relaySuppressMax}, is ${this.relaySuppress}`);
    this.mtuBytes = Math.min(limits.envelopeBytesMax, this.fragmentsMax * fragmentBytesMax(opts.packetBytes, true));
    this.fleetTag = tagOfFleet(opts.fleet);
    this.selfTag = nodeTag(opts.node);
    this.setPeers(opts.peers ?? []);
    // Sizes count packets (fragments) here, and bytes bound the airtime they hold (a count alone let a
    // lane hold 45 s of a SiK radio's air); each class holds at least one largest envelope by both.
    const sizes = opts.queueSizes ?? defaultQueueSizes;
    const atLeast = (n: number) => Math.max(n, this.fragmentsMax);
    const bytesDefault = radioQueueBytes(airBytesPerSec, opts.packetBytes, this.fragmentsMax);
    const b = opts.queueBytes ?? { consensus: bytesDefault, heartbeat: bytesDefault, telemetry: bytesDefault };
    const atLeastBytes = (n: number) => Math.max(n, this.fragmentsMax * opts.packetBytes);
    this.queue = new ClassQueue<Packet>(
      { consensus: atLeast(sizes.consensus), heartbeat: atLeast(sizes.heartbeat), telemetry: atLeast(sizes.telemetry) },
      (cls, bound) => this.stats.queueFull(cls, 1, bound),
      { max: { consensus: atLeastBytes(b.consensus), heartbeat: atLeastBytes(b.heartbeat), telemetry: atLeastBytes(b.telemetry) }, of: (p) => p.wire.length },
      radioLaneShares(opts.heartbeatShare),
    );
    this.relayAllowance = new RelayAllowance(airBytesPerSec);
    this.relaysTrackedMax = atLeast(sizes.consensus) + atLeast(sizes.heartbeat) + atLeast(sizes.telemetry) + limits.radioPendingRelaysMax;
    if (opts.throttle !== false) {
      this.budget = new AirtimeBudget(
        { baud: opts.baud, burstBytes: opts.packetBytes * 2, ...(opts.airBitsPerSec !== undefined ? { airBitsPerSec: opts.airBitsPerSec } : {}), ...(opts.dutyCycle !== undefined ? { dutyCycle: opts.dutyCycle } : {}) },
        this.now(),
      );
    }
  }

  /** Opens every port; a port that cannot be opened at start is a configuration error. */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      for (let i = 0; i < this.opts.paths.length; i++) {
        this.rx.push(new CobsSplitter(limits.radioRxBufferBytesMax));
        this.ports.push(await this.open(i));
      }
      // A port whose device node is gone (a USB radio unplugged, a pty pair ended) is closed here, so it
      // is reopened when the node comes back: the driver does not always report the hang-up (seen with
      // ptys under load: no 'close' within 10 s).
      this.watchdog = setInterval(() => this.closeVanished(), Math.max(100, Math.min(this.opts.reopenMs ?? 1_000, 1_000)));
      this.watchdog.unref?.();
    } catch (e) {
      await this.stop();
      throw e;
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    this.runs++;
    // Cleared and forgotten: a timer left set kept pump() from ever running after a restart.
    clearTimeout(this.timer);
    this.timer = undefined;
    clearInterval(this.watchdog);
    this.watchdog = undefined;
    this.waitingDrain = false;
    this.onAir = '';
    this.onAirBulk = '';
    this.onAirOther = '';
    for (const t of this.reopenTimers.values()) clearTimeout(t);
    this.reopenTimers.clear();
    this.gone.clear();
    this.portErrors.clear();
    this.queue.clear();
    this.waiting.clear();
    this.relaysQueued.clear();
    this.bulkRelays.clear();
    await Promise.all(this.ports.map((p) => new Promise<void>((r) => (p?.isOpen ? p.close(() => r()) : r()))));
    this.ports.length = 0;
    this.rx.length = 0;
  }

  /** Times a port was reopened after it went away (a radio unplugged and plugged back). */
  reopens = 0;
  /** Bumped by stop(), so a reopen that was under way then does not put its port into a later run. */
  private runs = 0;

  private async open(i: number): Promise<SerialPort> {
    const path = this.opts.paths[i] as string;
    const { SerialPort } = await import('serialport');
    const port = new SerialPort({ path, baudRate: this.opts.baud, autoOpen: false });
    await new Promise<void>((resolve, reject) => port.open((e) => (e ? reject(new Error(`cannot open serial port ${path}: ${e.message}`)) : resolve())));
    port.on('data', (chunk: Buffer) => this.onData(i, chunk));
    // An error shows as a closed port (isUp() false, then a reopen); its message is the reason said.
    port.on('error', (e: Error) => this.portErrors.set(i, e.message));
    port.on('close', () => this.scheduleReopen(i));
    return port;
  }

  private closeVanished(): void {
    this.ports.forEach((port, i) => {
      if (port.isOpen && !existsSync(this.opts.paths[i] as string)) {
        this.portErrors.set(i, 'its device file is gone (unplugged?)');
        port.close(() => undefined);
      }
    });
  }

  /** A port that closed while running is retried every reopenMs, with no restart of the link. */
  private scheduleReopen(i: number): void {
    if (!this.running || this.reopenTimers.has(i)) return;
    const run = this.runs;
    const retryMs = this.opts.reopenMs ?? 1_000;
    if (!this.gone.has(i)) {
      this.gone.set(i, { sinceMs: this.now(), attempts: 0 });
      this.opts.log?.('port-gone', { link: this.name, path: this.opts.paths[i], reason: this.portErrors.get(i) ?? 'closed', retryMs });
      this.portErrors.delete(i);
    }
    const t = setTimeout(() => {
      this.reopenTimers.delete(i);
      if (!this.running) return;
      const outage = this.gone.get(i);
      if (outage) outage.attempts++;
      this.open(i).then(
        (port) => {
          if (!this.running || run !== this.runs) return void port.close();
          this.ports[i] = port;
          this.rx[i] = new CobsSplitter(limits.radioRxBufferBytesMax);
          this.reopens++;
          this.gone.delete(i);
          if (outage) this.opts.log?.('port-back', { link: this.name, path: this.opts.paths[i], downMs: Math.round(this.now() - outage.sinceMs), attempts: outage.attempts });
          this.pump();
        },
        () => run === this.runs && this.scheduleReopen(i),
      );
    }, retryMs);
    t.unref?.();
    this.reopenTimers.set(i, t);
  }

  broadcast(bytes: Uint8Array, cls: TrafficClass): boolean {
    return this.enqueue(undefined, bytes, cls);
  }

  unicast(to: string, bytes: Uint8Array, cls: TrafficClass): boolean {
    return this.enqueue(nodeTag(to), bytes, cls);
  }

  /** Names the frames of these peers by their origin tags (a fleet.update added or removed members);
   *  a frame from anyone else is named by its tag alone (radio:<tag>). */
  setPeers(peers: readonly string[]): void {
    this.peerByTag.clear();
    for (const p of peers) this.peerByTag.set(nodeTag(p), p);
  }

  onReceive(handler: (frame: ReceivedFrame) => void): void {
    this.handlers.push(handler);
  }

  isUp(): boolean {
    return this.running && this.ports.some((p) => p.isOpen);
  }

  counters(): LinkCountersDetail {
    return this.stats.snapshot();
  }

  /** Packets waiting for airtime. */
  queued(): number {
    return this.queue.length;
  }

  /** Bytes on the air those packets take. */
  queuedBytes(): number {
    return this.queue.bytes;
  }

  private enqueue(dest: number | undefined, bytes: Uint8Array, cls: TrafficClass): boolean {
    if (!this.running) return false;
    const chunk = fragmentBytesMax(this.opts.packetBytes, dest !== undefined);
    const count = Math.max(1, Math.ceil(bytes.length / chunk));
    if (bytes.length > this.mtuBytes || count > this.fragmentsMax) {
      this.stats.oversize();
      return false;
    }
    const coalescing = cls === 'consensus';
    if (coalescing && this.waiting.absorb(bytes, dest, this.now())) {
      this.stats.coalesced();
      return true;
    }
    const msgId = this.msgId;
    const key = `${this.selfTag}:${msgId}`;
    const queuedMs = this.now();
    const packets: Packet[] = [];
    let wireBytes = 0;
    for (let index = 0; index < count; index++) {
      const fragment = bytes.subarray(index * chunk, Math.min(bytes.length, (index + 1) * chunk));
      const f: RadioFrame = { cls, fleetTag: this.fleetTag, origin: this.selfTag, msgId, hopsLeft: this.hopLimit, index, count, dest, fragment };
      const wire = this.packetOf(f);
      wireBytes += wire.length;
      packets.push({ wire, completes: index === count - 1 ? bytes.length : 0, relay: false, key, frag: '', queuedMs });
    }
    this.evictForRoom(cls, count, wireBytes);
    // Block-sync answers and state-sync offers and chunks wait behind the live height's messages
    // (class-queue.ts).
    const bulk = coalescing && bulkEnvelope(bytes);
    // All fragments or none: half an envelope is airtime wasted. Consensus refuses the new envelope, by
    // count as by bytes (class-queue.ts).
    if (this.queue.room(cls, bulk) < count) {
      this.stats.queueFull(cls);
      return false;
    }
    if (this.queue.roomBytes(cls, bulk) < wireBytes) {
      this.stats.queueFull(cls, 1, 'bytes');
      return false;
    }
    this.msgId = (this.msgId + 1) >>> 0;
    if (coalescing) this.waiting.add(bytes, dest, key, queuedMs);
    for (const [index, packet] of packets.entries()) {
      // Remembered as sent, so a neighbour's relay of it back here is a duplicate (onPacket).
      this.dedup.add(`${key}:${index}`);
      this.queue.push(cls, packet, bulk);
    }
    this.pump();
    return true;
  }

  private packetOf(f: RadioFrame): Buffer {
    const enc = cobsEncode(encodeRadioFrame(f));
    const wire = Buffer.allocUnsafe(enc.length + 1);
    wire.set(enc, 0);
    wire[enc.length] = 0;
    return wire;
  }

  /** Sends queued packets highest class first, as fast as the airtime budget allows. */
  private pump(): void {
    if (this.pumping || this.timer || this.waitingDrain || !this.running) return;
    this.pumping = true;
    try {
      for (let burst = 0; burst < 64; burst++) {
        this.dropStale();
        const next = this.queue.peek();
        if (!next) return;
        // No port open (radio unplugged): keep the queue (bounded) until a reopen calls pump again.
        if (!this.ports.some((p) => p.isOpen)) return;
        if (this.budget) {
          const wait = this.budget.waitMs(next.item.wire.length, this.now());
          if (wait > 0) {
            this.timer = setTimeout(() => {
              this.timer = undefined;
              this.pump();
            }, wait);
            return;
          }
          this.budget.spend(next.item.wire.length, this.now());
        }
        this.queue.shift();
        if (next.item.relay) this.relaysQueued.delete(next.item.frag);
        if (next.bulk) this.onAirBulk = next.item.key;
        else if (next.cls === 'consensus') this.onAir = next.item.key;
        else this.onAirOther = next.item.key;
        if (next.item.completes > 0) this.waiting.gone(next.item.key);
        let full = false;
        for (const p of this.ports) if (p.isOpen && !p.write(next.item.wire)) full = true;
        if (next.item.completes > 0) this.stats.sent(next.item.completes);
        if (next.item.relay) this.stats.relayed();
        if (full) {
          // The OS buffer is full: continue when the first port drains.
          const p = this.ports.find((x) => x.isOpen);
          if (!p) return;
          this.waitingDrain = true;
          p.drain(() => {
            this.waitingDrain = false;
            this.pump();
          });
          return;
        }
      }
      // Yield to the event loop between bursts so receiving is never starved.
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.pump();
      }, 0);
    } finally {
      this.pumping = false;
    }
  }

  /** Drops whole consensus envelopes that waited longer than staleMs (oldest first, so only from the
   *  head of each lane), and relays of live consensus that waited longer than relayStaleMs; never the
   *  rest of one already partly on the air. */
  private dropStale(): void {
    const now = this.now();
    for (const bulk of [false, true]) this.dropStaleLane(now, bulk);
    this.dropStaleRelays(now);
  }

  private dropStaleLane(now: number, bulk: boolean): void {
    const onAir = bulk ? this.onAirBulk : this.onAir;
    for (let i = 0; i < limits.radioFragmentsMax; i++) {
      const head = this.queue.peekClass('consensus', bulk);
      // An own envelope consensus handed over again since it was queued is as fresh as that hand-over.
      if (!head || head.key === onAir || now - head.queuedMs <= this.staleMs) return;
      if (now - (this.waiting.wantedAt(head.key) ?? head.queuedMs) <= this.staleMs) return;
      this.dropStaleEnvelope(head.key);
      this.waiting.gone(head.key);
    }
  }

  /** Relays wait behind this device's own packets in the live lane, so their oldest is looked at on its
   *  own. Block-sync answers keep the longer limit: no one sends them again every gossip interval (in
   *  fleet-sim's lossy-radio line, dropping them sooner cut the heights committed). */
  private dropStaleRelays(now: number): void {
    for (let i = 0; i < limits.radioFragmentsMax; i++) {
      const head = this.queue.peekRelay('consensus');
      if (!head || head.key === this.onAir || now - head.queuedMs <= this.relayStaleMs) return;
      this.dropStaleEnvelope(head.key);
    }
  }

  private dropStaleEnvelope(key: string): void {
    const gone = this.queue.removeWhere('consensus', (p) => {
      if (p.key !== key) return false;
      if (p.relay) this.relaysQueued.delete(p.frag);
      return true;
    });
    this.stats.stale('consensus', gone);
  }

  private onData(port: number, chunk: Buffer): void {
    // A port still delivering what it had read while stop() closes it: the link is gone, drop it.
    const rx = this.rx[port];
    if (!rx) return;
    const packets = rx.push(chunk, () => this.stats.badFrame('oversized'));
    for (const p of packets) this.onPacket(p);
  }

  private onPacket(encoded: Uint8Array): void {
    if (encoded.length > this.opts.packetBytes - 1) return this.stats.badFrame('oversized');
    const raw = cobsDecode(encoded);
    if (!raw) return this.stats.badFrame('bad-cobs');
    const d = decodeRadioFrame(raw, this.fleetTag, this.fragmentsMax);
    if (!d.ok) return this.stats.badFrame(d.error);
    // More hops left than this fleet's limit (a radio that is not one of ours, or a corrupt header that
    // passed the CRC) count as the limit: relayed with 254 hops left, a frame crossed any mesh end to
    // end and came back round a loop once the dedup caches had forgotten it.
    const f = d.value.hopsLeft > this.hopLimit ? { ...d.value, hopsLeft: this.hopLimit } : d.value;
    const frag = `${f.origin}:${f.msgId}:${f.index}`;
    if (!this.dedup.add(frag)) {
      this.stats.duplicate();
      return this.heardAgain(frag);
    }
    // A frame from this node's own id that it did not send (what it sent is remembered above): another
    // radio with this id, a copy of this device. Delivered, so consensus can prove the copy from what
    // it signs (NodeShell's onForeignSignature), and not relayed by this node.
    const fromSelf = f.origin === this.selfTag;
    const forMe = f.dest === undefined || f.dest === this.selfTag;
    if (f.hopsLeft > 1 && f.dest !== this.selfTag && !fromSelf && this.running && this.mayRelay(f, encoded.length + 1)) {
      // Flood relay: one copy per fragment, one hop fewer, in the lane of its class behind this
      // device's own packets there; the budget and the lane shares still apply.
      const bulk = this.relayIsBulk(f);
      const relayed: Packet = { wire: this.packetOf({ ...f, hopsLeft: f.hopsLeft - 1 }), completes: 0, relay: true, key: `${f.origin}:${f.msgId}`, frag, queuedMs: this.now() };
      const entry = { packet: relayed, cls: f.cls, heard: 1, queued: false };
      if (this.relaySuppress > 0) {
        // The heartbeat and telemetry queues drop their oldest item when full, relays included: so the
        // entries are bounded by what the queue and the waits can hold, the oldest forgotten first
        // (forgetting one only means that relay can no longer be cancelled).
        if (this.relaysQueued.size >= this.relaysTrackedMax) this.relaysQueued.delete(this.relaysQueued.keys().next().value as string);
        this.relaysQueued.set(frag, entry);
      }
      const jitter = this.relayJitterMs;
      if (jitter > 0 && this.pendingRelays < limits.radioPendingRelaysMax) {
        // Neighbours that heard the same packet would otherwise all relay it at once and collide on
        // radios without their own medium access (LoRa transparent mode); SiK's TDM does not need it.
        // The wait is also when copies from neighbours can cancel this relay (heardAgain).
        this.pendingRelays++;
        setTimeout(() => {
          this.pendingRelays--;
          if (this.relaySuppress > 0 && this.relaysQueued.get(frag) !== entry) return; // cancelled
          entry.queued = true;
          if (this.running && this.queueRelay(f.cls, relayed, bulk)) this.pump();
          else this.relaysQueued.delete(frag);
        }, (this.opts.random ?? Math.random)() * jitter).unref();
      } else {
        entry.queued = true;
        if (this.queueRelay(f.cls, relayed, bulk)) this.pump();
        else this.relaysQueued.delete(frag);
      }
    }
    if (forMe) this.assemble(f);
  }

  /**
   * Relays only frames of this fleet's members (the peers this link knows: none, when it was given
   * none), and from each origin only as much as its relay allowance (relay-allowance.ts): any radio can
   * send frames with the fleet's tag (it is public) and a valid CRC, and relayed by every device they
   * took the air from consensus (one transmitter babbling at a SiK radio's rate cut a radio-only fleet's
   * throughput by 74 %). An empty peer list once meant "relay everyone", strangers included.
   */
  private mayRelay(f: RadioFrame, wireBytes: number): boolean {
    const member = this.peerByTag.has(f.origin);
    const key = `${f.origin}:${f.msgId}`;
    if (member && !this.cutRelays.has(key) && this.relayAllowance.take(f.origin, wireBytes, this.now())) return true;
    this.stats.relayRefused();
    if (member && f.count > 1 && !this.cutRelays.has(key)) {
      // Past the allowance mid-envelope: none of it is relayed (its fragments already queued go too).
      this.dropEnvelope(f.cls, key);
      this.cutRelay(key);
    }
    return false;
  }

  /** Whether a relayed fragment belongs in consensus's bulk lane: known from the envelope's first
   *  fragment (a later fragment heard before it goes in the live lane). */
  private relayIsBulk(f: RadioFrame): boolean {
    if (f.cls !== 'consensus') return false;
    const key = `${f.origin}:${f.msgId}`;
    if (f.index === 0 && bulkEnvelopeStart(f.fragment)) {
      if (this.bulkRelays.size >= limits.radioBulkRelaysMax) this.bulkRelays.delete(this.bulkRelays.keys().next().value as string);
      this.bulkRelays.add(key);
    }
    return this.bulkRelays.has(key);
  }

  /**
   * Heartbeats and telemetry: only the newest matters, so whole older envelopes (own or relayed) make
   * room for `count` packets of `wireBytes`, by count and by bytes; never half of one, whose other
   * fragments would be airtime for nothing, and not the one partly on the air while another can go. A
   * relayed envelope cut so is remembered, and its fragments still to come are not relayed (cutRelays).
   */
  private evictForRoom(cls: TrafficClass, count: number, wireBytes: number): void {
    while ((cls === 'heartbeat' || cls === 'telemetry') && (this.queue.room(cls) < count || this.queue.roomBytes(cls) < wireBytes)) {
      const oldest = this.queue.firstWhere(cls, (p) => p.key !== this.onAirOther) ?? this.queue.peekClass(cls);
      if (!oldest) break;
      const bound = this.queue.room(cls) < count ? 'count' : 'bytes';
      this.dropEnvelope(cls, oldest.key);
      if (oldest.relay) this.cutRelay(oldest.key);
      this.stats.queueFull(cls, 1, bound);
    }
  }

  /** Takes every queued packet of envelope `key` out of the class's queue; how many. */
  private dropEnvelope(cls: TrafficClass, key: string): number {
    return this.queue.removeWhere(cls, (p) => {
      if (p.key !== key) return false;
      if (p.relay) this.relaysQueued.delete(p.frag);
      return true;
    });
  }

  /** A relayed envelope that will not go out whole: its fragments still to come are not relayed. */
  private cutRelay(key: string): void {
    if (this.cutRelays.size >= limits.radioCutRelaysMax) this.cutRelays.delete(this.cutRelays.keys().next().value as string);
    this.cutRelays.add(key);
  }

  /**
   * Queues one relayed fragment, or refuses it. Heartbeats and telemetry make room by evicting whole
   * envelopes; a consensus fragment the full queue refuses takes the envelope's fragments already
   * queued out with it (the receivers could not assemble it), and either way the envelope's fragments
   * still to come are not relayed.
   */
  private queueRelay(cls: TrafficClass, packet: Packet, bulk: boolean): boolean {
    if (!this.cutRelays.has(packet.key)) this.evictForRoom(cls, 1, packet.wire.length);
    // Cut before, or the room was made by evicting this envelope's own earlier fragments: no use alone.
    if (this.cutRelays.has(packet.key)) {
      this.stats.queueFull(cls);
      return false;
    }
    if (this.queue.push(cls, packet, bulk, 'relay')) return true;
    this.dropEnvelope(cls, packet.key);
    this.cutRelay(packet.key);
    return false;
  }

  /** Another copy of a fragment heard before: a relay of it not yet on the air is cancelled once the
   *  copies reach relaySuppress (defaultRelaySuppress). */
  private heardAgain(frag: string): void {
    const r = this.relaysQueued.get(frag);
    if (!r || ++r.heard < this.relaySuppress) return;
    this.relaysQueued.delete(frag);
    // Still in its jitter wait: the timer finds its entry gone. Queued: taken out of the queue.
    if (!r.queued || this.queue.removeWhere(r.cls, (p) => p === r.packet) > 0) this.stats.relaySuppressed();
  }

  private assemble(f: RadioFrame): void {
    if (f.count === 1) return this.deliver(f, new Uint8Array(f.fragment));
    const now = this.now();
    for (const [k, old] of this.reassembly) {
      if (now - old.startedMs <= limits.radioReassemblyMs) continue;
      this.reassembly.delete(k);
      this.stats.badFrame('incomplete');
    }
    const key = `${f.origin}:${f.msgId}`;
    let r = this.reassembly.get(key);
    if (!r) {
      if (this.reassembly.size >= limits.radioReassembliesMax) {
        const oldest = this.reassembly.keys().next().value as string;
        this.reassembly.delete(oldest);
        this.stats.badFrame('incomplete');
      }
      r = { parts: new Array<Uint8Array | undefined>(f.count), got: 0, startedMs: now, dest: f.dest };
      this.reassembly.set(key, r);
    }
    if (r.parts.length !== f.count) return this.stats.badFrame('bad-fragment');
    if (r.parts[f.index] !== undefined) return;
    r.parts[f.index] = new Uint8Array(f.fragment);
    if (++r.got < f.count) return;
    this.reassembly.delete(key);
    this.deliver(f, concatBytes(...(r.parts as Uint8Array[])));
  }

  private deliver(f: RadioFrame, envelope: Uint8Array): void {
    this.stats.received(envelope.length);
    const from = f.origin === this.selfTag ? this.opts.node : (this.peerByTag.get(f.origin) ?? `radio:${f.origin.toString(16).padStart(8, '0')}`);
    const frame: ReceivedFrame = { bytes: envelope, from, link: this.name, ...(f.hopsLeft < this.hopLimit ? { relayed: true } : {}) };
    for (const h of this.handlers) h(frame);
  }
}
