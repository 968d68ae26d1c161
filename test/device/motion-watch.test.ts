// MotionWatch: what the vehicle's motion tells while the executor waits, where its mode tells nothing.

import { describe, expect, it } from 'vitest';
import { MotionWatch } from '../../runtime/device/motion-watch.js';
import { Prng } from '../../runtime/lib/prng.js';

const limits = { stallMs: 30_000, stallMoveM: 3, stillBreakMs: 1_000, settleMs: 2_000, settleMoveM: 5, settleUpM: 5, settleMaxMs: 12_000, driftM: 6, driftUpM: 4, driftForMs: 2_000 };
const at = (northM: number, eastM = 0, upM = 20) => ({ northM, eastM, upM });

describe('MotionWatch', () => {
  it('a goto: moving is fine; within 3 m of one point for 30 s is a stop short', () => {
    const w = new MotionWatch(limits);
    for (let t = 0; t <= 60_000; t += 500) expect(w.step('goto', true, at(t / 100), t)).toBeNull(); // 5 m/s
    // It stopped at 600 m at 60 s.
    expect(w.step('goto', true, at(601), 89_000)).toBeNull();
    expect(w.step('goto', true, at(602), 90_000)).toEqual({ kind: 'stalled' });
  });

  it('a take-off: climbing is fine; within 3 m of one point for 30 s is a stop short', () => {
    const w = new MotionWatch(limits);
    for (let t = 0; t <= 10_000; t += 100) expect(w.step('takeoff', true, at(0, 0, t / 1_000), t)).toBeNull(); // 1 m/s up
    // It stopped at 10 m at 10 s; the last 3 m of the climb were within 3 m of where it stopped, so the
    // 30 s count may have begun up to 3 s before.
    let stalledAt: number | null = null;
    for (let t = 10_100; t <= 45_000 && stalledAt === null; t += 100) if (w.step('takeoff', true, at(0, 0, 10), t)?.kind === 'stalled') stalledAt = t;
    expect(stalledAt).toBeGreaterThanOrEqual(37_000);
    expect(stalledAt).toBeLessThanOrEqual(40_100);
  });

  it("a goto's vehicle read through a noisy receiver (white noise, 0.5 m across and 0.75 m in height, 20 Hz): still is seen within a second of the still time; creeping on at 1 m/s never reads as 5 s still", () => {
    const seed = 11;
    const rng = new Prng(seed);
    const gauss = (sigma: number): number => sigma * Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next());
    const noisy = (n: number): ReturnType<typeof at> => at(n + gauss(0.5), gauss(0.5), 20 + gauss(0.75));
    for (let k = 0; k < 20; k++) {
      // Still at 100 m: 5 s still by 6 s (before, a reading three sigma off broke the count: 6-45 s).
      const w = new MotionWatch(limits);
      let seenAt: number | null = null;
      for (let t = 0; t <= 20_000 && seenAt === null; t += 50) {
        w.step('goto', true, noisy(100), t);
        if (w.stillForMs(t) >= 5_000) seenAt = t;
      }
      expect(seenAt, `seed ${seed} run ${k}`).not.toBeNull();
      expect(seenAt, `seed ${seed} run ${k}`).toBeLessThanOrEqual(6_000);
      // Creeping on at 1 m/s (the slowest mission speed): never 5 s still.
      const c = new MotionWatch(limits);
      for (let t = 0; t <= 60_000; t += 50) {
        c.step('goto', true, noisy(t / 1_000), t);
        expect(c.stillForMs(t), `seed ${seed} run ${k} at ${t} ms`).toBeLessThan(5_000);
      }
    }
  });

  it('a goto under a committed hold (not counted), or with no fix, starts over', () => {
    const w = new MotionWatch(limits);
    w.step('goto', true, at(0), 0);
    expect(w.step('goto', false, at(0), 29_000)).toBeNull();
    expect(w.step('goto', true, at(0), 31_000)).toBeNull(); // counted again from here
    expect(w.step('goto', true, null, 40_000)).toBeNull();
    expect(w.step('goto', true, at(0), 50_000)).toBeNull();
    expect(w.step('goto', true, at(0), 80_000)).toEqual({ kind: 'stalled' });
  });

  it('a hold: braking to a stop, then GNSS wander, is not moved off; a pilot flying it 6 m across or 4 m up is', () => {
    const w = new MotionWatch(limits);
    // Brakes over 8 m in 2 s, then settles.
    for (let t = 0; t <= 2_000; t += 100) expect(w.step('hold', true, at(8 - ((2_000 - t) / 2_000) ** 2 * 8), t)).toBeNull();
    for (let t = 2_100; t <= 10_000; t += 100) expect(w.step('hold', true, at(8 + Math.sin(t / 700) * 1.5, Math.cos(t / 900) * 1.5), t)).toBeNull();
    expect(w.step('hold', true, at(17), 10_100)).toBeNull(); // off, not yet for 2 s
    const off = w.step('hold', true, at(18), 12_100);
    expect(off?.kind).toBe('moved-off');
    expect(off?.kind === 'moved-off' && off.byM > 6).toBe(true);
    const v = new MotionWatch(limits);
    v.step('hold', true, at(0), 0);
    v.step('hold', true, at(0), 2_000);
    expect(v.step('hold', true, at(0, 0, 23.9), 3_000)).toBeNull();
    expect(v.step('hold', true, at(0, 0, 24.5), 3_100)).toBeNull();
    expect(v.step('hold', true, at(0, 0, 24.5), 5_100)?.kind).toBe('moved-off');
  });

  it("a held drone's position moving to another source (the FC's estimate to its receiver, 8 m off) is not moved off; flown off after, it is", () => {
    const w = new MotionWatch(limits);
    const from = (source: string, northM: number) => ({ ...at(northM), source });
    for (let t = 0; t <= 4_000; t += 100) expect(w.step('hold', true, from('fc-estimate', 0), t)).toBeNull(); // settled at 0
    // The receiver's fix from here on, 8 m off the estimate, for 12 s: as still, in its own frame.
    for (let t = 4_100; t <= 16_000; t += 100) expect(w.step('hold', true, from('receiver', 8), t)).toBeNull();
    // Then flown 10 m off from there, for more than 2 s: moved off.
    let off = null;
    for (let t = 16_100; t <= 19_000 && off === null; t += 100) off = w.step('hold', true, from('receiver', 18), t);
    expect(off?.kind).toBe('moved-off');
    // The same 8 m from one source, held for 2 s, is moved off (the rule is the source, not the jump).
    const v = new MotionWatch(limits);
    for (let t = 0; t <= 4_000; t += 100) v.step('hold', true, from('receiver', 0), t);
    let same = null;
    for (let t = 4_100; t <= 7_000 && same === null; t += 100) same = v.step('hold', true, from('receiver', 8), t);
    expect(same?.kind).toBe('moved-off');
  });

  it("a receiver's glitch that jumps 10 m off and comes back within 2 s is not moved off", () => {
    const w = new MotionWatch(limits);
    w.step('hold', true, at(0), 0);
    w.step('hold', true, at(0), 2_000); // settled
    expect(w.step('hold', true, at(10), 3_000)).toBeNull();
    expect(w.step('hold', true, at(10), 4_900)).toBeNull();
    expect(w.step('hold', true, at(0.5), 5_000)).toBeNull();
    expect(w.step('hold', true, at(10), 6_000)).toBeNull(); // a second glitch counts from its own start
    expect(w.step('hold', true, at(10), 7_900)).toBeNull();
  });

  it('moving off before it settled is not judged (still braking), nor after a new action (a goto flies it off)', () => {
    const w = new MotionWatch(limits);
    for (let t = 0; t <= 1_500; t += 100) expect(w.step('hold', true, at(t / 10), t)).toBeNull();
    w.step('hold', true, at(150), 1_600);
    w.step('hold', true, at(150), 3_700); // settled at 150
    expect(w.step('goto', true, at(200), 3_800)).toBeNull();
    expect(w.step('velocity', true, at(300), 3_900)).toBeNull();
  });

  // A receiver that loses its fix while the held drone brakes (hal.gnss: NMEA quality 0) gives no
  // position: the drone cannot be seen to settle then. Before, the 12 s from the hold ran on through the
  // gap, and the first position after it, of a drone that had hovered still all along, was read as a
  // hold never settled: moved off, a pilot's, handed over.
  it('time without a position does not count towards the settling time', () => {
    const w = new MotionWatch(limits);
    expect(w.step('hold', true, at(0), 0)).toBeNull();
    expect(w.step('hold', true, at(3.5), 500)).toBeNull(); // braking
    for (let t = 1_000; t <= 14_000; t += 500) expect(w.step('hold', true, null, t)).toBeNull();
    for (let t = 14_500; t <= 20_000; t += 100) expect(w.step('hold', true, at(5 + Math.sin(t / 300) * 0.5), t)).toBeNull();
    // Settled after the gap: a pilot's sticks are seen as before.
    expect(w.step('hold', true, at(20), 20_100)).toBeNull();
    expect(w.step('hold', true, at(20), 22_100)?.kind).toBe('moved-off');
    // A drone flown off at once, with the fix lost a while, is still moved off 12 s of fix after.
    const v = new MotionWatch(limits);
    for (let t = 0; t <= 4_000; t += 100) expect(v.step('hold', true, at(t / 500), t)).toBeNull();
    for (let t = 4_100; t <= 10_000; t += 100) expect(v.step('hold', true, null, t)).toBeNull();
    let seen = null;
    for (let t = 10_100; t <= 30_000 && seen === null; t += 100) seen = v.step('hold', true, at(t / 500), t);
    expect(seen?.kind).toBe('moved-off');
  });

  // Off before a gap without a position and off again after it is not off all along: two readings
  // 5 s apart say nothing of the time between. Before, the first reading after the gap was moved off.
  it('off across a time without a position counts from the first reading after it', () => {
    const w = new MotionWatch(limits);
    w.step('hold', true, at(0), 0);
    w.step('hold', true, at(0), 2_000); // settled
    expect(w.step('hold', true, at(10), 3_000)).toBeNull(); // a glitch
    for (let t = 3_100; t <= 8_000; t += 100) expect(w.step('hold', true, null, t)).toBeNull();
    expect(w.step('hold', true, at(10), 8_100)).toBeNull();
    expect(w.step('hold', true, at(10), 9_000)).toBeNull();
    expect(w.step('hold', true, at(10), 10_100)?.kind).toBe('moved-off');
  });

  it('a hold that never settles (a pilot flying it off at once) is moved off once the settling time is past', () => {
    const w = new MotionWatch(limits);
    for (let t = 0; t < 12_000; t += 100) expect(w.step('hold', true, at(t / 200), t)).toBeNull(); // 5 m/s
    expect(w.step('hold', true, at(60), 12_000)).toEqual({ kind: 'moved-off', byM: 60 });
    // Flown off slower (2 m/s), it "settles" within the 5 m box and is moved off by the drift, sooner.
    const v = new MotionWatch(limits);
    let off = null;
    let t = 0;
    for (; t < 12_000 && off === null; t += 100) off = v.step('hold', true, at(t / 500), t);
    expect(off?.kind).toBe('moved-off');
    expect(t).toBeLessThan(12_000);
  });

  it("a still held drone read through a noisy receiver (white noise, 1 m across and 1.5 m in height, 20 Hz) settles and is never moved off; a pilot's 20 m is", () => {
    const seed = 9;
    const rng = new Prng(seed);
    const gauss = (sigma: number): number => sigma * Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next());
    const noisy = (n: number): ReturnType<typeof at> => at(n + gauss(1), gauss(1), 20 + gauss(1.5));
    for (let k = 0; k < 20; k++) {
      const w = new MotionWatch(limits);
      for (let t = 0; t <= 60_000; t += 50) expect(w.step('hold', true, noisy(0), t), `seed ${seed} hold ${k} at ${t} ms`).toBeNull();
      let off = null;
      for (let t = 60_050; t <= 65_000 && off === null; t += 50) off = w.step('hold', true, noisy(20), t);
      expect(off?.kind, `seed ${seed} hold ${k}`).toBe('moved-off');
    }
  });
});
