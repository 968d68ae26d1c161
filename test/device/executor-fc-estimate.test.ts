// The executor's arrival judgement on the MAVLink drivers follows where the position comes from at that
// moment: the flight controller's own estimate (what a goto stops by, within the 3 m tolerance) or, the
// driver having fallen back to it, the FC's receiver (metres off that estimate: arrival by the
// vehicle's own reckoning, within 10 m of the point once it stopped there). And a vehicle flying on
// vision with no GNSS fix flies its route by the FC's estimate. The simulated ArduPilot or PX4 in this
// process, over the real MAVLink codec (test/bridge/companion.ts).

import { describe, expect, it, vi, type TestContext } from 'vitest';
import { inMemoryFc, mavlinkExecutor, waitFor } from '../bridge/companion.js';
import type { SimFcOptions } from '../../firmware-bridge/sim-fc/sim-fc.js';
import type { AutopilotFamily } from '../../firmware-bridge/mavlink/modes.js';

// Vitest runs at most 5 of a file's concurrent tests at a time (maxConcurrency). These 11 wait on a
// simulated flight at 4x the wall clock and on the executor's wall-clock timers, at little CPU (about 8 s
// user for the whole file): they all start at once.
vi.setConfig({ maxConcurrency: 11 });

/** The simulated FC of `fc` in this process and the device's executor on the MAVLink drivers over it,
 *  stopped at the test's end. Each test has its own, so a block's tests run at once (describe.concurrent). */
async function executorOn(t: TestContext, fc: Partial<Omit<SimFcOptions, 'transport'>>, stallMs?: number) {
  const cleanup: Array<() => Promise<void> | void> = [];
  t.onTestFinished(async () => {
    for (const f of cleanup.splice(0).reverse()) await f();
  });
  const rig = inMemoryFc({ fc: { speedFactor: 4, ...fc } });
  cleanup.push(rig.stop);
  return { rig, ...(await mavlinkExecutor(rig, cleanup, stallMs === undefined ? {} : { stallMs })) };
}

/** The flight controllers that lose their estimate: PX4 streams it on (EKF2 publishes its global
 *  position, not valid, once it has an origin) or, as older PX4 did, stops GLOBAL_POSITION_INT;
 *  ArduPilot streams its receiver's fix in it (NavEKF3 getLLH). Their failsafes for the lost position
 *  off, so that they fly on: on, ArduPilot's EKF failsafe lands the drone a second after the loss
 *  (FS_EKF_THRESH 0 turns it off; test/device/executor-ekf-failsafe.test.ts), and PX4's commander at
 *  once (no PX4 setting turns that off: the simulation's own; executor-px4-position-failsafe.test.ts). */
const losing: readonly { readonly name: string; readonly fc: Partial<Omit<SimFcOptions, 'transport'>> }[] = [
  { name: 'PX4', fc: { family: 'px4', ekfFailsafe: 'off' } },
  { name: 'PX4 stopping GLOBAL_POSITION_INT', fc: { family: 'px4', px4GlobalWhenLost: 'stop', ekfFailsafe: 'off' } },
  { name: 'ArduPilot', fc: { family: 'ardupilot', ekfFailsafe: 'off' } },
];

describe.concurrent("the executor and where the MAVLink position comes from", () => {
  // The FC's receiver is 6 m west of the vehicle, short of the point east (its estimate is not). Mid-leg
  // the estimator loses its position, and says so (ESTIMATOR_STATUS, EKF_STATUS_REPORT) or stops
  // GLOBAL_POSITION_INT (`losing`). The driver gives the receiver's fix; the FC flies on to the point. Before, the judgement went by the configured drivers
  // alone: the position counted as the FC's estimate, the stop 6 m off was no arrival, and the task
  // failed as stopped short.
  it.for(losing)("$name: with the driver on the FC's receiver, a stop at the point 6 m off by it is an arrival by the vehicle's own reckoning", { timeout: 90_000 }, async (c, t) => {
    const { rig, devices, ex, reports, logs } = await executorOn(t, { ...c.fc, receiverOffsetM: { northM: 0, eastM: -6 } }, 8_000);
    ex.run('m1', { type: 'waypoints', mission: 'm1', waypoints: [{ n: 0, e: 600 }], altDm: 100, speedDmps: 80, then: 'hold' });
    await waitFor('on its way east', () => rig.fc.vehicle.state().eastM > 15 && rig.fc.vehicle.state().upM > 9, 30_000);
    const before = devices.position.fix();
    expect(before.ok && before.value.source).toBe('fc-estimate');
    rig.fc.setNavigation({ estimate: 'drifting' });
    await waitFor("the driver on the FC's receiver", () => {
      const f = devices.position.fix();
      return f.ok && f.value.source === 'receiver' && f.value.fix === '3d';
    }, 6_000);
    await waitFor('m1 done or failed', () => reports.some((r) => r.stage === 'done' || r.stage === 'failed'), 40_000);
    expect(reports.filter((r) => r.stage === 'failed').map((r) => r.reason)).toEqual([]);
    expect(logs.some((l) => /waypoint 1: reached by the vehicle's own reckoning \(it stopped there; [5-7]\.\d m from it/.test(l)), logs.join(' | ')).toBe(true);
    expect(Math.hypot(rig.fc.vehicle.state().northM, rig.fc.vehicle.state().eastM - 60)).toBeLessThan(2);
  });

  // No GNSS fix at all (GPS_RAW_INT fix type 1), the FC flying on vision: the route is flown by its
  // estimate, and arrival is by it (no reckoning needed). Before, the device had no position: the
  // take-off never counted as done.
  it.for<AutopilotFamily>(['ardupilot', 'px4'])('%s on vision with no GNSS fix: the route is flown and done, arrival by the FC estimate', { timeout: 60_000 }, async (family, t) => {
    const { rig, ex, reports, logs } = await executorOn(t, { family, navigation: { receiver: 'no-fix', estimate: 'vision' } });
    ex.run('m1', { type: 'waypoints', mission: 'm1', waypoints: [{ n: 0, e: 400 }], altDm: 100, speedDmps: 80, then: 'hold' });
    await waitFor('m1 done or failed', () => reports.some((r) => r.stage === 'done' || r.stage === 'failed'), 40_000);
    expect(reports.filter((r) => r.stage === 'failed').map((r) => r.reason)).toEqual([]);
    expect(logs.filter((l) => l.includes("reached by the vehicle's own reckoning"))).toEqual([]);
    expect(Math.hypot(rig.fc.vehicle.state().northM, rig.fc.vehicle.state().eastM - 40)).toBeLessThan(3);
  });
});

describe.concurrent("the executor and the FC's estimator losing its height", () => {
  // The estimator loses its vertical position as the drone climbs (POS_VERT_ABS clear; the height it
  // streams held near 3 m while the drone climbs on to 15): the executor's height is not known (not the
  // stale 3 m), nothing is judged by it (the take-off is not done, no goto goes out), and once the
  // estimator has it back the take-off is done and the route flown. Before, the held height was the
  // drone's: the telemetry said 3 m for a drone at 15.
  it.for<AutopilotFamily>(['ardupilot', 'px4'])('%s: the height not known while the FC says so; the take-off waits for it, then the route is flown', { timeout: 60_000 }, async (family, t) => {
    const { rig, ex, reports } = await executorOn(t, { family });
    ex.run('m1', { type: 'waypoints', mission: 'm1', waypoints: [{ n: 0, e: 300 }], altDm: 150, speedDmps: 80, then: 'hold' });
    await waitFor('climbing', () => rig.fc.vehicle.state().upM > 3, 20_000);
    rig.fc.setNavigation({ height: 'lost' });
    await waitFor('the height not known', () => ex.position()?.upM === null, 3_000);
    await waitFor('the vehicle up at 15 m', () => rig.fc.vehicle.state().upM > 14.5, 20_000);
    await new Promise((r) => setTimeout(r, 2_000)); // half a simulated take-off's worth of time
    expect(ex.position()).toMatchObject({ upM: null, source: 'fc-estimate' });
    expect(ex.heightKnown()).toBe(false);
    expect(ex.heightUnknown()).toMatch(/POS_VERT_ABS is clear/);
    expect(Math.abs(rig.fc.vehicle.state().eastM)).toBeLessThan(1); // no goto went out
    expect(reports.map((r) => r.stage)).toEqual(['started']);
    rig.fc.setNavigation({ height: 'ok' });
    await waitFor('m1 done or failed', () => reports.some((r) => r.stage === 'done' || r.stage === 'failed'), 40_000);
    expect(reports.filter((r) => r.stage === 'failed').map((r) => r.reason)).toEqual([]);
    expect(Math.hypot(rig.fc.vehicle.state().northM, rig.fc.vehicle.state().eastM - 30)).toBeLessThan(3);
  });
});

describe.concurrent("the executor and the FC's estimator losing its height for longer than the stall bound", () => {
  // PX4 ends its take-off in Hold, and a stop in Hold short of where a goto or take-off sent the drone
  // reads as a pilot's hold. With the height not known the watch compares across only, so the take-off's
  // climb looks like a stop: the task fails saying the height is not known, and nothing is handed over.
  it('PX4: the take-off is not judged reached, the task fails with the reason, and the vehicle is not read as a pilot\'s', { timeout: 60_000 }, async (t) => {
    const { rig, ex, reports } = await executorOn(t, { family: 'px4' }, 3_000);
    ex.run('m1', { type: 'waypoints', mission: 'm1', waypoints: [{ n: 0, e: 300 }], altDm: 150, speedDmps: 80, then: 'hold' });
    await waitFor('climbing', () => rig.fc.vehicle.state().upM > 3, 20_000);
    rig.fc.setNavigation({ height: 'lost' });
    await waitFor('m1 failed', () => reports.some((r) => r.stage === 'failed'), 20_000);
    expect(reports.filter((r) => r.stage === 'failed').map((r) => r.reason)).toEqual([expect.stringMatching(/^take-off not judged reached: the flight controller's estimator has no valid vertical position \(ESTIMATOR_STATUS flags 0x[0-9a-f]+: POS_VERT_ABS is clear\): its height above home is not known, and the vehicle has not moved across for 3 s \(mode (hold|takeoff)\); not flown on$/)]);
    expect(ex.handedOverBecause()).toBeNull();
    expect(Math.abs(rig.fc.vehicle.state().eastM)).toBeLessThan(1);
  });
});

describe.concurrent('a held drone and the MAVLink position moving from the estimate to the receiver', () => {
  // Held and settled, the FC loses its estimate; the driver's position becomes the FC's receiver, 8 m
  // west of the estimate it had: a jump of frame, not the drone flying off. Before, the watch over the
  // hold measured the receiver's fix from where the estimate had settled: 8 m off for 2 s, a pilot's,
  // and the drone was handed over (the mission's resume was not carried out).
  it.for(losing)('$name: the jump is not read as the drone flown off; the resume flies it on (ArduPilot: refuses it with no position)', { timeout: 60_000 }, async (c, t) => {
    const { rig, devices, ex, reports, logs } = await executorOn(t, { ...c.fc, receiverOffsetM: { northM: 0, eastM: -8 } });
    ex.run('m1', { type: 'waypoints', mission: 'm1', waypoints: [{ n: 0, e: 3000 }], altDm: 100, speedDmps: 80, then: 'hold' });
    await waitFor('on its way east', () => rig.fc.vehicle.state().eastM > 20 && rig.fc.vehicle.state().upM > 9, 30_000);
    ex.run('h', { type: 'hold', mission: 'm1' });
    await waitFor('held', () => rig.fc.vehicle.state().mode === 'hold', 5_000);
    await new Promise((r) => setTimeout(r, 3_000)); // braked and settled (2 s within 5 m)
    rig.fc.setNavigation({ estimate: 'drifting' });
    await waitFor("the driver on the FC's receiver", () => {
      const f = devices.position.fix();
      return f.ok && f.value.source === 'receiver';
    }, 6_000);
    await new Promise((r) => setTimeout(r, 4_000)); // longer than the 2 s a drone must stay off
    expect(logs.filter((l) => /moved \d+ m from where it held|nothing more is commanded/.test(l))).toEqual([]);
    expect(reports.filter((r) => r.stage === 'failed').map((r) => r.reason)).toEqual([]);
    const heldAt = rig.fc.vehicle.state().eastM;
    ex.run('r', { type: 'resume', mission: 'm1' });
    if (c.fc.family !== 'ardupilot') {
      await waitFor('on its way east again', () => rig.fc.vehicle.state().eastM > heldAt + 10, 20_000);
      return;
    }
    // ArduCopter switches to GUIDED only with a position (Copter::set_mode, "requires position"): the
    // resume is taken, and the route it flies on fails at its first goto, refused by the FC in its own
    // words; the drone stays held where it was, not handed over.
    await waitFor('m1 failed', () => reports.some((r) => r.command === 'm1' && r.stage === 'failed'), 10_000);
    expect(reports.filter((r) => r.stage === 'failed').map((r) => `${r.command}: ${r.reason}`)).toEqual(['m1: goto: DO_REPOSITION: FAILED (the flight controller said "Mode change to GUIDED failed: requires position")']);
    expect(reports.filter((r) => r.command === 'r').map((r) => r.stage)).toEqual(['started', 'done']);
    expect(rig.fc.vehicle.state().mode).toBe('hold');
    expect(Math.abs(rig.fc.vehicle.state().eastM - heldAt)).toBeLessThan(3);
    expect(ex.handedOverBecause()).toBeNull();
  });
});
