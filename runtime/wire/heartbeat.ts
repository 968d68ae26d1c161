// The heartbeat body (kind 6): a device's signed proof of life, sent on every link at that link's
// interval and fed to the phi-accrual failure detector (runtime/membership). Encoded as a positional
// CBOR array because it crosses 58-byte LoRa packets: every byte counts.

import { encodeCbor } from './cbor.js';
import { array, fail, id, int, num, oneOf, positional, uint } from './fields.js';

export const healthStates = ['ok', 'degraded', 'failing'] as const;
export type Health = (typeof healthStates)[number];

/** Local metres (north, east, up) in the fleet's frame; positions are hints, never consensus input. */
export type Position = readonly [number, number, number];

export interface HeartbeatBody {
  /** Must equal the envelope sender; the membership view refuses a mismatch. */
  readonly node: string;
  /** Counts up from 0 per boot session; lets the receiver see losses and restarts. */
  readonly seq: number;
  /** Session counter (bdSeq in Sparkplug terms): grows on every restart, so a reset seq is not a replay. */
  readonly session: number;
  readonly height: number;
  readonly round: number;
  readonly health: Health;
  readonly position: Position | null;
  /** State of charge in percent, or null when the device has no battery gauge. */
  readonly batteryPct: number | null;
}

const positionAbsMax = 1_000_000; // metres: 1000 km from the fleet origin is already absurd

export function parseHeartbeatBody(v: unknown): HeartbeatBody {
  // Eight elements; more from a newer version are ignored (ARCHITECTURE.md, wire format evolution).
  const a = positional(v, 'heartbeat', 8, 8);
  const p = a[6];
  let position: Position | null = null;
  if (p !== null) {
    const xs = array(p, 'heartbeat.position', 3, 3);
    position = [
      num(xs[0], 'heartbeat.position[0]', -positionAbsMax, positionAbsMax),
      num(xs[1], 'heartbeat.position[1]', -positionAbsMax, positionAbsMax),
      num(xs[2], 'heartbeat.position[2]', -positionAbsMax, positionAbsMax),
    ];
  }
  const b = a[7];
  if (b !== null && typeof b !== 'number') fail('heartbeat.batteryPct must be a number or null');
  return {
    node: id(a[0], 'heartbeat.node'),
    seq: uint(a[1], 'heartbeat.seq'),
    session: uint(a[2], 'heartbeat.session', 0xffffffff),
    height: uint(a[3], 'heartbeat.height'),
    round: int(a[4], 'heartbeat.round', 0, 0xffffffff),
    health: oneOf(a[5], 'heartbeat.health', healthStates),
    position,
    batteryPct: b === null ? null : uint(b, 'heartbeat.batteryPct', 100),
  };
}

/** [node, seq, session, height, round, health, position | null, batteryPct | null] */
export function encodeHeartbeatBody(h: HeartbeatBody): Uint8Array {
  return encodeCbor([h.node, h.seq, h.session, h.height, h.round, h.health, h.position === null ? null : [...h.position], h.batteryPct]);
}
