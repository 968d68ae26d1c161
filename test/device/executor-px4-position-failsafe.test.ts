// PX4's position-loss failsafe, end to end: the simulated PX4 as its own process on a socat pty, the
// device's executor on the MAVLink drivers over it. Its GNSS receiver loses its fix in flight
// (sim-fc --gnss-lost-after), EKF2 dead reckons for 5 s (EKF2_NOAID_TOUT), then has no position, and
// at once its commander finds Hold (the mode a goto flies in on PX4) unable to run: it says "Failsafe
// activated" and descends (Descend, no local position left; AUTO_LAND on MAVLink), which lands the
// drone. The executor sees the FC's own mode, hands the vehicle over with a reason naming the FC's
// failsafe in its own words, and commands nothing more; the swarm's own rtl is not carried out. An
// operator's rtl is asked of the FC, which refuses it without a position (Commander::printRejectMode:
// "Switching to Return is currently not available"), and the operator is told so in the FC's words.
// The ArduPilot counterpart: executor-ekf-failsafe.test.ts.

import { describe, expect, it, type TestContext } from 'vitest';
import { common } from 'node-mavlink';
import { waitFor } from '../bridge/companion.js';
import { fcLosingPosition } from './fc-losing-position.js';
import { mavCmd } from '../../firmware-bridge/mavlink/vehicle.js';
import { lostDroneRtl } from './lost-drone-rtl.js';

/** The PX4 process, its receiver losing its fix 3 simulated seconds after the vehicle is first in the air
 *  (fc-losing-position.ts). */
const px4LosingItsPosition = (t: TestContext) => fcLosingPosition(t, { autopilot: 'px4', seed: 11, lostAfterS: 3 });

// PX4 says it as it switches, before the HEARTBEAT in AUTO_LAND: the mode named is Hold or AUTO_LAND.
const px4FailsafeReason = /^the flight controller left the executor's control: its own failsafe \(the flight controller said "Failsafe activated"; mode (hold|land)\); nothing more is commanded until an operator's command for this drone$/;

describe.concurrent("PX4's position-loss failsafe lands the drone the executor flies; the executor hands it over", () => {
  it("flying its route (Hold): Descend, the task fails in the FC's words, the swarm's rtl is not carried out, the FC lands and disarms it, no command after", { timeout: 60_000 }, async (t) => {
    const { rig, ex, reports, landSeenAt, modesArmedSince, sentSinceLand } = await px4LosingItsPosition(t);
    ex.run('m1', { type: 'waypoints', mission: 'm1', waypoints: [{ n: 0, e: 4000 }], altDm: 60, speedDmps: 80, then: 'hold' });
    await waitFor('the task failed', () => reports.some((r) => r.stage === 'failed'), 30_000);
    expect(reports.filter((r) => r.stage === 'failed').map((r) => r.reason)).toEqual([expect.stringMatching(px4FailsafeReason)]);
    expect(reports.some((r) => r.stage === 'done')).toBe(false);
    // The mission machine's own rtl for a drone lost from its mission: not carried out.
    const rtl = lostDroneRtl('d1', 'm1');
    ex.run(rtl.command, rtl.task, null, rtl.origin);
    expect(rtl).toMatchObject({ task: { type: 'rtl' }, origin: 'automatic' });
    expect(reports.filter((r) => r.stage === 'failed').map((r) => r.reason)).toEqual([
      expect.stringMatching(px4FailsafeReason),
      expect.stringMatching(/^not carried out: the flight controller left the executor's control: its own failsafe \(the flight controller said "Failsafe activated".*; the swarm's automatic rtl does not take the vehicle back \(an operator's command does\)$/),
    ]);
    await waitFor('landed and disarmed by the FC', () => !rig.vehicle.armed() && rig.vehicle.landed() === 'on-ground', 20_000);
    expect([...modesArmedSince]).toEqual(['land']);
    expect(landSeenAt()).not.toBeNull();
    // Nothing sent after the FC switched to AUTO_LAND (a goto would have asked for Hold again).
    expect(sentSinceLand().map((s) => s.msg.constructor.name)).toEqual([]);
    expect(ex.handedOverBecause()).toMatch(/"Failsafe activated"/);
  });

  it("flying its route: Descend; an operator's rtl is asked, PX4 refuses it without a position, the task fails saying so, the FC lands on", { timeout: 60_000 }, async (t) => {
    const { rig, ex, reports, landSeenAt, modesArmedSince, sentSinceLand } = await px4LosingItsPosition(t);
    ex.run('m1', { type: 'waypoints', mission: 'm1', waypoints: [{ n: 0, e: 4000 }], altDm: 60, speedDmps: 80, then: 'hold' });
    await waitFor('the task failed', () => reports.some((r) => r.stage === 'failed'), 30_000);
    await waitFor('AUTO_LAND seen', () => landSeenAt() !== null, 5_000);
    ex.run('home', { type: 'rtl' }, null, 'operator');
    await waitFor('the rtl failed', () => reports.some((r) => r.command === 'home' && r.stage === 'failed'), 10_000);
    expect(reports.filter((r) => r.command === 'home').map((r) => r.stage)).toEqual(['started', 'failed']);
    expect(reports.find((r) => r.command === 'home' && r.stage === 'started')?.reason).toMatch(/^taken back by an operator's command \(the vehicle was out of this device's hands: the flight controller left the executor's control: its own failsafe \(the flight controller said "Failsafe activated"/);
    expect(reports.find((r) => r.command === 'home' && r.stage === 'failed')?.reason).toContain('NAV_RETURN_TO_LAUNCH: TEMPORARILY_REJECTED (the flight controller said "Switching to Return is currently not available")');
    await waitFor('landed and disarmed by the FC', () => !rig.vehicle.armed() && rig.vehicle.landed() === 'on-ground', 20_000);
    expect([...modesArmedSince]).toEqual(['land']);
    // After AUTO_LAND: the RTL asked once (its refusal is final: no resend), nothing else.
    expect(sentSinceLand().map((s) => (s.msg instanceof common.CommandLong || s.msg instanceof common.CommandInt ? s.msg.command : s.msg.constructor.name))).toEqual([mavCmd.navReturnToLaunch]);
  });
});
