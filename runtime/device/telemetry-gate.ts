// Which telemetry periods a device signs a telemetry transaction in. Every signed report rides in a
// block and is carried by every link, so a device sends one only when it says something new: it moved
// a metre or more, its battery changed by a percent, it passed a waypoint of its part of a mission or
// finished it, its height became not known or known again, or telemetryKeepaliveEvery
// periods passed (a drone parked on its pad reports twice a minute, not every second; one holding a
// part of a mission every telemetryMissionKeepaliveEvery). On the radio
// alone (broker down) it considers only every radioOnlyTelemetryEvery-th period, each device in its
// own slot of those periods (from its id), so a fleet's reports do not all land in one block: twenty
// devices' reports every period filled blocks a 57600-baud radio took seconds to carry. Used by
// runtime/device and by fleet-sim's deterministic world, so both send the same reports.

import { limits } from '../lib/limits.js';
import type { TelemetryBody } from '../wire/telemetry.js';

export type TelemetryFacts = Pick<TelemetryBody, 'northDm' | 'eastDm' | 'altDm' | 'batteryPermille' | 'completed' | 'progress' | 'handedOver' | 'heightUnknown'>;

const movedDm = 10;
const batteryStepPermille = 10;

export class TelemetryGate {
  private readonly slot: number;
  private radioPeriods = 0;
  private last: TelemetryFacts | null = null;
  private since = 0;

  constructor(node: string) {
    let h = 0;
    for (let i = 0; i < node.length; i++) h = (h * 31 + node.charCodeAt(i)) >>> 0;
    this.slot = h % limits.radioOnlyTelemetryEvery;
  }

  /** Called once per telemetry period; true when this period's report is to be signed and sent. */
  due(now: TelemetryFacts, radioOnly: boolean): boolean {
    this.radioPeriods = radioOnly ? this.radioPeriods + 1 : 0;
    if (radioOnly && (this.radioPeriods - 1) % limits.radioOnlyTelemetryEvery !== this.slot) return false;
    this.since++;
    const l = this.last;
    const same =
      l !== null &&
      Math.abs(l.northDm - now.northDm) < movedDm &&
      Math.abs(l.eastDm - now.eastDm) < movedDm &&
      Math.abs(l.altDm - now.altDm) < movedDm &&
      l.heightUnknown === now.heightUnknown &&
      Math.abs(l.batteryPermille - now.batteryPermille) < batteryStepPermille &&
      l.completed === now.completed &&
      l.progress?.mission === now.progress?.mission &&
      l.progress?.flown === now.progress?.flown &&
      l.handedOver === now.handedOver;
    // A drone with a part of a mission (flying it or holding) reports more often when still: the
    // mission machine takes a drone silent for lostAfterS as lost (runtime/mission/reassign.ts), and
    // tells a lost one to return home, which a handed-over one (its part still its own while
    // reassignHandedOver is 0) must not be told: it would take the vehicle back from its pilot.
    if (same && this.since < (now.progress || now.handedOver ? limits.telemetryMissionKeepaliveEvery : limits.telemetryKeepaliveEvery)) return false;
    this.last = now;
    this.since = 0;
    return true;
  }
}

/** The longest a device holding still on a part of a mission goes between reports on the radio
 *  alone: it considers one period in radioOnlyTelemetryEvery and reports again, unchanged, after
 *  telemetryMissionKeepaliveEvery of those (measured on the gate: telemetry-gate.test.ts). */
export function radioOnlyMissionGapMs(periodMs: number): number {
  return periodMs * limits.radioOnlyTelemetryEvery * limits.telemetryMissionKeepaliveEvery;
}

/**
 * Why the committed `lostAfterS` would take a drone for lost on the radio alone, or null. The mission
 * machine takes a drone of a mission with no report committed for lostAfterS as lost
 * (runtime/mission/reassign.ts); on the radio alone a still one reports every radioOnlyMissionGapMs,
 * so lostAfterS must cover two gaps (one report lost on the air) and one radio cycle of its slot for
 * the report to commit. A device with a radio warns with this while it has a part of the committed
 * mission (device.ts checkLostAfter); the parameter itself is the fleet's, so an MQTT-only fleet may
 * keep a shorter one.
 */
export function lostAfterRadioProblem(lostAfterS: number, periodMs: number): string | null {
  const gapMs = radioOnlyMissionGapMs(periodMs);
  const neededS = Math.ceil((2 * gapMs + periodMs * limits.radioOnlyTelemetryEvery) / 1_000);
  if (lostAfterS >= neededS) return null;
  return `lostAfterS ${lostAfterS} s is too short for a fleet that may fly on the radio alone: with the broker down a device holding still on a part of a mission reports only every ${gapMs / 1_000} s (telemetry.periodMs ${periodMs} x radioOnlyTelemetryEvery ${limits.radioOnlyTelemetryEvery} x telemetryMissionKeepaliveEvery ${limits.telemetryMissionKeepaliveEvery}), so one lost report, or a report committed late, makes it lost and its lanes go to another drone; set lostAfterS to at least ${neededS} (param.set)`;
}
