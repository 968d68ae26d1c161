// The link frame around one envelope on the in-memory and MQTT links (docs/topics.md, "Payload"):
//   [version 0xA1][class][fleet tag, 4 bytes BE][envelope ...][CRC-32 BE of everything before]
// The fleet tag (CRC-32 of the fleet id) catches a device pointed at the wrong fleet's broker; the
// CRC catches corruption on transports that do not. Neither is security: envelopes are signed.

import { crc32 } from 'node:zlib';
import { utf8 } from '../lib/bytes.js';
import { err, ok, type Result } from '../lib/result.js';
import type { TrafficClass } from './link.js';

export const frameVersion = 0xa1;
export const frameHeaderBytes = 6;
export const frameOverheadBytes = frameHeaderBytes + 4;

export const classCodes: Readonly<Record<TrafficClass, number>> = { consensus: 0, heartbeat: 1, telemetry: 2 };
const classByCode: readonly TrafficClass[] = ['consensus', 'heartbeat', 'telemetry'];

export type FrameDropReason = 'truncated' | 'bad-version' | 'bad-class' | 'bad-crc' | 'wrong-fleet' | 'oversized';

export function classOfCode(code: number): TrafficClass | undefined {
  return classByCode[code];
}

export function fleetTag(fleet: string): number {
  return crc32(utf8(fleet)) >>> 0;
}

export function encodeFrame(tag: number, cls: TrafficClass, envelope: Uint8Array): Uint8Array {
  const out = Buffer.allocUnsafe(envelope.length + frameOverheadBytes);
  out[0] = frameVersion;
  out[1] = classCodes[cls];
  out.writeUInt32BE(tag, 2);
  out.set(envelope, frameHeaderBytes);
  const end = frameHeaderBytes + envelope.length;
  out.writeUInt32BE(crc32(out.subarray(0, end)) >>> 0, end);
  return out;
}

export interface DecodedFrame {
  readonly cls: TrafficClass;
  readonly envelope: Uint8Array;
}

/** Checks are ordered cheapest first; the payload is a view, not a copy. */
export function decodeFrame(bytes: Uint8Array, tag: number, envelopeBytesMax: number): Result<DecodedFrame, FrameDropReason> {
  if (bytes.length > envelopeBytesMax + frameOverheadBytes) return err('oversized');
  if (bytes.length < frameOverheadBytes + 1) return err('truncated');
  if (bytes[0] !== frameVersion) return err('bad-version');
  const b = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const end = b.length - 4;
  if ((crc32(b.subarray(0, end)) >>> 0) !== b.readUInt32BE(end)) return err('bad-crc');
  const cls = classOfCode(b[1] as number);
  if (!cls) return err('bad-class');
  if (b.readUInt32BE(2) !== tag) return err('wrong-fleet');
  return ok({ cls, envelope: b.subarray(frameHeaderBytes, end) });
}
