// A flight command whose ACK is lost is resent (up to three times, a second apart). A return-to-launch
// resent after a newer goto took the vehicle home again, out of the goto, and the device read the
// return as a takeover by the FC's own failsafe (executor.ts takenOver). A newer flight action now
// supersedes a return, landing, take-off or mission start still awaiting its ACK: its resends stop.
// The simulated FC (ArduPilot) runs in this process, joined to the companion in memory; the test drops
// every ACK of NAV_RETURN_TO_LAUNCH and counts the copies the FC is sent.

import { describe, expect, it, type TestContext } from 'vitest';
import { mavCmd } from '../../firmware-bridge/mavlink/vehicle.js';
import { localToGeo } from '../../hal/geo.js';
import { defaultSimConfig } from '../../hal/sim/sim-config.js';
import { ackedCommand, airborne, inMemoryFc, longCommand, waitFor } from './companion.js';

// Each test flies its own simulated FC, so the tests run at once (describe.concurrent); each stops its
// own FC at its end, passed or failed, through the test's onTestFinished.

describe.concurrent('a return whose ACK is lost, then a goto', () => {
  it('is not resent after the goto: the vehicle flies to the goto, and the return ends superseded', async (t) => {
    let rtlSent = 0;
    const { vehicle, stop } = inMemoryFc({
      fc: { speedFactor: 4 },
      fromFc: (f, pass) => (ackedCommand(f) === mavCmd.navReturnToLaunch ? undefined : pass(f)),
      fromCompanion: (f, pass) => {
        if (longCommand(f) === mavCmd.navReturnToLaunch) rtlSent++;
        pass(f);
      },
    });
    t.onTestFinished(stop);
    await airborne(vehicle, 10);
    const rtl = vehicle.execute({ type: 'return-to-launch' });
    await new Promise((r) => setTimeout(r, 200)); // the FC took it; its ACK is lost
    const target = localToGeo(defaultSimConfig.origin, 0, 30);
    expect((await vehicle.execute({ type: 'goto', target: { ...target, relAltM: 10 } })).ok).toBe(true);
    const r = await rtl;
    expect(r.ok ? 'ok' : r.error.message).toBe('NAV_RETURN_TO_LAUNCH: superseded by goto before its ACK');
    await new Promise((done) => setTimeout(done, 3_500)); // past the three resends a second apart
    expect(rtlSent).toBe(1); // before: 4, the last ones after the goto
    expect(vehicle.mode()).toBe('guided'); // before: return, from a resend
    await waitFor('30 m east', () => {
      const p = vehicle.telemetry.position;
      return p !== null && p !== undefined && Math.abs(p.lon / 1e7 - target.lonDeg) < 3e-5;
    }, 20_000);
  }, 60_000);
});

/** The command of a COMMAND_LONG (76) or COMMAND_INT (75) frame: both carry it after 28 bytes of params. */
const commandOf = (f: Uint8Array): number | null => longCommand(f) ?? (f[0] === 0xfd && f[7] === 75 && f[8] === 0 && f[9] === 0 ? (f[38] ?? 0) | ((f[39] ?? 0) << 8) : null);

/** The in-memory FC up 10 m; from then on, every ACK of `lost` is dropped while `drop.on` and the
 *  copies of it the companion sends are counted. */
async function upWithLostAcks(t: TestContext, lost: number) {
  const sent = { count: 0 };
  const drop = { on: false };
  let counting = false;
  const rig = inMemoryFc({
    fc: { speedFactor: 4 },
    fromFc: (f, pass) => (ackedCommand(f) === lost && drop.on ? undefined : pass(f)),
    fromCompanion: (f, pass) => {
      if (commandOf(f) === lost && counting) sent.count++;
      pass(f);
    },
  });
  t.onTestFinished(rig.stop);
  const { vehicle } = rig;
  await waitFor('the FC heard, with a position', () => vehicle.connected() && vehicle.telemetry.position !== null, 10_000);
  expect((await vehicle.execute({ type: 'arm' })).ok).toBe(true);
  expect((await vehicle.execute({ type: 'takeoff', relAltM: 10 })).ok).toBe(true);
  await waitFor('10 m up', () => (vehicle.telemetry.position?.relativeAlt ?? 0) > 9_000, 20_000);
  drop.on = true;
  counting = true;
  return { ...rig, sent, drop };
}

describe.concurrent('a goto or hold whose ACK is lost, then a return, landing or hold', () => {
  // A battery reserve's return (or a critical battery's landing) given while the executor's last goto,
  // or a reflex's hold, still awaited its ACK: the goto's resend a second later switched the FC back to
  // GUIDED and flew the drone to the waypoint, out of its return; the hold's stopped it where it was.
  const target = localToGeo(defaultSimConfig.origin, 0, 60);
  // And a reflex's hold (link loss) or the mission's, given while that goto awaited its ACK: the goto's
  // resend flew the drone on to the waypoint, out of the hold.
  for (const [first, lost, action] of [
    ['goto', mavCmd.doReposition, 'return-to-launch'],
    ['hold', mavCmd.doSetMode, 'return-to-launch'],
    ['goto', mavCmd.doReposition, 'land'],
    ['goto', mavCmd.doReposition, 'hold'],
  ] as const) {
    it(`${first} then ${action}: the ${first} is not resent after it, and the vehicle keeps to it`, async (t) => {
      const { fc, vehicle, sent } = await upWithLostAcks(t, lost);
      const before = first === 'goto' ? vehicle.execute({ type: 'goto', target: { ...target, relAltM: 10 } }) : vehicle.execute({ type: 'hold' });
      await new Promise((r) => setTimeout(r, 200)); // the FC took it; its ACK is lost
      expect(sent.count).toBe(1);
      const r = await vehicle.execute({ type: action });
      expect(r.ok ? 'ok' : r.error.message).toBe('ok');
      const want = action === 'land' ? 'land' : action === 'hold' ? 'hold' : 'return';
      const modes = new Set<string>();
      // While it flies: the simulated multirotor's landing ends disarmed, in hold.
      for (const t0 = Date.now(); Date.now() - t0 < 3_500; await new Promise((d) => setTimeout(d, 20))) if (fc.vehicle.state().armed) modes.add(fc.vehicle.state().mode);
      expect([...modes]).toEqual([want]); // before: back to guided (the goto) or hold, from a resend
      expect(sent.count).toBe(1); // before: 4, three after the return or landing
      const b = await before;
      expect(b.ok ? 'ok' : b.error).toEqual({ code: 'superseded', message: `${first === 'goto' ? 'DO_REPOSITION' : 'DO_SET_MODE'}: superseded by ${action} before its ACK` });
    }, 60_000);
  }
});

describe.concurrent('a goto whose ACK is lost, then another goto (a re-plan)', () => {
  it('the newer goto is sent and flown, not refused as already awaiting an ACK; the older is not resent', async (t) => {
    const { vehicle, sent, drop } = await upWithLostAcks(t, mavCmd.doReposition);
    const old = localToGeo(defaultSimConfig.origin, 0, 60);
    const first = vehicle.execute({ type: 'goto', target: { ...old, relAltM: 10 } });
    await new Promise((r) => setTimeout(r, 200)); // the FC took it; its ACK is lost
    drop.on = false; // the newer goto is answered
    const target = localToGeo(defaultSimConfig.origin, 40, 0);
    const r = await vehicle.execute({ type: 'goto', target: { ...target, relAltM: 10 } });
    expect(r.ok ? 'ok' : r.error.message).toBe('ok'); // before: "DO_REPOSITION is already awaiting an ACK"
    const f = await first;
    expect(f.ok ? 'ok' : f.error).toEqual({ code: 'superseded', message: 'DO_REPOSITION: superseded by goto before its ACK' });
    await new Promise((d) => setTimeout(d, 3_500)); // past the older goto's three resends
    expect(sent.count).toBe(2);
    await waitFor('40 m north', () => {
      const p = vehicle.telemetry.position;
      return p !== null && p !== undefined && Math.abs(p.lat / 1e7 - target.latDeg) < 3e-5 && Math.abs(p.lon / 1e7 - target.lonDeg) < 3e-5;
    }, 20_000);
  }, 60_000);
});
