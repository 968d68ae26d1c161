// The command protocol on an in-memory link: resends with confirmation + 1 after a timeout, waits
// through IN_PROGRESS, gives up with a 'timeout' error, refuses a second command of the same id, and
// takes only the ACK meant for it.

import { describe, expect, it } from 'vitest';
import { common } from 'node-mavlink';
import { MavlinkEndpoint } from '../../firmware-bridge/mavlink/endpoint.js';
import { CommandClient } from '../../firmware-bridge/mavlink/commands.js';
import { MavlinkVehicle, mavCmd } from '../../firmware-bridge/mavlink/vehicle.js';
import { memoryPair as pair } from './memory-pair.js';

const hb = () => ({ type: 2, autopilot: 12, baseMode: 0, customMode: 0, systemStatus: 3 });

function setup(answer: (cmd: common.CommandLong, ack: (result: number, progress?: number) => void) => void): CommandClient {
  const [a, b] = pair();
  const gcs = new MavlinkEndpoint({ transport: a, sysid: 245, compid: 191, heartbeat: hb });
  const fc = new MavlinkEndpoint({ transport: b, sysid: 1, compid: 1, heartbeat: hb });
  fc.onMessage(({ msg }) => {
    if (!(msg instanceof common.CommandLong)) return;
    answer(msg, (result, progress = 0) =>
      fc.send(Object.assign(new common.CommandAck(), { command: msg.command, result, progress, resultParam2: 0, targetSystem: 245, targetComponent: 191 })),
    );
  });
  return new CommandClient(gcs, { sysid: 1, compid: 1 }, { timeoutMs: 40, retries: 3, inProgressTimeoutMs: 1000 });
}

describe('COMMAND_LONG / COMMAND_ACK', () => {
  it('resends after a timeout with confirmation incremented until an ACK arrives', async () => {
    const seen: number[] = [];
    const client = setup((cmd, ack) => {
      seen.push(cmd.confirmation);
      if (seen.length === 3) ack(common.MavResult.ACCEPTED); // the first two are "lost"
    });
    const r = await client.long(400, [1]);
    expect(r.ok && r.value.attempts).toBe(3);
    expect(seen).toEqual([0, 1, 2]);
  });

  it('waits through IN_PROGRESS (reporting progress) until the final ACK', async () => {
    const progress: number[] = [];
    const client = setup((_cmd, ack) => {
      ack(common.MavResult.IN_PROGRESS, 10);
      setTimeout(() => ack(common.MavResult.IN_PROGRESS, 60), 20);
      setTimeout(() => ack(common.MavResult.ACCEPTED, 100), 60); // longer than timeoutMs: no resend needed
    });
    const r = await client.long(22, [], { onProgress: (p) => progress.push(p) });
    expect(r.ok && r.value.sawInProgress).toBe(true);
    expect(progress).toEqual([10, 60]);
  });

  it('gives up when the FC keeps answering IN_PROGRESS: one deadline from the first, not reset by later ones', async () => {
    // The FC re-announces progress every 30 ms, more often than the poll (2 x timeoutMs = 80 ms):
    // each ack used to re-arm the poll, the only place the deadline was checked, so this never ended.
    const [a, b] = pair();
    const gcs = new MavlinkEndpoint({ transport: a, sysid: 245, compid: 191, heartbeat: hb });
    const fc = new MavlinkEndpoint({ transport: b, sysid: 1, compid: 1, heartbeat: hb });
    let sent = 0;
    const progress = (): void =>
      fc.send(Object.assign(new common.CommandAck(), { command: 400, result: common.MavResult.IN_PROGRESS, progress: 50, resultParam2: 0, targetSystem: 245, targetComponent: 191 }));
    let ticker: NodeJS.Timeout | null = null;
    fc.onMessage(({ msg }) => {
      if (!(msg instanceof common.CommandLong)) return;
      sent++;
      progress();
      ticker ??= setInterval(progress, 30);
    });
    try {
      const client = new CommandClient(gcs, { sysid: 1, compid: 1 }, { timeoutMs: 40, retries: 3, inProgressTimeoutMs: 300 });
      const start = Date.now();
      const r = await Promise.race([client.long(400, [1]), new Promise<'pending'>((res) => setTimeout(() => res('pending'), 3000))]);
      expect(r === 'pending' ? r : r.ok ? 'ok' : r.error).toEqual({
        code: 'timeout',
        message: 'COMPONENT_ARM_DISARM: the flight controller kept reporting progress (IN_PROGRESS) for 300 ms without a final result',
      });
      expect(Date.now() - start).toBeGreaterThanOrEqual(290);
      expect(Date.now() - start).toBeLessThan(1500);
      expect(sent).toBe(1); // the acks kept coming, so no poll was needed
    } finally {
      if (ticker) clearInterval(ticker);
    }
  });

  it('polls an FC that said IN_PROGRESS once and then went quiet, and ends at the same deadline', async () => {
    const seen: number[] = [];
    const client = setup((cmd, ack) => {
      seen.push(cmd.confirmation);
      if (seen.length === 1) ack(common.MavResult.IN_PROGRESS, 5);
    });
    const r = await client.long(400, [1], { inProgressTimeoutMs: 300 });
    expect(!r.ok && r.error.message).toBe('COMPONENT_ARM_DISARM: the flight controller kept reporting progress (IN_PROGRESS) for 300 ms without a final result');
    expect(seen.length).toBeGreaterThanOrEqual(3); // polled every 2 x timeoutMs (80 ms) while waiting
    expect(seen.slice(0, 3)).toEqual([0, 1, 2]);
  });

  it('completes a command only with the ACK for its command id from the commanded component, addressed to us', async () => {
    const [a, b] = pair();
    const gcs = new MavlinkEndpoint({ transport: a, sysid: 245, compid: 191, heartbeat: hb });
    const fc = new MavlinkEndpoint({ transport: b, sysid: 1, compid: 1, heartbeat: hb });
    const camera = new MavlinkEndpoint({ transport: b, sysid: 1, compid: 100, heartbeat: hb }); // another component of the vehicle
    const ack = (from: MavlinkEndpoint, command: number, result: number, targetSystem: number, targetComponent: number): void =>
      from.send(Object.assign(new common.CommandAck(), { command, result, progress: 0, resultParam2: 0, targetSystem, targetComponent }));
    fc.onMessage(({ msg }) => {
      if (!(msg instanceof common.CommandLong)) return;
      // Denials that are not ours come first: the same command id for another component of our
      // system, the same id from the camera (no target fields, as older firmware sends), another id.
      ack(fc, msg.command, common.MavResult.DENIED, 245, 192);
      ack(camera, msg.command, common.MavResult.DENIED, 0, 0);
      ack(fc, mavCmd.navLand, common.MavResult.DENIED, 245, 191);
      setTimeout(() => ack(fc, msg.command, common.MavResult.ACCEPTED, 245, 191), 20);
    });
    const client = new CommandClient(gcs, { sysid: 1, compid: 1 }, { timeoutMs: 500, retries: 0, inProgressTimeoutMs: 1000 });
    const r = await client.long(mavCmd.componentArmDisarm, [1]);
    expect(r.ok ? r.value : r.error).toEqual({ command: mavCmd.componentArmDisarm, result: common.MavResult.ACCEPTED, attempts: 1, sawInProgress: false });
  });

  it('reports a denial by name, a timeout after the retries, and refuses a duplicate in flight', async () => {
    const denied = setup((_c, ack) => ack(common.MavResult.DENIED));
    const d = await denied.long(400, [1]);
    expect(!d.ok && d.error).toEqual({ code: 'rejected', message: 'COMPONENT_ARM_DISARM: DENIED' });
    const silent = setup(() => undefined);
    const first = silent.long(21, []);
    const dup = await silent.long(21, []);
    expect(!dup.ok && dup.error.message).toContain('already awaiting an ACK');
    const t = await first;
    expect(!t.ok && t.error.code).toBe('timeout');
    expect(!t.ok && t.error.message).toContain('4 attempts');
  });

  it('supersede stops the resends of a command awaiting its ACK and ends it saying by what; others go on', async () => {
    const seen: number[] = [];
    const client = setup((c) => void seen.push(c.command)); // never answers
    const rtl = client.long(20, []);
    const other = client.long(21, []);
    await new Promise((r) => setTimeout(r, 10));
    client.supersede([20], 'goto');
    const r = await rtl;
    expect(r.ok ? 'ok' : r.error).toEqual({ code: 'superseded', message: 'NAV_RETURN_TO_LAUNCH: superseded by goto before its ACK' });
    const o = await other;
    expect(!o.ok && o.error.message).toContain('4 attempts'); // not superseded: resent to the end
    expect(seen.filter((c) => c === 20)).toHaveLength(1);
    expect(seen.filter((c) => c === 21)).toHaveLength(4);
  });
});

describe('offboard/guided setpoint stream', () => {
  it('streams position setpoints at >= 2 Hz, starting before the mode switch (PX4 refuses OFFBOARD otherwise)', async () => {
    const [a, b] = pair();
    const gcs = new MavlinkEndpoint({ transport: a, sysid: 245, compid: 191, heartbeat: hb });
    const fc = new MavlinkEndpoint({ transport: b, sysid: 1, compid: 1, heartbeat: hb });
    const arrivals: number[] = [];
    fc.onMessage(({ msg }) => {
      if (msg instanceof common.SetPositionTargetGlobalInt) arrivals.push(Date.now());
      if (msg instanceof common.CommandLong && msg.command === mavCmd.doSetMode) {
        const result = arrivals.length > 0 ? common.MavResult.ACCEPTED : common.MavResult.DENIED;
        fc.send(Object.assign(new common.CommandAck(), { command: msg.command, result, progress: 0, resultParam2: 0, targetSystem: 245, targetComponent: 191 }));
      }
    });
    const vehicle = new MavlinkVehicle(gcs, { family: 'px4', command: { timeoutMs: 100, retries: 2 } });
    const r = await vehicle.streamPosition({ latDeg: 47.4, lonDeg: 8.5, relAltM: 20 });
    expect(r.ok).toBe(true);
    const start = Date.now();
    await new Promise((res) => setTimeout(res, 1000));
    vehicle.stopSetpoints();
    const inWindow = arrivals.filter((t) => t >= start && t < start + 1000).length;
    expect(inWindow).toBeGreaterThanOrEqual(4); // 5 Hz by default, never below 2.5 Hz
    const gaps = arrivals.slice(1).map((t, i) => t - (arrivals[i] as number));
    expect(Math.max(...gaps)).toBeLessThan(500); // never a gap PX4 would call a lost stream
  });
});
