// MCU protocol frames: COBS(CBOR [type, seq, ack, method, body] || CRC-32 LE) 0x00. The reader keeps
// at most one frame's worth of bytes and drops (and counts) anything malformed.

import { limits } from '../../runtime/lib/limits.js';
import { decodeCbor, encodeCbor } from '../../runtime/wire/cbor.js';
import { cobsDecode, cobsEncode } from './cobs.js';
import { crc32 } from './crc32.js';

export const mcuProtocolVersion = 1;

export const mcuType = { hello: 0, helloAck: 1, request: 2, response: 3, telemetry: 4, error: 5 } as const;
export type McuType = (typeof mcuType)[keyof typeof mcuType];
export const mcuMethod = { echo: 1, add: 2, stats: 3, telemetryRate: 4 } as const;
export const mcuErrorNames: Record<number, string> = { 1: 'unknown method', 2: 'bad body', 3: 'no handshake', 4: 'version mismatch', 5: 'sequence too old', 6: 'response too large', 7: 'out of range' };

export interface McuMessage {
  readonly type: McuType;
  readonly seq: number;
  readonly ack: number;
  readonly method: number;
  readonly body: unknown;
}

export function encodeMcuFrame(m: McuMessage): Uint8Array {
  const payload = encodeCbor([m.type, m.seq, m.ack, m.method, m.body]);
  const framed = new Uint8Array(payload.length + 4);
  framed.set(payload);
  new DataView(framed.buffer).setUint32(payload.length, crc32(payload), true);
  const enc = cobsEncode(framed);
  const out = new Uint8Array(enc.length + 1);
  out.set(enc);
  return out; // trailing 0x00 delimiter
}

export interface McuReaderCounters {
  frames: number;
  badCobs: number;
  badCrc: number;
  badCbor: number;
  oversize: number;
}

const isU32 = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0xffffffff;

export class McuFrameReader {
  private buf = new Uint8Array(limits.mcuFrameBytesMax + Math.ceil(limits.mcuFrameBytesMax / 254) + 1);
  private len = 0;
  private overflow = false;
  readonly counters: McuReaderCounters = { frames: 0, badCobs: 0, badCrc: 0, badCbor: 0, oversize: 0 };

  push(chunk: Uint8Array): McuMessage[] {
    const out: McuMessage[] = [];
    for (const b of chunk) {
      if (b !== 0) {
        if (this.len >= this.buf.length) this.overflow = true;
        else this.buf[this.len++] = b;
        continue;
      }
      if (this.overflow) this.counters.oversize++;
      else if (this.len > 0) {
        const m = this.decode(this.buf.subarray(0, this.len));
        if (m) out.push(m);
      }
      this.len = 0;
      this.overflow = false;
    }
    return out;
  }

  private decode(enc: Uint8Array): McuMessage | null {
    const frame = cobsDecode(enc, limits.mcuFrameBytesMax);
    if (frame === null) {
      this.counters.badCobs++;
      return null;
    }
    if (frame.length < 5 || new DataView(frame.buffer, frame.byteOffset).getUint32(frame.length - 4, true) !== crc32(frame.subarray(0, frame.length - 4))) {
      this.counters.badCrc++;
      return null;
    }
    const v = decodeCbor(frame.subarray(0, frame.length - 4), limits.mcuFrameBytesMax);
    if (!v.ok || !Array.isArray(v.value) || v.value.length !== 5) {
      this.counters.badCbor++;
      return null;
    }
    const [type, seq, ack, method, body] = v.value as unknown[];
    if (!isU32(type) || type > mcuType.error || !isU32(seq) || !isU32(ack) || !isU32(method)) {
      this.counters.badCbor++;
      return null;
    }
    this.counters.frames++;
    return { type: type as McuType, seq, ack, method, body };
  }
}
