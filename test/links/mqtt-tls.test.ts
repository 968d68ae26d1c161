// MQTT over TLS to the embedded broker: a device that logs in with a client certificate (CN = its
// id), one with a password over TLS, and a client with neither is refused. Certificates come from
// openssl, made for this test.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../runtime/links/broker-acl.js';
import { EmbeddedBroker } from '../../runtime/links/broker.js';
import { MqttLink } from '../../runtime/links/mqtt-link.js';
import { Inbox } from './conformance.js';

const fleet = 'tls-fleet';
let dir = '';
const pem: Record<string, string> = {};

function openssl(args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe', timeout: 10_000 });
}

function issue(name: string, cn: string, ext: string): void {
  openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`]);
  writeFileSync(join(dir, `${name}.ext`), ext);
  openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '1', '-out', `${name}.crt`, '-extfile', `${name}.ext`]);
  pem[`${name}.key`] = readFileSync(join(dir, `${name}.key`), 'utf8');
  pem[`${name}.crt`] = readFileSync(join(dir, `${name}.crt`), 'utf8');
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'murmur-tls-'));
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '1', '-subj', '/CN=murmur test CA']);
  pem['ca.crt'] = readFileSync(join(dir, 'ca.crt'), 'utf8');
  issue('server', '127.0.0.1', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  issue('device-a', 'a', 'extendedKeyUsage=clientAuth\n');
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

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
