// One radio packet of the serial link, before COBS (docs/topics.md, "Serial radio frames"):
//   [ver(4 bits)=1 | class(2) | unicast(1) | 0][fleet tag 4][origin tag 4][message id 4]
//   [hops left 1][fragment index 1][fragment count 1][destination tag 4, unicast only]
//   [fragment bytes][CRC-32 4, over everything before]
// Tags are CRC-32s of ids: short enough for a 58-byte LoRa packet, and only routing hints; the
// envelope inside carries the signed sender.

import { crc32 } from 'node:zlib';
import { err, ok, type Result } from '../lib/result.js';
import { classCodes, classOfCode } from './frame.js';
import type { TrafficClass } from './link.js';

export const radioVersion = 1;
export const radioHeaderBytes = 16;
export const radioUnicastHeaderBytes = 20;
export const radioCrcBytes = 4;
/** COBS code byte plus the 0x00 delimiter, for packets up to 254 bytes. */
export const cobsPacketOverheadBytes = 2;

export interface RadioFrame {
  readonly cls: TrafficClass;
  readonly fleetTag: number;
  readonly origin: number;
  readonly msgId: number;
  readonly hopsLeft: number;
  readonly index: number;
  readonly count: number;
  /** undefined for broadcast. */
  readonly dest: number | undefined;
  readonly fragment: Uint8Array;
}

export type RadioDropReason = 'truncated' | 'bad-version' | 'bad-class' | 'bad-crc' | 'wrong-fleet' | 'bad-fragment';

export function encodeRadioFrame(f: RadioFrame): Buffer {
  const header = f.dest === undefined ? radioHeaderBytes : radioUnicastHeaderBytes;
  const out = Buffer.allocUnsafe(header + f.fragment.length + radioCrcBytes);
  out[0] = (radioVersion << 4) | (classCodes[f.cls] << 2) | (f.dest === undefined ? 0 : 2);
  out.writeUInt32BE(f.fleetTag, 1);
  out.writeUInt32BE(f.origin, 5);
  out.writeUInt32BE(f.msgId >>> 0, 9);
  out[13] = f.hopsLeft;
  out[14] = f.index;
  out[15] = f.count;
  if (f.dest !== undefined) out.writeUInt32BE(f.dest, 16);
  out.set(f.fragment, header);
  const end = header + f.fragment.length;
  out.writeUInt32BE(crc32(out.subarray(0, end)) >>> 0, end);
  return out;
}

export function decodeRadioFrame(bytes: Uint8Array, fleetTag: number, fragmentsMax: number): Result<RadioFrame, RadioDropReason> {
  if (bytes.length < radioHeaderBytes + radioCrcBytes) return err('truncated');
  const b = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const end = b.length - radioCrcBytes;
  if ((crc32(b.subarray(0, end)) >>> 0) !== b.readUInt32BE(end)) return err('bad-crc');
  const first = b[0] as number;
  if (first >> 4 !== radioVersion) return err('bad-version');
  const cls = classOfCode((first >> 2) & 3);
  if (!cls) return err('bad-class');
  const unicast = (first & 2) !== 0;
  const header = unicast ? radioUnicastHeaderBytes : radioHeaderBytes;
  if (b.length < header + radioCrcBytes) return err('truncated');
  if (b.readUInt32BE(1) !== fleetTag) return err('wrong-fleet');
  const index = b[14] as number;
  const count = b[15] as number;
  if (count === 0 || count > fragmentsMax || index >= count) return err('bad-fragment');
  return ok({
    cls,
    fleetTag,
    origin: b.readUInt32BE(5),
    msgId: b.readUInt32BE(9),
    hopsLeft: b[13] as number,
    index,
    count,
    dest: unicast ? b.readUInt32BE(16) : undefined,
    fragment: b.subarray(header, end),
  });
}

/** The largest fragment that keeps one COBS-encoded packet within `packetBytes` on the air. */
export function fragmentBytesMax(packetBytes: number, unicast: boolean): number {
  return packetBytes - cobsPacketOverheadBytes - (unicast ? radioUnicastHeaderBytes : radioHeaderBytes) - radioCrcBytes;
}
