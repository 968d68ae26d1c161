// A device's committed telemetry counts only when it is after the last one the chain applied for it
// (session, then seq): a replay of a stopped drone's old reports, which anyone on the broker can
// publish and whose signatures still verify, must not make it look alive, move it or hand it over.

import { describe, expect, it } from 'vitest';
import { applyBlock, initialMissionState } from '../../runtime/mission/machine.js';
import type { ApplyResult, DroneState, MissionBlock, MissionState, MissionTx, PointDm } from '../../runtime/mission/types.js';

const members = { epoch: 1, devices: ['d1', 'd2'], operators: [{ id: 'ops', roles: ['operator' as const] }, { id: 'boss', roles: ['admin' as const] }] };
const goto = (id: string, node: string): MissionTx => ({ kind: 'command', id, operator: 'ops', type: 'mission.goto', args: { node, waypoints: [[10, 10]] }, issuedAt: 0, expiresAt: 1e12 });
const report = (node: string, session: number, seq: number, pos: PointDm, batteryPermille = 900): MissionTx => ({ kind: 'telemetry', node, pos, altDm: 0, batteryPermille, completed: null, progress: null, sent: { session, seq } });

function at(s: MissionState, timeMs: number, txs: MissionTx[]): ApplyResult {
  const block: MissionBlock = { height: s.height + 1, timeMs, members, txs };
  return applyBlock(s, block);
}

const drone = (s: MissionState, id: string): DroneState => s.drones.find((d) => d.id === id) as DroneState;
const decision = (r: ApplyResult): { outcome: string; reason: string } | undefined => r.effects.flatMap((e) => (e.type === 'decision' ? [e.decision] : []))[0];

describe('telemetry is ordered by session and seq', () => {
  it("a stopped drone's old reports, committed again, leave it silent: a goto for it is still rejected", () => {
    // d2 reports twice, then stops; 200 s later (past the default lostAfterS) its reports come again.
    let s = at(initialMissionState(), 10_000, [report('d1', 7, 0, { n: 0, e: 0 }), report('d2', 5, 1, { n: 100, e: 0 })]).state;
    s = at(s, 11_000, [report('d2', 5, 2, { n: 200, e: 0 }, 800)]).state;
    const silentMs = 11_000 + 200_000;
    s = at(s, silentMs - 1_000, [report('d1', 7, 1, { n: 0, e: 0 })]).state;
    const replayed = at(s, silentMs, [report('d2', 5, 1, { n: 100, e: 0 }), report('d2', 5, 2, { n: 200, e: 0 }, 800)]);
    expect(drone(replayed.state, 'd2')).toMatchObject({ pos: { n: 200, e: 0 }, batteryPermille: 800, telemetryMs: 11_000 });
    const g = at(replayed.state, silentMs + 1_000, [goto('g1', 'd2')]);
    expect(decision(g)).toMatchObject({ outcome: 'rejected', reason: expect.stringMatching(/^no telemetry of d2 committed for 201 s/) });
  });

  it('a later seq counts; an earlier one committed after it changes nothing', () => {
    const s = at(initialMissionState(), 10_000, [report('d1', 7, 3, { n: 30, e: 0 }), report('d1', 7, 2, { n: 20, e: 0 }, 100)]).state;
    expect(drone(s, 'd1')).toMatchObject({ pos: { n: 30, e: 0 }, batteryPermille: 900, telemetrySent: { session: 7, seq: 3 } });
    expect(drone(at(s, 11_000, [report('d1', 7, 4, { n: 40, e: 0 })]).state, 'd1')).toMatchObject({ pos: { n: 40, e: 0 }, telemetryMs: 11_000 });
  });

  it('a restarted device (a later session, its seq from 0 again) counts at once; its earlier session no more', () => {
    let s = at(initialMissionState(), 10_000, [report('d1', 1_000, 500, { n: 50, e: 0 })]).state;
    s = at(s, 11_000, [report('d1', 1_001, 0, { n: 60, e: 0 })]).state;
    expect(drone(s, 'd1')).toMatchObject({ pos: { n: 60, e: 0 }, telemetrySent: { session: 1_001, seq: 0 } });
    s = at(s, 12_000, [report('d1', 1_000, 501, { n: 70, e: 0 })]).state;
    expect(drone(s, 'd1')).toMatchObject({ pos: { n: 60, e: 0 }, telemetryMs: 11_000 });
  });

  it('a replayed handover report does not take a drone from its mission', () => {
    const handed = (session: number, seq: number): MissionTx => ({ ...(report('d1', session, seq, { n: 0, e: 0 }) as Extract<MissionTx, { kind: 'telemetry' }>), handedOver: 'g1' });
    let s = at(initialMissionState(), 10_000, [report('d1', 7, 0, { n: 0, e: 0 }), report('d2', 7, 0, { n: 0, e: 0 })]).state;
    s = at(s, 10_500, [{ kind: 'command', id: 'p', operator: 'boss', type: 'param.set', args: { key: 'reassignHandedOver', value: 1 }, issuedAt: 0, expiresAt: 1e12 }]).state;
    s = at(s, 11_000, [goto('g1', 'd1'), report('d1', 7, 1, { n: 0, e: 0 })]).state;
    expect(s.mission?.assignments.map((a) => a.node)).toEqual(['d1']);
    // Reports no later than the last applied (recorded ones, in this test made to name g1) hand nothing over.
    const replay = at(s, 12_000, [handed(7, 1), handed(6, 9)]);
    expect(replay.state.mission?.assignments.map((a) => a.node)).toEqual(['d1']);
    expect(at(s, 12_000, [handed(7, 2)]).state.mission).toBeNull();
  });
});
