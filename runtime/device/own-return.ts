// The executor's own last return or landing, kept in the device's data directory (file `own-return`),
// so a device restarted in flight can tell its own return from the flight controller's failsafe or a
// pilot's switch: a HEARTBEAT in RTL looks the same whoever chose it, and the FC's words for a failsafe
// came before the restart. Written when the vehicle accepts a return or landing of the executor's (a
// committed rtl, land or abort, a reflex's failsafe, a task's way home), emptied when the executor flies
// anything else, the vehicle is someone else's, or it is down, disarmed or not (Executor.send, handOver,
// watchDescent); a restart judges it once the flight controller is heard (Executor.takeUpOwnReturn).
//
// The file: [format u8][crc32 u32 BE of the body][body: CBOR array], replaced atomically (Storage.replace:
// temp file, fsync, rename, directory fsync), as the session and `flying` files are. Empty: no record.
// A file that fails its checksum, is cut short or is of another format is no record: the start logs
// why, empties it, and the restart does what it does without one (the drone handed over). An older
// release ignores the file (data-format.ts: an addition, no format bump).

import { geoToLocal } from '../../hal/geo.js';
import type { FlightActionType, FlightMode, FlightState } from '../../hal/devices.js';
import { err, ok, type Result } from '../lib/result.js';
import { crc32 } from '../node/crc32.js';
import { decodeCbor, encodeCbor } from '../wire/cbor.js';
import { array, num, oneOf, parseWith, text, uint } from '../wire/fields.js';

export const ownReturnFile = 'own-return';
/** The format this release writes and reads (the file's first byte). */
export const ownReturnFormat = 1;
const headerBytes = 5;
const bodyBytesMax = 2_048;
const textBytesMax = 512;

/** A record older than this is of another flight (no return of a multirotor's lasts that long), or the
 *  clock moved: not taken for the return the vehicle flies now. */
export const ownReturnAgeMsMax = 30 * 60_000;
/** A record this far ahead of the clock (a clock set back since it was written) is not trusted either. */
const ownReturnAheadMsMax = 60_000;
/** The FC's home this far from the one it had when the record was written: set anew at another arming
 *  (ArduCopter and PX4 set home when they arm), so another flight. GNSS wander at one spot is less. */
export const ownReturnHomeMovedM = 5;

export interface OwnReturn {
  /** The action the vehicle accepted: its modes (FlightControl.modesAfter) are what it leaves the FC in. */
  readonly action: Extract<FlightActionType, 'return-to-launch' | 'land'>;
  /** The committed command it carried out (an rtl, land or abort, or the task whose way home it was),
   *  or null (a reflex's failsafe, a state sync's catch-up). */
  readonly command: string | null;
  /** What it was, in words a reason quotes ("rtl for command ops/07", "failsafe return to launch
   *  (battery 18% ...)"). */
  readonly what: string;
  /** Wall-clock time the vehicle accepted it (Date.now). */
  readonly atMs: number;
  /** The FC's home then (where its return goes), or null before it had one. */
  readonly home: { readonly latDeg: number; readonly lonDeg: number } | null;
}

export function encodeOwnReturn(r: OwnReturn): Uint8Array {
  const body = encodeCbor([r.action, r.command, r.what, r.atMs, r.home === null ? null : [r.home.latDeg, r.home.lonDeg]]);
  const out = new Uint8Array(headerBytes + body.length);
  out[0] = ownReturnFormat;
  new DataView(out.buffer).setUint32(1, crc32(body));
  out.set(body, headerBytes);
  return out;
}

/** The record in `b` (null: none, an empty file), or why it cannot be read. */
export function decodeOwnReturn(b: Uint8Array): Result<OwnReturn | null> {
  if (b.length === 0) return ok(null);
  if (b[0] !== ownReturnFormat) return err(`is of format ${b[0]}, not ${ownReturnFormat} (written by another release)`);
  if (b.length < headerBytes) return err(`is cut short (${b.length} bytes, its header is ${headerBytes})`);
  const body = b.subarray(headerBytes);
  if (crc32(body) !== new DataView(b.buffer, b.byteOffset + 1, 4).getUint32(0)) return err(`fails its checksum (${b.length} bytes: cut short or damaged)`);
  const d = decodeCbor(body, bodyBytesMax);
  if (!d.ok) return err(d.error);
  return parseWith(ownReturnFile, d.value, (v) => {
    const a = array(v, 'record', 5, 5);
    const home = a[4] === null ? null : array(a[4], 'record.home', 2, 2);
    return {
      action: oneOf(a[0], 'record.action', ['return-to-launch', 'land'] as const),
      command: a[1] === null ? null : text(a[1], 'record.command', textBytesMax),
      what: text(a[2], 'record.what', textBytesMax),
      atMs: uint(a[3], 'record.atMs'),
      home: home === null ? null : { latDeg: num(home[0], 'record.home[0]', -90, 90), lonDeg: num(home[1], 'record.home[1]', -180, 180) },
    };
  });
}

/**
 * Whether the vehicle now flies the return or landing `r` recorded: armed, in the air, no failsafe
 * announced, in a mode the action leaves it in (`modes`: FlightControl.modesAfter), the record of this flight (not older than
 * ownReturnAgeMsMax, not ahead of the clock, the FC's home where it was). Null when it does, else why
 * not (for the log). A vehicle found down or disarmed has ended it.
 */
export function ownReturnMismatch(r: OwnReturn, fs: FlightState, modes: readonly FlightMode[] | null, nowMs: number): string | null {
  if (!fs.armed || fs.landed === 'on-ground') return `the vehicle is ${fs.armed ? 'on the ground' : 'disarmed'}: that ${r.action === 'land' ? 'landing' : 'return'} ended`;
  // The FC's failsafe flag is what it announced since this device started (MAVLink: its STATUSTEXT); the
  // return the vehicle flies, in the same modes, is then the failsafe's, as takenOver reads one raised
  // while the executor flies. Before, the record matched and the announced failsafe was never counted
  // (takenOver counts the flag only once it has been seen clear).
  if (fs.failsafe) return `the flight controller announced a failsafe since this device started (${fs.failsafeSaid !== undefined ? `${fs.failsafeSaid}; ` : ''}mode ${fs.mode}): its own, not that ${r.action === 'land' ? 'landing' : 'return'}`;
  if (modes === null || !modes.includes(fs.mode)) return `the flight controller is in mode ${fs.mode}, not ${modes === null || modes.length === 0 ? 'a mode of that action' : modes.join(' or ')}: someone changed it since`;
  const ageMs = nowMs - r.atMs;
  if (ageMs > ownReturnAgeMsMax) return `it is ${Math.round(ageMs / 60_000)} min old (at most ${ownReturnAgeMsMax / 60_000} min): of another flight`;
  if (ageMs < -ownReturnAheadMsMax) return `it is ${Math.round(-ageMs / 1000)} s ahead of this device's clock: the clock moved, its age is not known`;
  if (r.home !== null && fs.home !== null) {
    const d = geoToLocal(r.home, fs.home.latDeg, fs.home.lonDeg);
    const movedM = Math.hypot(d.northM, d.eastM);
    if (movedM > ownReturnHomeMovedM) return `the flight controller's home moved ${movedM.toFixed(0)} m since (set anew at another arming): of another flight`;
  }
  return null;
}
