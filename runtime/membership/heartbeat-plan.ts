// How often a device beats on each link. MQTT beats at its configured interval; a serial radio beats
// only as often as a share of its airtime allows, counted for the whole fleet, because a radio channel
// is shared and every heartbeat is flood-relayed by the other devices. Heartbeats are the lowest class
// but one, and each byte they put on the air is a byte consensus cannot use there.

import { err, ok, type Result } from '../lib/result.js';
import { bytesPerSecond } from '../links/airtime.js';
import { fragmentBytesMax } from '../links/radio-frame.js';
import { encodeCbor } from '../wire/cbor.js';
import { encodeHeartbeatBody } from '../wire/heartbeat.js';
import { kinds } from '../wire/kinds.js';

export interface RadioBeat {
  /** The link name (as the router knows it) and where it is configured, for error messages. */
  readonly name: string;
  readonly where: string;
  readonly baud: number;
  readonly airBitsPerSec?: number;
  readonly dutyCycle?: number;
  readonly packetBytes: number;
  readonly hopLimit: number;
  /** Explicit interval from device.yaml; omitted: the shortest one the airtime share allows. */
  readonly heartbeatMs?: number;
  /** Largest fraction of the radio's airtime heartbeats may take (0 < share <= 0.5). */
  readonly share: number;
}

export interface HeartbeatPlanInput {
  readonly mqttName: string;
  readonly mqttMs: number;
  readonly radios: readonly RadioBeat[];
  /** Validators plus followers: every one of them beats, and relays everyone else's beats. */
  readonly fleetSize: number;
  /** The largest heartbeat envelope of this fleet (heartbeatEnvelopeBytesMax). */
  readonly envelopeBytes: number;
}

export interface RadioBeatPlan {
  readonly name: string;
  readonly intervalMs: number;
  /** The shortest interval the share allows. */
  readonly minMs: number;
  /** Fraction of the radio's airtime heartbeats take at `intervalMs`. */
  readonly airtimeShare: number;
}

export interface HeartbeatPlan {
  /** Interval per link name, for HeartbeatService and MembershipConfig.linkIntervalsMs. */
  readonly intervalsMs: Readonly<Record<string, number>>;
  readonly radios: readonly RadioBeatPlan[];
}

/** The longest signed heartbeat envelope a member of this fleet can send: for airtime sizing. */
export function heartbeatEnvelopeBytesMax(fleet: string, longestMemberId: string): number {
  const body = encodeHeartbeatBody({
    node: longestMemberId,
    seq: 2 ** 40,
    session: 0xffffffff,
    height: 2 ** 40,
    round: 0xffff,
    health: 'degraded',
    position: [-123_456.789, -123_456.789, -1_234.567],
    batteryPct: 100,
  });
  return encodeCbor([1, kinds.heartbeat.code, fleet, longestMemberId, body, new Uint8Array(64)]).length;
}

/**
 * Airtime one heartbeat round costs as a fraction of the radio's, per ms of interval: each of n devices
 * sends one heartbeat that the other n - 1 relay once (hop limit above 1), all on one channel; and each
 * device itself sends n packets per round, which its duty cycle (EU868: 1 %) must also allow.
 */
function shareAt(r: RadioBeat, fleetSize: number, envelopeBytes: number, intervalMs: number): number {
  const perFragment = fragmentBytesMax(r.packetBytes, false);
  const fragments = Math.ceil(envelopeBytes / perFragment);
  const airBytes = envelopeBytes + fragments * (r.packetBytes - perFragment);
  const sends = r.hopLimit > 1 ? fleetSize : 1;
  const channel = bytesPerSecond({ baud: r.baud, ...(r.airBitsPerSec !== undefined ? { airBitsPerSec: r.airBitsPerSec } : {}), burstBytes: 1 });
  const seconds = intervalMs / 1000;
  const channelShare = (fleetSize * sends * airBytes) / (channel * seconds);
  const ownShare = (sends * airBytes) / (channel * (r.dutyCycle ?? 1) * seconds);
  return Math.max(channelShare, ownShare);
}

/** Intervals per link; an explicit radio interval that would take more than its share is refused. */
export function planHeartbeats(i: HeartbeatPlanInput): Result<HeartbeatPlan> {
  const intervalsMs: Record<string, number> = { [i.mqttName]: i.mqttMs };
  const radios: RadioBeatPlan[] = [];
  for (const r of i.radios) {
    const perMs = shareAt(r, i.fleetSize, i.envelopeBytes, 1);
    const minMs = Math.ceil(perMs / r.share);
    // A whole number of MQTT intervals, so each radio beat is a copy of an MQTT beat (same seq).
    const auto = Math.max(1, Math.ceil(minMs / i.mqttMs)) * i.mqttMs;
    const intervalMs = r.heartbeatMs ?? auto;
    const share = perMs / intervalMs;
    if (r.heartbeatMs !== undefined && share > r.share + 1e-9) {
      return err(
        `${r.where}.heartbeatMs: ${r.heartbeatMs} ms would spend ${pct(share)} of this radio's airtime on heartbeats for ${i.fleetSize} devices (limit ${pct(r.share)}, ${r.where}.heartbeatShare); use at least ${minMs} ms, or leave it out to size it automatically`,
      );
    }
    intervalsMs[r.name] = intervalMs;
    radios.push({ name: r.name, intervalMs, minMs, airtimeShare: share });
  }
  return ok({ intervalsMs, radios });
}

const pct = (x: number): string => `${Math.round(x * 1000) / 10} %`;
