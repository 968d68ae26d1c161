// MAVLink 2 framing: encode with node-mavlink's serializer, split and check frames with our own
// bounded splitter (X.25 CRC with CRC_EXTRA, optional signature), decode payloads with node-mavlink.
// Frame layout: mavlink.io/en/guide/serialization.html; signing: mavlink.io/en/guide/message_signing.html.

import { createHash } from 'node:crypto';
import { MavLinkProtocolV2, MSG_ID_MAGIC_NUMBER, ardupilotmega, common, minimal, x25crc, type MavLinkData, type MavLinkDataConstructor } from 'node-mavlink';

export const mavlinkMagicV2 = 0xfd;
/** MAVLink 1: 0xFE, len, seq, sysid, compid, msgid (1 byte), payload, CRC. Recognised to be counted
 *  (a flight controller left on MAVLink 1 is then named as such, from its HEARTBEATs), never decoded. */
export const mavlinkMagicV1 = 0xfe;
/** A MAVLink 1 HEARTBEAT: message id 0, 9 payload bytes (MAVLink 1 never truncates a payload). */
const heartbeatIdV1 = 0;
const heartbeatLenV1 = 9;
export const headerBytesV1 = 6;
export const headerBytes = 10;
export const checksumBytes = 2;
export const signatureBytes = 13;
export const incompatSigned = 0x01;
export const frameBytesMax = headerBytes + 255 + checksumBytes + signatureBytes; // 280

// Of ArduPilot's own dialect only EKF_STATUS_REPORT: whether its EKF trusts the position it streams
// (GLOBAL_POSITION_INT carries on after it lost it; hal/mavlink/mavlink-devices.ts).
const registry: Record<number, MavLinkDataConstructor<MavLinkData>> = { ...minimal.REGISTRY, ...common.REGISTRY, [ardupilotmega.EkfStatusReport.MSG_ID]: ardupilotmega.EkfStatusReport };
const magic: Record<number, number> = MSG_ID_MAGIC_NUMBER as unknown as Record<number, number>;

/** 2015-01-01T00:00:00Z: the signing timestamp counts 10 µs units from here. */
export const signingEpochMs = Date.UTC(2015, 0, 1);

export interface SigningKey {
  readonly key: Uint8Array; // 32 bytes, shared through SETUP_SIGNING
  readonly linkId: number;
}

export interface MavFrame {
  readonly bytes: Buffer;
  readonly seq: number;
  readonly sysid: number;
  readonly compid: number;
  readonly msgid: number;
  readonly payload: Buffer; // as on the wire (trailing zeros possibly truncated)
  readonly signed: boolean;
}

export interface EncodeOptions {
  readonly sysid: number;
  readonly compid: number;
  readonly seq: number;
  readonly signing?: SigningKey & { readonly timestamp10us: number };
}

/** Serialises one message into a MAVLink 2 frame (signed when options.signing is set). */
export function encodeFrame(msg: MavLinkData, o: EncodeOptions): Buffer {
  const flags = o.signing ? incompatSigned : 0;
  let frame = new MavLinkProtocolV2(o.sysid, o.compid, flags).serialize(msg, o.seq & 0xff);
  if (frame[1] === 0) frame = keepFirstPayloadByte(frame, msg);
  if (!o.signing) return frame;
  return appendSignature(frame, o.signing.key, o.signing.linkId, o.signing.timestamp10us);
}

/** The spec never truncates the first payload byte (C: _mav_trim_payload stops at 1); node-mavlink
 *  truncates an all-zero payload to nothing, so we restore the byte and the checksum. */
function keepFirstPayloadByte(frame: Buffer, msg: MavLinkData): Buffer {
  const extra = magic[(msg.constructor as MavLinkDataConstructor<MavLinkData>).MSG_ID] ?? 0;
  const out = Buffer.concat([frame.subarray(0, headerBytes), Buffer.alloc(1), Buffer.alloc(checksumBytes)]);
  out[1] = 1;
  out.writeUInt16LE(x25crc(out, 1, checksumBytes, extra), headerBytes + 1);
  return out;
}

/** signature = first 6 bytes of SHA-256(key ‖ header ‖ payload ‖ CRC ‖ linkId ‖ timestamp). */
export function signatureOf(unsignedFrame: Uint8Array, key: Uint8Array, linkId: number, timestamp10us: number): Buffer {
  const trailer = Buffer.alloc(7);
  trailer.writeUInt8(linkId & 0xff, 0);
  trailer.writeUIntLE(timestamp10us, 1, 6);
  const h = createHash('sha256').update(key).update(unsignedFrame).update(trailer).digest();
  return Buffer.concat([trailer, h.subarray(0, 6)]);
}

export function appendSignature(unsignedFrame: Buffer, key: Uint8Array, linkId: number, timestamp10us: number): Buffer {
  return Buffer.concat([unsignedFrame, signatureOf(unsignedFrame, key, linkId, timestamp10us)]);
}

export function signatureTimestamp(frame: MavFrame): number {
  return frame.bytes.readUIntLE(frame.bytes.length - signatureBytes + 1, 6);
}

export function signatureLinkId(frame: MavFrame): number {
  return frame.bytes.readUInt8(frame.bytes.length - signatureBytes);
}

export function verifySignature(frame: MavFrame, key: Uint8Array): boolean {
  if (!frame.signed) return false;
  const unsigned = frame.bytes.subarray(0, frame.bytes.length - signatureBytes);
  const expected = signatureOf(unsigned, key, signatureLinkId(frame), signatureTimestamp(frame));
  return expected.equals(frame.bytes.subarray(frame.bytes.length - signatureBytes));
}

export function crcExtraOf(msgid: number): number | undefined {
  return magic[msgid];
}

export function messageName(msgid: number): string {
  return registry[msgid]?.MSG_NAME ?? `#${msgid}`;
}

/** Decodes a checked frame's payload into node-mavlink's message class; null for unknown ids. */
export function decodeMessage(frame: MavFrame): MavLinkData | null {
  const clazz = registry[frame.msgid];
  if (!clazz) return null;
  const padded = Buffer.alloc(255);
  frame.payload.copy(padded);
  return new MavLinkProtocolV2().data(padded, clazz);
}

export interface SplitterCounters {
  frames: number;
  /** Candidate frames whose X.25 checksum (with CRC_EXTRA) did not match. */
  badCrc: number;
  /** Candidate frames with an incompatibility flag we do not know (the spec: drop them). */
  unknownFlags: number;
  unknownId: number;
  bytesDiscarded: number;
  /** Complete MAVLink 1 frames with a valid CRC, skipped whole. Random bytes (a wrong baud rate) make
   *  one about every 10 MB: 8 bits of message id that have a CRC_EXTRA, and 16 of CRC. */
  v1Frames: number;
  /** Of those, HEARTBEATs (id 0, 9 bytes): what a flight controller on MAVLink 1 sends every second,
   *  and what random bytes all but never make (24 more bits to match). */
  v1Heartbeats: number;
  /** Partial frames given up because the stream went quiet (flush()). */
  idleRescans: number;
}

/**
 * Splits a byte stream into checked MAVLink 2 frames. It carries over at most one frame's bytes; on a
 * bad CRC it skips one byte and rescans, so a corrupted length cannot swallow the frames behind it.
 * A header is judged as soon as it is complete (unknown incompatibility flag or message id: skip one
 * byte), before waiting for the length it names. A stray STX whose header passes (a known id; the
 * length cannot be judged: a newer dialect's extensions make a payload longer than ours) holds the
 * frames behind it until that many bytes came or flush() gives it up, which the endpoint calls when
 * the stream goes quiet (pymavlink and the C library wait for the length too, with no rescan at all).
 * MAVLink 1 frames are counted and skipped whole (we speak only v2).
 */
export class FrameSplitter {
  private buf: Buffer = Buffer.alloc(0);
  readonly counters: SplitterCounters = { frames: 0, badCrc: 0, unknownFlags: 0, unknownId: 0, bytesDiscarded: 0, v1Frames: 0, v1Heartbeats: 0, idleRescans: 0 };

  /** Bytes held for a frame not complete yet. */
  get heldBytes(): number {
    return this.buf.length;
  }

  /**
   * The stream went quiet with a partial frame held: gives up that candidate (skips its first byte)
   * and rescans the rest, so the frames behind a stray STX come out without waiting for the bytes its
   * length asks for. A genuine frame paused that long mid-way is lost, as to a bad CRC.
   */
  flush(): MavFrame[] {
    if (this.buf.length === 0) return [];
    this.counters.idleRescans++;
    this.counters.bytesDiscarded++;
    const rest = this.buf.subarray(1);
    this.buf = Buffer.alloc(0);
    return this.push(rest);
  }

  push(chunk: Uint8Array): MavFrame[] {
    const out: MavFrame[] = [];
    let data = this.buf.length === 0 ? Buffer.from(chunk) : Buffer.concat([this.buf, chunk]);
    // Every pass consumes at least one byte or stops, so the byte count bounds the loop.
    for (let guard = data.length + 1; guard > 0; guard--) {
      const start = firstMagic(data);
      if (start < 0) {
        this.counters.bytesDiscarded += data.length;
        data = Buffer.alloc(0);
        break;
      }
      if (start > 0) {
        this.counters.bytesDiscarded += start;
        data = data.subarray(start);
      }
      if (data[0] === mavlinkMagicV1) {
        if (data.length < headerBytesV1) break;
        const extraV1 = magic[data[5] as number];
        if (extraV1 === undefined) {
          data = data.subarray(1);
          continue;
        }
        const totalV1 = headerBytesV1 + (data[1] as number) + checksumBytes;
        if (data.length < totalV1) break;
        const frameV1 = data.subarray(0, totalV1);
        if (x25crc(frameV1, 1, checksumBytes, extraV1) === frameV1.readUInt16LE(totalV1 - checksumBytes)) {
          this.counters.v1Frames++;
          if (data[5] === heartbeatIdV1 && data[1] === heartbeatLenV1) this.counters.v1Heartbeats++;
          data = data.subarray(totalV1);
        } else {
          data = data.subarray(1);
        }
        continue;
      }
      if (data.length < headerBytes) break;
      const len = data[1] as number;
      const incompat = data[2] as number;
      if ((incompat & ~incompatSigned) !== 0) {
        // Unknown incompatibility flag: the spec says drop the frame; we resync one byte on.
        this.counters.unknownFlags++;
        data = data.subarray(1);
        continue;
      }
      const msgid = data.readUIntLE(7, 3);
      const extra = magic[msgid];
      if (extra === undefined) {
        this.counters.unknownId++;
        data = data.subarray(1);
        continue;
      }
      const total = headerBytes + len + checksumBytes + (incompat & incompatSigned ? signatureBytes : 0);
      if (data.length < total) break;
      const frame = data.subarray(0, total);
      if (x25crc(frame, 1, checksumBytes + signatureTrim(incompat), extra) !== frame.readUInt16LE(headerBytes + len)) {
        this.counters.badCrc++;
        data = data.subarray(1);
        continue;
      }
      const bytes = Buffer.from(frame);
      out.push({
        bytes,
        seq: bytes[4] as number,
        sysid: bytes[5] as number,
        compid: bytes[6] as number,
        msgid,
        payload: bytes.subarray(headerBytes, headerBytes + len),
        signed: (incompat & incompatSigned) !== 0,
      });
      this.counters.frames++;
      data = data.subarray(total);
    }
    // Bound the carry-over: a partial frame is at most frameBytesMax; anything longer is garbage.
    if (data.length > frameBytesMax) {
      this.counters.bytesDiscarded += data.length - frameBytesMax;
      data = data.subarray(data.length - frameBytesMax);
    }
    this.buf = Buffer.from(data);
    return out;
  }
}

/** Index of the first byte that can start a frame (MAVLink 2 or 1), or -1. One pass over the bytes. */
function firstMagic(data: Buffer): number {
  for (let i = 0; i < data.length; i++) {
    const b = data[i];
    if (b === mavlinkMagicV2 || b === mavlinkMagicV1) return i;
  }
  return -1;
}

/** The CRC covers header and payload only: trim the checksum and, when present, the signature. */
function signatureTrim(incompat: number): number {
  return incompat & incompatSigned ? signatureBytes : 0;
}
