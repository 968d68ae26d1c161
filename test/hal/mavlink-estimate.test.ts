// The MAVLink position driver against a flight controller whose estimator loses its horizontal position
// while GLOBAL_POSITION_INT streams on (ArduPilot sends AP_AHRS's location whatever it answers, current
// PX4 its EKF2's global position, not valid: held in constant position mode, or dead reckoned), and one
// flying on vision with no GNSS fix. The simulated
// ArduPilot or PX4 in this process, over the real MAVLink codec (test/bridge/companion.ts inMemoryFc),
// says what its estimator makes of it in EKF_STATUS_REPORT or ESTIMATOR_STATUS; the last block runs it
// as its own process on a socat pty.

import { describe, expect, it, type TestContext } from 'vitest';
import { HalInputReader } from '../../agents/api/hal-io.js';
import { localToGeo } from '../../hal/geo.js';
import { defaultSimConfig } from '../../hal/sim/sim-config.js';
import { createMavlinkDevices } from '../../hal/mavlink/mavlink-devices.js';
import { airborne, frameMsgid, inMemoryFc, mavlinkDevicesOn, simFcRig, waitFor } from '../bridge/companion.js';

const globalPositionInt = 33;

/** What a test started, stopped at its end, passed or failed: every block's tests run at once
 *  (describe.concurrent), each on its own simulated FC. */
function ownCleanup(t: TestContext): Array<() => Promise<void> | void> {
  const mine: Array<() => Promise<void> | void> = [];
  t.onTestFinished(async () => {
    for (const f of mine.splice(0).reverse()) await f();
  });
  return mine;
}

describe.concurrent("the FC's estimator losing its horizontal position while GLOBAL_POSITION_INT streams on", () => {
  // No GNSS receiver fitted (GPS_TYPE 0: no GPS_RAW_INT at all), flying on a vision system: the estimate
  // is the position while the EKF says it is good. Before, with no receiver's fix type to go by, the
  // driver took every GLOBAL_POSITION_INT as a 3D fix: after the EKF lost the vision source, the held
  // or drifting estimate was reported as where the vehicle was, to the executor and the agents.
  const cases = [
    { family: 'ardupilot', lost: 'frozen', report: 'EKF_STATUS_REPORT' },
    { family: 'ardupilot', lost: 'drifting', report: 'EKF_STATUS_REPORT' },
    { family: 'px4', lost: 'frozen', report: 'ESTIMATOR_STATUS' },
    { family: 'px4', lost: 'drifting', report: 'ESTIMATOR_STATUS' },
  ] as const;
  it.for(cases)('$family: the estimate $lost after the loss is no position ($report), to the driver and the agents; it is one again once the EKF has it back', { timeout: 60_000 }, async ({ family, lost, report }, t) => {
    const cleanup = ownCleanup(t);
    let positionFrames = 0;
    const rig = inMemoryFc({
      // ArduPilot's EKF failsafe off (FS_EKF_THRESH 0): on, it lands the vehicle a second after the
      // loss, and this is about what the driver makes of the estimate streamed on.
      fc: { family, speedFactor: 4, navigation: { receiver: 'absent', estimate: 'vision' }, driftMps: 2, ekfFailsafe: 'off' },
      fromFc: (f, pass) => {
        if (frameMsgid(f) === globalPositionInt) positionFrames++;
        pass(f);
      },
    });
    cleanup.push(rig.stop);
    const devices = await mavlinkDevicesOn(rig, cleanup);
    const origin = defaultSimConfig.origin;
    const agents = new HalInputReader(devices, origin);
    await airborne(rig.vehicle, 10);
    const flying = await rig.vehicle.execute({ type: 'goto', target: { ...localToGeo(origin, 0, 500), relAltM: 10 }, speedMps: 8 });
    expect(flying.ok).toBe(true);
    await waitFor('on its way east', () => rig.fc.vehicle.state().eastM > 15, 20_000);
    const onVision = devices.position.fix();
    expect(onVision.ok && onVision.value).toMatchObject({ fix: '3d', source: 'fc-estimate', hdop: 99.99 });
    expect(agents.read(0).position).toBeDefined();

    rig.fc.setNavigation({ estimate: lost });
    await waitFor("the EKF's report of the loss", () => rig.vehicle.telemetry.estimator?.horizAbsOk === false, 3_000);
    const framesAtLoss = positionFrames;
    const positions: unknown[] = [];
    let agentPositions = 0;
    for (let i = 0; i < 40; i++) {
      await new Promise((r) => setTimeout(r, 50));
      const f = devices.position.fix();
      if (f.ok && f.value.fix !== 'none') positions.push(f.value);
      if (agents.read(i).position !== undefined) agentPositions++;
    }
    // The FC streamed on, and what it streamed was off the vehicle by metres: held where it was lost
    // while the vehicle flew on, or walking off at 2 m/s.
    expect(positionFrames - framesAtLoss).toBeGreaterThan(10);
    const streamed = rig.vehicle.telemetry.position!;
    const truth = localToGeo(rig.fc.vehicle.origin, rig.fc.vehicle.state().northM, rig.fc.vehicle.state().eastM);
    expect(Math.abs(streamed.lon / 1e7 - truth.lonDeg) * 111_320 * Math.cos((origin.latDeg * Math.PI) / 180)).toBeGreaterThan(5);
    expect(positions).toEqual([]);
    expect(agentPositions).toBe(0);
    const held = devices.position.fix();
    expect(!held.ok && held.error.message).toMatch(new RegExp(`no horizontal absolute position \\(${report} flags 0x[0-9a-f]+: (it holds a constant position|POS_HORIZ_ABS is clear)`));
    expect(!held.ok && held.error.message).not.toMatch(/local position only/); // it streams LOCAL_POSITION_NED too, worth as little

    rig.fc.setNavigation({ estimate: 'vision' });
    await waitFor('a position again', () => {
      const f = devices.position.fix();
      return f.ok && f.value.fix === '3d' && f.value.source === 'fc-estimate';
    }, 3_000);
  });
});

describe.concurrent('a flight controller losing its GNSS fix', () => {
  // The receiver at no fix, the EKF dead reckons on and says its absolute position is good for its
  // time-out (ArduPilot's EKF3 7 s without velocity aiding, PX4's EKF2_NOAID_TOUT 5 s; 12 s here): the
  // FC still flies by it, and so it is the position; then it says not, and there is none. Before, the
  // receiver's 'none' ruled from the first moment, and nothing told the end of the FC's own trust in
  // its estimate.
  it.for(['ardupilot', 'px4'] as const)('%s: the estimate while the estimator vouches for it, then no position', { timeout: 30_000 }, async (family, t) => {
    const cleanup = ownCleanup(t);
    // A time-out of 12 simulated seconds (3 s here): room to read the estimate on a loaded machine.
    const rig = inMemoryFc({ fc: { family, speedFactor: 4, deadReckonMs: 12_000 } });
    cleanup.push(rig.stop);
    const devices = await mavlinkDevicesOn(rig, cleanup);
    await waitFor("the estimator's report", () => rig.vehicle.telemetry.estimator?.horizAbsOk === true, 3_000);
    // From the moment the receiver lost its fix: the companion hears of it later, by up to a report's
    // interval and more on a loaded machine (2.2 s from hearing it to no position at load 11-18).
    const lostAt = Date.now();
    rig.fc.setNavigation({ receiver: 'no-fix' });
    await waitFor('the receiver at no fix', () => rig.vehicle.telemetry.gpsRaw?.fixType === 1, 3_000);
    const f = devices.position.fix();
    expect(f.ok && f.value).toMatchObject({ fix: '3d', hdop: 99.99, source: 'fc-estimate' });
    await waitFor('no position', () => {
      const g = devices.position.fix();
      return !g.ok || g.value.fix === 'none';
    }, 6_000);
    // The time-out is simulated seconds at 4 per second: 3 s here.
    expect(Date.now() - lostAt).toBeGreaterThan(2_500);
    expect(rig.vehicle.telemetry.estimator?.horizAbsOk).toBe(false);
    rig.fc.setNavigation({ receiver: 'fix' });
    await waitFor('a position again', () => {
      const g = devices.position.fix();
      return g.ok && g.value.fix === '3d' && g.value.source === 'fc-estimate';
    }, 3_000);
  });
});

describe.concurrent('a flight controller flying on vision with no GNSS fix', () => {
  // The receiver fitted but at no fix (indoors; GPS_RAW_INT fix type 1), the estimator fusing a vision
  // system with a global origin and saying its absolute position is good: the estimate is the position
  // the FC flies by. Before, the receiver's fix type ruled, and the device had no position at all.
  it.for(['ardupilot', 'px4'] as const)('%s: the estimate is the position, a 3D fix with no HDOP, from the FC', { timeout: 30_000 }, async (family, t) => {
    const cleanup = ownCleanup(t);
    const rig = inMemoryFc({ fc: { family, speedFactor: 4, navigation: { receiver: 'no-fix', estimate: 'vision' } } });
    cleanup.push(rig.stop);
    const devices = await mavlinkDevicesOn(rig, cleanup);
    await waitFor("the estimator's report and the receiver's", () => rig.vehicle.telemetry.estimator !== null && rig.vehicle.telemetry.gpsRaw !== null, 3_000);
    expect(rig.vehicle.telemetry.gpsRaw?.fixType).toBe(1);
    const f = devices.position.fix();
    const p = rig.vehicle.telemetry.position!;
    expect(f.ok && f.value).toMatchObject({ fix: '3d', hdop: 99.99, source: 'fc-estimate', latDeg: p.lat / 1e7, lonDeg: p.lon / 1e7 });
    expect(new HalInputReader(devices, defaultSimConfig.origin).read(0).position).toBeDefined();
  });
});

describe.concurrent('a flight controller on optical flow: a relative position only', () => {
  // Decided: a relative position (POS_HORIZ_REL without POS_HORIZ_ABS) is no position for the device,
  // whose points are WGS84 and flown as such (DO_REPOSITION): it drifts from where the flow began. With
  // no global origin the FC has a local position only (LOCAL_POSITION_NED), and the error says so and
  // what the FC needs.
  it.for(['ardupilot', 'px4'] as const)('%s with no global origin: no position, and why (a local position only)', { timeout: 30_000 }, async (family, t) => {
    const cleanup = ownCleanup(t);
    const rig = inMemoryFc({ fc: { family, speedFactor: 4, navigation: { receiver: 'absent', estimate: 'flow' } } });
    cleanup.push(rig.stop);
    const position = createMavlinkDevices(rig.vehicle).position;
    await position.start();
    cleanup.push(() => position.stop());
    await waitFor('the estimator report and LOCAL_POSITION_NED', () => rig.vehicle.telemetry.estimator !== null && rig.vehicle.telemetry.localPosition !== null, 5_000);
    expect(rig.vehicle.telemetry.estimator).toMatchObject({ horizAbsOk: false });
    const f = position.fix();
    expect(!f.ok && f.error.code).toBe('no-data');
    expect(!f.ok && f.error.message).toMatch(/a local position only \(LOCAL_POSITION_NED\), no global one: give its estimator a global origin \(SET_GPS_GLOBAL_ORIGIN\) or a GNSS fix/);
  });

  it('ArduPilot with an origin, its EKF saying relative only: its GLOBAL_POSITION_INT is no position, and why', { timeout: 30_000 }, async (t) => {
    const cleanup = ownCleanup(t);
    const rig = inMemoryFc({ fc: { speedFactor: 4, navigation: { receiver: 'absent', estimate: 'gnss' } } });
    cleanup.push(rig.stop);
    const position = createMavlinkDevices(rig.vehicle).position;
    await position.start();
    cleanup.push(() => position.stop());
    await waitFor('the estimator report and GLOBAL_POSITION_INT', () => rig.vehicle.telemetry.estimator !== null && rig.vehicle.telemetry.position !== null, 5_000);
    // Read synchronously after the change: the FC's next report cannot land in between.
    rig.vehicle.telemetry.estimator = { message: 'EKF_STATUS_REPORT', flags: 1 | 2 | 4 | 8 | 32 | 256, horizAbsOk: false, posHorizRatio: 0.1, vertAbsOk: true };
    const f = position.fix();
    expect(!f.ok && f.error.message).toMatch(/EKF_STATUS_REPORT flags 0x12f: it has a relative one only \(POS_HORIZ_REL/);
  });
});

describe.concurrent('the simulated ArduPilot as its own process on a socat pty, started with its navigation', () => {
  // --receiver and --estimate: what a bench run of the FC process can be started with. Frozen from the
  // start is held at the origin; with no receiver, GLOBAL_POSITION_INT still comes, and is no position.
  it.for([
    [['--receiver', 'no-fix', '--estimate', 'vision'], '3d'],
    [['--receiver', 'absent', '--estimate', 'frozen'], 'no-data'],
  ] as const)('%j: the driver gives %s', { timeout: 30_000 }, async ([args, want], t) => {
    const cleanup = ownCleanup(t);
    const rig = await simFcRig(['--autopilot', 'ardupilot', '--seed', '4', ...args]);
    cleanup.push(() => rig.stop());
    const position = createMavlinkDevices(rig.vehicle).position;
    await position.start();
    cleanup.push(() => position.stop());
    await waitFor('the estimator report and GLOBAL_POSITION_INT', () => rig.vehicle.telemetry.estimator !== null && rig.vehicle.telemetry.position !== null, 10_000);
    const f = position.fix();
    expect(f.ok ? f.value.fix : f.error.code).toBe(want);
    if (want === '3d') expect(f.ok && f.value.source).toBe('fc-estimate');
    else expect(rig.vehicle.telemetry.estimator).toMatchObject({ message: 'EKF_STATUS_REPORT', horizAbsOk: false });
  });
});

describe.concurrent("the FC's estimator losing its vertical position while GLOBAL_POSITION_INT streams on", () => {
  // POS_VERT_ABS clear (its height source rejected or gone): the altitude streamed on is held where it
  // was lost while the vehicle climbs on. The flight driver gives no height above home then, and says
  // why; the horizontal position stands. Before, relative_alt was the height whatever the estimator
  // said: the stale 5 m, with the vehicle at 15.
  const cases = [
    { family: 'ardupilot', report: 'EKF_STATUS_REPORT' },
    { family: 'px4', report: 'ESTIMATOR_STATUS' },
  ] as const;
  it.for(cases)('$family: no height above home while $report has POS_VERT_ABS clear, and why; the horizontal position stands; the height is back with the flag', { timeout: 60_000 }, async ({ family, report }, t) => {
    const cleanup = ownCleanup(t);
    const rig = inMemoryFc({ fc: { family, speedFactor: 4 } });
    cleanup.push(rig.stop);
    const devices = await mavlinkDevicesOn(rig, cleanup);
    await airborne(rig.vehicle, 5);
    const before = devices.flight.state();
    expect(before.ok && before.value.heightAboveHomeM).toBeGreaterThan(3.5);
    expect(before.ok && before.value.heightUnknown).toBeUndefined();
    rig.fc.setNavigation({ height: 'lost' });
    const climb = await rig.vehicle.execute({ type: 'goto', target: { ...localToGeo(defaultSimConfig.origin, 0, 0), relAltM: 15 } });
    expect(climb.ok).toBe(true);
    await waitFor('the vehicle at 15 m', () => rig.fc.vehicle.state().upM > 14, 20_000);
    await waitFor("the estimator's report of the loss", () => rig.vehicle.telemetry.estimator?.vertAbsOk === false, 3_000);
    // What the FC streams is the held height, 9 m and more below the vehicle.
    expect(rig.fc.vehicle.state().upM - (rig.vehicle.telemetry.position?.relativeAlt ?? 0) / 1000).toBeGreaterThan(9);
    const lost = devices.flight.state();
    expect(lost.ok && lost.value.heightAboveHomeM).toBeUndefined();
    expect(lost.ok && lost.value.heightUnknown).toMatch(new RegExp(`no valid vertical position \\(${report} flags 0x[0-9a-f]+: POS_VERT_ABS is clear\\): its height above home is not known`));
    const f = devices.position.fix();
    expect(f.ok && f.value).toMatchObject({ fix: '3d', source: 'fc-estimate' });
    // The agents' reading: a position across, its altitude unknown (NaN), not the held one.
    const agents = new HalInputReader(devices, defaultSimConfig.origin);
    expect(agents.read(0).position?.altM).toBeNaN();
    rig.fc.setNavigation({ height: 'ok' });
    await waitFor('the height back', () => {
      const s = devices.flight.state();
      return s.ok && s.value.heightAboveHomeM !== undefined && Math.abs(s.value.heightAboveHomeM - rig.fc.vehicle.state().upM) < 1;
    }, 3_000);
    expect(agents.read(0).position?.altM).toBeGreaterThan(13);
  });
});
