// A return to launch whose straight line home crosses a committed keep-out goes round it: the executor
// flies the way round (runtime/mission/hazards.ts wayFrom, from the drone to its home) at the return
// altitude and hands the last, clear leg to the flight controller's own return. A mast taller than the
// return altitude stands on that line here. On the executor rig's simulated multirotor (20x the wall
// clock). Before, the executor sent the flight controller's return at once, straight through the mast.

import { describe, it, type TestContext } from 'vitest';
import { keepOuts, type KeepOut } from '../../runtime/mission/hazards.js';
import { testRig, until, type Rig } from './executor-rig.js';

// The tests run at once (describe.concurrent; vitest's maxConcurrency, 5): each waits on its own
// vehicle's simulated flight, ~3 s of the wall clock and little of the CPU, on its own rig (testRig),
// whose clock stops when that test ends.

// A mast 40 m north of the pad, 60 m tall (the return altitude is 30 m or less), and the committed
// hazard round it: the 5 m cells the swarm commits (cellDm 50).
const mast = { northM: 40, eastM: 0, radiusM: 4, heightM: 60 };
const zones = keepOuts({ cellDm: 50, cells: [[7, -1], [7, 0], [8, -1], [8, 0]] });
const zone = zones[0] as KeepOut;
// The keep-out less 3 m of position-controller error, as a second obstacle: the simulated vehicle counts
// any entry into it (checked at every physics step, however loaded the machine), so no strike means the
// drone went round the keep-out, not merely past the mast.
const keepOutProbe = { northM: zone.n / 10, eastM: zone.e / 10, radiusM: zone.r / 10 - 3, heightM: 60 };

/** Out east, north past the mast and back west, so the drone ends 80 m north of the pad with the mast
 *  between it and home; then `ret` sends it home. */
async function outAndHome({ expect, onTestFinished }: TestContext, ret: (r: Rig) => void) {
  const r = await testRig(onTestFinished, [mast, keepOutProbe]);
  const { vehicle, ex, reports } = r;
  expect(vehicle.returnAltitude()).toBeLessThan(mast.heightM);
  ex.keepFence(null, 0, zones);
  ex.run('m1', { type: 'waypoints', mission: 'm1', waypoints: [{ n: 0, e: 300 }, { n: 800, e: 300 }, { n: 800, e: 0 }], altDm: 200, speedDmps: 80, then: 'hold' });
  expect(await until(() => reports.some((x) => x.command === 'm1' && (x.stage === 'done' || x.stage === 'failed')), 25_000)).toBe(true);
  expect(reports.filter((x) => x.command === 'm1').map((x) => x.stage)).toContain('done');
  ret(r);
  const home = await until(() => vehicle.state().upM < 0.3 && !vehicle.state().armed, 30_000);
  return { ...r, home };
}

describe.concurrent('executor: a return to launch across a committed keep-out', () => {
  it('a committed rtl goes round the keep-out, lands on its pad, and is done', async (t) => {
    const { expect } = t;
    expect(zones).toHaveLength(1);
    const { vehicle, reports, home } = await outAndHome(t, ({ ex }) => ex.run('r1', { type: 'rtl' }));
    expect(home, 'landed and disarmed').toBe(true);
    expect(vehicle.strikes()).toEqual([]); // neither the mast nor the keep-out
    const st = vehicle.state();
    expect(Math.hypot(st.northM, st.eastM)).toBeLessThan(3);
    expect(reports.filter((x) => x.command === 'r1').map((x) => x.stage)).toEqual(['started', 'done']);
  }, 60_000);

  it('a failsafe return (a reflex, no task) goes round it the same way', async (t) => {
    const { expect } = t;
    const { vehicle, home } = await outAndHome(t, ({ ex }) => ex.returnHome('battery 20% below reserve'));
    expect(home, 'landed and disarmed').toBe(true);
    expect(vehicle.strikes()).toEqual([]);
  }, 60_000);

  it('stopped on its way home by the obstacle reflex, it goes home again when released: round the keep-out committed meanwhile', async ({ expect, onTestFinished }) => {
    const r = await testRig(onTestFinished, [mast]);
    const { vehicle, ex, reports } = r;
    ex.run('m1', { type: 'waypoints', mission: 'm1', waypoints: [{ n: 0, e: 300 }, { n: 800, e: 300 }, { n: 800, e: 0 }], altDm: 200, speedDmps: 80, then: 'hold' });
    expect(await until(() => reports.some((x) => x.command === 'm1' && x.stage === 'done'), 25_000)).toBe(true);
    ex.run('r1', { type: 'rtl' }); // nothing committed yet: the flight controller's return, straight at the mast
    // 70 m: 26 m before the mast (a 60 m threshold left 16 m: 0.1 s of the wall clock at 20x speed).
    expect(await until(() => (ex.position()?.northM ?? 0) < 70, 10_000), 'on its way home').toBe(true);
    ex.reflexAction({ type: 'hold' }); // what the reflex does in front of a return it cannot see past (Device: through the executor)
    ex.keepFence(null, 0, zones); // the swarm commits the mast
    await new Promise((x) => setTimeout(x, 200));
    expect(vehicle.state().mode).toBe('hold');
    ex.resumeAfterReflex(); // two clear scans: the reflex releases the drone
    expect(await until(() => vehicle.state().upM < 0.3 && !vehicle.state().armed, 30_000), 'landed and disarmed').toBe(true);
    expect(vehicle.strikes()).toEqual([]);
    const st = vehicle.state();
    expect(Math.hypot(st.northM, st.eastM)).toBeLessThan(3);
  }, 60_000);

  for (const how of ['a committed rtl', 'a committed abort', 'a failsafe return'] as const) {
    it(`${how} after a committed hold of the mission goes round the keep-out and lands: the hold does not stop it at the first corner`, async ({ expect, onTestFinished }) => {
      // Before, the hold's pause stayed on: goHome flew to the first point of the way round and waited
      // there for ever (a paused executor's waits do not count), the drone hovering by the mast.
      const r = await testRig(onTestFinished, [mast]);
      const { vehicle, ex, reports, logs } = r;
      ex.keepFence(null, 0, zones);
      ex.run('m1', { type: 'waypoints', mission: 'm1', waypoints: [{ n: 0, e: 300 }, { n: 800, e: 300 }, { n: 800, e: -600 }], altDm: 200, speedDmps: 80, then: 'hold' });
      expect(await until(() => { const p = ex.position(); return p !== null && p.northM > 75 && p.eastM < 5; }, 25_000), 'north of the mast').toBe(true);
      ex.run('h1', { type: 'hold', mission: 'm1' });
      await new Promise((x) => setTimeout(x, 200));
      if (how === 'a committed rtl') ex.run('r1', { type: 'rtl' });
      else if (how === 'a committed abort') ex.run('r1', { type: 'abort' });
      else ex.returnHome('battery 20% below reserve');
      const home = await until(() => vehicle.state().upM < 0.3 && !vehicle.state().armed, 30_000);
      const st = vehicle.state();
      expect(home, `landed and disarmed; at [${st.northM.toFixed(1)}, ${st.eastM.toFixed(1)}] mode ${st.mode}; logs ${JSON.stringify(logs)}`).toBe(true);
      expect(vehicle.strikes()).toEqual([]);
      expect(Math.hypot(st.northM, st.eastM)).toBeLessThan(3);
      if (how !== 'a failsafe return') expect(reports.filter((x) => x.command === 'r1').map((x) => x.stage)).toEqual(['started', 'done']);
    }, 60_000);
  }

  it('a re-plan of its mission does not undo a failsafe return: the drone keeps going home, and the new route waits for a resume', async ({ expect, onTestFinished }) => {
    // Before, the executor flew the re-planned route at once, and a drone its battery reflex had sent
    // home flew back out to the mission (fleet-sim's flight layer kept it going home).
    const { vehicle, ex, reports, logs } = await testRig(onTestFinished);
    const route = [{ n: 0, e: 1_200 }, { n: 1_200, e: 1_200 }];
    ex.run('m1', { type: 'waypoints', mission: 'm1', waypoints: route, altDm: 200, speedDmps: 80, then: 'hold' });
    expect(await until(() => (ex.position()?.eastM ?? 0) > 60, 15_000), 'on its way out').toBe(true);
    ex.returnHome('battery 20% below reserve');
    expect(await until(() => vehicle.state().mode === 'return', 10_000)).toBe(true);
    // A committed hazard re-plans the mission: the same route with a detour point in it.
    ex.run('m1', { type: 'waypoints', mission: 'm1', waypoints: [route[0]!, { n: 600, e: 1_400 }, route[1]!], altDm: 200, speedDmps: 80, then: 'hold', replan: true });
    expect(await until(() => vehicle.state().upM < 0.3 && !vehicle.state().armed, 30_000), `landed at home; logs ${JSON.stringify(logs)}`).toBe(true);
    const st = vehicle.state();
    expect(Math.hypot(st.northM, st.eastM)).toBeLessThan(3);
    expect(logs).toContain('task m1: re-planned route kept; the failsafe return goes on');
    expect(reports.filter((r) => r.stage === 'done')).toEqual([]);
    expect(ex.route()?.waypoints).toHaveLength(3); // kept for a resume
  }, 60_000);

  it("nor the mission's hold and resume: the drone keeps going home and the acks say why", async ({ expect, onTestFinished }) => {
    // Before, a committed hold stopped a battery return where the drone was, and the resume flew it
    // back out to the mission.
    const { vehicle, ex, reports } = await testRig(onTestFinished);
    ex.run('m1', { type: 'waypoints', mission: 'm1', waypoints: [{ n: 0, e: 1_200 }, { n: 1_200, e: 1_200 }], altDm: 200, speedDmps: 80, then: 'hold' });
    expect(await until(() => (ex.position()?.eastM ?? 0) > 60, 15_000), 'on its way out').toBe(true);
    ex.returnHome('battery 20% below reserve');
    ex.run('h1', { type: 'hold', mission: 'm1' });
    await new Promise((r) => setTimeout(r, 300));
    ex.run('r1', { type: 'resume', mission: 'm1' });
    expect(await until(() => vehicle.state().upM < 0.3 && !vehicle.state().armed, 30_000), 'landed at home').toBe(true);
    const st = vehicle.state();
    expect(Math.hypot(st.northM, st.eastM)).toBeLessThan(3);
    const why = 'not carried out: a failsafe return or landing is in force on this drone';
    expect(reports.filter((r) => r.command !== 'm1').map((r) => [r.command, r.stage, r.reason])).toEqual([
      ['h1', 'started', ''],
      ['h1', 'failed', why],
      ['r1', 'started', ''],
      ['r1', 'failed', why],
    ]);
  }, 60_000);

  it('nor a reflex release: a failsafe return goes on home', async ({ expect, onTestFinished }) => {
    // Before, a release that reached the executor (the scheduler suppresses them only while it has a
    // failsafe latched) flew the drone back out to the mission it still held.
    const { vehicle, ex } = await testRig(onTestFinished);
    ex.run('m1', { type: 'waypoints', mission: 'm1', waypoints: [{ n: 0, e: 1_200 }, { n: 1_200, e: 1_200 }], altDm: 200, speedDmps: 80, then: 'hold' });
    expect(await until(() => (ex.position()?.eastM ?? 0) > 60, 15_000), 'on its way out').toBe(true);
    ex.returnHome('battery 20% below reserve');
    expect(await until(() => vehicle.state().mode === 'return', 10_000)).toBe(true);
    ex.resumeAfterReflex();
    expect(await until(() => vehicle.state().upM < 0.3 && !vehicle.state().armed, 30_000), 'landed at home').toBe(true);
    const st = vehicle.state();
    expect(Math.hypot(st.northM, st.eastM)).toBeLessThan(3);
  }, 60_000);

  it('nor a failsafe landing: the drone lands where it is and stays down', async ({ expect, onTestFinished }) => {
    const { vehicle, ex, logs } = await testRig(onTestFinished);
    const route = [{ n: 0, e: 1_200 }, { n: 1_200, e: 1_200 }];
    ex.run('m1', { type: 'waypoints', mission: 'm1', waypoints: route, altDm: 200, speedDmps: 80, then: 'hold' });
    expect(await until(() => (ex.position()?.eastM ?? 0) > 60, 15_000), 'on its way out').toBe(true);
    ex.landHere('battery 5%: critical');
    expect(await until(() => vehicle.state().mode === 'land', 10_000)).toBe(true);
    const at = ex.position();
    ex.run('m1', { type: 'waypoints', mission: 'm1', waypoints: [route[0]!, { n: 600, e: 1_400 }, route[1]!], altDm: 200, speedDmps: 80, then: 'hold', replan: true });
    expect(await until(() => vehicle.state().upM < 0.3 && !vehicle.state().armed, 30_000), `landed; logs ${JSON.stringify(logs)}`).toBe(true);
    await new Promise((r) => setTimeout(r, 500)); // 10 simulated seconds on the ground
    const st = vehicle.state();
    expect(st.armed).toBe(false);
    expect(Math.hypot(st.northM - (at?.northM ?? 0), st.eastM - (at?.eastM ?? 0))).toBeLessThan(15);
  }, 60_000);

  it('a flight controller that refuses the goto round the keep-out still gets its return: straight, said in the log', async ({ expect, onTestFinished }) => {
    // Before, the refused goto ended goHome with no return at all: a failsafe return logged a refusal
    // and the drone hovered where it was (an ArduPilot refuses a guided target outside its fence, or
    // while its own failsafe holds the mode). Before goHome the reflex's return went to the FC at once.
    const { vehicle, devices, ex, reports, logs } = await testRig(onTestFinished); // the keep-out is committed; no mast stands in it here
    ex.keepFence(null, 0, zones);
    ex.run('m1', { type: 'waypoints', mission: 'm1', waypoints: [{ n: 0, e: 300 }, { n: 800, e: 300 }, { n: 800, e: 0 }], altDm: 200, speedDmps: 80, then: 'hold' });
    expect(await until(() => reports.some((x) => x.command === 'm1' && x.stage === 'done'), 25_000)).toBe(true);
    const fc = devices.flight as { execute: typeof devices.flight.execute };
    const execute = fc.execute.bind(fc);
    fc.execute = (a) => (a.type === 'goto' ? Promise.resolve({ ok: false as const, error: { code: 'rejected' as const, message: 'destination outside the fence' } }) : execute(a));
    ex.returnHome('battery 20% below reserve');
    const home = await until(() => vehicle.state().upM < 0.3 && !vehicle.state().armed, 30_000);
    expect(home, `landed; logs ${JSON.stringify(logs)}`).toBe(true);
    expect(Math.hypot(vehicle.state().northM, vehicle.state().eastM)).toBeLessThan(3);
    expect(logs.some((l) => l.includes('the way round the keep-outs in its way was refused') && l.includes('the return flies straight')), JSON.stringify(logs)).toBe(true);
  }, 60_000);

  it('with nothing committed across its way home it is the flight controller\'s own return, straight', async ({ expect, onTestFinished }) => {
    const r = await testRig(onTestFinished);
    const { vehicle, ex, reports } = r;
    ex.keepFence(null, 0, zones); // the keep-out is north of the pad; the drone goes east and comes back
    ex.run('m1', { type: 'waypoints', mission: 'm1', waypoints: [{ n: 0, e: 600 }], altDm: 200, speedDmps: 80, then: 'hold' });
    expect(await until(() => reports.some((x) => x.stage === 'done'), 25_000)).toBe(true);
    ex.run('r1', { type: 'rtl' });
    expect(await until(() => vehicle.state().mode === 'return', 10_000), 'the flight controller returns').toBe(true);
    expect(await until(() => reports.some((x) => x.command === 'r1' && x.stage === 'done'), 10_000)).toBe(true);
    expect(reports.filter((x) => x.command === 'r1').map((x) => x.stage)).toEqual(['started', 'done']);
  }, 60_000);
});
