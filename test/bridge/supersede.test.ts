// A flight command whose ACK is lost is resent (up to three times, a second apart). A return-to-launch
// resent after a newer goto took the vehicle home again, out of the goto, and the device read the
// return as a takeover by the FC's own failsafe (executor.ts takenOver). A newer flight action now
// supersedes a return, landing, take-off or mission start still awaiting its ACK: its resends stop.
// The simulated FC (ArduPilot) runs in this process, joined to the companion in memory; the test drops
// every ACK of NAV_RETURN_TO_LAUNCH and counts the copies the FC is sent.

import { afterEach, describe, expect, it } from 'vitest';
import { mavCmd } from '../../firmware-bridge/mavlink/vehicle.js';
import { localToGeo } from '../../hal/geo.js';
import { defaultSimConfig } from '../../hal/sim/sim-config.js';
import { ackedCommand, inMemoryFc, longCommand, waitFor } from './companion.js';

const cleanup: Array<() => void> = [];
afterEach(() => cleanup.splice(0).forEach((f) => f()));

describe('a return whose ACK is lost, then a goto', () => {
  it('is not resent after the goto: the vehicle flies to the goto, and the return ends superseded', async () => {
    let rtlSent = 0;
    const { vehicle, stop } = inMemoryFc({
      fc: { speedFactor: 4 },
      fromFc: (f, pass) => (ackedCommand(f) === mavCmd.navReturnToLaunch ? undefined : pass(f)),
      fromCompanion: (f, pass) => {
        if (longCommand(f) === mavCmd.navReturnToLaunch) rtlSent++;
        pass(f);
      },
    });
    cleanup.push(stop);
    await waitFor('the FC heard, with a position', () => vehicle.connected() && vehicle.telemetry.position !== null, 10_000);
    expect((await vehicle.execute({ type: 'arm' })).ok).toBe(true);
    expect((await vehicle.execute({ type: 'takeoff', relAltM: 10 })).ok).toBe(true);
    await waitFor('10 m up', () => (vehicle.telemetry.position?.relativeAlt ?? 0) > 9_000, 20_000);
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
