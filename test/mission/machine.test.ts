// The mission state machine, driven block by block: allocation, every command's checks, the audit
// of rejected commands, and determinism (same committed inputs, same plan, whatever the order given).

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { applyBlock, initialMissionState } from '../../runtime/mission/machine.js';
import type { ApplyResult, Decision, MissionBlock, MissionCommand, MissionEffect, MissionState, MissionTx, Task } from '../../runtime/mission/types.js';

const devices = ['d1', 'd2', 'd3', 'd4'];
const members = {
  epoch: 1,
  devices,
  operators: [
    { id: 'ops', roles: ['operator' as const] },
    { id: 'boss', roles: ['admin' as const] },
    { id: 'viewer', roles: ['observer' as const] },
  ],
};

let seq = 0;
function cmd(type: string, args: Record<string, unknown> = {}, operator = 'ops', extra: Partial<MissionCommand> = {}): MissionCommand {
  seq++;
  return { kind: 'command', id: `c${seq}`, operator, type, args, issuedAt: 1_000, expiresAt: 1_000_000, ...extra };
}

function telemetry(node: string, n: number, e: number, batteryPermille = 900, completed: string | null = null): MissionTx {
  return { kind: 'telemetry', node, pos: { n: n * 10, e: e * 10 }, altDm: 0, batteryPermille, completed };
}

/** Applies blocks of txs in turn and returns the last result. */
function run(state: MissionState, ...blocks: MissionTx[][]): ApplyResult {
  let r: ApplyResult = { state, effects: [] };
  for (const txs of blocks) {
    const block: MissionBlock = { height: r.state.height + 1, timeMs: 10_000 + r.state.height, members, txs };
    r = applyBlock(r.state, block);
  }
  return r;
}

const decisions = (fx: readonly MissionEffect[]): Decision[] => fx.flatMap((e) => (e.type === 'decision' ? [e.decision] : []));
const tasks = (fx: readonly MissionEffect[]): { node: string; task: Task }[] => fx.flatMap((e) => (e.type === 'task' ? [{ node: e.node, task: e.task }] : []));
const only = (fx: readonly MissionEffect[]): Decision => {
  const d = decisions(fx);
  expect(d).toHaveLength(1);
  return d[0] as Decision;
};

const square = [
  [0, 0],
  [0, 400],
  [400, 400],
  [400, 0],
];
const atCorners = [telemetry('d1', 0, 0), telemetry('d2', 0, 400), telemetry('d3', 400, 0), telemetry('d4', 400, 400)];

describe('mission.survey', () => {
  it('covers a 400 m square with lawnmower lanes split among four drones, each starting nearest', () => {
    const r = run(initialMissionState(), atCorners, [cmd('mission.survey', { area: square, spacingM: 20 })]);
    expect(only(r.effects).outcome).toBe('accepted');
    const t = tasks(r.effects);
    expect(t.map((x) => x.node)).toEqual(devices);
    const lanes = t.map((x) => (x.task.type === 'waypoints' ? x.task.waypoints.length / 2 : 0));
    expect(lanes).toEqual([5, 5, 5, 5]); // 20 lanes (north 10, 30 .. 390) over four drones
    const all = t.flatMap((x) => (x.task.type === 'waypoints' ? x.task.waypoints : []));
    expect(new Set(all.map((w) => w.n)).size).toBe(20);
    // The southern lanes go to a drone at the south edge, the northern lanes to one at the north edge.
    const firstLaneOwner = t.find((x) => x.task.type === 'waypoints' && x.task.waypoints[0]?.n === 100);
    expect(['d1', 'd2']).toContain(firstLaneOwner?.node);
    expect(r.state.mission?.status).toBe('active');
    expect(r.state.drones.every((d) => d.activity === 'tasked')).toBe(true);
    // Its lanes flown, a survey's drone goes home.
    expect(t.every((x) => x.task.type === 'waypoints' && x.task.then === 'return')).toBe(true);
  });

  it('leaves out a drone whose committed battery is under the reserve, and says why when none is left', () => {
    const low = [telemetry('d1', 0, 0, 100), telemetry('d2', 0, 0, 900), telemetry('d3', 0, 0, 150), telemetry('d4', 0, 0, 240)];
    const r = run(initialMissionState(), low, [cmd('mission.survey', { area: square, drones: ['d1', 'd2'] })]);
    expect(tasks(r.effects).map((x) => x.node)).toEqual(['d2']);
    const r2 = run(initialMissionState(), low, [cmd('mission.survey', { area: square, drones: ['d1', 'd3'] })]);
    const d = only(r2.effects);
    expect(d.outcome).toBe('rejected');
    expect(d.reason).toBe('no drone is available: d1 battery 10% is below the 25% reserve; d3 battery 15% is below the 25% reserve');
  });

  it('rejects a second mission while one is active unless replace is set', () => {
    const r1 = run(initialMissionState(), atCorners, [cmd('mission.survey', { area: square })]);
    const id = r1.state.mission?.id;
    const r2 = run(r1.state, [cmd('mission.survey', { area: square })]);
    expect(only(r2.effects).reason).toBe(`mission ${id} is active; send abort first, or set args.replace to true`);
    const r3 = run(r1.state, [cmd('mission.goto', { waypoints: [[10, 10]], node: 'd1', replace: true })]);
    expect(only(r3.effects).outcome).toBe('accepted');
    // d2..d4 had parts of the replaced survey and none in the new mission: they are told to hold.
    expect(tasks(r3.effects).map((x) => `${x.node}:${x.task.type}`)).toEqual(['d1:waypoints', 'd2:hold', 'd3:hold', 'd4:hold']);
  });

  it('a replacing mission stops the replaced one\'s unfinished drones only (a finished one flies on home)', () => {
    const r1 = run(initialMissionState(), atCorners, [cmd('mission.survey', { area: square })]);
    const id = r1.state.mission?.id ?? '';
    const r2 = run(r1.state, [telemetry('d1', 1, 1, 800, id)], [cmd('mission.goto', { waypoints: [[10, 10]], node: 'd2', replace: true })]);
    expect(only(r2.effects).outcome).toBe('accepted');
    expect(tasks(r2.effects).map((x) => `${x.node}:${x.task.type}`)).toEqual(['d2:waypoints', 'd3:hold', 'd4:hold']);
  });

  it('rejects bad areas with the argument named', () => {
    const line = run(initialMissionState(), [cmd('mission.survey', { area: [[0, 0], [0, 10], [0, 20]] })]);
    expect(only(line.effects).reason).toBe('args.area encloses no area (its points are on one line)');
    const missing = run(initialMissionState(), [cmd('mission.survey', {})]);
    expect(only(missing.effects).reason).toBe('args.area must be a list of 3 to 64 [north, east] points in metres');
    const extra = run(initialMissionState(), [cmd('mission.survey', { area: square, color: 'red' })]);
    expect(only(extra.effects).reason).toMatch(/^args\.color is not an argument of this command/);
  });

  it('rejects a self-intersecting area or geofence, naming the edges that cross', () => {
    const bowtie = [[0, 0], [0, 100], [100, 0], [150, 150]]; // edge 2-3 crosses edge 4-1
    const survey = run(initialMissionState(), [cmd('mission.survey', { area: bowtie })]);
    expect(only(survey.effects).reason).toBe('args.area crosses itself: the edge from point 2 to point 3 crosses the edge from point 4 to point 1');
    const fence = run(initialMissionState(), [cmd('geofence.set', { polygon: bowtie }, 'boss')]);
    expect(only(fence.effects).reason).toBe('args.polygon crosses itself: the edge from point 2 to point 3 crosses the edge from point 4 to point 1');
    // A symmetric one encloses zero signed area, but its points are not on one line: the reason says what is wrong.
    const symmetric = run(initialMissionState(), [cmd('mission.survey', { area: [[0, 0], [0, 100], [100, 0], [100, 100]] })]);
    expect(only(symmetric.effects).reason).toBe('args.area crosses itself: the edge from point 2 to point 3 crosses the edge from point 4 to point 1');
    // Closing the ring by repeating the first point, or a vertex touching an edge, is not a crossing.
    const closed = run(initialMissionState(), [cmd('mission.survey', { area: [...square, [0, 0]] })]);
    expect(only(closed.effects).outcome).toBe('accepted');
  });

  it('flies the spans of a concave row in the row\'s direction, so no span is flown twice', () => {
    // A U open to the north: rows above 100 m cross it twice (two arms, 100 m to 300 m east apart).
    const u = [[0, 0], [0, 400], [300, 400], [300, 300], [100, 300], [100, 100], [300, 100], [300, 0]];
    const r = run(initialMissionState(), [telemetry('d1', 0, 0)], [cmd('mission.survey', { area: u, spacingM: 20, drones: ['d1'] })]);
    const t = tasks(r.effects)[0]?.task;
    const wps = t?.type === 'waypoints' ? t.waypoints : [];
    let flownDm = 0;
    for (let i = 1; i < wps.length; i++) if (wps[i]!.n === wps[i - 1]!.n) flownDm += Math.abs(wps[i]!.e - wps[i - 1]!.e);
    // Along the rows: 5 full rows of 400 m, 10 split rows of two 100 m arms and the 200 m gap between, once.
    expect(flownDm).toBe(5 * 4_000 + 10 * 4_000);
  });

  it('ends the mission when every assigned drone has committed that it finished', () => {
    const r1 = run(initialMissionState(), atCorners, [cmd('mission.survey', { area: square })]);
    const id = r1.state.mission?.id ?? '';
    const r2 = run(r1.state, [telemetry('d1', 1, 1, 800, id), telemetry('d2', 1, 1, 800, id), telemetry('d3', 1, 1, 800, id)]);
    expect(r2.state.mission?.done).toEqual(['d1', 'd2', 'd3']);
    const r3 = run(r2.state, [telemetry('d4', 1, 1, 800, id)]);
    expect(r3.state.mission).toBeNull();
    expect(r3.state.drones.every((d) => d.activity === 'idle')).toBe(true);
  });
});

describe('committed progress', () => {
  it('keeps the highest count of planned waypoints each drone reports passing on its own part, up to its length', () => {
    const r = run(initialMissionState(), atCorners, [cmd('mission.goto', { waypoints: [[0, 50], [0, 100], [0, 150]], node: 'd1' })]);
    const id = r.state.mission!.id;
    const report = (node: string, mission: string, flown: number): MissionTx => ({ ...(telemetry(node, 0, 0) as Extract<MissionTx, { kind: 'telemetry' }>), progress: { mission, flown } });
    const flown = (s: MissionState): number | undefined => s.mission?.assignments.find((a) => a.node === 'd1')?.flown;
    const r2 = run(r.state, [report('d1', id, 2)]);
    expect(flown(r2.state)).toBe(2);
    // An older report committed later does not take it back; another mission's, or another drone's, do nothing.
    expect(flown(run(r2.state, [report('d1', id, 1), report('d1', 'other', 3)]).state)).toBe(2);
    expect(run(r2.state, [report('d2', id, 3)]).state.mission!.assignments.map((a) => a.node)).toEqual(['d1']);
    expect(flown(run(r2.state, [report('d1', id, 99)]).state)).toBe(3);
  });
});

describe('roles, expiry and the audit log', () => {
  it('commits unauthorized, unknown and expired commands as rejected, each with its reason', () => {
    const r = run(initialMissionState(), [
      cmd('hold', {}, 'viewer'),
      cmd('param.set', { key: 'speedMps', value: 5 }, 'ops'),
      cmd('noop', {}, 'stranger'),
      cmd('fly.loop', {}, 'ops'),
      cmd('noop', {}, 'ops', { expiresAt: 5_000 }),
      cmd('noop', {}, 'ops'),
    ]);
    expect(decisions(r.effects).map((d) => [d.index, d.outcome, d.reason])).toEqual([
      [0, 'rejected', 'operator "viewer" has role observer; hold needs operator or admin'],
      [1, 'rejected', 'operator "ops" has role operator; param.set needs admin'],
      [2, 'rejected', 'operator "stranger" is not in the fleet manifest (epoch 1)'],
      [3, 'rejected', expect.stringMatching(/^unknown command type "fly.loop"; known: abort, agent.model/)],
      [4, 'rejected', 'command expired at 5000, before block time 10000'],
      [5, 'accepted', ''],
    ]);
    expect(r.state.rejected).toBe(5);
    expect(r.state.accepted).toBe(1);
  });

  it('rejects a command type or parameter key that names an Object.prototype member, instead of throwing', () => {
    // "constructor" passes the wire's type pattern; a throw here would halt every device on the block.
    const r = run(initialMissionState(), [cmd('constructor', {}, 'ops'), cmd('param.set', { key: 'constructor', value: 1 }, 'boss'), cmd('param.set', { key: 'toString', value: 1 }, 'boss'), cmd('param.set', { key: '\u001b[31mx"', value: 1 }, 'boss')]);
    expect(decisions(r.effects).map((d) => [d.outcome, d.reason])).toEqual([
      ['rejected', expect.stringMatching(/^unknown command type "constructor"; known: abort,/)],
      ['rejected', expect.stringMatching(/^args.key "constructor" is not a parameter; known: altitudeM,/)],
      ['rejected', expect.stringMatching(/^args.key "toString" is not a parameter; known: altitudeM,/)],
      // An escape sequence is quoted, not committed raw into every operator's terminal.
      ['rejected', expect.stringMatching(/^args.key "\\u001b\[31mx\\"" is not a parameter; known: altitudeM,/)],
    ]);
    // reassignHandedOver, added later, is not among them until set (params.ts addedLater): read as 0.
    expect(Object.keys(r.state.params)).toEqual(['altitudeM', 'batteryReservePct', 'formationSpacingM', 'laneSpacingM', 'lostAfterS', 'separationM', 'speedMps']);
  });
});

describe('hold, resume, rtl, land, abort', () => {
  it('holds and resumes the active mission and refuses both when the state does not allow them', () => {
    const none = run(initialMissionState(), [cmd('hold')]);
    expect(only(none.effects).reason).toBe('no mission is active, so there is nothing to hold');
    const r1 = run(initialMissionState(), atCorners, [cmd('mission.survey', { area: square })]);
    const resumeActive = run(r1.state, [cmd('resume')]);
    expect(only(resumeActive.effects).reason).toMatch(/is not held, so there is nothing to resume$/);
    const held = run(r1.state, [cmd('hold')]);
    expect(held.state.mission?.status).toBe('held');
    expect(tasks(held.effects).every((x) => x.task.type === 'hold')).toBe(true);
    const resumed = run(held.state, [cmd('resume')]);
    expect(resumed.state.mission?.status).toBe('active');
    expect(tasks(resumed.effects)).toHaveLength(4);
  });

  it('hold and resume leave a drone that has finished its part alone (a survey drone flies on home)', () => {
    const r1 = run(initialMissionState(), atCorners, [cmd('mission.survey', { area: square })]);
    const id = r1.state.mission?.id ?? '';
    const r2 = run(r1.state, [telemetry('d1', 1, 1, 800, id)]);
    const held = run(r2.state, [cmd('hold')]);
    expect(tasks(held.effects).map((x) => `${x.node}:${x.task.type}`)).toEqual(['d2:hold', 'd3:hold', 'd4:hold']);
    const resumed = run(held.state, [cmd('resume')]);
    expect(tasks(resumed.effects).map((x) => `${x.node}:${x.task.type}`)).toEqual(['d2:resume', 'd3:resume', 'd4:resume']);
    expect(resumed.state.drones.map((d) => d.activity)).toEqual(['idle', 'tasked', 'tasked', 'tasked']);
  });

  it('rtl and land never depend on state; abort clears the mission', () => {
    const r1 = run(initialMissionState(), atCorners, [cmd('mission.survey', { area: square })]);
    const rtl = run(r1.state, [cmd('rtl', { nodes: ['d2'] })]);
    // d2's unflown lanes go on with another drone (reassign.test.ts says which and how).
    expect(tasks(rtl.effects).map((x) => [x.node, x.task.type])).toEqual([['d2', 'rtl'], [expect.any(String), 'waypoints']]);
    expect(rtl.state.mission?.assignments.map((a) => a.node)).toEqual(['d1', 'd3', 'd4']);
    const land = run(initialMissionState(), [cmd('land')]);
    expect(only(land.effects).outcome).toBe('accepted');
    const abort = run(r1.state, [cmd('abort')]);
    expect(abort.state.mission).toBeNull();
    expect(tasks(abort.effects).map((x) => x.task.type)).toEqual(['abort', 'abort', 'abort', 'abort']);
  });
  it('rtl or land of drones that finished, or of all that had not, still lets the mission end', () => {
    const r1 = run(initialMissionState(), atCorners, [cmd('mission.goto', { waypoints: [[50, 50]], nodes: ['d1', 'd2', 'd3'] })]);
    const id = r1.state.mission?.id ?? '';
    const r2 = run(r1.state, [telemetry('d1', 5, 5, 800, id)]);
    // d1 finished and hovers there; the operator brings it home. d2 and d3 finishing ends the mission.
    const r3 = run(r2.state, [cmd('rtl', { nodes: ['d1'] })]);
    expect(r3.state.mission?.assignments.map((a) => a.node)).toEqual(['d2', 'd3']);
    const r4 = run(r3.state, [telemetry('d2', 5, 6, 800, id), telemetry('d3', 5, 7, 800, id)]);
    expect(r4.state.mission).toBeNull();
    // Landing the only drone that had not finished leaves nothing to wait for: the mission is over.
    const r5 = run(r2.state, [telemetry('d2', 5, 6, 800, id)], [cmd('land', { nodes: ['d3'] })]);
    expect(r5.state.mission).toBeNull();
    expect(only(run(r5.state, [cmd('mission.goto', { waypoints: [[10, 10]], node: 'd1' })]).effects).outcome).toBe('accepted');
  });
  it('a drone the manifest in force no longer names leaves the mission, which the others can then end', () => {
    const r1 = run(initialMissionState(), atCorners, [cmd('mission.survey', { area: square })]);
    const id = r1.state.mission?.id ?? '';
    // A fleet.update took d4 out: its telemetry is ignored from now on, so it can never finish its part.
    const without = { ...members, epoch: 2, devices: ['d1', 'd2', 'd3'] };
    const r2 = applyBlock(r1.state, { height: r1.state.height + 1, timeMs: 20_000, members: without, txs: [] });
    expect(r2.state.mission?.assignments.map((a) => a.node)).toEqual(['d1', 'd2', 'd3']);
    // The drone that took d4's part reports it all passed first, as its device does (progress.ts finishedProgress).
    const passed = (r2.state.mission?.assignments ?? []).map((a): MissionTx => ({ kind: 'telemetry', node: a.node, pos: { n: 10, e: 10 }, altDm: 0, batteryPermille: 800, completed: null, progress: { mission: id, flown: a.waypoints.length } }));
    const finished = [...passed, ...['d1', 'd2', 'd3', 'd4'].map((d) => telemetry(d, 1, 1, 800, id))];
    const r3 = applyBlock(r2.state, { height: r2.state.height + 1, timeMs: 20_001, members: without, txs: finished });
    expect(r3.state.mission).toBeNull();
  });
});

describe('geofence, params, formation, goto, models, fleet.update', () => {
  it('rejects a mission that leaves the geofence, naming the waypoint', () => {
    const fence = run(initialMissionState(), [cmd('geofence.set', { polygon: [[-10, -10], [-10, 200], [200, 200], [200, -10]], altMaxM: 50 }, 'boss')]);
    expect(only(fence.effects).outcome).toBe('accepted');
    const r = run(fence.state, [cmd('mission.goto', { waypoints: [[100, 100], [300, 100]], node: 'd1' })]);
    expect(only(r.effects).reason).toBe('waypoint [300, 100] m for d1 is outside the geofence');
    const high = run(fence.state, [cmd('mission.goto', { waypoints: [[100, 100]], node: 'd1', altM: 60 })]);
    expect(only(high.effects).reason).toBe('altitude 60 m is above the geofence ceiling of 50 m');
  });

  it('refuses a geofence that the active mission\'s unflown parts would leave, or whose ceiling is below it', () => {
    const r1 = run(initialMissionState(), [cmd('mission.goto', { waypoints: [[100, 100], [300, 100]], node: 'd1', altM: 40 })]);
    const small = [[-10, -10], [-10, 200], [200, 200], [200, -10]];
    const out = run(r1.state, [cmd('geofence.set', { polygon: small, altMaxM: 120 }, 'boss')]);
    expect(only(out.effects).reason).toBe(`waypoint [300, 100] m of mission ${r1.state.mission?.id} for d1 is outside the new geofence; abort or replace the mission first`);
    const low = run(r1.state, [cmd('geofence.set', { polygon: [[-10, -10], [-10, 400], [400, 400], [400, -10]], altMaxM: 30 }, 'boss')]);
    expect(only(low.effects).reason).toBe(`mission ${r1.state.mission?.id} flies up to 43 m (its legs to their routes included), above the new ceiling of 30 m; abort or replace the mission first`);
    // Once d1 has flown its part (and the mission is over), the fence no longer concerns it.
    const id = r1.state.mission?.id ?? '';
    const flown = run(r1.state, [telemetry('d1', 100, 100, 800, id), cmd('geofence.set', { polygon: [[-10, -10], [-10, 400], [400, 400], [400, -10]], altMaxM: 30 }, 'boss')]);
    expect(only(flown.effects).outcome).toBe('accepted');
  });

  it('plans a route round a committed hazard on the side inside the geofence, and rejects one with no way round inside it', () => {
    const fence = run(initialMissionState(), [cmd('geofence.set', { polygon: [[-5, -5], [-5, 300], [300, 300], [300, -5]] }, 'boss')]);
    // A 5 m hazard cell 2.5 m north of the line the drone is sent along: the side away from it (south) is past the fence.
    const hazard = applyBlock(fence.state, { height: fence.state.height + 1, timeMs: 20_000, members, txs: [], hazards: { cellDm: 50, cells: [[0, 20]] } });
    const r = applyBlock(hazard.state, { height: hazard.state.height + 1, timeMs: 20_001, members, txs: [cmd('mission.goto', { waypoints: [[0, 0], [0, 200]], node: 'd1' })] });
    expect(only(r.effects).outcome).toBe('accepted');
    const route = tasks(r.effects)[0]?.task;
    expect(route?.type === 'waypoints' && route.waypoints.every((p) => p.n >= -50 && p.n > 0 === (p.e > 0 && p.e < 2_000))).toBe(true); // round it to the north
    // In a corridor 12 m wide the keep-out spans it: no way round.
    const corridor = run(initialMissionState(), [cmd('geofence.set', { polygon: [[-6, -5], [-6, 300], [6, 300], [6, -5]] }, 'boss')]);
    const h2 = applyBlock(corridor.state, { height: corridor.state.height + 1, timeMs: 20_000, members, txs: [], hazards: { cellDm: 50, cells: [[0, 20]] } });
    const r2 = applyBlock(h2.state, { height: h2.state.height + 1, timeMs: 20_001, members, txs: [cmd('mission.goto', { waypoints: [[0, 0], [0, 200]], node: 'd1' })] });
    expect(only(r2.effects).reason).toBe('no way round the committed hazards from [0, 0] m to [0, 200] m keeps inside the geofence and outside every keep-out (for d1)');
  });

  it('rejects a mission with a leg that leaves a concave geofence between two waypoints inside it', () => {
    // A U open to the north: the two arms are inside, the notch between them is not.
    const u = [[0, 0], [0, 400], [300, 400], [300, 300], [100, 300], [100, 100], [300, 100], [300, 0]];
    const fence = run(initialMissionState(), [cmd('geofence.set', { polygon: u }, 'boss')]);
    expect(only(fence.effects).outcome).toBe('accepted');
    const r = run(fence.state, [cmd('mission.goto', { waypoints: [[200, 50], [200, 350]], node: 'd1' })]);
    expect(only(r.effects).reason).toBe('the leg from [200, 50] m to [200, 350] m for d1 leaves the geofence');
    const round = run(fence.state, [cmd('mission.goto', { waypoints: [[200, 50], [50, 50], [50, 350], [200, 350]], node: 'd1' })]);
    expect(only(round.effects).outcome).toBe('accepted');
    // Nor may a new fence cut a leg of the active mission still to be flown.
    const box = run(initialMissionState(), [cmd('mission.goto', { waypoints: [[200, 50], [200, 350]], node: 'd1' })]);
    const cut = run(box.state, [cmd('geofence.set', { polygon: u }, 'boss')]);
    expect(only(cut.effects).reason).toBe(`the leg from [200, 50] m to [200, 350] m of mission ${box.state.mission?.id} for d1 leaves the new geofence; abort or replace the mission first`);
  });

  it('checks param names and ranges', () => {
    const r = run(initialMissionState(), [
      cmd('param.set', { key: 'speedMps', value: 99 }, 'boss'),
      cmd('param.set', { key: 'warp', value: 1 }, 'boss'),
      cmd('param.set', { key: 'altitudeM', value: 50 }, 'boss'),
    ]);
    expect(decisions(r.effects).map((d) => d.reason)).toEqual([
      'args.value is 99; it must be from 1 to 15',
      'args.key "warp" is not a parameter; known: altitudeM, batteryReservePct, formationSpacingM, laneSpacingM, lostAfterS, reassignHandedOver, separationM, speedMps',
      '',
    ]);
    expect(r.state.params.altitudeM).toBe(50);
  });

  it('places a circle formation with integer trigonometry, one slot per drone', () => {
    const r = run(initialMissionState(), atCorners, [cmd('formation', { shape: 'circle', center: [200, 200], spacingM: 50 })]);
    const slots = tasks(r.effects).map((x) => (x.task.type === 'waypoints' ? x.task.waypoints[0] : null));
    expect(new Set(slots.map((p) => `${p?.n},${p?.e}`))).toEqual(new Set(['2500,2000', '2000,2500', '1500,2000', '2000,1500']));
    // A formation is held once in place.
    expect(tasks(r.effects).every((x) => x.task.type === 'waypoints' && x.task.then === 'hold')).toBe(true);
  });

  it('keeps every two drones of a circle formation at least the formation spacing apart, however many fly', () => {
    const fleet = (n: number) => ({ ...members, devices: Array.from({ length: n }, (_, i) => `x${String(i).padStart(3, '0')}`) });
    for (const n of [7, 12, 40, 360]) {
      const r = applyBlock(initialMissionState(), { height: 1, timeMs: 10_000, members: fleet(n), txs: [cmd('formation', { shape: 'circle', center: [0, 0], spacingM: 10 })] });
      expect(only(r.effects).outcome).toBe('accepted');
      const slots = tasks(r.effects).flatMap((x) => (x.task.type === 'waypoints' ? [x.task.waypoints[0] as { n: number; e: number }] : []));
      expect(slots).toHaveLength(n);
      let closest = Infinity;
      for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) closest = Math.min(closest, Math.hypot(slots[i]!.n - slots[j]!.n, slots[i]!.e - slots[j]!.e));
      expect(closest, `${n} drones`).toBeGreaterThanOrEqual(100 - 3); // 10 m, less the floor of each coordinate
    }
    const r = applyBlock(initialMissionState(), { height: 1, timeMs: 10_000, members: fleet(361), txs: [cmd('formation', { shape: 'circle', center: [0, 0], spacingM: 10 })] });
    expect(only(r.effects).reason).toBe('args.shape circle places at most 360 drones (one per whole degree), and 361 are available; use grid, or name the drones in args.drones');
  });

  it('sends a goto group with an eastward offset per drone, and refuses a drone low on battery', () => {
    const r = run(initialMissionState(), [cmd('mission.goto', { waypoints: [[50, 50]], nodes: ['d2', 'd1'] })]);
    expect(tasks(r.effects).map((x) => (x.task.type === 'waypoints' ? x.task.waypoints[0] : null))).toEqual([
      { n: 500, e: 500 },
      { n: 500, e: 600 },
    ]);
    expect(tasks(r.effects).every((x) => x.task.type === 'waypoints' && x.task.then === 'hold')).toBe(true);
    const low = run(initialMissionState(), [telemetry('d3', 0, 0, 120)], [cmd('mission.goto', { waypoints: [[5, 5]], node: 'd3' })]);
    expect(only(low.effects).reason).toBe('d3 battery 12% is below the 25% reserve');
    const unknown = run(initialMissionState(), [cmd('mission.goto', { waypoints: [[5, 5]], node: 'd9' })]);
    expect(only(unknown.effects).reason).toBe('args.node names "d9", which is not a device in the fleet manifest');
    // Both given: which drones go must not be a guess (args.nodes was silently ignored).
    const both = run(initialMissionState(), [cmd('mission.goto', { waypoints: [[5, 5]], node: 'd1', nodes: ['d2', 'd3'] })]);
    expect(only(both.effects).reason).toBe('give args.node or args.nodes, not both');
  });

  it('accepts fleet.update only from an admin with a newer, edge-checked manifest, in force two heights after the block that commits its manifest tx', () => {
    const bytes = new Uint8Array([1, 2, 3]);
    const r = run(initialMissionState(), [
      cmd('fleet.update', { manifest: bytes }, 'ops'),
      cmd('fleet.update', { manifest: bytes }, 'boss', { manifest: { ok: false, reason: 'signature does not verify' } }),
      cmd('fleet.update', { manifest: bytes }, 'boss', { manifest: { ok: true, epoch: 1 } }),
      cmd('fleet.update', { manifest: bytes }, 'boss', { manifest: { ok: true, epoch: 2 } }),
    ]);
    expect(decisions(r.effects).map((d) => d.reason)).toEqual([
      'operator "ops" has role operator; fleet.update needs admin',
      'args.manifest: signature does not verify',
      'args.manifest has epoch 1, not newer than the epoch in force (1)',
      '',
    ]);
    // The manifest goes into a block after this one (height 1) as its own tx and is in force two heights
    // after that block: height 4 at the earliest, not 3 (what was logged, when an ops command committed
    // at height 3 was still checked against the old manifest).
    expect(r.effects.find((e) => e.type === 'fleet-update')).toMatchObject({ epoch: 2, earliestFromHeight: 4 });
  });
});

describe('determinism', () => {
  it('any order of the manifest device list and any positions give one plan, and it covers every lane once', () => {
    const coord = fc.integer({ min: -500, max: 500 });
    fc.assert(
      fc.property(fc.array(fc.tuple(coord, coord), { minLength: 4, maxLength: 4 }), fc.integer({ min: 5, max: 60 }), (pos, spacing) => {
        const tel = devices.map((d, i) => telemetry(d, (pos[i] as [number, number])[0], (pos[i] as [number, number])[1]));
        const survey = cmd('mission.survey', { area: square, spacingM: spacing });
        const a = run(initialMissionState(), tel, [survey]);
        const shuffled = { ...members, devices: [...devices].reverse() };
        const s1 = applyBlock(initialMissionState(), { height: 1, timeMs: 10_000, members: shuffled, txs: [...tel].reverse() });
        const b = applyBlock(s1.state, { height: 2, timeMs: 10_001, members: shuffled, txs: [survey] });
        expect(b.effects).toEqual(a.effects);
        const lanesN = tasks(a.effects).flatMap((x) => (x.task.type === 'waypoints' ? x.task.waypoints.filter((_, i) => i % 2 === 0).map((w) => w.n) : []));
        expect(new Set(lanesN).size).toBe(lanesN.length);
      }),
      { numRuns: 100, seed: 6 },
    );
  });
});
