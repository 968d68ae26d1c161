// The MAVLink driver raises its failsafe flag on a STATUSTEXT that names a failsafe (PX4 "Failsafe
// activated", ArduPilot "Radio Failsafe"), and the executor reads a flag raised while it flies as the
// FC's own failsafe taking the vehicle (takenOver). ArduPilot also says when a failsafe ends, with the
// same word: "Radio Failsafe Cleared", "GCS Failsafe Cleared", "EKF Failsafe Cleared" (events.cpp,
// AP_Vehicle failsafe "%s Failsafe Cleared"). Before, that end read as a new failsafe: a task flown
// after the RC link came back failed "its own failsafe (mode guided)" and the drone was left hovering.
// The executor flies the simulated ArduPilot FC through the MAVLink HAL drivers, joined in memory; the
// test has the FC send the texts.

import { afterEach, describe, expect, it } from 'vitest';
import { Executor, type ExecReport } from '../../runtime/device/executor.js';
import { defaultSimConfig } from '../../hal/sim/sim-config.js';
import { statusText } from '../../firmware-bridge/sim-fc/telemetry.js';
import { inMemoryFc, mavlinkDevicesOn, waitFor } from '../bridge/companion.js';

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

const warning = 4; // MAV_SEVERITY_WARNING, as ArduCopter sends both texts

describe('an FC that says its failsafe ended', () => {
  it('is not read as a failsafe: the driver’s flag stays down, and the task flying meanwhile is flown', async () => {
    const rig = inMemoryFc({ fc: { speedFactor: 4 } });
    cleanup.push(rig.stop);
    const devices = await mavlinkDevicesOn(rig, cleanup);
    const reports: ExecReport[] = [];
    const ex = new Executor(devices, defaultSimConfig.origin, (r) => reports.push(r), () => undefined);
    cleanup.push(() => ex.stop());
    ex.run('m1', { type: 'waypoints', mission: 'm1', waypoints: [{ n: 0, e: 300 }], altDm: 100, speedDmps: 80, then: 'hold' });
    await waitFor('on its way, in guided', () => rig.fc.vehicle.state().mode === 'guided' && rig.fc.vehicle.state().upM > 9, 30_000);
    await new Promise((r) => setTimeout(r, 500)); // the executor has seen its mode and the flag clear
    for (const text of ['Radio Failsafe Cleared', 'GCS Failsafe Cleared', 'EKF Failsafe Cleared']) rig.fc.send(statusText(text, warning));
    await new Promise((r) => setTimeout(r, 500));
    expect(rig.vehicle.failsafe()).toBe(false); // before: true
    await waitFor('the task done or failed', () => reports.some((r) => r.stage === 'done' || r.stage === 'failed'), 30_000);
    expect(reports.filter((r) => r.stage === 'failed')).toEqual([]); // before: "... its own failsafe (mode guided) ..."
    // A failsafe itself still raises it.
    rig.fc.send(statusText('Radio Failsafe', warning));
    await waitFor('the flag raised', () => rig.vehicle.failsafe(), 2_000);
  }, 60_000);
});
