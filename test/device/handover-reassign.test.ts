// A drone handed over from its part of a survey no longer leaves that part unflown. A device restarted
// with its drone on the ground after it flew for the active survey does not take it off again
// (mission-runner-resume-active-ground.test.ts): it is handed over. Its next telemetry report says so,
// signed as the device signs it; committed, with the fleet's reassignHandedOver at 1, the mission
// machine takes the drone out of the survey and hands its unflown lanes to the other drone, and the
// handed-over device is told nothing: no command reaches its flight controller.
// The simulated ArduPilot FC through the MAVLink HAL drivers, joined in memory, and a MissionRunner
// made anew on them (restart-ground-rig.ts); the committed blocks are the mission machine's own, but
// the handover report in them is the device's own bytes, sealed and read back by the mission adapter.

import { describe, expect, it, vi } from 'vitest';
import type { CommittedBlock } from '../../runtime/consensus/types.js';
import { createSigner, initCrypto, keyPairFromSeed } from '../../runtime/crypto/sodium.js';
import { missionTxOf } from '../../runtime/device/mission-adapter.js';
import type { MissionRunner } from '../../runtime/device/mission-runner.js';
import { applyBlock, initialMissionState } from '../../runtime/mission/machine.js';
import type { MissionBlock, MissionState, MissionTx } from '../../runtime/mission/types.js';
import { sealEnvelope } from '../../runtime/wire/envelope.js';
import { encodeTelemetryBody } from '../../runtime/wire/telemetry.js';
import { waitFor } from '../bridge/companion.js';
import { fcRig, sentAfter, shell } from './restart-ground-rig.js';

// The committed block as the mission machine sees it (missionBlockOf), without a signed chain for it.
const next = vi.hoisted(() => ({ block: null as unknown }));
vi.mock('../../runtime/device/mission-adapter.js', async (actual) => ({ ...(await actual<object>()), missionBlockOf: () => next.block }));

const members = { epoch: 1, devices: ['d1', 'd2'], operators: [{ id: 'ops', roles: ['operator' as const, 'admin' as const] }] };
const command = (id: string, type: string, args: Record<string, unknown>): MissionTx => ({ kind: 'command', id, operator: 'ops', type, args, issuedAt: 1, expiresAt: 1_000_000 });
const report = (node: string, e: number, altDm: number, progress: { mission: string; flown: number } | null = null): MissionTx => ({ kind: 'telemetry', node, pos: { n: 0, e }, altDm, batteryPermille: 900, completed: null, progress });

/** The committed state: the switch at `on`, a survey of a 40 m x 40 m field by d1 and d2 (two lanes,
 *  one each), and d1's report from the air one waypoint into its lane. */
function surveyState(on: number): MissionState {
  let s = applyBlock(initialMissionState(), { height: 1, timeMs: 9_000, members, txs: [report('d1', 0, 0), report('d2', 400, 0), command('ops/01', 'param.set', { key: 'reassignHandedOver', value: on })] }).state;
  s = applyBlock(s, { height: 2, timeMs: 10_000, members, txs: [command('ops/02', 'mission.survey', { area: [[0, 0], [0, 40], [40, 40], [40, 0]], spacingM: 20, drones: ['d1', 'd2'] })] }).state;
  s = applyBlock(s, { height: 3, timeMs: 11_000, members, txs: [report('d1', 0, 100, { mission: 'ops/02', flown: 1 })] }).state;
  expect(s.params.reassignHandedOver).toBe(on);
  expect(s.mission?.assignments.map((a) => [a.node, a.waypoints.length])).toEqual([['d1', 2], ['d2', 2]]);
  return s;
}

function commit(r: MissionRunner, height: number, txs: MissionTx[]): void {
  next.block = { height, timeMs: 10_000 + height * 1_000, members, txs } satisfies MissionBlock;
  r.onCommit({ block: { height }, hash: new Uint8Array(32), certificate: { height, blockHash: new Uint8Array(32) }, txs: [], proof: new Uint8Array(0) } as unknown as CommittedBlock, shell);
}

/** The next report's sequence number: each report is after the one before, as a device's are (the
 *  mission machine ignores one that is not: runtime/mission/machine.ts isNewReport). */
let reportSeq = 0;

/** d1's next telemetry report as the device signs it (device.ts sendTelemetry), read back as the
 *  mission machine's input by the mission adapter. */
async function signedReport(r: MissionRunner): Promise<MissionTx> {
  await initCrypto();
  const facts = r.telemetryFacts();
  if (!facts) throw new Error('no telemetry: the device has no position');
  const bytes = sealEnvelope('telemetry', 'f', 'd1', encodeTelemetryBody({ node: 'd1', session: 2, seq: reportSeq++, ...facts }), createSigner(keyPairFromSeed(new Uint8Array(32).fill(1))));
  const tx = missionTxOf(bytes, {} as Parameters<typeof missionTxOf>[1], 'f');
  if (!tx) throw new Error('the mission adapter did not read the report');
  return tx;
}

describe.concurrent('a device handed over from its part of the active survey', () => {
  it('its signed report says so; committed, d2 flies its unflown lane and d1 is told nothing', async (t) => {
    const { rig, sent, device } = await fcRig(t);
    const { r, logs, audit } = device(surveyState(1));
    const d1Lane = r.state.mission?.assignments.find((a) => a.node === 'd1')?.waypoints ?? [];
    const d2Lane = r.state.mission?.assignments.find((a) => a.node === 'd2')?.waypoints ?? [];
    r.resumeOwnTask();
    await waitFor('handed over at the restart', () => r.handedOver() !== null, 10_000);
    const from = sent.length;
    // The report: the mission it was handed over from, no progress and no finished mission.
    const tx = await signedReport(r);
    expect(tx).toMatchObject({ kind: 'telemetry', node: 'd1', handedOver: 'ops/02', progress: null, completed: null });
    commit(r, 4, [tx]);
    // d1 left the survey; d2 flies its own lane, then d1's from the leg d1 was on (its committed
    // progress: one waypoint passed), at a layer above the mission altitude.
    expect(r.state.mission?.assignments.map((a) => a.node)).toEqual(['d2']);
    const taker = r.state.mission?.assignments[0];
    expect(taker?.waypoints).toEqual([...d2Lane, ...d1Lane]);
    expect(taker?.joins).toEqual([{ at: 2, altDm: expect.any(Number) }]);
    expect(r.state.drones.find((d) => d.id === 'd1')?.activity).toBe('idle');
    // Every device logs why (the committed reassign effect).
    expect(logs.some((l) => /^d1 was handed over from mission ops\/02 .*: d1 leaves mission ops\/02; d2 flies its 2 unflown waypoints$/.test(l))).toBe(true);
    // And its decision log (murmurctl log) keeps it, after the block's transactions.
    expect(audit).toEqual([expect.objectContaining({ height: 4, index: 1, command: 'ops/02', operator: 'swarm', type: 'reassign', outcome: 'accepted', reason: expect.stringMatching(/: d1 leaves mission ops\/02; d2 flies its 2 unflown waypoints$/) })]);
    // d1 was told nothing: no command to its FC (an rtl would arm it and take it off), still handed over.
    expect(await sentAfter(sent, from)).toEqual([]);
    expect(rig.fc.vehicle.state().armed).toBe(false);
    expect(r.handedOver()).not.toBeNull();
    // Out of the mission, its next report no longer names it (still handed over: its status says so),
    // and changes nothing.
    const after = r.state.mission;
    const later = await signedReport(r);
    expect(later).toMatchObject({ kind: 'telemetry', node: 'd1', progress: null, completed: null });
    expect(later).not.toHaveProperty('handedOver');
    commit(r, 5, [later]);
    expect(r.state.mission).toEqual(after);
  }, 60_000);

  it('with reassignHandedOver 0 the same committed report leaves its part its own, and nothing is sent', async (t) => {
    const { sent, device } = await fcRig(t);
    const { r } = device(surveyState(0));
    const before = r.state.mission?.assignments;
    r.resumeOwnTask();
    await waitFor('handed over at the restart', () => r.handedOver() !== null, 10_000);
    const from = sent.length;
    const tx = await signedReport(r);
    expect(tx).toMatchObject({ handedOver: 'ops/02' });
    commit(r, 4, [tx]);
    expect(r.state.mission?.assignments).toEqual(before);
    expect(await sentAfter(sent, from)).toEqual([]);
  }, 60_000);
});

describe.concurrent('a device whose part of the survey grew (a lost drone\'s taken on)', () => {
  it('flown to its end, it reports every planned waypoint passed, then completed once that is committed, and the survey ends', async (t) => {
    const { device } = await fcRig(t);
    let s = applyBlock(initialMissionState(), { height: 1, timeMs: 9_000, members, txs: [report('d1', 0, 0), report('d2', 400, 0)] }).state;
    s = applyBlock(s, { height: 2, timeMs: 10_000, members, txs: [command('ops/02', 'mission.survey', { area: [[0, 0], [0, 40], [40, 40], [40, 0]], spacingM: 20, drones: ['d1', 'd2'] })] }).state;
    const { r } = device(s);
    // d2's battery falls under the reserve: d1's route grows by d2's lane, and d1 flies it all.
    commit(r, 3, [{ ...report('d2', 400, 0), batteryPermille: 100 } as MissionTx]);
    expect(r.state.mission?.assignments.map((a) => [a.node, a.waypoints.length])).toEqual([['d1', 4]]);
    await waitFor('the grown route flown', () => r.telemetryFacts()?.progress?.flown === 4, 40_000);
    // Not "completed" yet: committed after the growth, a report signed before it could not be told apart.
    const all = await signedReport(r);
    expect(all).toMatchObject({ kind: 'telemetry', node: 'd1', progress: { mission: 'ops/02', flown: 4 }, completed: null });
    commit(r, 4, [all]);
    expect(r.state.mission).not.toBeNull();
    const done = await signedReport(r);
    expect(done).toMatchObject({ kind: 'telemetry', node: 'd1', progress: null, completed: 'ops/02' });
    commit(r, 5, [done]);
    expect(r.state.mission).toBeNull();
  }, 60_000);
});
