// The telemetry body (kind 13): a device's signed position, battery and finished mission, submitted
// as a block transaction so task allocation works from positions every device agrees on. Integers in
// the fleet's local frame (decimetres), so the committed values need no float handling.

import { encodeCbor } from './cbor.js';
import { array, fail, id, int, positional, text, uint } from './fields.js';

export interface TelemetryBody {
  readonly node: string;
  /** Grows per boot session and per report, so two reports never have the same bytes. */
  readonly session: number;
  readonly seq: number;
  readonly northDm: number;
  readonly eastDm: number;
  /** Height above home. While heightUnknown, the last height the device knew (held: MissionRunner
   *  telemetryFacts says why that number), which is all a version without the eleventh element reads. */
  readonly altDm: number;
  /** 0..1000, or -1 when the battery cannot estimate its charge. */
  readonly batteryPermille: number;
  /** Mission id (command ref) whose waypoints this device finished, or "". */
  readonly completed: string;
  /** The mission it is flying and how many of its part's planned waypoints it has passed
   *  (runtime/mission/progress.ts), or absent. A ninth element, left out when absent, so a report
   *  without it has the bytes it always had (null there also reads as absent: a later element needs
   *  something in its place). */
  readonly progress?: { readonly mission: string; readonly flown: number } | undefined;
  /** The mission whose part this device's vehicle was handed over from (a pilot or the flight
   *  controller's own failsafe took it, or a restart found it on the ground after it flew for the
   *  mission and did not take off again: runtime/device/executor.ts handedOver), or absent. A tenth
   *  element, left out when absent (the ninth is null before it when there is no progress). A device
   *  sends it with no progress and `completed` "" (both stand still while the vehicle is not the
   *  device's), so its longest report still fits telemetryBytesMax. */
  readonly handedOver?: string | undefined;
  /** True while the device does not know its height (its flight controller's estimator says its
   *  vertical position is not valid): altDm is then a held number, not a measurement. An eleventh
   *  element, true, left out otherwise (null in the ninth and tenth before it when absent). Device-
   *  local news only: the mission machine does not read it (mission-adapter.ts), for a node of a version
   *  before it would not (ARCHITECTURE.md, "Wire format evolution"). */
  readonly heightUnknown?: true | undefined;
}

const coordDmMax = 10_000_000; // 1000 km from the fleet origin

export function parseTelemetryBody(v: unknown): TelemetryBody {
  // Eight elements, a ninth when it flies a mission, a tenth when handed over from one, an eleventh
  // when its height is not known; more from a newer version are ignored. Null or "" in the tenth
  // reads as absent, as "" in `completed` does; null or false in the eleventh does too.
  const a = positional(v, 'telemetry', 8, 11);
  const p = a[8] === undefined || a[8] === null ? undefined : array(a[8], 'telemetry.progress', 2, 2);
  const h = a[9] === undefined || a[9] === null ? '' : text(a[9], 'telemetry.handedOver', 100);
  if (a[10] !== undefined && a[10] !== null && typeof a[10] !== 'boolean') fail('telemetry.heightUnknown must be true, false or null');
  return {
    node: id(a[0], 'telemetry.node'),
    session: uint(a[1], 'telemetry.session', 0xffffffff),
    seq: uint(a[2], 'telemetry.seq'),
    northDm: int(a[3], 'telemetry.northDm', -coordDmMax, coordDmMax),
    eastDm: int(a[4], 'telemetry.eastDm', -coordDmMax, coordDmMax),
    altDm: int(a[5], 'telemetry.altDm', -coordDmMax, coordDmMax),
    batteryPermille: int(a[6], 'telemetry.batteryPermille', -1, 1_000),
    completed: text(a[7], 'telemetry.completed', 100),
    ...(p ? { progress: { mission: text(p[0], 'telemetry.progress.mission', 100), flown: uint(p[1], 'telemetry.progress.flown', 0xffff) } } : {}),
    ...(h !== '' ? { handedOver: h } : {}),
    ...(a[10] === true ? { heightUnknown: true as const } : {}),
  };
}

/** [node, session, seq, northDm, eastDm, altDm, batteryPermille, completed, [mission, flown]?, handedOver?,
 *  true?]: an array, so the signed bytes do not depend on any key order; a report with neither a
 *  handover nor its height unknown has the bytes it always had. */
export function encodeTelemetryBody(t: TelemetryBody): Uint8Array {
  const base: unknown[] = [t.node, t.session, t.seq, t.northDm, t.eastDm, t.altDm, t.batteryPermille, t.completed];
  const progress = t.progress ? [t.progress.mission, t.progress.flown] : null;
  if (t.heightUnknown) return encodeCbor([...base, progress, t.handedOver || null, true]);
  if (t.handedOver) return encodeCbor([...base, progress, t.handedOver]);
  return encodeCbor(progress ? [...base, progress] : base);
}
