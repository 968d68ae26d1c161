// The MQTT link (mqtt.js) to any MQTT 3.1.1 or 5 broker: Mosquitto, the embedded aedes broker, or a
// cloud broker over TLS. Topics and payloads: docs/topics.md. Delivery is best effort by design:
// QoS per class only lowers loss; safety never rests on it (DESIGN.md, "hostile transport").

import type { Socket } from 'node:net';
import type { IClientOptions, IClientPublishOptions, MqttClient } from 'mqtt';
import { closeMqtt, configRefusals, connectMqtt, flushNow, loginRefused, oversizedPublishEvent } from './mqtt-connect.js';
import type { SkippedPublish } from './oversized-publish-filter.js';
import { withinMs } from '../lib/within.js';
import { redactBrokerUrl } from './broker-url.js';
import { limits } from '../lib/limits.js';
import { ClassQueue, defaultQueueBytes, defaultQueueSizes, type ClassQueueSizes } from './class-queue.js';
import { bytesDigest, DedupCache } from './dedup-cache.js';
import { decodeFrame, encodeFrame, fleetTag } from './frame.js';
import type { Link, LinkCountersDetail, ReceivedFrame, TrafficClass } from './link.js';
import { LinkStats } from './link-stats.js';
import { trace, traceNow, tracing } from '../lib/trace.js';
import { broadcastTopic, encodeNodeState, fleetTopics, parseNodeState, parseTopic, type ConnectionProof, type FleetTopics, type NodeState, type ParsedTopic } from './mqtt-topics.js';

export type QoS = 0 | 1 | 2;

export interface MqttTlsOptions {
  /** PEM: the CA that signed the broker's certificate. */
  readonly ca?: string | Buffer;
  /** PEM client certificate and key, for brokers that authenticate devices by certificate. */
  readonly cert?: string | Buffer;
  readonly key?: string | Buffer;
  readonly rejectUnauthorized?: boolean;
}

export interface MqttLinkOptions {
  /** mqtt://host:port, mqtts://host:port (TLS) or ws(s)://. */
  readonly url: string;
  readonly fleet: string;
  readonly node: string;
  readonly name?: string;
  /** The MQTT client id (default murmur-<fleet>-<node>); the broker allows one connection per id. */
  readonly clientId?: string;
  readonly username?: string;
  readonly password?: string;
  readonly tls?: MqttTlsOptions;
  /** 4 = MQTT 3.1.1 (default), 5 = MQTT 5 (adds no-local on subscriptions). */
  readonly protocolVersion?: 4 | 5;
  readonly qos?: Partial<Record<TrafficClass, QoS>>;
  /** Sparkplug-like session counter to start from (persist it across restarts to keep it growing). */
  readonly session?: number;
  readonly keepaliveSec?: number;
  readonly queueSizes?: ClassQueueSizes;
  /** Bytes of link frames each class may hold queued (default limits.link*QueueBytesMax). */
  readonly queueBytes?: ClassQueueSizes;
  readonly inflightMax?: number;
  readonly reconnectMsMin?: number;
  readonly reconnectMsMax?: number;
  /** How long a connection must have lasted to start the reconnect backoff again (default
   *  limits.mqttConnectionLastedMs, or reconnectMsMax when that is shorter). */
  readonly connectionLastedMs?: number;
  readonly mtuBytes?: number;
  /** Node ids of the fleet (from the manifest): subscribe per peer so own messages are not echoed back. */
  readonly peers?: readonly string[];
  /** How long start() waits for the first connection before returning with the link down (default 5 s). */
  readonly startWaitMs?: number;
  /** Where connection events go (connected, disconnected with the reason); default: nowhere. */
  readonly log?: (event: string, detail: Record<string, unknown>) => void;
  /** Fields added to each birth (the online state published at every connection) and to the Last Will
   *  set for that connection: the device's proof of who connected (runtime/device/identity-guard.ts). */
  readonly birth?: () => ConnectionProof;
}

export const defaultQos: Readonly<Record<TrafficClass, QoS>> = { consensus: 1, heartbeat: 0, telemetry: 0 };

/** Frames published lately whose digests a link with wildcard subscriptions keeps, to know its echoes
 *  (more than can be queued and in flight at once: limits.linkConsensusQueueMax, mqttInflightMax). */
const sentRememberedMax = 4_096;

interface Outbound {
  readonly topic: string;
  readonly payload: Buffer;
  readonly envelopeBytes: number;
}

export class MqttLink implements Link {
  readonly name: string;
  readonly mtuBytes: number;
  readonly topics: FleetTopics;
  private readonly stats = new LinkStats();
  private readonly queue: ClassQueue<Outbound>;
  private readonly tag: number;
  private readonly qos: Record<TrafficClass, QoS>;
  private readonly pubOpts: Record<TrafficClass, IClientPublishOptions>;
  private readonly handlers: ((f: ReceivedFrame) => void)[] = [];
  private readonly stateHandlers: ((s: NodeState, retained: boolean) => void)[] = [];
  /** The current connection's proof of who connected (opts.birth), in its Will, birth and goodbye. */
  private proof: ConnectionProof = {};
  private client: MqttClient | undefined;
  private connected = false;
  private running = false;
  private inflight = 0;
  /** Bumped on every connection so callbacks from an old connection are ignored. */
  private generation = 0;
  private session: number;
  /** Reconnect attempts since the last connection that lasted (scheduleReconnect). */
  private failures = 0;
  /** When the current connection was made (performance.now()). */
  private connectedAtMs = 0;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private draining = false;
  private readonly ownTopics: Record<TrafficClass, string>;
  private readonly parsedTopics = new Map<string, ParsedTopic | null>();
  /** The fleet's other members whose topics this link subscribes to (opts.peers, then setPeers());
   *  undefined: wildcards. */
  private peers: readonly string[] | undefined;
  /** The validators whose blocks a light follower takes (follow()); null: every peer's consensus. */
  private sources: readonly string[] | null = null;
  /** When recent connections the broker closed soon after accepting them ended (performance.now()). */
  private shortDrops: number[] = [];
  /** When the drops were last said (performance.now()), or -Infinity. */
  private dropsSaidAt = Number.NEGATIVE_INFINITY;
  /** Oversized PUBLISHes skipped since the last one was said, and when that was. */
  private oversizedUnsaid = 0;
  private oversizedSaidAt = Number.NEGATIVE_INFINITY;
  /** Packet ids of skipped QoS 1 PUBLISHes whose stubs mqtt.js has yet to hand over (a few at most: each
   *  is parsed from the chunk that reported it). */
  private readonly skippedIds = new Set<number>();
  /** What the current connection subscribed to. */
  private subscribed = new Set<string>();
  /**
   * Digests of the frames this link published lately, while its subscriptions take its own topics too
   * (no `peers`: wildcards), so the broker echoes them back: those echoes are told apart from frames
   * someone else published on this node's topics (receive). Null with per-peer subscriptions, where the
   * broker sends back nothing this link published.
   */
  private readonly sentHere: DedupCache | null;
  /** Connections made so far (the first plus reconnects), for tests and status. */
  connects = 0;

  constructor(private readonly opts: MqttLinkOptions) {
    this.name = opts.name ?? 'mqtt';
    this.mtuBytes = opts.mtuBytes ?? limits.envelopeBytesMax;
    this.topics = fleetTopics(opts.fleet);
    this.tag = fleetTag(opts.fleet);
    this.qos = { ...defaultQos, ...opts.qos };
    this.pubOpts = {
      consensus: { qos: this.qos.consensus },
      heartbeat: { qos: this.qos.heartbeat },
      telemetry: { qos: this.qos.telemetry },
    };
    this.session = opts.session ?? 0;
    this.peers = opts.peers;
    this.sentHere = opts.peers === undefined ? new DedupCache(sentRememberedMax) : null;
    this.ownTopics = {
      consensus: broadcastTopic(this.topics, opts.node, 'consensus'),
      heartbeat: broadcastTopic(this.topics, opts.node, 'heartbeat'),
      telemetry: broadcastTopic(this.topics, opts.node, 'telemetry'),
    };
    // By count and by bytes: a few blocks or snapshot chunks queued while the broker is away are MBs.
    this.queue = new ClassQueue<Outbound>(opts.queueSizes ?? defaultQueueSizes, (cls, bound) => this.stats.queueFull(cls, 1, bound), { max: opts.queueBytes ?? defaultQueueBytes, of: (o) => o.payload.length });
  }

  /** Connects (waiting up to startWaitMs); rejects only when the broker refuses this client for good
   *  (its credentials, client id or protocol version: configRefusals). */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    const o = this.opts;
    const options: IClientOptions = {
      clientId: (o.clientId ?? `murmur-${o.fleet}-${o.node}`).slice(0, 64),
      protocolVersion: o.protocolVersion ?? 4,
      clean: true,
      keepalive: o.keepaliveSec ?? 10,
      reconnectPeriod: 0, // reconnects are ours: exponential backoff with jitter, see scheduleReconnect
      connectTimeout: 5_000,
      resubscribe: false, // we subscribe on every connect ourselves
      // mqtt-packet's default number cache is 65,536 two-byte Buffers (~6 MB of heap held for the
      // process's life); without it each packet id and length is a fresh two-byte write.
      writeCache: false,
      will: this.will(),
      ...(o.username !== undefined ? { username: o.username } : {}),
      ...(o.password !== undefined ? { password: o.password } : {}),
      ...(o.tls?.ca !== undefined ? { ca: o.tls.ca } : {}),
      ...(o.tls?.cert !== undefined ? { cert: o.tls.cert } : {}),
      ...(o.tls?.key !== undefined ? { key: o.tls.key } : {}),
      ...(o.tls?.rejectUnauthorized !== undefined ? { rejectUnauthorized: o.tls.rejectUnauthorized } : {}),
    };
    const client = connectMqtt(o.url, options);
    this.client = client;
    // A client that stop() ended may still report; after a restart only the new one counts.
    const current = (): boolean => this.client === client;
    client.on('message', (topic, payload, packet) => {
      // The stub a skipped QoS 1 PUBLISH left for mqtt.js to acknowledge (oversized()): counted there.
      if (packet.qos === 1 && payload.length === 0 && packet.messageId !== undefined && this.skippedIds.delete(packet.messageId)) return;
      if (current()) this.receive(topic, payload, packet.retain);
    });
    (client as unknown as NodeJS.EventEmitter).on(oversizedPublishEvent, (p: SkippedPublish) => current() && this.oversized(p));
    client.on('close', () => current() && this.onClose());
    // After stop() a publish still in flight fails with 'write after end': that is the goodbye, not a broker lost.
    client.on('error', (e) => this.running && current() && this.log('error', { reason: e.message }));
    client.on('connect', () => current() && this.onConnect());
    // Wait for the first connection, but a broker that is down is not a startup error: the link
    // stays down and keeps retrying. Refused credentials are a configuration error, so they throw.
    const waitMs = o.startWaitMs ?? 5_000;
    const refused = await new Promise<Error | undefined>((resolve) => {
      const timer = setTimeout(() => resolve(undefined), waitMs);
      client.once('connect', () => {
        clearTimeout(timer);
        resolve(undefined);
      });
      client.on('error', (e: Error & { code?: unknown }) => {
        if (typeof e.code === 'number' && configRefusals.has(e.code)) {
          clearTimeout(timer);
          resolve(e);
        }
      });
    });
    if (refused) {
      await this.stop();
      // The URL without its password (it went to the operator's terminal and logs as typed); for a
      // login refused, where to look.
      const login = loginRefused(refused) ? '; check the user name and password this device gives the broker (mqtt.username and mqtt.password, or in mqtt.url)' : '';
      throw new Error(`MQTT broker ${redactBrokerUrl(o.url)} refused node "${o.node}": ${refused.message}${login}`);
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    this.connected = false;
    // Cleared and forgotten: a timer left set kept scheduleReconnect() from ever running after a restart.
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    this.failures = 0;
    this.generation++; // the old connection's publish callbacks no longer count against inflight
    this.queue.clear();
    const c = this.client;
    this.client = undefined;
    if (!c) return;
    // A clean stop announces the death itself (the broker sends the Will only on an unclean loss).
    // Bounded: a broker that stopped answering must not hang the shutdown.
    if (c.connected) {
      await withinMs(new Promise<void>((r) => c.publish(this.topics.state(this.opts.node), encodeNodeState({ node: this.opts.node, state: 'offline', session: this.session, ...this.proof }), { qos: 1, retain: true }, () => r())), 1_000);
    }
    await closeMqtt(c);
  }

  broadcast(bytes: Uint8Array, cls: TrafficClass): boolean {
    return this.enqueue(this.ownTopics[cls], bytes, cls);
  }

  unicast(to: string, bytes: Uint8Array, cls: TrafficClass): boolean {
    return this.enqueue(this.topics.unicast(this.opts.node, to), bytes, cls);
  }

  announce(bytes: Uint8Array): boolean {
    return this.enqueue(this.topics.blocks(this.opts.node), bytes, 'consensus');
  }

  /** Changes the subscriptions of the current connection (and of every later one) to the new plan. */
  follow(sources: readonly string[] | null): void {
    this.sources = sources === null ? null : [...sources];
    const c = this.client;
    if (c && this.connected) this.subscribe(c);
  }

  /** Subscribes to the topics of these peers from now on, and unsubscribes from those of peers no longer
   *  listed (a fleet.update added or removed members). A link made without peers keeps its wildcards. */
  setPeers(peers: readonly string[]): void {
    if (this.peers === undefined) return;
    this.peers = [...peers];
    const c = this.client;
    if (c && this.connected) this.subscribe(c);
  }

  onReceive(handler: (frame: ReceivedFrame) => void): void {
    this.handlers.push(handler);
  }

  /** Birth and death announcements (retained state topic) of every node, this one's included. */
  onNodeState(handler: (s: NodeState, retained: boolean) => void): void {
    this.stateHandlers.push(handler);
  }

  isUp(): boolean {
    return this.connected;
  }

  counters(): LinkCountersDetail {
    return this.stats.snapshot();
  }

  /** The session counter of the current (or next) connection. */
  currentSession(): number {
    return this.session;
  }

  /** The Will of the next connection; its proof (opts.birth) goes into that connection's birth and
   *  goodbye too, so all three say the same connection. */
  private will(): NonNullable<IClientOptions['will']> {
    this.proof = this.opts.birth?.() ?? {};
    return { topic: this.topics.state(this.opts.node), payload: encodeNodeState({ node: this.opts.node, state: 'offline', session: this.session, ...this.proof }), qos: 1, retain: true };
  }

  private onConnect(): void {
    const c = this.client;
    if (!c) return;
    this.generation++;
    this.connects++;
    this.connectedAtMs = performance.now();
    this.inflight = 0;
    // mqtt.js leaves Nagle on; with delayed ACKs every QoS 1 round trip costs ~40-80 ms (baseline.md §4).
    (c.stream as unknown as Partial<Socket>).setNoDelay?.(true);
    this.subscribed = new Set();
    this.subscribe(c);
    c.publish(this.topics.state(this.opts.node), encodeNodeState({ node: this.opts.node, state: 'online', session: this.session, ...this.proof }), { qos: 1, retain: true });
    this.connected = true;
    this.log('connected', { url: redactBrokerUrl(this.opts.url), session: this.session });
    this.drain();
  }

  /** Subscribes what the plan adds and unsubscribes what it drops (on a new connection: everything). */
  private subscribe(c: MqttClient): void {
    const want = new Set(this.topics.subscriptions(this.opts.node, this.peers, this.sources));
    const nl = this.opts.protocolVersion === 5;
    const added = [...want].filter((t) => !this.subscribed.has(t));
    const dropped = [...this.subscribed].filter((t) => !want.has(t));
    this.subscribed = want;
    if (added.length > 0) {
      const gen = this.generation;
      c.subscribe(Object.fromEntries(added.map((t) => [t, { qos: this.qos.consensus, ...(nl ? { nl: true } : {}) }])), (e, granted) => {
        // A refused topic is forgotten, so the next follow() (or connection) asks for it again.
        const failed = e ? added : (granted ?? []).filter((g) => g.qos === 128).map((g) => g.topic);
        if (failed.length === 0) return;
        if (gen === this.generation) for (const t of failed) this.subscribed.delete(t);
        this.log('subscribe-failed', { reason: e ? e.message : 'refused by the broker', topics: failed });
      });
    }
    if (dropped.length > 0) {
      c.unsubscribe(dropped, (e?: Error) => {
        if (e) this.log('unsubscribe-failed', { reason: e.message });
      });
    }
  }

  private onClose(): void {
    const wasConnected = this.connected;
    this.connected = false;
    // Only a connection that lasted starts the backoff again. A broker that drops each connection at
    // once (a second client with this id, which MQTT has take over; a broker that refuses after CONNACK)
    // was otherwise retried every 100-200 ms for as long as it did so (limits.mqttConnectionLastedMs).
    const now = performance.now();
    const lastedMs = now - this.connectedAtMs;
    const lasted = this.opts.connectionLastedMs ?? Math.min(limits.mqttConnectionLastedMs, this.opts.reconnectMsMax ?? limits.mqttReconnectMsMax);
    if (wasConnected && lastedMs >= lasted) this.failures = 0;
    if (wasConnected) {
      this.stats.disconnected();
      this.log('disconnected', { url: redactBrokerUrl(this.opts.url), session: this.session, lastedMs: Math.round(lastedMs) });
    }
    if (wasConnected && this.running && lastedMs < limits.mqttShortConnectionMs) this.noteShortDrop(now, lastedMs);
    if (!this.running) return;
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.reconnectTimer || !this.running) return;
    const min = this.opts.reconnectMsMin ?? limits.mqttReconnectMsMin;
    const max = this.opts.reconnectMsMax ?? limits.mqttReconnectMsMax;
    const base = Math.min(max, min * 2 ** Math.min(this.failures, 16));
    this.failures++;
    // Full jitter halves the herd when a broker comes back to a whole fleet at once.
    const delay = base / 2 + Math.random() * (base / 2);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      const c = this.client;
      if (!c || !this.running) return;
      // A new connection is a new session: its Will must carry the new counter (Sparkplug bdSeq).
      this.session++;
      c.options.will = this.will();
      c.reconnect();
    }, delay);
    this.reconnectTimer.unref?.();
  }

  private enqueue(topic: string, bytes: Uint8Array, cls: TrafficClass): boolean {
    if (!this.running) return false;
    if (bytes.length > this.mtuBytes) {
      this.stats.oversize();
      return false;
    }
    const payload = encodeFrame(this.tag, cls, bytes) as Buffer;
    if (tracing && cls === 'consensus') trace('tx', bytes, `${this.opts.node} ${topic}`);
    if (!this.queue.push(cls, { topic, payload, envelopeBytes: bytes.length })) return false;
    this.drain();
    return true;
  }

  /** Hands queued frames to mqtt.js while connected and under the in-flight bound. */
  private drain(): void {
    const c = this.client;
    if (!c || !this.connected || this.draining) return;
    this.draining = true;
    const gen = this.generation;
    const inflightMax = this.opts.inflightMax ?? limits.mqttInflightMax;
    let published = false;
    const sent: Uint8Array[] | null = tracing ? [] : null;
    try {
      while (this.inflight < inflightMax && this.connected) {
        const q = this.queue.shift();
        if (!q) break;
        this.inflight++;
        this.stats.sent(q.item.envelopeBytes);
        published = true;
        sent?.push(q.item.payload.subarray(6, q.item.payload.length - 4)); // the envelope (frame.ts: 6-byte header, CRC32)
        this.sentHere?.add(bytesDigest(q.item.payload));
        c.publish(q.item.topic, q.item.payload, this.pubOpts[q.cls], () => {
          if (gen !== this.generation) return;
          this.inflight--;
          if (this.queue.length > 0) this.drain();
        });
      }
    } finally {
      this.draining = false;
    }
    if (published) flushNow(c);
    if (sent) for (const p of sent) trace('wire', p, this.opts.node);
  }

  /** `retained`: the broker sent it as a retained message (on subscribing), not as it was published. */
  private receive(topic: string, payload: Buffer, retained = false): void {
    const rxAt = tracing ? traceNow() : 0;
    // A fleet uses a few topics per peer: cache their parse (bounded; cleared when full).
    let t = this.parsedTopics.get(topic);
    if (t === undefined) {
      t = parseTopic(this.topics.prefix, topic) ?? null;
      if (this.parsedTopics.size >= limits.mqttTopicCacheMax) this.parsedTopics.clear();
      this.parsedTopics.set(topic, t);
    }
    if (!t) {
      this.stats.badFrame('bad-topic');
      return;
    }
    if (t.type === 'state') {
      const s = parseNodeState(payload);
      if (s && s.node === t.from) for (const h of this.stateHandlers) h(s, retained);
      return;
    }
    if (t.type === 'unicast' && t.to !== this.opts.node) return; // someone else's inbox (a wide subscription)
    // No link frame is ever published retained (docs/topics.md), so a retained one is old bytes the
    // broker hands every new subscriber on every connection: a vote or heartbeat from long ago.
    if (retained) {
      this.stats.badFrame('retained');
      return;
    }
    const from = t.type === 'commands' ? undefined : t.from;
    if (from === this.opts.node) {
      // Our own broadcast, echoed by the broker (wildcard subscriptions only): dropped unsaid. Anything
      // else on this node's own topics someone else published (a client the broker's ACL lets publish
      // there, a copy of this device): dropped, but counted, where before it passed for an echo unseen.
      if (this.sentHere === null || !this.sentHere.has(bytesDigest(payload))) this.stats.badFrame('own-topic-not-sent');
      return;
    }
    const f = decodeFrame(payload, this.tag, this.mtuBytes);
    if (!f.ok) {
      this.stats.badFrame(f.error);
      return;
    }
    this.stats.received(f.value.envelope.length);
    if (tracing) trace('rx', f.value.envelope, `${this.opts.node} ${((this.client as unknown as { traceDataAt?: number } | undefined)?.traceDataAt ?? 0).toFixed(3)}`, rxAt);
    // A copy of exactly the envelope: what consensus keeps from it (signatures in certificates, blocks
    // in the recent-block window) would otherwise pin the whole socket chunk or 8 KB Buffer pool slab
    // that mqtt.js parsed the packet from.
    const frame: ReceivedFrame = { bytes: new Uint8Array(f.value.envelope), from, link: this.name, ...(t.type === 'blocks' ? { announced: true } : {}) };
    for (const h of this.handlers) h(frame);
  }

  /** A connection the broker closed soon after accepting it: the third within a minute is said, once in
   *  five minutes at most, with what usually causes it. */
  private noteShortDrop(now: number, lastedMs: number): void {
    const windowMs = limits.mqttDropsWindowMs;
    this.shortDrops = [...this.shortDrops.filter((t) => now - t < windowMs), now];
    if (this.shortDrops.length < limits.mqttDropsToWarn || now - this.dropsSaidAt < 5 * windowMs) return;
    this.dropsSaidAt = now;
    const clientId = (this.client?.options.clientId ?? '').toString();
    this.log('connection-dropped', {
      url: redactBrokerUrl(this.opts.url),
      drops: this.shortDrops.length,
      lastedMs: Math.round(lastedMs),
      clientId,
      reason: `the broker closed this device's connection ${this.shortDrops.length} times in ${windowMs / 1000} s, each within ${limits.mqttShortConnectionMs / 1000} s of accepting it: another client may be connecting with its client id "${clientId}" (the broker lets the newest take over; its log says so), or the broker or the network path drops connections; the fleet hears this device only between the drops`,
    });
  }

  /** A PUBLISH over the packet bound, skipped unparsed (mqtt-connect.ts): counted, and said at most every 10 s. */
  private oversized(p: SkippedPublish): void {
    this.stats.badFrame('oversized');
    if (p.packetId !== null) {
      if (this.skippedIds.size >= 1_024) this.skippedIds.clear(); // stubs never handed over (a connection lost meanwhile)
      this.skippedIds.add(p.packetId);
    }
    this.oversizedUnsaid++;
    const now = performance.now();
    if (now - this.oversizedSaidAt < 10_000) return;
    this.oversizedSaidAt = now;
    const more = this.oversizedUnsaid - 1;
    this.oversizedUnsaid = 0;
    this.log('oversized-publish', {
      topic: p.topic,
      bytes: p.bytes,
      retained: p.retained,
      reason: `the broker sent a ${p.retained ? 'retained ' : ''}message of ${p.bytes} bytes on ${p.topic}, more than any Murmur frame (${limits.brokerPacketBytesMax}): skipped${p.retained ? '; it stays on the broker for every new subscriber until deleted (mosquitto_pub -r -n -t TOPIC), and the broker can refuse such messages (Mosquitto: message_size_limit)' : ''}${more > 0 ? ` (${more} more skipped since the last said)` : ''}`,
    });
  }

  private log(event: string, detail: Record<string, unknown>): void {
    this.opts.log?.(event, { link: this.name, node: this.opts.node, ...detail });
  }
}
