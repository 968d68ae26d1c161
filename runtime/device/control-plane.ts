// The device's side of the operator control plane: its own MQTT connection (separate from the
// consensus link, so operator traffic never queues behind votes) publishing signed acks and the JSON
// topics of control-topics.ts. Publishing is best effort: the chain, not MQTT, is the record.

import type { MqttClient } from 'mqtt';
import { closeMqtt, connectMqtt, flushNow } from '../links/mqtt-connect.js';
import { redactBrokerUrl } from '../links/broker-url.js';
import { withinMs } from '../lib/within.js';
import type { Socket } from 'node:net';
import type { Signer } from '../crypto/sodium.js';
import { toHex } from '../lib/bytes.js';
import { limits } from '../lib/limits.js';
import { decodeFrame, fleetTag } from '../links/frame.js';
import { encodeAckBody, type AckBody } from '../wire/ack.js';
import { sealEnvelope } from '../wire/envelope.js';
import { controlTopics, type ControlTopics, type DecisionJson, type StatusJson } from './control-topics.js';

export interface ControlPlaneOptions {
  readonly url: string;
  readonly fleet: string;
  readonly node: string;
  /** The MQTT client id (default murmur-ctl-<fleet>-<node>). */
  readonly clientId?: string;
  readonly signer: Signer;
  readonly username?: string;
  readonly password?: string;
  readonly ca?: Buffer;
  readonly log: (event: string, detail: Record<string, unknown>) => void;
}

export class ControlPlane {
  readonly topics: ControlTopics;
  private client: MqttClient | undefined;
  private commandHandler: ((envelope: Uint8Array, framed: boolean) => void) | undefined;
  published = 0;
  /** The decision log to publish when its wait ends (log()), and when the last went out (monotonic ms). */
  private logDue: readonly DecisionJson[] | undefined;
  private logSentAt = Number.NEGATIVE_INFINITY;
  private logTimer: NodeJS.Timeout | undefined;
  /** Retained payloads published again on every connection: a broker restarted without persistence lost them. */
  private readonly retainedAgain = new Map<string, Buffer>();

  constructor(private readonly o: ControlPlaneOptions) {
    this.topics = controlTopics(o.fleet);
  }

  start(): void {
    const o = this.o;
    const client = connectMqtt(o.url, {
      clientId: (o.clientId ?? `murmur-ctl-${o.fleet}-${o.node}`).slice(0, 64),
      clean: true,
      keepalive: 10,
      reconnectPeriod: 1_000,
      connectTimeout: 5_000,
      writeCache: false, // no 6 MB number cache in mqtt-packet (see mqtt-link.ts)
      // A device that dies uncleanly leaves a status saying so, for `murmurctl status`.
      will: { topic: this.topics.status(o.node), payload: Buffer.from(JSON.stringify({ node: o.node, state: 'offline' })), qos: 0, retain: true },
      ...(o.username !== undefined ? { username: o.username } : {}),
      ...(o.password !== undefined ? { password: o.password } : {}),
      ...(o.ca !== undefined ? { ca: o.ca } : {}),
    });
    client.on('connect', () => {
      (client.stream as unknown as Partial<Socket>).setNoDelay?.(true);
      o.log('control-plane-connected', { url: redactBrokerUrl(o.url) });
      if (this.commandHandler) client.subscribe(this.topics.commands, { qos: 1 });
      for (const [topic, payload] of this.retainedAgain) client.publish(topic, payload, { qos: 1, retain: true });
    });
    const tag = fleetTag(o.fleet);
    client.on('message', (topic, payload) => {
      if (topic !== this.topics.commands || !this.commandHandler) return;
      const f = decodeFrame(new Uint8Array(payload), tag, limits.envelopeBytesMax);
      // Not a link frame: hand over the raw bytes, so the refusal can say what they are not.
      this.commandHandler(f.ok ? f.value.envelope : new Uint8Array(payload), f.ok);
    });
    // After stop() (this.client cleared) an error is the goodbye's, not a broker lost.
    client.on('error', (e) => this.client === client && o.log('control-plane-error', { reason: e.message }));
    this.client = client;
  }

  /**
   * Also reads the commands topic, so a device can explain every command it refuses, including exact
   * replays that the link router drops as duplicates before they reach the runtime.
   */
  onCommand(handler: (envelope: Uint8Array, framed: boolean) => void): void {
    this.commandHandler = handler;
  }

  async stop(finalStatus?: StatusJson): Promise<void> {
    clearTimeout(this.logTimer);
    this.logTimer = undefined;
    const c = this.client;
    this.client = undefined;
    if (!c) return;
    // Bounded, as the consensus link's goodbye: a broker that stopped acknowledging must not hold the shutdown.
    const last: Promise<unknown>[] = [];
    if (this.logDue !== undefined && c.connected) last.push(c.publishAsync(this.topics.log(this.o.node), this.logJson(this.logDue), { qos: 1, retain: true }));
    this.logDue = undefined;
    if (finalStatus && c.connected) last.push(c.publishAsync(this.topics.status(this.o.node), JSON.stringify(finalStatus), { qos: 1, retain: true }));
    if (last.length > 0) await withinMs(Promise.all(last), 1_000);
    await closeMqtt(c);
  }

  private publish(topic: string, payload: string | Buffer, retain = false, qos: 0 | 1 = 0): void {
    const c = this.client;
    if (!c) return;
    this.published++;
    c.publish(topic, payload, { qos, retain });
    flushNow(c); // an ack is published mid-commit: on the wire now, not after the rest of that work
  }

  /** Signs and publishes an ack, and its JSON form for people. */
  ack(a: AckBody): void {
    const [operator, nonceHex] = a.command.split('/') as [string, string];
    const env = sealEnvelope('ack', this.o.fleet, this.o.node, encodeAckBody(a), this.o.signer);
    this.publish(this.topics.ack(operator, nonceHex), Buffer.from(env), false, 1);
    this.publish(
      this.topics.ackJson(this.o.node),
      JSON.stringify({ command: a.command, node: a.node, stage: a.stage, height: a.height, reason: a.reason, progress: a.progress, assigned: a.assigned, blockHash: a.blockHash ? toHex(a.blockHash) : null }),
    );
  }

  /**
   * Publishes a committed block and its certificate once per block (not once per command ack): the
   * proof is self-certifying, so it needs no device signature, and acks stay small however big the block.
   */
  proof(height: number, proof: Uint8Array): void {
    this.publish(this.topics.proof(height), Buffer.from(proof), false, 1);
  }

  /** The proofs of the blocks that changed the fleet manifest (manifest-proofs.ts), retained and
   *  published again on each connection. */
  manifestProofs(payload: Uint8Array): void {
    this.publishRetained(this.topics.manifests(this.o.node), Buffer.from(payload));
  }

  /** Publishes `payload` retained on `topic` now and again on every later connection. */
  private publishRetained(topic: string, payload: string | Buffer): void {
    const b = typeof payload === 'string' ? Buffer.from(payload) : payload;
    this.retainedAgain.set(topic, b);
    this.publish(topic, b, true, 1);
  }

  status(s: StatusJson): void {
    this.publish(this.topics.status(this.o.node), JSON.stringify(s), true);
  }

  telemetry(t: Record<string, unknown>): void {
    this.publish(this.topics.telemetry(this.o.node), JSON.stringify(t));
  }

  /**
   * The retained decision log: the newest decisions, republished whole (a late subscriber gets it all
   * at once), so at most every limits.controlLogEveryMs; a change within that wait goes out when it
   * ends, with whatever is newest by then. Before, every block that decided a command republished the
   * whole log: ~44 KB a device per block, 437 KB/s a device under 10 commands/s, 245 times the bytes of
   * the commands themselves. A block's own decisions (`fresh`) go out at once on decided(node), not
   * retained, for whoever follows the fleet live; acks and proofs are not held back either.
   */
  log(decisions: readonly DecisionJson[], fresh: readonly DecisionJson[] = []): void {
    if (fresh.length > 0) this.publish(this.topics.decided(this.o.node), this.logJson(fresh), false, 1);
    this.logDue = decisions;
    if (this.logTimer !== undefined) return;
    const wait = this.logSentAt + limits.controlLogEveryMs - performance.now();
    if (wait <= 0) return this.sendLog();
    this.logTimer = setTimeout(() => {
      this.logTimer = undefined;
      this.sendLog();
    }, wait);
  }

  private sendLog(): void {
    const d = this.logDue;
    if (d === undefined) return;
    this.logDue = undefined;
    this.logSentAt = performance.now();
    // Again on every connection: a broker restarted without persistence lost it, and `murmurctl log`
    // then said no device was running until the next command was committed.
    this.publishRetained(this.topics.log(this.o.node), this.logJson(d));
  }

  private logJson(decisions: readonly DecisionJson[]): string {
    return JSON.stringify({ node: this.o.node, decisions });
  }

  refused(reason: string): void {
    this.publish(this.topics.refused(this.o.node), JSON.stringify({ node: this.o.node, reason, timeMs: Date.now() }));
  }
}
