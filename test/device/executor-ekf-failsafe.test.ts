// ArduCopter's EKF failsafe, end to end: the simulated ArduPilot as its own process on a socat pty,
// the device's executor on the MAVLink drivers over it. Its GNSS receiver loses its fix in flight
// (sim-fc --gnss-lost-after), its EKF dead reckons for 7 s, then has no position, and a second later its
// EKF failsafe says "EKF variance: position lost" and switches to LAND ("EKF Failsafe: changed to LAND
// Mode"), which lands the drone. The executor sees the FC's own mode (its takeover check), hands the
// vehicle over with a reason naming the FC's EKF failsafe in its own words, and commands nothing more.
// An operator's rtl then is asked of the FC, which refuses it with no position (ArduCopter's set_mode:
// "Mode change to RTL failed: requires position"), and the operator is told so in the FC's words.

import { describe, expect, it, type TestContext } from 'vitest';
import { common } from 'node-mavlink';
import { waitFor } from '../bridge/companion.js';
import { fcLosingPosition } from './fc-losing-position.js';
import { mavCmd } from '../../firmware-bridge/mavlink/vehicle.js';
import { lostDroneRtl } from './lost-drone-rtl.js';

/** The ArduPilot process, its receiver losing its fix `lostAfterS` simulated seconds after the vehicle
 *  is first in the air (fc-losing-position.ts). */
const rigWithLoss = (t: TestContext, lostAfterS: number) => fcLosingPosition(t, { autopilot: 'ardupilot', seed: 7, lostAfterS });

// The mode named is the one the FC showed when its texts came: they come before the HEARTBEAT in LAND.
const ekfFailsafeReason = /^the flight controller left the executor's control: its own failsafe \(the flight controller said "EKF variance: position lost", "EKF Failsafe: changed to LAND Mode"; mode (guided|hold|land)\); nothing more is commanded until an operator's command for this drone$/;

describe.concurrent("ArduPilot's EKF failsafe lands the drone the executor flies; the executor hands it over", () => {
  it('flying its route (GUIDED): LAND, the task fails naming the EKF failsafe, the FC lands and disarms it, no command after', { timeout: 60_000 }, async (t) => {
    const { rig, ex, reports, sent, landSeenAt, modesArmedSince } = await rigWithLoss(t, 3);
    ex.run('m1', { type: 'waypoints', mission: 'm1', waypoints: [{ n: 0, e: 4000 }], altDm: 100, speedDmps: 80, then: 'hold' });
    await waitFor('the task failed', () => reports.some((r) => r.stage === 'failed'), 30_000);
    const failed = reports.filter((r) => r.stage === 'failed');
    expect(failed.map((r) => r.reason)).toHaveLength(1);
    expect(failed[0]?.reason).toMatch(ekfFailsafeReason);
    expect(ex.handedOverBecause()).toMatch(/its own failsafe \(the flight controller said .*"EKF Failsafe: changed to LAND Mode"/);
    expect(reports.some((r) => r.stage === 'done')).toBe(false);
    // It was flying the route when the FC took it: goto'd east, in the air.
    expect(sent.some((s) => s.msg instanceof common.CommandInt && s.msg.command === mavCmd.doReposition)).toBe(true);
    // The FC lands it on its own: down and disarmed (its auto-disarm), in LAND all the way.
    await waitFor('landed and disarmed by the FC', () => !rig.vehicle.armed() && rig.vehicle.landed() === 'on-ground', 20_000);
    expect([...modesArmedSince]).toEqual(['land']);
    const at = landSeenAt();
    expect(at).not.toBeNull();
    // Nothing the executor sent after the FC switched to LAND (a goto would have taken it back to GUIDED).
    expect(sent.filter((s) => s.atMs >= (at as number)).map((s) => s.msg.constructor.name)).toEqual([]);
  });

  it('holding under the mission (LOITER): LAND, handed over; the resume is not carried out, no command after', { timeout: 60_000 }, async (t) => {
    // The fix lost 16 simulated seconds after take-off (4 s here): held in LOITER before it, which it
    // was 5.6 s (simulated) after take-off at load 8, 10 s (2.5 s here) before the loss.
    const { rig, ex, reports, sent, landSeenAt, modesArmedSince } = await rigWithLoss(t, 16);
    ex.run('m1', { type: 'waypoints', mission: 'm1', waypoints: [{ n: 0, e: 4000 }], altDm: 100, speedDmps: 80, then: 'hold' });
    await waitFor('on its way east', () => {
      const p = rig.vehicle.telemetry.position;
      return p !== null && p.relativeAlt > 9_000 && rig.vehicle.mode() === 'guided' && ex.position() !== null && (ex.position()?.eastM ?? 0) > 10;
    }, 20_000);
    ex.run('h', { type: 'hold', mission: 'm1' });
    await waitFor('held (LOITER)', () => rig.vehicle.mode() === 'hold', 5_000);
    await waitFor('the task failed', () => reports.some((r) => r.command === 'm1' && r.stage === 'failed'), 30_000);
    expect(reports.filter((r) => r.command === 'm1' && r.stage === 'failed').map((r) => r.reason)).toEqual([expect.stringMatching(ekfFailsafeReason)]);
    ex.run('r', { type: 'resume', mission: 'm1' });
    expect(reports.filter((r) => r.command === 'r' && r.stage === 'failed').map((r) => r.reason)).toEqual([expect.stringMatching(/^not carried out: the vehicle is not in this device's hands/)]);
    await waitFor('landed and disarmed by the FC', () => !rig.vehicle.armed() && rig.vehicle.landed() === 'on-ground', 20_000);
    expect([...modesArmedSince]).toEqual(['land']);
    const at = landSeenAt();
    expect(at).not.toBeNull();
    expect(sent.filter((s) => s.atMs >= (at as number)).map((s) => s.msg.constructor.name)).toEqual([]);
  });

  // The swarm's own rtl for the drone (the mission machine's, for a drone lost from its mission: its
  // battery below the reserve, under reassignHandedOver 0) while the FC's failsafe lands it. Before, it
  // was carried out: RTL asked of an FC whose estimator has no position, out of its failsafe LAND.
  it("flying its route: LAND; the machine's rtl for it is not carried out, the FC's landing goes on with no command after", { timeout: 60_000 }, async (t) => {
    const { rig, ex, reports, sent, landSeenAt, modesArmedSince } = await rigWithLoss(t, 3);
    ex.run('m1', { type: 'waypoints', mission: 'm1', waypoints: [{ n: 0, e: 4000 }], altDm: 100, speedDmps: 80, then: 'hold' });
    await waitFor('the task failed', () => reports.some((r) => r.stage === 'failed'), 30_000);
    const rtl = lostDroneRtl('d1', 'm1');
    expect(rtl).toMatchObject({ task: { type: 'rtl' }, origin: 'automatic' });
    ex.run(rtl.command, rtl.task, null, rtl.origin);
    expect(reports.filter((r) => r.stage === 'failed').map((r) => r.reason)).toEqual([
      expect.stringMatching(ekfFailsafeReason),
      expect.stringMatching(/^not carried out: the flight controller left the executor's control: its own failsafe \(the flight controller said .*"EKF Failsafe: changed to LAND Mode".*; the swarm's automatic rtl does not take the vehicle back/),
    ]);
    await waitFor('landed and disarmed by the FC', () => !rig.vehicle.armed() && rig.vehicle.landed() === 'on-ground', 20_000);
    expect([...modesArmedSince]).toEqual(['land']);
    const at = landSeenAt();
    expect(at).not.toBeNull();
    expect(sent.filter((s) => s.atMs >= (at as number)).map((s) => s.msg.constructor.name)).toEqual([]); // before: RTL
    expect(ex.handedOverBecause()).toMatch(/EKF Failsafe/);
  });

  // An operator's rtl takes the vehicle back, but ArduCopter switches to RTL only with a position
  // (Copter::set_mode: "requires position"): it answers FAILED and lands on. The task fails in the FC's
  // own words, which the operator's ack carries; nothing else is sent, and the landing goes on.
  it("flying its route: LAND; an operator's rtl is asked, ArduCopter refuses it without a position, the task fails saying so, the FC lands on", { timeout: 60_000 }, async (t) => {
    const { rig, ex, reports, sent, landSeenAt, modesArmedSince } = await rigWithLoss(t, 3);
    ex.run('m1', { type: 'waypoints', mission: 'm1', waypoints: [{ n: 0, e: 4000 }], altDm: 100, speedDmps: 80, then: 'hold' });
    await waitFor('the task failed', () => reports.some((r) => r.stage === 'failed'), 30_000);
    await waitFor('LAND seen', () => landSeenAt() !== null, 5_000);
    ex.run('home', { type: 'rtl' }, null, 'operator');
    await waitFor('the rtl failed', () => reports.some((r) => r.command === 'home' && r.stage === 'failed'), 10_000);
    expect(reports.filter((r) => r.command === 'home').map((r) => r.stage)).toEqual(['started', 'failed']);
    expect(reports.find((r) => r.command === 'home' && r.stage === 'started')?.reason).toMatch(/^taken back by an operator's command \(the vehicle was out of this device's hands: the flight controller left the executor's control: its own failsafe \(the flight controller said .*"EKF Failsafe: changed to LAND Mode"/);
    expect(reports.find((r) => r.command === 'home' && r.stage === 'failed')?.reason).toContain('(the flight controller said "Mode change to RTL failed: requires position")');
    // Refused, the take-back did not happen: the FC's failsafe still has the vehicle, and status says so
    // (before, it stopped saying so once the rtl was asked), from the mission it was handed over from.
    expect(reports.find((r) => r.command === 'home' && r.stage === 'failed')?.reason).toMatch(/; the vehicle stays out of this device's hands \(the flight controller left the executor's control: its own failsafe/);
    expect(ex.handedOverBecause()).toMatch(/EKF Failsafe/);
    expect(ex.handedOverFrom()).toBe('m1');
    await waitFor('landed and disarmed by the FC', () => !rig.vehicle.armed() && rig.vehicle.landed() === 'on-ground', 20_000);
    expect([...modesArmedSince]).toEqual(['land']);
    // After LAND: the RTL asked once (its refusal is final: no resend), nothing else.
    const after = sent.filter((s) => s.atMs >= (landSeenAt() as number));
    expect(after.map((s) => (s.msg instanceof common.CommandLong || s.msg instanceof common.CommandInt ? s.msg.command : s.msg.constructor.name))).toEqual([mavCmd.navReturnToLaunch]);
  });
});
