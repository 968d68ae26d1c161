// The telemetry body (kind 13): a device's signed position, battery and finished mission, submitted
// as a block transaction so task allocation works from positions every device agrees on. Integers in
// the fleet's local frame (decimetres), so the committed values need no float handling.

import { encodeCbor } from './cbor.js';
import { array, id, int, positional, text, uint } from './fields.js';

export interface TelemetryBody {
  readonly node: string;
  /** Grows per boot session and per report, so two reports never have the same bytes. */
  readonly session: number;
  readonly seq: number;
  readonly northDm: number;
  readonly eastDm: number;
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
}

const coordDmMax = 10_000_000; // 1000 km from the fleet origin

export function parseTelemetryBody(v: unknown): TelemetryBody {
  // Eight elements, a ninth when it flies a mission; more from a newer version are ignored.
  const a = positional(v, 'telemetry', 8, 9);
  const p = a[8] === undefined || a[8] === null ? undefined : array(a[8], 'telemetry.progress', 2, 2);
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
  };
}

/** [node, session, seq, northDm, eastDm, altDm, batteryPermille, completed, [mission, flown]?] */
export function encodeTelemetryBody(t: TelemetryBody): Uint8Array {
  const base = [t.node, t.session, t.seq, t.northDm, t.eastDm, t.altDm, t.batteryPermille, t.completed];
  return encodeCbor(t.progress ? [...base, [t.progress.mission, t.progress.flown]] : base);
}
