// NMEA 0183 sentences a GNSS receiver sends: GGA (fix, satellites, HDOP, altitude) and RMC (validity,
// speed, course). Checksums are checked: XOR of the characters between '$' and '*' (NMEA 0183 §5.3).

import { err, ok, type Result } from '../../runtime/lib/result.js';
import { limits } from '../../runtime/lib/limits.js';

export interface GgaSentence {
  readonly kind: 'GGA';
  readonly talker: string;
  readonly latDeg: number | null;
  readonly lonDeg: number | null;
  /** 0 invalid, 1 GPS, 2 DGPS, 4 RTK fixed, 5 RTK float, 6 dead reckoning ... */
  readonly quality: number;
  readonly satellites: number;
  readonly hdop: number;
  readonly altMslM: number | null;
  /** The fix's UTC time of day in seconds (hhmmss.ss), null when the field is empty or malformed. */
  readonly utcSec: number | null;
}

export interface RmcSentence {
  readonly kind: 'RMC';
  readonly talker: string;
  readonly valid: boolean;
  readonly latDeg: number | null;
  readonly lonDeg: number | null;
  readonly speedMps: number;
  readonly courseDeg: number;
}

export type NmeaSentence = GgaSentence | RmcSentence;

export function nmeaChecksum(body: string): number {
  let x = 0;
  for (let i = 0; i < body.length; i++) x ^= body.charCodeAt(i);
  return x;
}

/** Wraps a body ("GPGGA,...") into a full sentence with its checksum and CRLF. */
export function nmeaSentence(body: string): string {
  return `$${body}*${nmeaChecksum(body).toString(16).toUpperCase().padStart(2, '0')}\r\n`;
}

/** ddmm.mmmm (latitude) or dddmm.mmmm (longitude) with its hemisphere letter. */
function coordinate(value: string, hemi: string, degDigits: 2 | 3): number | null | 'bad' {
  if (value === '' && hemi === '') return null;
  const shape = degDigits === 2 ? /^\d{4}(\.\d+)?$/ : /^\d{5}(\.\d+)?$/;
  const hemis = degDigits === 2 ? ['N', 'S'] : ['E', 'W'];
  if (!shape.test(value) || !hemis.includes(hemi)) return 'bad';
  const deg = Number(value.slice(0, degDigits));
  const min = Number(value.slice(degDigits));
  if (!(min < 60)) return 'bad';
  const v = deg + min / 60;
  if (v > (degDigits === 2 ? 90 : 180)) return 'bad';
  return hemi === 'S' || hemi === 'W' ? -v : v;
}

/** hhmmss or hhmmss.ss as seconds since midnight; null for anything else (empty before a fix). */
function timeOfDay(v: string): number | null {
  const m = /^(\d{2})(\d{2})(\d{2}(?:\.\d+)?)$/.exec(v);
  if (!m) return null;
  const [h, min, sec] = [Number(m[1]), Number(m[2]), Number(m[3])];
  return h < 24 && min < 60 && sec < 61 ? h * 3600 + min * 60 + sec : null;
}

function num(s: string | undefined, dflt: number): number {
  if (s === undefined || s === '') return dflt;
  const n = Number(s);
  return Number.isFinite(n) ? n : Number.NaN;
}

/** Parses one line (without CRLF). Unknown sentence types are an error the caller may ignore. */
export function parseNmea(line: string): Result<NmeaSentence, string> {
  if (line.length > limits.nmeaSentenceBytesMax) return err(`sentence longer than ${limits.nmeaSentenceBytesMax} characters`);
  const m = /^\$([A-Z0-9,.\-+ ]*)\*([0-9A-Fa-f]{2})$/.exec(line);
  if (!m) return err('not an NMEA sentence ($...*hh)');
  const body = m[1] as string;
  if (nmeaChecksum(body) !== parseInt(m[2] as string, 16)) return err('checksum mismatch');
  const f = body.split(',');
  const id = f[0] ?? '';
  if (id.length !== 5) return err(`bad address field "${id}"`);
  const talker = id.slice(0, 2);
  const type = id.slice(2);
  if (type === 'GGA') {
    const lat = coordinate(f[2] ?? '', f[3] ?? '', 2);
    const lon = coordinate(f[4] ?? '', f[5] ?? '', 3);
    if (lat === 'bad' || lon === 'bad') return err('GGA: bad coordinate');
    const quality = num(f[6], 0);
    const sats = num(f[7], 0);
    const hdop = num(f[8], 99.99);
    const alt = f[9] === '' || f[9] === undefined ? null : num(f[9], Number.NaN);
    if ([quality, sats, hdop].some(Number.isNaN) || (alt !== null && Number.isNaN(alt))) return err('GGA: bad number');
    return ok({ kind: 'GGA', talker, latDeg: lat, lonDeg: lon, quality, satellites: sats, hdop, altMslM: alt, utcSec: timeOfDay(f[1] ?? '') });
  }
  if (type === 'RMC') {
    const lat = coordinate(f[3] ?? '', f[4] ?? '', 2);
    const lon = coordinate(f[5] ?? '', f[6] ?? '', 3);
    if (lat === 'bad' || lon === 'bad') return err('RMC: bad coordinate');
    const knots = num(f[7], 0);
    const course = num(f[8], 0);
    if (Number.isNaN(knots) || Number.isNaN(course)) return err('RMC: bad number');
    return ok({ kind: 'RMC', talker, valid: f[2] === 'A', latDeg: lat, lonDeg: lon, speedMps: knots * 0.514444, courseDeg: course });
  }
  return err(`unsupported sentence ${type}`);
}
