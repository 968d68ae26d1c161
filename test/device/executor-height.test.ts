// The height the executor flies by. Take-off and goto altitudes go to a flight controller as heights above
// its home (MAVLink's GLOBAL_RELATIVE_ALT frame), and the FC flies them by its barometer-fused estimate;
// a GNSS receiver's altitude wanders by metres against that. The executor reads the FC's own height
// above home (FlightState.heightAboveHomeM, MAVLink's relative_alt) when it gives one. On the executor
// rig's simulated multirotor, with a receiver whose altitude reads 6 m high once the drone is armed.

import { afterEach, describe, expect, it } from 'vitest';
import { Executor } from '../../runtime/device/executor.js';
import { executorRig, origin, stopRigs, until } from './executor-rig.js';

afterEach(stopRigs);

const receiverDriftM = 6;

async function driftingRig(fcHeight: boolean) {
  const rig = await executorRig();
  const { vehicle, devices } = rig;
  const fix = devices.position.fix.bind(devices.position);
  devices.position.fix = () => {
    const r = fix();
    return r.ok && vehicle.state().armed ? { ok: true, value: { ...r.value, altMslM: r.value.altMslM + receiverDriftM } } : r;
  };
  if (fcHeight) {
    const state = devices.flight.state.bind(devices.flight);
    devices.flight.state = () => {
      const r = state();
      return r.ok ? { ok: true, value: { ...r.value, heightAboveHomeM: vehicle.state().upM } } : r;
    };
  }
  return rig;
}

describe("the executor's height", () => {
  it("is the flight controller's height above home when it gives one: flying a survey leg at 20 m it reads 20 m, though the receiver reads 6 m high", async () => {
    const { vehicle, ex, reports } = await driftingRig(true);
    expect(ex.heightKnown()).toBe(true);
    ex.run('m1', { type: 'waypoints', mission: 'm1', waypoints: [{ n: 0, e: 60 }, { n: 30, e: 60 }], altDm: 200, speedDmps: 80, then: 'hold' });
    expect(await until(() => reports.some((r) => r.stage === 'done' || r.stage === 'failed'), 25_000)).toBe(true);
    expect(reports.filter((r) => r.stage === 'failed')).toEqual([]);
    expect(reports.map((r) => r.stage)).toContain('done');
    const up = ex.position()?.upM ?? Number.NaN;
    expect(Math.abs(up - vehicle.state().upM)).toBeLessThan(0.01);
    expect(Math.abs(up - 20)).toBeLessThan(2);
    ex.stop();
  }, 40_000);

  it("known from the FC's height alone: in the air, with no landed state or home reported yet (just restarted)", async () => {
    const { vehicle, devices } = await executorRig();
    expect((await devices.flight.execute({ type: 'arm' })).ok).toBe(true);
    expect((await devices.flight.execute({ type: 'takeoff', relAltM: 12 })).ok).toBe(true);
    expect(await until(() => vehicle.state().upM > 11.5, 15_000)).toBe(true);
    const state = devices.flight.state.bind(devices.flight);
    let fcHeight = false;
    devices.flight.state = () => {
      const r = state();
      return r.ok ? { ok: true, value: { ...r.value, landed: 'unknown', home: null, ...(fcHeight ? { heightAboveHomeM: vehicle.state().upM } : {}) } } : r;
    };
    const restarted = new Executor(devices, origin, () => undefined, () => undefined);
    expect(restarted.heightKnown()).toBe(false); // its fix is not the ground, and nothing else says how high
    fcHeight = true;
    expect(restarted.heightKnown()).toBe(true);
    expect(Math.abs((restarted.position()?.upM ?? Number.NaN) - vehicle.state().upM)).toBeLessThan(0.01);
    restarted.stop();
  }, 30_000);

  it("the FC's height gone stale: the receiver's altitude carries on from the FC's last height, not jump by its drift", async () => {
    const { vehicle, devices, ex } = await driftingRig(true);
    const state = devices.flight.state.bind(devices.flight);
    let stale = false;
    devices.flight.state = () => {
      const r = state();
      if (!r.ok || !stale) return r;
      const { heightAboveHomeM: _gone, ...rest } = r.value;
      return { ok: true, value: rest };
    };
    ex.run('m1', { type: 'waypoints', mission: 'm1', waypoints: [{ n: 0, e: 60 }], altDm: 200, speedDmps: 80, then: 'hold' });
    expect(await until(() => vehicle.state().upM > 19, 20_000)).toBe(true);
    const before = ex.position()?.upM ?? Number.NaN;
    stale = true;
    const after = ex.position()?.upM ?? Number.NaN;
    // The receiver reads 6 m high; its noise is 0.75 m at one sigma.
    expect(Math.abs(after - before)).toBeLessThan(3);
    expect(Math.abs(after - vehicle.state().upM)).toBeLessThan(3);
    ex.stop();
  }, 30_000);

  it("without one (the simulated HAL's flight driver gives none), is the receiver's altitude over the ground's: here 6 m more than the drone's", async () => {
    const { vehicle, devices, ex } = await driftingRig(false);
    expect(ex.heightKnown()).toBe(true); // on the ground, disarmed: its ground is this fix's altitude
    expect((await devices.flight.execute({ type: 'arm' })).ok).toBe(true);
    expect((await devices.flight.execute({ type: 'takeoff', relAltM: 10 })).ok).toBe(true);
    expect(await until(() => vehicle.state().upM > 9.5, 15_000)).toBe(true);
    const up = ex.position()?.upM ?? Number.NaN;
    // The ground was taken from a fix before arming, so the drift shows in full (the simulated
    // receiver's noise: 0.75 m at one sigma).
    expect(up - vehicle.state().upM).toBeGreaterThan(receiverDriftM - 3);
    ex.stop();
  }, 30_000);
});
