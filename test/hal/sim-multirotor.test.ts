// The kinematic multirotor: limits hold, battery drains with motion, range beams see obstacles,
// and one seed replays the same flight whatever the step granularity.

import { describe, expect, it } from 'vitest';
import { Prng } from '../../runtime/lib/prng.js';
import { SimMultirotor } from '../../hal/sim/multirotor.js';
import { unwrap } from '../../runtime/lib/result.js';

let maxGroundSpeedMps = 0;

function fly(seed: number, stepMs: number, wind = { northMps: 0, eastMps: 0, gustStdMps: 0 }): SimMultirotor {
  maxGroundSpeedMps = 0;
  const v = new SimMultirotor({ wind, obstacles: [{ northM: 60, eastM: 0, radiusM: 3, heightM: 50 }] }, new Prng(seed), 0);
  let t = 0;
  const run = (untilMs: number): void => {
    for (; t < untilMs; ) {
      t = Math.min(untilMs, t + stepMs);
      v.step(t);
      const vel = v.state().velocityNed;
      maxGroundSpeedMps = Math.max(maxGroundSpeedMps, Math.hypot(vel.x, vel.y));
    }
  };
  run(1000);
  unwrap(v.arm());
  unwrap(v.takeoff(10));
  run(10_000);
  unwrap(v.goto(40, 0, 10, 20));
  run(20_000);
  return v;
}

describe('SimMultirotor (seeded kinematic model)', () => {
  it('climbs within the climb limit and reaches the takeoff altitude', () => {
    const v = new SimMultirotor({}, new Prng(1), 0);
    v.step(500);
    unwrap(v.arm());
    unwrap(v.takeoff(10));
    let maxClimb = 0;
    let prev = 0;
    for (let t = 600; t <= 10_000; t += 100) {
      v.step(t);
      const up = v.state().upM;
      maxClimb = Math.max(maxClimb, (up - prev) / 0.1);
      prev = up;
    }
    expect(maxClimb).toBeLessThanOrEqual(v.config.limits.climbMpsMax + 1e-9);
    expect(v.state().upM).toBeGreaterThan(9.5);
    expect(v.state().mode).toBe('hold');
    expect(v.state().landed).toBe('in-air');
  });

  it('never exceeds the airspeed limit, drains the battery, and a range beam sees the mast ahead', () => {
    const v = fly(3, 50);
    expect(maxGroundSpeedMps).toBeLessThanOrEqual(v.config.limits.horizSpeedMpsMax + 1e-9);
    expect(maxGroundSpeedMps).toBeGreaterThan(5);
    const s = v.state();
    expect(Math.hypot(s.northM - 40, s.eastM)).toBeLessThan(1.5);
    expect(v.remainingFraction()).toBeLessThan(1);
    const ahead = v.rangeReadings()[0];
    expect(ahead?.distanceM).toBeGreaterThan(14);
    expect(ahead?.distanceM).toBeLessThan(20); // 60 - 3 - 40 = 17 m to the mast's surface
  });

  it('a headwind costs ground speed and battery', () => {
    const calm = fly(4, 50);
    const windy = fly(4, 50, { northMps: -6, eastMps: 0, gustStdMps: 0 });
    expect(windy.batteryState().consumedMah).toBeGreaterThan(calm.batteryState().consumedMah);
  });

  it('replays exactly from a seed regardless of how often step() is called', () => {
    const a = fly(9, 10, { northMps: 2, eastMps: 1, gustStdMps: 1 });
    const b = fly(9, 370, { northMps: 2, eastMps: 1, gustStdMps: 1 });
    expect(b.state()).toEqual(a.state());
    expect(b.gnssFix()).toEqual(a.gnssFix());
  });

  it('refuses to arm without a fix or take off while disarmed, and auto-disarms after landing', () => {
    const v = new SimMultirotor({}, new Prng(2), 0);
    expect(v.takeoff(10).ok).toBe(false);
    unwrap(v.arm());
    unwrap(v.takeoff(5));
    v.step(8000);
    unwrap(v.land());
    v.step(20_000);
    expect(v.state().armed).toBe(false);
    expect(v.state().landed).toBe('on-ground');
  });

  it('returns to where it armed, straight up or down to its return altitude, across at it, then lands', () => {
    const pad = { northM: 12, eastM: -6 };
    const v = new SimMultirotor({}, new Prng(3), 0, pad);
    v.step(500);
    expect(v.setReturnAltitude(1).ok).toBe(false);
    expect(v.setReturnAltitude(500).ok).toBe(false);
    unwrap(v.setReturnAltitude(40));
    unwrap(v.arm());
    expect(v.home()).toEqual(pad);
    unwrap(v.takeoff(20));
    v.step(10_000);
    unwrap(v.goto(80, 60, 20, 10));
    v.step(25_000);
    const away = v.state();
    expect(Math.hypot(away.northM - 80, away.eastM - 60)).toBeLessThan(1);
    unwrap(v.returnToLaunch());
    const track: { n: number; e: number; u: number }[] = [];
    for (let t = 25_100; t <= 90_000 && v.state().armed; t += 100) {
      v.step(t);
      const s = v.state();
      track.push({ n: s.northM, e: s.eastM, u: s.upM });
    }
    // It climbed in place before moving toward home: below 39 m it stayed within 2 m of where it was.
    const climbing = track.filter((p) => p.u < 39 && Math.hypot(p.n - pad.northM, p.e - pad.eastM) > 5);
    expect(climbing.length).toBeGreaterThan(0);
    for (const p of climbing) expect(Math.hypot(p.n - away.northM, p.e - away.eastM)).toBeLessThan(2);
    // Across at the return altitude: halfway home it is at 40 m.
    const half = track.find((p) => Math.hypot(p.n - pad.northM, p.e - pad.eastM) < 50);
    expect(half && Math.abs(half.u - 40)).toBeLessThan(1);
    // Landed and disarmed on its own pad, not at the origin.
    const end = v.state();
    expect(end.armed).toBe(false);
    expect(Math.hypot(end.northM - pad.northM, end.eastM - pad.eastM)).toBeLessThan(1);
  });

  it('a return altitude changed during a return is flown to', () => {
    const v = new SimMultirotor({}, new Prng(4), 0);
    v.step(500);
    unwrap(v.arm());
    unwrap(v.takeoff(20));
    v.step(10_000);
    unwrap(v.goto(200, 0, 20, 10));
    v.step(35_000);
    unwrap(v.returnToLaunch());
    v.step(42_000);
    expect(Math.abs(v.state().upM - 30)).toBeLessThan(1); // the default return altitude
    expect(v.state().northM).toBeGreaterThan(100); // still on its way home
    unwrap(v.setReturnAltitude(45));
    v.step(50_000);
    expect(Math.abs(v.state().upM - 45)).toBeLessThan(1);
    expect(v.state().mode).toBe('return');
  });

  it('counts a strike each time it flies into an obstacle below its top, not while it stays inside or passes over it', () => {
    const v = new SimMultirotor({ obstacles: [{ northM: 30, eastM: 0, radiusM: 3, heightM: 20 }] }, new Prng(5), 0);
    let t = 0;
    const run = (untilMs: number): void => {
      for (; t < untilMs; t += 50) v.step(t);
    };
    unwrap(v.arm());
    unwrap(v.takeoff(25));
    run(12_000);
    unwrap(v.goto(60, 0, 25, 8)); // over its top: no strike
    run(25_000);
    expect(v.strikes()).toEqual([]);
    unwrap(v.goto(60, 0, 10, 8)); // down below the top, then back through it
    run(35_000);
    unwrap(v.goto(0, 0, 10, 8));
    run(50_000);
    const strikes = v.strikes();
    expect(strikes).toHaveLength(1);
    expect(strikes[0]?.obstacle).toBe(0);
    expect(Math.abs((strikes[0]?.northM ?? 0) - 30)).toBeLessThanOrEqual(3);
    expect(strikes[0]?.speedMps).toBeGreaterThan(4);
  });
});
