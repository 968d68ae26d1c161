// A refusal's reason comes in a STATUSTEXT, not in the COMMAND_ACK (which says only DENIED or FAILED).
// ArduPilot sends the text first; PX4 queues its log text apart from the ACK, so the text can come
// second. MavlinkVehicle waits a moment for it either way: for an arming check's text, and for a mode
// change's (ArduCopter refuses RTL, AUTO, GUIDED and LOITER with no position; PX4 Return, Hold,
// Mission, Takeoff, Land and Offboard). The simulated FC (ArduPilot unless a test says PX4) runs in this process, joined to the companion in memory; the tests hold every STATUSTEXT
// back 80 ms, past the ACK.

import { afterEach, describe, expect, it } from 'vitest';
import { localToGeo } from '../../hal/geo.js';
import { mavCmd } from '../../firmware-bridge/mavlink/vehicle.js';
import { defaultSimConfig } from '../../hal/sim/sim-config.js';
import { statusText as statusTextMsg } from '../../firmware-bridge/sim-fc/telemetry.js';
import { expectRefusal, frameMsgid, inMemoryFc, px4RefusalTexts, waitFor } from './companion.js';

const cleanup: Array<() => void> = [];
afterEach(() => cleanup.splice(0).forEach((f) => f()));

const statusText = 253;

describe('a refusal explained after its ACK', () => {
  it('carries the PreArm text that came 80 ms after the DENIED', async () => {
    const { vehicle, stop } = inMemoryFc({
      fc: { speedFactor: 4 },
      fromFc: (f, pass) => (frameMsgid(f) === statusText ? void setTimeout(() => pass(f), 80) : pass(f)),
    });
    cleanup.push(stop);
    await waitFor('the FC heard', () => vehicle.connected(), 10_000);
    // A fence 110 m north of the vehicle: ArduPilot's fence pre-arm check refuses.
    const origin = defaultSimConfig.origin;
    const polygon = Array.from({ length: 4 }, (_, i) => localToGeo(origin, 110 + 20 * Math.cos((Math.PI * i) / 2), 20 * Math.sin((Math.PI * i) / 2)));
    const up = await vehicle.uploadFence({ polygon, altMaxM: 25 });
    expect(up.ok ? 'uploaded' : up.error.message).toBe('uploaded');
    const arm = await vehicle.arm();
    expect(arm.ok ? 'armed' : arm.error.message).toBe('COMPONENT_ARM_DISARM: DENIED (the flight controller said "PreArm: vehicle outside fence")');
  }, 30_000);

  it('carries the PreArm text, not another warning sent just before it (a GPS glitch), and waits for the PreArm text past it', async () => {
    let holdTexts = false;
    const rig = inMemoryFc({
      fc: { speedFactor: 4 },
      fromFc: (f, pass) => (frameMsgid(f) === statusText && holdTexts ? void setTimeout(() => pass(f), 80) : pass(f)),
    });
    cleanup.push(rig.stop);
    const { vehicle } = rig;
    await waitFor('the FC heard', () => vehicle.connected(), 10_000);
    const origin = defaultSimConfig.origin;
    const polygon = Array.from({ length: 4 }, (_, i) => localToGeo(origin, 110 + 20 * Math.cos((Math.PI * i) / 2), 20 * Math.sin((Math.PI * i) / 2)));
    const up = await vehicle.uploadFence({ polygon, altMaxM: 25 });
    expect(up.ok ? 'uploaded' : up.error.message).toBe('uploaded');
    const arming = vehicle.arm();
    rig.fc.send(statusTextMsg('GPS Glitch', 4)); // a warning of the FC's own, at once
    holdTexts = true; // the FC's PreArm text, answering the arm, comes 80 ms after its DENIED
    const arm = await arming;
    // Before: 'COMPONENT_ARM_DISARM: DENIED (the flight controller said "GPS Glitch")'.
    expect(arm.ok ? 'armed' : arm.error.message).toBe('COMPONENT_ARM_DISARM: DENIED (the flight controller said "PreArm: vehicle outside fence")');
  }, 30_000);

  it('carries ArduCopter\'s "requires position" for each mode change it refuses with no position; LAND goes, and RTL once the position is back', async () => {
    // Its EKF failsafe off (FS_EKF_THRESH 0), so the lost position does not switch it to LAND at once.
    const rig = inMemoryFc({ fc: { speedFactor: 4, ekfFailsafe: 'off' }, fromFc: (f, pass) => (frameMsgid(f) === statusText ? void setTimeout(() => pass(f), 80) : pass(f)) });
    cleanup.push(rig.stop);
    const { vehicle, fc } = rig;
    await waitFor('the FC heard', () => vehicle.connected(), 10_000);
    const said = (r: { ok: true } | { ok: false; error: { message: string } }): string => (r.ok ? 'accepted' : r.error.message);
    expect(said(await vehicle.setMode('guided'))).toBe('accepted');
    expect(said(await vehicle.arm())).toBe('accepted');
    expect(said(await vehicle.takeoff(5))).toBe('accepted');
    await waitFor('up, the take-off over (GUIDED)', () => fc.vehicle.state().upM > 4 && fc.vehicle.state().mode === 'guided', 10_000);
    // Disarmed it would switch (its arming checks stop it later); armed, with the position gone:
    fc.setNavigation({ receiver: 'no-fix', estimate: 'frozen' });
    expect(said(await vehicle.returnToLaunch())).toBe('NAV_RETURN_TO_LAUNCH: FAILED (the flight controller said "Mode change to RTL failed: requires position")');
    expect(said(await vehicle.hold())).toBe('DO_SET_MODE: FAILED (the flight controller said "Mode change to LOITER failed: requires position")');
    expect(said(await vehicle.startMission())).toBe('MISSION_START: FAILED (the flight controller said "Mode change to AUTO failed: requires position")');
    expect(fc.vehicle.state().mode).toBe('guided'); // each refusal changed nothing
    // LAND needs no position; from LAND, GUIDED does (a goto switches to it).
    expect(said(await vehicle.land())).toBe('accepted');
    expect(said(await vehicle.goto({ ...localToGeo(defaultSimConfig.origin, 20, 0), relAltM: 5 }))).toBe('DO_REPOSITION: FAILED (the flight controller said "Mode change to GUIDED failed: requires position")');
    expect(fc.vehicle.state().mode).toBe('land');
    // The position back: RTL goes.
    fc.setNavigation({ receiver: 'fix', estimate: 'gnss' });
    expect(said(await vehicle.returnToLaunch())).toBe('accepted');
    expect(fc.vehicle.state().mode).toBe('return');
  }, 30_000);

  it('carries PX4\'s "is currently not available" for each mode it cannot run with no position, Land among them, one a simulated second (a refusal within it comes bare); Takeoff with optical flow, and Return once the position is back', async () => {
    const refusals = px4RefusalTexts((f, pass) => (frameMsgid(f) === statusText ? void setTimeout(() => pass(f), 80) : pass(f)));
    const rig = inMemoryFc({ fc: { family: 'px4', speedFactor: 4 }, fromFc: refusals.fromFc });
    refusals.watch(rig.fc);
    cleanup.push(rig.stop);
    const { vehicle, fc } = rig;
    await waitFor('the FC heard', () => vehicle.connected(), 10_000);
    const said = (r: { ok: true } | { ok: false; error: { message: string } }): string => (r.ok ? 'accepted' : r.error.message);
    // Commander::printRejectMode prints its text only a second (simulated, hrt) after the last it printed.
    const aSimulatedSecondOn = (): Promise<void> => {
      const t = fc.nowMs();
      return waitFor('a simulated second on', () => fc.nowMs() - t > 1_000, 2_000);
    };
    expect(said(await vehicle.arm())).toBe('accepted');
    // High enough that the failsafe's descent (1.5 m/s) lasts the refusals' seconds: landed, it disarms.
    expect(said(await vehicle.takeoff(30))).toBe('accepted');
    await waitFor('up, the take-off over (Hold)', () => fc.vehicle.state().upM > 29 && fc.vehicle.state().mode === 'hold', 10_000);
    fc.setNavigation({ receiver: 'no-fix', estimate: 'frozen' });
    // Hold cannot run without its position: PX4's failsafe descends at once (px4-position-failsafe.test.ts).
    // Its "Failsafe activated" heard before the refusals below, so that it is not the only text after one
    // of them (a refusal with no text of its own is explained by what the FC said after it).
    await waitFor('the failsafe said', () => vehicle.failsafeSaid() !== null, 3_000);
    // Land needs a local position (relaxed), which is gone too.
    expect(said(await vehicle.land())).toBe('NAV_LAND: TEMPORARILY_REJECTED (the flight controller said "Switching to Land is currently not available")');
    // At once (some 100 ms after the Land's text, 0.4 s simulated): refused without a text (unless a
    // loaded machine let a simulated second pass: what the FC's rule called for, read on its side).
    const rtl = said(await vehicle.returnToLaunch());
    expectRefusal(rtl, 'NAV_RETURN_TO_LAUNCH: TEMPORARILY_REJECTED', 'Switching to Return is currently not available', refusals.due(mavCmd.navReturnToLaunch));
    await aSimulatedSecondOn();
    expect(said(await vehicle.returnToLaunch())).toBe('NAV_RETURN_TO_LAUNCH: TEMPORARILY_REJECTED (the flight controller said "Switching to Return is currently not available")');
    await aSimulatedSecondOn();
    // A DO_SET_MODE's refusal PX4 explains only to a ground station (component 190; the companion is
    // 191): the companion says what TEMPORARILY_REJECTED means.
    expect(said(await vehicle.hold())).toBe('DO_SET_MODE: TEMPORARILY_REJECTED (PX4 cannot fly Hold now: its requirements for that mode, such as a position, are not met; it gives the reason only to a ground station)');
    await aSimulatedSecondOn();
    expect(said(await vehicle.startMission())).toBe('MISSION_START: TEMPORARILY_REJECTED (the flight controller said "Switching to Mission is currently not available")');
    await aSimulatedSecondOn();
    // A reposition flies in Hold on PX4.
    expect(said(await vehicle.goto({ ...localToGeo(defaultSimConfig.origin, 20, 0), relAltM: 5 }))).toBe('DO_REPOSITION: TEMPORARILY_REJECTED (the flight controller said "Switching to Hold is currently not available")');
    await aSimulatedSecondOn();
    expect(said(await vehicle.takeoff(8))).toBe('NAV_TAKEOFF: TEMPORARILY_REJECTED (the flight controller said "Switching to Takeoff is currently not available")');
    expect(fc.vehicle.state().mode).toBe('land'); // each refusal changed nothing: the failsafe descends on
    await aSimulatedSecondOn();
    // Optical flow is a local position: Takeoff can run on it, Return still cannot.
    fc.setNavigation({ receiver: 'no-fix', estimate: 'flow' });
    expect(said(await vehicle.returnToLaunch())).toContain('Switching to Return is currently not available');
    expect(said(await vehicle.takeoff(8))).toBe('accepted');
    expect(fc.vehicle.state().mode).toBe('takeoff');
    // The position back: Return goes.
    fc.setNavigation({ receiver: 'fix', estimate: 'gnss' });
    expect(said(await vehicle.returnToLaunch())).toBe('accepted');
    expect(fc.vehicle.state().mode).toBe('return');
  }, 30_000);
});
