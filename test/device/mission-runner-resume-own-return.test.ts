// A device restarted while its drone returns home: on a return of this device's own from before the
// restart (a reflex's failsafe return with its mission active, or a committed rtl), kept in its data
// directory (file own-return), or on the flight controller's own failsafe return. The FC's own is
// handed over, as before there was a record; the device's own goes on: not handed over, its task's
// ack names it, and nothing is sent, at the restart or on the mission's hold. The simulated ArduPilot
// FC through the MAVLink HAL drivers and a real data directory (restart-ground-rig.ts); the committed
// blocks are the mission machine's own, handed to the runner without signed envelopes.

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import type { CommittedBlock } from '../../runtime/consensus/types.js';
import type { MissionRunner } from '../../runtime/device/mission-runner.js';
import { decodeOwnReturn, ownReturnFile } from '../../runtime/device/own-return.js';
import { applyBlock, initialMissionState } from '../../runtime/mission/machine.js';
import type { MissionBlock, MissionState, MissionTx } from '../../runtime/mission/types.js';
import { waitFor } from '../bridge/companion.js';
import { fcRig, goto, members, report, sentAfter, shell } from './restart-ground-rig.js';

const next = vi.hoisted(() => ({ block: null as unknown }));
vi.mock('../../runtime/device/mission-adapter.js', async (actual) => ({ ...(await actual<object>()), missionBlockOf: () => next.block }));

/** The committed state: the mission started at block 1, then `txs` at 2. */
function stateAfter(txs: readonly MissionTx[]): MissionState {
  let s = applyBlock(initialMissionState(), { height: 1, timeMs: 10_000, members, txs: [goto] }).state;
  if (txs.length > 0) s = applyBlock(s, { height: 2, timeMs: 10_001, members, txs: [...txs] }).state;
  return s;
}

function commit(r: MissionRunner, height: number, txs: MissionTx[]): void {
  next.block = { height, timeMs: 10_000 + height, members, txs } satisfies MissionBlock;
  r.onCommit({ block: { height }, hash: new Uint8Array(32), certificate: { height, blockHash: new Uint8Array(32) }, txs: [], proof: new Uint8Array(0) } as unknown as CommittedBlock, shell);
}

/** The own-return record in `dir`, as a restart reads it (null: no file yet). */
const recordIn = (dir: string): unknown => (existsSync(join(dir, ownReturnFile)) ? decodeOwnReturn(new Uint8Array(readFileSync(join(dir, ownReturnFile)))) : null);
/** The record is written, and the device's FC driver has heard the vehicle return (its HEARTBEAT). */
const returnRecorded = (dir: string, devices: { flight: { state(): { ok: boolean; value?: { mode: string } } } }): boolean => {
  const st = devices.flight.state();
  const r = recordIn(dir) as { ok: boolean; value: unknown } | null;
  return st.ok && st.value?.mode === 'return' && r !== null && r.ok && r.value !== null;
};

describe.concurrent('restarted while its drone returns home', () => {
  it("on its own reflex's failsafe return, the mission active: the return goes on, not handed over; its ack names it; nothing sent at the restart or on the mission's hold", async (t) => {
    const { rig, devices, sent, device, dir } = await fcRig(t, undefined, 2);
    const before = device(stateAfter([]));
    before.r.resumeOwnTask();
    await waitFor('up and on its way', () => rig.fc.vehicle.state().upM > 5 && rig.fc.vehicle.state().eastM > 5, 60_000);
    before.r.returnHome('battery 18% below the reserve 20%'); // as the mission-reflexes agent's return
    await waitFor('its return, recorded', () => returnRecorded(dir, devices), 10_000);
    expect(recordIn(dir)).toMatchObject({ ok: true, value: { action: 'return-to-launch', command: null, what: 'failsafe return to launch (battery 18% below the reserve 20%)' } });
    before.r.stop(); // killed: the FC flies the return on

    const { r, acks, logs } = device(stateAfter([report(0, 100)]));
    const from = sent.length;
    r.resumeOwnTask();
    await waitFor("the part's ack", () => acks.some((a) => a.stage === 'failed'), 10_000).catch((e: Error) => expect.fail(`${e.message}\n${logs.join('\n')}`));
    const own = /^not resumed after a restart: this device's own failsafe return to launch \(battery 18% below the reserve 20%\) from before the restart goes on \(the flight controller is in mode return\): its part of mission ops\/01 is not flown on/;
    expect(acks).toMatchObject([{ command: 'ops/01', stage: 'failed', reason: expect.stringMatching(own) }]);
    expect(r.handedOver()).toBeNull(); // before: "the flight controller's own failsafe ..., a pilot's switch, or a failsafe of this device"
    expect(r.handedOverFrom()).toBeNull();
    expect(logs.some((l) => /^mission ops\/01 not resumed after a restart: this device's own failsafe return/.test(l))).toBe(true);
    commit(r, 3, [{ ...goto, id: 'ops/02', type: 'hold', args: {} }]);
    expect(acks.find((a) => a.command === 'ops/02' && a.stage === 'failed')?.reason).toMatch(/^not carried out: this device's own failsafe return to launch/);
    expect(await sentAfter(sent, from)).toEqual([]);
    expect(rig.fc.vehicle.state().mode).toBe('return');
  }, 90_000);

  it("on its own committed rtl, the drone out of the mission: the rtl goes on as it is, not sent again, not handed over", async (t) => {
    const { rig, devices, sent, device, dir } = await fcRig(t, undefined, 2);
    const before = device(stateAfter([]));
    before.r.resumeOwnTask();
    await waitFor('up and on its way', () => rig.fc.vehicle.state().upM > 5 && rig.fc.vehicle.state().eastM > 5, 60_000);
    const rtl: MissionTx = { ...goto, id: 'ops/07', type: 'rtl', args: { nodes: ['d1'] } };
    commit(before.r, 2, [rtl]);
    await waitFor('the rtl, recorded', () => returnRecorded(dir, devices), 10_000);
    expect(recordIn(dir)).toMatchObject({ ok: true, value: { action: 'return-to-launch', command: 'ops/07', what: 'rtl for command ops/07' } });
    before.r.stop();

    const { r, logs } = device(stateAfter([rtl]));
    const from = sent.length;
    r.resumeOwnTask(); // the committed state says d1 returns: carried out (Executor.carryOut)
    expect(await sentAfter(sent, from), logs.join('\n')).toEqual([]);
    expect(r.handedOver()).toBeNull(); // before: "mode return, not the executor's (a pilot's switch or its own failsafe)"
    expect(logs).toContain("committed rtl goes on: the vehicle flies this device's own rtl for command ops/07 from before the restart (mode return); not sent again");
    expect(rig.fc.vehicle.state().mode).toBe('return');
  }, 90_000);

  it("on the flight controller's own failsafe return (no record of its own): handed over, as before", async (t) => {
    const { rig, devices, sent, device, dir } = await fcRig(t, undefined, 2);
    const before = device(stateAfter([]));
    before.r.resumeOwnTask();
    await waitFor('up and on its way', () => rig.fc.vehicle.state().upM > 5 && rig.fc.vehicle.state().eastM > 5, 60_000);
    before.r.stop();
    expect(rig.fc.vehicle.returnToLaunch().ok).toBe(true); // the FC's own failsafe, its companion lost
    await waitFor('the return heard', () => {
      const st = devices.flight.state();
      return st.ok && st.value.mode === 'return';
    }, 5_000);
    expect(recordIn(dir)).toBeNull(); // nothing of its own recorded

    const { r, acks } = device(stateAfter([report(0, 100)]));
    const from = sent.length;
    r.resumeOwnTask();
    await waitFor("the part's ack", () => acks.some((a) => a.stage === 'failed'), 10_000);
    expect(acks).toMatchObject([{ command: 'ops/01', stage: 'failed', reason: expect.stringMatching(/^not resumed after a restart: the flight controller left the executor's control: the vehicle was returning home \(mode return\) when this device started/) }]);
    expect(r.handedOver()).toMatch(/^the flight controller left the executor's control: the vehicle was returning home/);
    expect(r.handedOverFrom()).toBe('ops/01');
    expect(await sentAfter(sent, from)).toEqual([]);
  }, 90_000);
});
