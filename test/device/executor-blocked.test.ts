// A leg with no way round the committed hazards inside the geofence (the task's `blocked`,
// runtime/mission/hazards.ts routeAround) is never flown: the executor flies up to it, holds there and
// reports the task failed with the reason; a drone still on the ground does not take off for it.

import { describe, it } from 'vitest';
import { testRig, until } from './executor-rig.js';

// The tests run at once (describe.concurrent): each waits on its own vehicle's simulated flight and
// little on the CPU, on its own rig (testRig), whose clock stops when that test ends.

const reason = 'no way round the committed hazards from [20, 0] m to [20, 60] m keeps inside the geofence and outside every keep-out';

describe.concurrent('executor and a blocked leg', () => {
  it('flies to the waypoint before the blocked leg, holds there and reports why, without flying the leg', async ({ expect, onTestFinished }) => {
    const { vehicle, ex, reports } = await testRig(onTestFinished);
    let eastMost = -Infinity;
    const watch = setInterval(() => (eastMost = Math.max(eastMost, vehicle.state().eastM)), 10);
    try {
      ex.run('m1', { type: 'waypoints', mission: 'm1', waypoints: [{ n: 200, e: 0 }, { n: 200, e: 600 }], altDm: 150, speedDmps: 80, then: 'return', blocked: [{ to: 1, reason }] });
      expect(await until(() => reports.some((r) => r.stage === 'failed' || r.stage === 'done'), 15_000), JSON.stringify(reports)).toBe(true);
      expect(reports.at(-1)).toMatchObject({ stage: 'failed', reason: `${reason}: holding before that leg (waypoint 2 of 2)`, progress: 500 });
      // It stays over the last waypoint it may reach, in the air, and does not go on east.
      await new Promise((r) => setTimeout(r, 500));
      const st = vehicle.state();
      expect(Math.hypot(st.northM - 20, st.eastM)).toBeLessThan(4);
      expect(st.upM).toBeGreaterThan(10);
      expect(eastMost).toBeLessThan(4);
      expect(ex.completed).toBe('');
    } finally {
      clearInterval(watch);
    }
  }, 30_000);

  it('held before a blocked leg, it flies on when a re-plan gives the leg a way, and its ack says it resumed', async ({ expect, onTestFinished }) => {
    const { vehicle, ex, reports } = await testRig(onTestFinished);
    const route = [{ n: 200, e: 0 }, { n: 200, e: 600 }];
    ex.run('m1', { type: 'waypoints', mission: 'm1', waypoints: route, altDm: 150, speedDmps: 80, then: 'hold', blocked: [{ to: 1, reason }] });
    expect(await until(() => reports.some((r) => r.stage === 'failed'), 15_000), JSON.stringify(reports)).toBe(true);
    const held = reports.length;
    // The hazard left the committed set (or a new fence left room): the machine re-tasks it, not blocked.
    ex.run('m1', { type: 'waypoints', mission: 'm1', waypoints: route, altDm: 150, speedDmps: 80, then: 'hold', replan: true });
    expect(await until(() => reports.slice(held).some((r) => r.stage === 'done' || r.stage === 'failed'), 20_000), JSON.stringify(reports)).toBe(true);
    expect(reports[held]).toMatchObject({ command: 'm1', stage: 'started', progress: 500, reason: 'resumed: the re-planned route has a way for the leg it held before (waypoint 2 of 2)' });
    expect(reports.at(-1)).toMatchObject({ stage: 'done', progress: 1000 });
    const st = vehicle.state();
    expect(Math.hypot(st.northM - 20, st.eastM - 60)).toBeLessThan(4);
  }, 40_000);

  it('a re-plan that still blocks the leg it holds before does not say it resumed', async ({ expect, onTestFinished }) => {
    const { ex, reports } = await testRig(onTestFinished);
    const route = [{ n: 200, e: 0 }, { n: 200, e: 600 }];
    ex.run('m1', { type: 'waypoints', mission: 'm1', waypoints: route, altDm: 150, speedDmps: 80, then: 'hold', blocked: [{ to: 1, reason }] });
    expect(await until(() => reports.some((r) => r.stage === 'failed'), 15_000), JSON.stringify(reports)).toBe(true);
    const held = reports.length;
    ex.run('m1', { type: 'waypoints', mission: 'm1', waypoints: route, altDm: 150, speedDmps: 80, then: 'hold', replan: true, blocked: [{ to: 1, reason }] });
    expect(await until(() => reports.slice(held).some((r) => r.stage === 'failed'), 15_000), JSON.stringify(reports)).toBe(true);
    expect(reports.slice(held).map((r) => [r.stage, r.reason])).toEqual([['started', ''], ['failed', `${reason}: holding before that leg (waypoint 2 of 2)`]]);
  }, 40_000);

  // A hazard committed on the waypoints still ahead: the machine's re-plan drops them (routeAround), and
  // the task's droppedEnd says why (reassign.ts assignmentTask).
  const dropped = 'every waypoint left for d1 lies inside the keep-out round committed hazard cell 40,120 (routes keep 8 m from its edge): [20, 60] m';

  it('a re-plan that drops every waypoint ahead: it holds where it is and the task fails naming the hazard, never done; a re-plan giving them back flies on', async ({ expect, onTestFinished }) => {
    const { vehicle, ex, reports } = await testRig(onTestFinished);
    const route = [{ n: 200, e: 0 }, { n: 200, e: 600 }];
    ex.run('m1', { type: 'waypoints', mission: 'm1', waypoints: route, altDm: 150, speedDmps: 80, then: 'hold' });
    expect(await until(() => reports.some((r) => r.stage === 'progress' && r.progress === 500), 15_000), JSON.stringify(reports)).toBe(true);
    const before = reports.length;
    ex.run('m1', { type: 'waypoints', mission: 'm1', waypoints: route.slice(0, 1), altDm: 150, speedDmps: 80, then: 'hold', replan: true, droppedEnd: dropped });
    expect(await until(() => reports.slice(before).some((r) => r.stage === 'failed' || r.stage === 'done'), 15_000), JSON.stringify(reports)).toBe(true);
    expect(reports.slice(before).map((r) => [r.stage, r.reason])).toEqual([['started', ''], ['failed', `${dropped}: none of its route is left ahead of it; holding where it is`]]);
    expect(ex.completed).toBe('');
    await new Promise((r) => setTimeout(r, 300));
    const st = vehicle.state();
    expect(st.eastM).toBeLessThan(50);
    expect(st.upM).toBeGreaterThan(10);
    // The hazard cleared: the route has its last waypoint again, and the drone flies to it.
    const held = reports.length;
    ex.run('m1', { type: 'waypoints', mission: 'm1', waypoints: route, altDm: 150, speedDmps: 80, then: 'hold', replan: true });
    expect(await until(() => reports.slice(held).some((r) => r.stage === 'done' || r.stage === 'failed'), 20_000), JSON.stringify(reports)).toBe(true);
    expect(reports[held]).toMatchObject({ stage: 'started', reason: 'resumed: the re-planned route has a way for the leg it held before (waypoint 2 of 2)' });
    expect(reports.at(-1)).toMatchObject({ stage: 'done', progress: 1000 });
  }, 40_000);

  it("a re-plan that drops a goto's only waypoint while the drone is on its way: it holds, never done", async ({ expect, onTestFinished }) => {
    const { ex, reports } = await testRig(onTestFinished);
    ex.run('m1', { type: 'waypoints', mission: 'm1', waypoints: [{ n: 200, e: 600 }], altDm: 150, speedDmps: 80, then: 'hold' });
    expect(await until(() => reports.some((r) => r.stage === 'started'), 5_000), JSON.stringify(reports)).toBe(true);
    const before = reports.length;
    ex.run('m1', { type: 'waypoints', mission: 'm1', waypoints: [], altDm: 150, speedDmps: 80, then: 'hold', replan: true, droppedEnd: dropped });
    expect(await until(() => reports.slice(before).some((r) => r.stage === 'failed' || r.stage === 'done'), 15_000), JSON.stringify(reports)).toBe(true);
    expect(reports.slice(before).map((r) => r.stage)).toEqual(['started', 'failed']);
    expect(ex.completed).toBe('');
  }, 30_000);

  it('a re-plan after the drone flew its route to the end is still done (the dropped end was never ahead of it)', async ({ expect, onTestFinished }) => {
    const { ex, reports } = await testRig(onTestFinished);
    ex.run('m1', { type: 'waypoints', mission: 'm1', waypoints: [{ n: 200, e: 0 }], altDm: 150, speedDmps: 80, then: 'hold' });
    expect(await until(() => reports.some((r) => r.stage === 'done'), 15_000), JSON.stringify(reports)).toBe(true);
    const before = reports.length;
    ex.run('m1', { type: 'waypoints', mission: 'm1', waypoints: [{ n: 200, e: 0 }], altDm: 150, speedDmps: 80, then: 'hold', replan: true, droppedEnd: dropped });
    expect(await until(() => reports.slice(before).some((r) => r.stage === 'failed' || r.stage === 'done'), 15_000), JSON.stringify(reports)).toBe(true);
    expect(reports.at(-1)).toMatchObject({ stage: 'done' });
  }, 30_000);

  it('on the ground with the blocked leg next, it does not take off', async ({ expect, onTestFinished }) => {
    const { vehicle, ex, reports } = await testRig(onTestFinished);
    ex.run('m1', { type: 'waypoints', mission: 'm1', waypoints: [{ n: 200, e: 600 }], altDm: 150, speedDmps: 80, then: 'return', blocked: [{ to: 0, reason }] });
    expect(await until(() => reports.some((r) => r.stage === 'failed'), 5_000), JSON.stringify(reports)).toBe(true);
    await new Promise((r) => setTimeout(r, 300));
    expect(vehicle.state().upM).toBeLessThan(0.5);
  }, 30_000);
});
