// MAVLink 1 named from its HEARTBEATs only. Random bytes, as a wrong baud rate gives, hold a CRC-valid
// MAVLink 1 frame about every 10 MB (one of the message ids with a CRC_EXTRA, and 16 bits of CRC):
// counted as "MAVLink 1", it turned the diagnosis from "check the baud rate" to "the flight controller
// sends MAVLink 1" two minutes into a wrong-baud link at 921600. Seeded garbage with such a frame in it,
// then real MAVLink 1 heartbeats, on the splitter and through the vehicle's silence().

import { describe, expect, it } from 'vitest';
import { FrameSplitter } from '../../firmware-bridge/mavlink/codec.js';
import { MavlinkEndpoint } from '../../firmware-bridge/mavlink/endpoint.js';
import { MavlinkVehicle } from '../../firmware-bridge/mavlink/vehicle.js';
import { Prng } from '../../runtime/lib/prng.js';
import { crcExtra, payloadOf, specMessages, x25, type MessageDef } from './mavlink-spec.js';
import { memoryPair } from './memory-pair.js';
import { waitFor } from './companion.js';

/** A MAVLink 1 frame (mavlink.io serialization, v1 packet format) of `def` with `payload` as is. */
function v1Frame(def: MessageDef, payload: Uint8Array, seq: number): Buffer {
  const body = Buffer.concat([Buffer.from([0xfe, payload.length, seq, 1, 1, def.id]), payload]);
  const crc = Buffer.alloc(2);
  crc.writeUInt16LE(x25([crcExtra(def)], x25(body.subarray(1))));
  return Buffer.concat([body, crc]);
}

const heartbeatV1 = (seq: number): Buffer =>
  v1Frame(specMessages.HEARTBEAT, payloadOf(specMessages.HEARTBEAT, { type: 2, autopilot: 3, base_mode: 81, custom_mode: 0, system_status: 3, mavlink_version: 3 }), seq);

/** 64 KB of seeded random bytes with a CRC-valid MAVLink 1 SYS_STATUS (random payload) in the middle:
 *  what a wrong baud rate gives now and then. */
function garbage(seed: number): Buffer {
  const prng = new Prng(seed);
  const sysStatus = v1Frame(specMessages.SYS_STATUS, prng.bytes(31), 7);
  return Buffer.concat([Buffer.from(prng.bytes(32_000)), sysStatus, Buffer.from(prng.bytes(32_000))]);
}

describe('MAVLink 1: named from its HEARTBEATs, not from a CRC-valid frame in random bytes', () => {
  it('the splitter counts the frame in the garbage as MAVLink 1 but not as a HEARTBEAT; real ones as both', () => {
    const s = new FrameSplitter();
    const g = garbage(3);
    for (let at = 0; at < g.length; at += 200) s.push(g.subarray(at, at + 200));
    expect(s.counters).toMatchObject({ frames: 0, v1Frames: 1, v1Heartbeats: 0 });
    s.push(Buffer.concat([0, 1, 2].map(heartbeatV1)));
    expect(s.counters).toMatchObject({ frames: 0, v1Frames: 4, v1Heartbeats: 3 });
  });

  it('silence() points at the baud rate for that garbage, and names MAVLink 1 once its HEARTBEATs arrive', async () => {
    const [ours, fc] = memoryPair();
    const endpoint = new MavlinkEndpoint({ transport: ours, sysid: 245, compid: 191, heartbeat: () => ({ type: 18, autopilot: 8, baseMode: 0, customMode: 0, systemStatus: 4 }) });
    const vehicle = new MavlinkVehicle(endpoint, { family: 'ardupilot' });
    try {
      const g = garbage(3);
      for (let at = 0; at < g.length; at += 200) fc.write(g.subarray(at, at + 200));
      await waitFor('the garbage received', () => endpoint.counters().bytesReceived === g.length, 5_000);
      expect(endpoint.counters()).toMatchObject({ v1Frames: 1, v1Heartbeats: 0 });
      expect(vehicle.silence()).toMatch(/^\d+ bytes received on mem0 but no valid MAVLink 2 frame \(\d+ failed the CRC check\): check that the baud rate matches the flight controller's$/);
      fc.write(Buffer.concat([0, 1, 2].map(heartbeatV1)));
      await waitFor('the heartbeats received', () => endpoint.counters().v1Heartbeats === 3, 5_000);
      expect(vehicle.silence()).toBe('the flight controller sends MAVLink 1 (3 HEARTBEATs on mem0); Murmur speaks MAVLink 2 only: set its port to MAVLink 2 (ArduPilot: SERIALn_PROTOCOL = 2; PX4: MAV_PROTO_VER = 2)');
    } finally {
      vehicle.close();
      endpoint.stop();
    }
  });
});
