// A drone lost from a mission (removed by the manifest, battery below the reserve, no committed
// telemetry for lostAfterS of block time) leaves it, and a survey's unflown part of it goes to the
// nearest drone still flying the mission: decided by the machine from committed inputs alone, so every
// device re-tasks the same drone with the same route at the same height (runtime/mission/reassign.ts).

import { describe, expect, it } from 'vitest';
import { applyBlock, initialMissionState } from '../../runtime/mission/machine.js';
import { paramOf } from '../../runtime/mission/params.js';
import { finishedProgress } from '../../runtime/mission/progress.js';
import type { ApplyResult, MissionBlock, MissionEffect, MissionState, MissionTx, PointDm, Task } from '../../runtime/mission/types.js';

const members = { epoch: 1, devices: ['d1', 'd2', 'd3'], operators: [{ id: 'ops', roles: ['operator' as const] }] };
const cmd = (id: string, type: string, args: Record<string, unknown>): MissionTx => ({ kind: 'command', id, operator: 'ops', type, args, issuedAt: 0, expiresAt: 1e12 });
const report = (node: string, n: number, e: number, battery = 900, progress: { mission: string; flown: number } | null = null): Extract<MissionTx, { kind: 'telemetry' }> => ({ kind: 'telemetry', node, pos: { n, e }, altDm: 300, batteryPermille: battery, completed: null, progress });
const tasks = (fx: readonly MissionEffect[]): { node: string; task: Task }[] => fx.flatMap((e) => (e.type === 'task' ? [{ node: e.node, task: e.task }] : []));

/** One block at `timeMs` (and the members, by default the three devices). */
function at(s: MissionState, timeMs: number, txs: MissionTx[], devices = members.devices): ApplyResult {
  const block: MissionBlock = { height: s.height + 1, timeMs, members: { ...members, devices }, txs };
  return applyBlock(s, block);
}

/** A survey of a 200 m x 100 m field by d1 and d2 (d3 stays out), lanes 20 m apart: five each. */
function surveying(): MissionState {
  const s0 = at(initialMissionState(), 10_000, [report('d1', 0, 0), report('d2', 2_000, 0), report('d3', 0, 5_000)]).state;
  const r = at(s0, 11_000, [cmd('s1', 'mission.survey', { area: [[0, 0], [0, 100], [200, 100], [200, 0]], spacingM: 20, drones: ['d1', 'd2'] })]);
  expect(r.state.mission?.assignments.map((a) => [a.node, a.waypoints.length])).toEqual([['d1', 10], ['d2', 10]]);
  return r.state;
}

const part = (s: MissionState, node: string): readonly PointDm[] => s.mission?.assignments.find((a) => a.node === node)?.waypoints ?? [];

describe('a drone lost from a survey', () => {
  it('below the battery reserve: it is sent home and d1 flies the lanes it had not flown, from the leg it was on', () => {
    const s = surveying();
    const d2Part = part(s, 'd2');
    const d1Part = part(s, 'd1');
    // d2 passed 5 of its 10 waypoints, then its committed battery fell under the 25% reserve.
    const s1 = at(s, 20_000, [report('d2', 1_400, 500, 600, { mission: 's1', flown: 5 })]).state;
    const r = at(s1, 21_000, [report('d2', 1_400, 600, 240, { mission: 's1', flown: 5 }), report('d1', 400, 800)]);
    expect(r.effects.filter((e) => e.type === 'reassign')).toEqual([{ type: 'reassign', height: r.state.height, mission: 's1', from: 'd2', cause: 'battery', reason: 'd2 battery 24% is below the 25% reserve', to: 'd1', waypoints: 6 }]);
    expect(r.state.mission?.assignments.map((a) => a.node)).toEqual(['d1']);
    expect(part(r.state, 'd1')).toEqual([...d1Part, ...d2Part.slice(4)]);
    const t = tasks(r.effects);
    expect(t.map((x) => [x.node, x.task.type])).toEqual([['d1', 'waypoints'], ['d2', 'rtl']]);
    const d1Task = t[0]!.task;
    // It carries on with its own lanes and then flies d2's, and the way there, at its own (return) altitude.
    expect(d1Task).toMatchObject({ type: 'waypoints', mission: 's1', replan: true, waypoints: [...d1Part, ...d2Part.slice(4)] });
    expect(d1Task.type === 'waypoints' && d1Task.joins).toEqual([{ from: 10, to: 15, altDm: expect.any(Number) }]);
    expect(d1Task.type === 'waypoints' && d1Task.joins?.[0]?.altDm).toBeGreaterThan(300);
    expect(r.state.drones.find((d) => d.id === 'd2')?.activity).toBe('returning');
    // The same committed blocks give every device the same result.
    expect(at(s1, 21_000, [report('d2', 1_400, 600, 240, { mission: 's1', flown: 5 }), report('d1', 400, 800)])).toEqual(r);
    // d1 finishing its longer route (its device reports all 15 passed, then completed) ends the mission.
    expect(at(r.state, 90_000, [report('d1', 0, 0, 900, { mission: 's1', flown: 16 }), { ...report('d1', 0, 0), completed: 's1' }]).state.mission).toBeNull();
  });

  // A device does not carry out an automatic task on a vehicle a pilot or the FC's own failsafe has
  // (runtime/device/executor.ts run); the command id cannot tell (both name the mission: s1).
  it("the tasks say who decided them: the survey's parts and an operator's rtl, the operator; the lost drone's rtl and the grown route, the machine", () => {
    const s0 = at(initialMissionState(), 10_000, [report('d1', 0, 0), report('d2', 2_000, 0), report('d3', 0, 5_000)]).state;
    const started = at(s0, 11_000, [cmd('s1', 'mission.survey', { area: [[0, 0], [0, 100], [200, 100], [200, 0]], spacingM: 20, drones: ['d1', 'd2'] })]);
    const origins = (fx: readonly MissionEffect[]): [string, string, string, string][] => fx.flatMap((e) => (e.type === 'task' ? [[e.node, e.command, e.task.type, e.origin] as [string, string, string, string]] : []));
    expect(origins(started.effects)).toEqual([['d1', 's1', 'waypoints', 'operator'], ['d2', 's1', 'waypoints', 'operator']]);
    const lost = at(started.state, 21_000, [report('d2', 1_400, 600, 240, { mission: 's1', flown: 5 }), report('d1', 400, 800)]);
    expect(origins(lost.effects)).toEqual([['d1', 's1', 'waypoints', 'automatic'], ['d2', 's1', 'rtl', 'automatic']]);
    expect(origins(at(lost.state, 22_000, [cmd('ops/9', 'rtl', { nodes: ['d1'] })]).effects)).toEqual([['d1', 'ops/9', 'rtl', 'operator']]);
  });

  it('silent for lostAfterS of block time: lost, its part to the drone still reporting; a report in time keeps it', () => {
    const s = surveying();
    // d1 keeps reporting; d2's last report is at 10 s (before the mission started at 11 s).
    const early = at(s, 11_000 + 120_000, [report('d1', 100, 100)]);
    expect(early.effects).toEqual([]);
    const r = at(early.state, 11_000 + 120_001, [report('d1', 100, 100)]);
    expect(r.effects.filter((e) => e.type === 'reassign')).toMatchObject([{ from: 'd2', cause: 'silent', to: 'd1', waypoints: 10, reason: 'no telemetry of d2 committed for 120 s (lostAfterS 120)' }]);
    expect(tasks(r.effects).map((x) => [x.node, x.task.type])).toEqual([['d1', 'waypoints'], ['d2', 'rtl']]);
    // With d2's reports committed in time nothing happens.
    const kept = at(at(s, 100_000, [report('d2', 2_000, 0)]).state, 11_000 + 120_001, [report('d1', 100, 100)]);
    expect(kept.effects).toEqual([]);
  });

  it('silent for lostAfterS before a survey: left out of it, and the accept decision says who and why', () => {
    const s0 = at(initialMissionState(), 10_000, [report('d1', 0, 0), report('d2', 2_000, 0), report('d3', 0, 5_000)]).state;
    // d1 and d2 keep reporting; d3's last report is 130 s old when the survey commits.
    const s1 = at(s0, 130_000, [report('d1', 0, 0), report('d2', 2_000, 0)]).state;
    const r = at(s1, 140_001, [cmd('s1', 'mission.survey', { area: [[0, 0], [0, 100], [200, 100], [200, 0]], spacingM: 20 })]);
    expect(r.state.mission?.assignments.map((a) => a.node)).toEqual(['d1', 'd2']);
    expect(r.effects.find((e) => e.type === 'decision')).toMatchObject({ decision: { outcome: 'accepted', reason: 'left out: no telemetry of d3 committed for 130 s (lostAfterS 120)' } });
    // A goto naming it is rejected with the same reason; with none left a survey is too.
    const g = at(s1, 140_001, [cmd('g1', 'mission.goto', { node: 'd3', waypoints: [[10, 10]] })]);
    expect(g.effects.find((e) => e.type === 'decision')).toMatchObject({ decision: { outcome: 'rejected', reason: 'no telemetry of d3 committed for 130 s (lostAfterS 120)' } });
    const none = at(s1, 140_001, [cmd('s2', 'mission.survey', { area: [[0, 0], [0, 100], [200, 100], [200, 0]], drones: ['d3'] })]);
    expect(none.effects.find((e) => e.type === 'decision')).toMatchObject({ decision: { outcome: 'rejected', reason: 'no drone is available: no telemetry of d3 committed for 130 s (lostAfterS 120)' } });
  });

  it('a drone of the mission already silent for lostAfterS when it started is judged from its last report, not given a fresh lostAfterS', () => {
    const s0 = at(initialMissionState(), 200_000, [report('d1', 0, 0), report('d2', 2_000, 0)]).state;
    const s = at(s0, 201_000, [cmd('s1', 'mission.survey', { area: [[0, 0], [0, 100], [200, 100], [200, 0]], spacingM: 20, drones: ['d1', 'd2'] })]).state;
    // As a mission restored from an older version could have it: d2 last heard 141 s before the start.
    const stale: MissionState = { ...s, drones: s.drones.map((d) => (d.id === 'd2' ? { ...d, telemetryMs: 60_000 } : d)) };
    const r = at(stale, 202_000, [report('d1', 0, 0)]);
    expect(r.effects.filter((e) => e.type === 'reassign')).toMatchObject([{ from: 'd2', cause: 'silent', to: 'd1', reason: 'no telemetry of d2 committed for 142 s (lostAfterS 120)' }]);
  });

  it("sent home or landed by an operator's rtl or land: its unflown lanes go to d1, and the decision says so", () => {
    const s = surveying();
    const d2 = part(s, 'd2');
    // d2 has passed 3 of its 10 planned waypoints: d1 flies the rest from the leg it was on.
    const moved = at(s, 12_000, [report('d2', 2_000, 0, 900, { mission: 's1', flown: 3 })]).state;
    for (const type of ['rtl', 'land']) {
      const r = at(moved, 13_000, [cmd(`${type}1`, type, { nodes: ['d2'] })]);
      expect(r.effects.filter((e) => e.type === 'reassign')).toMatchObject([{ from: 'd2', cause: 'operator', reason: `${type} of d2 by ops`, to: 'd1', waypoints: 8 }]);
      expect(part(r.state, 'd1').slice(10)).toEqual(d2.slice(2));
      expect(tasks(r.effects)).toEqual([
        { node: 'd2', task: { type } },
        { node: 'd1', task: expect.objectContaining({ type: 'waypoints', replan: true, joins: [expect.objectContaining({ from: 10 })] }) },
      ]);
      expect(r.effects.find((e) => e.type === 'decision')).toMatchObject({ decision: { outcome: 'accepted', reason: `${type} of d2 by ops: d2 leaves mission s1; d1 flies its 8 unflown waypoints` } });
      // The mission ends only when d1 has flown both parts.
      expect(r.state.mission?.assignments.map((a) => a.node)).toEqual(['d1']);
    }
    // rtl of both: nobody is left to fly either part; each drop is said, and the mission is over.
    const all = at(moved, 13_000, [cmd('rtl2', 'rtl', { nodes: ['d1', 'd2'] })]);
    expect(all.state.mission).toBeNull();
    expect(all.effects.filter((e) => e.type === 'reassign')).toMatchObject([{ from: 'd1', to: null, waypoints: 10 }, { from: 'd2', to: null, waypoints: 8 }]);
  });

  it("the taker's 'completed' signed for its own part before it heard the grown route does not end the mission; one after flying it all does", () => {
    const s = surveying();
    // d1 flies its own part to its end (progress 10 of 10 committed), then d2 runs low: d1 takes d2's part.
    const own = at(s, 12_000, [report('d1', 0, 0, 900, { mission: 's1', flown: 10 })]).state;
    const grown = at(own, 13_000, [report('d2', 0, 0, 100)]).state;
    expect(part(grown, 'd1')).toHaveLength(20);
    // d1's "completed", signed when its route was its own 10 waypoints, committed after the growth.
    const done = (st: MissionState, t: number): ApplyResult => at(st, t, [{ ...report('d1', 0, 0), completed: 's1' }]);
    const stale = done(grown, 14_000);
    expect(stale.state.mission?.done).toEqual([]);
    expect(stale.state.mission?.assignments.map((a) => a.node)).toEqual(['d1']);
    // Having flown the taken part too (its device reports all 20 passed first: progress.ts finishedProgress), it counts.
    const flown = at(stale.state, 15_000, [report('d1', 0, 0, 900, { mission: 's1', flown: 20 })]).state;
    expect(done(flown, 16_000).state.mission).toBeNull();
  });

  it('a device whose route of the grown part is flown to its end reports every planned waypoint passed before its completed; a route from before the growth says nothing', () => {
    const s = surveying();
    const grown = at(at(s, 12_000, [report('d1', 0, 0, 900, { mission: 's1', flown: 10 })]).state, 13_000, [report('d2', 0, 0, 100)]).state;
    const m = grown.mission as NonNullable<MissionState['mission']>;
    expect(finishedProgress(m, 'd1', 20)).toEqual({ mission: 's1', flown: 20 });
    expect(finishedProgress(m, 'd1', 10)).toBeNull();
    // Once the committed progress counts them all, or for a part that never grew: "completed" at once.
    const counted = at(grown, 14_000, [report('d1', 0, 0, 900, { mission: 's1', flown: 20 })]).state.mission as NonNullable<MissionState['mission']>;
    expect(finishedProgress(counted, 'd1', 20)).toBeNull();
    expect(finishedProgress(s.mission as NonNullable<MissionState['mission']>, 'd1', 10)).toBeNull();
  });

  it('removed by the manifest in force: its part goes to d1 and it is told nothing (it is no longer in the fleet)', () => {
    const s = surveying();
    const r = at(s, 12_000, [], ['d1', 'd3']);
    expect(r.effects.filter((e) => e.type === 'reassign')).toMatchObject([{ from: 'd2', cause: 'removed', to: 'd1', waypoints: 10 }]);
    expect(tasks(r.effects).map((x) => x.node)).toEqual(['d1']);
  });

  it('with no drone left to take it, its part is dropped and the mission ends with the others', () => {
    const s = surveying();
    const r = at(s, 12_000, [report('d1', 0, 0, 100), report('d2', 0, 0, 100)]);
    expect(r.effects.filter((e) => e.type === 'reassign')).toMatchObject([{ from: 'd1', to: null }, { from: 'd2', to: null }]);
    expect(r.state.mission).toBeNull();
  });

  it("a goto's part is its own drone's: dropped, not flown by another", () => {
    const s0 = at(initialMissionState(), 10_000, [report('d1', 0, 0), report('d2', 0, 100)]).state;
    const s = at(s0, 11_000, [cmd('g1', 'mission.goto', { waypoints: [[50, 50]], nodes: ['d1', 'd2'] })]).state;
    const r = at(s, 12_000, [report('d2', 0, 100, 100), report('d1', 0, 0)]);
    expect(r.effects.filter((e) => e.type === 'reassign')).toMatchObject([{ from: 'd2', cause: 'battery', to: null, waypoints: 1 }]);
    expect(r.state.mission?.assignments.map((a) => a.node)).toEqual(['d1']);
  });
});

/** d2's report that its vehicle was handed over from `mission` (no progress: it stands still then). */
const handedOver = (node: string, n: number, e: number, mission: string, battery = 900): Extract<MissionTx, { kind: 'telemetry' }> => ({ ...report(node, n, e, battery), handedOver: mission });
const admin = (id: string, key: string, value: number): MissionTx => ({ kind: 'command', id, operator: 'adm', type: 'param.set', args: { key, value }, issuedAt: 0, expiresAt: 1e12 });
const withAdmin = { ...members, operators: [...members.operators, { id: 'adm', roles: ['admin' as const] }] };
function atAdmin(s: MissionState, timeMs: number, txs: MissionTx[]): ApplyResult {
  return applyBlock(s, { height: s.height + 1, timeMs, members: withAdmin, txs });
}
const reassigns = (fx: readonly MissionEffect[]): MissionEffect[] => fx.filter((e) => e.type === 'reassign');

describe('a drone handed over from its part (a pilot or the FC took it, or a restart left it on the ground)', () => {
  /** The survey with d2 5 waypoints into its 10, and the switch at `on`. */
  function handingOver(on: number): { s: MissionState; d1Part: readonly PointDm[]; d2Part: readonly PointDm[] } {
    const s0 = surveying();
    const s1 = at(s0, 20_000, [report('d2', 1_400, 500, 900, { mission: 's1', flown: 5 })]).state;
    const r = atAdmin(s1, 20_500, [admin('p1', 'reassignHandedOver', on)]);
    expect(r.effects.filter((e) => e.type === 'decision').map((e) => e.type === 'decision' && e.decision.outcome)).toEqual(['accepted']);
    return { s: r.state, d1Part: part(s0, 'd1'), d2Part: part(s0, 'd2') };
  }

  it('with reassignHandedOver 1: it leaves the mission told nothing, and d1 flies its unflown lanes from the leg it was on', () => {
    const { s, d1Part, d2Part } = handingOver(1);
    const txs = [handedOver('d2', 1_400, 600, 's1'), report('d1', 400, 800)];
    const r = at(s, 21_000, txs);
    expect(reassigns(r.effects)).toEqual([
      {
        type: 'reassign',
        height: r.state.height,
        mission: 's1',
        from: 'd2',
        cause: 'handed-over',
        reason: "d2 was handed over from mission s1 (its committed telemetry says a pilot or its flight controller's own failsafe has the vehicle, or a restart left it on the ground after it flew for the mission; its status says why): it is told nothing, so the swarm does not take it back",
        to: 'd1',
        waypoints: 6,
      },
    ]);
    expect(r.state.mission?.assignments.map((a) => a.node)).toEqual(['d1']);
    expect(part(r.state, 'd1')).toEqual([...d1Part, ...d2Part.slice(4)]);
    // Only d1 is tasked: no rtl for d2, which would take the vehicle back from whoever has it.
    const t = tasks(r.effects);
    expect(t.map((x) => [x.node, x.task.type])).toEqual([['d1', 'waypoints']]);
    expect(t[0]!.task).toMatchObject({ type: 'waypoints', mission: 's1', replan: true, waypoints: [...d1Part, ...d2Part.slice(4)], then: 'return' });
    expect(t[0]!.task.type === 'waypoints' && t[0]!.task.joins).toEqual([{ from: 10, to: 15, altDm: expect.any(Number) }]);
    expect(r.state.drones.find((d) => d.id === 'd2')?.activity).toBe('idle');
    // The same committed blocks give every device the same result.
    expect(at(s, 21_000, txs)).toEqual(r);
    // Its next reports, still handed over, change nothing; d1 finishing its longer route ends the mission.
    const later = at(r.state, 30_000, [handedOver('d2', 1_400, 600, 's1')]);
    expect(later.effects).toEqual([]);
    const all = part(later.state, 'd1').length;
    expect(at(later.state, 90_000, [report('d1', 0, 0, 900, { mission: 's1', flown: all }), { ...report('d1', 0, 0), completed: 's1' }]).state.mission).toBeNull();
  });

  it('handed over with its battery under the reserve too: the handover decides, and it is still not told to return', () => {
    const { s } = handingOver(1);
    const r = at(s, 21_000, [handedOver('d2', 1_400, 600, 's1', 100), report('d1', 400, 800)]);
    expect(reassigns(r.effects)).toMatchObject([{ from: 'd2', cause: 'handed-over', to: 'd1' }]);
    expect(tasks(r.effects).map((x) => x.node)).toEqual(['d1']);
    // The same low battery without the handover sends it home, as before.
    const low = at(s, 21_000, [report('d2', 1_400, 600, 100), report('d1', 400, 800)]);
    expect(reassigns(low.effects)).toMatchObject([{ from: 'd2', cause: 'battery', to: 'd1' }]);
    expect(tasks(low.effects).map((x) => [x.node, x.task.type])).toEqual([['d1', 'waypoints'], ['d2', 'rtl']]);
  });

  it('with reassignHandedOver 0 (the default) it keeps its part; once the admin sets 1, its next report hands the part on', () => {
    const s0 = surveying();
    expect(paramOf(s0.params, 'reassignHandedOver')).toBe(0);
    const { s } = handingOver(0);
    const off = at(s, 21_000, [handedOver('d2', 1_400, 600, 's1'), report('d1', 400, 800)]);
    expect(off.effects).toEqual([]);
    expect(off.state.mission?.assignments.map((a) => a.node)).toEqual(['d1', 'd2']);
    // The switch alone decides nothing (the machine keeps no handover): the next report does.
    const on = atAdmin(off.state, 22_000, [admin('p2', 'reassignHandedOver', 1)]);
    expect(reassigns(on.effects)).toEqual([]);
    const r = at(on.state, 23_000, [handedOver('d2', 1_400, 600, 's1')]);
    expect(reassigns(r.effects)).toMatchObject([{ from: 'd2', cause: 'handed-over', to: 'd1', waypoints: 6 }]);
  });

  it('a handover from another mission, or after the drone finished its part, changes nothing', () => {
    const { s } = handingOver(1);
    expect(at(s, 21_000, [handedOver('d2', 1_400, 600, 'older-mission')]).effects).toEqual([]);
    // d2 reports its part finished, then (a pilot took it on its way home) handed over from it.
    const done = at(s, 21_000, [{ ...report('d2', 1_400, 600), completed: 's1' }]);
    expect(done.state.mission?.done).toEqual(['d2']);
    const after = at(done.state, 22_000, [handedOver('d2', 1_400, 600, 's1')]);
    expect(after.effects).toEqual([]);
    expect(after.state.mission).toEqual(done.state.mission);
  });

  it("a goto's handed-over part is dropped; the mission ends when no drone with a part is left", () => {
    const s0 = at(initialMissionState(), 10_000, [report('d1', 0, 0), report('d2', 0, 100)]).state;
    const s1 = atAdmin(s0, 10_500, [admin('p1', 'reassignHandedOver', 1)]).state;
    const s = at(s1, 11_000, [cmd('g1', 'mission.goto', { waypoints: [[50, 50]], nodes: ['d1', 'd2'] })]).state;
    const r = at(s, 12_000, [handedOver('d2', 0, 100, 'g1'), report('d1', 0, 0)]);
    expect(reassigns(r.effects)).toMatchObject([{ from: 'd2', cause: 'handed-over', to: null, waypoints: 1 }]);
    expect(tasks(r.effects)).toEqual([]);
    expect(r.state.mission?.assignments.map((a) => a.node)).toEqual(['d1']);
    const last = at(r.state, 13_000, [handedOver('d1', 0, 0, 'g1')]);
    expect(reassigns(last.effects)).toMatchObject([{ from: 'd1', cause: 'handed-over', to: null }]);
    expect(tasks(last.effects)).toEqual([]);
    expect(last.state.mission).toBeNull();
  });

  it('a report from the mission an operator replaces in the same block: the new mission keeps the drone, its task stands', () => {
    const { s } = handingOver(1);
    // The report was signed under s1; the replacing survey after it in the block tasks d2 anew (a new
    // task gives the vehicle back to its device). Before, d2 left s2 at once as "handed over from
    // mission s2", told nothing, with its fresh lanes given to d1 as well.
    const r = at(s, 21_000, [handedOver('d2', 1_400, 600, 's1'), cmd('s2', 'mission.survey', { area: [[0, 0], [0, 100], [200, 100], [200, 0]], spacingM: 20, drones: ['d1', 'd2'], replace: true })]);
    expect(r.state.mission?.id).toBe('s2');
    expect(reassigns(r.effects)).toEqual([]);
    expect(r.state.mission?.assignments.map((a) => a.node)).toEqual(['d1', 'd2']);
    expect(tasks(r.effects).map((x) => [x.node, x.task.type === 'waypoints' && x.task.mission])).toEqual([['d1', 's2'], ['d2', 's2']]);
    // A report of the handover from s1 committed later changes s2 in nothing either.
    expect(at(r.state, 22_000, [handedOver('d2', 1_400, 600, 's1')]).effects).toEqual([]);
  });

  it('the switch takes 0 or 1 only: a fraction is rejected with the reason', () => {
    const r = atAdmin(surveying(), 12_000, [admin('p1', 'reassignHandedOver', 0.5)]);
    expect(r.effects.filter((e) => e.type === 'decision')).toMatchObject([{ decision: { outcome: 'rejected', reason: 'args.value of reassignHandedOver must be a whole number (0 to 1), is 0.5' } }]);
    expect(r.state.params.reassignHandedOver).toBeUndefined(); // unset: 0 (params.ts addedLater)
    expect(paramOf(r.state.params, 'reassignHandedOver')).toBe(0);
  });
});
