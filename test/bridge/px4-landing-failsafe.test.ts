// The simulated PX4 in its user's Land (the companion's NAV_LAND), seen from the companion, in memory.
// PX4 lands on there: its lost data link sets off no failsafe (Failsafe::checkStateAndMode,
// dll_loss_ignored_land), and a failsafe whose action is Return only warns while Land can run
// (FailsafeBase::getSelectedAction, "If already landing, do not go into RTL"): no climb into Return,
// no "Failsafe activated", HEARTBEAT not CRITICAL. Before, the simulated PX4 climbed out of the landing
// into Return for both, and its companion saw a failsafe of the FC's own. A mission's landing is no
// Land of the user's (PX4 flies it in Mission): the lost link there still returns.

import { describe, expect, it, type TestContext } from 'vitest';
import { common, minimal } from 'node-mavlink';
import { localToGeo } from '../../hal/geo.js';
import { defaultSimConfig } from '../../hal/sim/sim-config.js';
import { toFenceItemInt } from '../../firmware-bridge/mavlink/fence.js';
import type { Fence } from '../../firmware-bridge/mavlink/fence.js';
import type { MissionItem } from '../../firmware-bridge/mavlink/mission-item.js';
import { mavCmd } from '../../firmware-bridge/mavlink/vehicle.js';
import { inMemoryFc, waitFor } from './companion.js';

const origin = defaultSimConfig.origin;
const mavStateActive = 4;
const mavStateCritical = 5;
const said = (r: { ok: true } | { ok: false; error: { message: string } }): string => (r.ok ? 'accepted' : r.error.message);

/** A simulated PX4 (4 simulated seconds a second) and its companion, armed and up `upM` in Hold; the
 *  STATUSTEXTs, HEARTBEAT system states and modes flown armed (in the FC's own terms) seen since; when the FC
 *  counted the companion lost. Stopped at the test's end. */
async function px4Up(t: TestContext, upM: number) {
  const rig = inMemoryFc({ fc: { family: 'px4', speedFactor: 4 } });
  t.onTestFinished(rig.stop);
  const texts: string[] = [];
  const states: number[] = [];
  rig.endpoint.onMessage(({ msg }) => {
    if (msg instanceof common.StatusText) texts.push(msg.text);
    else if (msg instanceof minimal.Heartbeat) states.push(msg.systemStatus);
  });
  const modes: string[] = []; // the FC's modes while armed, each change
  const watch = setInterval(() => {
    const s = rig.fc.vehicle.state();
    if (s.armed && modes.at(-1) !== s.mode) modes.push(s.mode);
  }, 5);
  t.onTestFinished(() => clearInterval(watch));
  let companionLost = false;
  rig.fc.endpoint.onLink((e) => {
    if (e.type === 'lost') companionLost = true;
  });
  const { vehicle } = rig;
  await waitFor('the FC heard', () => vehicle.connected(), 10_000);
  expect(said(await vehicle.arm())).toBe('accepted');
  expect(said(await vehicle.takeoff(upM))).toBe('accepted');
  await waitFor('up, the take-off over (Hold)', () => rig.fc.vehicle.state().upM > upM - 1 && rig.fc.vehicle.state().mode === 'hold', 15_000);
  return { ...rig, texts, states, modes, companionLost: () => companionLost };
}

describe.concurrent("the simulated PX4 lands on in its user's Land", () => {
  it('the companion link lost while it lands: no failsafe (no Return, no failsafe text, HEARTBEAT ACTIVE); it lands and disarms', { timeout: 30_000 }, async (t) => {
    const { vehicle, fc, endpoint, texts, states, modes, companionLost } = await px4Up(t, 20);
    expect(said(await vehicle.land())).toBe('accepted');
    await waitFor('AUTO_LAND', () => vehicle.mode() === 'land', 3_000);
    const from = modes.length - 1;
    endpoint.heartbeatsEnabled = false; // the companion goes quiet (a restart, a cable)
    await waitFor('the FC counts the companion lost', companionLost, 5_000);
    const seen = states.length;
    await waitFor('two HEARTBEATs more', () => states.length >= seen + 2, 3_000);
    // Before: Return at once (climbing back to its return altitude), "failsafe: companion link lost,
    // action return", HEARTBEAT CRITICAL.
    expect(fc.failsafeReason).toBeNull();
    expect(states.slice(seen)).toEqual(states.slice(seen).map(() => mavStateActive));
    expect(texts.filter((x) => /failsafe/i.test(x))).toEqual([]);
    expect(vehicle.failsafe()).toBe(false);
    endpoint.heartbeatsEnabled = true;
    await waitFor('landed and disarmed', () => !fc.vehicle.state().armed, 20_000);
    expect(modes.slice(from)).toEqual(['land']);
  });

  it('a fence breach (GF_ACTION Return) while it lands: a warning only, no Return, no failsafe; it lands and disarms', { timeout: 30_000 }, async (t) => {
    const { vehicle, fc, texts, states, modes } = await px4Up(t, 20);
    expect(said(await vehicle.land())).toBe('accepted');
    await waitFor('AUTO_LAND', () => vehicle.mode() === 'land', 3_000);
    const from = modes.length - 1;
    // A keep-out circle put round the landing drone (a hazard committed as it descends), inside a
    // polygon round it all: the FC's next check breaches it (boundary).
    const here = fc.vehicle.state();
    const at = (northM: number, eastM: number) => localToGeo(origin, here.northM + northM, here.eastM + eastM);
    const fence: Fence = { polygon: [at(-500, -500), at(-500, 500), at(500, 500), at(500, -500)], altMaxM: null, keepOuts: [{ ...at(0, 0), radiusM: 30 }] };
    const items = [0, 1, 2, 3, 4].map((seq) => toFenceItemInt(fence, seq, { sysid: 1, compid: 1 }));
    expect(fc.fence.accept(items)).toBe(common.MavMissionResult.ACCEPTED);
    fc.fence.setEnabled(true);
    await waitFor('the breach', () => fc.fence.status().breached !== null, 3_000);
    await waitFor('its text', () => texts.some((x) => x.startsWith('fence breached')), 2_000);
    const seen = states.length;
    await waitFor('two HEARTBEATs more', () => states.length >= seen + 2, 3_000);
    // Before: "failsafe: fence breached (boundary), action return", Return, HEARTBEAT CRITICAL.
    expect(texts.filter((x) => x.includes('fence breached'))).toEqual(['fence breached (boundary): landing on']);
    expect(texts.filter((x) => /failsafe/i.test(x))).toEqual([]);
    expect(fc.failsafeReason).toBeNull();
    expect(states.slice(seen)).toEqual(states.slice(seen).map(() => mavStateActive));
    await waitFor('landed and disarmed', () => !fc.vehicle.state().armed, 20_000);
    expect(modes.slice(from)).toEqual(['land']);
  });

  it("a mission's landing is PX4's Mission, not the user's Land: the companion link lost there returns (Return, CRITICAL)", { timeout: 30_000 }, async (t) => {
    const { vehicle, fc, endpoint, texts, companionLost } = await px4Up(t, 20);
    const p = localToGeo(origin, 0, 0);
    const mission: MissionItem[] = [{ command: mavCmd.navLand, latDeg: p.latDeg, lonDeg: p.lonDeg, relAltM: 0 }];
    expect(said(await vehicle.upload(mission))).toBe('accepted');
    expect(said(await vehicle.startMission())).toBe('accepted');
    await waitFor('landing, the mission flying it', () => fc.vehicle.state().mode === 'land' && fc.missionState().current === 0, 3_000);
    endpoint.heartbeatsEnabled = false;
    await waitFor('the FC counts the companion lost', companionLost, 5_000);
    await waitFor('Return', () => fc.vehicle.state().mode === 'return', 2_000);
    expect(fc.failsafeReason).toBe('companion link lost');
    await waitFor('its text', () => texts.includes('failsafe: companion link lost, action return'), 2_000);
    await waitFor('HEARTBEAT CRITICAL', () => vehicle.telemetry.heartbeat?.systemStatus === mavStateCritical, 3_000);
  });
});
