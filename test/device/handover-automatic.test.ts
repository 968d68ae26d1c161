// The swarm's automatic decisions never take a vehicle back from a pilot. A device flies its part of a
// goto (a MissionRunner on the simulated ArduPilot, in memory, through the MAVLink HAL drivers), a
// pilot switches the FC to a manual mode, and the executor hands the vehicle over. With
// reassignHandedOver at its default 0 the drone stays in the mission, so when its committed battery
// falls below the reserve the mission machine loses it and tasks it home (loseDrones: an rtl of origin
// automatic). The device does not carry that out: the FC stays in the pilot's mode, nothing is sent,
// and its ack says why. Before, the rtl switched the FC to RTL, out of the pilot's hands. An operator's
// explicit rtl is carried out, and its started ack says whose vehicle it took back.
// The committed blocks are the mission machine's own (missionBlockOf mocked, as handover-reassign does).

import { describe, expect, it, vi } from 'vitest';
import type { CommittedBlock } from '../../runtime/consensus/types.js';
import type { MissionRunner } from '../../runtime/device/mission-runner.js';
import { initialMissionState } from '../../runtime/mission/machine.js';
import type { MissionBlock, MissionTx } from '../../runtime/mission/types.js';
import { waitFor } from '../bridge/companion.js';
import { fcRig, sentAfter, shell } from './restart-ground-rig.js';

const next = vi.hoisted(() => ({ block: null as unknown }));
vi.mock('../../runtime/device/mission-adapter.js', async (actual) => ({ ...(await actual<object>()), missionBlockOf: () => next.block }));

const members = { epoch: 1, devices: ['d1'], operators: [{ id: 'ops', roles: ['operator' as const] }] };
const command = (id: string, type: string, args: Record<string, unknown>): MissionTx => ({ kind: 'command', id, operator: 'ops', type, args, issuedAt: 1, expiresAt: 1_000_000 });
const report = (batteryPermille: number, altDm: number): MissionTx => ({ kind: 'telemetry', node: 'd1', pos: { n: 0, e: 0 }, altDm, batteryPermille, completed: null, progress: null });

function commit(r: MissionRunner, height: number, txs: MissionTx[]): void {
  next.block = { height, timeMs: 10_000 + height * 1_000, members, txs } satisfies MissionBlock;
  r.onCommit({ block: { height }, hash: new Uint8Array(32), certificate: { height, blockHash: new Uint8Array(32) }, txs: [], proof: new Uint8Array(0) } as unknown as CommittedBlock, shell);
}

describe.concurrent('a vehicle a pilot took from its part of a goto (reassignHandedOver 0)', () => {
  it("the machine's rtl for it (battery below the reserve) is not carried out: the FC stays in the pilot's mode; an operator's rtl takes it back, saying so", async (t) => {
    const { rig, sent, device } = await fcRig(t);
    const { r, acks, logs } = device(initialMissionState());
    commit(r, 1, [report(900, 0), command('ops/01', 'mission.goto', { waypoints: [[0, 200]], node: 'd1' })]);
    await waitFor('up and on its way east (GUIDED)', () => {
      const s = rig.fc.vehicle.state();
      return s.upM > 5 && s.mode === 'guided' && s.eastM > 5;
    }, 30_000);
    rig.fc.vehicle.setMode('manual'); // the pilot's switch
    await waitFor('handed over', () => r.handedOver() !== null, 10_000);
    expect(r.handedOver()).toMatch(/a pilot took it/);
    const from = sent.length;
    const failedBefore = acks.filter((a) => a.stage === 'failed').length;
    // Its committed battery below the reserve: the machine loses it and tasks it home, as it always
    // has (its committed state is unchanged by this: the drone is returning to it).
    commit(r, 2, [report(100, 150)]);
    expect(r.state.drones.find((d) => d.id === 'd1')?.activity).toBe('returning');
    expect(r.state.mission).toBeNull();
    // Its part of the goto ended (dropped: a goto's part is its own drone's place), then the rtl under
    // the mission's id is not carried out.
    expect(acks.filter((a) => a.stage === 'failed').slice(failedBefore)).toEqual([
      expect.objectContaining({ command: 'ops/01', reason: 'dropped: d1 battery 10% is below the 25% reserve; its 1 unflown waypoints are not flown' }),
      expect.objectContaining({ command: 'ops/01', reason: expect.stringMatching(/^not carried out: the flight controller left the executor's control: a pilot took it \(a manual mode\); the swarm's automatic rtl does not take the vehicle back \(an operator's command does\)$/) }),
    ]);
    expect(logs.some((l) => /^task ops\/01: not carried out: .*a pilot took it/.test(l))).toBe(true);
    expect(await sentAfter(sent, from)).toEqual([]); // before: RTL, out of the pilot's manual mode
    expect(rig.fc.vehicle.state().mode).toBe('manual');
    expect(r.handedOver()).toMatch(/a pilot took it/);
    // The operator's own rtl of the drone: carried out, and its started ack says whose vehicle it took.
    commit(r, 3, [command('ops/03', 'rtl', { nodes: ['d1'] })]);
    expect(acks.find((a) => a.command === 'ops/03' && a.stage === 'started')?.reason).toMatch(/^taken back by an operator's command \(the vehicle was out of this device's hands: the flight controller left the executor's control: a pilot took it \(a manual mode\)\)$/);
    expect(logs.some((l) => /^task ops\/03 \(rtl\), an operator's command, takes the vehicle back/.test(l))).toBe(true);
    await waitFor('returning (RTL)', () => rig.fc.vehicle.state().mode === 'return', 10_000);
    expect(sent.slice(from).length).toBeGreaterThan(0);
    expect(r.handedOver()).toBeNull();
  }, 60_000);
});
