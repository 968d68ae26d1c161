// The airtime budget of a serial radio: a token bucket in bytes, filled at the byte rate the UART
// (or the air rate) allows, times the duty cycle where regulation imposes one (EU868: 1 %, so 36 s
// of airtime per hour: edge-anchors.md §3). Time is an input.

import { assert } from '../lib/assert.js';
import { limits } from '../lib/limits.js';

export interface AirtimeConfig {
  /** UART baud rate; 8N1 means 10 bits on the wire per byte. */
  readonly baud: number;
  /** Over-the-air bit rate when it is slower than the UART (E32 default 2400); default: the baud. */
  readonly airBitsPerSec?: number;
  /** Fraction of time the radio may transmit (0 < d <= 1); default 1. */
  readonly dutyCycle?: number;
  /** Bucket depth in bytes: how much may go out back to back. */
  readonly burstBytes: number;
}

export function bytesPerSecond(c: AirtimeConfig): number {
  const bits = Math.min(c.baud, c.airBitsPerSec ?? c.baud);
  return (bits / 10) * (c.dutyCycle ?? 1);
}

/** The block transaction bytes a radio carries well: limits.radioBlockAirMs of its airtime (SiK: 1,440). */
export function blockTxBytesOnAir(airBytesPerSec: number): number {
  return Math.floor((airBytesPerSec * limits.radioBlockAirMs) / 1000);
}

export class AirtimeBudget {
  private tokens: number;
  private lastMs: number;
  readonly rate: number; // bytes per ms

  constructor(
    readonly config: AirtimeConfig,
    nowMs: number,
  ) {
    assert(config.baud > 0, `baud must be positive, is ${config.baud}`);
    const d = config.dutyCycle ?? 1;
    assert(d > 0 && d <= 1, `duty cycle must be in (0, 1], is ${d}`);
    assert(config.burstBytes > 0, 'burstBytes must be positive');
    this.rate = bytesPerSecond(config) / 1000;
    this.tokens = config.burstBytes;
    this.lastMs = nowMs;
  }

  /** Milliseconds to wait before `bytes` may be sent (0: now). Does not spend. */
  waitMs(bytes: number, nowMs: number): number {
    this.refill(nowMs);
    const need = Math.min(bytes, this.config.burstBytes) - this.tokens;
    return need <= 0 ? 0 : Math.ceil(need / this.rate);
  }

  /** Spends `bytes`; the balance may go negative for a packet larger than the burst. */
  spend(bytes: number, nowMs: number): void {
    this.refill(nowMs);
    this.tokens -= bytes;
  }

  private refill(nowMs: number): void {
    const dt = Math.max(0, nowMs - this.lastMs);
    this.lastMs = nowMs;
    this.tokens = Math.min(this.config.burstBytes, this.tokens + dt * this.rate);
  }
}

/** How long a relay of a live consensus envelope may wait in a radio's queue, counted from when it was
 *  heard: limits.radioRelayStaleMs, or the airtime of limits.radioRelayStalePackets full packets when
 *  that is longer, and at least twice the longest relay wait (`relayJitterMs`, so a relay that drew it
 *  has as long again in the queue), but never longer than the link's stale limit for its own
 *  (`staleMs`). Shared by SerialLink and fleet-sim's radio. */
export function relayStaleMs(packetBytes: number, airBytesPerSec: number, staleMs: number, relayJitterMs = 0): number {
  const limit = Math.max(limits.radioRelayStaleMs, Math.ceil((limits.radioRelayStalePackets * packetBytes * 1000) / airBytesPerSec), 2 * relayJitterMs);
  return Math.min(staleMs, limit);
}

/** The default consensusStaleMs: limits.radioConsensusStaleMs, or the airtime of
 *  limits.radioStalePackets full packets when that is longer. Shared by SerialLink and fleet-sim's radio. */
export function defaultStaleMs(packetBytes: number, airBytesPerSec: number): number {
  return Math.max(limits.radioConsensusStaleMs, Math.ceil((limits.radioStalePackets * packetBytes * 1000) / airBytesPerSec));
}
