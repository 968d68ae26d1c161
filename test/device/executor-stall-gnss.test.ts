// The executor's stall check (a vehicle a goto sent on that has not moved for stallMs, Executor's
// waitFor) against a GNSS receiver of the device's own (hal.gnss: an NMEA receiver on a serial port, with
// hal.driver mavlink) that loses its fix while the flight controller flies on by its own estimate: GGA
// with fix quality 0 and no coordinates. The receiver is played on a real socat pty from the simulated
// PX4's own position; the flight controller is the simulated PX4 through the MAVLink drivers.

import { describe, expect, it, type TestContext } from 'vitest';
import { openSerial } from '../../firmware-bridge/transport.js';
import { startPtyPair } from '../../firmware-bridge/tools/processes.js';
import { NmeaGps } from '../../hal/linux/nmea-gps.js';
import { nmeaSentence } from '../../hal/linux/nmea.js';
import { Executor, type ExecReport } from '../../runtime/device/executor.js';
import { defaultSimConfig } from '../../hal/sim/sim-config.js';
import { gga } from '../support/nmea.js';
import { inMemoryFc, mavlinkDevicesOn, waitFor } from '../bridge/companion.js';

/** What a receiver that has lost its fix writes: no coordinates, or (some receivers; a MAVLink FC's
 *  GPS_RAW_INT with no fix) the last ones again, with fix quality 0 either way. */
const lostFix = {
  'no coordinates': (): string => nmeaSentence('GPGGA,123519.00,,,,,0,00,99.9,,M,,M,,'),
  'the last coordinates again': (last: { lat: number; lon: number; alt: number }): string => {
    const body = gga(last.lat, last.lon, last.alt).replace(/^\$/, '').replace(/\*[0-9A-F]{2}\r\n$/, '');
    return nmeaSentence(body.replace(',1,09,', ',0,00,'));
  },
};

/**
 * The simulated FC of `family` through the MAVLink drivers, and beside it the device's own NMEA receiver
 * on a real socat pty, written 10 times a second with the FC's own position, or, while `fix.lost`,
 * what a receiver that lost its fix writes (`kind`). Once the receiver has a fix. Each test has its own
 * FC, pty and receiver, so the tests run at once (describe.concurrent); each stops what it made at its
 * end, passed or failed (`cleanup`, run through the test's onTestFinished).
 */
async function receiverBeside(t: TestContext, family: 'px4' | 'ardupilot', kind: keyof typeof lostFix) {
  const cleanup: Array<() => Promise<void> | void> = [];
  t.onTestFinished(async () => {
    for (const f of cleanup.splice(0).reverse()) await f();
  });
  const rig = inMemoryFc({ fc: { family, speedFactor: 4 } });
  cleanup.push(rig.stop);
  const mav = await mavlinkDevicesOn(rig, cleanup);
  const pty = await startPtyPair();
  cleanup.push(() => pty.stop());
  const receiver = await openSerial({ path: pty.b, baudRate: 9600 });
  cleanup.push(() => receiver.close());
  const gps = new NmeaGps({ open: () => openSerial({ path: pty.a, baudRate: 9600 }) });
  await gps.start();
  cleanup.push(() => gps.stop());
  const fix = { lost: false };
  let last = { lat: 0, lon: 0, alt: 0 };
  const feed = setInterval(() => {
    const p = rig.vehicle.telemetry.position;
    if (fix.lost) receiver.write(Buffer.from(kind === 'no coordinates' ? lostFix[kind]() : lostFix[kind](last), 'latin1'));
    else if (p) {
      last = { lat: p.lat / 1e7, lon: p.lon / 1e7, alt: p.alt / 1000 };
      receiver.write(Buffer.from(gga(last.lat, last.lon, last.alt), 'latin1'));
    }
  }, 100);
  cleanup.push(() => clearInterval(feed));
  await waitFor('a fix from the receiver', () => gps.fix().ok, 10_000);
  return { rig, mav, gps, fix, cleanup };
}

describe.concurrent("the stall check and a GNSS receiver's lost fix", () => {
  it.for(Object.keys(lostFix) as Array<keyof typeof lostFix>)('a receiver without a fix (%s) for longer than the stall time, while the vehicle flies on, is not read as the vehicle stopped short (nor as a pilot’s Hold)', { timeout: 90_000 }, async (kind, t) => {
    const { rig, mav, gps, fix, cleanup } = await receiverBeside(t, 'px4', kind);
    const reports: ExecReport[] = [];
    const logs: string[] = [];
    const ex = new Executor({ ...mav, position: gps }, defaultSimConfig.origin, (r) => reports.push(r), (m) => logs.push(m), { stallMs: 1_000 });
    cleanup.push(() => ex.stop());
    ex.run('m1', { type: 'waypoints', mission: 'm1', waypoints: [{ n: 0, e: 3000 }], altDm: 100, speedDmps: 80, then: 'hold' });
    await waitFor('on its way east', () => rig.fc.vehicle.state().eastM > 20 && rig.fc.vehicle.state().upM > 9, 30_000);
    fix.lost = true;
    await waitFor('the fix lost', () => { const f = gps.fix(); return f.ok && f.value.fix === 'none'; }, 5_000);
    const eastAtLoss = rig.fc.vehicle.state().eastM;
    await new Promise((r) => setTimeout(r, 2_500)); // more than the stall time without a fix
    const flownM = rig.fc.vehicle.state().eastM - eastAtLoss;
    fix.lost = false;
    expect(flownM, 'the vehicle flew on while the receiver had no fix').toBeGreaterThan(20);
    await waitFor('m1 done or failed', () => reports.some((r) => r.stage === 'done' || r.stage === 'failed'), 40_000);
    // Before: the position without a fix (NaN, or the last one over and over) never "moved" from where
    // the count began, so the vehicle counted as stopped in Hold for 1 s: the task failed as a pilot's
    // hold and was handed over.
    expect(reports.filter((r) => r.stage === 'failed').map((r) => r.reason)).toEqual([]);
    expect(logs.filter((l) => /stopped in hold short|nothing more is commanded/.test(l))).toEqual([]);
  });
});

// Under a hold, a receiver that loses its fix while the drone brakes leaves the executor no position to
// see it settle by (MotionWatch). Before, the 12 s settling time ran on through the gap, and the first
// fix after it, of a drone that had hovered where it held all along, was read as a hold never settled:
// "moved N m from where it held", a pilot's; the task failed and the drone was handed over (the
// mission's resume was not carried out).
describe.concurrent("a held drone and a GNSS receiver's lost fix", () => {
  it('a fix lost for longer than the settling time as the hold begins is not read as the drone flown off', async (t) => {
    const { rig, mav, gps, fix, cleanup } = await receiverBeside(t, 'ardupilot', 'no coordinates');
    const reports: ExecReport[] = [];
    const logs: string[] = [];
    const ex = new Executor({ ...mav, position: gps }, defaultSimConfig.origin, (r) => reports.push(r), (m) => logs.push(m));
    cleanup.push(() => ex.stop());
    ex.run('m1', { type: 'waypoints', mission: 'm1', waypoints: [{ n: 0, e: 3000 }], altDm: 100, speedDmps: 80, then: 'hold' });
    await waitFor('on its way east', () => rig.fc.vehicle.state().eastM > 20 && rig.fc.vehicle.state().upM > 9, 30_000);
    ex.run('h', { type: 'hold', mission: 'm1' });
    // Seen held with a position (the hold's start), then, braking still (2 s within 3 m settle it), no fix.
    await waitFor('held in LOITER', () => rig.fc.vehicle.state().mode === 'hold', 5_000);
    fix.lost = true;
    await new Promise((r) => setTimeout(r, 13_000)); // longer than the 12 s settling time, without a fix
    const heldAt = rig.fc.vehicle.state();
    fix.lost = false;
    await waitFor('the fix back', () => { const f = gps.fix(); return f.ok && f.value.fix !== 'none'; }, 5_000);
    await new Promise((r) => setTimeout(r, 1_500));
    const now = rig.fc.vehicle.state();
    expect(Math.hypot(now.northM - heldAt.northM, now.eastM - heldAt.eastM), 'the drone hovered where it held').toBeLessThan(2);
    expect(logs.filter((l) => /moved \d+ m from where it held|nothing more is commanded/.test(l))).toEqual([]);
    expect(reports.filter((r) => r.stage === 'failed').map((r) => r.reason)).toEqual([]);
    // The mission's resume flies it on.
    ex.run('r', { type: 'resume', mission: 'm1' });
    await waitFor('on its way east again', () => rig.fc.vehicle.state().eastM > now.eastM + 10, 20_000);
  }, 90_000);
});
