// MQTT over TLS to the embedded broker: a device that logs in with a client certificate (CN = its
// id), one with a password over TLS, and a client with neither is refused. The certificates are
// test fixtures (fixtures/tls/README.md), so the test needs no openssl at run time.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { hashPassword } from '../../runtime/links/broker-acl.js';
import { EmbeddedBroker } from '../../runtime/links/broker.js';
import { MqttLink } from '../../runtime/links/mqtt-link.js';
import { Inbox } from './conformance.js';

const fleet = 'tls-fleet';
const pem: Record<string, string> = Object.fromEntries(
  ['ca.crt', 'server.key', 'server.crt', 'device-a.key', 'device-a.crt'].map((f) => [f, readFileSync(new URL(`./fixtures/tls/${f}`, import.meta.url), 'utf8')]),
);

describe('MQTT link over TLS', () => {
  it('logs in by client certificate or by password, and refuses a client with neither', async () => {
    const broker = new EmbeddedBroker({
      credentials: [
        { id: 'a', role: 'device', fleet }, // certificate only
        { id: 'b', role: 'device', fleet, passwordHash: hashPassword('pw-b') },
      ],
      tls: { key: pem['server.key'] as string, cert: pem['server.crt'] as string, ca: pem['ca.crt'] as string, requestCert: true },
    });
    await broker.start();
    expect(broker.url).toMatch(/^mqtts:\/\/127\.0\.0\.1:\d+$/);
    const ca = pem['ca.crt'] as string;
    const a = new MqttLink({ url: broker.url, fleet, node: 'a', tls: { ca, cert: pem['device-a.crt'] as string, key: pem['device-a.key'] as string } });
    const b = new MqttLink({ url: broker.url, fleet, node: 'b', username: 'b', password: 'pw-b', tls: { ca } });
    const nobody = new MqttLink({ url: broker.url, fleet, node: 'c', tls: { ca } });
    try {
      await a.start();
      await b.start();
      expect(a.isUp() && b.isUp()).toBe(true);
      const inbox = new Inbox(b);
      a.broadcast(Buffer.from('over tls'), 'consensus');
      await inbox.waitFor(1);
      expect(inbox.frames.map((f) => [Buffer.from(f.bytes).toString(), f.from])).toEqual([['over tls', 'a']]);
      await expect(nobody.start()).rejects.toThrow(/refused node "c"/);
      expect(broker.rejections().some((r) => r.event === 'auth' && /certificate/.test(r.reason))).toBe(true);
    } finally {
      await a.stop();
      await b.stop();
      await broker.stop();
    }
  });
});
