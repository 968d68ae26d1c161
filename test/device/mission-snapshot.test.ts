// The device application's snapshot: a mission state with a survey under way, a fence, a parameter,
// a model rollout and telemetry goes to bytes and back unchanged; equal states built in another key
// order give equal bytes (the commitment is compared across devices); a damaged one names its field.

import { describe, expect, it } from 'vitest';
import { decodeMissionSnapshot, encodeMissionSnapshot } from '../../runtime/device/mission-snapshot.js';
import { applyBlock, initialMissionState } from '../../runtime/mission/machine.js';
import type { MissionState, MissionTx } from '../../runtime/mission/types.js';
import { decodeCbor, encodeCbor } from '../../runtime/wire/cbor.js';
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
    [{ kind: 'telemetry', node: 'd1', pos: { n: 0, e: 0 }, altDm: 300, batteryPermille: 860, completed: null, progress: { mission: 's', flown: 3 } }],
  ];
  for (const txs of blocks) s = applyBlock(s, { height: s.height + 1, timeMs: 50_000 + s.height, members, txs }).state;
  return s;
}

/** The hazard rule's counts: one committed cell, one still short of its quorum. */
const hazardRule: HazardState = {
  cells: {
    '3,-2': { cell: [3, -2], present: { d1: 5, d2: 6 }, absent: {}, committedAt: 6, lastHeight: 6 },
    '0,0': { cell: [0, 0], present: { d3: 7 }, absent: { d1: 8 }, committedAt: null, lastHeight: 8 },
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
});
