// The executor after a local reflex: a hold the mission-reflexes agent sent straight to the vehicle (no
// quorum contact) stops the drone mid-route; when the agent releases it, the executor flies on to the
// waypoint it was heading to and finishes the task. A committed hold is not undone by a reflex release.
// The simulated multirotor runs 20x faster than the wall clock, stepped like a device's tick does.

import { describe, it, type TestContext } from 'vitest';
import { testRig, until } from './executor-rig.js';

// The tests run at once (describe.concurrent): each waits on its own vehicle's simulated flight and
// little on the CPU, on its own rig (testRig), whose clock stops when that test ends.
async function rig(onTestFinished: TestContext['onTestFinished']) {
  const r = await testRig(onTestFinished);
  // Two legs of 120 m at 8 m/s: 15 simulated seconds each, 0.75 s of wall time.
  r.ex.run('m1', { type: 'waypoints', mission: 'm1', waypoints: [{ n: 1_200, e: 0 }, { n: 1_200, e: 1_200 }], altDm: 200, speedDmps: 80, then: 'hold' });
  return r;
}

describe.concurrent('executor and a reflex hold', () => {
  it('a released reflex hold flies on to the waypoint it was heading to and finishes the route', async ({ expect, onTestFinished }) => {
    const { ex, reports } = await rig(onTestFinished);
    expect(await until(() => (ex.position()?.northM ?? 0) > 40, 10_000), 'on its way to the first waypoint').toBe(true);
    ex.reflexAction({ type: 'hold' }); // what the mission-reflexes agent does on lost quorum contact (Device: through the executor)
    await new Promise((r) => setTimeout(r, 300));
    const heldAt = ex.position()?.northM ?? 0;
    await new Promise((r) => setTimeout(r, 500)); // 10 simulated seconds
    expect(Math.abs((ex.position()?.northM ?? 0) - heldAt), 'the hold stops it').toBeLessThan(3);
    expect(reports.some((r) => r.stage === 'done')).toBe(false);
    ex.resumeAfterReflex();
    expect(await until(() => reports.some((r) => r.stage === 'done'), 15_000), `reports ${JSON.stringify(reports.slice(-3))}`).toBe(true);
    const p = ex.position();
    expect(Math.hypot((p?.northM ?? 0) - 120, (p?.eastM ?? 0) - 120)).toBeLessThan(3.5);
  }, 30_000);

  it('a committed hold (paused) stays: a reflex release does not undo it', async ({ expect, onTestFinished }) => {
    const { ex, reports } = await rig(onTestFinished);
    expect(await until(() => (ex.position()?.northM ?? 0) > 40, 10_000)).toBe(true);
    ex.run('h1', { type: 'hold', mission: 'm1' });
    await new Promise((r) => setTimeout(r, 300));
    const heldAt = ex.position()?.northM ?? 0;
    ex.resumeAfterReflex();
    await new Promise((r) => setTimeout(r, 600));
    expect(Math.abs((ex.position()?.northM ?? 0) - heldAt)).toBeLessThan(3);
    expect(reports.filter((r) => r.command === 'm1' && r.stage === 'done')).toEqual([]);
  }, 30_000);

  it('a route re-planned under a committed hold keeps the drone holding; resume flies the new route', async ({ expect, onTestFinished }) => {
    const { ex, reports } = await rig(onTestFinished);
    expect(await until(() => (ex.position()?.northM ?? 0) > 40, 10_000)).toBe(true);
    ex.run('h1', { type: 'hold', mission: 'm1' });
    await new Promise((r) => setTimeout(r, 300));
    const heldAt = ex.position()?.northM ?? 0;
    // A hazard committed while held: the same mission's route now goes round it, by 180 m north.
    ex.run('m1', { type: 'waypoints', mission: 'm1', waypoints: [{ n: 1_200, e: 0 }, { n: 1_800, e: 600 }, { n: 1_200, e: 1_200 }], altDm: 200, speedDmps: 80, then: 'hold', replan: true });
    await new Promise((r) => setTimeout(r, 600));
    expect(Math.abs((ex.position()?.northM ?? 0) - heldAt), 'still held').toBeLessThan(3);
    let northMax = 0;
    ex.run('r1', { type: 'resume', mission: 'm1' });
    const done = await until(() => {
      northMax = Math.max(northMax, ex.position()?.northM ?? 0);
      return reports.some((r) => r.command === 'm1' && r.stage === 'done');
    }, 20_000);
    expect(done, JSON.stringify(reports.slice(-3))).toBe(true);
    expect(northMax).toBeGreaterThan(170);
  }, 40_000);
});
