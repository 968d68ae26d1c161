// MAVLink 2 frames checked byte for byte against vectors built from the specification (CRC_EXTRA,
// X.25 checksum, truncation, signature), and decoded again by a second, independent npm decoder
// (@ifrunistuttgart/node-mavlink, with message classes we define from the spec).

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ardupilotmega, common, minimal, type MavLinkData } from 'node-mavlink';
import { MAVLinkModule, MAVLinkMessage } from '@ifrunistuttgart/node-mavlink';
import { crcExtraOf, decodeMessage, encodeFrame, FrameSplitter, verifySignature } from '../../firmware-bridge/mavlink/codec.js';
import { crcExtra, frameOf, publishedCrcExtra, signFrame, specMessages, wireOrder, x25, type MessageDef } from './mavlink-spec.js';

const hdr = { seq: 7, sysid: 1, compid: 1 };

function build<T extends MavLinkData>(m: T, values: Partial<T>): T {
  return Object.assign(m, values);
}

const arm = () => build(new common.CommandLong(), { targetSystem: 1, targetComponent: 1, command: 400, confirmation: 1, _param1: 1, _param2: 0, _param3: 0, _param4: 0, _param5: 0, _param6: 0, _param7: 0 });
const position = () => build(new common.GlobalPositionInt(), { timeBootMs: 123456, lat: 473977420, lon: 85455940, alt: 498123, relativeAlt: 10123, vx: -150, vy: 230, vz: -5, hdg: 27001 });

/** Spec-side values keyed by XML field names, for the same messages. The second decoder throws when
 *  truncation removes a whole base field and reads a last field whose first byte is 0 as 0, so each
 *  case ends its wire order on a field with a non-zero first byte; the
 *  truncation rule itself is checked byte for byte against the spec frames. */
const cases: Array<{ def: MessageDef; msg: () => MavLinkData; values: Record<string, number> }> = [
  {
    def: specMessages.HEARTBEAT,
    msg: () => build(new minimal.Heartbeat(), { type: 2, autopilot: 12, baseMode: 129 as minimal.MavModeFlag, customMode: 0x04040000, systemStatus: 4, mavlinkVersion: 3 }),
    values: { type: 2, autopilot: 12, base_mode: 129, custom_mode: 0x04040000, system_status: 4, mavlink_version: 3 },
  },
  { def: specMessages.COMMAND_LONG, msg: arm, values: { target_system: 1, target_component: 1, command: 400, confirmation: 1, param1: 1 } },
  {
    def: specMessages.GLOBAL_POSITION_INT,
    msg: position,
    values: { time_boot_ms: 123456, lat: 473977420, lon: 85455940, alt: 498123, relative_alt: 10123, vx: -150, vy: 230, vz: -5, hdg: 27001 },
  },
  {
    def: specMessages.MISSION_ITEM_INT,
    msg: () =>
      build(new common.MissionItemInt(), { targetSystem: 1, targetComponent: 1, seq: 3, frame: 6, command: 16, current: 0, autocontinue: 1, param1: 0, param2: 2, param3: 0, param4: 0, x: 473980000, y: 85460000, z: 25, missionType: 0 }),
    values: { target_system: 1, target_component: 1, seq: 3, frame: 6, command: 16, current: 0, autocontinue: 1, param2: 2, x: 473980000, y: 85460000, z: 25 },
  },
  {
    def: specMessages.ATTITUDE,
    msg: () => build(new common.Attitude(), { timeBootMs: 1000, roll: 0.1, pitch: -0.2, yaw: 3.0, rollspeed: 0.01, pitchspeed: 0, yawspeed: -0.55 }),
    values: { time_boot_ms: 1000, roll: 0.1, pitch: -0.2, yaw: 3.0, rollspeed: 0.01, yawspeed: -0.55 },
  },
  {
    def: specMessages.COMMAND_ACK,
    msg: () => build(new common.CommandAck(), { command: 22, result: 5, progress: 40, resultParam2: 0, targetSystem: 245, targetComponent: 191 }),
    values: { command: 22, result: 5, progress: 40, result_param2: 0, target_system: 245, target_component: 191 },
  },
  {
    // Its "variances" are normalised innovation test ratios; flags: attitude, velocities, positions
    // (relative and absolute, and predicted), vertical absolute.
    def: specMessages.EKF_STATUS_REPORT,
    msg: () => build(new ardupilotmega.EkfStatusReport(), { flags: 0x33f as ardupilotmega.EkfStatusFlags, velocityVariance: 0.1, posHorizVariance: 0.25, posVertVariance: 0.5, compassVariance: 0.05, terrainAltVariance: 0, airspeedVariance: 0 }),
    values: { flags: 0x33f, velocity_variance: 0.1, pos_horiz_variance: 0.25, pos_vert_variance: 0.5, compass_variance: 0.05 },
  },
  {
    def: specMessages.EXTENDED_SYS_STATE,
    msg: () => build(new common.ExtendedSysState(), { vtolState: 0, landedState: 2 }),
    values: { vtol_state: 0, landed_state: 2 },
  },
];

describe('MAVLink 2 against the specification', () => {
  it('X.25 (CRC-16/MCRF4XX) gives the catalogue check value 0x6F91 for "123456789"', () => {
    expect(x25(Buffer.from('123456789'))).toBe(0x6f91);
  });

  it('CRC_EXTRA computed from each field list matches the published value and node-mavlink', () => {
    for (const [name, def] of Object.entries(specMessages)) {
      expect(crcExtra(def), name).toBe(publishedCrcExtra[name as keyof typeof specMessages]);
      expect(crcExtraOf(def.id), name).toBe(crcExtra(def));
    }
  });

  it('encodes frames byte for byte as the spec lays them out (reordering, truncation, checksum)', () => {
    for (const c of cases) {
      const ours = encodeFrame(c.msg(), hdr);
      const spec = frameOf(c.def, c.values, hdr);
      expect(ours.toString('hex'), c.def.name).toBe(spec.toString('hex'));
    }
    // A hand-checked vector: HEARTBEAT (payload reordered: custom_mode first), CRC over bytes 1.. plus CRC_EXTRA 50.
    expect(frameOf(specMessages.HEARTBEAT, { type: 2, autopilot: 12, base_mode: 129, custom_mode: 0x04040000, system_status: 4, mavlink_version: 3 }, hdr).subarray(0, 19).toString('hex')).toBe(
      'fd09000007010100000000000404020c810403',
    );
  });

  it('truncates trailing zero payload bytes but keeps one (an all-zero EXTENDED_SYS_STATE)', () => {
    const f = encodeFrame(build(new common.ExtendedSysState(), { vtolState: 0, landedState: 0 }), hdr);
    expect(f[1]).toBe(1);
    expect(f.length).toBe(10 + 1 + 2);
  });

  it('signs as the spec says: incompat flag 0x01 inside the CRC, SHA-256 over key, frame, link id and timestamp', () => {
    const key = Buffer.from('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f', 'hex');
    const ts = 0x123456789a;
    const ours = encodeFrame(arm(), { ...hdr, signing: { key, linkId: 3, timestamp10us: ts } });
    const unsigned = frameOf(specMessages.COMMAND_LONG, cases[1]!.values, { ...hdr, incompat: 1 });
    expect(ours.toString('hex')).toBe(signFrame(unsigned, key, 3, ts).toString('hex'));
    const [frame] = new FrameSplitter().push(ours);
    expect(frame?.signed).toBe(true);
    expect(verifySignature(frame!, key)).toBe(true);
    const forged = Buffer.from(ours);
    forged[forged.length - 1]! ^= 0x01;
    const [bad] = new FrameSplitter().push(forged);
    expect(verifySignature(bad!, key)).toBe(false);
    expect(verifySignature(frame!, Buffer.alloc(32))).toBe(false);
  });

  it('the splitter drops a frame with any single corrupted byte and still finds the frames around it', () => {
    const good = encodeFrame(position(), hdr);
    for (let i = 1; i < good.length; i++) {
      const bad = Buffer.from(good);
      bad[i]! ^= 0x5a;
      const s = new FrameSplitter();
      // A corrupted length can make the splitter wait for more bytes; the frames behind it come out
      // once they arrive, because a bad CRC skips one byte and rescans instead of dropping the window.
      const out = [...s.push(Buffer.concat([good, bad, good])), ...s.push(Buffer.concat(Array.from({ length: 8 }, () => good)))];
      expect(out.length, `corrupt byte ${i}`).toBe(10);
      expect(out.every((f) => f.bytes.equals(good))).toBe(true);
    }
  });

  it('counts a frame with an incompatibility flag it does not know as such, apart from checksum failures', () => {
    const good = encodeFrame(position(), hdr);
    const flagged = Buffer.from(good);
    flagged[2] = 0x02; // a flag after "signed" (0x01): the spec says drop the frame
    const corrupt = Buffer.from(good);
    corrupt[good.length - 1]! ^= 0xff; // the checksum's high byte
    const s = new FrameSplitter();
    expect(s.push(Buffer.concat([flagged, corrupt, good])).map((f) => f.bytes)).toEqual([good]);
    expect(s.counters).toMatchObject({ frames: 1, unknownFlags: 1, badCrc: 1 });
  });

  it('splits every frame of one large read (5,000 frames in one chunk)', () => {
    const frames = Array.from({ length: 5000 }, (_, i) => encodeFrame(position(), { ...hdr, seq: i }));
    const out = new FrameSplitter().push(Buffer.concat(frames));
    expect(out.length).toBe(5000);
    expect(out[4999]?.seq).toBe(4999 & 0xff);
  });

  it('hostile input: random bytes around good frames never throw and never yield a frame that was not sent', () => {
    const good = cases.map((c) => encodeFrame(c.msg(), hdr));
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.uint8Array({ maxLength: 300 }), fc.constantFrom(...good)), { maxLength: 12 }), fc.integer({ min: 1, max: 64 }), (parts, chunk) => {
        const stream = Buffer.concat(parts);
        const s = new FrameSplitter();
        const out = [];
        for (let i = 0; i < stream.length; i += chunk) out.push(...s.push(stream.subarray(i, i + chunk)));
        const sent = parts.filter((p) => good.includes(p as Buffer)).length;
        // A random run of bytes passes as a frame only if it has a known id and a matching CRC
        // (odds far below 1e-9 here), so every frame out must be one we sent, byte for byte.
        for (const f of out) expect(good.some((g) => g.equals(f.bytes))).toBe(true);
        expect(out.length).toBeLessThanOrEqual(sent);
      }),
      { numRuns: 300 },
    );
  });

  it('a second, independent decoder from npm reads our frames to the same field values', async () => {
    for (const c of cases) {
      const ours = encodeFrame(c.msg(), hdr);
      const decoded = await secondDecoder(c.def, ours);
      for (const f of c.def.fields) {
        const want = c.values[f.name] ?? 0;
        expect(decoded[f.name], `${c.def.name}.${f.name}`).toBeCloseTo(want, 5);
      }
      // And node-mavlink's decode of our own splitter's frame agrees.
      const [frame] = new FrameSplitter().push(ours);
      expect(decodeMessage(frame!)?.constructor).toBe(c.msg().constructor);
    }
  });
});

/** Decodes one frame with @ifrunistuttgart/node-mavlink, given a message class written from the spec. */
async function secondDecoder(def: MessageDef, frame: Buffer): Promise<Record<string, number>> {
  const order = wireOrder({ ...def, extensions: [] });
  class SpecMessage extends MAVLinkMessage {
    _message_name = def.name;
    _message_id = def.id;
    _message_fields: [string, string, boolean][] = order.map((f) => [f.name, f.type, false]);
    _crc_extra = crcExtra(def);
  }
  const mod = new MAVLinkModule([[def.id, SpecMessage]], 1, false);
  const log = console.log;
  console.log = () => undefined; // upgradeLink() prints a banner
  try {
    mod.upgradeLink();
  } finally {
    console.log = log;
  }
  const errors: unknown[] = [];
  mod.on('error', (e: unknown) => errors.push(e));
  const msgs = await mod.parse(frame);
  expect(errors, def.name).toEqual([]);
  expect(msgs.length, def.name).toBe(1);
  return msgs[0] as unknown as Record<string, number>;
}
