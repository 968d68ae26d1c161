// The device application's snapshot: a mission state with a survey under way, a fence, a parameter,
// a model rollout and telemetry goes to bytes and back unchanged; equal states built in another key
// order give equal bytes (the commitment is compared across devices); a damaged one names its field.

import { describe, expect, it } from 'vitest';
import { decodeMissionSnapshot, encodeMissionSnapshot } from '../../runtime/device/mission-snapshot.js';
import { applyBlock, initialMissionState } from '../../runtime/mission/machine.js';
import type { MissionState, MissionTx } from '../../runtime/mission/types.js';
import { decodeCbor, encodeCanonicalCbor, encodeCbor } from '../../runtime/wire/cbor.js';
import { emptyHazardState, type HazardState } from '../../agents/swarm/hazard-commit.js';

const members = { epoch: 1, devices: ['d1', 'd2', 'd3'], operators: [{ id: 'ops', roles: ['operator' as const] }, { id: 'boss', roles: ['admin' as const] }] };
const cmd = (id: string, type: string, args: Record<string, unknown>, operator = 'ops'): MissionTx => ({ kind: 'command', id, operator, type, args, issuedAt: 1_000, expiresAt: 1_000_000 });
const at = (node: string, n: number, e: number): MissionTx => ({ kind: 'telemetry', node, pos: { n, e }, altDm: 0, batteryPermille: 870, completed: null });

function busyState(): MissionState {
  let s = initialMissionState();
  const blocks: MissionTx[][] = [
    [at('d1', 0, 0), at('d2', 0, 1000), at('d3', 1000, 0)],
    [cmd('f', 'geofence.set', { polygon: [[-50, -50], [-50, 600], [600, 600], [600, -50]], altMaxM: 80 }, 'boss'), cmd('p', 'param.set', { key: 'speedMps', value: 7 }, 'boss')],
    [cmd('m', 'agent.model', { model: 'hazard', version: '3', canary: 0.34 }, 'boss')],
    [cmd('s', 'mission.survey', { area: [[0, 0], [0, 400], [400, 400], [400, 0]], spacingM: 25 })],
    // d1 committed how far it has flown its part (Assignment.flown).
    [{ kind: 'telemetry', node: 'd1', pos: { n: 0, e: 0 }, altDm: 300, batteryPermille: 860, completed: null, progress: { mission: 's', flown: 3 }, sent: { session: 1_700_000_000, seq: 12 } }],
  ];
  for (const txs of blocks) s = applyBlock(s, { height: s.height + 1, timeMs: 50_000 + s.height, members, txs }).state;
  return s;
}

/** The hazard rule's counts: one committed cell, one still short of its quorum. */
const hazardRule: HazardState = {
  cells: {
    '3,-2': { cell: [3, -2], present: { d1: 5, d2: 6 }, absent: {}, observedAt: { d1: 5_100, d2: 6_200 }, committedAt: 6, committedBy: ['d1', 'd2'], lastHeight: 6 },
    '0,0': { cell: [0, 0], present: { d3: 7 }, absent: { d1: 8 }, observedAt: { d1: 8_000, d3: 7_000 }, committedAt: null, clearedAt: 5, lastHeight: 8 },
  },
};

const decisions = [{ height: 4, index: 0, command: 'ops/aa', operator: 'ops', type: 'mission.survey', outcome: 'accepted' as const, reason: '', blockHash: 'ab'.repeat(32) }];

/** The same value with every object's keys inserted in reverse order. */
function reversedKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(reversedKeys);
  if (typeof v !== 'object' || v === null || v instanceof Uint8Array) return v;
  return Object.fromEntries(Object.entries(v).reverse().map(([k, x]) => [k, reversedKeys(x)]));
}

describe('mission snapshot', () => {
  it('round-trips a busy mission state and the decision log', () => {
    const s = busyState();
    expect(s.mission?.status).toBe('active');
    expect(s.mission?.assignments.find((a) => a.node === 'd1')?.flown).toBe(3);
    expect(s.drones.find((d) => d.id === 'd1')?.telemetrySent).toEqual({ session: 1_700_000_000, seq: 12 });
    expect(s.geofence).not.toBeNull();
    const d = decodeMissionSnapshot(encodeMissionSnapshot({ mission: s, decisions, hazardRule }));
    expect(d.ok ? d.value : d.error).toEqual({ mission: s, decisions, hazardRule });
    // A snapshot written before devices ran the hazard rule reads as no counts yet.
    const old = decodeMissionSnapshot(encodeCbor({ mission: s, decisions }));
    expect(old.ok ? old.value.hazardRule : old.error).toEqual(emptyHazardState);
  });

  it('is canonical: the same state built with other key orders encodes to the same bytes', () => {
    const s = busyState();
    const a = encodeMissionSnapshot({ mission: s, decisions, hazardRule });
    const b = encodeMissionSnapshot({ mission: reversedKeys(s) as MissionState, decisions: reversedKeys(decisions) as typeof decisions, hazardRule: reversedKeys(hazardRule) as HazardState });
    expect(Buffer.from(b).equals(Buffer.from(a))).toBe(true);
  });

  it('names the field of a damaged snapshot', () => {
    const bytes = encodeMissionSnapshot({ mission: busyState(), decisions, hazardRule });
    const v = (decodeCbor(bytes, 1 << 20) as { ok: true; value: { mission: { drones: { activity: string }[] }; hazardRule: { cells: Record<string, { cell: number[] }> } } }).value;
    (v.mission.drones[1] as { activity: string }).activity = 'dancing';
    const d = decodeMissionSnapshot(encodeCbor(v));
    expect(d.ok || d.error).toMatch(/app\.mission\.drones\[1\]\.activity must be one of idle, tasked/);
    const w = (decodeCbor(bytes, 1 << 20) as { ok: true; value: { hazardRule: { cells: Record<string, { cell: number[] }> } } }).value;
    (w.hazardRule.cells['0,0'] as { cell: number[] }).cell = [1, 0];
    const e = decodeMissionSnapshot(encodeCbor(w));
    expect(e.ok || e.error).toMatch(/app\.hazardRule\.cells\.0,0: the key does not name its cell/);
    expect(decodeMissionSnapshot(new Uint8Array([0xff])).ok).toBe(false);
  });

  // Snapshots written before lost drones were judged (6181216) have no DroneState.telemetryMs and no
  // ActiveMission.startMs. Every device restoring one must reach the same state, and none may declare
  // the mission's drones lost at once for a silence it cannot measure; yet a drone that stays silent
  // (crashed before the upgrade) must still be found lost, or its lanes are never flown.
  it('a parameter added later (reassignHandedOver) leaves the checkpoint bytes as they were until an admin sets it: a node replaying from genesis and one restored from an older snapshot agree', () => {
    // The state a node of the version before the parameter committed at this height (its snapshot).
    const s = busyState();
    const { reassignHandedOver: _r, ...before } = s.params;
    const older = encodeMissionSnapshot({ mission: { ...s, params: before }, decisions, hazardRule });
    expect(Buffer.from(older).includes(Buffer.from('reassignHandedOver'))).toBe(false);
    // A node of this version replaying the same blocks from genesis writes the same bytes (the appHash
    // of the next checkpoint): before, its params held reassignHandedOver 0 and the older one's did
    // not, so the two (and the older version's nodes mid-upgrade) committed different appHash.
    expect(Buffer.from(encodeMissionSnapshot({ mission: s, decisions, hazardRule })).toString('hex')).toBe(Buffer.from(older).toString('hex'));
    const restored = decodeMissionSnapshot(older);
    if (!restored.ok) throw new Error(restored.error);
    const set = (st: MissionState) => applyBlock(st, { height: st.height + 1, timeMs: 60_000, members, txs: [cmd('q', 'param.set', { key: 'reassignHandedOver', value: 1 }, 'boss')] }).state;
    const a = set(s);
    const b = set(restored.value.mission);
    expect(a.params.reassignHandedOver).toBe(1);
    expect(Buffer.from(encodeMissionSnapshot({ mission: b, decisions, hazardRule })).toString('hex')).toBe(Buffer.from(encodeMissionSnapshot({ mission: a, decisions, hazardRule })).toString('hex'));
  });

  it('restores a snapshot of the format before the lost-drone times: the same on every device, drones judged from the snapshot time', () => {
    const s = busyState();
    const m = s.mission;
    if (!m) throw new Error('busyState has no mission');
    expect(m.assignments.map((a) => a.node)).toEqual(['d1', 'd2', 'd3']);
    const oldFormat = {
      mission: { ...s, drones: s.drones.map(({ telemetryMs: _t, ...d }) => d), mission: (({ startMs: _s, ...x }) => x)(m) },
      decisions,
      hazardRule,
    };
    const bytes = encodeCanonicalCbor(oldFormat);
    expect(Buffer.from(bytes).includes(Buffer.from('telemetryMs'))).toBe(false);
    expect(Buffer.from(bytes).includes(Buffer.from('startMs'))).toBe(false);
    // Three devices restore the same bytes: the same state, written back to the same bytes.
    const restored = [0, 1, 2].map(() => decodeMissionSnapshot(bytes));
    const states = restored.map((d) => (d.ok ? d.value.mission : d.error));
    expect(states[1]).toEqual(states[0]);
    expect(states[2]).toEqual(states[0]);
    const again = restored.map((d) => (d.ok ? Buffer.from(encodeMissionSnapshot(d.value)).toString('hex') : d.error));
    expect(new Set(again).size).toBe(1);
    const r0 = states[0] as MissionState;
    const t0 = r0.timeMs;
    // The next blocks: d1 and d3 report, d2 (crashed before the upgrade) stays silent.
    const next = (st: MissionState, timeMs: number) => applyBlock(st, { height: st.height + 1, timeMs, members, txs: [at('d1', 0, 0), at('d3', 1000, 0)] });
    const first = next(r0, t0 + 1_000);
    expect(first.effects.filter((e) => e.type === 'reassign')).toEqual([]);
    const inTime = next(first.state, t0 + 120_000);
    expect(inTime.effects.filter((e) => e.type === 'reassign')).toEqual([]);
    // lostAfterS (120 s) after the snapshot's block time, with no report of it since: d2 alone is lost.
    const late = next(inTime.state, t0 + 120_001);
    expect(late.effects.filter((e) => e.type === 'reassign').map((e) => e.type === 'reassign' && [e.from, e.cause])).toEqual([['d2', 'silent']]);
    // Every device, from its own copy, decides the same.
    for (const st of states.slice(1) as MissionState[]) expect(next(next(next(st, t0 + 1_000).state, t0 + 120_000).state, t0 + 120_001)).toEqual(late);
  });
});
