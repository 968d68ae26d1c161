// A GNSS receiver on a serial port speaking NMEA 0183: the Linux position driver. Lines are split,
// checked (length, checksum) and merged: GGA gives the fix, RMC the speed and course (without RMC, the
// last second of GGA fixes gives them).

import { err, ok, type Result } from '../../runtime/lib/result.js';
import { limits } from '../../runtime/lib/limits.js';
import { deviceError, type DeviceError, type FixType, type GnssFix, type PositionSensor } from '../devices.js';
import type { ByteTransport } from '../../firmware-bridge/transport.js';
import { geoToLocal } from '../geo.js';
import { parseNmea, type GgaSentence, type RmcSentence } from './nmea.js';

export interface NmeaGpsOptions {
  /** Opens the port on start (e.g. openSerial with the configured path and baud rate). */
  readonly open: () => Promise<ByteTransport>;
  readonly nowMs?: () => number;
  /** A fix older than this reads as 'stale'. */
  readonly staleMs?: number;
  /** Why the port is down (a receiver unplugged), named in 'no-data' and 'stale' errors. */
  readonly linkProblem?: () => string | null;
}

export interface NmeaCounters {
  sentences: number;
  badChecksum: number;
  malformed: number;
  unsupported: number;
  overlong: number;
}

function fixType(quality: number): FixType {
  if (quality === 0) return 'none';
  if (quality === 2) return 'dgps';
  if (quality === 4 || quality === 5) return 'rtk';
  return '3d';
}

/** How much of the recent fixes velocityFromFixes looks back over, and the shortest span it uses. */
const trackSpanMs = 1_000;
const trackFixesMax = 64;
const minSpanSec = 0.2;

export class NmeaGps implements PositionSensor {
  readonly kind = 'position';
  readonly driver = 'nmea';
  private port: ByteTransport | null = null;
  private line = '';
  private overlong = false;
  private bytesReceived = 0;
  private gga: (GgaSentence & { atMs: number }) | null = null;
  private rmc: (RmcSentence & { atMs: number }) | null = null;
  /** Recent fixes (oldest first, at most trackSpanMs of arrival time), for the velocity when the
   *  receiver sends no RMC. */
  private readonly track: { readonly latDeg: number; readonly lonDeg: number; readonly utcSec: number | null; readonly atMs: number }[] = [];
  private readonly now: () => number;
  private readonly staleMs: number;
  readonly counters: NmeaCounters = { sentences: 0, badChecksum: 0, malformed: 0, unsupported: 0, overlong: 0 };

  constructor(private readonly o: NmeaGpsOptions) {
    this.now = o.nowMs ?? Date.now;
    this.staleMs = o.staleMs ?? 2000;
  }

  async start(): Promise<void> {
    if (this.port) return;
    this.port = await this.o.open();
    this.port.onData((chunk) => {
      this.bytesReceived += chunk.length;
      this.feed(Buffer.from(chunk).toString('latin1'));
    });
  }

  async stop(): Promise<void> {
    const p = this.port;
    this.port = null;
    if (p) await p.close();
  }

  /** Feeds raw text (the serial callback does this; tests may too). */
  feed(text: string): void {
    for (const ch of text) {
      if (ch === '\n' || ch === '\r') {
        if (this.overlong) this.counters.overlong++;
        else if (this.line.length > 0) this.sentence(this.line);
        this.line = '';
        this.overlong = false;
      } else if (this.line.length >= limits.nmeaSentenceBytesMax) {
        this.overlong = true; // drop the rest of this line
      } else {
        this.line += ch;
      }
    }
  }

  private sentence(line: string): void {
    const r = parseNmea(line);
    if (!r.ok) {
      if (r.error === 'checksum mismatch') this.counters.badChecksum++;
      else if (r.error.startsWith('unsupported')) this.counters.unsupported++;
      else this.counters.malformed++;
      return;
    }
    this.counters.sentences++;
    const atMs = this.now();
    if (r.value.kind === 'RMC') {
      this.rmc = { ...r.value, atMs };
      return;
    }
    const g = r.value;
    this.gga = { ...g, atMs };
    if (g.quality === 0 || g.latDeg === null || g.lonDeg === null) return;
    this.track.push({ latDeg: g.latDeg, lonDeg: g.lonDeg, utcSec: g.utcSec, atMs });
    while (this.track.length > trackFixesMax || atMs - (this.track[0]?.atMs ?? atMs) > trackSpanMs) this.track.shift();
  }

  /** The message with why the port is down (unplugged) or, failing that, `detail`. */
  private why(message: string, detail: string | null = null): string {
    const p = this.o.linkProblem?.() ?? detail;
    return p === null ? message : `${message}: ${p}`;
  }

  /** Until the first GGA, what the port did carry and what that points to (the usual set-up mistakes). */
  private silence(): string {
    const c = this.counters;
    const on = this.port?.name ?? 'the port';
    if (this.bytesReceived === 0) return `nothing received on ${on}: check the wiring (the receiver's TX to our RX) and its power`;
    if (c.sentences + c.unsupported > 0) return `no GGA among ${c.sentences + c.unsupported} sentences received on ${on}: enable GGA output on the receiver`;
    if (c.overlong > 0) return `${c.overlong} lines longer than ${limits.nmeaSentenceBytesMax} characters dropped on ${on} (NMEA 0183's limit): turn off the receiver's high-precision or extended NMEA output`;
    if (c.badChecksum > 0) return `${c.badChecksum} sentences with a bad checksum on ${on}: a noisy line, or a baud rate (hal.gnss.baud) that does not match the receiver's`;
    return `${this.bytesReceived} bytes received on ${on} but no NMEA sentence: check that the baud rate (hal.gnss.baud) matches the receiver's`;
  }

  fix(): Result<GnssFix, DeviceError> {
    if (!this.port) return err(deviceError('stopped', 'NMEA GPS is not started'));
    const g = this.gga;
    if (g === null) return err(deviceError('no-data', this.why('no GGA sentence yet', this.silence())));
    const age = this.now() - g.atMs;
    if (age > this.staleMs) return err(deviceError('stale', this.why(`newest GGA is ${age} ms old`)));
    const rmc = this.rmc && this.now() - this.rmc.atMs <= this.staleMs && this.rmc.valid ? this.rmc : null;
    const noFix = g.quality === 0 || g.latDeg === null || g.lonDeg === null;
    const moved = rmc === null && !noFix ? this.velocityFromFixes() : null;
    return ok({
      timeMs: g.atMs,
      fix: noFix ? 'none' : fixType(g.quality),
      latDeg: g.latDeg ?? Number.NaN,
      lonDeg: g.lonDeg ?? Number.NaN,
      altMslM: g.altMslM ?? Number.NaN,
      satellites: g.satellites,
      hdop: g.hdop,
      groundSpeedMps: rmc?.speedMps ?? moved?.speedMps ?? 0,
      courseDeg: rmc?.courseDeg ?? moved?.courseDeg ?? 0,
    });
  }

  /**
   * Speed and course from the fixes of the last second, for a receiver set to send GGA without RMC:
   * reported as 0 m/s, the predictive geofence hold saw a drone standing still and held only at the
   * fence. Over the longest span kept (at least minSpanSec), so position steps of a few decimetres
   * (4-decimal minutes) do not swing the speed; the time between fixes is the receiver's own (GGA's UTC
   * field) when it gives one, the arrival time otherwise. Null with too short a span.
   */
  private velocityFromFixes(): { speedMps: number; courseDeg: number } | null {
    const a = this.track[0];
    const b = this.track[this.track.length - 1];
    if (a === undefined || b === undefined || a === b) return null;
    const utcDt = a.utcSec !== null && b.utcSec !== null ? (b.utcSec - a.utcSec + 86_400) % 86_400 : null;
    const dt = utcDt !== null && utcDt > 0 && utcDt * 1000 <= trackSpanMs * 2 ? utcDt : (b.atMs - a.atMs) / 1000;
    if (!(dt >= minSpanSec)) return null;
    const d = geoToLocal(a, b.latDeg, b.lonDeg);
    const courseDeg = ((Math.atan2(d.eastM, d.northM) * 180) / Math.PI + 360) % 360;
    return { speedMps: Math.hypot(d.northM, d.eastM) / dt, courseDeg };
  }
}
