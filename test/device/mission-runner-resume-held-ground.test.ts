// A device restarted while the swarm holds its mission, with its drone on the ground: did the drone
// land while the mission held it (a pilot, a failsafe, the flight controller's own), or had the
// mission never flown it? A drone someone landed must not take off on its own when the swarm resumes
// the mission; one that never flew for it takes off as its task would. Before, the restarted device
// told the two apart in nothing ("the vehicle is not in the air: nothing to hold") and the resume took
// any drone on the ground off again and flew its part.
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

// The committed block as the mission machine sees it, without signing envelopes for it.
const next = vi.hoisted(() => ({ block: null as unknown }));
vi.mock('../../runtime/device/mission-adapter.js', async (actual) => ({ ...(await actual<object>()), missionBlockOf: () => next.block }));

const hold: MissionTx = { ...goto, id: 'ops/02', type: 'hold', args: {} };
const resume: MissionTx = { ...goto, id: 'ops/03', type: 'resume', args: {} };
/** The committed state: the mission started at block 1 (time 10 000), then `txs` (reports) at 2, held at 3. */
function heldState(reports: readonly MissionTx[]): MissionState {
  let s = applyBlock(initialMissionState(), { height: 1, timeMs: 10_000, members, txs: [goto] }).state;
  if (reports.length > 0) s = applyBlock(s, { height: 2, timeMs: 10_001, members, txs: [...reports] }).state;
  s = applyBlock(s, { height: 3, timeMs: 10_002, members, txs: [hold] }).state;
  expect(s.mission?.status).toBe('held');
  return s;
}

function commit(r: MissionRunner, height: number, txs: MissionTx[]): void {
  next.block = { height, timeMs: 10_000 + height, members, txs } satisfies MissionBlock;
  r.onCommit({ block: { height }, hash: new Uint8Array(32), certificate: { height, blockHash: new Uint8Array(32) }, txs: [], proof: new Uint8Array(0) } as unknown as CommittedBlock, shell);
}

describe.concurrent('restarted while the swarm holds its mission, with the drone on the ground', () => {
  it('it had flown for the mission (the committed progress, or its last committed report in the air): the resume does not take it off, and says why', async (t) => {
    const { rig, sent, device } = await fcRig(t);
    // Passed one of its two waypoints; or on its way to the first, last reported 10 m up.
    for (const [what, reports] of [['progress', [report(1, 100)]], ['report in the air', [report(0, 100)]]] as const) {
      const { r, acks, logs } = device(heldState(reports));
      r.resumeOwnTask();
      await waitFor(`${what}: the hold taken up`, () => logs.some((l) => /mission ops\/01 is held/.test(l)), 12_000);
      const held = logs.find((l) => /mission ops\/01 is held/.test(l)) ?? '';
      const failedAtHold = acks.slice();
      const handedOver = r.handedOver();
      const from = sent.length;
      commit(r, 4, [resume]);
      expect(await sentAfter(sent, from), what).toEqual([]); // before: arm, take-off, and its part flown
      expect(held, what).toMatch(/on the ground after flying for this mission/);
      expect(held, what).toMatch(/not taken off again by the mission's resume/);
      // The swarm and the operator are told at once, in the part's ack, and the device's status says so.
      expect(failedAtHold, what).toMatchObject([{ command: 'ops/01', stage: 'failed', reason: expect.stringMatching(/landed while the swarm held the mission/) }]);
      expect(handedOver, what).toMatch(/landed while the swarm held the mission/);
      expect(acks.find((a) => a.command === 'ops/03' && a.stage === 'failed')?.reason, what).toMatch(/not carried out/);
      expect(rig.fc.vehicle.state().armed, what).toBe(false);
      r.stop();
    }
  }, 60_000);

  it('it never flew for the mission (no progress, no report in the air since it began): the resume takes it off as its task would', async (t) => {
    const { rig, sent, device } = await fcRig(t);
    // Its last report, on the ground, from before the mission began (block 1) is no report in the air.
    let s = applyBlock(initialMissionState(), { height: 1, timeMs: 9_000, members, txs: [report(0, 0)] }).state;
    s = applyBlock(s, { height: 2, timeMs: 10_000, members, txs: [goto] }).state;
    s = applyBlock(s, { height: 3, timeMs: 10_002, members, txs: [hold] }).state;
    const { r, acks, logs } = device(s);
    r.resumeOwnTask();
    await waitFor('the hold looked at', () => logs.some((l) => /mission ops\/01 is held/.test(l)), 12_000);
    expect(logs.find((l) => /mission ops\/01 is held/.test(l))).toMatch(/on the ground, and nothing says it flew for this mission .*: the mission's resume takes it off/);
    expect(acks).toEqual([]);
    expect(r.handedOver()).toBeNull();
    const from = sent.length;
    commit(r, 4, [resume]);
    await waitFor('taken off', () => rig.fc.vehicle.state().upM > 2, 20_000);
    expect(sent.slice(from)).toEqual(expect.arrayContaining(['arm', 'takeoff']));
    expect(acks.filter((a) => a.stage === 'failed')).toEqual([]);
  }, 60_000);

  // The device flew it, and a pilot landed it while the swarm held the mission; the landed report was
  // committed before the restart, and its one waypoint was never passed: the committed state alone
  // reads as a drone that never flew. The device's own data directory remembers that it flew it.
  it('its device flew it before the restart (the data directory says so), though the committed state reads as never flown: not taken off', async (t) => {
    const { rig, devices, sent, device } = await fcRig(t);
    const before = device(applyBlock(initialMissionState(), { height: 1, timeMs: 10_000, members, txs: [goto] }).state);
    before.r.resumeOwnTask(); // the device flying its part
    await waitFor('up and on its way', () => rig.fc.vehicle.state().upM > 5, 30_000);
    commit(before.r, 2, [hold]);
    await waitFor('held in LOITER', () => rig.fc.vehicle.state().mode === 'hold', 10_000);
    before.r.stop(); // the device stopped
    rig.fc.vehicle.land(); // the pilot lands it meanwhile (LAND: down, and disarmed on the ground)
    // ArduCopter stays in LAND, disarmed (AP_Arming_Copter::disarm changes no mode): on the ground, not
    // a landing in the air nor a mode other than the hold the swarm committed (adoptHold).
    await waitFor('landed and disarmed in LAND, as the FC tells the device', () => {
      const st = devices.flight.state();
      return st.ok && !st.value.armed && st.value.landed === 'on-ground' && st.value.mode === 'land';
    }, 60_000);
    const { r, acks, logs } = device(heldState([report(0, 0)]));
    r.resumeOwnTask();
    await waitFor('the hold looked at', () => logs.some((l) => /mission ops\/01 is held/.test(l)), 12_000);
    const from = sent.length;
    commit(r, 4, [resume]);
    expect(await sentAfter(sent, from)).toEqual([]); // before: arm, take-off, and its part flown
    expect(rig.fc.vehicle.state().armed).toBe(false);
    expect(logs.find((l) => /mission ops\/01 is held/.test(l))).toMatch(/on the ground after flying for this mission \(this device flew it before it restarted\)/);
    expect(logs.find((l) => /mission ops\/01 is held/.test(l))).not.toMatch(/restarted with the vehicle in mode/);
    expect(acks.filter((a) => a.command === 'ops/01')).toMatchObject([{ stage: 'failed', reason: expect.stringMatching(/landed while the swarm held the mission/) }]);
    expect(acks.find((a) => a.command === 'ops/03' && a.stage === 'failed')?.reason).toMatch(/not carried out/);
  }, 90_000);
});

// Handed over on the ground at the restart, the device holds no route of the mission (a restart
// forgets it). What reaches it for the mission afterwards and is not a new task for this drone (the
// swarm's resume, a re-plan of every unflown part round a committed hazard or a new fence, a state
// sync of the mission it is in) must not take off what a pilot landed either. Before, a re-plan or a
// state sync after the swarm's resume read as a first task: the handover was cleared and the drone
// armed and took off.
describe.concurrent('handed over on the ground at a restart under the hold, then the mission goes on', () => {
  for (const [what, then] of [
    ['a re-plan round a committed hazard', (r: MissionRunner) => commitHazard(r, 5)],
    ['a state sync of the mission', (r: MissionRunner) => void r.importState(r.exportState())],
  ] as const) {
    it(`${what} after the swarm's resume does not take it off`, async (t) => {
      const { rig, sent, device } = await fcRig(t);
      const { r, acks, logs } = device(heldState([report(1, 100)]));
      r.resumeOwnTask();
      await waitFor('the hold taken up', () => logs.some((l) => /mission ops\/01 is held/.test(l)), 12_000);
      expect(r.handedOver()).toMatch(/landed while the swarm held the mission/);
      commit(r, 4, [resume]);
      expect(acks.find((a) => a.command === 'ops/03' && a.stage === 'failed')?.reason).toMatch(/not carried out/);
      expect(r.state.mission?.status).toBe('active');
      const from = sent.length;
      then(r);
      expect(await sentAfter(sent, from), what).toEqual([]); // before: arm, take-off
      expect(rig.fc.vehicle.state().armed, what).toBe(false);
      expect(r.handedOver(), what).toMatch(/landed while the swarm held the mission/);
    }, 60_000);
  }

  it('a new task for this drone (another mission) gives it back: taken off', async (t) => {
    const { rig, sent, device } = await fcRig(t);
    const { r, logs } = device(heldState([report(1, 100)]));
    r.resumeOwnTask();
    await waitFor('the hold taken up', () => logs.some((l) => /mission ops\/01 is held/.test(l)), 12_000);
    expect(r.handedOver()).toMatch(/landed while the swarm held the mission/);
    commit(r, 4, [resume]);
    commitHazard(r, 5);
    const from = sent.length;
    commit(r, 6, [{ ...goto, id: 'ops/04', args: { waypoints: [[0, 20]], node: 'd1', replace: true } }]);
    expect(r.state.mission?.id).toBe('ops/04');
    await waitFor('taken off for the new mission', () => rig.fc.vehicle.state().upM > 2, 20_000);
    expect(sent.slice(from)).toEqual(expect.arrayContaining(['arm', 'takeoff']));
    expect(r.handedOver()).toBeNull();
  }, 60_000);
});

/** A block committing a hazard cell on d1's route (its second leg, 40 to 80 m east): the mission machine re-plans d1's part round it. */
function commitHazard(r: MissionRunner, height: number): void {
  next.block = { height, timeMs: 10_000 + height, members, txs: [], hazards: { cellDm: 100, cells: [[0, 6]] } } satisfies MissionBlock;
  r.onCommit({ block: { height }, hash: new Uint8Array(32), certificate: { height, blockHash: new Uint8Array(32) }, txs: [], proof: new Uint8Array(0) } as unknown as CommittedBlock, shell);
  expect(r.state.hazards?.cells).toEqual([[0, 6]]);
}
