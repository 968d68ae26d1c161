// A device's failure-detection setup from device.yaml: heartbeat intervals per link (MQTT as
// configured, each radio sized to its airtime share) and the membership view's detector settings,
// consistent with those intervals. docs/device-config.md ("Heartbeats") explains the defaults.

import type { DeviceConfig } from '../config/device-config.js';
import { err, type Result } from '../lib/result.js';
import { limits } from '../lib/limits.js';
import { radioPresets } from '../links/serial-link.js';
import type { Manifest } from '../manifest/manifest.js';
import { heartbeatEnvelopeBytesMax, planHeartbeats, type HeartbeatPlan } from '../membership/heartbeat-plan.js';
import type { MembershipConfig } from '../membership/membership-view.js';

/** The router's name for the MQTT link (runtime/links/mqtt-link.ts). */
export const mqttLinkName = 'mqtt';

/** The name createLinks gives radio i (runtime/links/create-links.ts). */
export function radioLinkName(c: DeviceConfig, i: number): string {
  return c.radios[i]?.name ?? (c.radios.length === 1 ? 'radio' : `radio${i}`);
}

/** Heartbeat intervals per link; an explicit radio interval beyond its airtime share is an error. */
export function planDeviceHeartbeats(c: DeviceConfig, manifest: Manifest): Result<HeartbeatPlan> {
  const members = [...manifest.body.validators, ...manifest.body.followers];
  const longest = members.reduce((a, m) => (m.id.length > a.length ? m.id : a), c.id);
  const radios = [];
  for (const [i, r] of c.radios.entries()) {
    const preset = r.preset ? radioPresets[r.preset] : undefined;
    const baud = r.baud ?? preset?.baud;
    const packetBytes = r.packetBytes ?? preset?.packetBytes;
    if (baud === undefined || packetBytes === undefined) return err(`radios[${i}]: set preset (sik or e32), or baud and packetBytes`);
    const air = preset && 'airBitsPerSec' in preset ? preset.airBitsPerSec : undefined;
    radios.push({
      name: radioLinkName(c, i),
      where: `radios[${i}]`,
      baud,
      packetBytes,
      hopLimit: r.hopLimit ?? 3,
      share: r.heartbeatShare,
      ...(air !== undefined ? { airBitsPerSec: air } : {}),
      ...(r.dutyCycle !== undefined ? { dutyCycle: r.dutyCycle } : {}),
      ...(r.heartbeatMs !== undefined ? { heartbeatMs: r.heartbeatMs } : {}),
    });
  }
  return planHeartbeats({ mqttName: mqttLinkName, mqttMs: c.mqtt.heartbeatMs, radios, fleetSize: members.length, envelopeBytes: heartbeatEnvelopeBytesMax(manifest.body.fleet, longest) });
}

/**
 * The view's detector settings: the MQTT interval is the expected interval, the acceptable pause is
 * one MQTT interval unless set (the benchmarked two-path setup), and each radio's detector scales the
 * pause by its own interval (MembershipConfig.linkIntervalsMs).
 */
export function membershipConfigOf(c: DeviceConfig, plan: HeartbeatPlan): MembershipConfig {
  const m = c.membership;
  return {
    phi: {
      threshold: m.threshold,
      deadThreshold: m.deadThreshold,
      minStdDevMs: m.minStdDevMs,
      acceptablePauseMs: m.acceptablePauseMs ?? c.mqtt.heartbeatMs,
      expectedIntervalMs: c.mqtt.heartbeatMs,
      maxSamples: limits.phiSamplesMax,
    },
    recoveredBeats: m.recoveredBeats,
    peersMax: limits.membershipPeersMax,
    linkIntervalsMs: plan.intervalsMs,
    // The fleet's devices share a broker: when it comes back each reconnects on its own backoff.
    resumeGraceMs: { [mqttLinkName]: limits.mqttReconnectMsMax },
  };
}

/** One line for the ready log: what each link beats at. */
export function describePlan(plan: HeartbeatPlan): string {
  return Object.entries(plan.intervalsMs)
    .map(([name, ms]) => `${name} ${ms} ms`)
    .join(', ');
}

