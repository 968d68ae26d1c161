// The simulated serial radio on every device, modelled on the runtime's SerialLink (runtime/links/
// serial-link.ts, docs/topics.md "Serial radio frames"): an envelope is cut into fragments that fit one
// radio packet, queued whole or not at all in per-class queues drained consensus first, paced by the
// sender's airtime budget (baud / 10 bytes per second), heard by every running radio within range of
// the sender's current position (each packet lost independently per receiver), flood-relayed with
// one hop fewer while hops are left, de-duplicated by (origin, message id, fragment) and reassembled.
// The queue, the airtime budget and the de-duplication cache are the runtime's own classes; every draw
// comes from the world's seeded PRNG, so a seed replays the radio exactly.

import { limits } from '../../runtime/lib/limits.js';
import type { Prng } from '../../runtime/lib/prng.js';
import { AirtimeBudget, defaultStaleMs, relayStaleMs } from '../../runtime/links/airtime.js';
import { bulkEnvelope, ClassQueue, defaultQueueSizes, radioLaneShares, type QueueBound } from '../../runtime/links/class-queue.js';
import { RelayAllowance } from '../../runtime/links/relay-allowance.js';
import { WaitingEnvelopes } from '../../runtime/links/waiting-envelopes.js';
import { DedupCache } from '../../runtime/links/dedup-cache.js';
import { defaultRelayJitterMs, defaultRelaySuppress, radioQueueBytes } from '../../runtime/links/serial-link.js';
import type { TrafficClass } from '../../runtime/links/link.js';
import { cobsPacketOverheadBytes, fragmentBytesMax, radioCrcBytes, radioHeaderBytes, radioUnicastHeaderBytes } from '../../runtime/links/radio-frame.js';
import type { RadioModel } from '../scenario/scenario.js';

/** What the radio needs from the world around it. */
export interface RadioHost {
  now(): number;
  at(atMs: number, fire: () => void): void;
  /** Where node i's radio is now, metres; null when unknown. */
  position(i: number): { readonly northM: number; readonly eastM: number } | null;
  /** Partitions cut the air too: a partitioned pair never hears each other. */
  blocked(from: number, to: number): boolean;
  /** A whole envelope reached node `to`; `relayed` when a relay carried some of it. */
  deliver(to: number, envelope: Uint8Array, relayed: boolean): void;
}

/** One radio packet (a fragment), with the envelope it belongs to carried by reference. */
interface Packet {
  readonly cls: TrafficClass;
  readonly origin: number;
  readonly msgId: number;
  readonly index: number;
  readonly count: number;
  /** -1 for broadcast. */
  readonly dest: number;
  readonly hopsLeft: number;
  /** Bytes on the air: header, fragment, CRC, COBS and delimiter. */
  readonly wire: number;
  readonly envelope: Uint8Array;
  /** Transmitted by a node other than its origin. */
  readonly relay: boolean;
  /** When this port queued it (simulated ms), for the stale-consensus limit (SerialLink). */
  readonly queuedMs: number;
}

interface Reassembly {
  readonly have: Uint8Array;
  got: number;
  relayed: boolean;
  readonly startedMs: number;
}

class Port {
  readonly queue: ClassQueue<Packet>;
  readonly budget: AirtimeBudget;
  readonly dedup = new DedupCache(limits.radioDedupEntriesMax);
  readonly reassembly = new Map<string, Reassembly>();
  busyUntil = 0;
  pumpAt: number | null = null;
  /** The envelope whose fragment went out last: never dropped as stale half-sent. */
  onAir = { origin: -1, msgId: -1 };
  /** The same for consensus's bulk lane, whose envelopes the live height's messages may interrupt. */
  onAirBulk = { origin: -1, msgId: -1 };
  /** Own envelopes queued and not yet on the air whole: a second send of one is not queued (SerialLink). */
  readonly waiting = new WaitingEnvelopes();
  /** Relays queued and not yet on the air, by fragment: the relay and the copies of it heard so far
   *  (SerialLink's relay suppression). */
  readonly relaysQueued = new Map<string, { readonly packet: Packet; heard: number; queued: boolean }>();
  /** Relays waiting out their random delay (SerialLink's pendingRelays). */
  pendingRelays = 0;
  /** Entries of relaysQueued kept at most (SerialLink's relaysTrackedMax). */
  readonly relaysTrackedMax: number;
  /** Airtime each origin's relays may take (SerialLink's). */
  readonly relayAllowance: RelayAllowance;

  constructor(
    model: RadioModel,
    nowMs: number,
    public msgId: number,
    onFull: (bound: QueueBound) => void,
  ) {
    const atLeast = (n: number): number => Math.max(n, limits.radioFragmentsMax);
    // By packets and by airtime, as SerialLink's queue (radioQueueBytes).
    const bytes = radioQueueBytes(model.baud / 10, model.mtuBytes, limits.radioFragmentsMax);
    this.queue = new ClassQueue<Packet>({ consensus: atLeast(defaultQueueSizes.consensus), heartbeat: atLeast(defaultQueueSizes.heartbeat), telemetry: atLeast(defaultQueueSizes.telemetry) }, (_cls, bound) => onFull(bound), {
      max: { consensus: bytes, heartbeat: bytes, telemetry: bytes },
      of: (p) => p.wire,
    }, radioLaneShares());
    this.relayAllowance = new RelayAllowance(model.baud / 10);
    this.relaysTrackedMax = atLeast(defaultQueueSizes.consensus) + atLeast(defaultQueueSizes.heartbeat) + atLeast(defaultQueueSizes.telemetry) + limits.radioPendingRelaysMax;
    this.budget = new AirtimeBudget({ baud: model.baud, burstBytes: model.mtuBytes * 2 }, nowMs);
  }
}

export interface RadioCounters {
  /** Envelopes handed to the radio and queued (all their fragments). */
  envelopesQueued: number;
  /** Sends of an envelope already waiting whole in the sender's queue: not queued a second time. */
  coalesced: number;
  /** Packets put on the air, relays included, and their bytes. */
  packetsSent: number;
  bytesSent: number;
  /** Packets sent again by a node that heard them (flood relay). */
  relays: number;
  /** Relays cancelled before they went out: their packet was heard `relaySuppress` times. */
  relaysSuppressed: number;
  /** Relays not made: the origin's relays had taken their share of this radio's airtime. */
  relaysRefused: number;
  /** Packets heard (one per receiver) and whole envelopes reassembled at a receiver. */
  packetsHeard: number;
  envelopesReceived: number;
  duplicates: number;
  /** queueFull: refused or dropped for a full queue; queueBytes: those of them for its byte (airtime) bound. */
  dropped: { loss: number; partition: number; queueFull: number; queueBytes: number; oversize: number; incomplete: number; stale: number };
}

const emptyRadioCounters = (): RadioCounters => ({
  envelopesQueued: 0,
  coalesced: 0,
  packetsSent: 0,
  bytesSent: 0,
  relays: 0,
  relaysSuppressed: 0,
  relaysRefused: 0,
  packetsHeard: 0,
  envelopesReceived: 0,
  duplicates: 0,
  dropped: { loss: 0, partition: 0, queueFull: 0, queueBytes: 0, oversize: 0, incomplete: 0, stale: 0 },
});

export class RadioNet {
  readonly counters: RadioCounters = emptyRadioCounters();
  private readonly ports: (Port | null)[];
  private readonly rangeSq: number;
  /** Byte airtime in ms (8N1: ten bits per byte). */
  private readonly msPerByte: number;
  /** Consensus older than this in a queue goes unsent (SerialLink's default for this radio). */
  private readonly staleMs: number;
  /** Relays of live consensus older than this go unsent (SerialLink's relayStaleMs). */
  private readonly relayStaleMs: number;
  /** Copies heard that cancel a queued relay (SerialLink's relaySuppress); 0: never. */
  private readonly relaySuppress: number;
  /** A relay's random wait before it is queued (SerialLink's relayJitterMs). */
  private readonly relayJitterMs: number;
  /** Sender/receiver pairs that carried a packet since the last takeLinks() (the dashboard's map). */
  private links: Set<number> | null = null;

  constructor(
    private readonly model: RadioModel,
    private readonly host: RadioHost,
    private readonly prng: Prng,
    count: number,
  ) {
    this.ports = new Array<Port | null>(count).fill(null);
    this.rangeSq = model.rangeM * model.rangeM;
    this.msPerByte = 10_000 / model.baud;
    this.staleMs = defaultStaleMs(model.mtuBytes, model.baud / 10);
    this.relaySuppress = model.relaySuppress ?? defaultRelaySuppress;
    this.relayJitterMs = model.relayJitterMs ?? defaultRelayJitterMs(model.mtuBytes, model.baud);
    this.relayStaleMs = relayStaleMs(model.mtuBytes, model.baud / 10, this.staleMs, this.relayJitterMs);
  }

  /** A node's process (and with it its serial link) starts: a fresh queue and message id. */
  boot(i: number): void {
    this.ports[i] = new Port(this.model, this.host.now(), this.prng.nextU32(), (bound) => this.full(bound));
  }

  private full(bound: QueueBound): void {
    this.counters.dropped.queueFull++;
    if (bound === 'bytes') this.counters.dropped.queueBytes++;
  }

  /** A node's process stops: its queue and reassemblies go with it. */
  down(i: number): void {
    this.ports[i] = null;
  }

  /** Starts recording which pairs carry packets (read with takeLinks). */
  trackLinks(): void {
    this.links ??= new Set();
  }

  /** Pairs [a, b] (a < b) that carried a packet since the last call, sorted. */
  takeLinks(): [number, number][] {
    if (!this.links) return [];
    const out = [...this.links].sort((x, y) => x - y).map((k): [number, number] => [Math.floor(k / 65_536), k % 65_536]);
    this.links.clear();
    return out;
  }

  /** Queues an envelope from node `from` to `to` (null: everyone). False when refused (queue full, too big, radio off). */
  send(from: number, to: number | null, envelope: Uint8Array, cls: TrafficClass): boolean {
    const port = this.ports[from];
    if (!port) return false;
    const unicast = to !== null;
    const chunk = fragmentBytesMax(this.model.mtuBytes, unicast);
    const count = Math.max(1, Math.ceil(envelope.length / chunk));
    if (count > limits.radioFragmentsMax) {
      this.counters.dropped.oversize++;
      return false;
    }
    const coalescing = cls === 'consensus';
    if (coalescing && port.waiting.absorb(envelope, to ?? undefined, this.host.now())) {
      this.counters.coalesced++;
      return true;
    }
    const header = (unicast ? radioUnicastHeaderBytes : radioHeaderBytes) + radioCrcBytes + cobsPacketOverheadBytes;
    const wireOf = (index: number): number => header + Math.max(0, Math.min(chunk, envelope.length - index * chunk));
    let wireBytes = 0;
    for (let index = 0; index < count; index++) wireBytes += wireOf(index);
    // Heartbeats: only the newest matters, so whole older heartbeats make room, by count and by bytes,
    // never half of one (SerialLink.enqueue); a relay among them goes with its suppression entry.
    while (cls === 'heartbeat' && (port.queue.room(cls) < count || port.queue.roomBytes(cls) < wireBytes)) {
      const oldest = port.queue.peekClass('heartbeat');
      if (!oldest) break;
      const bound = port.queue.room(cls) < count ? 'count' : 'bytes';
      port.queue.removeWhere('heartbeat', (p) => {
        if (p.origin !== oldest.origin || p.msgId !== oldest.msgId) return false;
        if (p.relay) port.relaysQueued.delete(`${p.origin}:${p.msgId}:${p.index}`);
        return true;
      });
      this.full(bound);
    }
    // Behind the live height's messages, as SerialLink.enqueue queues it (class-queue.ts).
    const bulk = coalescing && bulkEnvelope(envelope);
    // All fragments or none: half an envelope is airtime wasted (SerialLink.enqueue).
    if (port.queue.room(cls, bulk) < count) {
      this.full('count');
      return false;
    }
    if (port.queue.roomBytes(cls, bulk) < wireBytes) {
      this.full('bytes');
      return false;
    }
    const msgId = port.msgId;
    if (coalescing) port.waiting.add(envelope, to ?? undefined, `${from}:${msgId}`, this.host.now());
    port.msgId = (port.msgId + 1) >>> 0;
    for (let index = 0; index < count; index++) {
      port.queue.push(cls, { cls, origin: from, msgId, index, count, dest: to ?? -1, hopsLeft: this.model.hopLimit, wire: wireOf(index), envelope, relay: false, queuedMs: this.host.now() }, bulk);
    }
    this.counters.envelopesQueued++;
    this.pump(from, port);
    return true;
  }

  private schedule(i: number, port: Port, atMs: number): void {
    if (port.pumpAt !== null && port.pumpAt <= atMs) return;
    port.pumpAt = atMs;
    this.host.at(atMs, () => {
      if (this.ports[i] !== port || port.pumpAt !== atMs) return;
      port.pumpAt = null;
      this.pump(i, port);
    });
  }

  /** Puts the next packet on the air when the radio is free and the airtime budget allows. */
  private pump(i: number, port: Port): void {
    const now = this.host.now();
    if (now < port.busyUntil) return this.schedule(i, port, port.busyUntil);
    // Consensus that waited past the limit goes unsent, whole envelopes at a time (SerialLink.dropStale).
    for (const bulk of [false, true]) this.dropStale(port, now, bulk);
    this.dropStaleRelays(port, now);
    const next = port.queue.peek();
    if (!next) return;
    const wait = port.budget.waitMs(next.item.wire, now);
    if (wait > 0) return this.schedule(i, port, now + wait);
    port.budget.spend(next.item.wire, now);
    port.queue.shift();
    if (next.item.relay) port.relaysQueued.delete(`${next.item.origin}:${next.item.msgId}:${next.item.index}`);
    if (next.bulk) port.onAirBulk = { origin: next.item.origin, msgId: next.item.msgId };
    // Only live consensus moves its mark: a heartbeat between a proposal's fragments must not leave
    // the rest of the proposal to be dropped as stale (SerialLink.onAirOther).
    else if (next.cls === 'consensus') port.onAir = { origin: next.item.origin, msgId: next.item.msgId };
    if (next.item.index === next.item.count - 1) port.waiting.gone(`${next.item.origin}:${next.item.msgId}`);
    const airMs = next.item.wire * this.msPerByte;
    port.busyUntil = now + airMs;
    this.transmit(i, next.item, now + airMs);
    if (port.queue.length > 0) this.schedule(i, port, port.busyUntil);
  }

  /** From the head of one consensus lane: whole envelopes, never the rest of one already partly on the air. */
  private dropStale(port: Port, now: number, bulk: boolean): void {
    const onAir = bulk ? port.onAirBulk : port.onAir;
    for (let k = 0; k < limits.radioFragmentsMax; k++) {
      const head = port.queue.peekClass('consensus', bulk);
      if (!head || (head.origin === onAir.origin && head.msgId === onAir.msgId) || now - head.queuedMs <= this.staleMs) return;
      // Handed over again while it waited (WaitingEnvelopes): as fresh as that hand-over.
      if (now - (port.waiting.wantedAt(`${head.origin}:${head.msgId}`) ?? head.queuedMs) <= this.staleMs) return;
      this.dropStaleEnvelope(port, head);
      port.waiting.gone(`${head.origin}:${head.msgId}`);
    }
  }

  /** The oldest relay of the live lane on its own, against relayStaleMs (SerialLink.dropStaleRelays). */
  private dropStaleRelays(port: Port, now: number): void {
    for (let k = 0; k < limits.radioFragmentsMax; k++) {
      const head = port.queue.peekRelay('consensus');
      if (!head || (head.origin === port.onAir.origin && head.msgId === port.onAir.msgId) || now - head.queuedMs <= this.relayStaleMs) return;
      this.dropStaleEnvelope(port, head);
    }
  }

  private dropStaleEnvelope(port: Port, head: Packet): void {
    this.counters.dropped.stale += port.queue.removeWhere('consensus', (p) => p.origin === head.origin && p.msgId === head.msgId);
    for (let f = 0; f < head.count; f++) if (port.relaysQueued.get(`${head.origin}:${head.msgId}:${f}`)?.queued === true) port.relaysQueued.delete(`${head.origin}:${head.msgId}:${f}`);
  }

  /** Who hears the packet is decided when it goes out (positions, partitions, loss); they have it
   *  once its airtime has passed. */
  private transmit(from: number, p: Packet, doneMs: number): void {
    const c = this.counters;
    c.packetsSent++;
    c.bytesSent += p.wire;
    if (p.relay) c.relays++;
    const a = this.host.position(from);
    const hearers: number[] = [];
    for (let j = 0; j < this.ports.length; j++) {
      if (j === from || this.ports[j] === null) continue;
      const b = this.host.position(j);
      if (a && b) {
        const dn = a.northM - b.northM;
        const de = a.eastM - b.eastM;
        if (dn * dn + de * de > this.rangeSq) continue;
      }
      if (this.host.blocked(from, j)) {
        c.dropped.partition++;
        continue;
      }
      if (this.prng.chance(this.model.loss)) {
        c.dropped.loss++;
        continue;
      }
      hearers.push(j);
    }
    if (hearers.length === 0) return;
    this.host.at(doneMs, () => {
      for (const j of hearers) this.hear(j, from, p);
    });
  }

  /** SerialLink.onPacket: drop own echoes and duplicates, relay while hops are left, keep what is ours. */
  private hear(j: number, from: number, p: Packet): void {
    const port = this.ports[j];
    if (!port) return;
    this.counters.packetsHeard++;
    if (this.links) this.links.add(Math.min(from, j) * 65_536 + Math.max(from, j));
    const key = `${p.origin}:${p.msgId}:${p.index}`;
    if (p.origin === j || !port.dedup.add(key)) {
      this.counters.duplicates++;
      if (p.origin !== j) this.heardAgain(port, key);
      return;
    }
    if (p.hopsLeft > 1 && p.dest !== j) this.relay(j, port, key, p);
    if (p.dest === -1 || p.dest === j) this.assemble(j, port, p);
  }

  /**
   * SerialLink's flood relay: one copy per fragment, one hop fewer, after a random wait (relayJitterMs,
   * at most limits.radioPendingRelaysMax waiting); class order and the airtime budget still apply. Until
   * it goes out it is remembered with the copies heard (relaysQueued), so enough copies from neighbours
   * cancel it (heardAgain). The entry goes when the relay goes out, is cancelled or is dropped as
   * stale, so there are never more than the queue and the waits hold.
   */
  private relay(j: number, port: Port, key: string, p: Packet): void {
    const queuedMs = this.host.now();
    // Every origin here is a member (SerialLink also refuses others'); each has an airtime allowance.
    if (!port.relayAllowance.take(p.origin, p.wire, queuedMs)) {
      this.counters.relaysRefused++;
      return;
    }
    const entry = { packet: { ...p, hopsLeft: p.hopsLeft - 1, relay: true, queuedMs }, heard: 1, queued: false };
    if (this.relaySuppress > 0) {
      // Bounded as SerialLink's: the heartbeat queue drops its oldest item when full, relays included.
      if (port.relaysQueued.size >= port.relaysTrackedMax) port.relaysQueued.delete(port.relaysQueued.keys().next().value as string);
      port.relaysQueued.set(key, entry);
    }
    const enqueue = (): void => {
      entry.queued = true;
      // In the lane of its class (bulk stays bulk), behind this port's own packets there.
      if (port.queue.push(p.cls, entry.packet, p.cls === 'consensus' && bulkEnvelope(p.envelope), 'relay')) this.pump(j, port);
      else port.relaysQueued.delete(key);
    };
    if (this.relayJitterMs <= 0 || port.pendingRelays >= limits.radioPendingRelaysMax) return enqueue();
    port.pendingRelays++;
    this.host.at(queuedMs + this.prng.next() * this.relayJitterMs, () => {
      port.pendingRelays--;
      if (this.ports[j] !== port) return; // the node went down meanwhile
      if (this.relaySuppress > 0 && port.relaysQueued.get(key) !== entry) return; // cancelled
      enqueue();
    });
  }

  /** Another copy of a packet this port heard before: a relay of it still queued is cancelled once the
   *  copies reach relaySuppress (SerialLink.heardAgain). */
  private heardAgain(port: Port, key: string): void {
    const r = port.relaysQueued.get(key);
    if (!r || ++r.heard < this.relaySuppress) return;
    port.relaysQueued.delete(key);
    // Still waiting out its delay: the wait finds its entry gone. Queued: taken out of the queue.
    if (!r.queued || port.queue.removeWhere(r.packet.cls, (q) => q === r.packet) > 0) this.counters.relaysSuppressed++;
  }

  private assemble(j: number, port: Port, p: Packet): void {
    if (p.count === 1) return this.complete(j, p.envelope, p.relay);
    const now = this.host.now();
    for (const [k, old] of port.reassembly) {
      if (now - old.startedMs <= limits.radioReassemblyMs) continue;
      port.reassembly.delete(k);
      this.counters.dropped.incomplete++;
    }
    const key = `${p.origin}:${p.msgId}`;
    let r = port.reassembly.get(key);
    if (!r) {
      if (port.reassembly.size >= limits.radioReassembliesMax) {
        port.reassembly.delete(port.reassembly.keys().next().value as string);
        this.counters.dropped.incomplete++;
      }
      r = { have: new Uint8Array(p.count), got: 0, relayed: false, startedMs: now };
      port.reassembly.set(key, r);
    }
    if (r.have[p.index] === 1) return;
    r.have[p.index] = 1;
    r.relayed ||= p.relay;
    if (++r.got < p.count) return;
    port.reassembly.delete(key);
    this.complete(j, p.envelope, r.relayed);
  }

  private complete(j: number, envelope: Uint8Array, relayed: boolean): void {
    this.counters.envelopesReceived++;
    this.host.deliver(j, envelope, relayed);
  }

  /** Packets waiting on node i's radio. */
  queued(i: number): number {
    return this.ports[i]?.queue.length ?? 0;
  }
}
