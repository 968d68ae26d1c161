// An executor restarted while the vehicle flies a return or landing: this device's own from before the
// restart (its data directory's own-return record, runtime/device/own-return.ts), or the flight
// controller's own failsafe (no record, or one that does not match what the FC flies). Its own goes on,
// not handed over and nothing sent; the FC's is handed over, as before there was a record. On the
// executor rig's simulated multirotor, whose clock is stopped at the "restart" so the return is still
// under way while the restarted executors look at it.

import { describe, it } from 'vitest';
import { Executor, type ExecReport } from '../../runtime/device/executor.js';
import type { OwnReturn } from '../../runtime/device/own-return.js';
import { origin, recordActions, testRig, until, vehicleClock, type Rig } from './executor-rig.js';

/** An executor on `rig`'s devices as a (re)started device makes it: `found` the record read at start;
 *  what it writes goes to `kept` (null: emptied). */
function restarted(rig: Rig, found: OwnReturn | null, onTestFinished: (f: () => void) => void) {
  const reports: ExecReport[] = [];
  const logs: string[] = [];
  const kept: (OwnReturn | null)[] = [];
  const ex = new Executor(rig.devices, origin, (r) => reports.push(r), (m) => logs.push(m), { ownReturn: { found, keep: (r) => void kept.push(r) } });
  onTestFinished(() => ex.stop());
  return { ex, reports, logs, kept };
}

/** The vehicle flown 60 m east of home, 20 m up, by `before`'s task (done). */
async function flownOut(before: ReturnType<typeof restarted>): Promise<void> {
  before.ex.run('m1', { type: 'waypoints', mission: 'm1', waypoints: [{ n: 0, e: 600 }], altDm: 200, speedDmps: 80, then: 'hold' });
  if (!(await until(() => before.reports.some((r) => r.stage === 'done' || r.stage === 'failed'), 20_000))) throw new Error(`not flown out: ${JSON.stringify(before.reports)}`);
  if (!before.reports.some((r) => r.stage === 'done')) throw new Error(`not flown out: ${JSON.stringify(before.reports)}`);
}

const handedOverToday = /^the flight controller left the executor's control: the vehicle was returning home \(mode return\) when this device started, not by a command of this device since: the flight controller's own failsafe/;

describe.concurrent('an executor restarted while the vehicle returns', () => {
  it("its own committed rtl (recorded): the committed rtl goes on, nothing sent, not handed over, the record emptied once landed; with no record (the FC's own), handed over", async ({ expect, onTestFinished }) => {
    const rig = await testRig(onTestFinished);
    const before = restarted(rig, null, onTestFinished);
    await flownOut(before);
    expect(before.kept).toEqual([]); // nothing to empty: no record was written
    before.ex.run('ops/07', { type: 'rtl' });
    expect(await until(() => before.kept.length > 0 && rig.vehicle.state().mode === 'return', 5_000)).toBe(true);
    const record = before.kept.at(-1) as OwnReturn;
    expect(record).toMatchObject({ action: 'return-to-launch', command: 'ops/07', what: 'rtl for command ops/07', home: { latDeg: expect.any(Number), lonDeg: expect.any(Number) } });
    expect(Math.abs(record.atMs - Date.now())).toBeLessThan(5_000);
    rig.stop(); // the vehicle's clock stops mid-return: the "restart"
    before.ex.stop();
    expect(rig.vehicle.state().upM).toBeGreaterThan(5);
    const actions = recordActions(rig.devices.flight);

    // The FC's own failsafe return (no record): handed over, as before the record existed.
    const fcs = restarted(rig, null, onTestFinished);
    fcs.ex.carryOut('rtl');
    expect(fcs.ex.handedOverBecause()).toMatch(/^the flight controller left the executor's control: mode return, not the executor's/);
    expect(fcs.logs.some((l) => /^committed rtl not carried out/.test(l))).toBe(true);
    fcs.ex.stop();

    // Its own: the committed rtl goes on as it is.
    const own = restarted(rig, record, onTestFinished);
    own.ex.carryOut('rtl');
    expect(own.ex.handedOverBecause()).toBeNull();
    expect(own.logs).toEqual([
      "the vehicle flies this device's own rtl for command ops/07 from before the restart (mode return): it goes on, watched; nothing is sent",
      "committed rtl goes on: the vehicle flies this device's own rtl for command ops/07 from before the restart (mode return); not sent again",
    ]);
    await new Promise((r) => setTimeout(r, 200));
    expect(actions).toEqual([]); // before: the FC's return read as someone else's, handed over
    expect(own.kept).toEqual([]);
    // The vehicle's clock runs again: it lands on its return, and the record goes.
    const clock = vehicleClock(rig.vehicle);
    onTestFinished(() => clearInterval(clock));
    expect(await until(() => own.kept.length > 0, 20_000), `landed: ${JSON.stringify(rig.vehicle.state())}`).toBe(true);
    expect(own.kept).toEqual([null]);
    expect(rig.vehicle.state().upM).toBeLessThan(1);
    expect(actions).toEqual([]);
  }, 40_000);

  it("its own reflex's failsafe return (recorded), its mission active: adoptReturn says so, not handed over; the mission's hold and an automatic route not carried out; a pilot's switch then hands it over. The FC's own: handed over", async ({ expect, onTestFinished }) => {
    const rig = await testRig(onTestFinished);
    const before = restarted(rig, null, onTestFinished);
    await flownOut(before);
    before.ex.returnHome('battery 18% below the reserve 20%');
    expect(await until(() => before.kept.length > 0 && rig.vehicle.state().mode === 'return', 5_000)).toBe(true);
    const record = before.kept.at(-1) as OwnReturn;
    expect(record).toMatchObject({ action: 'return-to-launch', command: null, what: 'failsafe return to launch (battery 18% below the reserve 20%)' });
    rig.stop();
    before.ex.stop();
    const actions = recordActions(rig.devices.flight);

    // No record: the FC's own failsafe as far as the device can tell (today's reason, handed over).
    const fcs = restarted(rig, null, onTestFinished);
    expect(fcs.ex.adoptReturn('m1', 250)).toMatch(handedOverToday);
    expect(fcs.ex.handedOverFrom()).toBe('m1');
    fcs.ex.stop();

    // A record that does not match what the FC flies (its own landing, the FC in a return): as with none.
    const other = restarted(rig, { ...record, action: 'land', what: 'failsafe landing (battery 5%)' }, onTestFinished);
    expect(other.ex.adoptReturn('m1', 250)).toMatch(handedOverToday);
    expect(other.logs[0]).toBe("this device's own failsafe landing (battery 5%) from before the restart (its data directory's record) is not what the vehicle flies now: the flight controller is in mode return, not land: someone changed it since; record emptied");
    expect(other.kept.at(0)).toBeNull();
    other.ex.stop();

    const own = restarted(rig, record, onTestFinished);
    const reason = own.ex.adoptReturn('m1', 250);
    expect(reason).toBe("this device's own failsafe return to launch (battery 18% below the reserve 20%) from before the restart goes on (the flight controller is in mode return): its part of mission m1 is not flown on, and nothing is sent, until an operator's command for this drone");
    expect(own.reports).toEqual([{ command: 'm1', stage: 'failed', progress: 250, reason: `not resumed after a restart: ${reason}` }]);
    expect(own.ex.handedOverBecause()).toBeNull();
    expect(own.ex.handedOverFrom()).toBeNull(); // its telemetry names no handover: the part is not handed on for it
    expect(own.ex.adoptReturn('m1', 250)).toBe(reason); // a state sync's resume again: said once
    expect(own.reports).toHaveLength(1);
    // The mission's hold, and a route the swarm decided on its own: not carried out while it goes on.
    own.ex.run('h', { type: 'hold', mission: 'm1' });
    own.ex.run('m1', { type: 'waypoints', mission: 'm1', waypoints: [{ n: 0, e: 900 }], altDm: 200, speedDmps: 80, then: 'hold', replan: true }, null, 'automatic');
    expect(own.reports.slice(1).map((r) => `${r.command} ${r.stage} ${r.reason}`)).toEqual([
      'h started ',
      "h failed not carried out: this device's own failsafe return to launch (battery 18% below the reserve 20%) from before the restart goes on (the flight controller is in mode return)",
      'm1 started ',
      "m1 failed not carried out: this device's own failsafe return to launch (battery 18% below the reserve 20%) from before the restart goes on (the flight controller is in mode return); the swarm's automatic route of mission m1 does not end it (an operator's command does)",
    ]);
    // The reflex, latched before the restart, asserts its return again: it is flown already.
    own.ex.returnHome('battery 18% below the reserve 20%');
    await new Promise((r) => setTimeout(r, 200));
    expect(actions).toEqual([]);
    expect(rig.vehicle.state().mode).toBe('return');
    // A pilot's switch on the way is seen (its modes are the executor's now, as before the restart).
    rig.vehicle.setMode('manual');
    expect(await until(() => own.ex.handedOverBecause() !== null, 2_000)).toBe(true);
    expect(own.ex.handedOverBecause()).toMatch(/^the flight controller left the executor's control: a pilot took it \(a manual mode\)/);
    expect(own.ex.handedOverFrom()).toBe('m1');
    expect(own.kept).toEqual([null]); // someone else's now: the record goes
    expect(actions).toEqual([]);
  }, 40_000);

  it('its own landing on a vehicle that does not disarm once down: the record goes at touchdown', async ({ expect, onTestFinished }) => {
    const rig = await testRig(onTestFinished);
    const before = restarted(rig, null, onTestFinished);
    await flownOut(before);
    // An FC that stays armed on the ground (ArduCopter DISARM_DELAY 0, PX4 COM_DISARM_LAND -1), in the
    // landing's mode: the simulated multirotor disarms itself, so its state is shown so.
    const state = rig.devices.flight.state.bind(rig.devices.flight);
    rig.devices.flight.state = () => {
      const st = state();
      return st.ok && st.value.landed === 'on-ground' ? { ok: true, value: { ...st.value, armed: true, mode: 'land' } } : st;
    };
    before.ex.run('ops/08', { type: 'land' });
    expect(await until(() => before.kept.length > 0, 5_000)).toBe(true);
    expect(before.kept[0]).toMatchObject({ action: 'land', command: 'ops/08' });
    expect(await until(() => rig.vehicle.state().upM < 0.1 && before.kept.length > 1, 20_000), `down: ${JSON.stringify(rig.vehicle.state())}, kept ${JSON.stringify(before.kept)}`).toBe(true);
    // Before, only a disarm emptied it: a pilot flying the still-armed drone on (home unchanged, no
    // re-arm) and switching to Land read, at a restart within 30 min, as this device's own landing.
    expect(before.kept.slice(1)).toEqual([null]);
    expect(before.ex.handedOverBecause()).toBeNull();
  }, 40_000);
});
