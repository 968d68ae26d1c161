// The mode the simulated PX4 shows once landed and disarmed: its commander's user intended mode goes
// back, on disarming, to the last one switched to that does not prevent arming (UserModeIntention::
// onDisarm; Return and Land prevent it, mode_requirements.cpp). Step by step on the pure state machine
// (px4-user-intention.ts), then seen from the companion, in memory: landed from Offboard by NAV_LAND it
// shows Offboard, from a mission's landing Mission, home by Return after a goto Hold. Before, the
// simulated PX4 showed Hold after every landing, whatever it flew before.

import { describe, expect, it, type TestContext } from 'vitest';
import { localToGeo } from '../../hal/geo.js';
import { defaultSimConfig } from '../../hal/sim/sim-config.js';
import type { MissionItem } from '../../firmware-bridge/mavlink/mission-item.js';
import { mavCmd } from '../../firmware-bridge/mavlink/vehicle.js';
import { Px4UserIntention, px4PreventsArming } from '../../firmware-bridge/sim-fc/px4-user-intention.js';
import { inMemoryFc, waitFor } from './companion.js';

const origin = defaultSimConfig.origin;
const said = (r: { ok: true } | { ok: false; error: { message: string } }): string => (r.ok ? 'accepted' : r.error.message);

describe("PX4's user intention (UserModeIntention)", () => {
  it('Return and Land prevent arming; the other modes named here do not', () => {
    const modes = ['mission', 'hold', 'return', 'takeoff', 'land', 'guided', 'manual'] as const;
    expect(modes.filter(px4PreventsArming)).toEqual(['return', 'land']);
  });

  it('a disarm goes back to the last mode switched to that does not prevent arming; Hold before any', () => {
    const u = new Px4UserIntention();
    expect(u.onDisarm()).toBe('hold');
    u.change('takeoff');
    u.change('hold'); // the take-off done: Loiter
    u.change('guided');
    u.change('land');
    expect(u.current()).toBe('land');
    expect(u.onDisarm()).toBe('guided');
    expect(u.current()).toBe('guided');
    u.change('return');
    u.change('land');
    expect(u.onDisarm()).toBe('guided');
    u.change('mission');
    expect(u.onDisarm()).toBe('mission');
  });
});

/** A simulated PX4 (4 simulated seconds a second) and its companion, armed and up `upM` in Hold.
 *  Stopped at the test's end. */
async function px4Up(t: TestContext, upM: number) {
  const rig = inMemoryFc({ fc: { family: 'px4', speedFactor: 4 } });
  t.onTestFinished(rig.stop);
  const { vehicle } = rig;
  await waitFor('the FC heard', () => vehicle.connected(), 10_000);
  expect(said(await vehicle.arm())).toBe('accepted');
  expect(said(await vehicle.takeoff(upM))).toBe('accepted');
  await waitFor('up, the take-off over (Hold)', () => rig.fc.vehicle.state().upM > upM - 1 && vehicle.mode() === 'hold', 15_000);
  return rig;
}

describe.concurrent('the mode the simulated PX4 shows once landed and disarmed', () => {
  it('landed by NAV_LAND from Offboard: Offboard (before: Hold)', { timeout: 30_000 }, async (t) => {
    const { vehicle, fc } = await px4Up(t, 6);
    expect(said(await vehicle.streamPosition({ ...localToGeo(origin, 5, 0), relAltM: 6 }))).toBe('accepted');
    await waitFor('OFFBOARD', () => vehicle.mode() === 'guided', 3_000);
    vehicle.stopSetpoints();
    expect(said(await vehicle.land())).toBe('accepted');
    await waitFor('landed and disarmed', () => !vehicle.armed(), 20_000);
    await waitFor('OFFBOARD on the ground', () => vehicle.mode() === 'guided', 3_000);
    expect(fc.vehicle.state().mode).toBe('guided');
    // Arming there is PX4's to allow (it does: Offboard prevents no arming), and the next take-off flies.
    expect(said(await vehicle.arm())).toBe('accepted');
  });

  it("landed by a mission's land item: Mission (before: Hold)", { timeout: 30_000 }, async (t) => {
    const { vehicle, fc } = await px4Up(t, 6);
    const p = localToGeo(origin, 0, 0);
    const mission: MissionItem[] = [{ command: mavCmd.navLand, latDeg: p.latDeg, lonDeg: p.lonDeg, relAltM: 0 }];
    expect(said(await vehicle.upload(mission))).toBe('accepted');
    expect(said(await vehicle.startMission())).toBe('accepted');
    await waitFor('landed and disarmed', () => !vehicle.armed(), 20_000);
    await waitFor('AUTO_MISSION on the ground', () => vehicle.mode() === 'mission', 3_000);
    expect(fc.vehicle.state().mode).toBe('mission');
  });

  it('home by Return after a goto (Hold): Hold, not Return', { timeout: 30_000 }, async (t) => {
    const { vehicle, fc } = await px4Up(t, 6);
    expect(said(await vehicle.setReturnAltitude(6))).toBe('accepted'); // home at 6 m, not the default's climb
    expect(said(await vehicle.execute({ type: 'goto', target: { ...localToGeo(origin, 10, 0), relAltM: 6 } }))).toBe('accepted');
    expect(said(await vehicle.returnToLaunch())).toBe('accepted');
    await waitFor('RTL', () => vehicle.mode() === 'return', 3_000);
    await waitFor('landed and disarmed', () => !vehicle.armed(), 25_000);
    await waitFor('AUTO_LOITER on the ground', () => vehicle.mode() === 'hold', 3_000);
    expect(fc.vehicle.state().mode).toBe('hold');
  });
});
