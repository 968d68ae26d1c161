// Mission upload against a flight controller scripted on an in-memory link, for what the simulated FC
// never does: ask for an item the mission does not have (answered per the mission protocol with
// MISSION_ACK INVALID_SEQUENCE, cancelling both ends), ask out of order, or share the link with
// another ground station's transfer (requests and ACKs addressed to it are not ours).

import { describe, expect, it } from 'vitest';
import { common } from 'node-mavlink';
import { MavlinkEndpoint } from '../../firmware-bridge/mavlink/endpoint.js';
import { uploadDeadlineMs, uploadMission } from '../../firmware-bridge/mavlink/mission-upload.js';
import { MissionReceiver } from '../../firmware-bridge/mavlink/mission-receiver.js';
import { missionTypeMission, type MissionItem } from '../../firmware-bridge/mavlink/mission-item.js';
import { mavCmd } from '../../firmware-bridge/mavlink/vehicle.js';
import { memoryPair } from './memory-pair.js';

const hb = () => ({ type: 2, autopilot: 12, baseMode: 0, customMode: 0, systemStatus: 3 });
const gcs = { sysid: 245, compid: 191 };
const items: MissionItem[] = [0, 1, 2].map((i) => ({ command: mavCmd.navWaypoint, latDeg: 47.3978 + i * 1e-4, lonDeg: 8.5456, relAltM: 10 }));

/** Our endpoint and a flight controller (system 1, component 1) whose answers the test scripts. */
function link(): { ours: MavlinkEndpoint; fc: MavlinkEndpoint; fromUs: Array<common.MissionItemInt | common.MissionAck> } {
  const [a, b] = memoryPair();
  const ours = new MavlinkEndpoint({ transport: a, ...gcs, heartbeat: hb });
  const fc = new MavlinkEndpoint({ transport: b, sysid: 1, compid: 1, heartbeat: hb });
  const fromUs: Array<common.MissionItemInt | common.MissionAck> = [];
  fc.onMessage(({ msg }) => {
    if (msg instanceof common.MissionItemInt || msg instanceof common.MissionAck) fromUs.push(msg);
  });
  return { ours, fc, fromUs };
}

function request(fc: MavlinkEndpoint, seq: number, to: { sysid: number; compid: number } = gcs): void {
  fc.send(Object.assign(new common.MissionRequestInt(), { targetSystem: to.sysid, targetComponent: to.compid, seq, missionType: missionTypeMission }));
}

function ack(fc: MavlinkEndpoint, type: common.MavMissionResult, to: { sysid: number; compid: number } = gcs): void {
  fc.send(Object.assign(new common.MissionAck(), { targetSystem: to.sysid, targetComponent: to.compid, type, missionType: missionTypeMission, opaqueId: 0 }));
}

describe('mission upload: what the vehicle asks for', () => {
  it('answers a request for an item the mission does not have with MISSION_ACK INVALID_SEQUENCE and ends the upload naming it', async () => {
    const { ours, fc, fromUs } = link();
    fc.onMessage(({ msg }) => {
      if (msg instanceof common.MissionCount) request(fc, 0);
      else if (msg instanceof common.MissionItemInt && msg.seq === 0) request(fc, 3); // a 3-item mission has 0-2
    });
    const r = await uploadMission(ours, { sysid: 1, compid: 1 }, items, { itemTimeoutMs: 2000, retries: 1 });
    expect(r.ok ? 'accepted' : r.error).toEqual({
      code: 'rejected',
      message: 'mission upload: the vehicle asked for item 3, but the mission has items 0-2; answered MISSION_ACK INVALID_SEQUENCE, which cancels the upload',
    });
    await new Promise((res) => setTimeout(res, 20));
    const acks = fromUs.filter((m) => m instanceof common.MissionAck);
    expect(acks.map((m) => ({ type: m.type, missionType: m.missionType, targetSystem: m.targetSystem, targetComponent: m.targetComponent }))).toEqual([
      { type: common.MavMissionResult.INVALID_SEQUENCE, missionType: missionTypeMission, targetSystem: 1, targetComponent: 1 },
    ]);
    expect(fromUs.filter((m) => m instanceof common.MissionItemInt).map((m) => m.seq)).toEqual([0]); // and nothing made up for item 3
  });

  it('sends any item the mission has when asked, in any order (out of sequence is not an error), and completes on ACCEPTED', async () => {
    const { ours, fc, fromUs } = link();
    const order = [0, 2, 1, 1, 2];
    let next = 0;
    fc.onMessage(({ msg }) => {
      if (msg instanceof common.MissionCount || msg instanceof common.MissionItemInt) {
        if (next < order.length) request(fc, order[next++] as number);
        else ack(fc, common.MavMissionResult.ACCEPTED);
      }
    });
    const r = await uploadMission(ours, { sysid: 1, compid: 1 }, items, { itemTimeoutMs: 2000, retries: 1 });
    expect(r.ok && r.value.items).toBe(3);
    expect(fromUs.filter((m) => m instanceof common.MissionItemInt).map((m) => m.seq)).toEqual(order);
    expect(fromUs.filter((m) => m instanceof common.MissionAck)).toEqual([]);
  });

  it('ignores requests and ACKs addressed to another ground station on the same link', async () => {
    const { ours, fc, fromUs } = link();
    const other = { sysid: 255, compid: 190 };
    fc.onMessage(({ msg }) => {
      if (msg instanceof common.MissionCount) {
        // The vehicle is also talking to another GCS: an item our mission does not have, and a refusal.
        request(fc, 7, other);
        ack(fc, common.MavMissionResult.DENIED, other);
        request(fc, 0);
      } else if (msg instanceof common.MissionItemInt) {
        if (msg.seq < 2) request(fc, msg.seq + 1);
        else ack(fc, common.MavMissionResult.ACCEPTED);
      }
    });
    const r = await uploadMission(ours, { sysid: 1, compid: 1 }, items, { itemTimeoutMs: 2000, retries: 1 });
    expect(r.ok ? r.value.items : r.error.message).toBe(3);
    expect(fromUs.filter((m) => m instanceof common.MissionAck)).toEqual([]);
  });
});

/** The upload's result, or 'pending' if it has not ended within `ms` (the bug being guarded: it never ended). */
function within<T>(p: Promise<T>, ms: number): Promise<T | 'pending'> {
  let t: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<'pending'>((res) => (t = setTimeout(() => res('pending'), ms)))]).finally(() => clearTimeout(t));
}

describe('mission upload: a vehicle that keeps asking without finishing', () => {
  it('ends when one item is asked for more than 1 + retries times, cancelling with MISSION_ACK OPERATION_CANCELLED', async () => {
    // Every MISSION_COUNT or item is answered with a request for item 0: only silence ended an upload,
    // so this one ran on for good (item 0 sent hundreds of times).
    const { ours, fc, fromUs } = link();
    fc.onMessage(({ msg }) => {
      if (msg instanceof common.MissionCount || msg instanceof common.MissionItemInt) request(fc, 0);
    });
    const r = await within(uploadMission(ours, { sysid: 1, compid: 1 }, items.slice(0, 2), { itemTimeoutMs: 1500, retries: 5 }), 3000);
    expect(r === 'pending' ? r : r.ok ? 'accepted' : r.error).toEqual({
      code: 'timeout',
      message: 'mission upload: the vehicle asked for item 0 7 times (at most 6: 1 + retries 5), so it is not taking it; cancelled with MISSION_ACK OPERATION_CANCELLED',
    });
    await new Promise((res) => setTimeout(res, 20));
    expect(fromUs.filter((m) => m instanceof common.MissionItemInt).map((m) => m.seq)).toEqual([0, 0, 0, 0, 0, 0]);
    expect(fromUs.filter((m) => m instanceof common.MissionAck).map((m) => [m.type, m.missionType, m.targetSystem, m.targetComponent])).toEqual([
      [common.MavMissionResult.OPERATION_CANCELLED, missionTypeMission, 1, 1],
    ]);
  });

  it('a vehicle that falls silent after asking for item 0: ends after the resends, cancelling with MISSION_ACK OPERATION_CANCELLED (it may still be waiting)', async () => {
    const { ours, fc, fromUs } = link();
    let asked = false;
    fc.onMessage(({ msg }) => {
      if (msg instanceof common.MissionCount && !asked) {
        asked = true;
        request(fc, 0);
      }
    });
    const r = await within(uploadMission(ours, { sysid: 1, compid: 1 }, items, { itemTimeoutMs: 50, retries: 2 }), 3000);
    expect(r === 'pending' ? r : r.ok ? 'accepted' : r.error).toEqual({ code: 'timeout', message: 'mission upload: no answer after 2 resends of item 0; cancelled with MISSION_ACK OPERATION_CANCELLED' });
    await new Promise((res) => setTimeout(res, 20));
    expect(fromUs.filter((m) => m instanceof common.MissionItemInt).map((m) => m.seq)).toEqual([0, 0, 0]);
    expect(fromUs.filter((m) => m instanceof common.MissionAck).map((m) => m.type)).toEqual([common.MavMissionResult.OPERATION_CANCELLED]);
  });

  /** A vehicle asking for the items round and round (0, 1, 2, 0, ...), one request every 110 ms, never
   *  an ACK: no item is asked for often enough to hit the cap, and it is never silent for long. */
  function roundAndRound(): { ours: MavlinkEndpoint; fromUs: Array<common.MissionItemInt | common.MissionAck>; stop: () => void } {
    const { ours, fc, fromUs } = link();
    let next = 0;
    let ticker: NodeJS.Timeout | null = null;
    fc.onMessage(({ msg }) => {
      if (msg instanceof common.MissionCount) ticker ??= setInterval(() => request(fc, next++ % 3), 110);
      if (msg instanceof common.MissionAck && ticker) clearInterval(ticker);
    });
    return { ours, fromUs, stop: () => ticker && clearInterval(ticker) };
  }

  it('ends at the overall deadline, by default from the item count, itemTimeoutMs and retries', async () => {
    const v = roundAndRound();
    try {
      const o = { itemTimeoutMs: 50, retries: 4 };
      expect(uploadDeadlineMs(3, o)).toBe(600); // (3 + 1) x 2 x 50 + 4 x 50
      const start = Date.now();
      const r = await within(uploadMission(v.ours, { sysid: 1, compid: 1 }, items, o), 5000);
      const elapsed = Date.now() - start;
      expect(r === 'pending' ? r : r.ok ? 'accepted' : r.error.code).toBe('timeout');
      expect(r !== 'pending' && !r.ok && r.error.message).toMatch(
        /^mission upload: not done after 600 ms \(its deadline for 3 items\): the vehicle kept the transfer going without accepting it \(last asked for item [0-2], \d+ resends\); cancelled with MISSION_ACK OPERATION_CANCELLED$/,
      );
      expect(elapsed).toBeGreaterThanOrEqual(590);
      expect(elapsed).toBeLessThan(2500);
      await new Promise((res) => setTimeout(res, 20));
      expect(v.fromUs.filter((m) => m instanceof common.MissionAck).map((m) => m.type)).toEqual([common.MavMissionResult.OPERATION_CANCELLED]);
    } finally {
      v.stop();
    }
  });

  it('ends at an explicit deadlineMs', async () => {
    const v = roundAndRound();
    try {
      const r = await within(uploadMission(v.ours, { sysid: 1, compid: 1 }, items, { itemTimeoutMs: 50, retries: 4, deadlineMs: 300 }), 5000);
      expect(r !== 'pending' && !r.ok && r.error.message).toMatch(/^mission upload: not done after 300 ms \(its deadline\): /);
    } finally {
      v.stop();
    }
  });
});

describe('mission upload: the vehicle side (the simulated flight controller\'s MissionReceiver)', () => {
  it('stops requesting items once the sender cancels with a MISSION_ACK, as autopilots do', async () => {
    const { ours, fc } = link();
    const got: number[] = [];
    new MissionReceiver(fc, () => got.push(-1), 50, 8);
    const requests: number[] = [];
    ours.onMessage(({ msg }) => {
      if (msg instanceof common.MissionRequestInt) requests.push(msg.seq);
    });
    ours.send(Object.assign(new common.MissionCount(), { targetSystem: 1, targetComponent: 1, count: 3, missionType: missionTypeMission, opaqueId: 0 }));
    for (const deadline = Date.now() + 5_000; requests.length === 0 && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 5));
    expect(requests, 'the vehicle asked for item 0 within 5 s').toEqual([0]);
    ack(ours, common.MavMissionResult.OPERATION_CANCELLED, { sysid: 1, compid: 1 });
    await new Promise((r) => setTimeout(r, 400)); // eight item timeouts
    expect(requests).toEqual([0]); // before: re-requested item 0 every 50 ms until its retries ran out
    expect(got).toEqual([]);
  });
});
