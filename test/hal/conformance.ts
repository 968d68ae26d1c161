// One conformance suite per HAL interface; every driver of that interface runs it (STYLE.md §9).
// A harness hands over the device and a way to let time pass (stepping a simulation, or waiting).

import { describe, expect, it } from 'vitest';
import type { Attitude, AttitudeSensor, Battery, Device, FlightAction, FlightControl, FlightState, PositionSensor, Radio, RangeSensor, StatusLed } from '../../hal/devices.js';

export interface Harness<T extends Device> {
  readonly device: T;
  advance(ms: number): Promise<void>;
  close(): Promise<void>;
}

const fixTypes = ['none', '2d', '3d', 'dgps', 'rtk'];

async function until(h: Harness<Device>, what: string, cond: () => boolean, ms: number): Promise<void> {
  for (let t = 0; !cond(); t += 50) {
    if (t > ms) throw new Error(`${what} did not happen within ${ms} ms`);
    await h.advance(50);
  }
}

function lifecycle<T extends Device>(kind: string, make: () => Promise<Harness<T>>, read: (d: T) => { ok: boolean; error?: { code: string } }): void {
  it('reports "stopped" before start and after stop, and names its kind and driver', async () => {
    const h = await make();
    try {
      expect(h.device.kind).toBe(kind);
      expect(h.device.driver).toMatch(/^[a-z0-9-]+$/);
      const before = read(h.device);
      expect(before.ok).toBe(false);
      expect(before.error?.code).toBe('stopped');
      await h.device.start();
      await h.device.stop();
      expect(read(h.device).error?.code).toBe('stopped');
    } finally {
      await h.close();
    }
  });
}

export function positionConformance(driver: string, make: () => Promise<Harness<PositionSensor>>): void {
  describe(`PositionSensor conformance: ${driver}`, () => {
    lifecycle('position', make, (d) => d.fix() as never);
    it('produces well-formed fixes with non-decreasing times', async () => {
      const h = await make();
      try {
        await h.device.start();
        await until(h, 'a first fix', () => h.device.fix().ok, 5000);
        const a = h.device.fix();
        await h.advance(300);
        const b = h.device.fix();
        for (const r of [a, b]) {
          expect(r.ok).toBe(true);
          if (!r.ok) continue;
          const f = r.value;
          expect(fixTypes).toContain(f.fix);
          expect(Math.abs(f.latDeg)).toBeLessThanOrEqual(90);
          expect(Math.abs(f.lonDeg)).toBeLessThanOrEqual(180);
          expect(Number.isFinite(f.altMslM)).toBe(true);
          expect(Number.isInteger(f.satellites) && f.satellites >= 0).toBe(true);
          expect(f.hdop).toBeGreaterThan(0);
          expect(f.groundSpeedMps).toBeGreaterThanOrEqual(0);
          expect(f.courseDeg >= 0 && f.courseDeg < 360).toBe(true);
        }
        if (a.ok && b.ok) expect(b.value.timeMs).toBeGreaterThanOrEqual(a.value.timeMs);
      } finally {
        await h.close();
      }
    });
  });
}

function attitudeOk(a: Attitude): void {
  for (const v of [a.rollRad, a.pitchRad, a.yawRad]) expect(Math.abs(v)).toBeLessThanOrEqual(Math.PI + 1e-6);
  for (const v of [a.rollRateRadps, a.pitchRateRadps, a.yawRateRadps]) expect(Number.isFinite(v)).toBe(true);
}

export function attitudeConformance(driver: string, make: () => Promise<Harness<AttitudeSensor>>): void {
  describe(`AttitudeSensor conformance: ${driver}`, () => {
    lifecycle('attitude', make, (d) => d.attitude() as never);
    it('produces attitudes in range; the IMU is either a sane sample at rest or "unsupported"', async () => {
      const h = await make();
      try {
        await h.device.start();
        await until(h, 'a first attitude', () => h.device.attitude().ok, 5000);
        const a = h.device.attitude();
        if (a.ok) attitudeOk(a.value);
        // A driver may need a moment to get its IMU stream going (MAVLink asks the FC for it).
        await until(h, 'an IMU sample or "unsupported"', () => ((i) => i.ok || i.error.code !== 'no-data')(h.device.imu()), 5000);
        const imu = h.device.imu();
        if (imu.ok) expect(Math.hypot(imu.value.accelMps2.x, imu.value.accelMps2.y, imu.value.accelMps2.z)).toBeGreaterThan(5);
        else expect(imu.error.code).toBe('unsupported');
      } finally {
        await h.close();
      }
    });
  });
}

export function batteryConformance(driver: string, make: () => Promise<Harness<Battery>>): void {
  describe(`Battery conformance: ${driver}`, () => {
    lifecycle('battery', make, (d) => d.state() as never);
    it('reports voltage, a remaining fraction in 0..1 (or NaN) and a known status', async () => {
      const h = await make();
      try {
        await h.device.start();
        await until(h, 'a first battery state', () => h.device.state().ok, 5000);
        const r = h.device.state();
        expect(r.ok).toBe(true);
        if (!r.ok) return;
        expect(r.value.voltageV).toBeGreaterThan(0);
        const f = r.value.remainingFraction;
        expect(Number.isNaN(f) || (f >= 0 && f <= 1)).toBe(true);
        expect(['ok', 'low', 'critical', 'unknown']).toContain(r.value.status);
        expect(r.value.consumedMah).toBeGreaterThanOrEqual(0);
      } finally {
        await h.close();
      }
    });
  });
}

export function rangeConformance(driver: string, make: () => Promise<Harness<RangeSensor>>): void {
  describe(`RangeSensor conformance: ${driver}`, () => {
    lifecycle('range', make, (d) => d.readings() as never);
    it('reports every beam within [minM, maxM] in a fixed order', async () => {
      const h = await make();
      try {
        await h.device.start();
        await until(h, 'readings', () => h.device.readings().ok, 5000);
        const a = h.device.readings();
        await h.advance(200);
        const b = h.device.readings();
        expect(a.ok && b.ok).toBe(true);
        if (!a.ok || !b.ok) return;
        expect(a.value.length).toBeGreaterThan(0);
        expect(b.value.map((r) => r.bearingRad)).toEqual(a.value.map((r) => r.bearingRad));
        for (const r of b.value) {
          expect(r.distanceM).toBeGreaterThanOrEqual(r.minM);
          expect(r.distanceM).toBeLessThanOrEqual(r.maxM);
        }
      } finally {
        await h.close();
      }
    });
  });
}

export function flightConformance(driver: string, make: () => Promise<Harness<FlightControl>>): void {
  describe(`FlightControl conformance: ${driver}`, () => {
    lifecycle('flight', make, (d) => d.state() as never);
    it('refuses takeoff while disarmed, then arms, takes off, holds, lands and disarms', async () => {
      const h = await make();
      const d = h.device;
      try {
        await d.start();
        await until(h, 'a first state', () => d.state().ok, 5000);
        const s0 = d.state();
        expect(s0.ok && s0.value.armed).toBe(false);
        const early = await d.execute({ type: 'takeoff', relAltM: 5 });
        expect(early.ok).toBe(false);
        if (!early.ok) expect(early.error.code).toBe('rejected');
        expect((await d.execute({ type: 'arm' })).ok).toBe(true);
        await until(h, 'armed', () => d.state().ok && (d.state() as { value: { armed: boolean } }).value.armed, 3000);
        expect((await d.execute({ type: 'takeoff', relAltM: -3 })).ok).toBe(false);
        expect((await d.execute({ type: 'takeoff', relAltM: 5 })).ok).toBe(true);
        await until(h, 'in the air', () => d.state().ok && (d.state() as { value: { landed: string } }).value.landed === 'in-air', 15_000);
        expect((await d.execute({ type: 'hold' })).ok).toBe(true);
        await until(h, 'hold mode', () => d.state().ok && (d.state() as { value: { mode: string } }).value.mode === 'hold', 3000);
        expect((await d.execute({ type: 'land' })).ok).toBe(true);
        await until(h, 'landed and disarmed', () => d.state().ok && !(d.state() as { value: { armed: boolean } }).value.armed, 20_000);
      } finally {
        await h.close();
      }
    });
    it('leaves the vehicle in a mode modesAfter names for each action it accepted (the executor reads any other as a pilot\'s or the FC\'s own)', async () => {
      const h = await make();
      const d = h.device;
      try {
        await d.start();
        await until(h, 'a first state', () => d.state().ok, 5000);
        expect(d.modesAfter('arm')).toBeNull();
        expect(d.modesAfter('disarm')).toBeNull();
        // A low return altitude: the return's climb and descent at the end take seconds, not tens.
        const ra = await d.setReturnAltitude(8);
        expect(ra.ok, ra.ok ? '' : ra.error.message).toBe(true);
        expect((await d.execute({ type: 'arm' })).ok).toBe(true);
        const steps: Array<[FlightAction, string, (s: FlightState) => boolean]> = [
          [{ type: 'takeoff', relAltM: 6 }, 'up, the take-off ended', (s) => s.landed === 'in-air' && (s.heightAboveHomeM ?? 6) > 5],
          [{ type: 'goto', target: { latDeg: 47.3979, lonDeg: 8.5456, relAltM: 6 } }, 'on its way', () => true],
          [{ type: 'velocity', northMps: 1, eastMps: 0, downMps: 0 }, 'flying the velocity', () => true],
          [{ type: 'hold' }, 'holding', () => true],
          [{ type: 'return-to-launch' }, 'returning', () => true],
        ];
        for (const [action, what, done] of steps) {
          const r = await d.execute(action);
          expect(r.ok, `${action.type}: ${r.ok ? '' : r.error.message}`).toBe(true);
          const modes = d.modesAfter(action.type) ?? [];
          await until(h, `${what}, in a mode of ${modes.join(', ')}`, () => {
            const s = d.state();
            return s.ok && modes.includes(s.value.mode) && done(s.value);
          }, 20_000);
        }
        // The return runs to the ground in its modes.
        await until(h, 'down and disarmed, in a return or landing mode until then', () => {
          const s = d.state();
          if (s.ok && s.value.armed) expect(d.modesAfter('return-to-launch')).toContain(s.value.mode);
          return s.ok && !s.value.armed;
        }, 60_000);
      } finally {
        await h.close();
      }
    });
    it('refuses actions with numbers that are not finite or a target off the globe, naming the field, before acting', async () => {
      const h = await make();
      const d = h.device;
      try {
        await d.start();
        await until(h, 'a first state', () => d.state().ok, 5000);
        const at = { latDeg: 47.3978, lonDeg: 8.5456, relAltM: 10 };
        const bad: Array<[FlightAction, string]> = [
          [{ type: 'takeoff', relAltM: Number.NaN }, 'takeoff: relAltM must be a finite number, got NaN'],
          [{ type: 'goto', target: { ...at, latDeg: Number.NaN } }, 'goto: target.latDeg must be a finite number, got NaN'],
          [{ type: 'goto', target: { ...at, latDeg: 91 } }, 'goto: target.latDeg must be within -90..90, got 91'],
          [{ type: 'goto', target: { ...at, lonDeg: Number.POSITIVE_INFINITY } }, 'goto: target.lonDeg must be a finite number, got Infinity'],
          [{ type: 'goto', target: { ...at, relAltM: Number.NaN } }, 'goto: target.relAltM must be a finite number, got NaN'],
          [{ type: 'goto', target: at, speedMps: 0 }, 'goto: speedMps must be above 0, got 0'],
          [{ type: 'velocity', northMps: Number.NaN, eastMps: 0, downMps: 0 }, 'velocity: northMps must be a finite number, got NaN'],
          [{ type: 'velocity', northMps: 0, eastMps: 0, downMps: 0, yawRateRadps: Number.NEGATIVE_INFINITY }, 'velocity: yawRateRadps must be a finite number, got -Infinity'],
        ];
        for (const [action, message] of bad) expect(await d.execute(action)).toEqual({ ok: false, error: { code: 'rejected', message } });
        const s = d.state();
        expect(s.ok && s.value.armed).toBe(false);
      } finally {
        await h.close();
      }
    });
    it('refuses a return altitude that is not finite or below home, sets one, and refuses one the vehicle cannot fly, naming the value', async () => {
      const h = await make();
      const d = h.device;
      try {
        await d.start();
        await until(h, 'a first state', () => d.state().ok, 5000);
        // Refused at the HAL's edge, naming the value, as an action's numbers are: NaN would reach the
        // autopilot's RTL_ALT or RTL_RETURN_ALT as NaN.
        const refused: Array<[number, string]> = [
          [Number.NaN, 'setReturnAltitude: relAltM must be a finite number, got NaN'],
          [Number.POSITIVE_INFINITY, 'setReturnAltitude: relAltM must be a finite number, got Infinity'],
          [-5, 'setReturnAltitude: relAltM must be 0 or more (metres above home), got -5'],
        ];
        for (const [altM, message] of refused) expect(await d.setReturnAltitude(altM)).toEqual({ ok: false, error: { code: 'rejected', message } });
        const r = await d.setReturnAltitude(12);
        expect(r.ok, r.ok ? '' : r.error.message).toBe(true);
        const bad = await d.setReturnAltitude(1000);
        expect(bad.ok).toBe(false);
        if (!bad.ok) {
          expect(bad.error.code).toBe('rejected');
          expect(bad.error.message).toMatch(/1000|120/);
        }
        // The refused write left the last good value in force: setting it again is accepted.
        expect((await d.setReturnAltitude(12)).ok).toBe(true);
      } finally {
        await h.close();
      }
    });
  });
}

export function radioConformance(driver: string, make: () => Promise<Harness<Radio> & { peer: Radio }>): void {
  describe(`Radio conformance: ${driver}`, () => {
    it('delivers datagrams up to mtuBytes intact and refuses larger ones (counted)', async () => {
      const h = await make();
      try {
        await h.device.start();
        await h.peer.start();
        const got: Uint8Array[] = [];
        h.peer.onReceive((b) => got.push(b));
        const msg = Uint8Array.from({ length: h.device.mtuBytes }, (_, i) => i & 0xff);
        expect(h.device.send(msg)).toBe(true);
        expect(h.device.send(new Uint8Array(h.device.mtuBytes + 1))).toBe(false);
        await until(h, 'delivery', () => got.length > 0, 3000);
        expect(got[0]).toEqual(msg);
        expect(h.device.counters().framesRefused).toBe(1);
        expect(h.device.counters().framesSent).toBe(1);
      } finally {
        await h.close();
      }
    });
  });
}

export function ledConformance(driver: string, make: () => Promise<Harness<StatusLed>>): void {
  describe(`StatusLed conformance: ${driver}`, () => {
    it('refuses before start, turns on and off, and rejects a bad blink period', async () => {
      const h = await make();
      const d = h.device;
      try {
        expect(d.set({ type: 'on' }).ok).toBe(false);
        await d.start();
        expect(d.set({ type: 'on' }).ok).toBe(true);
        expect(d.lit()).toBe(true);
        expect(d.current()).toEqual({ type: 'on' });
        expect(d.set({ type: 'off' }).ok).toBe(true);
        expect(d.lit()).toBe(false);
        const bad = d.set({ type: 'blink', periodMs: 1 });
        expect(!bad.ok && bad.error.code).toBe('rejected');
        expect(d.set({ type: 'blink', periodMs: 500 }).ok).toBe(true);
        expect(d.set({ type: 'heartbeat' }).ok).toBe(true);
        expect(d.current()).toEqual({ type: 'heartbeat' });
      } finally {
        await d.stop();
        await h.close();
      }
    });
  });
}
