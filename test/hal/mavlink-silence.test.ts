// A flight controller that is there but not understood, through the HAL device.yaml builds: until its
// first HEARTBEAT, the flight device's error says what the port did carry and what to change (MAVLink
// 1, another system id, garbage as from a wrong baud rate, even with a CRC-valid MAVLink 1 frame in it,
// nothing at all). The test plays the flight controller on the far end of a socat pty, with frames
// built from the specification.

import { describe, expect, it, type TestContext } from 'vitest';
import { parseDeviceConfig } from '../../runtime/config/device-config.js';
import { createHal, type Hal } from '../../runtime/device/hal-setup.js';
import * as mavlink from '../../runtime/device/hal-mavlink.js';
import { unwrap } from '../../runtime/lib/result.js';
import { Prng } from '../../runtime/lib/prng.js';
import { openSerial, type ByteTransport } from '../../firmware-bridge/transport.js';
import { PtyPair } from '../links/processes.js';
import { crcExtra, frameOf, payloadOf, specMessages, x25 } from '../bridge/mavlink-spec.js';

const base = 'id: v0\nkey: k\nmanifest: m\ndataDir: d\nmqtt: { url: "mqtt://127.0.0.1:1883" }\n';
const heartbeat = { type: 2, autopilot: 3, base_mode: 81, custom_mode: 0, system_status: 3, mavlink_version: 3 };

/** A MAVLink 1 frame (mavlink.io serialization, v1 packet format): no truncation, 1-byte message id. */
function v1Frame(seq: number): Buffer {
  const payload = payloadOf(specMessages.HEARTBEAT, heartbeat);
  const body = Buffer.concat([Buffer.from([0xfe, payload.length, seq, 1, 1, specMessages.HEARTBEAT.id]), payload]);
  const crc = Buffer.alloc(2);
  crc.writeUInt16LE(x25([crcExtra(specMessages.HEARTBEAT)], x25(body.subarray(1))));
  return Buffer.concat([body, crc]);
}

/** A HAL on one end of a pty; `feed` plays the flight controller on the other, every 100 ms for 1.5 s.
 *  Each test has its own pty and HAL, so the tests run at once (describe.concurrent); each stops what
 *  it made at its end, passed or failed, through its onTestFinished. */
async function flightError(t: TestContext, feed: ((i: number) => Buffer) | null): Promise<string> {
  const cleanup: Array<() => Promise<void>> = [];
  t.onTestFinished(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });
  const pty = await PtyPair.start();
  cleanup.push(() => pty.stop());
  const far: ByteTransport = await openSerial({ path: pty.b, baudRate: 57_600 });
  cleanup.push(() => far.close());
  const hal: Hal = createHal(unwrap(parseDeviceConfig(`${base}hal: { driver: mavlink, mavlink: { serial: "${pty.a}", baud: 57600, autopilot: ardupilot } }\n`, '/tmp/device.yaml')), Date.now(), { mavlink });
  cleanup.push(() => hal.stop());
  await hal.start();
  for (let i = 0; i < 15; i++) {
    if (feed) far.write(feed(i));
    await new Promise((r) => setTimeout(r, 100));
  }
  const s = hal.devices.flight?.state();
  if (!s || s.ok) throw new Error(`expected the flight state to fail, got ${JSON.stringify(s)}`);
  expect(s.error.code).toBe('no-data');
  return s.error.message;
}

describe.concurrent('hal.driver: mavlink, a flight controller that is not understood', () => {
  it('names MAVLink 1 and the parameter that switches the port to MAVLink 2', async (t) => {
    const m = await flightError(t, (i) => v1Frame(i));
    expect(m).toContain('no HEARTBEAT from the flight controller yet: the flight controller sends MAVLink 1');
    expect(m).toContain('SERIALn_PROTOCOL = 2');
  }, 20_000);

  it('names the system id the heartbeats come from, and the field that sets the flight controller\'s', async (t) => {
    const m = await flightError(t, (i) => frameOf(specMessages.HEARTBEAT, heartbeat, { seq: i, sysid: 2, compid: 1 }));
    expect(m).toContain('from system 2, but the flight controller is expected as system 1; if system 2 is the flight controller, set `hal.mavlink.fcSystemId: 2` in device.yaml');
  }, 20_000);

  it('points at the baud rate when only garbage arrives', async (t) => {
    const prng = new Prng(7);
    const m = await flightError(t, () => Buffer.from(prng.bytes(200)));
    expect(m).toMatch(/\d+ bytes received on serial:.* but no valid MAVLink 2 frame .*check that the baud rate matches/);
  }, 20_000);

  it('still points at the baud rate when the garbage holds a CRC-valid MAVLink 1 frame (one in 10 MB of random bytes does)', async (t) => {
    const prng = new Prng(9);
    const sysStatus = (() => {
      const payload = Buffer.from(prng.bytes(31));
      const body = Buffer.concat([Buffer.from([0xfe, payload.length, 0, 1, 1, specMessages.SYS_STATUS.id]), payload]);
      const crc = Buffer.alloc(2);
      crc.writeUInt16LE(x25([crcExtra(specMessages.SYS_STATUS)], x25(body.subarray(1))));
      return Buffer.concat([body, crc]);
    })();
    const m = await flightError(t, (i) => Buffer.concat([Buffer.from(prng.bytes(200)), i === 2 ? sysStatus : Buffer.alloc(0)]));
    expect(m).toMatch(/\d+ bytes received on serial:.* but no valid MAVLink 2 frame .*check that the baud rate matches/);
    expect(m).not.toContain('MAVLink 1');
  }, 20_000);

  it('says nothing arrived when the port is silent', async (t) => {
    const m = await flightError(t, null);
    expect(m).toContain('nothing received on serial:');
  }, 20_000);
});
