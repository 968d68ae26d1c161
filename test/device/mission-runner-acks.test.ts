// What a device acks of its part of a mission (MissionRunner): a part a committed block ended (an
// abort, the swarm handing it to another drone) is acked failed with the reason by its own device, and
// said as ended by every validator, so `murmurctl send --wait executed` hears its end (before: no ack,
// and the wait timed out); the progress it acks and its status show never fall back (before: a route
// grown on a reassign acked 250, 125, 250; the status said 0% while the mission was held).

import { afterEach, describe, expect, it, vi } from 'vitest';
import type { CommittedBlock } from '../../runtime/consensus/types.js';
import { Executor, type ExecReport } from '../../runtime/device/executor.js';
import { MissionRunner, type MissionRunnerOptions } from '../../runtime/device/mission-runner.js';
import { applyBlock, initialMissionState } from '../../runtime/mission/machine.js';
import type { MissionBlock, MissionState, MissionTx } from '../../runtime/mission/types.js';
import type { NodeShell } from '../../runtime/node/shell.js';
import type { AckBody } from '../../runtime/wire/ack.js';

// The committed block as the mission machine sees it, without signing envelopes for it.
const next = vi.hoisted(() => ({ block: null as unknown }));
vi.mock('../../runtime/device/mission-adapter.js', async (actual) => ({ ...(await actual<object>()), missionBlockOf: () => next.block }));

afterEach(() => vi.restoreAllMocks());

const members = { epoch: 1, devices: ['d1', 'd2', 'd3'], operators: [{ id: 'ops', roles: ['operator' as const] }] };
const cmd = (id: string, type: string, args: Record<string, unknown> = {}): MissionTx => ({ kind: 'command', id, operator: 'ops', type, args, issuedAt: 0, expiresAt: 1e12 });
const report = (node: string, n: number, e: number, progress: { mission: string; flown: number } | null = null): MissionTx => ({ kind: 'telemetry', node, pos: { n, e }, altDm: 300, batteryPermille: 900, completed: null, progress });
/** d1, d2 and d3 are validators; d3 flies nothing. */
const shell = { core: { chain: { manifestAt: () => ({ body: { validators: members.devices.map((id) => ({ id, power: 1 })) } }) } } } as unknown as NodeShell;

/** A device `id` with the committed `state`, its acks in `acks`; its executor runs nothing: its
 *  reports are given by hand (`exec`), as the executor's report callback gives them. */
function device(id: string, state: MissionState): { r: MissionRunner; acks: AckBody[]; exec: (x: ExecReport) => void } {
  const acks: AckBody[] = [];
  const quiet = { info: () => undefined, warn: () => undefined };
  const control = { ack: (a: AckBody) => void acks.push(a), proof: () => undefined, log: () => undefined };
  const metrics = { commands: { inc: () => undefined } };
  vi.spyOn(Executor.prototype, 'run').mockImplementation(() => undefined);
  const o = { id, fleet: 'f', manifest: { body: { authority: new Uint8Array(32) } }, hal: { devices: {} }, origin: { latDeg: 47, lonDeg: 8 }, fence: null, log: quiet, control, metrics } as unknown as MissionRunnerOptions;
  const r = new MissionRunner(o);
  r.state = state;
  // The executor's report callback (MissionRunner's constructor gives it onExec).
  const exec = (x: ExecReport): void => (r as unknown as { onExec: (x: ExecReport) => void }).onExec(x);
  return { r, acks, exec };
}

function commit(r: MissionRunner, txs: MissionTx[], timeMs: number): void {
  const height = r.state.height + 1;
  next.block = { height, timeMs, members, txs } satisfies MissionBlock;
  r.onCommit({ block: { height }, hash: new Uint8Array(32), certificate: { height, blockHash: new Uint8Array(32) }, txs: [], proof: new Uint8Array(0) } as unknown as CommittedBlock, shell);
}

/** A survey of a 200 m x 100 m field by d1 and d2 (ten waypoints each), d2 five waypoints into it. */
function surveying(): MissionState {
  let s = applyBlock(initialMissionState(), { height: 1, timeMs: 10_000, members, txs: [report('d1', 0, 0), report('d2', 2_000, 0), report('d3', 0, 5_000)] }).state;
  s = applyBlock(s, { height: 2, timeMs: 11_000, members, txs: [cmd('ops/s1', 'mission.survey', { area: [[0, 0], [0, 100], [200, 100], [200, 0]], spacingM: 20, drones: ['d1', 'd2'] })] }).state;
  return applyBlock(s, { height: 3, timeMs: 12_000, members, txs: [report('d2', 1_400, 500, { mission: 'ops/s1', flown: 5 })] }).state;
}

const ofMission = (acks: AckBody[]): Pick<AckBody, 'stage' | 'reason' | 'progress' | 'assigned'>[] => acks.filter((a) => a.command === 'ops/s1').map(({ stage, reason, progress, assigned }) => ({ stage, reason, progress, assigned }));

describe("a device's acks of its part of a mission", () => {
  it('an abort: the drone acks its part failed with the reason and the progress it made; every validator says each part ended', () => {
    const d2 = device('d2', surveying());
    d2.exec({ command: 'ops/s1', stage: 'progress', progress: 600, reason: '' });
    const d3 = device('d3', surveying());
    commit(d2.r, [cmd('ops/a1', 'abort')], 13_000);
    commit(d3.r, [cmd('ops/a1', 'abort')], 13_000);
    const aborted = 'aborted by abort ops/a1 at height 4';
    expect(ofMission(d2.acks)).toEqual([
      { stage: 'progress', reason: '', progress: 600, assigned: [] },
      { stage: 'ended', reason: aborted, progress: 0, assigned: ['d1'] },
      { stage: 'failed', reason: aborted, progress: 600, assigned: [] },
      { stage: 'ended', reason: aborted, progress: 500, assigned: ['d2'] },
    ]);
    // d3 flies nothing of it: it says what ended the others' parts (d1 and d2 may be silent).
    expect(ofMission(d3.acks)).toEqual([
      { stage: 'ended', reason: aborted, progress: 0, assigned: ['d1'] },
      { stage: 'ended', reason: aborted, progress: 500, assigned: ['d2'] },
    ]);
  });

  it("a silent drone's part handed to another: said by the validators, with the drone that flies it on", () => {
    const d1 = device('d1', surveying());
    commit(d1.r, [report('d1', 100, 100)], 12_000 + 120_001);
    expect(ofMission(d1.acks)).toEqual([{ stage: 'ended', reason: 'handed to d1: no telemetry of d2 committed for 120 s (lostAfterS 120)', progress: 500, assigned: ['d2', 'd1'] }]);
  });

  it("after its part ended, the executor's work under the mission's id (a lost drone's rtl) is not acked as that part going on or done", () => {
    const d2 = device('d2', surveying());
    commit(d2.r, [report('d1', 100, 100)], 12_000 + 120_001);
    // Handed to d1: only the validators' `ended` (d2 is one) says so, no `failed` of d2's own (it reached
    // murmurctl first and ended its wait while d1 flew the part).
    expect(ofMission(d2.acks).map((a) => [a.stage, a.assigned])).toEqual([['ended', ['d2', 'd1']]]);
    d2.exec({ command: 'ops/s1', stage: 'started', progress: 0, reason: '' });
    d2.exec({ command: 'ops/s1', stage: 'done', progress: 1000, reason: '' });
    expect(ofMission(d2.acks).map((a) => a.stage)).toEqual(['ended']);
    // A failure of it is still said: the drone does not go home.
    d2.exec({ command: 'ops/s1', stage: 'failed', progress: 0, reason: 'not carried out: a pilot has it' });
    expect(ofMission(d2.acks).map((a) => [a.stage, a.progress])).toEqual([['ended', 500], ['failed', 500]]);
  });

  it("a taker's acks of the part it took on carry the height of the block that handed it over, as the validators' ended does", () => {
    const d1 = device('d1', surveying());
    commit(d1.r, [report('d1', 100, 100)], 12_000 + 120_001);
    const ended = d1.acks.find((a) => a.command === 'ops/s1' && a.stage === 'ended');
    expect(ended?.assigned).toEqual(['d2', 'd1']);
    d1.exec({ command: 'ops/s1', stage: 'done', progress: 1000, reason: '' });
    // murmurctl takes a taker's done for the part only at or past that height (its done of the route
    // from before carries an earlier one).
    expect(d1.acks.at(-1)).toMatchObject({ stage: 'done', height: ended!.height });
    expect(ended!.height).toBe(4);
  });

  it('the progress acked never falls back: a route grown from 4 to 8 waypoints carries on from the most said', () => {
    const d1 = device('d1', surveying());
    for (const [stage, progress] of [['progress', 250], ['started', 125], ['progress', 250], ['progress', 375], ['progress', 625], ['done', 1000]] as const) d1.exec({ command: 'ops/s1', stage, progress, reason: '' });
    expect(ofMission(d1.acks).map((a) => a.progress)).toEqual([250, 250, 250, 375, 625, 1000]);
  });

  it("the status shows the mission's progress while it is held, not the hold's", () => {
    const d1 = device('d1', surveying());
    d1.exec({ command: 'ops/s1', stage: 'progress', progress: 400, reason: '' });
    commit(d1.r, [cmd('ops/h1', 'hold')], 13_000);
    d1.exec({ command: 'ops/h1', stage: 'started', progress: 0, reason: '' });
    expect(d1.r.missionSummary()).toEqual({ id: 'ops/s1', status: 'held', progressPct: 40 });
    // Restarted (no ack remembered): what its committed telemetry says it flew.
    const d2 = device('d2', d1.r.state);
    expect(d2.r.missionSummary()).toEqual({ id: 'ops/s1', status: 'held', progressPct: 50 });
  });
});
