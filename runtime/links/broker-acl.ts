// Who may connect, publish and subscribe on the embedded broker (docs/topics.md, "Access rules").
// Pure functions over an identity, so the rules are tested without a socket.

import { randomBytes, scrypt, scryptSync, timingSafeEqual } from 'node:crypto';
import { fleetPrefix } from './mqtt-topics.js';

export type BrokerRole = 'device' | 'operator';

export interface BrokerCredential {
  /** The node or operator id from the fleet manifest; it is also the MQTT username. */
  readonly id: string;
  readonly role: BrokerRole;
  readonly fleet: string;
  /** From hashPassword(). Absent: the client must present a TLS certificate whose CN is `id`. */
  readonly passwordHash?: string;
}

export interface Identity {
  readonly id: string;
  readonly role: BrokerRole;
  readonly fleet: string;
}

const scryptParams = { N: 16_384, r: 8, p: 1 } as const;

const storedHash = (salt: Buffer, key: Buffer): string => `scrypt$${salt.toString('hex')}$${key.toString('hex')}`;

/** "scrypt$<salt hex>$<key hex>": store this, never the password. */
export function hashPassword(password: string, salt: Buffer = randomBytes(16)): string {
  return storedHash(salt, scryptSync(password, salt, 32, scryptParams));
}

/** hashPassword off the event loop (libuv's thread pool): a fleet's worth at once, hashed in parallel. */
export function hashPasswordAsync(password: string, salt: Buffer = randomBytes(16)): Promise<string> {
  return new Promise((resolve, reject) => {
    scrypt(password, salt, 32, scryptParams, (e, key) => (e === null ? resolve(storedHash(salt, key)) : reject(e)));
  });
}

/** Whether a password matches a stored hashPassword string. Off the event loop (libuv's thread pool):
 *  the broker's logins, which come in bursts (a whole fleet reconnecting after an outage), never stall
 *  the traffic of connected clients. */
export function checkPasswordAsync(password: string | Buffer, stored: string): Promise<boolean> {
  const [scheme, saltHex, keyHex] = stored.split('$');
  if (scheme !== 'scrypt' || !saltHex || !keyHex) return Promise.resolve(false);
  const key = Buffer.from(keyHex, 'hex');
  return new Promise((resolve) => {
    scrypt(password, Buffer.from(saltHex, 'hex'), key.length, scryptParams, (e, got) => resolve(e === null && got.length === key.length && timingSafeEqual(got, key)));
  });
}

/** A stored hash no password matches, the shape of hashPassword's (a random salt and key of the same
 *  lengths): checking a password against it costs one scrypt with the same parameters, as a real one
 *  does. For logins that name no user with a password, so they take as long as a wrong password. */
export function unmatchableHash(): string {
  return `scrypt$${randomBytes(16).toString('hex')}$${randomBytes(32).toString('hex')}`;
}

const hasWildcard = (t: string): boolean => t.includes('+') || t.includes('#');

/** undefined when allowed, else the reason (logged by the broker). */
export function publishRefusal(who: Identity, topic: string): string | undefined {
  const p = fleetPrefix(who.fleet);
  if (hasWildcard(topic)) return `topic "${topic}" contains a wildcard`;
  if (who.role === 'device') {
    if (topic === `${p}/consensus/${who.id}` || topic === `${p}/blocks/${who.id}` || topic.startsWith(`${p}/node/${who.id}/`)) return undefined;
    // Control plane (runtime/device/control-topics.ts): readable JSON under the device's own id, and
    // signed acks addressed to an operator (ack/<operator>/<nonce>; the operator verifies the signature),
    // and block proofs (proof/<height>; a proof is checked against the manifest by whoever reads it).
    if (topic.startsWith(`${p}/json/${who.id}/`)) return undefined;
    if (/^\d{1,15}$/.test(topic.startsWith(`${p}/proof/`) ? topic.slice(p.length + 7) : '')) return undefined;
    if (/^[^/]+\/[^/]+$/.test(topic.startsWith(`${p}/ack/`) ? topic.slice(p.length + 5) : '')) return undefined;
    if (topic === `${p}/commands`) return `device "${who.id}" may not publish commands (operators only)`;
    return `device "${who.id}" may publish only under ${p}/node/${who.id}/, ${p}/json/${who.id}/, ${p}/ack/, ${p}/proof/, ${p}/consensus/${who.id} and ${p}/blocks/${who.id}, not "${topic}"`;
  }
  if (topic === `${p}/commands` || topic.startsWith(`${p}/operator/${who.id}/`)) return undefined;
  return `operator "${who.id}" may publish only ${p}/commands and under ${p}/operator/${who.id}/, not "${topic}"`;
}

export function subscribeRefusal(who: Identity, filter: string): string | undefined {
  const p = fleetPrefix(who.fleet);
  if (!filter.startsWith(`${p}/`)) return `"${who.id}" may subscribe only under ${p}/, not "${filter}"`;
  return undefined;
}
