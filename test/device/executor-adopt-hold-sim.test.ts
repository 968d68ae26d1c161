// A device on the simulated vehicle (hal.driver sim) restarted while the swarm holds its mission. That
// vehicle lives in the device's process and starts anew on the ground with it, so finding it there says
// nothing of a landing (MissionRunner.flewBefore gives null for it): the mission's resume takes it off
// as its task would, and the log says why in those words. Before, it said "nothing says it flew for
// this mission", naming the waypoints, reports and data directory a MAVLink device looks at.

import { describe, expect, it } from 'vitest';
import { testRig } from './executor-rig.js';

describe('adoptHold on the simulated vehicle', () => {
  it('on the ground after the restart: says the simulated vehicle starts anew there, hands nothing over, reports nothing', async ({ onTestFinished }) => {
    const { ex, devices, reports } = await testRig(onTestFinished);
    expect(devices.flight.driver).toBe('sim');
    const said = ex.adoptHold('m1', 500, null);
    expect(said).toMatch(/^the simulated vehicle \(hal\.driver sim\) starts anew on the ground with the device \(disarmed\), so its place there says nothing of a landing: the mission's resume takes it off/);
    expect(ex.handedOverBecause()).toBeNull();
    expect(reports).toEqual([]);
    ex.stop();
  });
});
