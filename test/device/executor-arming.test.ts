// A flight controller that refuses to arm: its pre-arm checks fail until its estimator and GNSS are
// ready (a drone just powered up), or for good (a battery below its threshold). The executor asks again
// once a second, not in a tight loop, logs the FC's reason, and fails the task with it after its arming
// wait; once the checks pass it arms and flies. On the executor rig's simulated multirotor.

import { describe, it, type TestContext } from 'vitest';
import { Executor, type ExecReport } from '../../runtime/device/executor.js';
import { deviceError } from '../../hal/devices.js';
import { err } from '../../runtime/lib/result.js';
import { origin, testRig, until } from './executor-rig.js';

// The two tests run at once (describe.concurrent): each mostly waits on the wall clock (the executor's
// once-a-second arming retries), on its own rig (testRig), whose clock stops when that test ends.

const refusal = 'PreArm: GPS: waiting for 3D fix';

async function refusingRig(onTestFinished: TestContext['onTestFinished']) {
  const rig = await testRig(onTestFinished);
  const asked: number[] = [];
  let refuse = true;
  const execute = rig.devices.flight.execute.bind(rig.devices.flight);
  rig.devices.flight.execute = (a) => {
    if (a.type !== 'arm') return execute(a);
    asked.push(Date.now());
    return refuse ? Promise.resolve(err(deviceError('rejected', refusal))) : execute(a);
  };
  return { ...rig, asked, ready: () => (refuse = false) };
}

describe.concurrent('arming refused by the flight controller', () => {
  it("is asked again once a second with the FC's reason logged, and flown once the checks pass", async ({ expect, onTestFinished }) => {
    const { ex, reports, logs, asked, ready } = await refusingRig(onTestFinished);
    ex.run('m1', { type: 'waypoints', mission: 'm1', waypoints: [{ n: 0, e: 40 }], altDm: 100, speedDmps: 80, then: 'hold' });
    await new Promise((r) => setTimeout(r, 2_500));
    // Before: an arm every 50 ms (about 50 here).
    expect(asked.length).toBeGreaterThanOrEqual(2);
    expect(asked.length).toBeLessThanOrEqual(4);
    expect(logs.filter((l) => l.includes(refusal))).toHaveLength(1); // once per distinct reason
    expect(reports.map((r) => r.stage)).toEqual(['started']);
    ready();
    expect(await until(() => reports.some((r) => r.stage === 'done' || r.stage === 'failed'), 20_000)).toBe(true);
    expect(reports.map((r) => r.stage)).toContain('done');
    ex.stop();
  }, 40_000);

  it("fails the task with the FC's last refusal after the arming wait", async ({ expect, onTestFinished }) => {
    const { devices, asked } = await refusingRig(onTestFinished);
    const reports: ExecReport[] = [];
    const ex = new Executor(devices, origin, (r) => reports.push(r), () => undefined, { armWaitMs: 2_000 });
    ex.run('m1', { type: 'waypoints', mission: 'm1', waypoints: [{ n: 0, e: 40 }], altDm: 100, speedDmps: 80, then: 'hold' });
    expect(await until(() => reports.some((r) => r.stage === 'failed'), 10_000)).toBe(true);
    expect(reports.find((r) => r.stage === 'failed')?.reason).toBe(`not armed in 2 s: arm: ${refusal}`);
    expect(asked.length).toBeLessThanOrEqual(5);
    ex.stop();
  }, 30_000);
});
