// The height the executor flies by. Take-off and goto altitudes go to a flight controller as heights above
// its home (MAVLink's GLOBAL_RELATIVE_ALT frame), and the FC flies them by its barometer-fused estimate;
// a GNSS receiver's altitude wanders by metres against that. The executor reads the FC's own height
// above home (FlightState.heightAboveHomeM, MAVLink's relative_alt) when it gives one. On the executor
// rig's simulated multirotor, with a receiver whose altitude reads 6 m high once the drone is armed.

import { afterEach, describe, expect, it } from 'vitest';
import { executorRig, stopRigs, until } from './executor-rig.js';

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
