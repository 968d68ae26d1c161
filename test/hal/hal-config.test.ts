// device.yaml's hal section: configurations that would start a device on other hardware than the one
// described are refused when the file is read, naming the field and the fix.

import { describe, expect, it } from 'vitest';
import { loadDeviceConfig, parseDeviceConfig } from '../../runtime/config/device-config.js';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { createHal, loadHalDrivers } from '../../runtime/device/hal-setup.js';
import * as mavlink from '../../runtime/device/hal-mavlink.js';
import { FrameSplitter } from '../../firmware-bridge/mavlink/codec.js';
import { openSerial } from '../../firmware-bridge/transport.js';
import { startPtyPair, startSimFc } from '../../firmware-bridge/tools/processes.js';
import { waitFor } from '../bridge/companion.js';
import { cliEntry, repoRoot } from '../support/run-cli.js';

const base = 'id: v0\nkey: k\nmanifest: m\ndataDir: d\nmqtt: { url: "mqtt://127.0.0.1:1883" }\n';
const parse = (hal: string) => parseDeviceConfig(`${base}${hal}\n`, 'device.yaml');

/** Arms the vehicle and waits for its HEARTBEAT to show it armed: the FC took a command from this device. */
async function armsAndSaysSo(flight: NonNullable<ReturnType<typeof createHal>['devices']['flight']>): Promise<void> {
  expect(await flight.execute({ type: 'arm' })).toEqual({ ok: true, value: undefined });
  await waitFor('its HEARTBEAT to show it armed', () => {
    const st = flight.state();
    return st.ok && st.value.armed;
  }, 5_000);
}

/** hal.mavlink.`field` refused at 0, 256 and `other`, each naming the field, what it got and `fix`. */
function refusesOutside1To255(field: string, fix: string, other: [string, string]): void {
  for (const [value, got] of [['0', '0: too small: expected number to be >=1'], ['256', '256: too big: expected number to be <=255'], other]) {
    const r = parse(`hal: { driver: mavlink, mavlink: { serial: /dev/ttyACM0, ${field}: ${value} } }`);
    expect(r.ok ? 'accepted' : r.error).toBe(`device.yaml: hal.mavlink.${field}: ${got}; ${fix}`);
  }
}

describe('device.yaml hal section', () => {
  it('loads the MAVLink drivers only for hal.driver mavlink, and serialport only when a port opens; without the drivers loaded, createHal says so', async () => {
    const sim = parse('hal: { driver: sim }');
    const fc = parse('hal: { driver: mavlink, mavlink: { serial: /dev/ttyACM0, autopilot: px4 } }');
    if (!sim.ok || !fc.ok) throw new Error(`${sim.ok ? '' : sim.error} ${fc.ok ? '' : fc.error}`);
    expect(await loadHalDrivers(sim.value)).toEqual({});
    expect(typeof (await loadHalDrivers(fc.value)).mavlink?.mavlinkHal).toBe('function');
    expect(() => createHal(fc.value, Date.now(), {})).toThrow('hal.driver mavlink: its drivers were not loaded (loadHalDrivers)');
    // A device's module graph leaves node-mavlink and serialport (CommonJS, so in require's cache once
    // loaded) out; loading the drivers brings node-mavlink in, opening a serial port serialport. In a
    // fresh process: this one's test files load both anyway.
    const probe = `import { createRequire } from 'node:module';
      const loaded = (p) => Object.keys(createRequire(import.meta.url).cache).some((k) => k.includes('/node_modules/' + p + '/'));
      const { openDevice } = await import('./runtime/device/device.ts');
      const { loadHalDrivers } = await import('./runtime/device/hal-setup.ts');
      const { openSerial } = await import('./firmware-bridge/transport.ts');
      const before = typeof openDevice === 'function' && { mavlink: loaded('node-mavlink'), serialport: loaded('serialport') };
      await loadHalDrivers({ hal: { driver: 'mavlink' } });
      const opened = await openSerial({ path: '/nonexistent/tty-murmur-probe', baudRate: 9600 }).then(() => 'opened', (e) => e.message);
      console.log(JSON.stringify({ before, after: { mavlink: loaded('node-mavlink'), serialport: loaded('serialport') }, opened }));`;
    const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', probe], { cwd: repoRoot, encoding: 'utf8', timeout: 30_000 });
    expect(JSON.parse(out.trim().split('\n').at(-1) ?? '')).toEqual({
      before: { mavlink: false, serialport: false },
      after: { mavlink: true, serialport: true },
      opened: expect.stringContaining('cannot open serial port /nonexistent/tty-murmur-probe: '),
    });
  }, 40_000);

  it("simulated vehicles: each device's noise is its own unless hal.sim.seed says otherwise, and a device's is the same at every start", async () => {
    // Before, every device without a seed took seed 1: all the drones of a quickstart read the same GNSS
    // errors at the same moments (status showed them off by the same metres).
    const fixes = async (id: string, sim = ''): Promise<string[]> => {
      const c = parseDeviceConfig(`${base.replace('id: v0', `id: ${id}`)}hal: { driver: sim${sim} }\n`, 'device.yaml');
      if (!c.ok) throw new Error(c.error);
      const hal = createHal(c.value, 0, {});
      await hal.start();
      const out: string[] = [];
      for (let t = 0; t <= 3_000; t += 100) {
        hal.step(t);
        const f = hal.devices.position?.fix();
        if (t % 1_000 === 0 && f?.ok) out.push(`${f.value.latDeg.toFixed(7)},${f.value.lonDeg.toFixed(7)},${f.value.altMslM.toFixed(2)}`);
      }
      await hal.stop();
      expect(out).toHaveLength(4);
      return out;
    };
    const [a, b, a2] = [await fixes('d1'), await fixes('d2'), await fixes('d1')];
    expect(a2).toEqual(a);
    for (let i = 0; i < a.length; i++) expect(b[i]).not.toBe(a[i]);
    expect(await fixes('d2', ', sim: { seed: 7 }')).toEqual(await fixes('d1', ', sim: { seed: 7 }'));
  });

  it('refuses hal.mavlink without driver: mavlink (the default driver is the simulated vehicle)', () => {
    // Accepted before: the device flew a simulated vehicle while its flight controller sat unused.
    const r = parse('hal: { mavlink: { serial: /dev/ttyACM0, baud: 921600, autopilot: px4 } }');
    expect(r.ok ? `accepted, driver ${r.value.hal.driver}` : r.error).toBe(
      'device.yaml: hal.mavlink: set, but hal.driver is sim (the default: a simulated vehicle); add `driver: mavlink` to fly the flight controller on /dev/ttyACM0, or remove hal.mavlink',
    );
  });

  it('refuses hal.mavlink with driver: none the same way', () => {
    const r = parse('hal: { driver: none, mavlink: { serial: /dev/ttyACM0 } }');
    expect(r.ok ? 'accepted' : r.error).toContain('hal.mavlink: set, but hal.driver is none');
  });

  it('refuses one serial port for both the flight controller and the GNSS receiver', () => {
    const r = parse('hal: { driver: mavlink, mavlink: { serial: /dev/ttyAMA0 }, gnss: { driver: nmea, serial: /dev/ttyAMA0 } }');
    expect(r.ok ? 'accepted' : r.error).toBe('device.yaml: hal.gnss.serial: /dev/ttyAMA0 is also hal.mavlink.serial; a port carries one of them: give the receiver its own port, or remove hal.gnss to use the flight controller\'s position');
  });

  it('refuses a MAVLink system id outside 1-255, naming hal.mavlink.systemId and the range', () => {
    refusesOutside1To255('systemId', 'use a whole number from 1 to 255: the MAVLink system id this device speaks as (default 245; the flight controller\'s own, usually 1, makes the device a component of the vehicle)', ['2.5', 'is 2.5, expected a whole number']);
    const dflt = parse('hal: { driver: mavlink, mavlink: { serial: /dev/ttyACM0 } }');
    expect(dflt.ok && dflt.value.hal.mavlink?.systemId).toBe(245); // what the device always spoke as
    const one = parse('hal: { driver: mavlink, mavlink: { serial: /dev/ttyACM0, systemId: 1 } }');
    expect(one.ok && one.value.hal.mavlink?.systemId).toBe(1);
  });

  it('the device speaks to its flight controller as hal.mavlink.systemId (read off a pty)', async () => {
    const pty = await startPtyPair();
    const fcSide = await openSerial({ path: pty.b, baudRate: 921_600 });
    const heard: Array<{ sysid: number; compid: number }> = [];
    const splitter = new FrameSplitter();
    fcSide.onData((c) => heard.push(...splitter.push(c).map((f) => ({ sysid: f.sysid, compid: f.compid }))));
    const c = parse(`hal: { driver: mavlink, mavlink: { serial: ${pty.a}, systemId: 7 } }`);
    const hal = c.ok ? createHal(c.value, Date.now(), { mavlink }) : null;
    try {
      if (hal === null) throw new Error(c.ok ? '' : c.error);
      await hal.start();
      await waitFor('the device\'s first HEARTBEAT', () => heard.length > 0, 3000);
      expect(heard[0]).toEqual({ sysid: 7, compid: 191 });
    } finally {
      await hal?.stop();
      await fcSide.close();
      await pty.stop();
    }
  });

  it('takes the flight controller\'s ids as hal.mavlink.fcSystemId and fcComponentId (1-255, default 1 and 1), naming the field and the range', () => {
    refusesOutside1To255('fcSystemId', 'use a whole number from 1 to 255: the flight controller\'s MAVLink system id (ArduPilot SYSID_THISMAV, PX4 MAV_SYS_ID; default 1)', ['"two"', 'is "two", expected a number']);
    const dflt = parse('hal: { driver: mavlink, mavlink: { serial: /dev/ttyACM0 } }');
    expect(dflt.ok && [dflt.value.hal.mavlink?.fcSystemId, dflt.value.hal.mavlink?.fcComponentId]).toEqual([1, 1]);
    const two = parse('hal: { driver: mavlink, mavlink: { serial: /dev/ttyACM0, fcSystemId: 2, fcComponentId: 1 } }');
    expect(two.ok && two.value.hal.mavlink?.fcSystemId).toBe(2);
    // The device's own address (systemId, component 191): its frames would be dropped as our own echo.
    const own = parse('hal: { driver: mavlink, mavlink: { serial: /dev/ttyACM0, systemId: 7, fcSystemId: 7, fcComponentId: 191 } }');
    expect(own.ok ? 'accepted' : own.error).toBe(
      'device.yaml: hal.mavlink.fcComponentId: 191: is this device\'s own MAVLink address (system 7, component 191); use a whole number from 1 to 255: the flight controller\'s MAVLink component id (default 1, an autopilot\'s; not 191 on the device\'s own system id)',
    );
  });

  it('flies a flight controller on system 2 (sim-fc --sysid 2) with hal.mavlink.fcSystemId: 2; without it, says which field to set', async () => {
    const pty = await startPtyPair();
    const fc = await startSimFc(['--serial', pty.b, '--autopilot', 'ardupilot', '--heartbeat-ms', '200', '--sysid', '2'], cliEntry('sim-fc'));
    const hals: Array<ReturnType<typeof createHal>> = [];
    const halFor = (extra: string): ReturnType<typeof createHal> => {
      const c = parse(`hal: { driver: mavlink, mavlink: { serial: ${pty.a}, autopilot: ardupilot${extra} } }`);
      if (!c.ok) throw new Error(c.error);
      const hal = createHal(c.value, Date.now(), { mavlink });
      hals.push(hal);
      return hal;
    };
    try {
      // First as before: the FC expected as system 1.
      const wrong = halFor('');
      await wrong.start();
      const flight0 = wrong.devices.flight;
      if (!flight0) throw new Error('no flight device');
      await waitFor('the heartbeats of system 2 heard', () => {
        const s = flight0.state();
        return !s.ok && s.error.message.includes('from system 2');
      }, 10_000);
      const s0 = flight0.state();
      expect(!s0.ok && s0.error.message).toContain('HEARTBEATs arrive on serial:' + pty.a + ' from system 2, but the flight controller is expected as system 1; if system 2 is the flight controller, set `hal.mavlink.fcSystemId: 2` in device.yaml');
      await wrong.stop();
      // Then as the message says.
      const right = halFor(', fcSystemId: 2');
      await right.start();
      const flight = right.devices.flight;
      const position = right.devices.position;
      if (!flight || !position) throw new Error('no flight or position device');
      await waitFor('the FC on system 2, with a fix', () => flight.state().ok && position.fix().ok, 10_000);
      await armsAndSaysSo(flight);
    } finally {
      for (const h of hals) await h.stop();
      await fc.stop();
      await pty.stop();
    }
  }, 30_000);

  it('hal.mavlink.signingKeyFile: a flight controller that enforces signing (sim-fc --sign-key) is flown with the key; a file without one is refused naming the field', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'murmur-signing-'));
    const key = 'ab'.repeat(32);
    writeFileSync(join(dir, 'fc.sign'), `${key}\n`);
    writeFileSync(join(dir, 'bad.sign'), 'not a key\n');
    // The key and manifest device.yaml names (base: k and m) are only checked readable here.
    for (const f of ['k', 'm']) writeFileSync(join(dir, f), '');
    const pty = await startPtyPair();
    const fc = await startSimFc(['--serial', pty.b, '--autopilot', 'ardupilot', '--heartbeat-ms', '200', '--sign-key', key], cliEntry('sim-fc'));
    const config = (keyFile: string): string => {
      writeFileSync(join(dir, 'device.yaml'), `${base}hal: { driver: mavlink, mavlink: { serial: ${pty.a}, autopilot: ardupilot, signingKeyFile: ${keyFile} } }\n`);
      return join(dir, 'device.yaml');
    };
    let hal: ReturnType<typeof createHal> | null = null;
    try {
      const bad = loadDeviceConfig(config('bad.sign'));
      expect(bad.ok ? '' : bad.error).toContain(`hal.mavlink.signingKeyFile: ${join(dir, 'bad.sign')} does not hold a signing key: 64 hex digits, 9 characters found; set it to a file holding`);
      const c = parseDeviceConfig(readFileSync(config('fc.sign'), 'utf8'), join(dir, 'device.yaml'));
      if (!c.ok) throw new Error(c.error);
      expect(c.value.hal.mavlink?.signingKeyFile).toBe(join(dir, 'fc.sign'));
      hal = createHal(c.value, Date.now(), { mavlink });
      await hal.start();
      const flight = hal.devices.flight;
      if (!flight) throw new Error('no flight device');
      await waitFor('the signing FC heard', () => flight.state().ok, 10_000);
      // Arming is a COMMAND_LONG the FC acts on only when it is signed with its key.
      await armsAndSaysSo(flight);
    } finally {
      await hal?.stop();
      await fc.stop();
      await pty.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);

  it('hal.mavlink.fenceAction reaches the flight controller: land is set with the fence kept there (the simulated FC process on a pty)', async () => {
    const pty = await startPtyPair();
    const fc = await startSimFc(['--serial', pty.b, '--autopilot', 'ardupilot', '--heartbeat-ms', '200', '--fence-action', 'report'], cliEntry('sim-fc'));
    const c = parse(`hal: { driver: mavlink, mavlink: { serial: ${pty.a}, autopilot: ardupilot, fenceAction: land } }`);
    const hal = c.ok ? createHal(c.value, Date.now(), { mavlink }) : null;
    try {
      if (hal === null) throw new Error(c.ok ? '' : c.error);
      await hal.start();
      const flight = hal.devices.flight;
      if (!flight?.keepFence || !flight.fenceStatus) throw new Error('no flight device keeping a fence');
      flight.keepFence({ polygon: [{ latDeg: 47.397, lonDeg: 8.545 }, { latDeg: 47.399, lonDeg: 8.545 }, { latDeg: 47.398, lonDeg: 8.547 }], altMaxM: null });
      await waitFor('the fence on the FC', () => flight.fenceStatus?.()?.state === 'on-fc', 15_000);
      // land: FENCE_ACTION 2, confirmed by the FC's PARAM_VALUE (the default, leave, would read report).
      expect(flight.fenceStatus()).toMatchObject({ state: 'on-fc', breachAction: 'land', warning: null });
    } finally {
      await hal?.stop();
      await fc.stop();
      await pty.stop();
    }
  }, 30_000);

  it('still accepts the documented combinations', () => {
    expect(parse('hal: { driver: mavlink, mavlink: { serial: /dev/ttyACM0 }, gnss: { driver: nmea, serial: /dev/ttyAMA0 } }').ok).toBe(true);
    expect(parse('hal: { driver: none, gnss: { driver: nmea, serial: /dev/ttyAMA0 } }').ok).toBe(true);
    expect(parse('hal: { driver: sim, sim: { seed: 3 } }').ok).toBe(true);
  });
});
