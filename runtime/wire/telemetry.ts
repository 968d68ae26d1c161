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
  /** Height above home; null when the device does not know it (its flight controller's estimator says
   *  its vertical position is not valid): a tenth element, true, says so, and the sixth is 0 for a
   *  version that does not know the tenth (it reads the drone at 0 m, no claim of height), rather than
   *  a held or drifting number. */
  readonly altDm: number | null;
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
  // Eight elements, a ninth when it flies a mission, a tenth when its height is not known; more from a
  // newer version are ignored.
  const a = positional(v, 'telemetry', 8, 10);
  const p = a[8] === undefined || a[8] === null ? undefined : array(a[8], 'telemetry.progress', 2, 2);
  if (a[9] !== undefined && a[9] !== null && typeof a[9] !== 'boolean') fail('telemetry.altUnknown must be true, false or null');
  const altDm = int(a[5], 'telemetry.altDm', -coordDmMax, coordDmMax);
  return {
    node: id(a[0], 'telemetry.node'),
    session: uint(a[1], 'telemetry.session', 0xffffffff),
    seq: uint(a[2], 'telemetry.seq'),
    northDm: int(a[3], 'telemetry.northDm', -coordDmMax, coordDmMax),
    eastDm: int(a[4], 'telemetry.eastDm', -coordDmMax, coordDmMax),
    altDm: a[9] === true ? null : altDm,
    batteryPermille: int(a[6], 'telemetry.batteryPermille', -1, 1_000),
    completed: text(a[7], 'telemetry.completed', 100),
    ...(p ? { progress: { mission: text(p[0], 'telemetry.progress.mission', 100), flown: uint(p[1], 'telemetry.progress.flown', 0xffff) } } : {}),
  };
}

/** [node, session, seq, northDm, eastDm, altDm, batteryPermille, completed, [mission, flown]?, true?]:
 *  with the height known, the bytes it always had. */
export function encodeTelemetryBody(t: TelemetryBody): Uint8Array {
  const base = [t.node, t.session, t.seq, t.northDm, t.eastDm, t.altDm ?? 0, t.batteryPermille, t.completed];
  const progress = t.progress ? [t.progress.mission, t.progress.flown] : null;
  if (t.altDm === null) return encodeCbor([...base, progress, true]);
  return encodeCbor(progress ? [...base, progress] : base);
}
