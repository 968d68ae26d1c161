// The mode the simulated ArduCopter shows once landed and disarmed: the one it landed in. ArduCopter
// changes no mode on disarming (AP_Arming_Copter::disarm); LAND and RTL disarm in their own mode
// (ModeLand::run, ModeRTL::land_run), AUTO after a mission's landing (ModeAuto::exit_mission). Seen from
// the companion, in memory: landed by NAV_LAND it shows LAND, home by RTL RTL, by a mission's land item
// AUTO; arming there is refused ("Arm: Mode not armable") and MavlinkVehicle.arm switches to GUIDED
// first. Before, the simulated ArduCopter showed LOITER after every landing.

import { describe, expect, it, type TestContext } from 'vitest';
import { localToGeo } from '../../hal/geo.js';
import { defaultSimConfig } from '../../hal/sim/sim-config.js';
import type { MissionItem } from '../../firmware-bridge/mavlink/mission-item.js';
import { mavCmd } from '../../firmware-bridge/mavlink/vehicle.js';
import { inMemoryFc, waitFor } from './companion.js';

const origin = defaultSimConfig.origin;
const said = (r: { ok: true } | { ok: false; error: { message: string } }): string => (r.ok ? 'accepted' : r.error.message);

/** A simulated ArduCopter (4 simulated seconds a second) and its companion, armed and up `upM` in
 *  GUIDED, with the FC's STATUSTEXTs collected. Stopped at the test's end. */
async function arduUp(t: TestContext, upM: number) {
  const rig = inMemoryFc({ fc: { family: 'ardupilot', speedFactor: 4 } });
  t.onTestFinished(rig.stop);
  const { vehicle } = rig;
  await waitFor('the FC heard, with a position', () => vehicle.connected() && vehicle.telemetry.position !== null, 10_000);
  expect(said(await vehicle.arm())).toBe('accepted');
  expect(said(await vehicle.takeoff(upM))).toBe('accepted');
  await waitFor('up', () => rig.fc.vehicle.state().upM > upM - 1, 15_000);
  return rig;
}

/** Landed and disarmed, the FC shows `mode` for a while (at 5 HEARTBEATs a second: several of them),
 *  never LOITER. */
async function staysIn(rig: Awaited<ReturnType<typeof arduUp>>, mode: string): Promise<void> {
  const { vehicle, fc } = rig;
  await waitFor('landed and disarmed', () => !vehicle.armed() && vehicle.landed() === 'on-ground', 25_000);
  const seen = new Set<string>();
  for (const t0 = Date.now(); Date.now() - t0 < 1_000; await new Promise((r) => setTimeout(r, 20))) seen.add(vehicle.mode());
  expect([...seen]).toEqual([mode]);
  expect(fc.vehicle.state().mode).toBe(mode);
}

describe.concurrent('the mode the simulated ArduCopter shows once landed and disarmed', () => {
  it('landed by NAV_LAND: LAND (before: LOITER); arming there is refused, MavlinkVehicle.arm goes to GUIDED first', { timeout: 30_000 }, async (t) => {
    const rig = await arduUp(t, 5);
    const { vehicle, fc } = rig;
    expect(said(await vehicle.land())).toBe('accepted');
    await staysIn(rig, 'land');
    // ArduCopter arms in no LAND ("Arm: Mode not armable", arm-mode.test.ts): the driver switches to
    // GUIDED first, and the next take-off flies.
    expect(said(await vehicle.execute({ type: 'arm' }))).toBe('accepted');
    expect(fc.vehicle.state()).toMatchObject({ armed: true, mode: 'guided' });
    expect(said(await vehicle.execute({ type: 'takeoff', relAltM: 3 }))).toBe('accepted');
    await waitFor('up again', () => fc.vehicle.state().upM > 2, 15_000);
  });

  it('home by RTL: RTL (before: LOITER)', { timeout: 30_000 }, async (t) => {
    const rig = await arduUp(t, 6);
    const { vehicle } = rig;
    expect(said(await vehicle.setReturnAltitude(6))).toBe('accepted'); // home at 6 m, no climb
    expect(said(await vehicle.execute({ type: 'goto', target: { ...localToGeo(origin, 10, 0), relAltM: 6 } }))).toBe('accepted');
    expect(said(await vehicle.returnToLaunch())).toBe('accepted');
    await staysIn(rig, 'return');
  });

  it("landed by a mission's land item: AUTO (before: LOITER)", { timeout: 30_000 }, async (t) => {
    const rig = await arduUp(t, 5);
    const { vehicle } = rig;
    const p = localToGeo(origin, 0, 0);
    const mission: MissionItem[] = [{ command: mavCmd.navLand, latDeg: p.latDeg, lonDeg: p.lonDeg, relAltM: 0 }];
    expect(said(await vehicle.upload(mission))).toBe('accepted');
    expect(said(await vehicle.startMission())).toBe('accepted');
    await staysIn(rig, 'mission');
  });

  it('a disarm commanded on the ground changes no mode (GUIDED stays GUIDED)', { timeout: 30_000 }, async (t) => {
    const rig = inMemoryFc({ fc: { family: 'ardupilot', speedFactor: 4 } });
    t.onTestFinished(rig.stop);
    const { vehicle, fc } = rig;
    await waitFor('the FC heard, with a position', () => vehicle.connected() && vehicle.telemetry.position !== null, 10_000);
    expect(said(await vehicle.setMode('guided'))).toBe('accepted');
    expect(said(await vehicle.arm())).toBe('accepted');
    expect(said(await vehicle.disarm())).toBe('accepted');
    await new Promise((r) => setTimeout(r, 300));
    expect(fc.vehicle.state()).toMatchObject({ armed: false, mode: 'guided' });
  });
});
