// Linux drivers against the conformance suites: an NMEA 0183 GPS on a real socat pty (the test plays
// the receiver, writing sentences built from the spec), and the LED class through sysfs-shaped files.
// Plus the NMEA parser itself: checksums, GGA/RMC fields, and refusals.

import { describe, expect, it, onTestFinished } from 'vitest';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSerial } from '../../firmware-bridge/transport.js';
import { NmeaGps } from '../../hal/linux/nmea-gps.js';
import { nmeaChecksum, nmeaSentence, parseNmea } from '../../hal/linux/nmea.js';
import { SysfsLed } from '../../hal/linux/sysfs-led.js';
import { startPtyPair } from '../../firmware-bridge/tools/processes.js';
import { ledConformance, positionConformance, type Harness } from './conformance.js';
import { gga, nmeaTime, rmc } from '../support/nmea.js';
import { Prng } from '../../runtime/lib/prng.js';
import { localToGeo } from '../../hal/geo.js';
import type { GnssFix } from '../../hal/devices.js';


describe('NMEA 0183 parser', () => {
  it('checks the XOR checksum (the spec example $GPGGA,...*47)', () => {
    const body = 'GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,';
    expect(nmeaChecksum(body)).toBe(0x47);
    const r = parseNmea(`$${body}*47`);
    expect(r.ok && r.value).toMatchObject({ kind: 'GGA', quality: 1, satellites: 8, hdop: 0.9, altMslM: 545.4 });
    if (r.ok && r.value.kind === 'GGA') {
      expect(r.value.latDeg).toBeCloseTo(48 + 7.038 / 60, 9);
      expect(r.value.lonDeg).toBeCloseTo(11 + 31 / 60, 9);
    }
    expect(parseNmea(`$${body}*48`)).toEqual({ ok: false, error: 'checksum mismatch' });
  });

  it('reads RMC speed in knots and course; southern and western hemispheres are negative', () => {
    const r = parseNmea(rmc(-33.5, -70.25, 10, 271.5).trim());
    expect(r.ok).toBe(true);
    if (r.ok && r.value.kind === 'RMC') {
      expect(r.value.valid).toBe(true);
      expect(r.value.latDeg).toBeCloseTo(-33.5, 6);
      expect(r.value.lonDeg).toBeCloseTo(-70.25, 6);
      expect(r.value.speedMps).toBeCloseTo(5.14444, 4);
      expect(r.value.courseDeg).toBe(271.5);
    }
  });

  it('refuses overlong lines, bad coordinates and sentences it does not know', () => {
    expect(parseNmea('$' + 'A'.repeat(90) + '*00').ok).toBe(false);
    expect(parseNmea(nmeaSentence('GPGGA,1,9999.0,N,01131.000,E,1,08,0.9,5,M,4,M,,').trim())).toEqual({ ok: false, error: 'GGA: bad coordinate' });
    expect(parseNmea(nmeaSentence('GPGSV,3,1,11').trim())).toEqual({ ok: false, error: 'unsupported sentence GSV' });
  });
});

/** A GPS receiver on a pty: the test writes GGA+RMC at 10 Hz to one end; the driver reads the other. */
async function nmeaHarness(): Promise<Harness<NmeaGps> & { writer: { write(s: string): void } }> {
  const pty = await startPtyPair();
  const receiver = await openSerial({ path: pty.b, baudRate: 9600 });
  const gps = new NmeaGps({ open: () => openSerial({ path: pty.a, baudRate: 9600 }) });
  let n = 0;
  const timer = setInterval(() => {
    n++;
    receiver.write(Buffer.from(gga(47.3977 + n * 1e-6, 8.5456, 500) + rmc(47.3977 + n * 1e-6, 8.5456, 4, 15), 'latin1'));
  }, 100);
  return {
    device: gps,
    writer: { write: (s: string) => receiver.write(Buffer.from(s, 'latin1')) },
    advance: (ms) => new Promise((r) => setTimeout(r, ms)),
    close: async () => {
      clearInterval(timer);
      await gps.stop();
      await receiver.close();
      await pty.stop();
    },
  };
}

positionConformance('nmea (serial pty)', nmeaHarness);

describe('NMEA GPS driver on a pty', () => {
  it('ignores sentences with bad checksums and counts them', async () => {
    const h = await nmeaHarness();
    try {
      await h.device.start();
      h.writer.write('$GPGGA,123519.00,0000.0000,N,00000.0000,E,1,09,0.9,1.0,M,47.0,M,,*00\r\n');
      await h.advance(400);
      expect(h.device.counters.badChecksum).toBeGreaterThanOrEqual(1);
      const f = h.device.fix();
      expect(f.ok && f.value.latDeg).toBeGreaterThan(47); // the forged (0, 0) fix never took effect
      expect(f.ok && f.value.groundSpeedMps).toBeCloseTo(4 * 0.514444, 4);
    } finally {
      await h.close();
    }
  });
});

describe('NMEA GPS driver on a pty: a receiver that sends GGA without RMC', () => {
  /** Plays a receiver at 10 Hz for 1.5 s moving at `northMps`/`eastMps`, GGA only, with its own UTC
   *  time (starting just before midnight, so the day wraps), and returns the driver's fix. */
  async function moving(northMps: number, eastMps: number, withTime: boolean): Promise<GnssFix> {
    const pty = await startPtyPair();
    const receiver = await openSerial({ path: pty.b, baudRate: 9600 });
    const gps = new NmeaGps({ open: () => openSerial({ path: pty.a, baudRate: 9600 }) });
    const origin = { latDeg: 47.3977, lonDeg: 8.5456 };
    try {
      await gps.start();
      // Positions and times from the clock, not the loop count: a loaded machine's late timers must not
      // make the receiver look slower than it moves.
      const t0 = performance.now();
      for (let i = 0; i < 15; i++) {
        const s = Math.round((performance.now() - t0) / 10) / 100; // centiseconds, as the time field has
        const p = localToGeo(origin, northMps * s, eastMps * s);
        receiver.write(Buffer.from(gga(p.latDeg, p.lonDeg, 500, withTime ? nmeaTime(86_399 + s) : undefined), 'latin1'));
        await new Promise((r) => setTimeout(r, 100));
      }
      const f = gps.fix();
      if (!f.ok) throw new Error(f.error.message);
      return f.value;
    } finally {
      await gps.stop();
      await receiver.close();
      await pty.stop();
    }
  }

  it('derives speed and course from the last second of fixes (it said 0 m/s, so the predictive fence hold saw a drone standing still)', async () => {
    const north = await moving(5, 0, true);
    expect(north.groundSpeedMps).toBeGreaterThan(4.5);
    expect(north.groundSpeedMps).toBeLessThan(5.5);
    expect(Math.min(north.courseDeg, 360 - north.courseDeg)).toBeLessThan(5);
    // No time field: timed by arrival, which a loaded machine's event loop blurs; still nowhere near 0.
    const east = await moving(0, 8, false);
    expect(east.groundSpeedMps).toBeGreaterThan(5);
    expect(east.groundSpeedMps).toBeLessThan(12);
    expect(Math.abs(east.courseDeg - 90)).toBeLessThan(5);
  });
});

// Each of these tests has its own pty, receiver and driver, all stopped in its own finally, and waits
// 1.2 s on them: they run at once (describe.concurrent).
describe.concurrent('NMEA GPS driver on a pty: a receiver that is there but gives no fix', () => {
  /** The driver on one end of a pty; `feed` plays the receiver on the other every 100 ms for 1.2 s. */
  async function noFix(feed: (() => string | Buffer) | null): Promise<string> {
    const pty = await startPtyPair();
    const receiver = await openSerial({ path: pty.b, baudRate: 9600 });
    const gps = new NmeaGps({ open: () => openSerial({ path: pty.a, baudRate: 9600 }) });
    try {
      await gps.start();
      for (let i = 0; i < 12; i++) {
        const chunk = feed?.();
        if (chunk !== undefined) receiver.write(typeof chunk === 'string' ? Buffer.from(chunk, 'latin1') : chunk);
        await new Promise((r) => setTimeout(r, 100));
      }
      const f = gps.fix();
      if (f.ok) throw new Error('expected no fix');
      expect(f.error.code).toBe('no-data');
      return f.error.message;
    } finally {
      await gps.stop();
      await receiver.close();
      await pty.stop();
    }
  }

  it('says nothing arrived on a silent port', async () => {
    expect(await noFix(null)).toMatch(/^no GGA sentence yet: nothing received on serial:/);
  });

  it('points at the baud rate when bytes arrive but no sentence (a receiver at 38400 read at 9600)', async () => {
    const prng = new Prng(3);
    // What a UART at the wrong rate reads: bytes without the $...*hh shape, with line ends among them.
    expect(await noFix(() => Buffer.from(prng.bytes(120).map((b) => (b % 16 === 0 ? 10 : b))))).toMatch(/bytes received on serial:.* but no NMEA sentence: check that the baud rate \(hal\.gnss\.baud\) matches/);
  });

  it('names lines longer than NMEA 0183 allows (a receiver in high-precision mode)', async () => {
    const long = nmeaSentence('GNGGA,123519.00,4723.86520001,N,00832.73640001,E,1,09,0.9,500.123,M,47.000,M,0000.0,0000,EXTRA');
    expect(long.length).toBeGreaterThan(84);
    expect(await noFix(() => long)).toMatch(/lines longer than 82 characters dropped/);
  });

  it('names a receiver that sends other sentences but no GGA', async () => {
    expect(await noFix(() => rmc(47.3977, 8.5456, 4, 15))).toMatch(/no GGA among \d+ sentences.*enable GGA/);
  });
});

/** Runs `f` as a user the file modes apply to: root may write any file, so as root (this machine's
 *  tests) with the effective user and group `nobody` (65534), restored afterwards. */
async function asUnprivileged<T>(f: () => Promise<T>): Promise<T> {
  if (process.getuid?.() !== 0) return f();
  process.setegid?.(65534);
  process.seteuid?.(65534);
  try {
    return await f();
  } finally {
    process.seteuid?.(0);
    process.setegid?.(0);
  }
}

/** A directory shaped like /sys/class/leds/NAME with the files the kernel provides, removed when the test ends. */
function fakeLedClass(): string {
  const root = mkdtempSync(join(tmpdir(), 'murmur-leds-'));
  onTestFinished(() => rmSync(root, { recursive: true, force: true }));
  mkdirSync(join(root, 'status'));
  writeFileSync(join(root, 'status', 'brightness'), '0\n');
  writeFileSync(join(root, 'status', 'max_brightness'), '255\n');
  writeFileSync(join(root, 'status', 'trigger'), '[none] timer heartbeat mmc0\n');
  return root;
}

ledConformance('sysfs (LED class files)', () => {
  const led = new SysfsLed({ name: 'status', classDir: fakeLedClass() });
  return Promise.resolve({ device: led, advance: (ms) => new Promise((r) => setTimeout(r, ms)), close: () => Promise.resolve() });
});

describe('sysfs LED driver', () => {
  it('writes max brightness for on, and selects the kernel timer trigger with half-period delays for blink', async () => {
    const root = fakeLedClass();
    const led = new SysfsLed({ name: 'status', classDir: root });
    await led.start();
    led.set({ type: 'on' });
    expect(readFileSync(join(root, 'status', 'brightness'), 'utf8')).toBe('255');
    led.set({ type: 'blink', periodMs: 400 });
    expect(readFileSync(join(root, 'status', 'trigger'), 'utf8')).toBe('timer');
    expect(readFileSync(join(root, 'status', 'delay_on'), 'utf8')).toBe('200');
    await led.stop();
  });

  it('refuses to start on a missing LED with a message naming the path', async () => {
    const led = new SysfsLed({ name: 'nope', classDir: fakeLedClass() });
    await expect(led.start()).rejects.toThrow(/no LED at .*nope/);
  });

  it('refuses to start on an LED whose brightness or trigger file this user may not write, naming the file and the fix', async () => {
    const rule = (file: string): string =>
      `cannot write ${file} (EACCES): give this user write access to the LED, e.g. the udev rule ACTION=="add", SUBSYSTEM=="leds", KERNEL=="status", RUN+="/bin/chgrp murmur /sys%p/brightness /sys%p/trigger", RUN+="/bin/chmod g+w /sys%p/brightness /sys%p/trigger"`;
    for (const [readOnly, writable] of [['brightness', 'trigger'], ['trigger', 'brightness']] as const) {
      const root = fakeLedClass();
      for (const d of [root, join(root, 'status')]) chmodSync(d, 0o755);
      chmodSync(join(root, 'status', readOnly), 0o444);
      chmodSync(join(root, 'status', writable), 0o666);
      const started = await asUnprivileged(() => new SysfsLed({ name: 'status', classDir: root }).start().then(() => 'started', (e: Error) => e.message));
      expect(started).toBe(rule(join(root, 'status', readOnly)));
    }
  });
});
