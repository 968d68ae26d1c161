// Builds MQTT link harnesses for the conformance suite: through the embedded aedes broker (with
// per-device credentials and ACLs) or through a real Mosquitto the test started.

import mqtt from 'mqtt';
import { hashPassword, type BrokerCredential } from '../../runtime/links/broker-acl.js';
import { EmbeddedBroker } from '../../runtime/links/broker.js';
import { encodeFrame, fleetTag } from '../../runtime/links/frame.js';
import { MqttLink, type MqttLinkOptions } from '../../runtime/links/mqtt-link.js';
import { fleetTopics } from '../../runtime/links/mqtt-topics.js';
import type { LinkHarness } from './conformance.js';
import { frameBadInputs } from './frame-bad-inputs.js';
import { Mosquitto } from './processes.js';

export const fleet = 'conf-fleet';
export const password = 'correct horse battery staple';
const hashed = hashPassword(password);

export function credentials(ids: readonly string[], operators: readonly string[] = ['op']): BrokerCredential[] {
  return [...ids.map((id) => ({ id, role: 'device' as const, fleet, passwordHash: hashed })), ...operators.map((id) => ({ id, role: 'operator' as const, fleet, passwordHash: hashed }))];
}

export async function startAedes(ids: readonly string[] = ['a', 'b', 'c', 'mallory']): Promise<EmbeddedBroker> {
  const broker = new EmbeddedBroker({ credentials: credentials(ids), log: () => {} });
  await broker.start();
  return broker;
}

export function linkFor(url: string, node: string, extra: Partial<MqttLinkOptions> = {}): MqttLink {
  return new MqttLink({ url, fleet, node, username: node, password, mtuBytes: 16_384, reconnectMsMin: 50, reconnectMsMax: 500, ...extra });
}

/** Publishes raw payloads on the consensus topic as device "mallory" (allowed by the ACL). */
async function injector(url: string): Promise<{ inject(bytes: Uint8Array): Promise<void>; close(): Promise<void> }> {
  const c = await mqtt.connectAsync(url, { username: 'mallory', password, clientId: 'mallory', reconnectPeriod: 0 });
  const topic = fleetTopics(fleet).consensus('mallory');
  return {
    inject: async (bytes) => {
      await c.publishAsync(topic, Buffer.from(bytes), { qos: 1 });
    },
    close: async () => {
      await c.endAsync();
    },
  };
}

async function harness(url: string, cleanup: () => Promise<void>, extra: Partial<MqttLinkOptions> = {}): Promise<LinkHarness> {
  const links = ['a', 'b', 'c'].map((n) => linkFor(url, n, extra));
  for (const l of links) await l.start();
  const inj = await injector(url);
  const [a, b, c] = links as [MqttLink, MqttLink, MqttLink];
  const validWire = (p: Uint8Array) => encodeFrame(fleetTag(fleet), 'consensus', p);
  return {
    a,
    b,
    c,
    ids: ['a', 'b', 'c'],
    inject: async (bytes) => {
      await inj.inject(bytes);
    },
    validWire,
    badInputs: () => frameBadInputs(validWire, b.mtuBytes),
    close: async () => {
      await inj.close();
      for (const l of links) await l.stop();
      await cleanup();
    },
  };
}

export async function aedesHarness(): Promise<LinkHarness> {
  const broker = await startAedes();
  return harness(broker.url, () => broker.stop());
}

export async function mosquittoHarness(extra: Partial<MqttLinkOptions> = {}): Promise<LinkHarness> {
  const m = await Mosquitto.start();
  return harness(m.url, () => m.stop(), extra);
}
