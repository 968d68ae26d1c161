// After a restart, a resume or a state sync the device flies on with its part of the mission in the
// committed state (MissionRunner.resumeOwnTask): the route it is given is the one the committed blocks
// gave it, round the committed hazards, and it carries on from where it is when it was flying it.

import { afterEach, describe, expect, it, vi } from 'vitest';
import type { CommittedBlock } from '../../runtime/consensus/types.js';
import { Executor } from '../../runtime/device/executor.js';
import { MissionRunner, type MissionRunnerOptions } from '../../runtime/device/mission-runner.js';
import { applyBlock, initialMissionState } from '../../runtime/mission/machine.js';
import type { MissionBlock, MissionState, MissionTx, Task } from '../../runtime/mission/types.js';
import type { NodeShell } from '../../runtime/node/shell.js';
import { executorRig, stopRigs, until } from './executor-rig.js';

// The committed block as the mission machine sees it, without signing envelopes for it.
const next = vi.hoisted(() => ({ block: null as unknown }));
vi.mock('../../runtime/device/mission-adapter.js', async (actual) => ({ ...(await actual<object>()), missionBlockOf: () => next.block }));

afterEach(() => vi.restoreAllMocks());

const members = { epoch: 1, devices: ['d1', 'd2'], operators: [{ id: 'ops', roles: ['operator' as const] }] };

function runner(state: MissionState, devices: object = {}, acks: unknown[] = []): MissionRunner {
  const quiet = { info: () => undefined, warn: () => undefined };
  const control = { ack: (a: unknown) => void acks.push(a), proof: () => undefined, log: () => undefined };
  const metrics = { commands: { inc: () => undefined } };
  const o = { id: 'd1', fleet: 'f', manifest: { body: { authority: new Uint8Array(32) } }, hal: { devices }, origin: { latDeg: 47, lonDeg: 8 }, fence: null, log: quiet, control, metrics } as unknown as MissionRunnerOptions;
  const r = new MissionRunner(o);
  r.state = state;
  return r;
}

describe('resuming this device\'s part after a restart', () => {
  it('flies the committed route round the committed hazards', () => {
    const telemetry: MissionTx = { kind: 'telemetry', node: 'd1', pos: { n: 0, e: 0 }, altDm: 0, batteryPermille: 900, completed: null };
    // A 10 m hazard cell 105 m east of the origin, committed before the mission.
    const b1: MissionBlock = { height: 1, timeMs: 10_000, members, txs: [telemetry], hazards: { cellDm: 100, cells: [[0, 10]] } };
    const goto: MissionTx = { kind: 'command', id: 'ops/01', operator: 'ops', type: 'mission.goto', args: { waypoints: [[0, 0], [0, 200]], node: 'd1' }, issuedAt: 1, expiresAt: 1_000_000 };
    const s1 = applyBlock(initialMissionState(), b1);
    const s2 = applyBlock(s1.state, { height: 2, timeMs: 10_001, members, txs: [goto] });
    const committed = s2.effects.flatMap((e) => (e.type === 'task' && e.node === 'd1' && e.task.type === 'waypoints' ? [e.task.waypoints] : []));
    expect(committed).toHaveLength(1);
    expect(committed[0]!.length).toBeGreaterThan(2); // the detour round the hazard
    const given: Task[] = [];
    vi.spyOn(Executor.prototype, 'run').mockImplementation((_c: string, t: Task) => void given.push(t));
    runner(s2.state).resumeOwnTask();
    expect(given).toHaveLength(1);
    expect(given[0]!.type === 'waypoints' ? given[0]!.waypoints : null).toEqual(committed[0]);
  });

  it('a device that restarted while the mission was held flies its part when the mission is resumed', () => {
    const goto: MissionTx = { kind: 'command', id: 'ops/02', operator: 'ops', type: 'mission.goto', args: { waypoints: [[0, 100]], node: 'd1' }, issuedAt: 1, expiresAt: 1_000_000 };
    const hold: MissionTx = { ...goto, id: 'ops/03', type: 'hold', args: {} };
    const resume: MissionTx = { ...goto, id: 'ops/04', type: 'resume', args: {} };
    const s1 = applyBlock(initialMissionState(), { height: 1, timeMs: 10_000, members, txs: [goto] });
    const s2 = applyBlock(s1.state, { height: 2, timeMs: 10_001, members, txs: [hold] });
    const given: Task[] = [];
    vi.spyOn(Executor.prototype, 'run').mockImplementation((_c: string, t: Task) => void given.push(t));
    // Restarted with the held state (WAL replay or a snapshot): nothing to fly while it is held.
    const r = runner(s2.state);
    r.resumeOwnTask();
    expect(given).toEqual([]);
    next.block = { height: 3, timeMs: 10_002, members, txs: [resume] } satisfies MissionBlock;
    const cb = { block: { height: 3 }, hash: new Uint8Array(32), certificate: { height: 3, blockHash: new Uint8Array(32) }, txs: [], proof: new Uint8Array(0) } as unknown as CommittedBlock;
    r.onCommit(cb, { core: { chain: { manifestAt: () => ({ body: { validators: [{ id: 'd1', power: 1 }, { id: 'd2', power: 1 }] } }) } } } as unknown as NodeShell);
    expect(r.state.mission?.status).toBe('active');
    expect(given.map((t) => t.type)).toEqual(['resume', 'waypoints']);
    expect(given[1]).toMatchObject({ type: 'waypoints', mission: 'ops/02', waypoints: [{ n: 0, e: 1_000 }] });
  });

  it('a state sync while it flies its part carries on from where it is, not from the first waypoint', () => {
    const goto: MissionTx = { kind: 'command', id: 'ops/05', operator: 'ops', type: 'mission.goto', args: { waypoints: [[0, 100], [100, 100]], node: 'd1' }, issuedAt: 1, expiresAt: 1_000_000 };
    const s1 = applyBlock(initialMissionState(), { height: 1, timeMs: 10_000, members, txs: [goto] });
    const given: Task[] = [];
    vi.spyOn(Executor.prototype, 'run').mockImplementation((_c: string, t: Task) => void given.push(t));
    // The executor is already flying this mission (importState while running calls resumeOwnTask).
    vi.spyOn(Executor.prototype, 'hasTask').mockReturnValue(true);
    runner(s1.state).resumeOwnTask();
    expect(given).toHaveLength(1);
    expect(given[0]).toMatchObject({ type: 'waypoints', mission: 'ops/05', replan: true });
  });

  it('restarted while the mission is held with the drone in the air, it takes up the hold; once a pilot has the drone, the resume flies nothing', () => {
    const goto: MissionTx = { kind: 'command', id: 'ops/09', operator: 'ops', type: 'mission.goto', args: { waypoints: [[0, 100]], node: 'd1' }, issuedAt: 1, expiresAt: 1_000_000 };
    const hold: MissionTx = { ...goto, id: 'ops/10', type: 'hold', args: {} };
    const resume: MissionTx = { ...goto, id: 'ops/11', type: 'resume', args: {} };
    const s1 = applyBlock(initialMissionState(), { height: 1, timeMs: 10_000, members, txs: [goto] });
    const s2 = applyBlock(s1.state, { height: 2, timeMs: 10_001, members, txs: [hold] });
    const given: Task[] = [];
    vi.spyOn(Executor.prototype, 'run').mockImplementation((_c: string, t: Task) => void given.push(t));
    const adopted: string[] = [];
    vi.spyOn(Executor.prototype, 'adoptHold').mockImplementation((c: string) => (adopted.push(c), 'held'));
    vi.spyOn(Executor.prototype, 'position').mockReturnValue({ northM: 0, eastM: 50, upM: 10 });
    vi.spyOn(Executor.prototype, 'heightKnown').mockReturnValue(true);
    const r = runner(s2.state, { flight: { state: inAir('hold'), setReturnAltitude: () => Promise.resolve({ ok: true, value: undefined }) } });
    r.resumeOwnTask();
    expect(adopted).toEqual(['ops/09']);
    expect(given).toEqual([]);
    // The watch found a pilot flying it (the executor's handedOverBecause): the resume is not carried
    // out there, and the runner gives it no route either.
    vi.spyOn(Executor.prototype, 'handedOverBecause').mockReturnValue('the vehicle moved 30 m from where it held (mode hold): a pilot flies it');
    next.block = { height: 3, timeMs: 10_002, members, txs: [resume] } satisfies MissionBlock;
    const cb = { block: { height: 3 }, hash: new Uint8Array(32), certificate: { height: 3, blockHash: new Uint8Array(32) }, txs: [], proof: new Uint8Array(0) } as unknown as CommittedBlock;
    r.onCommit(cb, { core: { chain: { manifestAt: () => ({ body: { validators: [{ id: 'd1', power: 1 }, { id: 'd2', power: 1 }] } }) } } } as unknown as NodeShell);
    expect(given.map((t) => t.type)).toEqual(['resume']);
  });

  it('restarted while the mission is held, a re-plan of it does not start the drone flying', () => {
    const goto: MissionTx = { kind: 'command', id: 'ops/06', operator: 'ops', type: 'mission.goto', args: { waypoints: [[0, 0], [0, 200]], node: 'd1' }, issuedAt: 1, expiresAt: 1_000_000 };
    const hold: MissionTx = { ...goto, id: 'ops/07', type: 'hold', args: {} };
    const resume: MissionTx = { ...goto, id: 'ops/08', type: 'resume', args: {} };
    const s1 = applyBlock(initialMissionState(), { height: 1, timeMs: 10_000, members, txs: [goto] });
    const s2 = applyBlock(s1.state, { height: 2, timeMs: 10_001, members, txs: [hold] });
    const given: Task[] = [];
    vi.spyOn(Executor.prototype, 'run').mockImplementation((_c: string, t: Task) => void given.push(t));
    const r = runner(s2.state);
    r.resumeOwnTask();
    const commit = (height: number): CommittedBlock => ({ block: { height }, hash: new Uint8Array(32), certificate: { height, blockHash: new Uint8Array(32) }, txs: [], proof: new Uint8Array(0) }) as unknown as CommittedBlock;
    const shell = { core: { chain: { manifestAt: () => ({ body: { validators: [{ id: 'd1', power: 1 }, { id: 'd2', power: 1 }] } }) } } } as unknown as NodeShell;
    // A hazard committed on the route while held: the held mission is re-planned, and it stays held.
    next.block = { height: 3, timeMs: 10_002, members, txs: [], hazards: { cellDm: 100, cells: [[0, 10]] } } satisfies MissionBlock;
    r.onCommit(commit(3), shell);
    expect(r.state.mission?.status).toBe('held');
    expect(given).toEqual([]);
    next.block = { height: 4, timeMs: 10_003, members, txs: [resume] } satisfies MissionBlock;
    r.onCommit(commit(4), shell);
    expect(given.map((t) => t.type)).toEqual(['resume', 'waypoints']);
    expect(given[1]!.type === 'waypoints' && given[1]!.waypoints.length).toBe(4); // round the hazard
  });
});

/** A flight controller's state as the resume reads it: in the air, in `mode`. */
const inAir = (mode: string) => () => ({ ok: true, value: { timeMs: 0, armed: true, mode, landed: 'in-air', home: null, failsafe: false } });

describe('restarted mid-mission, it resumes from its committed progress', () => {
  // d1's part: four waypoints 50 m apart going east (a goto: one drone, one path).
  const goto: MissionTx = { kind: 'command', id: 'ops/10', operator: 'ops', type: 'mission.goto', args: { waypoints: [[0, 50], [0, 100], [0, 150], [0, 200]], node: 'd1' }, issuedAt: 1, expiresAt: 1_000_000 };
  const at = (e: number, flown: number | null, altDm = 300): MissionTx => ({ kind: 'telemetry', node: 'd1', pos: { n: 0, e }, altDm, batteryPermille: 900, completed: null, progress: flown === null ? null : { mission: 'ops/10', flown } });
  /** The tasks the executor is given, and with each what the runner told it of a flight for the
   *  mission before the restart (Executor.run's `restart`). */
  let restarts: unknown[] = [];
  const restarted = (flown: number, pos: { northM: number; eastM: number; upM: number } | null, altDm = 300): Task[] => {
    const s1 = applyBlock(initialMissionState(), { height: 1, timeMs: 10_000, members, txs: [goto] });
    // Its last committed report: it had passed `flown` of its waypoints, at 1,200 dm east, `altDm` up.
    const s2 = applyBlock(s1.state, { height: 2, timeMs: 10_001, members, txs: [at(1_200, flown, altDm)] });
    const given: Task[] = [];
    restarts = [];
    vi.spyOn(Executor.prototype, 'run').mockImplementation((_c: string, t: Task, restart?: unknown) => void (given.push(t), restarts.push(restart ?? null)));
    vi.spyOn(Executor.prototype, 'position').mockReturnValue(pos);
    runner(s2.state).resumeOwnTask();
    return given;
  };

  /** Restarted with d1 120 m along its part, 30 m up and 2 of its 4 waypoints committed as flown: the
   *  state, and the tasks the executor is given (its run, position and height stubbed). */
  const restartedAloft = () => {
    const s1 = applyBlock(initialMissionState(), { height: 1, timeMs: 10_000, members, txs: [goto] });
    const s2 = applyBlock(s1.state, { height: 2, timeMs: 10_001, members, txs: [at(1_200, 2)] });
    const given: Task[] = [];
    vi.spyOn(Executor.prototype, 'run').mockImplementation((_c: string, t: Task) => void given.push(t));
    vi.spyOn(Executor.prototype, 'position').mockReturnValue({ northM: 0.5, eastM: 120, upM: 30 });
    vi.spyOn(Executor.prototype, 'heightKnown').mockReturnValue(true);
    return { s2, given };
  };

  // Before, this read 'on the ground after a reboot it flies the interrupted leg again': a drone that
  // had flown for the mission and was found on the ground was armed and taken off to fly that leg. A
  // flight controller left flying holds its last goto when its device restarts, so such a drone was
  // landed while the device was down (a pilot, the FC's failsafe, a crash): the runner now tells the
  // executor why it knows the drone flew for the mission, and the executor, finding it on the ground,
  // hands it over instead of taking it off (on the simulated FC: mission-runner-resume-active-ground.test.ts).
  it('on the ground after a reboot, having flown for the mission, its resume says so: found on the ground it is not taken off again', () => {
    // Passed waypoints 1 and 2, on its way to 3 when the device rebooted (the drone landed).
    const given = restarted(2, { northM: 0, eastM: 0, upM: 0 });
    expect(given).toHaveLength(1);
    expect(restarts).toEqual([{ why: '2 of its 4 waypoints committed as passed', progress: 500 }]);
  });

  it('in the air off the leg it was on (gone home, drifted) it flies that leg again from its start, not the route from waypoint 0', () => {
    // Passed waypoints 1 and 2, on its way to 3 when the device rebooted; 30 m up over home now.
    const given = restarted(2, { northM: 0, eastM: 0, upM: 30 });
    expect(given).toHaveLength(1);
    expect(given[0]).toMatchObject({ type: 'waypoints', mission: 'ops/10', waypoints: [{ n: 0, e: 1_000 }, { n: 0, e: 1_500 }, { n: 0, e: 2_000 }] });
    // The way to the resume point is a transit leg: flown at its transit altitude, not skimmed at the mission's.
    expect(given[0]!.type === 'waypoints' && given[0]!.replan).toBeFalsy();
  });

  it('still in the air on the interrupted leg it carries on to the next waypoint', () => {
    const given = restarted(2, { northM: 0.5, eastM: 120, upM: 30 });
    expect(given[0]).toMatchObject({ type: 'waypoints', waypoints: [{ n: 0, e: 1_500 }, { n: 0, e: 2_000 }] });
  });

  it('with its flight controller not heard yet (MAVLink, just started) it waits for its position, then carries on along the leg it is on', async () => {
    const s1 = applyBlock(initialMissionState(), { height: 1, timeMs: 10_000, members, txs: [goto] });
    const s2 = applyBlock(s1.state, { height: 2, timeMs: 10_001, members, txs: [at(1_200, 2)] });
    const given: Task[] = [];
    vi.spyOn(Executor.prototype, 'run').mockImplementation((_c: string, t: Task) => void given.push(t));
    let pos: { northM: number; eastM: number; upM: number } | null = null;
    vi.spyOn(Executor.prototype, 'position').mockImplementation(() => pos);
    vi.spyOn(Executor.prototype, 'heightKnown').mockImplementation(() => pos !== null);
    const r = runner(s2.state, { flight: { state: inAir('hold'), setReturnAltitude: () => Promise.resolve({ ok: true, value: undefined }) } });
    r.resumeOwnTask();
    expect(given).toEqual([]); // before, it resumed at once as if on the ground: the leg again from its start
    pos = { northM: 0.5, eastM: 120, upM: 30 };
    expect(await until(() => given.length > 0, 5_000)).toBe(true);
    expect(given[0]).toMatchObject({ type: 'waypoints', waypoints: [{ n: 0, e: 1_500 }, { n: 0, e: 2_000 }] });
    r.stop();
  });

  it('while that resume waits, a committed re-plan is left to it and a committed rtl replaces it', async () => {
    const s1 = applyBlock(initialMissionState(), { height: 1, timeMs: 10_000, members, txs: [goto] });
    const s2 = applyBlock(s1.state, { height: 2, timeMs: 10_001, members, txs: [at(1_200, 2)] });
    const commit = (height: number): CommittedBlock => ({ block: { height }, hash: new Uint8Array(32), certificate: { height, blockHash: new Uint8Array(32) }, txs: [], proof: new Uint8Array(0) }) as unknown as CommittedBlock;
    const shell = { core: { chain: { manifestAt: () => ({ body: { validators: [{ id: 'd1', power: 1 }, { id: 'd2', power: 1 }] } }) } } } as unknown as NodeShell;
    const given: Task[] = [];
    vi.spyOn(Executor.prototype, 'run').mockImplementation((_c: string, t: Task) => void given.push(t));
    let pos: { northM: number; eastM: number; upM: number } | null = null;
    vi.spyOn(Executor.prototype, 'position').mockImplementation(() => pos);
    vi.spyOn(Executor.prototype, 'heightKnown').mockImplementation(() => pos !== null);
    // A flight controller that keeps what it is given (the return altitude each block sets).
    const r = runner(s2.state, { flight: { state: inAir('guided'), setReturnAltitude: () => Promise.resolve({ ok: true, value: undefined }) } });
    r.resumeOwnTask();
    // A hazard committed on the route ahead (175 m east): the mission is re-planned.
    next.block = { height: 3, timeMs: 10_002, members, txs: [], hazards: { cellDm: 100, cells: [[0, 17]] } } satisfies MissionBlock;
    r.onCommit(commit(3), shell);
    expect(given).toEqual([]); // run now, with no route held, the re-plan was flown from its first waypoint
    pos = { northM: 0.5, eastM: 120, upM: 30 };
    expect(await until(() => given.length > 0, 5_000)).toBe(true);
    expect(given).toHaveLength(1);
    expect(given[0]).toMatchObject({ type: 'waypoints', mission: 'ops/10' });
    expect(given[0]!.type === 'waypoints' && given[0]!.waypoints[0]).toEqual({ n: 0, e: 1_500 }); // on from where it is
    // Restarted again, still waiting: an rtl of it is carried out and the resume is dropped.
    given.length = 0;
    pos = null;
    r.resumeOwnTask();
    const rtl: MissionTx = { ...goto, id: 'ops/11', type: 'rtl', args: { nodes: ['d1'] } };
    next.block = { height: 4, timeMs: 10_003, members, txs: [rtl] } satisfies MissionBlock;
    r.onCommit(commit(4), shell);
    expect(given.map((t) => t.type)).toEqual(['rtl']);
    pos = { northM: 0.5, eastM: 120, upM: 30 };
    await new Promise((x) => setTimeout(x, 600));
    expect(given.map((t) => t.type)).toEqual(['rtl']);
    r.stop();
  });

  it('returning or landing when it started (a failsafe before the restart, or the FC\'s own), it does not resume; in the air otherwise, it does', async () => {
    const { s2, given } = restartedAloft();
    for (const mode of ['return', 'land']) {
      const acks: unknown[] = [];
      const r = runner(s2.state, { flight: { state: inAir(mode) } }, acks);
      r.resumeOwnTask();
      await new Promise((x) => setTimeout(x, 300));
      expect(given, mode).toEqual([]); // before: the mission flown on until the reflex (or nothing) took it back
      // The swarm and the operator are told, in the part's ack: 2 of its 4 waypoints flown.
      expect(acks, mode).toMatchObject([{ command: 'ops/10', node: 'd1', stage: 'failed', progress: 500, reason: expect.stringMatching(/^not resumed after a restart: the flight controller left the executor's control: the vehicle was (returning home|landing) \(mode (return|land)\) when this device started, not by a command of this device since: the flight controller's own failsafe .*; nothing more is commanded until an operator's command for this drone$/) }]);
      // Handed over from the mission, as when the FC's failsafe takes it in flight: its telemetry says so.
      expect(r.handedOver(), mode).toMatch(/^the flight controller left the executor's control: the vehicle was/);
      expect(r.handedOverFrom(), mode).toBe('ops/10');
      r.stop();
    }
    // The FC's failsafe announced since the device started (a STATUSTEXT heard): its own words.
    const acks: unknown[] = [];
    const said = () => ({ ok: true, value: { ...inAir('return')().value, failsafe: true, failsafeSaid: '"Battery failsafe"' } });
    const announced = runner(s2.state, { flight: { state: said } }, acks);
    announced.resumeOwnTask();
    expect(given).toEqual([]);
    expect(acks).toMatchObject([{ stage: 'failed', reason: 'not resumed after a restart: the flight controller left the executor\'s control: its own failsafe (the flight controller said "Battery failsafe"; mode return); nothing more is commanded until an operator\'s command for this drone' }]);
    announced.stop();
    const r = runner(s2.state, { flight: { state: inAir('hold'), setReturnAltitude: () => Promise.resolve({ ok: true, value: undefined }) } });
    r.resumeOwnTask();
    expect(given).toHaveLength(1);
    r.stop();
  });

  it('on a flight controller that sends no landed state (no EXTENDED_SYS_STATE): armed in its return it does not resume; disarmed it resumes at once', async () => {
    const { s2, given } = restartedAloft();
    const noLanded = (armed: boolean, mode: string) => () => ({ ok: true, value: { timeMs: 0, armed, mode, landed: 'unknown', home: null, failsafe: false } });
    const acks: unknown[] = [];
    const returning = runner(s2.state, { flight: { state: noLanded(true, 'return') } }, acks);
    returning.resumeOwnTask();
    await new Promise((x) => setTimeout(x, 300));
    expect(given).toEqual([]); // before: waited 10 s for a landed state, then flew the mission out of the FC's return
    expect(acks).toMatchObject([{ command: 'ops/10', stage: 'failed', reason: expect.stringMatching(/^not resumed after a restart: the flight controller left the executor's control: the vehicle was returning home \(mode return\)/) }]);
    returning.stop();
    const onGround = runner(s2.state, { flight: { state: noLanded(false, 'hold') } });
    onGround.resumeOwnTask();
    expect(given).toHaveLength(1); // before: only after the 10 s wait
    onGround.stop();
  });

  it('with every waypoint passed it flies none of them again', () => {
    const given = restarted(4, { northM: 0, eastM: 200, upM: 30 });
    expect(given[0]).toMatchObject({ type: 'waypoints', waypoints: [] });
  });

  it('reports its progress in the planned waypoints of its whole part, flying the resumed route', () => {
    const given = restarted(2, { northM: 0, eastM: 0, upM: 30 });
    const route = given[0]!.type === 'waypoints' ? given[0]!.waypoints : [];
    // Resumed at waypoint 2 (index 1): having passed the first two of its route it passed 3 of its part.
    vi.spyOn(Executor.prototype, 'route').mockReturnValue({ mission: 'ops/10', waypoints: route, next: 2 });
    const s1 = applyBlock(initialMissionState(), { height: 1, timeMs: 10_000, members, txs: [goto] });
    const r = runner(applyBlock(s1.state, { height: 2, timeMs: 10_001, members, txs: [at(1_200, 2)] }).state);
    r.resumeOwnTask();
    expect(r.missionProgress()).toEqual({ mission: 'ops/10', flown: 3 });
  });

  it('never flown for the mission (no progress, its last report on the ground), it flies its part from the first waypoint, its take-off its task\'s own', () => {
    const given = restarted(0, { northM: 0, eastM: 0, upM: 0 }, 0);
    expect(given[0]!.type === 'waypoints' && given[0]!.waypoints).toHaveLength(4);
    expect(restarts).toEqual([null]);
  });
});

describe('the simulated vehicle in the device\'s own process (hal.sim)', () => {
  afterEach(stopRigs);

  // It starts anew with the device, on the ground where it started: found there after a restart, it
  // was not landed by anyone, and it flies its part on (as test/device/e2e.test.ts's SIGKILLed device).
  it('restarted mid-mission with its part half flown, it takes off and flies on: no handover', async () => {
    const goto: MissionTx = { kind: 'command', id: 'ops/30', operator: 'ops', type: 'mission.goto', args: { waypoints: [[0, 20], [0, 40]], node: 'd1' }, issuedAt: 1, expiresAt: 1_000_000 };
    const s1 = applyBlock(initialMissionState(), { height: 1, timeMs: 10_000, members, txs: [goto] });
    const s2 = applyBlock(s1.state, { height: 2, timeMs: 10_001, members, txs: [{ kind: 'telemetry', node: 'd1', pos: { n: 0, e: 200 }, altDm: 300, batteryPermille: 900, completed: null, progress: { mission: 'ops/30', flown: 1 } }] });
    const { vehicle, devices } = await executorRig();
    const acks: { stage: string }[] = [];
    const r = runner(s2.state, devices, acks);
    r.resumeOwnTask();
    expect(await until(() => vehicle.state().upM > 2, 10_000)).toBe(true);
    expect(r.handedOver()).toBeNull();
    expect(acks.filter((a) => a.stage === 'failed')).toEqual([]);
    r.stop();
  }, 30_000);
});

describe('a state sync past a committed rtl or land of this drone', () => {
  afterEach(stopRigs);

  it('carries it out: the drone that was told to return while its device was behind returns', async () => {
    const goto: MissionTx = { kind: 'command', id: 'ops/20', operator: 'ops', type: 'mission.goto', args: { waypoints: [[0, 100]], node: 'd1' }, issuedAt: 1, expiresAt: 1_000_000 };
    const rtl: MissionTx = { ...goto, id: 'ops/21', type: 'rtl', args: { nodes: ['d1'] } };
    const s1 = applyBlock(initialMissionState(), { height: 1, timeMs: 10_000, members, txs: [goto] });
    const s2 = applyBlock(s1.state, { height: 2, timeMs: 10_001, members, txs: [rtl] });
    expect(s2.state.drones.find((d) => d.id === 'd1')?.activity).toBe('returning');
    // Its drone hovers where its flight controller held it while the device was down.
    const { vehicle, devices } = await executorRig();
    await devices.flight.execute({ type: 'arm' });
    await devices.flight.execute({ type: 'takeoff', relAltM: 10 });
    expect(await until(() => vehicle.state().upM > 8, 10_000)).toBe(true);
    // The snapshot it installs already holds the rtl; that block's task never went through this device.
    const r = runner(s2.state, devices);
    r.resumeOwnTask();
    expect(await until(() => vehicle.state().mode === 'return', 10_000), vehicle.state().mode).toBe(true);
    r.stop();
  }, 30_000);
});
