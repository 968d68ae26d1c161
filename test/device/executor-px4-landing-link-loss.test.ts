// The executor's landing on PX4 survives its companion link going quiet, end to end: the simulated
// PX4 as its own process on a socat pty (sim-fc --failsafe return, NAV_DLL_ACT Return), the device's
// executor on the MAVLink drivers over it. The executor flies its route, then lands the drone (an
// operator's land: NAV_LAND, PX4's user intended mode AUTO_LAND); on the way down its heartbeats to
// the FC stop for longer than the FC's link timeout, then come back (a process stall, a loose cable).
// PX4 ignores a lost data link in the user's Land (failsafe.cpp checkStateAndMode,
// dll_loss_ignored_land), so it lands on in AUTO_LAND, says no failsafe, and the executor keeps the
// vehicle: nothing is handed over, the landing is its own to the ground. Before, the simulated PX4
// climbed out of the landing into Return, and the executor handed the drone over to "its own failsafe
// (... mode return)" with the landing half done.

import { describe, expect, it } from 'vitest';
import { mavlinkExecutor, simFcRig, waitFor } from '../bridge/companion.js';

describe.concurrent("the executor's landing on PX4, its companion link lost on the way down", () => {
  it('PX4 lands on in AUTO_LAND, no failsafe; the executor hands nothing over and the drone lands and disarms', { timeout: 60_000 }, async (t) => {
    const cleanup: Array<() => Promise<void> | void> = [];
    t.onTestFinished(async () => {
      for (const f of cleanup.splice(0).reverse()) await f();
    });
    // Four simulated seconds a second; heartbeats every 200 ms both ways: the FC counts its companion
    // lost after 1 s of silence (five missed).
    const rig = await simFcRig(['--autopilot', 'px4', '--seed', '13', '--speed', '4', '--heartbeat-ms', '200', '--failsafe', 'return'], 200);
    cleanup.push(() => rig.stop());
    const { ex, reports, logs } = await mavlinkExecutor(rig, cleanup);
    const modesArmed: string[] = [];
    const watch = setInterval(() => {
      const m = rig.vehicle.mode();
      if (rig.vehicle.armed() && modesArmed.at(-1) !== m) modesArmed.push(m);
    }, 10);
    cleanup.push(() => clearInterval(watch));

    ex.run('m1', { type: 'waypoints', mission: 'm1', waypoints: [{ n: 0, e: 100 }], altDm: 250, speedDmps: 80, then: 'hold' });
    await waitFor('the route flown', () => reports.some((r) => r.command === 'm1' && r.stage === 'done'), 30_000);
    ex.run('down', { type: 'land' });
    await waitFor('AUTO_LAND', () => rig.vehicle.mode() === 'land', 5_000);
    const upAtLoss = (rig.vehicle.telemetry.position?.relativeAlt ?? 0) / 1000;
    expect(upAtLoss).toBeGreaterThan(15); // 25 m up, descending at 1.5 m/s: 2 s (8 simulated) of silence fit
    rig.endpoint.heartbeatsEnabled = false;
    await new Promise((r) => setTimeout(r, 2_000)); // past the FC's 1 s link timeout
    rig.endpoint.heartbeatsEnabled = true;
    await waitFor('landed and disarmed', () => !rig.vehicle.armed() && rig.vehicle.landed() === 'on-ground', 20_000);
    // Before: ['land', 'return'] (the FC's link-loss Return), then the executor's hand-over.
    expect(modesArmed.slice(modesArmed.indexOf('land'))).toEqual(['land']);
    expect(rig.vehicle.failsafe()).toBe(false);
    expect(ex.handedOverBecause()).toBeNull();
    expect(logs.filter((l) => l.includes("left the executor's control"))).toEqual([]);
    expect(reports.filter((r) => r.command === 'down').map((r) => r.stage)).toEqual(['started', 'done']);
  });
});
