// device.yaml validation: defaults fill in, and every error is one line naming the field and the fix.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { loadDeviceConfig, parseDeviceConfig } from '../../runtime/config/device-config.js';
import { withReleasedPackages } from '../../runtime/lib/released-require.js';

const good = 'id: d1\nkey: keys/d1.key\nmanifest: fleet.manifest\ndataDir: data\nmqtt: { url: "mqtt://127.0.0.1:1883" }\n';

describe('device.yaml', () => {
  it('another of Murmur\'s files, or an empty one, given as the config is named for what it is', () => {
    // A key file or a draft (JSON, so YAML) got seven missing and unknown fields; a signed manifest or an
    // empty file 'must be a YAML mapping of fields'.
    const key = JSON.stringify({ format: 'murmur-ed25519-key/1', id: 'd1', publicKey: 'ab'.repeat(32), seed: 'cd'.repeat(32) }, null, 2);
    const draft = JSON.stringify({ format: 'murmur-fleet-draft/1', fleet: 'demo', epoch: 1 }, null, 2);
    const binary = Buffer.from([0xa4, 0x00, 0xff, 0x62, 0x69]).toString('utf8');
    const said = (text: string): string => {
      const r = parseDeviceConfig(text, 'x.yaml');
      return r.ok ? 'ok' : r.error;
    };
    expect(said(key)).toBe("x.yaml: a key file, not a device.yaml; give --config the device's YAML file, which names this key in its key field");
    expect(said(key.replace('murmur-ed25519-key', 'murmur-ed25519-public'))).toContain('x.yaml: a key file, not a device.yaml');
    expect(said(draft)).toBe("x.yaml: a fleet manifest draft, not a device.yaml; give --config the device's YAML file");
    expect(said(binary)).toBe("x.yaml: a binary file (a signed fleet manifest?), not a device.yaml; give --config the device's YAML file, which names the manifest in its manifest field");
    expect(said(' \n\n')).toBe('x.yaml: the file is empty; a device.yaml sets at least id, key, manifest, dataDir and mqtt (docs/device-config.md)');
    // A YAML that is not a mapping is still said so.
    expect(said('- a\n- b\n')).toBe('x.yaml: must be a YAML mapping of fields (id, key, manifest, dataDir, mqtt, ...)');
  });

  it('hal.mavlink.batteryCells: a whole number of series cells from 1 to 14', () => {
    const with_ = (cells: string): string => `${good}hal: { driver: mavlink, mavlink: { serial: /dev/ttyAMA0, batteryCells: ${cells} } }\n`;
    const six = parseDeviceConfig(with_('6'), 'd.yaml');
    expect(six.ok && six.value.hal.mavlink?.batteryCells, six.ok ? '' : six.error).toBe(6);
    for (const bad of ['0', '15', '4.5']) {
      const r = parseDeviceConfig(with_(bad), 'd.yaml');
      expect(r.ok ? 'accepted' : r.error, bad).toContain('hal.mavlink.batteryCells');
      expect(r.ok ? '' : r.error, bad).toContain('use a whole number of series cells from 1 to 14');
    }
  });

  it('hal.mavlink.fenceAction: return, land, hold or leave (the default); anything else names the field, the values and the fix', () => {
    const with_ = (action: string): string => `${good}hal: { driver: mavlink, mavlink: { serial: /dev/ttyAMA0${action === '' ? '' : `, fenceAction: ${action}`} } }\n`;
    const dflt = parseDeviceConfig(with_(''), 'd.yaml');
    expect(dflt.ok && dflt.value.hal.mavlink?.fenceAction, dflt.ok ? '' : dflt.error).toBe('leave');
    for (const a of ['return', 'land', 'hold', 'leave']) {
      const r = parseDeviceConfig(with_(a), 'd.yaml');
      expect(r.ok && r.value.hal.mavlink?.fenceAction, r.ok ? '' : r.error).toBe(a);
    }
    const rtl = parseDeviceConfig(with_('rtl'), 'd.yaml');
    expect(rtl.ok ? 'accepted' : rtl.error).toBe(
      'd.yaml: hal.mavlink.fenceAction: "rtl": invalid option: expected one of "return"|"land"|"hold"|"leave"; use return, land or hold (set on the flight controller after each fence upload: ArduPilot FENCE_ACTION, PX4 GF_ACTION), or leave (the default) to keep the vehicle\'s own and report it',
    );
    const num = parseDeviceConfig(with_('1'), 'd.yaml');
    expect(num.ok ? 'accepted' : num.error).toContain('hal.mavlink.fenceAction: 1: invalid option');
  });

  it('origin.latDeg: at most 85 degrees north or south, where the flat local frame still holds', () => {
    const at = (lat: string): string => {
      const r = parseDeviceConfig(`${good}origin: { latDeg: ${lat}, lonDeg: 179.9995 }\n`, 'd.yaml');
      return r.ok ? `ok ${r.value.origin.latDeg}` : r.error;
    };
    expect(at('85')).toBe('ok 85');
    expect(at('-85')).toBe('ok -85');
    for (const lat of ['85.1', '-89.9', '90']) {
      const e = at(lat);
      expect(e.split('\n'), lat).toHaveLength(1);
      expect(e, lat).toContain(`origin.latDeg: ${lat}: `);
      expect(e, lat).toContain('use a latitude from -85 to 85 degrees');
    }
  });

  it('a path starting with ~ names its field and the full path (only a shell expands ~; dataDir: ~/x made a directory named "~")', () => {
    const home = homedir();
    const cases: [string, string][] = [
      [good.replace('dataDir: data', 'dataDir: ~/murmur-data'), `d.yaml: dataDir: ~/murmur-data starts with ~, which only a shell expands (here it would be a directory named "~" beside this file); give the full path, such as ${home}/murmur-data`],
      [good.replace('key: keys/d1.key', 'key: ~/keys/d1.key'), `d.yaml: key: ~/keys/d1.key starts with ~, which only a shell expands`],
      [good + 'log: { file: "~" }\n', `d.yaml: log.file: ~ starts with ~`],
    ];
    for (const [text, want] of cases) {
      const r = parseDeviceConfig(text, 'd.yaml');
      expect(r.ok ? '' : r.error).toContain(want);
    }
    // A name that only begins with the character is a name.
    expect(parseDeviceConfig(good.replace('dataDir: data', 'dataDir: ~data'), 'd.yaml').ok).toBe(true);
  });

  it('fills defaults and resolves paths against the config file', () => {
    const r = parseDeviceConfig(good, '/etc/murmur/device.yaml');
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.key).toBe('/etc/murmur/keys/d1.key');
    expect(r.value.http).toEqual({ host: '127.0.0.1', port: 9464 });
    expect(r.value.hal.driver).toBe('sim');
    const m = parseDeviceConfig(good + 'hal: { driver: mavlink, mavlink: { serial: /dev/ttyAMA0 } }\n', 'device.yaml');
    expect(m.ok && m.value.hal.mavlink).toEqual({ serial: '/dev/ttyAMA0', baud: 921_600, autopilot: 'px4', systemId: 245, fcSystemId: 1, fcComponentId: 1, fenceAction: 'leave' });
    expect(r.value.telemetry.periodMs).toBe(1_000);
    expect(r.value.snapshots.everyHeights).toBe(512);
    const small = parseDeviceConfig(good + 'consensus: { checkpointEveryHeights: 8, syncWindowHeights: 16 }\n', 'd.yaml');
    expect(small.ok && small.value.snapshots.everyHeights).toBe(128);
    expect(r.value.agents).toEqual({ enabled: true, engine: 'onnxruntime' });
    const mast = parseDeviceConfig(good + 'hal: { sim: { obstacles: [{ northM: 50, eastM: 60, radiusM: 10, heightM: 60 }] } }\n', 'd.yaml');
    expect(mast.ok && mast.value.hal.sim.obstacles).toEqual([{ northM: 50, eastM: 60, radiusM: 10, heightM: 60 }]);
    const pack = parseDeviceConfig(good + 'hal: { sim: { batteryWh: 3 } }\n', 'd.yaml');
    expect(pack.ok && pack.value.hal.sim.batteryWh).toBe(3);
    const logged = parseDeviceConfig(good + 'log: { level: warn, file: logs/d1.log }\n', '/etc/murmur/device.yaml');
    expect(logged.ok && logged.value.log).toEqual({ level: 'warn', file: '/etc/murmur/logs/d1.log' });
    const firstUp = parseDeviceConfig(good + 'routing: { consensus: first }\n', 'd.yaml');
    expect(firstUp.ok && firstUp.value.routing).toEqual({ consensus: 'first' });
    const named = parseDeviceConfig(good.replace(/mqtt: \{ url: ([^ ]+) \}/, 'mqtt: { url: $1, clientId: drone-1 }'), 'd.yaml');
    expect(named.ok && named.value.mqtt.clientId, named.ok ? '' : named.error).toBe('drone-1');
    const fenced = parseDeviceConfig(good + 'geofence: { polygon: [[-60, -60], [-60, 30], [200, 30]] }\n', 'd.yaml');
    expect(fenced.ok && fenced.value.geofence).toEqual({ polygon: [[-60, -60], [-60, 30], [200, 30]] });
    const lean = parseDeviceConfig(good + 'agents: { engine: pure-ts }\n', 'd.yaml');
    expect(lean.ok && lean.value.agents).toEqual({ enabled: true, engine: 'pure-ts' });
  });

  const cases: [string, string][] = [
    [good.replace('id: d1', 'id: D 1'), 'device.yaml: id: "D 1" is not valid; set it to this device\'s id in the fleet manifest'],
    [good.replace('id: d1\n', ''), 'device.yaml: id: missing; set it to this device\'s id'],
    [good + 'http: { port: 70000 }\n', 'device.yaml: http.port: 70000: too big'],
    [good + 'http: { host: 0.0.0.0 }\n', 'http.host: "0.0.0.0": invalid option: expected one of "127.0.0.1"|"::1"|"localhost"; the metrics endpoint listens on loopback only: use 127.0.0.1, ::1 or localhost'],
    [good + 'hal: { driver: px4 }\n', 'hal.driver: "px4": invalid option: expected one of "sim"|"mavlink"|"none"; use "sim" (simulated vehicle), "mavlink" (a flight controller on a serial port) or "none"'],
    [good + 'hal: { driver: mavlink }\n', 'device.yaml: hal.mavlink: missing with hal.driver: mavlink; set `hal.mavlink: { serial: /dev/ttyAMA0'],
    [good + 'hal: { driver: mavlink, mavlink: { serial: /dev/ttyAMA0, autopilot: inav } }\n', 'hal.mavlink.autopilot: "inav": invalid option'],
    [good + 'hal: { sim: { obstacles: [{ northM: 5, eastM: 5, radiusM: 2 }] } }\n', 'device.yaml: hal.sim.obstacles.0.heightM: missing; list at most 64 as { northM, eastM, radiusM, heightM }'],
    [good + 'hal: { sim: { batteryWh: 0 } }\n', 'device.yaml: hal.sim.batteryWh: 0: too small'],
    [good + 'routing: { consensus: radio }\n', 'routing.consensus: "radio": invalid option: expected one of "all"|"first"; use all (every link that is up'],
    [good + 'geofence: { polygon: [[0, 0], [0, 10]] }\n', 'device.yaml: geofence.polygon: [[0,0],[0,10]]: too small: expected array to have >=3 items; list 3 to 64 [north, east] points'],
    [good + 'geofence: { polygon: [[0, 0], [0, 10], [north, 5]] }\n', 'device.yaml: geofence.polygon.2.0: is "north", expected a number; list 3 to 64 [north, east] points in metres'],
    [good.replace('}', ', clientId: "a b" }'), 'device.yaml: mqtt.clientId: "a b" is not valid; use 1-48 letters, digits'],
    [good + 'colour: red\n', 'device.yaml: colour: unknown field; remove it or check its spelling'],
    // mqtt.js would connect to port 1883 instead, without a word.
    [good.replace('1883', '1883x'), 'device.yaml: mqtt.url: "mqtt://127.0.0.1:1883x": its port "1883x" is not a number; use a broker URL like mqtt://127.0.0.1:1883'],
    [good.replace('1883', '99999'), 'mqtt.url: "mqtt://127.0.0.1:99999": its port 99999 is past 65535'],
    [good.replace('1883', '1883/ x'), 'device.yaml: mqtt.url: "mqtt://127.0.0.1:1883/ x": it contains white space; use a broker URL'],
    [good.replace('mqtt://', 'http://'), 'device.yaml: mqtt.url: "http://127.0.0.1:1883": its scheme is http, not mqtt, mqtts, ws or wss; use a broker URL'],
    [good + 'consensus: { proposeMs: 5 }\n', 'consensus.proposeMs: 5: too small'],
    [good + 'snapshots: { everyHeights: 100 }\n', 'device.yaml: snapshots.everyHeights: 100: must be a multiple of the checkpoint interval (32); use a multiple of the checkpoint interval (consensus.checkpointEveryHeights, default 32)'],
    [good + 'snapshots: { everyHeights: 0 }\n', 'snapshots.everyHeights: 0: too small'],
    [good + 'consensus: { syncWindowHeights: 1000 }\n', 'consensus.syncWindowHeights: 1000: too big: expected number to be <=256; use a whole number up to 256'],
    [good + 'consensus: { syncWindowHeights: 40 }\n', 'consensus.syncWindowHeights: 40: must be at least twice the checkpoint interval (64); use a whole number up to 256, at least twice consensus.checkpointEveryHeights (default 256)'],
    [good + 'consensus: { checkpointEveryHeights: 1 }\n', 'consensus.checkpointEveryHeights: 1: too small: expected number to be >=2; use the same whole number from 2 to 4096 on every device'],
    [good + 'agents: { engine: tflite }\n', 'agents.engine: "tflite": invalid option: expected one of "onnxruntime"|"pure-ts"|"rules"; use onnxruntime (a worker thread, the default), pure-ts'],
    [good + 'radios: [{ preset: sik }]\n', 'radios.0.paths: missing; list serial radios like'],
    [good + 'radios: [{ paths: [/dev/ttyUSB0], preset: lora }]\n', 'radios.0.preset: "lora": invalid option'],
    [good + 'radios: [{ paths: [/dev/ttyUSB0], preset: sik, relaySuppress: 1 }]\n', 'radios.0.relaySuppress: 1: would cancel every relay; use 0 (never cancel) or 2..16 copies heard'],
    [good + 'radios: [{ paths: [/dev/ttyUSB0], preset: sik, relayJitterMs: 20000 }]\n', 'radios.0.relayJitterMs: 20000'],
    // Before: refused as "relayJitterMs must be 0..10000, is 33600", a field it does not have.
    [good + 'radios: [{ paths: [/dev/ttyUSB0], baud: 300, packetBytes: 252 }]\n', 'radios.0.baud: 300'],
    ['- a\n- b\n', 'device.yaml: must be a YAML mapping of fields'],
    ['id: [unclosed\n', 'device.yaml: not valid YAML'],
    // A field given twice: the line named, not the library's message cut at its trailing colon.
    [good + 'http: { port: 9471 }\nhttp: { port: 9472 }\n', 'device.yaml: not valid YAML: Map keys must be unique at line 7, column 1 ("http: { port: 9472 }"); give each field once'],
  ];
  for (const [text, message] of cases) {
    it(`refuses: ${message.slice(0, 60)}`, () => {
      const r = parseDeviceConfig(text, 'device.yaml');
      expect(r.ok).toBe(false);
      if (r.ok) return;
      expect(r.error).toContain(message);
      expect(r.error.split('\n')).toHaveLength(1);
      // One problem with a field is said once, not once per check that caught it.
      const field = /^device\.yaml: ([^:]+):/.exec(r.error)?.[1];
      if (field !== undefined) expect(r.error.split(`; ${field}: `).length, r.error).toBe(1);
    });
  }

  it('checks that the key and manifest files can be read before anything starts', () => {
    const dir = mkdtempSync(join(tmpdir(), 'murmur-cfg-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'device.yaml');
    writeFileSync(file, good);
    const r = loadDeviceConfig(file);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toBe(`${file}: key: cannot read ${join(dir, 'keys/d1.key')}; set it to the key file written by \`murmur keygen --id ID --out FILE\``);
    const missing = loadDeviceConfig(join(dir, 'nope.yaml'));
    expect(missing.ok || missing.error).toContain('cannot read the config file (ENOENT)');
    // A directory where the manifest belongs (it passed the check, and the start then said only
    // "EISDIR: illegal operation on a directory, read", with no fix).
    mkdirSync(join(dir, 'keys'));
    writeFileSync(join(dir, 'keys/d1.key'), '{}');
    mkdirSync(join(dir, 'fleet.manifest'));
    const dirManifest = loadDeviceConfig(file);
    expect(dirManifest.ok || dirManifest.error).toBe(`${file}: manifest: ${join(dir, 'fleet.manifest')} is a directory; set it to the signed manifest file written by \`murmur fleet sign\``);
  });
});

describe('zod and yaml after a parse', () => {
  it('are released once the macrotask that parsed ends: none of their modules stay in the require cache, nor zod\'s globals', async () => {
    const cache = createRequire(import.meta.url).cache;
    const held = (): string[] => Object.keys(cache).filter((f) => /\/node_modules\/(zod|yaml)\//.test(f));
    const zodOf = (): unknown => withReleasedPackages(['zod', 'yaml'], (load) => load('zod'));
    expect(parseDeviceConfig(good, '/etc/murmur/device.yaml').ok).toBe(true);
    const first = zodOf();
    expect(parseDeviceConfig('id: [', 'bad.yaml').ok).toBe(false);
    expect(parseDeviceConfig(good.replace('d1', 'D 1'), 'bad.yaml').ok).toBe(false);
    // Parses of one synchronous stretch (fleet-sim's batch of in-process devices) share one load.
    expect(zodOf()).toBe(first);
    expect(held().length).toBeGreaterThan(0);
    await new Promise((r) => setImmediate(r));
    expect(held()).toEqual([]);
    expect(Object.getOwnPropertyNames(globalThis).filter((n) => n.startsWith('__zod_'))).toEqual([]);
    // The next macrotask loads them anew, and releases them again.
    expect(zodOf()).not.toBe(first);
    await new Promise((r) => setImmediate(r));
    expect(held()).toEqual([]);
  });

  it('no two configs parsed in one stretch share an object (a default\'s nested ones included)', () => {
    const a = parseDeviceConfig(good, 'a.yaml');
    const b = parseDeviceConfig(good, 'b.yaml');
    if (!a.ok || !b.ok) throw new Error(`${a.ok ? '' : a.error} ${b.ok ? '' : b.error}`);
    expect(b.value).toEqual(a.value);
    expect(b.value.hal).not.toBe(a.value.hal);
    expect(b.value.hal.sim).not.toBe(a.value.hal.sim);
    expect(b.value.hal.sim.obstacles).not.toBe(a.value.hal.sim.obstacles);
  });

  it('zod loads without its locales (deferred), says its messages in English, and still has every locale on use', async () => {
    await new Promise((r) => setImmediate(r)); // zod released by any test before: loaded here
    const locales = (cache: NodeJS.Dict<NodeModule>): string[] => Object.keys(cache).filter((f) => /\/node_modules\/zod\/v4\/locales\/(?!en\.cjs|index\.cjs)/.test(f));
    const seen = withReleasedPackages(['zod'], (load) => {
      const { z } = load('zod') as typeof import('zod');
      const before = locales(load.cache).length;
      const message = z.number().min(3).safeParse(1).error?.issues[0]?.message;
      const idle = locales(load.cache).length;
      // Used: the real index and every locale load then, as they would have at once.
      const german = z.locales.de;
      return { before, message, idle, german: typeof german, keys: Object.keys(z.locales).length, after: locales(load.cache).length };
    }, ['zod/v4/locales']);
    expect(seen).toMatchObject({ before: 0, message: 'Too small: expected number to be >=3', idle: 0, german: 'function' });
    expect(seen.keys).toBeGreaterThan(40);
    expect(seen.after).toBeGreaterThan(40);
    await new Promise((r) => setImmediate(r));
    expect(Object.keys(createRequire(import.meta.url).cache).filter((f) => f.includes('/node_modules/zod/'))).toEqual([]);
    // Nothing the stand-in names but a module that resolves: an unknown specifier is left alone.
    expect(withReleasedPackages(['zod'], (load) => typeof (load('zod') as typeof import('zod')).z.object, ['zod/no-such-module'])).toBe('function');
  });
});
