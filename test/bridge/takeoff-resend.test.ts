// A take-off whose ACK is lost, on ArduCopter's terms: it answers NAV_TAKEOFF ACCEPTED at once and
// FAILED to one it cannot start, a take-off already under way included ("can't takeoff again!",
// Mode::do_user_takeoff). The companion resends when the first ACK is lost, and the resend is refused
// while the vehicle climbs: MavlinkVehicle.takeoff checks what the vehicle does before it reports a
// failure. The simulated FC runs in this process, joined to the companion in memory; the test drops
// the FC's first take-off ACK. And a MISSION_START resent mid-mission, which ArduPilot lets fly on,
// and the HOME_POSITION a companion must ask ArduPilot for.

import { describe, it, type TestContext } from 'vitest';
import { common } from 'node-mavlink';
import { mavCmd } from '../../firmware-bridge/mavlink/vehicle.js';
import { localToGeo } from '../../hal/geo.js';
import { defaultSimConfig } from '../../hal/sim/sim-config.js';
import { ackedCommand, inMemoryFc, waitFor } from './companion.js';

// Every test runs at once (describe.concurrent; vitest's maxConcurrency, 5): each has its own FC and
// companion in memory (rig), stopped when that test ends, and mostly waits on the simulated flight.

/** The FC (ArduPilot) and a companion in memory; `loseNextTakeoffAck()` drops the FC's next NAV_TAKEOFF ACK. */
async function rig(onTestFinished: TestContext['onTestFinished']) {
  let lose = false;
  let lost = 0;
  const { fc, endpoint, vehicle, stop } = inMemoryFc({
    fc: { speedFactor: 4 },
    vehicle: { command: { timeoutMs: 300, retries: 3 } },
    fromFc: (f, pass) => {
      if (lose && ackedCommand(f) === mavCmd.navTakeoff) {
        lose = false;
        lost++;
        return;
      }
      pass(f);
    },
  });
  const takeoffAcks: number[] = [];
  endpoint.onMessage(({ msg }) => {
    if (msg instanceof common.CommandAck && msg.command === mavCmd.navTakeoff) takeoffAcks.push(msg.result);
  });
  onTestFinished(stop);
  await waitFor('the FC heard, with a position', () => vehicle.connected() && vehicle.telemetry.position !== null && vehicle.telemetry.position !== undefined, 10_000);
  return {
    fc,
    vehicle,
    endpoint,
    takeoffAcks,
    lost: () => lost,
    loseNextTakeoffAck: () => {
      lose = true;
    },
  };
}

describe.concurrent('a take-off whose first ACK is lost (ArduPilot refuses the resend while it climbs)', () => {
  it('is reported done: the FC answered the resend FAILED, and the vehicle is leaving the ground', async ({ expect, onTestFinished }) => {
    const r = await rig(onTestFinished);
    expect((await r.vehicle.arm()).ok).toBe(true);
    await waitFor('armed heartbeat', () => r.vehicle.armed(), 10_000);
    r.loseNextTakeoffAck();
    const t = await r.vehicle.takeoff(10);
    expect(r.lost()).toBe(1);
    expect(r.takeoffAcks).toEqual([common.MavResult.FAILED]); // the resend's answer; ACCEPTED was lost
    expect(t.ok, t.ok ? '' : t.error.message).toBe(true);
    if (t.ok) expect(t.value.attempts).toBe(2);
    await waitFor('climbing past 5 m', () => (r.vehicle.telemetry.position?.relativeAlt ?? 0) > 5000, 15_000);
  }, 30_000);

  it('stays refused when the vehicle does not leave the ground (disarmed: both copies refused)', async ({ expect, onTestFinished }) => {
    const r = await rig(onTestFinished);
    r.loseNextTakeoffAck();
    const t = await r.vehicle.takeoff(10);
    expect(r.lost()).toBe(1);
    expect(r.takeoffAcks).toEqual([common.MavResult.FAILED]);
    expect(t.ok ? 'ok' : t.error.message).toBe('NAV_TAKEOFF: FAILED');
    expect(r.vehicle.telemetry.position?.relativeAlt ?? 0).toBeLessThan(500);
  }, 30_000);

  it('a take-off asked of a vehicle already in the air stays refused when its ACK is lost (it does not climb to the new height)', async ({ expect, onTestFinished }) => {
    const r = await rig(onTestFinished);
    expect((await r.vehicle.arm()).ok).toBe(true);
    await waitFor('armed heartbeat', () => r.vehicle.armed(), 10_000);
    expect((await r.vehicle.takeoff(10)).ok).toBe(true);
    await waitFor('in the air at 10 m', () => r.vehicle.landed() === 'in-air' && (r.vehicle.telemetry.position?.relativeAlt ?? 0) > 9_000, 15_000);
    r.loseNextTakeoffAck();
    const t = await r.vehicle.takeoff(20);
    expect(r.lost()).toBe(1);
    expect(t.ok ? 'ok' : t.error.message).toBe('NAV_TAKEOFF: FAILED'); // before: ok, the vehicle being in the air
  }, 30_000);

  it('a take-off refused at its first copy is refused (no resend, nothing to check)', async ({ expect, onTestFinished }) => {
    const r = await rig(onTestFinished);
    const t = await r.vehicle.takeoff(10); // disarmed
    expect(r.lost()).toBe(0);
    expect(r.takeoffAcks).toEqual([common.MavResult.FAILED]);
    expect(t.ok ? 'ok' : t.error.message).toBe('NAV_TAKEOFF: FAILED');
  }, 30_000);
});

describe.concurrent('a MISSION_START resent while the mission runs (its ACK lost), on ArduPilot', () => {
  it('leaves the mission flying on: ArduCopter starts a mission only when it is not running', async ({ expect, onTestFinished }) => {
    const r = await rig(onTestFinished);
    const reached: number[] = [];
    r.endpoint.onMessage(({ msg }) => {
      if (msg instanceof common.MissionItemReached) reached.push(msg.seq);
    });
    const wp = (e: number) => ({ command: mavCmd.navWaypoint, ...localToGeo(defaultSimConfig.origin, 10, e), relAltM: 10 });
    expect((await r.vehicle.upload([wp(0), wp(10), wp(20)])).ok).toBe(true);
    expect((await r.vehicle.arm()).ok).toBe(true);
    await waitFor('armed heartbeat', () => r.vehicle.armed(), 10_000);
    expect((await r.vehicle.takeoff(10)).ok).toBe(true);
    await waitFor('10 m up', () => (r.vehicle.telemetry.position?.relativeAlt ?? 0) > 9_000, 15_000);
    expect((await r.vehicle.startMission()).ok).toBe(true);
    await waitFor('first waypoint reached', () => reached.length >= 1, 20_000);
    expect((await r.vehicle.startMission()).ok).toBe(true);
    await waitFor('three waypoints reached', () => reached.length >= 3, 20_000);
    expect(reached.slice(0, 3)).toEqual([0, 1, 2]); // before: [0, 0, 1], from item 0 again
  }, 60_000);
});

describe.concurrent('HOME_POSITION, which ArduPilot sends when home is set or when asked, not as a stream', () => {
  it('is asked for once when the flight controller is first heard (MAV_CMD_REQUEST_MESSAGE 242), and answered', async ({ expect, onTestFinished }) => {
    const r = await rig(onTestFinished);
    await waitFor('the home position', () => r.vehicle.telemetry.home !== null, 10_000);
    await new Promise((x) => setTimeout(x, 1_000)); // more heartbeats: asked once per link, not per heartbeat
    expect(r.fc.homeRequests).toBe(1);
    expect(r.vehicle.home()?.altMslM).toBe(r.fc.vehicle.config.origin.altMslM);
  }, 30_000);
});
