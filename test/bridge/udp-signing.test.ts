// MAVLink 2 over UDP (the 14550/14540 convention, here on free loopback ports) with message signing:
// the simulated FC (its own process) and the companion share a key; a sender without the key, or
// with a wrong one, is ignored by the FC. Also: mode encodings for PX4 and ArduPilot.

import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { randomBytes } from 'node:crypto';
import { common, minimal } from 'node-mavlink';
import { encodeFrame, signingEpochMs } from '../../firmware-bridge/mavlink/codec.js';
import { openUdp, type UdpTransport } from '../../firmware-bridge/transport.js';
import { decodeMode, encodeMode } from '../../firmware-bridge/mavlink/modes.js';
import type { FlightMode } from '../../hal/devices.js';
import type { MavlinkVehicle } from '../../firmware-bridge/mavlink/vehicle.js';
import { MavlinkEndpoint } from '../../firmware-bridge/mavlink/endpoint.js';
import { startSimFc, type SimFcProcess } from '../../firmware-bridge/tools/processes.js';
import { companion, waitFor } from './companion.js';
import { memoryPair } from './memory-pair.js';
import { cliEntry } from '../support/run-cli.js';


/** Our endpoint with signing required, on an in-memory transport: `push` feeds it bytes as received. */
function signedEndpoint(key: Uint8Array, nowMs: number): { ep: MavlinkEndpoint; push: (b: Uint8Array) => void } {
  const fed: Array<(b: Uint8Array) => void> = [];
  const ep = new MavlinkEndpoint({
    transport: {
      name: 'mem',
      write: () => undefined,
      onData: (h) => {
        fed.push(h);
        return () => undefined;
      },
      close: () => Promise.resolve(),
    },
    sysid: 9,
    compid: 1,
    heartbeat: () => ({ type: 6, autopilot: 8, baseMode: 0, customMode: 0, systemStatus: 4 }),
    signing: { key, linkId: 0 },
    nowMs: () => nowMs,
  });
  return { ep, push: (b) => fed.forEach((h) => h(b)) };
}

describe('signed streams whose clocks are more than a minute apart', () => {
  /** Two signed endpoints on an in-memory link, each on its own clock: the FC's `fcAheadMs` ahead. */
  function clocksApart(fcAheadMs: number): { host: MavlinkEndpoint; fc: MavlinkEndpoint } {
    const [a, b] = memoryPair();
    const key = randomBytes(32);
    const hb = () => ({ type: 2, autopilot: 3, baseMode: 0, customMode: 0, systemStatus: 3 });
    const host = new MavlinkEndpoint({ transport: a, sysid: 245, compid: 191, heartbeat: hb, heartbeatIntervalMs: 50, signing: { key, linkId: 1 } });
    const fc = new MavlinkEndpoint({ transport: b, sysid: 1, compid: 1, heartbeat: hb, heartbeatIntervalMs: 50, signing: { key, linkId: 0 }, nowMs: () => Date.now() + fcAheadMs });
    onTestFinished(() => {
      host.stop();
      fc.stop();
    });
    return { host, fc };
  }

  it('a flight controller 10 minutes behind is refused, then heard once it has taken our timestamp from our frames', async () => {
    const { host, fc } = clocksApart(-600_000);
    fc.start(); // its first frames are refused: a new stream that far behind may be a recording
    await new Promise((r) => setTimeout(r, 120));
    expect(host.isPeerUp(1)).toBe(false);
    expect(host.counters().rejectedReplay).toBeGreaterThan(0);
    host.start();
    await waitFor('the FC heard by the host', () => host.isPeerUp(1), 10_000);
  });

  it('a flight controller 10 minutes ahead accepts our frames once we have taken its timestamp from its frames', async () => {
    const { host, fc } = clocksApart(600_000);
    host.start();
    await new Promise((r) => setTimeout(r, 120));
    expect(fc.isPeerUp(245)).toBe(false);
    expect(fc.counters().rejectedReplay).toBeGreaterThan(0);
    fc.start();
    await waitFor('the host heard by the FC', () => fc.isPeerUp(245), 10_000);
  });
});

describe('flight modes', () => {
  it('round-trip through PX4 custom_mode (main << 16 | sub << 24) and ArduCopter mode numbers', () => {
    const modes: FlightMode[] = ['manual', 'hold', 'takeoff', 'guided', 'mission', 'land', 'return'];
    for (const m of modes) {
      expect(decodeMode('px4', encodeMode('px4', m)?.customMode ?? -1)).toBe(m);
      const apm = decodeMode('ardupilot', encodeMode('ardupilot', m)?.customMode ?? -1);
      expect(apm).toBe(m === 'takeoff' ? 'guided' : m); // ArduCopter takes off from GUIDED
    }
    expect(encodeMode('px4', 'mission')?.customMode).toBe((4 << 16) | (4 << 24)); // AUTO.MISSION
    expect(encodeMode('px4', 'guided')?.customMode).toBe(6 << 16); // OFFBOARD
    expect(encodeMode('ardupilot', 'return')?.customMode).toBe(6); // RTL
    expect(encodeMode('ardupilot', 'hold')?.customMode).toBe(5); // LOITER
  });
  it("reads ArduCopter's pilot modes as manual and its failsafe returns as return (the executor stops flying on either)", () => {
    for (const n of [11, 13, 16, 22]) expect(decodeMode('ardupilot', n)).toBe('manual'); // DRIFT, SPORT, POSHOLD, FLOWHOLD
    for (const n of [21, 27]) expect(decodeMode('ardupilot', n)).toBe('return'); // SMART_RTL, AUTO_RTL
    expect(decodeMode('ardupilot', 18)).toBe('unknown'); // THROW
  });
});

describe('UDP transport', () => {
  const udpSockets = (): number => process.getActiveResourcesInfo().filter((r) => r === 'UDPWrap').length;

  it('a port already in use rejects naming it, and leaves no socket behind', async () => {
    const taken = await openUdp({ localPort: 0 });
    const open = udpSockets();
    await expect(openUdp({ localPort: taken.localPort })).rejects.toThrow(`cannot bind UDP 127.0.0.1:${taken.localPort}: bind EADDRINUSE`);
    await new Promise((r) => setTimeout(r, 20));
    expect(udpSockets()).toBe(open);
    await taken.close();
  });

  it('close() twice resolves both times, as a serial port\'s does', async () => {
    const u = await openUdp({ localPort: 0 });
    await u.close();
    await expect(u.close()).resolves.toBeUndefined();
  });
});

describe('signed MAVLink 2 over UDP with the simulated FC', () => {
  const key = randomBytes(32);
  let fc: SimFcProcess;
  const sockets: UdpTransport[] = [];
  const endpoints: MavlinkEndpoint[] = [];
  let vehicle: MavlinkVehicle;
  let fcPort = 0;

  async function peer(signingKey: Buffer | null, remotePort?: number): Promise<{ endpoint: MavlinkEndpoint; vehicle: MavlinkVehicle }> {
    const sock = await openUdp({ localPort: 0, ...(remotePort !== undefined ? { remotePort } : {}) });
    sockets.push(sock);
    const c = companion(sock, 200, signingKey ? { key: signingKey, linkId: 1 } : undefined, { command: { timeoutMs: 300, retries: 2 } });
    endpoints.push(c.endpoint);
    return c;
  }

  beforeAll(async () => {
    const first = await openUdp({ localPort: 0 });
    const companionPort = first.localPort;
    await first.close();
    fc = await startSimFc(['--udp-local', '0', '--udp-remote', String(companionPort), '--autopilot', 'ardupilot', '--heartbeat-ms', '200', '--sign-key', key.toString('hex')], cliEntry('sim-fc'));
    fcPort = Number(fc.ready.transport.split(':')[1]);
    const sock = await openUdp({ localPort: companionPort, remotePort: fcPort });
    sockets.push(sock);
    const c = companion(sock, 200, { key, linkId: 1 });
    endpoints.push(c.endpoint);
    vehicle = c.vehicle;
  });

  afterAll(async () => {
    vehicle?.close();
    for (const e of endpoints) e.stop();
    for (const s of sockets) await s.close();
    await fc?.stop();
  });

  it('our endpoint rejects frames signed with another key and unsigned ones, and replays', () => {
    // Our clock at the signing epoch, so the timestamps below are current.
    const { ep, push } = signedEndpoint(key, signingEpochMs);
    let seen = 0;
    ep.onMessage(() => seen++);
    const hb = Object.assign(new minimal.Heartbeat(), { type: 2, autopilot: 3, baseMode: 0, customMode: 0, systemStatus: 3, mavlinkVersion: 3 });
    const good = encodeFrame(hb, { sysid: 1, compid: 1, seq: 0, signing: { key, linkId: 0, timestamp10us: 1000 } });
    push(good);
    push(good); // replay: same timestamp
    push(encodeFrame(hb, { sysid: 1, compid: 1, seq: 1 }));
    push(encodeFrame(hb, { sysid: 1, compid: 1, seq: 2, signing: { key: randomBytes(32), linkId: 0, timestamp10us: 2000 } }));
    push(encodeFrame(hb, { sysid: 1, compid: 1, seq: 3, signing: { key, linkId: 0, timestamp10us: 3000 } }));
    expect(seen).toBe(2);
    expect(ep.counters()).toMatchObject({ rejectedReplay: 1, rejectedUnsigned: 1, rejectedSignature: 1 });
  });

  it('our endpoint refuses a new stream whose timestamp is more than a minute behind its clock (a recorded session replayed after a restart)', () => {
    const nowMs = Date.UTC(2026, 0, 1);
    const { ep, push } = signedEndpoint(key, nowMs);
    let seen = 0;
    ep.onMessage(() => seen++);
    const hb = Object.assign(new minimal.Heartbeat(), { type: 2, autopilot: 3, baseMode: 0, customMode: 0, systemStatus: 3, mavlinkVersion: 3 });
    const ts = (ms: number): number => (ms - signingEpochMs) * 100;
    // Recorded two minutes ago, in order: each is newer than the last, so only the age can refuse them.
    push(encodeFrame(hb, { sysid: 1, compid: 1, seq: 0, signing: { key, linkId: 0, timestamp10us: ts(nowMs - 120_000) } }));
    push(encodeFrame(hb, { sysid: 1, compid: 1, seq: 1, signing: { key, linkId: 0, timestamp10us: ts(nowMs - 119_000) } }));
    expect(seen).toBe(0);
    // 30 s behind (clocks a little apart) is a live sender; its stream then only moves forward.
    push(encodeFrame(hb, { sysid: 2, compid: 1, seq: 0, signing: { key, linkId: 0, timestamp10us: ts(nowMs - 30_000) } }));
    expect(seen).toBe(1);
    expect(ep.counters()).toMatchObject({ rejectedReplay: 2 });
  });

  it('counts a new stream refused because 256 are remembered already apart from replays', () => {
    const nowMs = Date.UTC(2026, 0, 1);
    const { ep, push } = signedEndpoint(key, nowMs);
    let seen = 0;
    ep.onMessage(() => seen++);
    const hb = Object.assign(new minimal.Heartbeat(), { type: 2, autopilot: 3, baseMode: 0, customMode: 0, systemStatus: 3, mavlinkVersion: 3 });
    const ts = (nowMs - signingEpochMs) * 100;
    // 257 current streams (systems 100-199, components 1-3): the last one finds the table full.
    for (let i = 0; i < 257; i++) push(encodeFrame(hb, { sysid: 100 + (i % 100), compid: 1 + Math.floor(i / 100), seq: 0, signing: { key, linkId: 0, timestamp10us: ts + i } }));
    expect(seen).toBe(256);
    expect(ep.counters()).toMatchObject({ rejectedStreamsFull: 1, rejectedReplay: 0 });
  });

  it('the simulated FC ignores a signed command recorded more than a minute ago, and obeys a current one', async () => {
    // The command is signed with the right key, from a stream the FC has not heard (as after its
    // restart); the FC acknowledges to its companion port, addressed to the sender's system id.
    const intruderSysid = 200;
    const acks: number[] = [];
    const main = endpoints[0] as MavlinkEndpoint;
    const off = main.onMessage(({ msg }) => {
      if (msg instanceof common.CommandAck && msg.targetSystem === intruderSysid) acks.push(msg.command);
    });
    const sock = await openUdp({ localPort: 0, remotePort: fcPort });
    sockets.push(sock);
    const cmd = Object.assign(new common.CommandLong(), { targetSystem: 1, targetComponent: 1, command: 520, confirmation: 0, _param1: 0, _param2: 0, _param3: 0, _param4: 0, _param5: 0, _param6: 0, _param7: 0 });
    const tsAgo = (ms: number): number => Math.floor((Date.now() - ms - signingEpochMs) * 100);
    sock.write(encodeFrame(cmd, { sysid: intruderSysid, compid: 1, seq: 0, signing: { key, linkId: 3, timestamp10us: tsAgo(600_000) } }));
    await new Promise((r) => setTimeout(r, 800));
    expect(acks).toEqual([]);
    sock.write(encodeFrame(cmd, { sysid: intruderSysid, compid: 1, seq: 1, signing: { key, linkId: 3, timestamp10us: tsAgo(0) } }));
    await waitFor('the FC to acknowledge the current command', () => acks.length > 0, 3000);
    off();
  });

  it('the companion with the key hears signed heartbeats and its signed commands are obeyed', async () => {
    await waitFor('signed heartbeat from the FC', () => vehicle.connected(), 5000);
    expect(vehicle.family()).toBe('ardupilot');
    const armed = await vehicle.arm();
    expect(armed.ok).toBe(true);
    await waitFor('armed', () => vehicle.armed(), 10_000);
  });

  it('an unsigned sender and a sender with the wrong key are ignored (no ACK, no effect)', async () => {
    // Both send DISARM to the FC's port; the FC's endpoint drops them before any handler sees them.
    const unsigned = await peer(null, fcPort);
    const wrong = await peer(randomBytes(32), fcPort);
    for (const intruder of [unsigned, wrong]) {
      const r = await intruder.vehicle.disarm();
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.error.code).toBe('timeout');
      // They hear nothing from the FC (it answers its companion's port only): nothing points at signing.
      if (!r.ok) expect(r.error.message).not.toContain('signs its frames');
    }
    await new Promise((r) => setTimeout(r, 400)); // two more FC heartbeats
    expect(vehicle.armed()).toBe(true);
    expect((await vehicle.disarm()).ok).toBe(true);
  });
});

describe('a companion without the key, beside a flight controller that signs', () => {
  it('hears its signed heartbeats, and its refused command and upload time out saying the FC signs and how to give this side the key', async () => {
    const key = randomBytes(32);
    const sock = await openUdp({ localPort: 0 });
    onTestFinished(() => sock.close());
    const fc = await startSimFc(['--udp-local', '0', '--udp-remote', String(sock.localPort), '--autopilot', 'ardupilot', '--heartbeat-ms', '200', '--sign-key', key.toString('hex')], cliEntry('sim-fc'));
    onTestFinished(() => fc.stop());
    const { endpoint, vehicle } = companion(sock, 200, undefined, { command: { timeoutMs: 300, retries: 1 } });
    onTestFinished(() => {
      vehicle.close();
      endpoint.stop();
    });
    await waitFor('the signing FC heard (its frames taken unchecked)', () => vehicle.connected(), 5000);
    expect(endpoint.counters().signedUnchecked).toBeGreaterThan(0);
    const arm = await vehicle.arm();
    expect(arm.ok).toBe(false);
    if (!arm.ok) {
      expect(arm.error.code).toBe('timeout');
      expect(arm.error.message).toMatch(/^COMPONENT_ARM_DISARM: no COMMAND_ACK after 2 attempts of 300 ms; the flight controller signs its frames \(\d+ signed frames heard on udp:/);
      expect(arm.error.message).toContain('which a flight controller that enforces signing ignores: give this side the same signing key');
    }
    const up = await vehicle.upload([{ command: 16, latDeg: 47.397, lonDeg: 8.545, relAltM: 10 }], { itemTimeoutMs: 300, retries: 1 });
    expect(up.ok).toBe(false);
    if (!up.ok) expect(up.error.message).toContain('the flight controller signs its frames');
    expect(vehicle.armed()).toBe(false);
  }, 30_000);
});
