// Legs cut at this device's own fence (fenceCut). One cut into two points, where it comes in and where
// it goes out: a drone stopped between them (a reflex's hold, released) flies on to where the leg goes
// out, not back to where it came in first. On a U-shaped fence, a lane across the notch is flown round
// it inside the fence (or, with no way round that keeps the margin, no further). The executor on a
// simulated multirotor 20x faster than the wall clock (executor-rig).

import { describe, expect, it } from 'vitest';
import { Executor, type ExecReport } from '../../runtime/device/executor.js';
import { geoToLocal } from '../../hal/geo.js';
import { insideFence } from '../../runtime/mission/fence-cut.js';
import { origin, testRig, until } from './executor-rig.js';

// Each test flies its own vehicle on its own clock (testRig: stopped when that test ends), so the tests
// run at once (describe.concurrent).

const route = [{ n: 400, e: 0 }, { n: 400, e: 600 }, { n: 800, e: 600 }, { n: 800, e: -600 }];

describe.concurrent('executor: a flying begun again in the middle of a leg cut at the fence', () => {
  it.for([
    ["a reflex's hold, released", (ex: Executor): void => {
      ex.reflexAction({ type: 'hold' }); // as the link-loss reflex holds it
      setTimeout(() => ex.resumeAfterReflex(), 300); // the reflex's release
    }],
    ['a re-plan that keeps the leg', (ex: Executor): void => ex.run('m1-r', { type: 'waypoints', mission: 'm1', waypoints: route, altDm: 200, speedDmps: 60, then: 'hold', replan: true })],
  ] as const)('after %s it flies on to the end of the stretch, not back to its start', { timeout: 60_000 }, async ([_what, again], t) => {
    const { vehicle, devices } = await testRig(t.onTestFinished);
    const fence = [{ northM: -20, eastM: -20 }, { northM: 120, eastM: -20 }, { northM: 120, eastM: 30 }, { northM: -20, eastM: 30 }];
    const reports: ExecReport[] = [];
    const logs: string[] = [];
    const ex = new Executor(devices, origin, (r) => reports.push(r), (m) => logs.push(m), { fence });
    const gotos: Array<[number, number]> = [];
    const execute = devices.flight.execute.bind(devices.flight);
    devices.flight.execute = (a) => {
      if (a.type === 'goto') {
        const p = geoToLocal(origin, a.target.latDeg, a.target.lonDeg);
        gotos.push([Math.round(p.northM), Math.round(p.eastM)]);
      }
      return execute(a);
    };
    // The last lane runs from 60 m east to 60 m west at 80 m north, both ends past the fence: it is
    // flown from 20 m east (10 m inside) to 10 m west.
    ex.run('m1', { type: 'waypoints', mission: 'm1', waypoints: route, altDm: 200, speedDmps: 60, then: 'hold' });
    const midway = await until(() => {
      const s = vehicle.state();
      return Math.abs(s.northM - 80) < 2 && s.eastM < 8 && s.eastM > 0;
    }, 30_000);
    const why = (): string => `gotos ${JSON.stringify(gotos)} logs ${JSON.stringify(logs)} reports ${JSON.stringify(reports.slice(-2))}`;
    expect(midway, why()).toBe(true);
    const held = gotos.length;
    again(ex);
    const finished = await until(() => reports.some((r) => r.stage === 'done' || r.stage === 'failed'), 30_000);
    expect(finished, why()).toBe(true);
    expect(reports.at(-1)?.stage, why()).toBe('done');
    // Before: [[80, 20], [80, -10]]: back 15 m east to where the leg came in, then west again.
    expect(gotos.slice(held), why()).toEqual([[80, -10]]);
  });
});

describe.concurrent("executor: a U-shaped fence of this device's own", () => {
  // Two arms north of a notch between east 40 and 80 m (from `notchFromM` north); the bar south of it
  // reaches down to -20 m north.
  it.for([
    [40, 'flies the lane up to the notch, round it inside the fence, on through the other arm, and back'],
    [-5, 'with no way round the notch that keeps 10 m from the fence (a bar 15 m wide), flies nothing past it'],
  ] as const)('notch from %d m north: %s', { timeout: 60_000 }, async ([notchFromM], t) => {
    const { vehicle, devices } = await testRig(t.onTestFinished);
    const fence = [[-20, -20], [-20, 140], [150, 140], [150, 80], [notchFromM, 80], [notchFromM, 40], [150, 40], [150, -20]].map(([northM, eastM]) => ({ northM: northM as number, eastM: eastM as number }));
    const reports: ExecReport[] = [];
    const logs: string[] = [];
    const ex = new Executor(devices, origin, (r) => reports.push(r), (m) => logs.push(m), { fence });
    let outside = 0;
    let eastMost = -Infinity;
    let northBetween = -Infinity;
    const watch = setInterval(() => {
      const s = vehicle.state();
      if (s.upM > 1 && !insideFence(s, fence)) outside++;
      eastMost = Math.max(eastMost, s.eastM);
      if (s.eastM > 40 && s.eastM < 80) northBetween = Math.max(northBetween, s.northM);
    }, 5);
    try {
      ex.run('m1', { type: 'waypoints', mission: 'm1', waypoints: [{ n: 1000, e: -1000 }, { n: 1000, e: 2000 }, { n: 1200, e: 2000 }, { n: 1200, e: -1000 }], altDm: 200, speedDmps: 80, then: 'hold' });
      const finished = await until(() => reports.some((r) => r.stage === 'done' || r.stage === 'failed'), 40_000);
      const why = `logs ${JSON.stringify(logs)} reports ${JSON.stringify(reports.slice(-2))} east-most ${eastMost.toFixed(1)} north between the arms ${northBetween.toFixed(1)}`;
      expect(finished, why).toBe(true);
      expect(reports.at(-1)?.stage, why).toBe('done');
      expect(outside, why).toBe(0);
      if (notchFromM === 40) {
        // Before: the lane flown up to the notch only, the east arm never.
        expect(eastMost, why).toBeGreaterThan(125);
        expect(northBetween, why).toBeLessThan(31); // round the notch's corners, 10 m in from them
      } else {
        expect(eastMost, why).toBeLessThan(36);
        expect(logs.some((l) => l.includes('no way inside this device\'s geofence')), why).toBe(true);
      }
    } finally {
      clearInterval(watch);
    }
  });
});

describe.concurrent("executor: a waypoint inside its own fence with no way to it that keeps the margin", () => {
  it('is said to be that, not outside the fence', async (t) => {
    const { devices } = await testRig(t.onTestFinished);
    // The U with a bar 15 m wide: from the west arm to the east arm, both inside, across the notch.
    const fence = [[-20, -20], [-20, 140], [150, 140], [150, 80], [-5, 80], [-5, 40], [150, 40], [150, -20]].map(([northM, eastM]) => ({ northM: northM as number, eastM: eastM as number }));
    const reports: ExecReport[] = [];
    const logs: string[] = [];
    const ex = new Executor(devices, origin, (r) => reports.push(r), (m) => logs.push(m), { fence });
    ex.run('m1', { type: 'waypoints', mission: 'm1', waypoints: [{ n: 1000, e: 100 }, { n: 1000, e: 1200 }], altDm: 200, speedDmps: 80, then: 'hold' });
    const finished = await until(() => reports.some((r) => r.stage === 'done' || r.stage === 'failed'), 40_000);
    const why = `logs ${JSON.stringify(logs)} reports ${JSON.stringify(reports.slice(-2))}`;
    expect(finished, why).toBe(true);
    // Before: "task m1: waypoint 2 [100, 120] is outside this device's geofence, and no part of the leg to it inside: skipped".
    expect(logs.filter((l) => l.includes('[100, 120] is outside')), why).toEqual([]);
    expect(logs, why).toContain("task m1: no way inside this device's geofence to waypoint 2 [100, 120] keeps 10 m from it: skipped");
  }, 60_000);
});

describe.concurrent('executor: a route whose first waypoint lies past the fence', () => {
  it("airborne inside the fence (a route resumed mid-lane after a restart), it flies the lane's rest up to the fence", async (t) => {
    const { vehicle, devices } = await testRig(t.onTestFinished);
    const fence = [{ northM: -20, eastM: -20 }, { northM: 120, eastM: -20 }, { northM: 120, eastM: 30 }, { northM: -20, eastM: 30 }];
    const lane = { type: 'waypoints', mission: 'm1', waypoints: [{ n: 0, e: 600 }], altDm: 200, speedDmps: 80, then: 'hold' } as const;
    // Up on the lane, as a drone restarted mid-lane is: the route resumes at the waypoint past the fence.
    expect((await devices.flight.execute({ type: 'arm' })).ok).toBe(true);
    expect((await devices.flight.execute({ type: 'takeoff', relAltM: 20 })).ok).toBe(true);
    expect(await until(() => vehicle.state().upM > 19, 15_000)).toBe(true);
    const reports: ExecReport[] = [];
    const logs: string[] = [];
    const restarted = new Executor(devices, origin, (r) => reports.push(r), (m) => logs.push(m), { fence });
    let eastMost = -Infinity;
    const watch = setInterval(() => (eastMost = Math.max(eastMost, vehicle.state().eastM)), 5);
    try {
      restarted.run('m1', lane);
      expect(await until(() => reports.some((r) => r.stage === 'done' || r.stage === 'failed'), 20_000)).toBe(true);
      const why = `logs ${JSON.stringify(logs)} reports ${JSON.stringify(reports.slice(-2))} east-most ${eastMost.toFixed(1)}`;
      expect(reports.at(-1)?.stage, why).toBe('done');
      // Before: the waypoint skipped, the lane's rest not flown (east-most about 0).
      expect(eastMost, why).toBeGreaterThan(17);
      expect(eastMost, why).toBeLessThan(25);
      expect(logs, why).toContain("task m1: waypoint 1 [0, 60] is outside this device's geofence: the leg to it is flown up to the fence");
    } finally {
      clearInterval(watch);
      restarted.stop();
    }
  }, 60_000);
});
