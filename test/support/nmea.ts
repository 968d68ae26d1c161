// NMEA 0183 sentences as a GNSS receiver writes them, built from the spec, for tests that play the receiver.

import { nmeaSentence } from '../../hal/linux/nmea.js';

/** ddmm.mmmm / dddmm.mmmm from degrees. */
function nmeaCoord(deg: number, degDigits: 2 | 3): string {
  const a = Math.abs(deg);
  const d = Math.floor(a);
  return `${String(d).padStart(degDigits, '0')}${((a - d) * 60).toFixed(4).padStart(7, '0')}`;
}

/** `time`: the fix's UTC time of day, hhmmss.ss. */
export function gga(lat: number, lon: number, alt: number, time = '123519.00'): string {
  return nmeaSentence(`GPGGA,${time},${nmeaCoord(lat, 2)},${lat < 0 ? 'S' : 'N'},${nmeaCoord(lon, 3)},${lon < 0 ? 'W' : 'E'},1,09,0.9,${alt.toFixed(1)},M,47.0,M,,`);
}

export function rmc(lat: number, lon: number, knots: number, course: number): string {
  return nmeaSentence(`GPRMC,123519.00,A,${nmeaCoord(lat, 2)},${lat < 0 ? 'S' : 'N'},${nmeaCoord(lon, 3)},${lon < 0 ? 'W' : 'E'},${knots.toFixed(1)},${course.toFixed(1)},230394,003.1,W`);
}

/** Seconds since midnight as NMEA's hhmmss.ss. */
export function nmeaTime(sec: number): string {
  const s = ((sec % 86_400) + 86_400) % 86_400;
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return `${String(h).padStart(2, '0')}${String(m).padStart(2, '0')}${(s % 60).toFixed(2).padStart(5, '0')}`;
}
