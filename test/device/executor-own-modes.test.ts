// The executor tells its own flight mode from a pilot's by what each action it sends leaves the flight
// controller in (FlightControl.modesAfter, runtime/device/own-modes.ts), per autopilot: ArduCopter flies
// a goto (MAV_CMD_DO_REPOSITION) in GUIDED, so a pilot's switch to LOITER is someone else's; PX4 flies
// it in Hold (AUTO.LOITER), so Hold is its own there and a whole route is flown without a takeover read.
// The executor flies the simulated FC of each autopilot through the MAVLink HAL drivers, joined in memory;
// the test switches the FC's mode as a pilot's RC switch would.

import { describe, expect, it, vi, type TestContext } from 'vitest';
import type { AutopilotFamily } from '../../firmware-bridge/mavlink/modes.js';
import { mavCmd } from '../../firmware-bridge/mavlink/vehicle.js';
import type { ExecutorOptions } from '../../runtime/device/executor.js';
import { frameMsgid, inMemoryFc, longCommand, mavlinkExecutor, waitFor } from '../bridge/companion.js';

// Vitest runs at most 5 of a file's concurrent tests at a time (maxConcurrency). These 10 wait on a
// simulated flight at 4x the wall clock and on the executor's wall-clock timers, at little CPU (about
// 8 s user for the whole file): they all start at once.
vi.setConfig({ maxConcurrency: 10 });

const commandInt = 75; // COMMAND_INT: the goto's MAV_CMD_DO_REPOSITION

/** A vehicle on its own simulated FC in memory, with an executor on it. Each test has its own, so the
 *  tests run at once (describe.concurrent); each stops what it made at its end, passed or failed. */
async function flying(t: TestContext, family: AutopilotFamily, options: ExecutorOptions = {}) {
  const cleanup: Array<() => Promise<void> | void> = [];
  t.onTestFinished(async () => {
    for (const f of cleanup.splice(0).reverse()) await f();
  });
  const sent: string[] = [];
  const rig = inMemoryFc({
    fc: { family, speedFactor: 4 },
    fromCompanion: (f, pass) => {
      const long = longCommand(f);
      if (long === mavCmd.doSetMode) sent.push('set-mode');
      else if (frameMsgid(f) === commandInt) sent.push('goto');
      pass(f);
    },
  });
  cleanup.push(rig.stop);
  return { rig, sent, ...(await mavlinkExecutor(rig, cleanup, options)) };
}

describe.concurrent('the executor on a MAVLink flight controller, and modes that are not its own', () => {
  it("ArduPilot: a pilot's switch to LOITER mid-leg takes the vehicle; the task fails naming it, and no goto or mode change follows", async (t) => {
    const { rig, ex, reports, sent } = await flying(t, 'ardupilot');
    ex.run('m1', { type: 'waypoints', mission: 'm1', waypoints: [{ n: 0, e: 1500 }, { n: 600, e: 1500 }], altDm: 100, speedDmps: 80, then: 'hold' });
    await waitFor('on its way, in GUIDED', () => rig.fc.vehicle.state().mode === 'guided' && rig.fc.vehicle.state().upM > 9 && sent.includes('goto'), 30_000);
    await new Promise((r) => setTimeout(r, 500)); // a HEARTBEAT (every 200 ms) showed GUIDED
    rig.fc.vehicle.setMode('hold'); // LOITER from the pilot's RC switch
    await waitFor('the task failed', () => reports.some((r) => r.stage === 'failed'), 5_000);
    expect(reports.find((r) => r.stage === 'failed')?.reason).toMatch(/left the executor's control: mode hold, not the executor's/);
    const after = sent.length;
    ex.resumeAfterReflex(); // a reflex's release would fly it on
    await new Promise((r) => setTimeout(r, 1_000));
    expect(sent.slice(after)).toEqual([]); // before: a goto, which switched the FC back to GUIDED
    expect(rig.fc.vehicle.state().mode).toBe('hold');
  }, 60_000);

  it('PX4: a route flown on gotos in Hold (as PX4 flies a reposition) is done with no takeover read; a switch to Position mode is one', async (t) => {
    const { rig, ex, reports, logs, sent } = await flying(t, 'px4');
    ex.run('m1', { type: 'waypoints', mission: 'm1', waypoints: [{ n: 0, e: 200 }, { n: 200, e: 200 }], altDm: 100, speedDmps: 80, then: 'hold' });
    await waitFor('the task done or failed', () => reports.some((r) => r.stage === 'done' || r.stage === 'failed'), 40_000);
    expect(reports.filter((r) => r.stage === 'failed')).toEqual([]);
    expect(sent.filter((s) => s === 'goto').length).toBeGreaterThanOrEqual(2);
    expect(rig.fc.vehicle.state().mode).toBe('hold');
    expect(logs.filter((l) => l.includes("left the executor's control"))).toEqual([]);
    ex.run('m2', { type: 'waypoints', mission: 'm2', waypoints: [{ n: 0, e: 1500 }], altDm: 100, speedDmps: 80, then: 'hold' });
    await waitFor('on its way to m2', () => sent.filter((s) => s === 'goto').length >= 3 && Math.hypot(rig.fc.vehicle.state().northM - 20, rig.fc.vehicle.state().eastM - 20) > 5, 20_000);
    await new Promise((r) => setTimeout(r, 500));
    rig.fc.vehicle.setMode('manual'); // POSCTL from the pilot's RC switch
    await waitFor('m2 failed', () => reports.some((r) => r.command === 'm2' && r.stage === 'failed'), 5_000);
    expect(reports.find((r) => r.command === 'm2' && r.stage === 'failed')?.reason).toMatch(/a pilot took it/);
  }, 60_000);

  // PX4 flies a goto in Hold, so a pilot's Hold (the RC switch, QGroundControl's Pause) shows no new
  // mode: only that the vehicle stops short of where the goto sent it and stays. Before, the executor
  // waited for it to arrive for 10 minutes, and any re-plan's goto took it back from the pilot.
  it("PX4: a pilot's Hold mid-leg stops the vehicle short; the task fails naming it once it has not moved for the stall time, and nothing flies it on", async (t) => {
    const { rig, ex, reports, sent } = await flying(t, 'px4', { stallMs: 2_000 });
    ex.run('m1', { type: 'waypoints', mission: 'm1', waypoints: [{ n: 0, e: 1500 }, { n: 600, e: 1500 }], altDm: 100, speedDmps: 80, then: 'hold' });
    await waitFor('on its way', () => sent.includes('goto') && rig.fc.vehicle.state().eastM > 40, 30_000);
    rig.fc.vehicle.hold(); // Hold from the pilot: it stops where it is, in the mode PX4 flies the goto in
    const stoppedAt = Date.now();
    await waitFor('the task failed', () => reports.some((r) => r.stage === 'failed'), 10_000);
    expect(Date.now() - stoppedAt).toBeGreaterThanOrEqual(2_000);
    expect(reports.find((r) => r.stage === 'failed')?.reason).toMatch(/stopped in hold short of waypoint 1 and has not moved for 2 s: a pilot's hold/);
    const after = sent.length;
    const eastM = rig.fc.vehicle.state().eastM;
    ex.resumeAfterReflex(); // a reflex's release would fly it on
    ex.run('m1-replan', { type: 'waypoints', mission: 'm1', waypoints: [{ n: 0, e: 1400 }, { n: 600, e: 1400 }], altDm: 100, speedDmps: 80, then: 'hold', replan: true });
    await new Promise((r) => setTimeout(r, 1_000));
    expect(sent.slice(after)).toEqual([]);
    expect(Math.abs(rig.fc.vehicle.state().eastM - eastM)).toBeLessThan(1);
  }, 60_000);

  // The device's position here is the FC's own estimate (GLOBAL_POSITION_INT), which a goto stops by
  // within the 3 m arrival tolerance: a stop 6 m short is no arrival by the vehicle's own reckoning (that
  // 10 m rule is for a receiver of the device's own, hal.gnss). Before, it read as one after 5 s and the
  // route flew on to waypoint 2, taking the vehicle back from the pilot.
  it("PX4: a pilot's Hold 6 m short of the waypoint is a stop short, not an arrival: the task fails at the stall time and nothing flies on", async (t) => {
    const { rig, ex, reports, logs, sent } = await flying(t, 'px4', { stallMs: 7_000 });
    ex.run('m1', { type: 'waypoints', mission: 'm1', waypoints: [{ n: 0, e: 600 }, { n: 600, e: 600 }], altDm: 100, speedDmps: 80, then: 'hold' });
    await waitFor('on its way', () => sent.includes('goto') && rig.fc.vehicle.state().eastM > 20, 30_000);
    const up = rig.fc.vehicle.state().upM;
    rig.fc.vehicle.goto(0, 54, up, undefined, 'hold'); // the pilot's Hold, where PX4 settles it: 6 m short
    await waitFor('stopped 6 m short', () => Math.abs(rig.fc.vehicle.state().eastM - 54) < 0.5 && Math.hypot(...Object.values(rig.fc.vehicle.state().velocityNed)) < 0.2, 20_000);
    const gotos = sent.filter((x) => x === 'goto').length;
    await waitFor('the task failed', () => reports.some((r) => r.stage === 'failed'), 15_000);
    expect(reports.find((r) => r.stage === 'failed')?.reason).toMatch(/stopped in hold short of waypoint 1 and has not moved for 7 s: a pilot's hold/);
    expect(logs.filter((l) => l.includes("reached by the vehicle's own reckoning"))).toEqual([]);
    expect(sent.filter((x) => x === 'goto').length).toBe(gotos); // no goto to waypoint 2
    expect(Math.abs(rig.fc.vehicle.state().eastM - 54)).toBeLessThan(1);
  }, 60_000);

  it('ArduPilot: a vehicle its FC keeps short of the point in GUIDED (its own fence or avoidance) fails the task with why, instead of waiting 10 minutes', async (t) => {
    const { rig, ex, reports } = await flying(t, 'ardupilot', { stallMs: 2_000 });
    ex.run('m1', { type: 'waypoints', mission: 'm1', waypoints: [{ n: 0, e: 1500 }], altDm: 100, speedDmps: 80, then: 'hold' });
    await waitFor('on its way, in GUIDED', () => rig.fc.vehicle.state().mode === 'guided' && rig.fc.vehicle.state().eastM > 40, 30_000);
    const s = rig.fc.vehicle.state();
    rig.fc.vehicle.goto(s.northM, s.eastM, s.upM); // the FC's own stop, still in GUIDED
    await waitFor('the task failed', () => reports.some((r) => r.stage === 'failed'), 10_000);
    expect(reports.find((r) => r.stage === 'failed')?.reason).toMatch(/stopped short of waypoint 1 and has not moved for 2 s \(mode guided\)/);
  }, 60_000);

  it('a vehicle held by a reflex or a committed hold is not read as stalled', async (t) => {
    const { rig, ex, reports } = await flying(t, 'px4', { stallMs: 1_000 });
    ex.run('m1', { type: 'waypoints', mission: 'm1', waypoints: [{ n: 0, e: 600 }], altDm: 100, speedDmps: 80, then: 'hold' });
    await waitFor('on its way', () => rig.fc.vehicle.state().eastM > 25, 30_000);
    ex.reflexAction({ type: 'hold' }); // the obstacle reflex stops it
    await new Promise((r) => setTimeout(r, 2_000));
    ex.run('h', { type: 'hold', mission: 'm1' });
    await new Promise((r) => setTimeout(r, 2_000));
    expect(reports.filter((r) => r.stage === 'failed')).toEqual([]);
    ex.run('r', { type: 'resume', mission: 'm1' });
    await waitFor('m1 done', () => reports.some((r) => r.command === 'm1' && r.stage === 'done'), 30_000);
    expect(reports.filter((r) => r.stage === 'failed')).toEqual([]);
  }, 60_000);

  // The executor's hold puts ArduCopter in LOITER, which flies with a pilot's sticks: a pilot who takes
  // the drone there switches no mode. Before, the mission's resume sent a goto (GUIDED) and took the
  // drone back from the pilot.
  it("ArduPilot: a pilot flying the held drone off with the sticks (LOITER, no mode change) takes it; the mission's resume is not carried out", async (t) => {
    const { rig, ex, reports, sent } = await flying(t, 'ardupilot');
    ex.run('m1', { type: 'waypoints', mission: 'm1', waypoints: [{ n: 0, e: 1500 }], altDm: 100, speedDmps: 80, then: 'hold' });
    await waitFor('on its way, in GUIDED', () => rig.fc.vehicle.state().mode === 'guided' && rig.fc.vehicle.state().eastM > 40, 30_000);
    ex.run('h', { type: 'hold', mission: 'm1' });
    await waitFor('held in LOITER', () => rig.fc.vehicle.state().mode === 'hold', 5_000);
    // Braked to a stop (the simulated FC flies 4x the wall clock), then settled where it holds: the
    // executor anchors a held drone after 2 s within 3 m of one point.
    for (let i = 0, last = rig.fc.vehicle.state(); i < 20; i++) {
      await new Promise((r) => setTimeout(r, 500));
      const now = rig.fc.vehicle.state();
      if (Math.hypot(now.northM - last.northM, now.eastM - last.eastM) < 0.2) break;
      last = now;
    }
    await new Promise((r) => setTimeout(r, 3_000));
    expect(reports.filter((r) => r.stage === 'failed')).toEqual([]);
    const s = rig.fc.vehicle.state();
    rig.fc.vehicle.goto(s.northM + 30, s.eastM, s.upM, 5, 'hold'); // the pilot's sticks, still in LOITER
    await waitFor('m1 failed', () => reports.some((r) => r.command === 'm1' && r.stage === 'failed'), 15_000);
    expect(reports.find((r) => r.command === 'm1' && r.stage === 'failed')?.reason).toMatch(/moved \d+ m from where it held \(mode hold\): a pilot flies it/);
    const after = sent.length;
    ex.run('r', { type: 'resume', mission: 'm1' });
    await new Promise((r) => setTimeout(r, 1_000));
    expect(reports.find((r) => r.command === 'r' && r.stage === 'failed')?.reason).toMatch(/not carried out/);
    expect(sent.slice(after)).toEqual([]); // before: a goto, and the drone flew back to its route
  }, 60_000);

  // The same on the executor's own way home: a reflex's hold (a link lost a while) puts ArduCopter in
  // LOITER in the middle of its return, where a safety pilot takes the sticks. Before, nothing watched
  // the drone's motion there (only the mode), and the reflex's release sent it home again (RTL), taking
  // the drone back from the pilot.
  it("ArduPilot: a pilot flying the drone off with the sticks while a reflex holds it on its way home takes it; the reflex's release does not send it home again", async (t) => {
    const { rig, ex, logs, sent } = await flying(t, 'ardupilot');
    ex.run('m1', { type: 'waypoints', mission: 'm1', waypoints: [{ n: 0, e: 1500 }], altDm: 100, speedDmps: 80, then: 'hold' });
    await waitFor('on its way, in GUIDED', () => rig.fc.vehicle.state().mode === 'guided' && rig.fc.vehicle.state().eastM > 60, 30_000);
    ex.run('home', { type: 'rtl' });
    await waitFor('returning', () => rig.fc.vehicle.state().mode === 'return', 5_000);
    await new Promise((r) => setTimeout(r, 500));
    ex.reflexAction({ type: 'hold' }); // the link-loss reflex's hold
    await waitFor('held in LOITER', () => rig.fc.vehicle.state().mode === 'hold', 5_000);
    for (let i = 0, last = rig.fc.vehicle.state(); i < 20; i++) {
      await new Promise((r) => setTimeout(r, 500));
      const now = rig.fc.vehicle.state();
      if (Math.hypot(now.northM - last.northM, now.eastM - last.eastM, now.upM - last.upM) < 0.2) break;
      last = now;
    }
    await new Promise((r) => setTimeout(r, 3_000));
    expect(logs.filter((l) => /a pilot flies it/.test(l))).toEqual([]); // held still: no one's yet
    const s = rig.fc.vehicle.state();
    rig.fc.vehicle.goto(s.northM + 30, s.eastM, s.upM, 5, 'hold'); // the pilot's sticks, still in LOITER
    await waitFor('flown off by the pilot', () => Math.hypot(rig.fc.vehicle.state().northM - s.northM, rig.fc.vehicle.state().eastM - s.eastM) > 20, 15_000);
    await waitFor('the takeover seen', () => logs.some((l) => /moved \d+ m from where it held \(mode hold\): a pilot flies it/.test(l)), 15_000);
    expect(logs.filter((l) => /moved \d+ m from where it held/.test(l))).toHaveLength(1);
    const after = sent.length;
    ex.resumeAfterReflex(); // the link back: the reflex's release
    await new Promise((r) => setTimeout(r, 1_000));
    expect(sent.slice(after)).toEqual([]);
    expect(rig.fc.vehicle.state().mode).toBe('hold'); // before: 'return', and the drone flew home
  }, 60_000);

  // And where the drone holds before a leg with no way round a committed hazard (the task failed so,
  // the drone in LOITER until a re-plan gives the leg a way). Before, nothing watched it there: a pilot
  // who flew it off with the sticks had it taken back by the re-plan's goto (GUIDED).
  it("ArduPilot: a pilot flying the drone off with the sticks while it holds before a blocked leg takes it; the re-plan that clears the leg does not fly it on", async (t) => {
    const { rig, ex, reports, logs, sent } = await flying(t, 'ardupilot');
    const waypoints = [{ n: 0, e: 400 }, { n: 600, e: 400 }];
    ex.run('m1', { type: 'waypoints', mission: 'm1', waypoints, altDm: 100, speedDmps: 80, then: 'hold', blocked: [{ to: 1, reason: 'no way round h1 inside the geofence' }] });
    await waitFor('held before the blocked leg', () => reports.some((r) => r.stage === 'failed') && rig.fc.vehicle.state().mode === 'hold', 30_000);
    expect(reports.find((r) => r.stage === 'failed')?.reason).toMatch(/holding before that leg/);
    for (let i = 0, last = rig.fc.vehicle.state(); i < 20; i++) {
      await new Promise((r) => setTimeout(r, 500));
      const now = rig.fc.vehicle.state();
      if (Math.hypot(now.northM - last.northM, now.eastM - last.eastM, now.upM - last.upM) < 0.2) break;
      last = now;
    }
    await new Promise((r) => setTimeout(r, 3_000)); // settled where it holds
    expect(logs.filter((l) => /a pilot flies it/.test(l))).toEqual([]); // held still: no one's yet
    const s = rig.fc.vehicle.state();
    rig.fc.vehicle.goto(s.northM - 30, s.eastM, s.upM, 5, 'hold'); // the pilot's sticks, still in LOITER
    await waitFor('flown off by the pilot', () => Math.hypot(rig.fc.vehicle.state().northM - s.northM, rig.fc.vehicle.state().eastM - s.eastM) > 20, 15_000);
    await waitFor('the takeover seen', () => logs.some((l) => /moved \d+ m from where it held \(mode hold\): a pilot flies it/.test(l)), 15_000);
    expect(logs.filter((l) => /moved \d+ m from where it held/.test(l))).toHaveLength(1);
    const after = sent.length;
    ex.run('m1-replan', { type: 'waypoints', mission: 'm1', waypoints, altDm: 100, speedDmps: 80, then: 'hold', replan: true });
    await new Promise((r) => setTimeout(r, 1_000));
    expect(sent.slice(after)).toEqual([]); // before: a goto, and the drone flew back to its route
    expect(rig.fc.vehicle.state().mode).toBe('hold');
  }, 60_000);

  // PX4 ends its take-off in Hold (AUTO.LOITER), so Hold is the executor's own during one too, and a
  // pilot's Hold mid-climb shows no new mode: only the stop. Before, the take-off's wait did not count
  // a stop at all: the drone hovered short of the take-off altitude in the pilot's Hold while the task
  // waited 10 minutes for it, and a re-plan meanwhile would have flown it on from the pilot.
  it("PX4: a pilot's Hold during the take-off stops the climb; the task fails naming it once the vehicle has not moved for the stall time, and a re-plan does not fly it on", async (t) => {
    const { rig, ex, reports, sent } = await flying(t, 'px4', { stallMs: 2_000 });
    const waypoints = [{ n: 0, e: 600 }];
    ex.run('m1', { type: 'waypoints', mission: 'm1', waypoints, altDm: 400, speedDmps: 80, then: 'hold' });
    await waitFor('climbing in its take-off', () => rig.fc.vehicle.state().mode === 'takeoff' && rig.fc.vehicle.state().upM > 3, 30_000);
    rig.fc.vehicle.hold(); // Hold from the pilot: it stops where it is, in the mode PX4 ends a take-off in
    const heldUpM = rig.fc.vehicle.state().upM;
    expect(heldUpM).toBeLessThan(30);
    await waitFor('the task failed', () => reports.some((r) => r.stage === 'failed'), 10_000);
    expect(reports.find((r) => r.stage === 'failed')?.reason).toMatch(/stopped in hold short of take-off and has not moved for 2 s: a pilot's hold/);
    const after = sent.length;
    ex.run('m1-replan', { type: 'waypoints', mission: 'm1', waypoints, altDm: 400, speedDmps: 80, then: 'hold', replan: true });
    await new Promise((r) => setTimeout(r, 1_000));
    expect(sent.slice(after)).toEqual([]);
    expect(Math.abs(rig.fc.vehicle.state().upM - heldUpM)).toBeLessThan(3);
  }, 60_000);
});
