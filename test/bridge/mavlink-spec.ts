// The MAVLink 2 rules written out from the specification, independent of node-mavlink, for the
// byte-for-byte tests: X.25 (CRC-16/MCRF4XX) checksum, CRC_EXTRA from a message's field list, frame
// layout with trailing-zero truncation, and the signature. mavlink.io/en/guide/serialization.html,
// mavlink.io/en/guide/crc.html, mavlink.io/en/guide/message_signing.html.

import { createHash } from 'node:crypto';

export type FieldType = 'uint8_t' | 'int8_t' | 'uint16_t' | 'int16_t' | 'uint32_t' | 'int32_t' | 'float' | 'uint64_t';
export interface FieldDef {
  readonly name: string;
  readonly type: FieldType;
  readonly arrayLength?: number;
}
export interface MessageDef {
  readonly name: string;
  readonly id: number;
  /** Base fields in XML order (extensions excluded: they are not in CRC_EXTRA and never reordered). */
  readonly fields: readonly FieldDef[];
  readonly extensions?: readonly FieldDef[];
}

const sizes: Record<FieldType, number> = { uint8_t: 1, int8_t: 1, uint16_t: 2, int16_t: 2, uint32_t: 4, int32_t: 4, float: 4, uint64_t: 8 };

/** crc_accumulate from the C library (checksum.h). */
export function x25(bytes: Iterable<number>, crc = 0xffff): number {
  for (const b of bytes) {
    let tmp = (b ^ crc) & 0xff;
    tmp = (tmp ^ (tmp << 4)) & 0xff;
    crc = ((crc >> 8) ^ (tmp << 8) ^ (tmp << 3) ^ (tmp >> 4)) & 0xffff;
  }
  return crc;
}

/** Wire order: fields sorted by type size, largest first, stable; extensions follow in XML order. */
export function wireOrder(def: MessageDef): FieldDef[] {
  return [...def.fields].sort((a, b) => sizes[b.type] - sizes[a.type]).concat(def.extensions ?? []);
}

/** CRC_EXTRA: X.25 over "NAME " and each base field's "type name " (+ array length), folded to 8 bits. */
export function crcExtra(def: MessageDef): number {
  const text = (s: string): number[] => [...Buffer.from(s, 'ascii')];
  let crc = x25(text(`${def.name} `));
  for (const f of [...def.fields].sort((a, b) => sizes[b.type] - sizes[a.type])) {
    crc = x25(text(`${f.type} `), crc);
    crc = x25(text(`${f.name} `), crc);
    if (f.arrayLength) crc = x25([f.arrayLength], crc);
  }
  return (crc & 0xff) ^ (crc >> 8);
}

export function payloadOf(def: MessageDef, values: Record<string, number>): Buffer {
  const order = wireOrder(def);
  const len = order.reduce((n, f) => n + sizes[f.type] * (f.arrayLength ?? 1), 0);
  const b = Buffer.alloc(len);
  let off = 0;
  for (const f of order) {
    const v = values[f.name] ?? 0;
    if (f.type === 'uint8_t') b.writeUInt8(v, off);
    else if (f.type === 'int8_t') b.writeInt8(v, off);
    else if (f.type === 'uint16_t') b.writeUInt16LE(v, off);
    else if (f.type === 'int16_t') b.writeInt16LE(v, off);
    else if (f.type === 'uint32_t') b.writeUInt32LE(v, off);
    else if (f.type === 'int32_t') b.writeInt32LE(v, off);
    else if (f.type === 'float') b.writeFloatLE(v, off);
    else b.writeBigUInt64LE(BigInt(v), off);
    off += sizes[f.type] * (f.arrayLength ?? 1);
  }
  // MAVLink 2 truncates trailing zero bytes, keeping at least one (serialization: payload truncation).
  let end = b.length;
  while (end > 1 && b[end - 1] === 0) end--;
  return b.subarray(0, end);
}

export function frameOf(def: MessageDef, values: Record<string, number>, h: { seq: number; sysid: number; compid: number; incompat?: number }): Buffer {
  const payload = payloadOf(def, values);
  const header = Buffer.from([0xfd, payload.length, h.incompat ?? 0, 0, h.seq, h.sysid, h.compid, def.id & 0xff, (def.id >> 8) & 0xff, (def.id >> 16) & 0xff]);
  const body = Buffer.concat([header, payload]);
  const crc = x25([crcExtra(def)], x25(body.subarray(1)));
  const c = Buffer.alloc(2);
  c.writeUInt16LE(crc);
  return Buffer.concat([body, c]);
}

/** signature = SHA-256(key ‖ frame-without-signature ‖ linkId ‖ timestamp48)[0..6]. */
export function signFrame(unsigned: Buffer, key: Buffer, linkId: number, timestamp10us: number): Buffer {
  const ts = Buffer.alloc(6);
  ts.writeUIntLE(timestamp10us, 0, 6);
  const sig = createHash('sha256').update(key).update(unsigned).update(Buffer.from([linkId])).update(ts).digest().subarray(0, 6);
  return Buffer.concat([unsigned, Buffer.from([linkId]), ts, sig]);
}

const u8 = (name: string): FieldDef => ({ name, type: 'uint8_t' });
const f32 = (name: string): FieldDef => ({ name, type: 'float' });

export const specMessages = {
  HEARTBEAT: { name: 'HEARTBEAT', id: 0, fields: [u8('type'), u8('autopilot'), u8('base_mode'), { name: 'custom_mode', type: 'uint32_t' }, u8('system_status'), u8('mavlink_version')] },
  SYS_STATUS: {
    name: 'SYS_STATUS',
    id: 1,
    fields: [
      { name: 'onboard_control_sensors_present', type: 'uint32_t' },
      { name: 'onboard_control_sensors_enabled', type: 'uint32_t' },
      { name: 'onboard_control_sensors_health', type: 'uint32_t' },
      { name: 'load', type: 'uint16_t' },
      { name: 'voltage_battery', type: 'uint16_t' },
      { name: 'current_battery', type: 'int16_t' },
      { name: 'battery_remaining', type: 'int8_t' },
      { name: 'drop_rate_comm', type: 'uint16_t' },
      { name: 'errors_comm', type: 'uint16_t' },
      { name: 'errors_count1', type: 'uint16_t' },
      { name: 'errors_count2', type: 'uint16_t' },
      { name: 'errors_count3', type: 'uint16_t' },
      { name: 'errors_count4', type: 'uint16_t' },
    ],
  },
  ATTITUDE: { name: 'ATTITUDE', id: 30, fields: [{ name: 'time_boot_ms', type: 'uint32_t' }, f32('roll'), f32('pitch'), f32('yaw'), f32('rollspeed'), f32('pitchspeed'), f32('yawspeed')] },
  GLOBAL_POSITION_INT: {
    name: 'GLOBAL_POSITION_INT',
    id: 33,
    fields: [
      { name: 'time_boot_ms', type: 'uint32_t' },
      { name: 'lat', type: 'int32_t' },
      { name: 'lon', type: 'int32_t' },
      { name: 'alt', type: 'int32_t' },
      { name: 'relative_alt', type: 'int32_t' },
      { name: 'vx', type: 'int16_t' },
      { name: 'vy', type: 'int16_t' },
      { name: 'vz', type: 'int16_t' },
      { name: 'hdg', type: 'uint16_t' },
    ],
  },
  MISSION_COUNT: { name: 'MISSION_COUNT', id: 44, fields: [u8('target_system'), u8('target_component'), { name: 'count', type: 'uint16_t' }] },
  MISSION_ACK: { name: 'MISSION_ACK', id: 47, fields: [u8('target_system'), u8('target_component'), u8('type')] },
  MISSION_REQUEST_INT: { name: 'MISSION_REQUEST_INT', id: 51, fields: [u8('target_system'), u8('target_component'), { name: 'seq', type: 'uint16_t' }] },
  MISSION_ITEM_INT: {
    name: 'MISSION_ITEM_INT',
    id: 73,
    fields: [
      u8('target_system'),
      u8('target_component'),
      { name: 'seq', type: 'uint16_t' },
      u8('frame'),
      { name: 'command', type: 'uint16_t' },
      u8('current'),
      u8('autocontinue'),
      f32('param1'),
      f32('param2'),
      f32('param3'),
      f32('param4'),
      { name: 'x', type: 'int32_t' },
      { name: 'y', type: 'int32_t' },
      f32('z'),
    ],
    extensions: [u8('mission_type')],
  },
  COMMAND_LONG: {
    name: 'COMMAND_LONG',
    id: 76,
    fields: [u8('target_system'), u8('target_component'), { name: 'command', type: 'uint16_t' }, u8('confirmation'), f32('param1'), f32('param2'), f32('param3'), f32('param4'), f32('param5'), f32('param6'), f32('param7')],
  },
  COMMAND_ACK: { name: 'COMMAND_ACK', id: 77, fields: [{ name: 'command', type: 'uint16_t' }, u8('result')], extensions: [u8('progress'), { name: 'result_param2', type: 'int32_t' }, u8('target_system'), u8('target_component')] },
  BATTERY_STATUS: {
    name: 'BATTERY_STATUS',
    id: 147,
    fields: [
      u8('id'),
      u8('battery_function'),
      u8('type'),
      { name: 'temperature', type: 'int16_t' },
      { name: 'voltages', type: 'uint16_t', arrayLength: 10 },
      { name: 'current_battery', type: 'int16_t' },
      { name: 'current_consumed', type: 'int32_t' },
      { name: 'energy_consumed', type: 'int32_t' },
      { name: 'battery_remaining', type: 'int8_t' },
    ],
  },
  EXTENDED_SYS_STATE: { name: 'EXTENDED_SYS_STATE', id: 245, fields: [u8('vtol_state'), u8('landed_state')] },
  // ardupilotmega.xml: ArduPilot's estimator's word on its estimate (flags EKF_STATUS_FLAGS).
  EKF_STATUS_REPORT: {
    name: 'EKF_STATUS_REPORT',
    id: 193,
    fields: [{ name: 'flags', type: 'uint16_t' }, f32('velocity_variance'), f32('pos_horiz_variance'), f32('pos_vert_variance'), f32('compass_variance'), f32('terrain_alt_variance')],
    extensions: [f32('airspeed_variance')],
  },
  // common.xml: PX4's (flags ESTIMATOR_STATUS_FLAGS).
  ESTIMATOR_STATUS: {
    name: 'ESTIMATOR_STATUS',
    id: 230,
    fields: [
      { name: 'time_usec', type: 'uint64_t' },
      { name: 'flags', type: 'uint16_t' },
      f32('vel_ratio'),
      f32('pos_horiz_ratio'),
      f32('pos_vert_ratio'),
      f32('mag_ratio'),
      f32('hagl_ratio'),
      f32('tas_ratio'),
      f32('pos_horiz_accuracy'),
      f32('pos_vert_accuracy'),
    ],
  },
} satisfies Record<string, MessageDef>;

/** CRC_EXTRA values as published in the generated C headers (MAVLINK_MSG_ID_*_CRC). */
export const publishedCrcExtra: Record<keyof typeof specMessages, number> = {
  HEARTBEAT: 50,
  SYS_STATUS: 124,
  ATTITUDE: 39,
  GLOBAL_POSITION_INT: 104,
  MISSION_COUNT: 221,
  MISSION_ACK: 153,
  MISSION_REQUEST_INT: 196,
  MISSION_ITEM_INT: 38,
  COMMAND_LONG: 152,
  COMMAND_ACK: 143,
  BATTERY_STATUS: 154,
  EXTENDED_SYS_STATE: 130,
  EKF_STATUS_REPORT: 71,
  ESTIMATOR_STATUS: 163,
};
