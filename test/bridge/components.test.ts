// MAVLink tracks connections per component (mavlink.io/en/services/heartbeat.html): a gimbal heartbeating
// on the flight controller's system id is another component. Before, the host took every message of
// system 1 as the autopilot's: the gimbal's HEARTBEAT (disarmed, no custom mode) overwrote the armed
// state and flight mode, and kept the link "up" after the autopilot itself went silent, so commands to
// a dead flight controller waited out their retries instead of failing at once as lost.

import { common } from 'node-mavlink';
import { afterEach, describe, expect, it } from 'vitest';
import { MavlinkEndpoint } from '../../firmware-bridge/mavlink/endpoint.js';
import { MavlinkVehicle } from '../../firmware-bridge/mavlink/vehicle.js';
import { memoryPair } from './memory-pair.js';

const armedBit = 128; // MAV_MODE_FLAG_SAFETY_ARMED
const ends: MavlinkEndpoint[] = [];

afterEach(() => {
  for (const e of ends.splice(0)) e.stop();
});

/** A host (245/191), an autopilot (1/1, PX4, armed) and a gimbal (1/154) on one link, heartbeating every 20 ms. */
function rig() {
  const [a, b] = memoryPair();
  const fast = { heartbeatIntervalMs: 20, heartbeatsMissedMax: 3 };
  const host = new MavlinkEndpoint({ transport: a, sysid: 245, compid: 191, heartbeat: () => ({ type: 18, autopilot: 8, baseMode: 0, customMode: 0, systemStatus: 4 }), ...fast });
  const autopilot = new MavlinkEndpoint({ transport: b, sysid: 1, compid: 1, heartbeat: () => ({ type: 2, autopilot: 12, baseMode: armedBit | 1, customMode: 0x04030000, systemStatus: 4 }), ...fast });
  const gimbal = new MavlinkEndpoint({ transport: b, sysid: 1, compid: 154, heartbeat: () => ({ type: 26, autopilot: 8, baseMode: 0, customMode: 0, systemStatus: 4 }), ...fast });
  ends.push(host, autopilot, gimbal);
  for (const e of ends) e.start();
  const vehicle = new MavlinkVehicle(host, { imuRateHz: 0, command: { timeoutMs: 300, retries: 3 } });
  return { host, autopilot, gimbal, vehicle };
}

const until = async (what: string, ok: () => boolean, ms = 2_000): Promise<void> => {
  const t0 = Date.now();
  while (!ok()) {
    if (Date.now() - t0 > ms) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
};

describe('the flight controller is a component, not a whole system', () => {
  it("a gimbal's HEARTBEAT on the FC's system id never stands for the autopilot's armed state or mode", async () => {
    const { host, vehicle } = rig();
    await until('both components heard', () => host.heardComponents(1).length === 2);
    expect(host.heardComponents(1)).toEqual([1, 154]);
    // Many heartbeats of each: every one of the gimbal's would have overwritten the autopilot's.
    for (let i = 0; i < 10; i++) {
      await new Promise((r) => setTimeout(r, 25));
      expect(vehicle.armed()).toBe(true);
      expect(vehicle.telemetry.heartbeat?.type).toBe(2);
    }
    expect(vehicle.family()).toBe('px4');
  });

  it('is lost when the autopilot goes silent although the gimbal keeps heartbeating, and a command then fails at once', async () => {
    const { host, autopilot, vehicle } = rig();
    await until('the autopilot heard', () => vehicle.connected());
    autopilot.heartbeatsEnabled = false;
    await until('the autopilot declared lost', () => !vehicle.connected());
    expect(host.isPeerUp(1, 154)).toBe(true); // the gimbal is still there
    expect(host.isPeerUp(1)).toBe(true); // the system as a whole, too
    expect(host.isPeerLost(1, 1)).toBe(true);
    // Failing at once is failing before the command goes out: the autopilot hears none of it (before, it
    // heard the first copy and 3 resends, 4 x 300 ms). Counted, not timed: a bound on the time (100 ms,
    // then 600) was a timed test a loaded machine could fail.
    const heard: number[] = [];
    autopilot.onMessage(({ msg }) => void (msg instanceof common.CommandLong && heard.push(msg.command)));
    const r = await vehicle.commands.long(common.MavCmd.COMPONENT_ARM_DISARM, [1]);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.message).toMatch(/the flight controller was lost \(no HEARTBEAT for 60 ms\)/);
    await new Promise((done) => setTimeout(done, 50)); // a copy sent would be in by now (in memory)
    expect(heard).toEqual([]);
  });

  it('names the component when only other components of the expected system heartbeat', async () => {
    const [a, b] = memoryPair();
    const host = new MavlinkEndpoint({ transport: a, sysid: 245, compid: 191, heartbeat: () => ({ type: 18, autopilot: 8, baseMode: 0, customMode: 0, systemStatus: 4 }), heartbeatIntervalMs: 20 });
    const gimbal = new MavlinkEndpoint({ transport: b, sysid: 1, compid: 154, heartbeat: () => ({ type: 26, autopilot: 8, baseMode: 0, customMode: 0, systemStatus: 4 }), heartbeatIntervalMs: 20 });
    ends.push(host, gimbal);
    host.start();
    gimbal.start();
    const vehicle = new MavlinkVehicle(host, { imuRateHz: 0 });
    await until('the gimbal heard', () => host.heardComponents(1).length === 1);
    expect(vehicle.telemetry.heartbeat).toBeNull();
    expect(vehicle.silence()).toBe('HEARTBEATs arrive on mem0 from system 1 component 154 only, but the flight controller is expected as component 1 (an autopilot is component 1; a gimbal, camera or companion computer is not one)');
  });
});

describe('silence() names the setting that sets the flight controller\'s ids, when given one (targetFix)', () => {
  const targetFix = (part: 'system' | 'component', id: number): string => `set \`fc.${part}: ${id}\``;
  const heartbeating = (b: ReturnType<typeof memoryPair>[1], sysid: number, compid: number): MavlinkEndpoint => {
    const e = new MavlinkEndpoint({ transport: b, sysid, compid, heartbeat: () => ({ type: 2, autopilot: 3, baseMode: 0, customMode: 0, systemStatus: 4 }), heartbeatIntervalMs: 20 });
    ends.push(e);
    e.start();
    return e;
  };

  it('for one other system, its id; for several, the first and that it stands for the right one', async () => {
    const [a, b] = memoryPair();
    const host = new MavlinkEndpoint({ transport: a, sysid: 245, compid: 191, heartbeat: () => ({ type: 18, autopilot: 8, baseMode: 0, customMode: 0, systemStatus: 4 }), heartbeatIntervalMs: 20 });
    ends.push(host);
    const vehicle = new MavlinkVehicle(host, { imuRateHz: 0, targetFix });
    heartbeating(b, 2, 1);
    await until('system 2 heard', () => host.heardSystems().length === 1);
    expect(vehicle.silence()).toBe('HEARTBEATs arrive on mem0 from system 2, but the flight controller is expected as system 1; if system 2 is the flight controller, set `fc.system: 2`');
    heartbeating(b, 3, 1);
    await until('system 3 heard', () => host.heardSystems().length === 2);
    expect(vehicle.silence()).toBe('HEARTBEATs arrive on mem0 from system 2, 3, but the flight controller is expected as system 1; if one of them is the flight controller, set `fc.system: 2` with its id in place of 2');
  });

  it('for another component of the expected system, its id', async () => {
    const [a, b] = memoryPair();
    const host = new MavlinkEndpoint({ transport: a, sysid: 245, compid: 191, heartbeat: () => ({ type: 18, autopilot: 8, baseMode: 0, customMode: 0, systemStatus: 4 }), heartbeatIntervalMs: 20 });
    ends.push(host);
    const vehicle = new MavlinkVehicle(host, { imuRateHz: 0, targetFix });
    heartbeating(b, 1, 154);
    await until('component 154 heard', () => host.heardComponents(1).length === 1);
    expect(vehicle.silence()).toBe('HEARTBEATs arrive on mem0 from system 1 component 154 only, but the flight controller is expected as component 1 (an autopilot is component 1; a gimbal, camera or companion computer is not one); if component 154 is the flight controller, set `fc.component: 154`');
  });
});
