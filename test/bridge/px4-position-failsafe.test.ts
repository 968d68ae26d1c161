// The simulated PX4's failsafe for a mode that cannot run without its position (px4-failsafe.ts: the
// commander's mode requirements and mode fallback), seen from the companion, in memory: a PX4 flying
// Hold, Mission or Offboard whose estimator loses its position switches at once to Land (a local
// position left, optical flow) or Descend (none), both AUTO_LAND on MAVLink, says "Failsafe activated"
// (CRITICAL, with PX4's tab), and refuses a switch to a mode that cannot run, Land among them without a
// local position. The position back, the user's mode is flown again (a mission on from its item), or
// the Return of a failsafe still acting (the companion's link lost), whose reason was kept.

import { describe, expect, it, type TestContext } from 'vitest';
import { common, minimal } from 'node-mavlink';
import { localToGeo } from '../../hal/geo.js';
import { defaultSimConfig } from '../../hal/sim/sim-config.js';
import { mavCmd } from '../../firmware-bridge/mavlink/vehicle.js';
import type { SimFcOptions } from '../../firmware-bridge/sim-fc/sim-fc.js';
import { expectRefusal, inMemoryFc, px4RefusalTexts, waitFor } from './companion.js';

const origin = defaultSimConfig.origin;
const critical = 2; // MAV_SEVERITY_CRITICAL
const mavStateCritical = 5;
const mavStateActive = 4;
const said = (r: { ok: true } | { ok: false; error: { message: string } }): string => (r.ok ? 'accepted' : r.error.message);

/** A simulated PX4 (4 simulated seconds a second) and its companion, armed and up `upM` in Hold; every
 *  STATUSTEXT it sent, with its severity. Stopped at the test's end. */
async function px4InHold(t: TestContext, upM: number, fc: Partial<Omit<SimFcOptions, 'transport'>> = {}) {
  const refusals = px4RefusalTexts();
  const rig = inMemoryFc({ fc: { family: 'px4', speedFactor: 4, ...fc }, fromFc: refusals.fromFc });
  refusals.watch(rig.fc);
  t.onTestFinished(rig.stop);
  const texts: { text: string; severity: number }[] = [];
  rig.endpoint.onMessage(({ msg }) => {
    if (msg instanceof common.StatusText) texts.push({ text: msg.text, severity: msg.severity });
  });
  const { vehicle } = rig;
  await waitFor('the FC heard', () => vehicle.connected(), 10_000);
  expect(said(await vehicle.arm())).toBe('accepted');
  expect(said(await vehicle.takeoff(upM))).toBe('accepted');
  await waitFor('up, the take-off over (Hold)', () => rig.fc.vehicle.state().upM > upM - 1 && rig.fc.vehicle.state().mode === 'hold', 10_000);
  const failsafeTexts = (): { text: string; severity: number }[] => texts.filter((x) => /failsafe/i.test(x.text));
  return { ...rig, texts, failsafeTexts, refusals };
}

describe.concurrent("the simulated PX4's failsafe for a lost position", () => {
  it('Hold, no local position left: Descend at once, "Failsafe activated" once; Land and Return refused in its words; it lands and disarms', { timeout: 30_000 }, async (t) => {
    // 15 m: the descent (1.5 m/s) lasts past the refusals below, a simulated second apart.
    const { vehicle, fc, texts, failsafeTexts, refusals } = await px4InHold(t, 15);
    expect(fc.px4FailsafeAction()).toBeNull();
    expect(vehicle.failsafe()).toBe(false);
    fc.setNavigation({ receiver: 'no-fix', estimate: 'frozen' });
    await waitFor('AUTO_LAND on the companion', () => vehicle.mode() === 'land', 3_000);
    expect(fc.px4FailsafeAction()).toBe('descend');
    await waitFor('the text', () => failsafeTexts().length > 0, 2_000);
    expect(failsafeTexts()).toEqual([{ text: 'Failsafe activated\t', severity: critical }]);
    // The companion reads it without PX4's tab.
    expect(vehicle.failsafe()).toBe(true);
    expect(vehicle.failsafeSaid()).toBe('"Failsafe activated"');
    await waitFor('HEARTBEAT system status CRITICAL', () => vehicle.telemetry.heartbeat?.systemStatus === mavStateCritical, 3_000);
    // Land needs a local position (relaxed), Return a global one too: both refused, the descent goes on.
    expect(said(await vehicle.land())).toBe('NAV_LAND: TEMPORARILY_REJECTED (the flight controller said "Switching to Land is currently not available")');
    // The next refusal at once (within a simulated second): Commander::printRejectMode sends no text
    // for it, only the TEMPORARILY_REJECTED; its explanation is the texts heard after its command went
    // out, so not the Land's (which came in the millisecond it went out, in memory).
    // (Unless a loaded machine let a simulated second pass: what the FC's rule called for, read on its side.)
    const rtl = said(await vehicle.returnToLaunch());
    const soon = refusals.due(mavCmd.navReturnToLaunch);
    expectRefusal(rtl, 'NAV_RETURN_TO_LAUNCH: TEMPORARILY_REJECTED', 'Switching to Return is currently not available', soon);
    // A simulated second on, the text again.
    const refusedAtMs = fc.nowMs();
    await waitFor('a simulated second on', () => fc.nowMs() - refusedAtMs > 1_000, 2_000);
    expect(said(await vehicle.returnToLaunch())).toBe('NAV_RETURN_TO_LAUNCH: TEMPORARILY_REJECTED (the flight controller said "Switching to Return is currently not available")');
    expect(fc.px4FailsafeAction()).toBe('descend');
    // Sent as Commander::printRejectMode does, with the tab of a text an event also carries (which the
    // companion drops, above); two texts for three refusals (three if the second was late).
    const switching = texts.filter((x) => x.text.startsWith('Switching'));
    expect(switching[0]).toEqual({ text: 'Switching to Land is currently not available\t', severity: critical });
    expect(switching.slice(1)).toEqual(Array.from({ length: soon === 'bare' ? 1 : switching.length - 1 }, () => ({ text: 'Switching to Return is currently not available\t', severity: critical })));
    if (soon === 'bare') expect(switching).toHaveLength(2);
    await waitFor('landed and disarmed', () => !fc.vehicle.state().armed, 15_000);
    expect(fc.vehicle.state().upM).toBeLessThan(0.5);
    expect(failsafeTexts()).toHaveLength(1);
  });

  it('Mission: optical flow (local only) Land, then no local position Descend, said again; the position back, the mission flown on from its item', { timeout: 30_000 }, async (t) => {
    const { vehicle, fc, failsafeTexts } = await px4InHold(t, 10);
    const wp = localToGeo(origin, 0, 150);
    expect((await vehicle.upload([{ command: mavCmd.navWaypoint, latDeg: wp.latDeg, lonDeg: wp.lonDeg, relAltM: 10 }])).ok).toBe(true);
    expect(said(await vehicle.startMission())).toBe('accepted');
    await waitFor('flying the mission east', () => vehicle.mode() === 'mission' && fc.vehicle.state().eastM > 5, 10_000);
    fc.setNavigation({ receiver: 'no-fix', estimate: 'flow' });
    await waitFor('AUTO_LAND', () => vehicle.mode() === 'land', 3_000);
    expect(fc.px4FailsafeAction()).toBe('land');
    await waitFor('the text', () => failsafeTexts().length === 1, 2_000);
    // Worse: Land cannot run either, Descend; PX4 tells the user again.
    fc.setNavigation({ estimate: 'frozen' });
    await waitFor('Descend', () => fc.px4FailsafeAction() === 'descend', 2_000);
    await waitFor('said again', () => failsafeTexts().length === 2, 2_000);
    expect(failsafeTexts().every((x) => x.text === 'Failsafe activated\t' && x.severity === critical)).toBe(true);
    const eastAtLoss = fc.vehicle.state().eastM;
    expect(fc.vehicle.state().armed).toBe(true);
    // The position back: the failsafe's action goes, and the mission (the user's mode) is flown on.
    fc.setNavigation({ receiver: 'fix', estimate: 'gnss' });
    await waitFor('Mission again', () => vehicle.mode() === 'mission', 3_000);
    expect(fc.px4FailsafeAction()).toBeNull();
    expect(fc.failsafeReason).toBeNull();
    await waitFor('HEARTBEAT system status ACTIVE', () => vehicle.telemetry.heartbeat?.systemStatus === mavStateActive, 3_000);
    await waitFor('flying on east', () => fc.vehicle.state().eastM > eastAtLoss + 10, 10_000);
    expect(fc.missionState()).toEqual({ items: 1, current: 0 });
    expect(failsafeTexts()).toHaveLength(2); // nothing said as it ends
  });

  it('Offboard on position setpoints, no local position: Descend; a switch back to Offboard refused (a DO_SET_MODE PX4 does not explain to a companion: the companion says what the refusal means)', { timeout: 30_000 }, async (t) => {
    const { vehicle, fc, failsafeTexts } = await px4InHold(t, 5);
    expect(said(await vehicle.streamPosition({ ...localToGeo(origin, 0, 60), relAltM: 5 }))).toBe('accepted');
    await waitFor('Offboard, flying east', () => vehicle.mode() === 'guided' && fc.vehicle.state().eastM > 3, 10_000);
    fc.setNavigation({ receiver: 'no-fix', estimate: 'drifting' });
    await waitFor('AUTO_LAND', () => vehicle.mode() === 'land', 3_000);
    expect(fc.px4FailsafeAction()).toBe('descend');
    await waitFor('the text', () => failsafeTexts().length === 1, 2_000);
    expect(said(await vehicle.streamPosition({ ...localToGeo(origin, 0, 60), relAltM: 5 }))).toBe('DO_SET_MODE: TEMPORARILY_REJECTED (PX4 cannot fly Offboard now: its requirements for that mode, such as a position, are not met; it gives the reason only to a ground station)');
    expect(fc.px4FailsafeAction()).toBe('descend');
  });

  it('the companion link lost first (Return), then the position: Descend, the link\'s reason kept; the position back, Return again and HEARTBEAT still CRITICAL', { timeout: 30_000 }, async (t) => {
    const { vehicle, fc, endpoint } = await px4InHold(t, 20);
    const heartbeats: number[] = [];
    endpoint.onMessage(({ msg }) => {
      if (msg instanceof minimal.Heartbeat) heartbeats.push(msg.systemStatus);
    });
    endpoint.heartbeatsEnabled = false; // the companion goes quiet: the FC's link-loss failsafe returns
    await waitFor('Return for the lost link', () => vehicle.mode() === 'return' && fc.failsafeReason === 'companion link lost', 5_000);
    fc.setNavigation({ receiver: 'no-fix', estimate: 'frozen' });
    await waitFor('Descend', () => fc.px4FailsafeAction() === 'descend' && vehicle.mode() === 'land', 3_000);
    expect(fc.failsafeReason).toBe('companion link lost'); // before: 'position lost', cleared as it ended
    fc.setNavigation({ receiver: 'fix', estimate: 'gnss' });
    await waitFor('Return again', () => vehicle.mode() === 'return', 3_000);
    expect(fc.px4FailsafeAction()).toBeNull();
    expect(fc.failsafeReason).toBe('companion link lost');
    // Every HEARTBEAT since says CRITICAL (before, ACTIVE: the link's failsafe looked over).
    const seen = heartbeats.length;
    await waitFor('two HEARTBEATs more', () => heartbeats.length >= seen + 2, 3_000);
    expect(heartbeats.slice(seen)).toEqual(heartbeats.slice(seen).map(() => mavStateCritical));
    expect(fc.vehicle.state().armed).toBe(true);
  });

  it('Manual (no position needed), optical flow only: the companion link lost flies Land, not Return (no global position); the global position back, Return', { timeout: 30_000 }, async (t) => {
    const { vehicle, fc, endpoint, texts } = await px4InHold(t, 10);
    expect(said(await vehicle.setMode('manual'))).toBe('accepted');
    fc.setNavigation({ receiver: 'no-fix', estimate: 'flow' });
    endpoint.heartbeatsEnabled = false;
    await waitFor('the link-loss failsafe', () => fc.failsafeReason === 'companion link lost', 5_000);
    // Return needs a global position (getSelectedAction falls through to Land); before, it flew Return.
    await waitFor('AUTO_LAND', () => vehicle.mode() === 'land', 2_000);
    expect(fc.vehicle.state().mode).toBe('land');
    expect(fc.px4FailsafeAction()).toBeNull(); // Manual can run: no position fallback acts
    await waitFor('the text', () => texts.some((x) => x.text.startsWith('failsafe: companion link lost')), 2_000);
    expect(texts.filter((x) => x.text.startsWith('failsafe: companion link lost')).map((x) => x.text)).toEqual(['failsafe: companion link lost, action land']);
    // PX4 selects its action each cycle: the global position back, Return can run, and is flown.
    fc.setNavigation({ receiver: 'fix', estimate: 'gnss' });
    await waitFor('Return', () => vehicle.mode() === 'return', 3_000);
    expect(fc.failsafeReason).toBe('companion link lost');
  });

  it('Manual, no position at all: the companion link lost flies Descend (AUTO_LAND), down to the ground', { timeout: 30_000 }, async (t) => {
    const { vehicle, fc, endpoint, texts } = await px4InHold(t, 5);
    expect(said(await vehicle.setMode('manual'))).toBe('accepted');
    fc.setNavigation({ receiver: 'no-fix', estimate: 'frozen' });
    endpoint.heartbeatsEnabled = false;
    await waitFor('AUTO_LAND', () => vehicle.mode() === 'land', 5_000);
    expect(fc.failsafeReason).toBe('companion link lost');
    // Descend from the start (named 'land': both show AUTO_LAND); before, Return, which the position
    // fallback then turned into Descend a cycle later.
    await waitFor('the text', () => texts.some((x) => x.text.startsWith('failsafe: companion link lost')), 2_000);
    expect(texts.filter((x) => x.text.startsWith('failsafe: companion link lost')).map((x) => x.text)).toEqual(['failsafe: companion link lost, action land']);
    expect(fc.px4FailsafeAction()).toBeNull();
    await waitFor('landed and disarmed', () => !fc.vehicle.state().armed, 15_000);
  });

  it("the simulation's failsafe off (ekfFailsafe 'off', no PX4 setting): Hold stays, nothing said", { timeout: 30_000 }, async (t) => {
    const { vehicle, fc, failsafeTexts } = await px4InHold(t, 5, { ekfFailsafe: 'off' });
    fc.setNavigation({ receiver: 'no-fix', estimate: 'frozen' });
    await new Promise((r) => setTimeout(r, 1_000)); // 4 simulated seconds: the failsafe acts in one tick
    expect(vehicle.mode()).toBe('hold');
    expect(fc.px4FailsafeAction()).toBeNull();
    expect(failsafeTexts()).toEqual([]);
  });
});
