// A vehicle taken out of the executor's hands while it flies a task: a pilot switches the flight
// controller to a manual mode, or the FC's own failsafe (battery, fence, lost link) starts a return. The
// executor must not undo either with its next goto (a goto is MAV_CMD_DO_REPOSITION, which changes the
// FC's mode to fly there): it fails the task with the reason and commands nothing more, through a
// reflex's release and a re-plan of the mission too, until the swarm commits a new task for the drone.
// On the executor rig's simulated multirotor, whose mode the test changes as the FC or a pilot would.

import { describe, it, type TestContext } from 'vitest';
import type { FlightMode } from '../../hal/devices.js';
import type { Task } from '../../runtime/mission/types.js';
import { recordActions, testRig, until } from './executor-rig.js';
import { lostDroneRtl } from './lost-drone-rtl.js';

// The tests run at once (describe.concurrent; vitest's maxConcurrency, 5): each waits on its own
// vehicle's simulated flight and little on the CPU, on its own rig (testRig), whose clock stops when
// that test ends.

const survey: Task = { type: 'waypoints', mission: 'm1', waypoints: [{ n: 0, e: 400 }, { n: 300, e: 400 }], altDm: 200, speedDmps: 80, then: 'return' };

async function takenRig(onTestFinished: TestContext['onTestFinished']) {
  const rig = await testRig(onTestFinished);
  return { ...rig, actions: recordActions(rig.devices.flight) };
}

/** The survey flown until the drone is up and on its way, then a pilot's switch to `mode` (a manual
 *  one unless said); once the task has failed for it. */
async function pilotTakesOverMidLeg({ expect, onTestFinished }: TestContext, mode: FlightMode = 'manual') {
  const rig = await takenRig(onTestFinished);
  rig.ex.run('m1', survey);
  expect(await until(() => rig.vehicle.state().upM > 15 && rig.actions.includes('goto'), 20_000)).toBe(true);
  await new Promise((r) => setTimeout(r, 100)); // the executor has seen its goto's mode
  rig.vehicle.setMode(mode);
  expect(await until(() => rig.reports.some((r) => r.stage === 'failed'), 5_000)).toBe(true);
  return rig;
}

describe.concurrent('a vehicle taken out of the executor’s hands', () => {
  it("by the flight controller's own return mid-leg: the task fails naming it, and no goto, reflex release or re-plan takes the vehicle back; a new task does", async ({ expect, onTestFinished }) => {
    const { vehicle, ex, reports, actions, logs } = await takenRig(onTestFinished);
    ex.run('m1', survey);
    expect(await until(() => vehicle.state().upM > 15 && Math.hypot(vehicle.state().northM, vehicle.state().eastM) > 20, 20_000)).toBe(true);
    expect(actions).toContain('goto');
    expect(ex.handedOverBecause()).toBeNull();
    expect(vehicle.returnToLaunch().ok).toBe(true); // the FC's battery failsafe, say
    expect(await until(() => reports.some((r) => r.stage === 'failed'), 5_000)).toBe(true);
    expect(reports.find((r) => r.stage === 'failed')?.reason).toMatch(/left the executor's control: mode return/);
    expect(ex.handedOverBecause()).toMatch(/^the flight controller left the executor's control: mode return/); // in the device's status
    expect(ex.handedOverFrom()).toBe('m1'); // in its telemetry: the swarm may hand its part on
    expect(logs.some((l) => l.includes("left the executor's control"))).toBe(true);
    const after = actions.length;
    ex.resumeAfterReflex(); // a reflex's hold released
    ex.run('m1', { ...survey, replan: true }); // a committed hazard re-planned the mission
    await new Promise((r) => setTimeout(r, 800)); // 16 s of the vehicle's flight
    expect(actions.slice(after)).toEqual([]);
    expect(vehicle.state().mode).toBe('return');
    // The swarm's next task for this drone is flown.
    ex.run('g1', { type: 'waypoints', mission: 'g1', waypoints: [{ n: 0, e: 50 }], altDm: 200, speedDmps: 80, then: 'hold' });
    expect(await until(() => actions.slice(after).includes('goto'), 5_000)).toBe(true);
    expect(ex.handedOverBecause()).toBeNull();
    expect(ex.handedOverFrom()).toBeNull();
    expect(await until(() => reports.some((r) => r.command === 'g1' && r.stage === 'done'), 20_000)).toBe(true);
    ex.stop();
  }, 60_000);

  it('by a pilot switching to a manual mode: the task fails, naming the pilot, with no command after', async (t) => {
    const { expect } = t;
    const { ex, reports, actions } = await pilotTakesOverMidLeg(t);
    expect(reports.find((r) => r.stage === 'failed')?.reason).toMatch(/a pilot took it/);
    const after = actions.length;
    await new Promise((r) => setTimeout(r, 500));
    expect(actions.slice(after)).toEqual([]);
    ex.stop();
  }, 60_000);

  it('a new task while the pilot still flies it: the task fails, and the handover is from the new task\'s mission (what its telemetry names)', async (t) => {
    const { expect } = t;
    const { ex, reports, actions, vehicle } = await pilotTakesOverMidLeg(t);
    expect(ex.handedOverFrom()).toBe('m1');
    const after = actions.length;
    ex.run('g1', { type: 'waypoints', mission: 'g1', waypoints: [{ n: 0, e: 50 }], altDm: 200, speedDmps: 80, then: 'hold' });
    expect(await until(() => reports.some((r) => r.command === 'g1' && r.stage === 'failed'), 5_000)).toBe(true);
    expect(reports.find((r) => r.command === 'g1' && r.stage === 'failed')?.reason).toMatch(/^a pilot flies the vehicle/);
    expect(ex.handedOverBecause()).toMatch(/^a pilot flies the vehicle/);
    // Before, it still named m1, the mission of the earlier handover: g1's drone never said it was
    // handed over from g1, so the swarm kept g1's part waiting for it.
    expect(ex.handedOverFrom()).toBe('g1');
    expect(actions.slice(after)).toEqual([]);
    expect(vehicle.state().mode).toBe('manual');
    ex.stop();
  }, 60_000);

  // Before, any mode but a manual one, the FC's mission, a return or a landing counted as the executor's:
  // a pilot's ArduCopter LOITER (a hold the pilot flies with the sticks) or a mode Murmur does not name
  // went unseen, and the next goto took the vehicle back (runtime/device/own-modes.ts).
  for (const [what, mode] of [["a hold of someone else's (ArduCopter's LOITER, which a pilot flies with the sticks)", 'hold'], ['a mode Murmur does not name (FOLLOW, ZIGZAG, a flight termination)', 'unknown']] as const) {
    it(`by a switch to ${what} while it flies a goto: the task fails naming the mode, with no command after`, async (t) => {
      const { expect } = t;
      const { ex, reports, actions, vehicle } = await pilotTakesOverMidLeg(t, mode);
      expect(reports.find((r) => r.stage === 'failed')?.reason).toMatch(new RegExp(`left the executor's control: mode ${mode}, not the executor's`));
      const after = actions.length;
      ex.reflexAction({ type: 'velocity', northMps: 1, eastMps: 0, downMps: 0 }); // a reflex's back-off
      await new Promise((r) => setTimeout(r, 500));
      expect(actions.slice(after)).toEqual([]);
      expect(vehicle.state().mode).toBe(mode);
      ex.stop();
    }, 60_000);
  }

  it("the reflexes' actions are not sent to it either (a link-loss hold in the middle of the FC's return, a back-off from the pilot), and the log says so once", async ({ expect, onTestFinished }) => {
    const { vehicle, ex, actions, logs } = await takenRig(onTestFinished);
    ex.run('m1', survey);
    expect(await until(() => vehicle.state().upM > 15 && actions.includes('goto'), 20_000)).toBe(true);
    expect(vehicle.returnToLaunch().ok).toBe(true); // the FC's own failsafe
    expect(await until(() => logs.some((l) => l.includes("left the executor's control")), 5_000)).toBe(true);
    const after = actions.length;
    ex.reflexAction({ type: 'hold' }); // link loss
    ex.reflexAction({ type: 'velocity', northMps: 1, eastMps: 0, downMps: 0 }); // an obstacle
    ex.returnHome('battery reserve');
    ex.landHere('battery critical');
    await new Promise((r) => setTimeout(r, 300));
    expect(actions.slice(after)).toEqual([]); // before: hold, velocity, the way home, land
    expect(vehicle.state().mode).toBe('return');
    expect(logs.filter((l) => l.includes('not sent: a pilot or the flight controller'))).toHaveLength(1);
    // A new task gives the vehicle back: the reflexes act again.
    ex.run('g1', { type: 'waypoints', mission: 'g1', waypoints: [{ n: 0, e: 50 }], altDm: 200, speedDmps: 80, then: 'hold' });
    ex.reflexAction({ type: 'hold' });
    expect(await until(() => actions.slice(after).includes('hold'), 5_000)).toBe(true);
    ex.stop();
  }, 60_000);

  it("the mission's hold and resume are not carried out on it (a hold would switch the FC out of the pilot's mode)", async (t) => {
    const { expect } = t;
    const { vehicle, ex, reports, actions } = await pilotTakesOverMidLeg(t);
    const after = actions.length;
    ex.run('h1', { type: 'hold', mission: 'm1' });
    ex.run('r1', { type: 'resume', mission: 'm1' });
    await new Promise((r) => setTimeout(r, 300));
    expect(actions.slice(after)).toEqual([]); // before: a hold, and the FC out of the pilot's manual mode
    expect(vehicle.state().mode).toBe('manual');
    for (const c of ['h1', 'r1']) expect(reports.find((r) => r.command === c && r.stage === 'failed')?.reason, c).toMatch(/not in this device's hands/);
    ex.stop();
  }, 60_000);

  it("under the mission's hold, after a re-plan: the FC's own landing is noticed, and the resume does not fly it on", async ({ expect, onTestFinished }) => {
    const { vehicle, ex, reports, actions } = await takenRig(onTestFinished);
    ex.run('m1', survey);
    expect(await until(() => vehicle.state().upM > 15 && actions.includes('goto'), 20_000)).toBe(true);
    ex.run('h1', { type: 'hold', mission: 'm1' });
    expect(await until(() => vehicle.state().mode === 'hold', 5_000)).toBe(true);
    ex.run('m1', { ...survey, replan: true }); // a hazard committed meanwhile
    await new Promise((r) => setTimeout(r, 200));
    expect(vehicle.land().ok).toBe(true); // the FC's battery failsafe, say
    expect(await until(() => reports.some((r) => r.command === 'm1' && r.stage === 'failed'), 5_000)).toBe(true);
    expect(reports.find((r) => r.command === 'm1' && r.stage === 'failed')?.reason).toMatch(/mode land/);
    const after = actions.length;
    ex.run('r1', { type: 'resume', mission: 'm1' });
    await new Promise((r) => setTimeout(r, 300));
    expect(actions.slice(after)).toEqual([]); // before: arm, take off and the route again, out of the FC's landing
    expect(vehicle.state().mode).toBe('land');
    ex.stop();
  }, 60_000);

  it('on its way home round a keep-out: no return of its own after a pilot takes it', async ({ expect, onTestFinished }) => {
    const { vehicle, ex, reports, actions } = await takenRig(onTestFinished);
    ex.run('m1', { ...survey, waypoints: [{ n: 0, e: 600 }], then: 'hold' });
    expect(await until(() => reports.some((r) => r.stage === 'done'), 30_000)).toBe(true);
    // A committed keep-out of 15 m on the straight line home, and a committed rtl.
    ex.keepFence(null, 1200, [{ n: 0, e: 300, r: 150 }]);
    const after = actions.length;
    ex.run('rtl1', { type: 'rtl' });
    expect(await until(() => actions.slice(after).includes('goto'), 5_000)).toBe(true); // round the keep-out
    vehicle.setMode('manual');
    expect(await until(() => reports.some((r) => r.command === 'rtl1' && r.stage === 'failed'), 10_000)).toBe(true);
    expect(reports.find((r) => r.command === 'rtl1' && r.stage === 'failed')?.reason).toMatch(/a pilot took it/);
    await new Promise((r) => setTimeout(r, 300));
    expect(actions.slice(after)).not.toContain('return-to-launch'); // before: the FC's return, from the pilot
    expect(vehicle.state().mode).toBe('manual');
    ex.stop();
  }, 60_000);

  it("by a failsafe the FC announces whose action is a hold (the mode alone looks like the executor's own)", async ({ expect, onTestFinished }) => {
    const { vehicle, devices, ex, reports, actions } = await takenRig(onTestFinished);
    ex.run('m1', survey);
    expect(await until(() => vehicle.state().upM > 15 && actions.includes('goto'), 20_000)).toBe(true);
    devices.flight.markFailsafe(); // as the MAVLink driver does on a "failsafe" STATUSTEXT
    expect(vehicle.hold().ok).toBe(true);
    expect(await until(() => reports.some((r) => r.stage === 'failed'), 5_000)).toBe(true);
    expect(reports.find((r) => r.stage === 'failed')?.reason).toMatch(/its own failsafe \(mode hold\)/);
    const after = actions.length;
    await new Promise((r) => setTimeout(r, 500));
    expect(actions.slice(after)).toEqual([]);
    ex.stop();
  }, 60_000);

  it('a failsafe flag left from before the task does not count: the task is flown', async ({ expect, onTestFinished }) => {
    const { devices, ex, reports } = await takenRig(onTestFinished);
    expect((await devices.flight.execute({ type: 'arm' })).ok).toBe(true);
    expect((await devices.flight.execute({ type: 'takeoff', relAltM: 25 })).ok).toBe(true);
    // An old failsafe, announced before the task (the next accepted action clears it); the task first
    // waits out the take-off under way, polling the flag all along.
    devices.flight.markFailsafe();
    ex.run('m1', { ...survey, waypoints: [{ n: 0, e: 40 }], then: 'hold' });
    expect(await until(() => reports.some((r) => r.stage === 'done' || r.stage === 'failed'), 30_000)).toBe(true);
    expect(reports.map((r) => `${r.stage} ${r.reason}`).join('; ')).toContain('done ');
    ex.stop();
  }, 60_000);

  it('a task given while a pilot flies the vehicle (a device restarted meanwhile) is not flown', async ({ expect, onTestFinished }) => {
    const { vehicle, devices, ex, reports, actions } = await takenRig(onTestFinished);
    expect((await devices.flight.execute({ type: 'arm' })).ok).toBe(true);
    expect((await devices.flight.execute({ type: 'takeoff', relAltM: 10 })).ok).toBe(true);
    expect(await until(() => vehicle.state().upM > 9 && vehicle.state().landed === 'in-air', 15_000)).toBe(true);
    vehicle.setMode('manual');
    const before = actions.length;
    ex.run('m1', survey);
    expect(await until(() => reports.some((r) => r.stage === 'failed'), 5_000)).toBe(true);
    expect(reports.find((r) => r.stage === 'failed')?.reason).toMatch(/a pilot flies the vehicle/);
    expect(actions.slice(before)).toEqual([]);
    ex.stop();
  }, 30_000);

  it('a task given while its own take-off is still climbing does not arm or take off again', async ({ expect, onTestFinished }) => {
    const { vehicle, devices, ex, reports, actions } = await takenRig(onTestFinished);
    expect((await devices.flight.execute({ type: 'arm' })).ok).toBe(true);
    expect((await devices.flight.execute({ type: 'takeoff', relAltM: 30 })).ok).toBe(true);
    expect(await until(() => devices.flight.state().ok && (devices.flight.state() as { value: { landed: string } }).value.landed === 'taking-off', 5_000)).toBe(true);
    const before = actions.length;
    ex.run('m1', { ...survey, waypoints: [{ n: 0, e: 40 }], then: 'hold' });
    expect(await until(() => reports.some((r) => r.stage === 'done' || r.stage === 'failed'), 30_000)).toBe(true);
    expect(reports.map((r) => `${r.stage} ${r.reason}`).join('; ')).toContain('done ');
    expect(actions.slice(before).filter((a) => a === 'arm' || a === 'takeoff')).toEqual([]);
    expect(vehicle.state().armed).toBe(true);
    ex.stop();
  }, 60_000);

  it("its own return is not taken for the flight controller's: a survey flown to its end goes home on the executor's return", async ({ expect, onTestFinished }) => {
    const { vehicle, ex, reports, actions } = await takenRig(onTestFinished);
    ex.run('m1', { ...survey, waypoints: [{ n: 0, e: 60 }] });
    expect(await until(() => reports.some((r) => r.stage === 'done' || r.stage === 'failed'), 20_000)).toBe(true);
    expect(reports.map((r) => r.stage)).toContain('done');
    expect(await until(() => actions.includes('return-to-launch'), 5_000)).toBe(true);
    expect(await until(() => !vehicle.state().armed, 30_000)).toBe(true);
    expect(reports.filter((r) => r.stage === 'failed')).toEqual([]);
    ex.stop();
  }, 60_000);
});

describe('a vehicle taken after its task is done (hovering where the task left it)', () => {
  it("a pilot's switch is seen when a reflex acts: its hold or back-off is not sent, which would switch the FC out of the pilot's mode", async ({ expect, onTestFinished }) => {
    const { vehicle, ex, reports, actions, logs } = await takenRig(onTestFinished);
    ex.run('g1', { type: 'waypoints', mission: 'g1', waypoints: [{ n: 0, e: 50 }], altDm: 200, speedDmps: 80, then: 'hold' });
    expect(await until(() => reports.some((r) => r.stage === 'done'), 20_000)).toBe(true);
    vehicle.setMode('manual');
    const after = actions.length;
    ex.reflexAction({ type: 'velocity', northMps: -1, eastMps: 0, downMps: 0 }); // an obstacle near the pilot's flight
    ex.reflexAction({ type: 'hold' }); // link loss
    await new Promise((r) => setTimeout(r, 300));
    expect(actions.slice(after)).toEqual([]); // before: velocity, hold
    expect(vehicle.state().mode).toBe('manual'); // before: hold
    expect(logs.filter((l) => l.includes("left the executor's control: a pilot took it"))).toHaveLength(1);
    ex.stop();
  }, 60_000);

  it("on its own way home (a committed rtl), a pilot's switch is seen: no reflex's hold, and its release does not send it home again", async ({ expect, onTestFinished }) => {
    const { vehicle, ex, reports, actions, logs } = await takenRig(onTestFinished);
    ex.run('g1', { type: 'waypoints', mission: 'g1', waypoints: [{ n: 0, e: 300 }], altDm: 200, speedDmps: 80, then: 'hold' });
    expect(await until(() => reports.some((r) => r.stage === 'done'), 20_000)).toBe(true);
    ex.run('rtl1', { type: 'rtl' });
    expect(await until(() => reports.some((r) => r.command === 'rtl1' && r.stage === 'done') && vehicle.state().mode === 'return', 5_000)).toBe(true);
    await new Promise((r) => setTimeout(r, 200)); // 4 s of the return
    vehicle.setMode('manual'); // a safety pilot lands it
    await new Promise((r) => setTimeout(r, 200));
    const after = actions.length;
    ex.reflexAction({ type: 'hold' }); // link loss
    ex.resumeAfterReflex();
    await new Promise((r) => setTimeout(r, 300));
    expect(actions.slice(after)).toEqual([]); // before: hold, then return-to-launch
    expect(vehicle.state().mode).toBe('manual');
    expect(logs.filter((l) => l.includes("left the executor's control: a pilot took it"))).toHaveLength(1);
    ex.stop();
  }, 60_000);

  it("its own return and landing run to the ground with no takeover read", async ({ expect, onTestFinished }) => {
    const { vehicle, ex, reports, logs } = await takenRig(onTestFinished);
    ex.run('g1', { type: 'waypoints', mission: 'g1', waypoints: [{ n: 0, e: 100 }], altDm: 200, speedDmps: 80, then: 'return' });
    expect(await until(() => reports.some((r) => r.stage === 'done') && !vehicle.state().armed, 40_000)).toBe(true);
    ex.run('g2', { type: 'waypoints', mission: 'g2', waypoints: [{ n: 0, e: 40 }], altDm: 200, speedDmps: 80, then: 'hold' });
    expect(await until(() => reports.some((r) => r.command === 'g2' && r.stage === 'done'), 30_000)).toBe(true);
    ex.run('l1', { type: 'land' });
    expect(await until(() => !vehicle.state().armed, 30_000)).toBe(true);
    expect(logs.filter((l) => l.includes("left the executor's control"))).toEqual([]);
    expect(reports.filter((r) => r.stage === 'failed')).toEqual([]);
    ex.stop();
  }, 90_000);

  it("its own landing (a committed land) is not read so: a reflex's hold is still sent", async ({ expect, onTestFinished }) => {
    const { vehicle, ex, reports, actions, logs } = await takenRig(onTestFinished);
    ex.run('g1', { type: 'waypoints', mission: 'g1', waypoints: [{ n: 0, e: 50 }], altDm: 200, speedDmps: 80, then: 'hold' });
    expect(await until(() => reports.some((r) => r.stage === 'done'), 20_000)).toBe(true);
    ex.run('l1', { type: 'land' });
    expect(await until(() => vehicle.state().mode === 'land', 5_000)).toBe(true);
    ex.reflexAction({ type: 'hold' });
    expect(await until(() => actions.filter((a) => a === 'hold').length === 1, 5_000)).toBe(true);
    expect(logs.filter((l) => l.includes("left the executor's control"))).toEqual([]);
    ex.stop();
  }, 60_000);
});

// The swarm's automatic tasks (TaskOrigin automatic: the mission machine's own, here its rtl for a drone
// lost from its mission with the battery below the reserve, under reassignHandedOver 0) are not carried
// out on a vehicle someone else has: each would switch the FC out of the pilot's mode. An operator's
// command is, and says whose vehicle it took back.
describe.concurrent("the swarm's automatic tasks for a vehicle a pilot has", () => {
  const notCarriedOut = /^not carried out: the flight controller left the executor's control: a pilot took it \(a manual mode\); the swarm's automatic rtl does not take the vehicle back \(an operator's command does\)$/;

  it("taken mid-leg: the machine's rtl and a state sync's catch-up send nothing; the operator's rtl takes it back", async (t) => {
    const { expect } = t;
    const { ex, reports, actions, vehicle, logs } = await pilotTakesOverMidLeg(t);
    const rtl = lostDroneRtl('d1', 'm1');
    expect(rtl).toMatchObject({ command: 'm1', task: { type: 'rtl' }, origin: 'automatic' });
    const after = actions.length;
    ex.run(rtl.command, rtl.task, null, rtl.origin);
    ex.carryOut('rtl'); // a state sync past a committed rtl of it: whose, the state does not say
    await new Promise((r) => setTimeout(r, 500)); // 10 s of the pilot's flight
    expect(actions.slice(after)).toEqual([]); // before: return-to-launch, twice
    expect(vehicle.state().mode).toBe('manual');
    expect(reports.filter((r) => r.stage === 'failed').map((r) => r.reason)).toEqual([expect.stringMatching(/a pilot took it/), expect.stringMatching(notCarriedOut)]);
    expect(logs.filter((l) => l.startsWith('committed rtl not carried out'))).toHaveLength(1);
    expect(ex.handedOverFrom()).toBe('m1');
    // The operator's rtl of it: the FC's return, and the started ack says whose vehicle it was.
    ex.run('ops/09', { type: 'rtl' });
    expect(await until(() => actions.slice(after).includes('return-to-launch') && vehicle.state().mode === 'return', 5_000)).toBe(true);
    expect(reports.find((r) => r.command === 'ops/09' && r.stage === 'started')?.reason).toMatch(/^taken back by an operator's command \(the vehicle was out of this device's hands: .*a pilot took it/);
    expect(ex.handedOverBecause()).toBeNull();
    ex.stop();
  }, 60_000);

  it("taken where its finished task left it hovering (not handed over yet): the machine's rtl sees the pilot and sends nothing; the operator's land takes it back", async ({ expect, onTestFinished }) => {
    const { vehicle, ex, reports, actions } = await takenRig(onTestFinished);
    ex.run('m1', { type: 'waypoints', mission: 'm1', waypoints: [{ n: 0, e: 50 }], altDm: 200, speedDmps: 80, then: 'hold' });
    expect(await until(() => reports.some((r) => r.stage === 'done'), 20_000)).toBe(true);
    vehicle.setMode('manual');
    await new Promise((r) => setTimeout(r, 100));
    expect(ex.handedOverBecause()).toBeNull(); // nothing of the executor's runs to notice
    const after = actions.length;
    const rtl = lostDroneRtl('d1', 'm1');
    ex.run(rtl.command, rtl.task, null, rtl.origin);
    await new Promise((r) => setTimeout(r, 500));
    expect(actions.slice(after)).toEqual([]); // before: return-to-launch
    expect(vehicle.state().mode).toBe('manual');
    expect(reports.filter((r) => r.stage === 'failed').map((r) => r.reason)).toEqual([expect.stringMatching(notCarriedOut)]);
    expect(ex.handedOverBecause()).toMatch(/a pilot took it/);
    ex.run('ops/10', { type: 'land' });
    expect(await until(() => actions.slice(after).includes('land') && vehicle.state().mode === 'land', 5_000)).toBe(true);
    expect(reports.find((r) => r.command === 'ops/10' && r.stage === 'started')?.reason).toMatch(/^taken back by an operator's command/);
    ex.stop();
  }, 60_000);
});
