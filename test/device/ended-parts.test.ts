// Which parts of a mission a committed block ended before they were flown, and why
// (runtime/device/ended-parts.ts): read from the mission machine's own output, so every device says the
// same of the same block, and murmurctl send --wait executed can believe f + 1 validators saying it.

import { describe, expect, it } from 'vitest';
import { endedParts } from '../../runtime/device/ended-parts.js';
import { applyBlock, initialMissionState } from '../../runtime/mission/machine.js';
import type { ApplyResult, MissionState, MissionTx } from '../../runtime/mission/types.js';

const members = { epoch: 1, devices: ['d1', 'd2', 'd3'], operators: [{ id: 'ops', roles: ['operator' as const] }] };
const cmd = (id: string, type: string, args: Record<string, unknown> = {}): MissionTx => ({ kind: 'command', id, operator: 'ops', type, args, issuedAt: 0, expiresAt: 1e12 });
const report = (node: string, n: number, e: number, progress: { mission: string; flown: number } | null = null, completed: string | null = null): MissionTx => ({ kind: 'telemetry', node, pos: { n, e }, altDm: 300, batteryPermille: 900, completed, progress });

function at(s: MissionState, timeMs: number, txs: MissionTx[]): ApplyResult {
  return applyBlock(s, { height: s.height + 1, timeMs, members, txs });
}

/** The parts block `txs` at `timeMs` ends, as every device works them out after applying it. */
function ended(s: MissionState, timeMs: number, txs: MissionTx[]): ReturnType<typeof endedParts> {
  const r = at(s, timeMs, txs);
  return endedParts(s.mission, r.state.mission, r.state.height, txs, r.effects);
}

/** A survey of a 200 m x 100 m field by d1 and d2, five lanes (ten waypoints) each; d2 passed 5. */
function surveying(): MissionState {
  const s0 = at(initialMissionState(), 10_000, [report('d1', 0, 0), report('d2', 2_000, 0), report('d3', 0, 5_000)]).state;
  const s1 = at(s0, 11_000, [cmd('ops/s1', 'mission.survey', { area: [[0, 0], [0, 100], [200, 100], [200, 0]], spacingM: 20, drones: ['d1', 'd2'] })]).state;
  return at(s1, 12_000, [report('d2', 1_400, 500, { mission: 'ops/s1', flown: 5 })]).state;
}

describe('the parts of a mission a committed block ends', () => {
  it('an abort ends every unfinished part, with the abort command, its height and the committed progress', () => {
    const s = surveying();
    expect(ended(s, 13_000, [cmd('ops/a1', 'abort')])).toEqual([
      { node: 'd1', to: null, reason: 'aborted by abort ops/a1 at height 4', progress: 0 },
      { node: 'd2', to: null, reason: 'aborted by abort ops/a1 at height 4', progress: 500 },
    ]);
  });

  it('a mission that replaces it ends its parts, named by the new mission', () => {
    const s = surveying();
    const parts = ended(s, 13_000, [cmd('ops/g1', 'mission.goto', { waypoints: [[0, 50]], node: 'd3', replace: true })]);
    expect(parts.map((p) => [p.node, p.reason])).toEqual([['d1', 'replaced by mission.goto ops/g1 at height 4'], ['d2', 'replaced by mission.goto ops/g1 at height 4']]);
  });

  it("an rtl of one drone of a goto ends that drone's part, not the other's", () => {
    const s0 = at(initialMissionState(), 10_000, [report('d1', 0, 0), report('d2', 0, 100)]).state;
    const s = at(s0, 11_000, [cmd('ops/g1', 'mission.goto', { waypoints: [[0, 500]], nodes: ['d1', 'd2'] })]).state;
    expect(ended(s, 12_000, [cmd('ops/r1', 'rtl', { nodes: ['d2'] })])).toEqual([{ node: 'd2', to: null, reason: 'sent home by rtl ops/r1 at height 3', progress: 0 }]);
  });

  it("an rtl of one drone of a survey hands its unflown lanes to the other, and says whose rtl it was", () => {
    const parts = ended(surveying(), 13_000, [cmd('ops/r1', 'rtl', { nodes: ['d2'] })]);
    expect(parts).toHaveLength(1);
    expect(parts[0]).toMatchObject({ node: 'd2', to: 'd1', progress: 500 });
    expect(parts[0]!.reason).toMatch(/^handed to d1: rtl of d2 by ops/);
  });

  it('a silent drone lost from the mission: its part is handed to the drone that flies it on, with why', () => {
    const s = surveying();
    // d2's last report was at 12 s; lostAfterS is 120 s of block time.
    const parts = ended(s, 12_000 + 120_001, [report('d1', 100, 100)]);
    expect(parts).toEqual([{ node: 'd2', to: 'd1', reason: 'handed to d1: no telemetry of d2 committed for 120 s (lostAfterS 120)', progress: 500 }]);
  });

  it("a taker's completion of its old route does not hide its part from an abort in the same block", () => {
    // d2 is lost and its lanes go to d1; d1's "completed", signed before it heard of them, comes in the
    // block that aborts the mission: d1's grown part ended unflown, and is said (the machine does not
    // count that completion either: completionCovers).
    const lost = at(surveying(), 12_000 + 120_001, [report('d1', 100, 100)]).state;
    const parts = ended(lost, 133_000, [report('d1', 0, 0, null, 'ops/s1'), cmd('ops/a1', 'abort')]);
    expect(parts.map((p) => [p.node, p.reason])).toEqual([['d1', 'aborted by abort ops/a1 at height 5']]);
  });

  it('a part flown to its end, and the mission completed by it, is not an ended part; nor is a hold', () => {
    const s = surveying();
    const d1Done = at(s, 13_000, [report('d1', 0, 0, null, 'ops/s1')]);
    expect(endedParts(s.mission, d1Done.state.mission, 4, [report('d1', 0, 0, null, 'ops/s1')], d1Done.effects)).toEqual([]);
    const last = [report('d2', 0, 0, null, 'ops/s1')];
    const over = at(d1Done.state, 14_000, last);
    expect(over.state.mission).toBeNull();
    expect(endedParts(d1Done.state.mission, over.state.mission, 5, last, over.effects)).toEqual([]);
    expect(ended(s, 13_000, [cmd('ops/h1', 'hold')])).toEqual([]);
  });
});
