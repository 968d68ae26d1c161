// A device restarted while its mission is active (not held) that finds its drone on the ground. A
// companion computer that restarts leaves the flight controller flying its last goto (it holds there),
// so a drone on the ground after it flew for the mission was landed while the device was down: a pilot,
// the FC's own failsafe (battery, RC, GCS), a crash. It must not take off on its own: it is handed
// over, its task fails with the reason, and a new task for the drone flies it, as under the mission's
// hold (mission-runner-resume-held-ground.test.ts). Before, the resume armed it and took it off to
// fly its interrupted leg again. A drone that never flew for the mission (the device restarted before
// its take-off) takes off as its task would; one still in the air carries on along its leg.
// The simulated ArduPilot FC through the MAVLink HAL drivers, joined in memory; the committed blocks
// are the mission machine's own, handed to the runner without signed envelopes (as in
// mission-runner-resume.test.ts); the data directory is a real one (FileStorage in a temp dir): restart-ground-rig.ts.

import { describe, expect, it, vi } from 'vitest';
import type { CommittedBlock } from '../../runtime/consensus/types.js';
import type { MissionRunner } from '../../runtime/device/mission-runner.js';
import { applyBlock, initialMissionState } from '../../runtime/mission/machine.js';
import type { MissionBlock, MissionState, MissionTx } from '../../runtime/mission/types.js';
import { waitFor } from '../bridge/companion.js';
import { fcRig, goto, members, report, sentAfter, shell } from './restart-ground-rig.js';

// Vitest runs at most 5 of a file's concurrent tests at a time (maxConcurrency). These 13 wait on a
// simulated flight and on the runner's and the executor's wall-clock waits, at little CPU (about 7 s
// user for the whole file): they all start at once.
vi.setConfig({ maxConcurrency: 13 });

// The committed block as the mission machine sees it, without signing envelopes for it.
const next = vi.hoisted(() => ({ block: null as unknown }));
vi.mock('../../runtime/device/mission-adapter.js', async (actual) => ({ ...(await actual<object>()), missionBlockOf: () => next.block }));

/** The committed state: the mission started at block 1 (time 10 000), then `reports` at 2; active. */
function activeState(reports: readonly MissionTx[]): MissionState {
  let s = applyBlock(initialMissionState(), { height: 1, timeMs: 10_000, members, txs: [goto] }).state;
  if (reports.length > 0) s = applyBlock(s, { height: 2, timeMs: 10_001, members, txs: [...reports] }).state;
  expect(s.mission?.status).toBe('active');
  return s;
}

function commit(r: MissionRunner, height: number, txs: MissionTx[], hazards?: MissionBlock['hazards']): void {
  next.block = { height, timeMs: 10_000 + height, members, txs, ...(hazards ? { hazards } : {}) } satisfies MissionBlock;
  r.onCommit({ block: { height }, hash: new Uint8Array(32), certificate: { height, blockHash: new Uint8Array(32) }, txs: [], proof: new Uint8Array(0) } as unknown as CommittedBlock, shell);
}

const handedOverReason = /on the ground after flying for this mission .*landed while this device was down .*not taken off again/;


/**
 * `r` resumes its own task with its FC muted until the resumed part runs (the runner's wait for the FC
 * over), then `hear()` lets the FC be heard, and the handover is waited for; returns what the companion
 * sent from the resume on. (The runner counts its 50 polls of 200 ms, which a loaded machine stretches
 * past 10 s of wall time: hence 30 s.)
 */
async function resumedHeardLate(r: { resumeOwnTask(): void; handedOver(): string | null }, logs: string[], sent: string[], hear: () => void): Promise<string[]> {
  const from = sent.length;
  r.resumeOwnTask();
  await waitFor('the resumed part run, the FC not heard', () => logs.some((l) => /executing waypoints/.test(l)), 30_000);
  expect(r.handedOver()).toBeNull();
  hear();
  await waitFor('handed over once the FC is heard', () => r.handedOver() !== null, 15_000);
  return sentAfter(sent, from);
}
describe.concurrent('restarted with its mission active and the drone on the ground', () => {
  it('it had flown for the mission (the committed progress, or its last committed report in the air): handed over, nothing sent, its task failed with the reason', async (t) => {
    const { rig, sent, device } = await fcRig(t);
    for (const [what, reports, why, progress] of [
      ['progress', [report(1, 100)], /1 of its 2 waypoints committed as passed/, 500],
      ['report in the air', [report(0, 100)], /its last committed report, since the mission began, had it 10\.0 m up/, 0],
    ] as const) {
      const { r, acks, logs } = device(activeState(reports));
      const from = sent.length;
      r.resumeOwnTask();
      expect(await sentAfter(sent, from), what).toEqual([]); // before: arm, take-off, and the interrupted leg flown again
      expect(rig.fc.vehicle.state().armed, what).toBe(false);
      // The swarm and the operator are told in the part's ack; the device's status and its log say why.
      const failed = acks.filter((a) => a.stage === 'failed');
      expect(failed, what).toMatchObject([{ command: 'ops/01', progress, reason: expect.stringMatching(handedOverReason) }]);
      expect(failed[0]?.reason, what).toMatch(why);
      expect(r.handedOver(), what).toMatch(handedOverReason);
      expect(logs.some((l) => handedOverReason.test(l)), what).toBe(true);
      r.stop();
    }
  }, 60_000);

  it('its device flew it before the restart (the data directory says so), landed by a pilot while the device was down: not taken off; a new task for the drone flies it', async (t) => {
    const { rig, devices, sent, device } = await fcRig(t);
    const before = device(activeState([]));
    before.r.resumeOwnTask(); // the device flying its part
    await waitFor('up and on its way', () => rig.fc.vehicle.state().upM > 5, 30_000);
    before.r.stop(); // the device stopped: the FC flies its last goto on
    rig.fc.vehicle.land(); // a pilot lands it meanwhile (LAND: down, and disarmed on the ground)
    await waitFor('landed and disarmed, as the FC tells the device', () => {
      const st = devices.flight.state();
      return st.ok && !st.value.armed && st.value.landed === 'on-ground';
    }, 60_000);
    // The committed state alone reads as never flown: its last report, committed on the ground.
    const { r, acks, logs } = device(activeState([report(0, 0)]));
    const from = sent.length;
    r.resumeOwnTask();
    expect(await sentAfter(sent, from)).toEqual([]); // before: arm, take-off
    expect(rig.fc.vehicle.state().armed).toBe(false);
    expect(acks.filter((a) => a.stage === 'failed')).toMatchObject([{ command: 'ops/01', reason: expect.stringMatching(/on the ground after flying for this mission \(this device flew it before it restarted\)/) }]);
    expect(logs.some((l) => /resuming mission ops\/01 after a restart: it flew for it before/.test(l))).toBe(true);
    // A new task for this drone (another mission) gives it back: armed and taken off.
    const given = sent.length;
    commit(r, 3, [{ ...goto, id: 'ops/04', args: { waypoints: [[0, 20]], node: 'd1', replace: true } }]);
    expect(r.state.mission?.id).toBe('ops/04');
    await waitFor('taken off for the new mission', () => rig.fc.vehicle.state().upM > 2, 20_000);
    expect(sent.slice(given)).toEqual(expect.arrayContaining(['arm', 'takeoff']));
    expect(r.handedOver()).toBeNull();
  }, 120_000);

  // ArduCopter stays, landed and disarmed, in the RTL or LAND it landed in (AP_Arming_Copter::disarm
  // changes no mode): the FC's own return or landing while the device was down leaves it so. Restarted,
  // the device reads a drone on the ground (landed 'on-ground', disarmed), not one returning or landing
  // in the air (MissionRunner.resumeOwnTask's adoptReturn is for a vehicle airborne in them): handed over
  // as landed while it was down; a new task for the drone arms it (GUIDED first: ArduCopter arms in
  // neither) and takes it off.
  it.for(['return', 'land'] as const)('landed by the FC\'s own %s while the device was down, left disarmed in it: handed over as landed, not as returning; a new task flies it', { timeout: 120_000 }, async (mode, t) => {
    const { rig, devices, sent, device } = await fcRig(t);
    const before = device(activeState([]));
    before.r.resumeOwnTask(); // the device flying its part
    await waitFor('up and on its way', () => rig.fc.vehicle.state().upM > 5, 30_000);
    before.r.stop(); // the device stopped: the FC flies its last goto on
    expect(rig.fc.vehicle.setReturnAltitude(6).ok).toBe(true); // home at about its height: no climb first
    expect((mode === 'return' ? rig.fc.vehicle.returnToLaunch() : rig.fc.vehicle.land()).ok).toBe(true);
    await waitFor(`landed and disarmed in ${mode}, as the FC tells the device`, () => {
      const st = devices.flight.state();
      return st.ok && !st.value.armed && st.value.landed === 'on-ground' && st.value.mode === mode;
    }, 60_000);
    const { r, acks } = device(activeState([report(1, 100)]));
    const from = sent.length;
    r.resumeOwnTask();
    expect(await sentAfter(sent, from)).toEqual([]);
    expect(rig.fc.vehicle.state()).toMatchObject({ armed: false, mode });
    const failed = acks.filter((a) => a.stage === 'failed');
    expect(failed).toMatchObject([{ command: 'ops/01', reason: expect.stringMatching(handedOverReason) }]);
    expect(failed[0]?.reason).not.toMatch(/returning home|landing \(mode|left the executor's control/);
    const given = sent.length;
    commit(r, 3, [{ ...goto, id: 'ops/04', args: { waypoints: [[0, 20]], node: 'd1', replace: true } }]);
    await waitFor('taken off for the new mission', () => rig.fc.vehicle.state().upM > 2, 20_000);
    expect(sent.slice(given)).toEqual(expect.arrayContaining(['set-mode', 'arm', 'takeoff']));
    expect(rig.vehicle.mode()).toBe('guided'); // its HEARTBEAT: GUIDED's take-off is GUIDED
    expect(r.handedOver()).toBeNull();
  });

  it.for(['return', 'land'] as const)('it never flew for the mission, its FC left disarmed in %s from an earlier flight: it takes off as its task would', { timeout: 60_000 }, async (mode, t) => {
    const { rig, devices, sent, device } = await fcRig(t);
    rig.fc.vehicle.setMode(mode); // where ArduCopter stays after landing in it
    await waitFor(`the device sees ${mode}`, () => {
      const st = devices.flight.state();
      return st.ok && st.value.mode === mode && st.value.landed === 'on-ground';
    }, 5_000);
    let s = applyBlock(initialMissionState(), { height: 1, timeMs: 9_000, members, txs: [report(0, 0)] }).state;
    s = applyBlock(s, { height: 2, timeMs: 10_000, members, txs: [goto] }).state;
    const { r, acks } = device(s);
    const from = sent.length;
    r.resumeOwnTask();
    await waitFor('taken off', () => rig.fc.vehicle.state().upM > 2, 20_000);
    expect(sent.slice(from)).toEqual(expect.arrayContaining(['set-mode', 'arm', 'takeoff']));
    expect(acks.filter((a) => a.stage === 'failed')).toEqual([]);
    expect(r.handedOver()).toBeNull();
  });

  // Handed over at the restart, the device holds no route of the mission: what reaches it for the
  // mission next and is no new task for this drone must not take it off either.
  for (const [what, then] of [
    ['a re-plan round a committed hazard', (r: MissionRunner) => commit(r, 3, [], { cellDm: 100, cells: [[0, 6]] })],
    ['a state sync of the mission', (r: MissionRunner) => void r.importState(r.exportState())],
  ] as const) {
    it(`handed over so, ${what} does not take it off`, async (t) => {
      const { rig, sent, device } = await fcRig(t);
      const { r } = device(activeState([report(1, 100)]));
      r.resumeOwnTask();
      await waitFor('handed over', () => r.handedOver() !== null, 5_000);
      const from = sent.length;
      then(r);
      if (what.startsWith('a re-plan')) expect(r.state.hazards?.cells).toEqual([[0, 6]]);
      expect(await sentAfter(sent, from), what).toEqual([]);
      expect(rig.fc.vehicle.state().armed, what).toBe(false);
      expect(r.handedOver(), what).toMatch(handedOverReason);
    }, 60_000);
  }

  // The runner waits up to 10 s for the FC before it runs the resumed part; the executor then waits up
  // to 15 s more for it before it would take off. Heard in between, the drone is still not taken off.
  it('its flight controller heard only after the resume stopped waiting for it (a link back late): still handed over, nothing sent', async (t) => {
    let mute = true;
    const { rig, sent, device } = await fcRig(t, () => mute);
    const { r, acks, logs } = device(activeState([report(1, 100)]));
    expect(await resumedHeardLate(r, logs, sent, () => (mute = false))).toEqual([]); // before: arm, take-off
    expect(rig.fc.vehicle.state().armed).toBe(false);
    expect(r.handedOver()).toMatch(handedOverReason);
    expect(acks.filter((a) => a.stage === 'failed')).toMatchObject([{ command: 'ops/01', progress: 500, reason: expect.stringMatching(/1 of its 2 waypoints committed as passed/) }]);
  }, 60_000);

  it('its height not known at the restart: its report holds its last committed height, committed, so the evidence that it flew stands: handed over, nothing sent', async (t) => {
    // Restarted while the FC's estimator disowns the height (POS_VERT_ABS clear): this process never
    // knew one, so its report carries the one its last committed report had (MissionRunner
    // heldAltDm), 10 m, with the eleventh element. Committed, as every version commits the sixth
    // element, it keeps "had it 10.0 m up": 0 there would have read as a drone that never flew, and the
    // resume would have taken off a drone someone landed.
    const { rig, sent, device } = await fcRig(t);
    rig.fc.setNavigation({ height: 'lost' });
    await waitFor("the estimator's report of the loss", () => rig.vehicle.telemetry.estimator?.vertAbsOk === false, 5_000);
    const { r, acks } = device(activeState([report(0, 100)]));
    expect(r.positionM()?.upM).toBeNull();
    const facts = r.telemetryFacts();
    expect(facts).toMatchObject({ altDm: 100, heightUnknown: true });
    commit(r, 3, [{ kind: 'telemetry', node: 'd1', pos: { n: facts?.northDm ?? 0, e: facts?.eastDm ?? 0 }, altDm: facts?.altDm ?? 0, batteryPermille: 900, completed: null, progress: null }]);
    expect(r.state.drones.find((d) => d.id === 'd1')).toMatchObject({ altDm: 100, telemetryHeight: 3 });
    const from = sent.length;
    r.resumeOwnTask();
    // It waits for the height (as for the FC): nothing sent meanwhile; the estimator has it back, on the ground.
    expect(await sentAfter(sent, from)).toEqual([]);
    expect(acks).toEqual([]);
    rig.fc.setNavigation({ height: 'ok' });
    await waitFor('the resume judged', () => acks.some((a) => a.stage === 'failed'), 10_000);
    expect(acks.filter((a) => a.stage === 'failed')).toMatchObject([{ command: 'ops/01', reason: expect.stringMatching(/its last committed report, since the mission began, had it 10\.0 m up/) }]);
    expect(r.handedOver()).toMatch(handedOverReason);
    expect(await sentAfter(sent, from)).toEqual([]);
    expect(rig.fc.vehicle.state().armed).toBe(false);
  }, 60_000);

  it('it never flew for the mission (no progress, no report in the air since it began, nothing in its data directory): it takes off as its task would', async (t) => {
    const { rig, sent, device } = await fcRig(t);
    // Its last report, on the ground, from before the mission began (block 2) is no report in the air.
    let s = applyBlock(initialMissionState(), { height: 1, timeMs: 9_000, members, txs: [report(0, 0)] }).state;
    s = applyBlock(s, { height: 2, timeMs: 10_000, members, txs: [goto] }).state;
    const { r, acks } = device(s);
    const from = sent.length;
    r.resumeOwnTask();
    await waitFor('taken off', () => rig.fc.vehicle.state().upM > 2, 20_000);
    expect(sent.slice(from)).toEqual(expect.arrayContaining(['arm', 'takeoff']));
    expect(acks.filter((a) => a.stage === 'failed')).toEqual([]);
    expect(r.handedOver()).toBeNull();
  }, 60_000);
});

describe.concurrent('restarted with its mission active and the drone in the air', () => {
  // The FC heard only after the runner's 10 s wait for it (a link back late, which may be why the FC
  // went home: its GCS failsafe): the resumed route is run before anything tells where the drone is or
  // what it does, and the executor, once the FC is heard, finds it on a return no command of this
  // device sent since it started. Handed over, as when heard in time (restart-fc-failsafe-return.test.ts);
  // before, the resume's goto took it out of the FC's return. At the wall clock's pace: its return
  // (up to 30 m, home, down at 1.5 m/s) outlasts the wait.
  it("its flight controller heard only after the resume stopped waiting for it, on the FC's own return: handed over, nothing sent, the return goes on", async (t) => {
    let mute = true;
    const { rig, sent, device } = await fcRig(t, () => mute, 1);
    expect(rig.fc.vehicle.arm().ok).toBe(true);
    expect(rig.fc.vehicle.takeoff(5).ok).toBe(true);
    await waitFor('up', () => rig.fc.vehicle.state().upM > 4, 10_000);
    expect(rig.fc.vehicle.returnToLaunch().ok).toBe(true); // the FC's own failsafe, while the device was down
    const { r, acks, logs } = device(activeState([report(1, 100)]));
    expect(await resumedHeardLate(r, logs, sent, () => (mute = false))).toEqual([]); // before: a goto, out of the FC's return
    expect(rig.fc.vehicle.state().mode).toBe('return');
    expect(r.handedOver()).toMatch(/^the flight controller left the executor's control: mode return, not the executor's/);
    expect(r.handedOverFrom()).toBe('ops/01');
    expect(acks.filter((a) => a.stage === 'failed')).toMatchObject([{ command: 'ops/01', progress: 500, reason: expect.stringMatching(/left the executor's control: mode return/) }]);
  }, 60_000);

  it('it carries on along its leg: no arming or take-off, its part flown to its end', async (t) => {
    const { rig, sent, device } = await fcRig(t);
    const before = device(activeState([]));
    before.r.resumeOwnTask();
    await waitFor('up and on its way to the first waypoint', () => rig.fc.vehicle.state().upM > 5 && rig.fc.vehicle.state().eastM > 5, 60_000);
    before.r.stop(); // the device restarts; the FC flies its last goto on
    // Its last committed report had it 10 m up on its way (the data directory also says it flew).
    const { r, acks } = device(activeState([report(0, 100)]));
    const from = sent.length;
    r.resumeOwnTask();
    await waitFor('its part flown to its end', () => acks.some((a) => a.command === 'ops/01' && a.stage === 'done'), 90_000);
    expect(sent.slice(from)).not.toContain('arm');
    expect(sent.slice(from)).not.toContain('takeoff');
    expect(sent.slice(from)).toContain('goto');
    expect(acks.filter((a) => a.stage === 'failed')).toEqual([]);
    expect(r.handedOver()).toBeNull();
    expect(Math.abs(rig.fc.vehicle.state().eastM - 80)).toBeLessThan(5);
  }, 150_000);
});
