// A stray start byte (0xFD, or MAVLink 1's 0xFE) on the line, with a large length after it: the frames
// behind it must not wait for that many more bytes. Judged at the header where that is sound (an
// unknown message id); otherwise given up once the stream goes quiet. The splitter on its own, then
// the simulated flight controller (its own process, on a socat pty) obeying a command sent right
// after a stray header on a line that then falls silent.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { minimal } from 'node-mavlink';
import { encodeFrame, FrameSplitter } from '../../firmware-bridge/mavlink/codec.js';
import type { ByteTransport } from '../../firmware-bridge/transport.js';
import type { MavlinkEndpoint } from '../../firmware-bridge/mavlink/endpoint.js';
import type { MavlinkVehicle } from '../../firmware-bridge/mavlink/vehicle.js';
import { simFcRig, waitFor, type SimFcRig } from './companion.js';

const heartbeat = encodeFrame(Object.assign(new minimal.Heartbeat(), { type: 2, autopilot: 12, baseMode: 0, customMode: 0, systemStatus: 3, mavlinkVersion: 3 }), { sysid: 1, compid: 1, seq: 0 });
/** STX, length 200, no flags, seq, system 245, component 191, message id 0 (HEARTBEAT: known, and a
 *  newer dialect may make any message longer, so the length cannot be refused): 212 bytes announced. */
const strayKnown = Buffer.from([0xfd, 200, 0, 0, 0, 245, 191, 0, 0, 0]);

describe('the frame splitter after a stray STX', () => {
  it('judges a header naming an unknown message at once: the frame behind it comes out in the same read', () => {
    const s = new FrameSplitter();
    const unknownV2 = Buffer.from([0xfd, 255, 0, 0, 0, 1, 1, 0xff, 0xff, 0xff]); // id 0xFFFFFF, 267 bytes announced
    const unknownV1 = Buffer.from([0xfe, 255, 0, 1, 1, 3]); // MAVLink 1, id 3 (none), 263 bytes announced
    expect(s.push(Buffer.concat([unknownV2, heartbeat, unknownV1, heartbeat])).map((f) => f.bytes)).toEqual([heartbeat, heartbeat]);
    expect(s.heldBytes).toBe(0);
  });

  it('holds the frames behind a header naming a known message until flush(), which gives that header up', () => {
    const s = new FrameSplitter();
    expect(s.push(Buffer.concat([strayKnown, heartbeat]))).toEqual([]);
    expect(s.heldBytes).toBe(strayKnown.length + heartbeat.length);
    expect(s.flush().map((f) => f.bytes)).toEqual([heartbeat]);
    expect(s.heldBytes).toBe(0);
    expect(s.counters).toMatchObject({ frames: 1, idleRescans: 1 });
    expect(s.flush()).toEqual([]); // nothing held: nothing to give up
    expect(s.counters.idleRescans).toBe(1);
  });

  it('a frame split across reads still comes out whole (flush is only for a quiet line)', () => {
    const s = new FrameSplitter();
    expect(s.push(heartbeat.subarray(0, 7))).toEqual([]);
    expect(s.push(heartbeat.subarray(7)).map((f) => f.bytes)).toEqual([heartbeat]);
  });
});

describe('a stray STX on the line to the simulated flight controller', () => {
  let rig: SimFcRig;
  let port: ByteTransport;
  let endpoint: MavlinkEndpoint;
  let vehicle: MavlinkVehicle;

  beforeAll(async () => {
    rig = await simFcRig(['--autopilot', 'px4', '--seed', '9'], 1000, { imuRateHz: 0 });
    ({ port, endpoint, vehicle } = rig);
  });

  afterAll(() => rig?.stop());

  it('obeys a command sent right after it, on a line that then stays quiet, at the first attempt', async () => {
    await waitFor('FC heartbeat', () => vehicle.connected(), 5000);
    // Nothing else from us after the command: without the quiet-line rescan the FC would hold the
    // command behind the stray header until 212 bytes had come, i.e. past this command's one attempt.
    endpoint.heartbeatsEnabled = false;
    port.write(strayKnown);
    const started = Date.now();
    const r = await vehicle.commands.long(400, [1], { timeoutMs: 3000, retries: 0 });
    expect(r.ok ? r.value.attempts : r.error.message).toBe(1);
    expect(Date.now() - started).toBeLessThan(2000);
    endpoint.heartbeatsEnabled = true;
  });
});
