// A drone lost from a mission (removed by the manifest, battery below the reserve, no committed
// telemetry for lostAfterS of block time) leaves it, and a survey's unflown part of it goes to the
// nearest drone still flying the mission: decided by the machine from committed inputs alone, so every
// device re-tasks the same drone with the same route at the same height (runtime/mission/reassign.ts).

import { describe, expect, it } from 'vitest';
import { applyBlock, initialMissionState } from '../../runtime/mission/machine.js';
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
    // d1 finishing its longer route ends the mission.
    expect(at(r.state, 90_000, [{ ...report('d1', 0, 0), completed: 's1' }]).state.mission).toBeNull();
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
