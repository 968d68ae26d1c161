// device.yaml's Linux HAL drivers on a real `murmur start` process: hal.gnss reads an NMEA 0183
// receiver on a socat pty (the test plays the receiver) and becomes the device's position; hal.led
// drives an LED-class directory (sysfs-shaped files) with the device's health, and turns it off on
// stop; agents.engine: pure-ts runs the models without onnxruntime. Plus the config errors that name
// the field and the fix.

import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeKeyFile } from '../../runtime/crypto/key-file.js';
import type { KeyPair } from '../../runtime/crypto/sodium.js';
import { parseDeviceConfig } from '../../runtime/config/device-config.js';
import { controlTopics } from '../../runtime/device/control-topics.js';
import { unwrap } from '../../runtime/lib/result.js';
import { openSerial, type ByteTransport } from '../../firmware-bridge/transport.js';
import { Mosquitto, PtyPair, freePort } from '../links/processes.js';
import { startDeviceProcess, type DeviceProcess } from '../support/device-process.js';
import { makeFleet } from '../support/fleet-fixture.js';
import { gga, rmc } from '../support/nmea.js';
import { cliEntry } from '../support/run-cli.js';

const good = 'id: v0\nkey: k\nmanifest: m\ndataDir: d\nmqtt: { url: "mqtt://127.0.0.1:1883" }\n';

describe('device.yaml hal.gnss and hal.led', () => {
  it('accepts an NMEA receiver and an LED-class LED beside any base driver', () => {
    const r = parseDeviceConfig(good + 'hal: { driver: none, gnss: { driver: nmea, serial: /dev/ttyAMA0 }, led: { driver: sysfs, name: ACT } }\n', 'device.yaml');
    expect(r.ok && r.value.hal).toMatchObject({ driver: 'none', gnss: { driver: 'nmea', serial: '/dev/ttyAMA0', baud: 9_600 }, led: { driver: 'sysfs', name: 'ACT' } });
  });

  const cases: [string, string][] = [
    ['hal: { gnss: { driver: gpsd, serial: /dev/ttyAMA0 } }', 'hal.gnss.driver'],
    ['hal: { gnss: { driver: nmea } }', 'hal.gnss.serial'],
    ['hal: { led: { driver: sysfs, name: "../../etc" } }', 'hal.led.name'],
  ];
  for (const [yaml, field] of cases) {
    it(`refuses ${yaml} naming ${field} and the fix`, () => {
      const r = parseDeviceConfig(`${good}${yaml}\n`, 'device.yaml');
      expect(r.ok ? 'accepted' : r.error).toContain(field);
      expect(r.ok ? '' : r.error).toMatch(/set `hal\.(gnss|led): \{ driver: (nmea|sysfs)/);
    });
  }
});

describe('a device with its own GNSS receiver and status LED (real process, pty, Mosquitto)', () => {
  let dir: string;
  let broker: Mosquitto;
  let pty: PtyPair;
  let receiver: ByteTransport;
  let timer: NodeJS.Timeout | undefined;
  let device: DeviceProcess | undefined;
  let httpPort = 0;
  let fleet = '';
  const led = (file: string): string => readFileSync(join(dir, 'leds', 'status', file), 'utf8').trim();

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'murmur-linux-hal-'));
    broker = await Mosquitto.start();
    pty = await PtyPair.start();
    receiver = await openSerial({ path: pty.b, baudRate: 9_600 });
    // About 100 m north of the fleet origin (device.yaml's default origin), at 500 m MSL, 5 Hz.
    timer = setInterval(() => receiver.write(Buffer.from(gga(47.398642, 8.545594, 500) + rmc(47.398642, 8.545594, 0, 0), 'latin1')), 200);
    mkdirSync(join(dir, 'leds', 'status'), { recursive: true });
    writeFileSync(join(dir, 'leds', 'status', 'brightness'), '0\n');
    writeFileSync(join(dir, 'leds', 'status', 'max_brightness'), '1\n');
    writeFileSync(join(dir, 'leds', 'status', 'trigger'), '[none] timer heartbeat\n');
    const fx = await makeFleet({ validators: 1 });
    fleet = fx.fleet;
    writeFileSync(join(dir, 'fleet.manifest'), fx.manifest.bytes);
    unwrap(await writeKeyFile(join(dir, 'v0.key'), { id: 'v0', ...(fx.keys.get('v0') as KeyPair) }));
    httpPort = await freePort();
    const config = (serial: string): string =>
      [
        'id: v0',
        'key: v0.key',
        'manifest: fleet.manifest',
        'dataDir: data',
        `mqtt: { url: "${broker.url}" }`,
        `http: { port: ${httpPort} }`,
        `hal: { driver: none, gnss: { driver: nmea, serial: "${serial}", baud: 9600 }, led: { driver: sysfs, name: status, classDir: "${join(dir, 'leds')}" } }`,
        // A small device's choice: the pure-TypeScript engine, no onnxruntime loaded (README, "Agents").
        'agents: { engine: pure-ts }',
        '',
      ].join('\n');
    writeFileSync(join(dir, 'device.yaml'), config(pty.a));
    writeFileSync(join(dir, 'no-gnss.yaml'), config(join(dir, 'ttyNONE')));
  }, 60_000);

  afterAll(async () => {
    if (timer) clearInterval(timer);
    await device?.stop();
    await receiver?.close();
    await pty?.stop();
    await broker?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('publishes the receiver\'s position in its status, shows its health on the LED and turns it off on stop', async () => {
    device = startDeviceProcess(process.execPath, [cliEntry('murmur'), 'start', '--config', join(dir, 'device.yaml')]);
    await device.ready;
    const client = await mqtt.connectAsync(broker.url);
    try {
      const topic = controlTopics(fleet).status('v0');
      const position = await new Promise<{ northM: number; eastM: number; upM: number }>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`no status with a position on ${topic} within 15 s`)), 15_000);
        client.on('message', (_t, payload) => {
          const s = JSON.parse(payload.toString()) as { position: { northM: number; eastM: number; upM: number } | null };
          if (s.position) {
            clearTimeout(t);
            resolve(s.position);
          }
        });
        void client.subscribeAsync(topic, { qos: 1 });
      });
      expect(position.northM).toBeGreaterThan(95);
      expect(position.northM).toBeLessThan(105);
      expect(Math.abs(position.eastM)).toBeLessThan(1);
      expect(position.upM).toBe(0); // home altitude is the first fix's
    } finally {
      await client.endAsync();
    }
    // The LED shows what /health says (checked each second): heartbeat when ok, a blink otherwise.
    const deadline = Date.now() + 5_000;
    let health = '';
    while (Date.now() < deadline) {
      health = ((await (await fetch(`http://127.0.0.1:${httpPort}/health`)).json()) as { health: string }).health;
      if ((health === 'ok' && led('trigger') === 'heartbeat') || (health !== 'ok' && led('trigger') === 'timer')) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(led('trigger'), `health ${health}`).toBe(health === 'ok' ? 'heartbeat' : 'timer');
    const agents = ((await (await fetch(`http://127.0.0.1:${httpPort}/health`)).json()) as { agents: { name: string; engine: string }[] }).agents;
    expect(Object.fromEntries(agents.map((a) => [a.name, a.engine]))).toEqual({ 'hazard-detect': 'pure-ts', 'mission-reflexes': 'none', 'telemetry-anomaly': 'pure-ts' });
    if (health !== 'ok') expect(led('delay_on')).toBe(health === 'degraded' ? '500' : '125');
    expect(await device.stop()).toBe(0);
    expect(led('trigger')).toBe('none');
    expect(led('brightness')).toBe('0');
  }, 60_000);

  it('names the serial port when the receiver is not there, and exits without a stack trace', async () => {
    const run = spawn(process.execPath, [cliEntry('murmur'), 'start', '--config', join(dir, 'no-gnss.yaml')], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    run.stdout.on('data', (b: Buffer) => (out += b.toString()));
    run.stderr.on('data', (b: Buffer) => (out += b.toString()));
    const code = await new Promise<number | null>((resolve) => run.once('exit', resolve));
    expect(code).not.toBe(0);
    expect(out).toContain(`cannot open serial port ${join(dir, 'ttyNONE')}`);
    expect(out).not.toMatch(/\n\s+at .*\(.*:\d+:\d+\)/);
  }, 60_000);
});
