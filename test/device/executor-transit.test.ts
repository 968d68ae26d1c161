// The executor flies a task's leg at its transit altitude (runtime/mission/deconflict.ts): it takes off
// to that altitude, reaches the first waypoint there, comes down to the mission altitude at it before
// flying on, and flies the rest of the route at the mission altitude. On the simulated multirotor, run
// 20x faster than the wall clock (executor-rig.ts vehicleClock), stepped like a device's tick does.

import { describe, it, vi, type TestContext } from 'vitest';
import { Executor, type ExecReport } from '../../runtime/device/executor.js';
import { SimMultirotor } from '../../hal/sim/multirotor.js';
import { createSimDevices } from '../../hal/sim/sim-devices.js';
import { Prng } from '../../runtime/lib/prng.js';
import { err } from '../../runtime/lib/result.js';
import { deviceError } from '../../hal/devices.js';
import { origin, vehicleClock } from './executor-rig.js';

// The flights run at once (it.concurrent), each on its own vehicle and clock, stopped when its own test
// ends (clocksOf). The return-altitude test stands alone: it moves Date.now 31 s on for a moment, which
// would jump the other tests' vehicle clocks.
function clocksOf(onTestFinished: TestContext['onTestFinished']): NodeJS.Timeout[] {
  const timers: NodeJS.Timeout[] = [];
  onTestFinished(() => timers.splice(0).forEach((t) => clearInterval(t)));
  return timers;
}

interface Sample {
  northM: number;
  eastM: number;
  upM: number;
}

async function fly(timers: NodeJS.Timeout[], transitAltDm: number | undefined): Promise<{ track: Sample[]; reports: ExecReport[] }> {
  const vehicle = new SimMultirotor({ origin: { ...origin, altMslM: 488 } }, new Prng(9), 0, { northM: 0, eastM: 0 });
  const devices = createSimDevices(vehicle);
  for (const d of [devices.position, devices.attitude, devices.battery, devices.range, devices.flight]) await d.start();
  const track: Sample[] = [];
  const reports: ExecReport[] = [];
  const ex = new Executor(devices, origin, (r) => reports.push(r), () => undefined);
  timers.push(
    vehicleClock(vehicle, () => {
      const p = ex.position();
      if (p && p.upM !== null) track.push({ ...p, upM: p.upM }); // the simulated vehicle always knows its height
    }),
  );
  // A leg of 80 m north to the route, then the route: 60 m east.
  ex.run('m1', { type: 'waypoints', mission: 'm1', waypoints: [{ n: 800, e: 0 }, { n: 800, e: 600 }], altDm: 200, ...(transitAltDm === undefined ? {} : { transitAltDm }), speedDmps: 80, then: 'hold' });
  for (const start = Date.now(); Date.now() - start < 20_000 && !reports.some((r) => r.stage === 'done' || r.stage === 'failed'); ) await new Promise((r) => setTimeout(r, 20));
  return { track, reports };
}

describe('executor transit altitude', () => {
  it.concurrent('flies the leg at the transit altitude, descends at the first waypoint, flies the route at the mission altitude', async ({ expect, onTestFinished }) => {
    const { track, reports } = await fly(clocksOf(onTestFinished), 350);
    expect(reports.map((r) => r.stage), JSON.stringify(reports.slice(-2))).toContain('done');
    // Halfway along the leg it is at the transit altitude (35 m), not the mission altitude (20 m).
    const midLeg = track.filter((p) => p.northM > 30 && p.northM < 50 && p.eastM < 3);
    expect(midLeg.length).toBeGreaterThan(0);
    for (const p of midLeg) expect(p.upM).toBeGreaterThan(33);
    // Along the route (east of the first waypoint) it is at the mission altitude.
    const route = track.filter((p) => p.eastM > 10);
    expect(route.length).toBeGreaterThan(0);
    for (const p of route) expect(Math.abs(p.upM - 20)).toBeLessThan(3.5); // GNSS noise and the climb overshoot
  }, 30_000);

  it.concurrent('without a transit altitude the whole task is flown at the mission altitude', async ({ expect, onTestFinished }) => {
    const { track, reports } = await fly(clocksOf(onTestFinished), undefined);
    expect(reports.map((r) => r.stage)).toContain('done');
    const airborne = track.filter((p) => p.northM > 10);
    expect(airborne.length).toBeGreaterThan(0);
    for (const p of airborne) expect(p.upM).toBeLessThan(26); // 20 m plus noise and overshoot: far from 35
  }, 30_000);

  it('says nothing of a return altitude not set while the flight controller has not been heard yet (every start said "check the wiring")', async ({ expect }) => {
    const vehicle = new SimMultirotor({ origin: { ...origin, altMslM: 488 } }, new Prng(9), 0);
    const devices = createSimDevices(vehicle);
    let answer: 'no-data' | 'rejected' = 'no-data';
    const flight = Object.assign(Object.create(devices.flight) as typeof devices.flight, {
      setReturnAltitude: () => Promise.resolve(err(deviceError(answer, answer === 'no-data' ? 'no HEARTBEAT from the flight controller yet: nothing received' : 'PARAM_SET refused'))),
    });
    const logs: string[] = [];
    const ex = new Executor({ ...devices, flight }, origin, () => undefined, (m) => logs.push(m));
    const settle = () => new Promise((r) => setTimeout(r, 10));
    for (let i = 0; i < 3; i++) {
      ex.keepReturnAltitude(42);
      await settle();
    }
    expect(logs).toEqual([]);
    answer = 'rejected';
    ex.keepReturnAltitude(42);
    await settle();
    expect(logs).toEqual(['return altitude 42 m not set (tried again at the next block): PARAM_SET refused']);
    // A flight controller gone quiet: its age grows at every block, and the reason is the same one.
    let ageMs = 1_000;
    flight.setReturnAltitude = () => Promise.resolve(err(deviceError('stale', `newest HEARTBEAT is ${(ageMs += 100)} ms old`)));
    for (let i = 0; i < 5; i++) {
      ex.keepReturnAltitude(42);
      await settle();
    }
    expect(logs.slice(1)).toEqual(['return altitude 42 m not set (tried again at the next block): newest HEARTBEAT is 1100 ms old']);
  });

  it('keeps the flight controller\'s return altitude at the committed layer, writing only a change and logging a refusal once', async ({ expect }) => {
    const vehicle = new SimMultirotor({ origin: { ...origin, altMslM: 488 } }, new Prng(9), 0);
    const devices = createSimDevices(vehicle);
    await devices.flight.start();
    const logs: string[] = [];
    const ex = new Executor(devices, origin, () => undefined, (m) => logs.push(m));
    const settle = () => new Promise((r) => setTimeout(r, 10));
    ex.keepReturnAltitude(42);
    await settle();
    expect(vehicle.returnAltitude()).toBe(42);
    ex.keepReturnAltitude(42);
    await settle();
    expect(logs.filter((l) => l.startsWith('return altitude set'))).toEqual(['return altitude set to 42 m']);
    for (let i = 0; i < 3; i++) {
      ex.keepReturnAltitude(900);
      await settle();
    }
    expect(vehicle.returnAltitude()).toBe(42);
    expect(logs.filter((l) => l.includes('not set'))).toEqual(['return altitude 900 m not set (tried again at the next block): return altitude must be in [2, 120] m']);
    // The flight controller rebooted and lost it: the next write, 30 s on, puts it back (logged once).
    ex.keepReturnAltitude(42);
    await settle();
    vehicle.setReturnAltitude(30);
    ex.keepReturnAltitude(42);
    await settle();
    expect(vehicle.returnAltitude()).toBe(30); // not yet: written less than 30 s ago
    const now = Date.now();
    const clock = vi.spyOn(Date, 'now').mockReturnValue(now + 31_000);
    try {
      ex.keepReturnAltitude(42);
      await settle();
    } finally {
      clock.mockRestore();
    }
    expect(vehicle.returnAltitude()).toBe(42);
    expect(logs.filter((l) => l.startsWith('return altitude set'))).toEqual(['return altitude set to 42 m']);
  });

  it.concurrent("flies a lane past this device's own fence up to the fence, and the next lane from where it comes back in", async ({ expect, onTestFinished }) => {
    const timers = clocksOf(onTestFinished);
    const vehicle = new SimMultirotor({ origin: { ...origin, altMslM: 488 } }, new Prng(9), 0);
    const devices = createSimDevices(vehicle);
    for (const d of [devices.position, devices.attitude, devices.battery, devices.range, devices.flight]) await d.start();
    const fence = [{ northM: -20, eastM: -20 }, { northM: 120, eastM: -20 }, { northM: 120, eastM: 30 }, { northM: -20, eastM: 30 }];
    const logs: string[] = [];
    const reports: ExecReport[] = [];
    const ex = new Executor(devices, origin, (r) => reports.push(r), (m) => logs.push(m), { fence });
    let eastMost = -Infinity;
    let backInAt80 = -Infinity; // the furthest east it flew the second lane (north 80)
    timers.push(
      vehicleClock(vehicle, () => {
        const st = vehicle.state();
        eastMost = Math.max(eastMost, st.eastM);
        if (Math.abs(st.northM - 80) < 2) backInAt80 = Math.max(backInAt80, st.eastM);
      }),
    );
    // Two lanes of a survey whose far ends (60 m east) lie past the fence at 30 m east, and the hop
    // between them outside it.
    ex.run('m1', { type: 'waypoints', mission: 'm1', waypoints: [{ n: 400, e: 0 }, { n: 400, e: 600 }, { n: 800, e: 600 }, { n: 800, e: 0 }], altDm: 200, speedDmps: 80, then: 'hold' });
    for (const start = Date.now(); Date.now() - start < 20_000 && !reports.some((r) => r.stage === 'done' || r.stage === 'failed'); ) await new Promise((r) => setTimeout(r, 20));
    expect(reports.map((r) => r.stage), JSON.stringify(reports.slice(-2))).toContain('done');
    expect(logs).toEqual([
      "task m1: waypoint 2 [40, 60] is outside this device's geofence: the leg to it is flown up to the fence",
      "task m1: waypoint 3 [80, 60] is outside this device's geofence, and no part of the leg to it inside: skipped",
    ]);
    // Each lane flown to 10 m short of the fence (fenceCutMarginM; before: waypoint 2 skipped, the lane
    // not flown at all, and the second flown from its start only because the hop's end was skipped too).
    expect(eastMost).toBeGreaterThan(17);
    expect(eastMost).toBeLessThan(25);
    expect(backInAt80).toBeGreaterThan(17);
    expect(Math.abs(vehicle.state().northM - 80)).toBeLessThan(3.5);
    expect(Math.abs(vehicle.state().eastM)).toBeLessThan(3.5);
  }, 30_000);

  it.concurrent("goes home after a survey's last waypoint, and stays after a goto's", async ({ expect, onTestFinished }) => {
    const timers = clocksOf(onTestFinished);
    const flyTo = async (then: 'return' | 'hold'): Promise<{ northM: number; eastM: number; upM: number; armed: boolean }> => {
      const vehicle = new SimMultirotor({ origin: { ...origin, altMslM: 488 } }, new Prng(9), 0, { northM: -6, eastM: 3 });
      const devices = createSimDevices(vehicle);
      for (const d of [devices.position, devices.attitude, devices.battery, devices.range, devices.flight]) await d.start();
      const reports: ExecReport[] = [];
      const ex = new Executor(devices, origin, (r) => reports.push(r), () => undefined);
      timers.push(vehicleClock(vehicle));
      ex.run('m1', { type: 'waypoints', mission: 'm1', waypoints: [{ n: 300, e: 0 }], altDm: 150, speedDmps: 80, then });
      for (const start = Date.now(); Date.now() - start < 15_000 && !reports.some((r) => r.stage === 'done' || r.stage === 'failed'); ) await new Promise((r) => setTimeout(r, 20));
      expect(reports.map((r) => r.stage)).toContain('done');
      // Long enough to come home and land (about 60 simulated seconds), were it going.
      for (const start = Date.now(); Date.now() - start < 6_000 && vehicle.state().armed; ) await new Promise((r) => setTimeout(r, 50));
      const s = vehicle.state();
      return { northM: s.northM, eastM: s.eastM, upM: s.upM, armed: s.armed };
    };
    // Two vehicles of their own, flown at once.
    const [surveyed, went] = await Promise.all([flyTo('return'), flyTo('hold')]);
    expect(surveyed.armed).toBe(false); // landed and disarmed...
    expect(Math.hypot(surveyed.northM + 6, surveyed.eastM - 3)).toBeLessThan(1.5); // ...on its own pad
    expect(went.armed).toBe(true);
    expect(Math.hypot(went.northM - 30, went.eastM)).toBeLessThan(3);
    expect(went.upM).toBeGreaterThan(10);
  }, 40_000);
});
