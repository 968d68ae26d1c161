// A drone that has flown its part of a mission is not sent round it again: a committed hold and resume
// of the mission (sent to every assigned drone) or a reflex release find its task finished, and a
// finished survey drone that has landed at home stays on the ground. The simulated multirotor runs 20x
// faster than the wall clock, stepped like a device's tick does.

import { describe, it, type TestContext } from 'vitest';
import { Executor, type ExecReport } from '../../runtime/device/executor.js';
import { localToGeo } from '../../hal/geo.js';
import type { DeviceSet } from '../../hal/devices.js';
import { testRig, origin, until } from './executor-rig.js';

// The tests run at once (describe.concurrent): each waits on its own vehicle's simulated flight and
// little on the CPU, on its own rig (testRig), whose clock stops when that test ends.

const survey = { type: 'waypoints', mission: 'm1', waypoints: [{ n: 200, e: 0 }], altDm: 100, speedDmps: 80, then: 'return' } as const;

/** A drone that flew its survey part (one waypoint 20 m north), went home and landed. */
async function flownAndLanded({ expect, onTestFinished }: TestContext) {
  const { vehicle, devices, ex, reports } = await testRig(onTestFinished);
  await devices.flight.setReturnAltitude(10);
  ex.run('m1', survey);
  expect(await until(() => reports.some((r) => r.stage === 'done'), 15_000), JSON.stringify(reports)).toBe(true);
  const landed = () => {
    const s = devices.flight.state();
    return s.ok && s.value.landed === 'on-ground' && !s.value.armed;
  };
  expect(await until(landed, 20_000), 'home and landed').toBe(true);
  /** The highest the vehicle climbs in the next 20 simulated seconds. */
  const highest = async (): Promise<number> => {
    let m = 0;
    for (let i = 0; i < 50; i++) {
      await new Promise((r) => setTimeout(r, 20));
      m = Math.max(m, vehicle.state().upM);
    }
    return m;
  };
  return { ex, reports, landed, highest };
}

describe.concurrent('executor and a finished task', () => {
  it('a hold and resume after the drone finished and landed do not make it take off again', async (t) => {
    const { expect } = t;
    const { ex, reports, landed, highest } = await flownAndLanded(t);
    const after = reports.length;
    // The mission is still active for the other drones; the operator holds it, then resumes it.
    ex.run('h1', { type: 'hold', mission: 'm1' });
    ex.run('r1', { type: 'resume', mission: 'm1' });
    ex.resumeAfterReflex();
    const highestM = await highest();
    expect(reports.slice(after).filter((r) => r.command === 'm1'), `highest ${highestM} m`).toEqual([]);
    expect(highestM).toBeLessThan(0.5);
    expect(landed()).toBe(true);
  }, 40_000);

  it('the same route again as a continuation (a re-plan, a state sync) with nothing left to fly does not take off', async (t) => {
    const { expect } = t;
    const { ex, reports, landed, highest } = await flownAndLanded(t);
    const after = reports.length;
    ex.run('m1', { ...survey, replan: true });
    const highestM = await highest();
    expect(highestM, JSON.stringify(reports.slice(after))).toBeLessThan(0.5);
    expect(landed()).toBe(true);
    expect(reports.slice(after).map((r) => r.stage)).toEqual(['started', 'done']);
  }, 40_000);

  it('a task left with no waypoints (all inside committed hazards) that fails reports a readable progress', ({ expect }) => {
    const reports: ExecReport[] = [];
    const ex = new Executor({}, origin, (r) => reports.push(r), () => undefined);
    ex.run('m2', { type: 'waypoints', mission: 'm2', waypoints: [], altDm: 100, speedDmps: 80, then: 'hold' });
    // No flight controller: it fails at once. The ack's progress must be an integer 0..1000 (wire/ack.ts).
    expect(reports.map((r) => [r.stage, r.progress])).toEqual([
      ['started', 0],
      ['failed', 0],
    ]);
  });

  it('a route carried on from its middle (re-plan, resume) acks started with the progress made, not 0', async ({ expect }) => {
    // A vehicle that is at once wherever it is sent, except that it never reaches the third waypoint.
    let at = { latDeg: origin.latDeg, lonDeg: origin.lonDeg };
    const third = { n: 300, e: 0 };
    const devices = {
      position: { fix: () => ({ ok: true, value: { ...at, altMslM: 500 } }) },
      flight: {
        state: () => ({ ok: true, value: { timeMs: 0, armed: true, mode: 'guided', landed: 'in-air', home: null, failsafe: false } }),
        modesAfter: () => ['guided'],
        execute: async (a: { type: string; target?: { latDeg: number; lonDeg: number } }) => {
          const stuck = a.target && Math.abs(a.target.latDeg - localToGeo(origin, third.n / 10, third.e / 10).latDeg) < 1e-9;
          if (a.type === 'goto' && a.target && !stuck) at = { latDeg: a.target.latDeg, lonDeg: a.target.lonDeg };
          return { ok: true, value: undefined };
        },
      },
    } as unknown as DeviceSet;
    const reports: ExecReport[] = [];
    const ex = new Executor(devices, origin, (r) => reports.push(r), () => undefined);
    const route = { type: 'waypoints', mission: 'm3', waypoints: [{ n: 100, e: 0 }, { n: 200, e: 0 }, third, { n: 400, e: 0 }], altDm: 0, speedDmps: 80, then: 'hold' } as const;
    ex.run('m3', route);
    expect(await until(() => reports.some((r) => r.stage === 'progress' && r.progress === 500), 5_000), JSON.stringify(reports)).toBe(true);
    const after = reports.length;
    ex.run('m3', { ...route, replan: true });
    expect(reports.slice(after)[0]).toEqual({ command: 'm3', stage: 'started', progress: 500, reason: '' });
    ex.stop();
  });
});
