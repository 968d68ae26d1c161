// The executor of a device that has just started, as after a restart: its flight controller not heard
// yet (MAVLink telemetry comes in after the start), or its vehicle already in the air. On the executor
// rig's simulated multirotor.

import { describe, it } from 'vitest';
import { Executor, type ExecReport } from '../../runtime/device/executor.js';
import { deviceError } from '../../hal/devices.js';
import { err } from '../../runtime/lib/result.js';
import { recordActions, testRig, origin, until } from './executor-rig.js';

// The tests run at once (describe.concurrent): each waits on its own vehicle's simulated flight and
// little on the CPU, on its own rig (testRig), whose clock stops when that test ends.

describe.concurrent('an executor that has just started', () => {
  it('given a task before its flight controller is heard, waits for it rather than fail the task', async ({ expect, onTestFinished }) => {
    const { devices, reports, ex } = await testRig(onTestFinished);
    const state = devices.flight.state.bind(devices.flight);
    let heard = false;
    devices.flight.state = () => (heard ? state() : err(deviceError('no-data', 'no HEARTBEAT from the flight controller yet')));
    ex.run('m1', { type: 'waypoints', mission: 'm1', waypoints: [{ n: 0, e: 200 }], altDm: 100, speedDmps: 80, then: 'hold' });
    await new Promise((r) => setTimeout(r, 500));
    expect(reports.map((r) => r.stage)).toEqual(['started']); // before: failed at once, "flight controller: no HEARTBEAT ..."
    heard = true;
    expect(await until(() => reports.some((r) => r.stage === 'done' || r.stage === 'failed'), 20_000)).toBe(true);
    expect(reports.map((r) => r.stage)).toContain('done');
  }, 30_000);

  it("with its vehicle already in the air, measures its height from the flight controller's home, not from where it is", async ({ expect, onTestFinished }) => {
    const { vehicle, devices } = await testRig(onTestFinished);
    expect((await devices.flight.execute({ type: 'arm' })).ok).toBe(true);
    expect((await devices.flight.execute({ type: 'takeoff', relAltM: 20 })).ok).toBe(true);
    expect(await until(() => vehicle.state().upM > 19, 15_000)).toBe(true);
    const reports: ExecReport[] = [];
    const restarted = new Executor(devices, origin, (r) => reports.push(r), () => undefined);
    // Before, its first fix was taken for the ground: about 0 m, and a resumed leg was flown again.
    expect(restarted.position()?.upM).toBeGreaterThan(15);
    restarted.stop();
  }, 30_000);

  it('before its flight controller says whether it is on the ground (MAVLink: HEARTBEAT first), neither takes off nor fixes its ground', async ({ expect, onTestFinished }) => {
    const { vehicle, devices } = await testRig(onTestFinished);
    expect((await devices.flight.execute({ type: 'arm' })).ok).toBe(true);
    expect((await devices.flight.execute({ type: 'takeoff', relAltM: 20 })).ok).toBe(true);
    expect(await until(() => vehicle.state().upM > 19 && vehicle.state().mode === 'hold', 15_000)).toBe(true);
    const state = devices.flight.state.bind(devices.flight);
    let told = false;
    devices.flight.state = () => {
      const r = state();
      return r.ok && !told ? { ok: true, value: { ...r.value, landed: 'unknown', home: null } } : r;
    };
    const actions = recordActions(devices.flight);
    const reports: ExecReport[] = [];
    const restarted = new Executor(devices, origin, (r) => reports.push(r), () => undefined);
    expect(restarted.heightKnown()).toBe(false); // armed, landed state unknown: its fix is not the ground
    restarted.run('m1', { type: 'waypoints', mission: 'm1', waypoints: [{ n: 0, e: 300 }], altDm: 200, speedDmps: 80, then: 'hold' });
    await new Promise((r) => setTimeout(r, 500));
    expect(actions).toEqual([]); // before: arm and take off, with the drone 20 m up
    told = true;
    expect(await until(() => reports.some((r) => r.stage === 'done' || r.stage === 'failed'), 20_000)).toBe(true);
    expect(reports.map((r) => r.stage)).toContain('done');
    expect(actions).not.toContain('takeoff');
    expect(restarted.heightKnown()).toBe(true);
    expect(restarted.position()?.upM).toBeGreaterThan(15);
    restarted.stop();
  }, 30_000);

  it("with its vehicle on the FC's own return: a reflex's hold is not sent (it would stop the return), and a new task takes the vehicle", async ({ expect, onTestFinished }) => {
    const { vehicle, devices } = await testRig(onTestFinished);
    expect((await devices.flight.execute({ type: 'arm' })).ok).toBe(true);
    expect((await devices.flight.execute({ type: 'takeoff', relAltM: 20 })).ok).toBe(true);
    expect(await until(() => vehicle.state().upM > 19, 15_000)).toBe(true);
    expect(vehicle.returnToLaunch().ok).toBe(true); // the FC's battery failsafe, say, while the device was down
    const actions = recordActions(devices.flight);
    const reports: ExecReport[] = [];
    const logs: string[] = [];
    const restarted = new Executor(devices, origin, (r) => reports.push(r), (m) => logs.push(m));
    restarted.reflexAction({ type: 'hold' }); // link loss
    restarted.reflexAction({ type: 'velocity', northMps: 1, eastMps: 0, downMps: 0 }); // an obstacle's back-off
    await new Promise((r) => setTimeout(r, 200));
    expect(actions).toEqual([]); // before: hold, then velocity: the FC's return stopped
    expect(vehicle.state().mode).toBe('return');
    expect(logs.filter((l) => l.includes('not sent'))).toHaveLength(1);
    restarted.run('g1', { type: 'waypoints', mission: 'g1', waypoints: [{ n: 0, e: 100 }], altDm: 200, speedDmps: 80, then: 'hold' });
    expect(await until(() => reports.some((r) => r.stage === 'done' || r.stage === 'failed'), 20_000)).toBe(true);
    expect(reports.map((r) => `${r.stage} ${r.reason}`)).toContain('done ');
    restarted.stop();
  }, 30_000);

  // MissionRunner.resumeOwnTask, restarted with the mission active and the vehicle on a return: handed
  // over from that mission (its telemetry names it), the part's failure said once, whether or not
  // something (a reflex's action refused) found the vehicle someone else's before the runner got there.
  it("with its vehicle on the FC's own return and its mission active: adoptReturn hands it over from that mission, its part failed with the reason; the mission's hold is not carried out", async ({ expect, onTestFinished }) => {
    const { vehicle, devices } = await testRig(onTestFinished);
    expect((await devices.flight.execute({ type: 'arm' })).ok).toBe(true);
    expect((await devices.flight.execute({ type: 'takeoff', relAltM: 20 })).ok).toBe(true);
    expect(await until(() => vehicle.state().upM > 19, 15_000)).toBe(true);
    expect(vehicle.returnToLaunch().ok).toBe(true); // the FC's own failsafe while the device was down
    const actions = recordActions(devices.flight);
    for (const reflexFirst of [false, true]) {
      const reports: ExecReport[] = [];
      const restarted = new Executor(devices, origin, (r) => reports.push(r), () => undefined);
      if (reflexFirst) restarted.reflexAction({ type: 'hold' }); // refused: handed over with no mission yet
      expect(restarted.handedOverFrom(), `reflex first: ${reflexFirst}`).toBeNull();
      const reason = restarted.adoptReturn('m1', 250);
      const why = reflexFirst ? /^the flight controller left the executor's control: mode return, not the executor's/ : /^the flight controller left the executor's control: the vehicle was returning home \(mode return\) when this device started, not by a command of this device since/;
      expect(reason, `reflex first: ${reflexFirst}`).toMatch(why);
      expect(restarted.handedOverFrom(), `reflex first: ${reflexFirst}`).toBe('m1');
      expect(reports, `reflex first: ${reflexFirst}`).toEqual([{ command: 'm1', stage: 'failed', progress: 250, reason: `not resumed after a restart: ${reason}` }]);
      expect(reason).toMatch(/; nothing more is commanded until an operator's command for this drone$/);
      restarted.run('h', { type: 'hold', mission: 'm1' });
      expect(reports.filter((r) => r.command === 'h').map((r) => r.stage)).toEqual(['started', 'failed']);
      restarted.stop();
    }
    await new Promise((r) => setTimeout(r, 200));
    expect(actions).toEqual([]);
    expect(vehicle.state().mode).toBe('return');
  }, 30_000);

  // The FC not heard when the runner's resume ran (its flying gave up on the FC: here a stale link, which
  // fails at once as the 15 s wait for an unheard one ends), heard afterwards on its own return: no route
  // flew, nothing was sent since the start, and nothing else has asked whose the vehicle is. The mission's
  // hold concerns the drones flying it: it must not switch the FC out of its return (Executor.run's notHere).
  it("its FC heard only after the resume gave up on it, on the FC's own return: the mission's hold is not sent", async ({ expect, onTestFinished }) => {
    const { vehicle, devices } = await testRig(onTestFinished);
    expect((await devices.flight.execute({ type: 'arm' })).ok).toBe(true);
    expect((await devices.flight.execute({ type: 'takeoff', relAltM: 20 })).ok).toBe(true);
    expect(await until(() => vehicle.state().upM > 19, 15_000)).toBe(true);
    expect(vehicle.returnToLaunch().ok).toBe(true); // the FC's own failsafe while the device was down
    const state = devices.flight.state.bind(devices.flight);
    let heard = false;
    devices.flight.state = () => (heard ? state() : err(deviceError('stale', 'no HEARTBEAT from the flight controller for 3 s')));
    const actions = recordActions(devices.flight);
    const reports: ExecReport[] = [];
    const restarted = new Executor(devices, origin, (r) => reports.push(r), () => undefined);
    restarted.run('m1', { type: 'waypoints', mission: 'm1', waypoints: [{ n: 0, e: 300 }], altDm: 200, speedDmps: 80, then: 'hold' }, null, 'automatic');
    expect(await until(() => reports.some((r) => r.stage === 'failed'), 5_000)).toBe(true);
    heard = true;
    expect(vehicle.state().mode).toBe('return');
    restarted.run('h', { type: 'hold', mission: 'm1' });
    expect(reports.filter((r) => r.command === 'h').map((r) => r.stage)).toEqual(['started', 'failed']);
    expect(restarted.handedOverFrom()).toBe('m1');
    await new Promise((r) => setTimeout(r, 100));
    expect(actions).toEqual([]); // before: hold, out of the FC's return
    expect(vehicle.state().mode).toBe('return');
    restarted.stop();
  }, 30_000);
});
