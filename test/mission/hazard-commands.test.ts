// Missions and committed hazards, as an operator meets them: a goto into a keep-out is refused
// naming the hazard, one with some waypoints inside says which it left out.

import { describe, expect, it } from 'vitest';
import { applyBlock, initialMissionState } from '../../runtime/mission/machine.js';
import type { ApplyResult, Decision, HazardSet, MissionBlock, MissionCommand, MissionEffect, MissionState, MissionTx, Task } from '../../runtime/mission/types.js';

const devices = ['d1', 'd2', 'd3', 'd4'];
const members = {
  epoch: 1,
  devices,
  operators: [
    { id: 'ops', roles: ['operator' as const] },
    { id: 'boss', roles: ['admin' as const] },
  ],
};

let seq = 0;
function cmd(type: string, args: Record<string, unknown> = {}, operator = 'ops'): MissionCommand {
  seq++;
  return { kind: 'command', id: `c${seq}`, operator, type, args, issuedAt: 1_000, expiresAt: 1_000_000 };
}

const telemetry = (node: string, n: number, e: number): MissionTx => ({ kind: 'telemetry', node, pos: { n: n * 10, e: e * 10 }, altDm: 0, batteryPermille: 900, completed: null });

/** One block of txs on `state`, with `hazards` as the block's new committed set when given. */
function block(state: MissionState, txs: MissionTx[], hazards?: HazardSet): ApplyResult {
  const b: MissionBlock = { height: state.height + 1, timeMs: 10_000 + state.height, members, txs, ...(hazards ? { hazards } : {}) };
  return applyBlock(state, b);
}

const decisions = (fx: readonly MissionEffect[]): Decision[] => fx.flatMap((e) => (e.type === 'decision' ? [e.decision] : []));
const tasks = (fx: readonly MissionEffect[]): { node: string; task: Task }[] => fx.flatMap((e) => (e.type === 'task' ? [{ node: e.node, task: e.task }] : []));

/** Four drones on their pads west of a committed hazard at cell [3, 2] (centre [17.5, 12.5] m). */
function withHazard(): MissionState {
  const pads = block(initialMissionState(), [telemetry('d1', 0, 0), telemetry('d2', 0, -20), telemetry('d3', 0, -40), telemetry('d4', 0, -60)]);
  return block(pads.state, [], { cellDm: 50, cells: [[3, 2]] }).state;
}

describe('a goto and committed hazards', () => {
  it('refuses a goto whose every waypoint lies inside a keep-out, naming the hazard cell', () => {
    // Before, the waypoint was dropped, the empty goto accepted, and d2 reported done on its pad.
    const r = block(withHazard(), [cmd('mission.goto', { node: 'd2', waypoints: [[16, 14]] })]);
    const [d] = decisions(r.effects);
    expect(d?.outcome).toBe('rejected');
    expect(d?.reason).toBe('every waypoint for d2 lies inside the keep-out round committed hazard cell 3,2 (routes keep 8 m from its edge): [16, 14] m');
    expect(tasks(r.effects)).toEqual([]);
    expect(r.state.mission).toBeNull();
  });

  it('accepts a goto with some waypoints inside a keep-out and says which it left out', () => {
    const r = block(withHazard(), [cmd('mission.goto', { node: 'd2', waypoints: [[16, 14], [60, 60]] })]);
    const [d] = decisions(r.effects);
    expect(d?.outcome).toBe('accepted');
    expect(d?.reason).toBe('left out for d2, inside the keep-out round committed hazard cell 3,2: [16, 14] m');
    const t = tasks(r.effects)[0]?.task;
    expect(t?.type === 'waypoints' ? t.waypoints : null).toEqual([{ n: 600, e: 600 }]);
  });

  it('refuses a formation whose slot for a drone lies inside a keep-out', () => {
    const r = block(withHazard(), [cmd('formation', { shape: 'line', center: [17, 12], drones: ['d1'] })]);
    expect(decisions(r.effects)[0]?.reason).toBe('every waypoint for d1 lies inside the keep-out round committed hazard cell 3,2 (routes keep 8 m from its edge): [17, 12] m');
  });
});

describe('hazard.clear', () => {
  const two: HazardSet = { cellDm: 50, cells: [[3, 2], [20, 20]] };
  const fixture = (): MissionState => block(withHazard(), [], two).state;

  it('an admin clears one committed cell: accepted, and the next mission routes straight through it', () => {
    const r = block(fixture(), [cmd('hazard.clear', { cell: [3, 2] }, 'boss')]);
    expect(decisions(r.effects)).toMatchObject([{ type: 'hazard.clear', outcome: 'accepted', reason: 'cleared committed hazard cell 3,2' }]);
    expect(r.effects).toContainEqual({ type: 'hazard-clear', command: 'c' + seq, operator: 'boss', cells: [[3, 2]] });
    expect(r.state.hazards).toEqual({ cellDm: 50, cells: [[20, 20]] });
    const goto = block(r.state, [cmd('mission.goto', { node: 'd2', waypoints: [[16, 14]] })]);
    expect(decisions(goto.effects)[0]?.outcome).toBe('accepted');
  });

  it('all: every committed cell', () => {
    const r = block(fixture(), [cmd('hazard.clear', { all: true }, 'boss')]);
    expect(decisions(r.effects)[0]?.reason).toBe('cleared committed hazard cells 3,2 and 20,20');
    expect(r.state.hazards).toEqual({ cellDm: 50, cells: [] });
  });

  it('a refused clear is committed as rejected with its reason', () => {
    const s = fixture();
    const reasons = [
      block(s, [cmd('hazard.clear', { cell: [3, 2] }, 'ops')]),
      block(s, [cmd('hazard.clear', { cell: [4, 4] }, 'boss')]),
      block(s, [cmd('hazard.clear', {}, 'boss')]),
      block(s, [cmd('hazard.clear', { cell: [3, 2], all: true }, 'boss')]),
      block(s, [cmd('hazard.clear', { cell: [3.5, 2] }, 'boss')]),
      block(s, [cmd('hazard.clear', { all: false }, 'boss')]),
      block(initialMissionState(), [cmd('hazard.clear', { all: true }, 'boss')]),
    ].map((r) => decisions(r.effects)[0]?.reason);
    expect(reasons).toEqual([
      'operator "ops" has role operator; hazard.clear needs admin',
      'cell 4,4 is not a committed hazard; committed: 3,2, 20,20',
      'give args.cell ([north, east] indexes of the 5 m hazard grid, as murmurctl status shows them) or args.all true',
      'give args.cell or args.all, not both',
      'args.cell must be [north, east], two whole numbers (the cell\'s indexes on the hazard grid), is [3.5,2]',
      'args.all must be true (to clear every committed hazard)',
      'no hazard is committed, so there is nothing to clear',
    ]);
  });

  it('a mission flying round a cleared cell is re-planned straight through it', () => {
    const s = block(fixture(), [cmd('mission.goto', { node: 'd1', waypoints: [[0, 0], [40, 25]] })]);
    const before = tasks(s.effects)[0]?.task;
    expect(before?.type === 'waypoints' ? before.waypoints.length : 0).toBeGreaterThan(2); // round the cell
    const r = block(s.state, [cmd('hazard.clear', { cell: [3, 2] }, 'boss')]);
    expect(r.effects.find((e) => e.type === 'replan')).toMatchObject({ nodes: ['d1'], keepOuts: 1 });
    const after = tasks(r.effects).find((t) => t.node === 'd1')?.task;
    expect(after?.type === 'waypoints' ? after.waypoints : null).toEqual([{ n: 0, e: 0 }, { n: 400, e: 250 }]);
  });
});
