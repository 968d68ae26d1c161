// A device restarted while the swarm holds its mission finds its vehicle holding where its hold (sent
// before the restart) left it: Executor.adoptHold takes that hold up again, so a pilot who takes the
// drone meanwhile (ArduCopter's LOITER flies with the sticks, no mode change; or a switch to another
// mode) keeps it, and the mission's resume is not carried out. Before, nothing watched a restarted
// device's held vehicle and the resume flew the route from wherever the pilot had taken it.
// The simulated ArduPilot FC through the MAVLink HAL drivers, joined in memory; the "restart" is the
// executor made anew on the same vehicle, as a restarted device process makes it.

import { describe, expect, it, vi, type TestContext } from 'vitest';
import { Executor, type ExecReport } from '../../runtime/device/executor.js';
import { defaultSimConfig } from '../../hal/sim/sim-config.js';
import { frameMsgid, inMemoryFc, longCommand, mavlinkExecutor, waitFor } from '../bridge/companion.js';
import { mavCmd } from '../../firmware-bridge/mavlink/vehicle.js';

// Vitest runs at most 5 of a file's concurrent tests at a time (maxConcurrency). These 8 wait on a
// simulated flight at 4x the wall clock and on the executor's wall-clock timers, at little CPU (about 7 s
// user for the whole file): they all start at once.
vi.setConfig({ maxConcurrency: 8 });

const commandInt = 75; // COMMAND_INT: a goto's MAV_CMD_DO_REPOSITION

/** A vehicle flown out by one executor and held by the swarm's hold (LOITER), then that executor
 *  stopped and a new one made on the same drivers: the device restarted. Each test has its own
 *  simulated FC, so the tests run at once (describe.concurrent); each stops its own at its end. */
async function restartedWhileHeld(t: TestContext) {
  const cleanup: Array<() => Promise<void> | void> = [];
  t.onTestFinished(async () => {
    for (const f of cleanup.splice(0).reverse()) await f();
  });
  const sent: string[] = [];
  const fcSilent = { on: false };
  const rig = inMemoryFc({
    fc: { family: 'ardupilot', speedFactor: 4 },
    fromFc: (f, pass) => {
      if (!fcSilent.on) pass(f);
    },
    fromCompanion: (f, pass) => {
      if (longCommand(f) === mavCmd.doSetMode) sent.push('set-mode');
      else if (frameMsgid(f) === commandInt) sent.push('goto');
      pass(f);
    },
  });
  cleanup.push(rig.stop);
  const before = await mavlinkExecutor(rig, cleanup);
  before.ex.run('m1', { type: 'waypoints', mission: 'm1', waypoints: [{ n: 0, e: 1500 }], altDm: 100, speedDmps: 80, then: 'hold' });
  await waitFor('on its way, in GUIDED', () => rig.fc.vehicle.state().mode === 'guided' && rig.fc.vehicle.state().eastM > 40, 30_000);
  before.ex.run('h', { type: 'hold', mission: 'm1' });
  await waitFor('held in LOITER', () => rig.fc.vehicle.state().mode === 'hold', 5_000);
  before.ex.stop();
  const reports: ExecReport[] = [];
  const logs: string[] = [];
  const ex = new Executor(before.devices, defaultSimConfig.origin, (r) => reports.push(r), (m) => logs.push(m));
  cleanup.push(() => ex.stop());
  await new Promise((r) => setTimeout(r, 300)); // a HEARTBEAT (every 200 ms) after the restart
  return { rig, ex, reports, logs, sent, fcSilent };
}

/** The mission's resume on a vehicle handed over: refused ("not carried out"), and nothing sent to the FC. */
async function resumeRefused(o: { ex: Executor; reports: ExecReport[]; sent: string[] }): Promise<void> {
  const after = o.sent.length;
  o.ex.run('r', { type: 'resume', mission: 'm1' });
  await new Promise((r) => setTimeout(r, 500));
  expect(o.reports.find((r) => r.command === 'r' && r.stage === 'failed')?.reason).toMatch(/not carried out/);
  expect(o.sent.slice(after)).toEqual([]);
}

/** Waits until the vehicle has come to rest (the simulated FC flies 4x the wall clock). */
async function settled(state: () => { northM: number; eastM: number }): Promise<void> {
  for (let i = 0, last = state(); i < 20; i++) {
    await new Promise((r) => setTimeout(r, 500));
    const now = state();
    if (Math.hypot(now.northM - last.northM, now.eastM - last.eastM) < 0.2) return;
    last = now;
  }
  throw new Error('the vehicle did not come to rest within 10 s');
}

describe.concurrent('restarted while the swarm holds its mission', () => {
  it("ArduPilot: the hold is watched again; a pilot flying the drone off with the sticks takes it, and the mission's resume is not carried out", async (t) => {
    const { rig, ex, reports, sent } = await restartedWhileHeld(t);
    await settled(() => rig.fc.vehicle.state());
    expect(ex.adoptHold('m1', 250)).toMatch(/the vehicle holds \(mode hold\)/);
    await new Promise((r) => setTimeout(r, 3_000)); // settled where it holds: anchored
    expect(reports).toEqual([]);
    const s = rig.fc.vehicle.state();
    rig.fc.vehicle.goto(s.northM + 30, s.eastM, s.upM, 5, 'hold'); // the pilot's sticks, still in LOITER
    await waitFor('m1 failed', () => reports.some((r) => r.command === 'm1' && r.stage === 'failed'), 15_000);
    expect(reports.find((r) => r.command === 'm1')).toMatchObject({ stage: 'failed', progress: 250, reason: expect.stringMatching(/moved \d+ m from where it held \(mode hold\): a pilot flies it/) });
    expect(ex.handedOverBecause()).toMatch(/a pilot flies it/);
    await resumeRefused({ ex, reports, sent });
  }, 60_000);

  // The restarted executor holds no route of m1: a re-plan of m1 after the resume (a committed hazard,
  // a new fence, a lost drone's part) read as a first task for this drone. Before, it cleared the
  // handover and sent its goto, taking the drone back from the pilot in LOITER.
  it('ArduPilot: taken by a pilot with the sticks under the adopted hold, a re-plan of the mission after the resume sends nothing', async (t) => {
    const { rig, ex, reports, sent } = await restartedWhileHeld(t);
    await settled(() => rig.fc.vehicle.state());
    expect(ex.adoptHold('m1', 250)).toMatch(/the vehicle holds \(mode hold\)/);
    await new Promise((r) => setTimeout(r, 3_000)); // settled where it holds: anchored
    const s = rig.fc.vehicle.state();
    rig.fc.vehicle.goto(s.northM + 30, s.eastM, s.upM, 5, 'hold'); // the pilot's sticks, still in LOITER
    await waitFor('m1 failed', () => reports.some((r) => r.command === 'm1' && r.stage === 'failed'), 15_000);
    await resumeRefused({ ex, reports, sent });
    const after = sent.length;
    ex.run('m1', { type: 'waypoints', mission: 'm1', waypoints: [{ n: 0, e: 1400 }, { n: 0, e: 1500 }], altDm: 100, speedDmps: 80, then: 'hold', replan: true });
    await new Promise((r) => setTimeout(r, 1_500));
    expect(sent.slice(after)).toEqual([]); // before: a goto
    expect(ex.handedOverBecause()).toMatch(/a pilot flies it/);
    expect(rig.fc.vehicle.state().mode).toBe('hold');
  }, 60_000);

  it('ArduPilot: found in a mode the hold does not leave it in (a pilot switched it during the restart), it is handed over at once', async (t) => {
    const { rig, ex, reports, sent } = await restartedWhileHeld(t);
    rig.fc.vehicle.setMode('manual'); // the pilot's switch while the device was down
    await new Promise((r) => setTimeout(r, 500));
    expect(ex.adoptHold('m1', 0)).toMatch(/restarted with the vehicle in mode manual, not the hold the swarm committed/);
    expect(reports).toEqual([expect.objectContaining({ command: 'm1', stage: 'failed', reason: expect.stringMatching(/mode manual/) })]);
    // Taken up again (a state sync while running calls resumeOwnTask anew): still the pilot's, said
    // once. Before, a second failed report went out, and with the pilot back in a hold mode the log
    // said the hold was watched while nothing watched it.
    expect(ex.adoptHold('m1', 0)).toMatch(/already out of this device's hands/);
    rig.fc.vehicle.setMode('hold');
    await waitFor('LOITER heard', () => rig.vehicle.mode() === 'hold', 5_000);
    expect(ex.adoptHold('m1', 0)).toMatch(/already out of this device's hands/);
    expect(reports.filter((r) => r.stage === 'failed')).toHaveLength(1);
    await resumeRefused({ ex, reports, sent });
  }, 60_000);

  it('ArduPilot: a hold committed again after the hold was taken up keeps the watch: the sticks then still take it', async (t) => {
    const { rig, ex, reports, sent } = await restartedWhileHeld(t);
    await settled(() => rig.fc.vehicle.state());
    expect(ex.adoptHold('m1', 250)).toMatch(/the vehicle holds/);
    ex.run('h2', { type: 'hold', mission: 'm1' });
    await waitFor('h2 done', () => reports.some((r) => r.command === 'h2' && r.stage === 'done'), 5_000);
    await new Promise((r) => setTimeout(r, 3_000));
    expect(reports.filter((r) => r.stage === 'failed')).toEqual([]);
    const s = rig.fc.vehicle.state();
    rig.fc.vehicle.goto(s.northM + 30, s.eastM, s.upM, 5, 'hold'); // the pilot's sticks, in LOITER
    await waitFor('a failed report', () => reports.some((r) => r.stage === 'failed'), 15_000);
    expect(reports.find((r) => r.stage === 'failed')?.reason).toMatch(/moved \d+ m from where it held \(mode hold\): a pilot flies it/);
    await resumeRefused({ ex, reports, sent });
  }, 60_000);

  // Returning home when the device restarted: the FC's own failsafe, or this device's own (a reflex's
  // battery reserve or link loss return sent before the restart, which the agent re-asserts): not only
  // a pilot's or the FC's, as the reason said. The restart mid-mission says the same (mission-runner).
  it("ArduPilot: found returning home, it is handed over and the reason names this device's own failsafe from before the restart too", async (t) => {
    const { rig, ex, reports } = await restartedWhileHeld(t);
    rig.fc.vehicle.setMode('return');
    await waitFor('RTL heard', () => rig.vehicle.mode() === 'return', 5_000);
    const said = ex.adoptHold('m1', 0);
    expect(said).toMatch(/restarted with the vehicle in mode return, not the hold the swarm committed/);
    expect(said).toMatch(/a failsafe, of this device before it started or the flight controller's own/);
    expect(reports).toEqual([expect.objectContaining({ command: 'm1', stage: 'failed', reason: said })]);
  }, 60_000);

  // The runner waits up to 10 s for the FC's state, then calls adoptHold whatever it knows: a link to
  // the FC not back by then (a serial adapter that enumerates late, a radio link) left the hold
  // unwatched for good, and the log said the vehicle was not in the air. Now the hold is taken up once
  // the FC is heard.
  it('ArduPilot: with the FC not heard yet when the hold is taken up, it is taken up once the FC is heard: a pilot switching it then takes it', async (t) => {
    const { rig, ex, reports, logs, sent, fcSilent } = await restartedWhileHeld(t);
    await settled(() => rig.fc.vehicle.state());
    fcSilent.on = true; // the FC's link not back after the restart
    await waitFor("the FC's state stale", () => Date.now() - (rig.vehicle.telemetry.receivedAtMs['HEARTBEAT'] ?? 0) > 3_500, 10_000);
    const said = ex.adoptHold('m1', 250);
    expect(said).not.toMatch(/not in the air/);
    expect(said).toMatch(/state is not known/);
    fcSilent.on = false;
    await waitFor('the hold taken up', () => logs.some((l) => /the vehicle holds \(mode hold\)/.test(l)), 10_000);
    expect(reports).toEqual([]);
    rig.fc.vehicle.setMode('manual'); // the pilot's switch
    await waitFor('m1 failed', () => reports.some((r) => r.command === 'm1' && r.stage === 'failed'), 10_000);
    expect(reports.find((r) => r.command === 'm1')).toMatchObject({ stage: 'failed', progress: 250, reason: expect.stringMatching(/left the executor's control: a pilot took it \(a manual mode\)/) });
    await resumeRefused({ ex, reports, sent });
  }, 60_000);

  it('ArduPilot: with the FC not heard yet, a resume before it is heard ends the wait: nothing is adopted after it', async (t) => {
    const { rig, ex, logs, fcSilent } = await restartedWhileHeld(t);
    await settled(() => rig.fc.vehicle.state());
    fcSilent.on = true;
    await waitFor("the FC's state stale", () => Date.now() - (rig.vehicle.telemetry.receivedAtMs['HEARTBEAT'] ?? 0) > 3_500, 10_000);
    expect(ex.adoptHold('m1', 0)).toMatch(/state is not known/);
    ex.run('r', { type: 'resume', mission: 'm1' });
    fcSilent.on = false;
    await new Promise((r) => setTimeout(r, 1_500));
    expect(logs.filter((l) => /the vehicle holds/.test(l))).toEqual([]);
    expect(ex.handedOverBecause()).toBeNull();
  }, 60_000);

  it('ArduPilot: held and left alone, the resume flies it on', async (t) => {
    const { rig, ex, reports, sent } = await restartedWhileHeld(t);
    await settled(() => rig.fc.vehicle.state());
    expect(ex.adoptHold('m1', 0)).toMatch(/the vehicle holds/);
    await new Promise((r) => setTimeout(r, 3_000));
    expect(reports).toEqual([]);
    ex.run('r', { type: 'resume', mission: 'm1' });
    // The runner gives the restarted executor its route after the resume (resumeOwnTask).
    const after = sent.length;
    ex.run('m1', { type: 'waypoints', mission: 'm1', waypoints: [{ n: 0, e: 1500 }], altDm: 100, speedDmps: 80, then: 'hold' });
    await waitFor('a goto sent, and the vehicle on its way', () => sent.slice(after).includes('goto') && rig.fc.vehicle.state().mode === 'guided', 10_000);
    expect(reports.filter((r) => r.stage === 'failed')).toEqual([]);
    expect(ex.handedOverBecause()).toBeNull();
  }, 60_000);
});
