// The executor tells its own flight mode from a pilot's by what each action it sends leaves the flight
// controller in (FlightControl.modesAfter, runtime/device/own-modes.ts), per autopilot: ArduCopter flies
// a goto (MAV_CMD_DO_REPOSITION) in GUIDED, so a pilot's switch to LOITER is someone else's; PX4 flies
// it in Hold (AUTO.LOITER), so Hold is its own there and a whole route is flown without a takeover read.
// The executor flies the simulated FC of each autopilot through the MAVLink HAL drivers, joined in memory;
// the test switches the FC's mode as a pilot's RC switch would.

import { afterEach, describe, expect, it } from 'vitest';
import type { AutopilotFamily } from '../../firmware-bridge/mavlink/modes.js';
import { mavCmd } from '../../firmware-bridge/mavlink/vehicle.js';
import { frameMsgid, inMemoryFc, longCommand, mavlinkExecutor, waitFor } from '../bridge/companion.js';

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

const commandInt = 75; // COMMAND_INT: the goto's MAV_CMD_DO_REPOSITION

async function flying(family: AutopilotFamily) {
  const sent: string[] = [];
  const rig = inMemoryFc({
    fc: { family, speedFactor: 4 },
    fromCompanion: (f, pass) => {
      const long = longCommand(f);
      if (long === mavCmd.doSetMode) sent.push('set-mode');
      else if (frameMsgid(f) === commandInt) sent.push('goto');
      pass(f);
    },
  });
  cleanup.push(rig.stop);
  return { rig, sent, ...(await mavlinkExecutor(rig, cleanup)) };
}

describe('the executor on a MAVLink flight controller, and modes that are not its own', () => {
  it("ArduPilot: a pilot's switch to LOITER mid-leg takes the vehicle; the task fails naming it, and no goto or mode change follows", async () => {
    const { rig, ex, reports, sent } = await flying('ardupilot');
    ex.run('m1', { type: 'waypoints', mission: 'm1', waypoints: [{ n: 0, e: 1500 }, { n: 600, e: 1500 }], altDm: 100, speedDmps: 80, then: 'hold' });
    await waitFor('on its way, in GUIDED', () => rig.fc.vehicle.state().mode === 'guided' && rig.fc.vehicle.state().upM > 9 && sent.includes('goto'), 30_000);
    await new Promise((r) => setTimeout(r, 500)); // a HEARTBEAT (every 200 ms) showed GUIDED
    rig.fc.vehicle.setMode('hold'); // LOITER from the pilot's RC switch
    await waitFor('the task failed', () => reports.some((r) => r.stage === 'failed'), 5_000);
    expect(reports.find((r) => r.stage === 'failed')?.reason).toMatch(/left the executor's control: mode hold, not the executor's/);
    const after = sent.length;
    ex.resumeAfterReflex(); // a reflex's release would fly it on
    await new Promise((r) => setTimeout(r, 1_000));
    expect(sent.slice(after)).toEqual([]); // before: a goto, which switched the FC back to GUIDED
    expect(rig.fc.vehicle.state().mode).toBe('hold');
  }, 60_000);

  it('PX4: a route flown on gotos in Hold (as PX4 flies a reposition) is done with no takeover read; a switch to Position mode is one', async () => {
    const { rig, ex, reports, logs, sent } = await flying('px4');
    ex.run('m1', { type: 'waypoints', mission: 'm1', waypoints: [{ n: 0, e: 200 }, { n: 200, e: 200 }], altDm: 100, speedDmps: 80, then: 'hold' });
    await waitFor('the task done or failed', () => reports.some((r) => r.stage === 'done' || r.stage === 'failed'), 40_000);
    expect(reports.filter((r) => r.stage === 'failed')).toEqual([]);
    expect(sent.filter((s) => s === 'goto').length).toBeGreaterThanOrEqual(2);
    expect(rig.fc.vehicle.state().mode).toBe('hold');
    expect(logs.filter((l) => l.includes("left the executor's control"))).toEqual([]);
    ex.run('m2', { type: 'waypoints', mission: 'm2', waypoints: [{ n: 0, e: 1500 }], altDm: 100, speedDmps: 80, then: 'hold' });
    await waitFor('on its way to m2', () => sent.filter((s) => s === 'goto').length >= 3 && Math.hypot(rig.fc.vehicle.state().northM - 20, rig.fc.vehicle.state().eastM - 20) > 5, 20_000);
    await new Promise((r) => setTimeout(r, 500));
    rig.fc.vehicle.setMode('manual'); // POSCTL from the pilot's RC switch
    await waitFor('m2 failed', () => reports.some((r) => r.command === 'm2' && r.stage === 'failed'), 5_000);
    expect(reports.find((r) => r.command === 'm2' && r.stage === 'failed')?.reason).toMatch(/a pilot took it/);
  }, 60_000);
});
