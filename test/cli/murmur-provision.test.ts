// `murmur provision` through the real CLI: a device of a 4-validator fleet gets a bundle whose files, modes
// and config are what the installer and `murmur start` expect; an identity is never overwritten without
// --force; a device outside the manifest is refused; and the provisioned config starts a device on Mosquitto.

import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDeviceConfig } from '../../runtime/config/device-config.js';
import { Mosquitto, freePort } from '../links/processes.js';
import { startDeviceProcess } from '../support/device-process.js';
import { cliEntry, runCli } from '../support/run-cli.js';

const dir = mkdtempSync(join(tmpdir(), 'murmur-provision-'));
const p = (f: string): string => join(dir, f);
const mode = (f: string): number => statSync(f).mode & 0o777;
const sha256 = (f: string): string => createHash('sha256').update(readFileSync(f)).digest('hex');
const provision = (id: string, out: string, extra: string[] = []) =>
  runCli('murmur', ['provision', '--key', p(`keys/${id}.key`), '--manifest', p('fleet.manifest'), '--mqtt-url', 'mqtt://10.0.0.1:1883', '--out', out, ...extra]);

beforeAll(async () => {
  const ids = ['authority', 'v0', 'v1', 'v2', 'v3', 'stranger'];
  const keygens = ids.map((id) => runCli('murmur', ['keygen', '--id', id, '--out', p(`keys/${id}.key`)]));
  // A second key that claims the id v2: its public key is not the one the manifest lists.
  keygens.push(runCli('murmur', ['keygen', '--id', 'v2', '--out', p('keys/impostor.key')]));
  for (const r of await Promise.all(keygens)) expect(r.code, r.stderr).toBe(0);
  const draft = p('fleet.json');
  expect((await runCli('murmur', ['fleet', 'init', '--fleet', 'demo', '--authority', p('keys/authority.key'), '--out', draft])).code).toBe(0);
  for (const v of ['v0', 'v1', 'v2', 'v3']) expect((await runCli('murmur', ['fleet', 'add', draft, '--validator', '--key', p(`keys/${v}.key.pub`)])).code).toBe(0);
  const signed = await runCli('murmur', ['fleet', 'sign', draft, '--authority', p('keys/authority.key'), '--out', p('fleet.manifest')]);
  expect(signed.code, signed.stderr).toBe(0);
}, 180_000); // thirteen CLI processes, the seven keygens at once: slow when the machine is loaded
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// Each case writes bundles of its own (and the last its own broker and device): they run at once.
describe.concurrent('murmur provision', () => {
  it('writes the identity (0600), the signed manifest and a device.yaml with the device\'s own paths, all checked', async ({ expect }) => {
    const out = p('bundles/v0');
    const r = await provision('v0', out, ['--http-port', '9470', '--radio', '/dev/ttyUSB0,preset=sik,hopLimit=2', '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: true, id: 'v0', role: 'validator', fleet: 'demo', epoch: 1, files: ['device.key', 'fleet.manifest', 'device.yaml'] });

    expect(mode(out)).toBe(0o700);
    expect(mode(join(out, 'device.key'))).toBe(0o600);
    expect(mode(join(out, 'device.yaml'))).toBe(0o600);
    expect(readFileSync(join(out, 'device.key'), 'utf8')).toBe(readFileSync(p('keys/v0.key'), 'utf8'));
    expect(readFileSync(join(out, 'fleet.manifest'))).toEqual(readFileSync(p('fleet.manifest')));
    const sums = readFileSync(join(out, 'SHA256SUMS'), 'utf8').trim().split('\n').map((l) => l.split('  '));
    expect(sums.map(([, f]) => f)).toEqual(['device.key', 'fleet.manifest', 'device.yaml', 'PROVISION.json']);
    for (const [hash, f] of sums) expect(sha256(join(out, f as string)), f).toBe(hash);
    expect(readFileSync(join(out, 'device.yaml'), 'utf8')).not.toContain(dir); // nothing of the authority's machine leaks in

    // The same validator `murmur start` runs: absolute device paths, the unit's data directory, a fixed port.
    const c = parseDeviceConfig(readFileSync(join(out, 'device.yaml'), 'utf8'), '/etc/murmur/device.yaml');
    expect(c.ok || c.error).toBe(true);
    if (!c.ok) return;
    expect(c.value).toMatchObject({ id: 'v0', key: '/etc/murmur/device.key', manifest: '/etc/murmur/fleet.manifest', dataDir: '/var/lib/murmur', mqtt: { url: 'mqtt://10.0.0.1:1883' }, http: { host: '127.0.0.1', port: 9470 } });
    expect(c.value.radios).toEqual([{ paths: ['/dev/ttyUSB0'], preset: 'sik', hopLimit: 2, heartbeatShare: 0.1 }]);
    expect(c.value.authority).toBe(JSON.parse(readFileSync(p('keys/authority.key.pub'), 'utf8')).publicKey);
  });

  it('refuses to overwrite an identity without --force, and replaces it with --force', async ({ expect }) => {
    const out = p('bundles/again');
    expect((await provision('v1', out)).code).toBe(0);
    const before = sha256(join(out, 'device.key'));
    const again = await provision('v3', out);
    expect(again.code).toBe(3);
    expect(again.stderr).toBe(`murmur: ${join(out, 'device.key')} already exists; refusing to overwrite an identity (pass --force to replace it)\n`);
    expect(sha256(join(out, 'device.key'))).toBe(before);

    const forced = await provision('v3', out, ['--force']);
    expect(forced.stderr).toBe('');
    expect(forced.code).toBe(0);
    expect(readFileSync(join(out, 'device.key'), 'utf8')).toBe(readFileSync(p('keys/v3.key'), 'utf8'));
    expect(mode(join(out, 'device.key'))).toBe(0o600);
    expect(readFileSync(join(out, 'device.yaml'), 'utf8')).toMatch(/^id: v3$/m);
    expect(JSON.parse(readFileSync(join(out, 'PROVISION.json'), 'utf8')).id).toBe('v3');
  });

  it('refuses a device that is not in the signed manifest, or whose key is not the listed one, and writes nothing', async ({ expect }) => {
    const stranger = await provision('stranger', p('bundles/stranger'));
    expect(stranger.code).toBe(3);
    expect(stranger.stderr).toBe(
      `murmur: device "stranger" (key ${p('keys/stranger.key')}) is not a validator or follower in ${p('fleet.manifest')} (fleet "demo" epoch 1); add it with "murmur fleet add DRAFT --validator --key ${p('keys/stranger.key')}.pub", sign the manifest again, then provision\n`,
    );
    expect(existsSync(p('bundles/stranger'))).toBe(false);

    const impostor = await provision('impostor', p('bundles/impostor'));
    expect(impostor.code).toBe(3);
    expect(impostor.stderr).toContain(`${p('keys/impostor.key')} is not the key ${p('fleet.manifest')} lists for "v2"`);
    expect(existsSync(p('bundles/impostor'))).toBe(false);
  });

  it('rejects settings the device could not start with, naming the flag or field', async ({ expect }) => {
    const port0 = await provision('v1', p('bundles/bad'), ['--http-port', '0']);
    expect(port0.code).toBe(2);
    expect(port0.stderr).toContain('--http-port must be a TCP port from 1 to 65535');
    const radio = await provision('v1', p('bundles/bad'), ['--radio', '/dev/ttyUSB0,preset=lora']);
    expect(radio.code).toBe(2);
    expect(radio.stderr).toContain('radios.0.preset: "lora": invalid option');
    const url = await runCli('murmur', ['provision', '--key', p('keys/v1.key'), '--manifest', p('fleet.manifest'), '--mqtt-url', 'http://nowhere', '--out', p('bundles/bad')]);
    expect(url.code).toBe(2);
    // Named as the option given (it said device.yaml's mqtt.url, in a directory it had not written).
    expect(url.stderr).toBe('murmur: --mqtt-url "http://nowhere": its scheme is http, not mqtt, mqtts, ws or wss; give a broker URL like mqtt://10.0.0.2:1883 or mqtts://broker:8883\n');
    // --hal takes sim or none (its help): a flight controller needs hal.mavlink, which provision does not write.
    const hal = await runCli('murmur', ['provision', '--key', p('keys/v1.key'), '--manifest', p('fleet.manifest'), '--mqtt-url', 'mqtt://b:1883', '--hal', 'mavlink', '--out', p('bundles/bad')]);
    expect(hal.code).toBe(2);
    expect(hal.stderr).toContain('--hal mavlink: use sim or none');
    for (const r of [port0, radio, url, hal]) expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(existsSync(p('bundles/bad/device.key'))).toBe(false);
  });

  it('the provisioned device.yaml starts a device that becomes ready on a real broker (paths moved under a temp prefix)', async ({ expect }) => {
    const broker = await Mosquitto.start();
    const port = await freePort();
    const out = p('bundles/v2');
    try {
      const r = await provision('v2', out, ['--http-port', String(port), '--hal', 'none']);
      expect(r.code, r.stderr).toBe(0);
      // Stand-in for the device: its / under a temp prefix, the broker on this machine.
      const root = p('device-root');
      mkdirSync(join(root, 'etc/murmur'), { recursive: true });
      for (const f of ['device.key', 'fleet.manifest']) copyFileSync(join(out, f), join(root, 'etc/murmur', f));
      const yaml = readFileSync(join(out, 'device.yaml'), 'utf8')
        .replaceAll('/etc/murmur/', `${root}/etc/murmur/`)
        .replace('dataDir: /var/lib/murmur', `dataDir: ${root}/var/lib/murmur`)
        .replace('mqtt://10.0.0.1:1883', broker.url);
      writeFileSync(join(root, 'etc/murmur/device.yaml'), yaml);
      const device = startDeviceProcess(process.execPath, [cliEntry('murmur'), 'start', '--config', join(root, 'etc/murmur/device.yaml')]);
      try {
        await device.ready;
        const health = await fetch(`http://127.0.0.1:${port}/health`);
        expect(health.status).toBe(200);
        expect(await health.json()).toMatchObject({ ready: true });
        expect(device.output()).toContain('"role":"validator"');
      } finally {
        expect(await device.stop()).toBe(0);
      }
      expect(existsSync(join(root, 'var/lib/murmur'))).toBe(true);
    } finally {
      await broker.stop();
    }
  });
});
