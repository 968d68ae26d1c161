// The MAVLink flight driver keeps the device's geofence on the flight controller (hal/mavlink/
// fence-keeper.ts), against the simulated FC as its own process on a socat pty: asked before the FC
// is there, it uploads once the FC comes up; a replaced FC (process restarted, fence gone) gets it
// again without being asked; a refusal is reported with the FC's reason and retried in the background;
// keepFence itself never waits on the link.

import { afterEach, describe, expect, it } from 'vitest';
import { createMavlinkDevices } from '../../hal/mavlink/mavlink-devices.js';
import type { FenceKeeperStatus, GeoFence } from '../../hal/devices.js';
import { localToGeo } from '../../hal/geo.js';
import { defaultSimConfig } from '../../hal/sim/sim-config.js';
import { openSerial, type SerialTransport } from '../../firmware-bridge/transport.js';
import { startPtyPair, startSimFc, type PtyPair, type SimFcProcess } from '../../firmware-bridge/tools/processes.js';
import { companion, waitFor } from '../bridge/companion.js';

const origin = defaultSimConfig.origin;
const square = (halfM: number, altMaxM: number | null): GeoFence => ({
  polygon: [localToGeo(origin, -halfM, -halfM), localToGeo(origin, -halfM, halfM), localToGeo(origin, halfM, halfM), localToGeo(origin, halfM, -halfM)],
  altMaxM,
});

type FenceLine = { fence: { vertices: number; polygonE7: [number, number][]; altMaxM: number | null; enabled: boolean } };
const fcFence = (fc: SimFcProcess): FenceLine['fence'] | null =>
  fc.lines().filter((l): l is FenceLine => typeof l === 'object' && l !== null && 'fence' in l).at(-1)?.fence ?? null;

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

/** A companion on one end of a pty pair, with the MAVLink flight driver started; the FC comes later. */
async function companionOnPty(heartbeatMs = 200): Promise<{ pty: PtyPair; port: SerialTransport; flight: ReturnType<typeof createMavlinkDevices>['flight'] }> {
  const pty = await startPtyPair();
  cleanup.push(() => pty.stop());
  const port = await openSerial({ path: pty.a, baudRate: 921_600 });
  const c = companion(port, heartbeatMs);
  cleanup.push(async () => {
    c.vehicle.close();
    c.endpoint.stop();
    await port.close();
  });
  const flight = createMavlinkDevices(c.vehicle, undefined, undefined, { retryFirstMs: 200, retryMaxMs: 400 }).flight;
  await flight.start();
  cleanup.push(() => flight.stop());
  return { pty, port, flight };
}

async function fcOn(pty: PtyPair, extra: string[] = []): Promise<SimFcProcess> {
  const fc = await startSimFc(['--serial', pty.b, '--autopilot', 'ardupilot', '--heartbeat-ms', '200', ...extra]);
  cleanup.push(() => fc.stop());
  return fc;
}

describe('MAVLink flight driver: the fence kept on the flight controller', () => {
  it('asked before the FC is up, uploads when it comes; a restarted FC that lost it gets it again unasked', async () => {
    const { pty, flight } = await companionOnPty();
    const reports: FenceKeeperStatus[] = [];
    const fence = square(50, 30);
    const t0 = performance.now();
    flight.keepFence(fence, (s) => reports.push(s));
    expect(performance.now() - t0).toBeLessThan(20); // returns at once: nothing waits on the link
    expect(flight.fenceStatus()).toMatchObject({ state: 'uploading', vertices: 4, altMaxM: 30, uploads: 0 });
    const first = await fcOn(pty);
    await waitFor('the fence on the first FC', () => flight.fenceStatus()?.state === 'on-fc', 10_000);
    expect(fcFence(first)).toMatchObject({ vertices: 4, altMaxM: 30, enabled: true });
    flight.keepFence(fence); // the same fence on the next committed block: no second upload
    expect(flight.fenceStatus()?.state).toBe('on-fc');
    // The FC process ends (a reboot) and a fresh one, knowing no fence, takes the port.
    await first.stop();
    await waitFor('the FC declared lost', () => flight.fenceStatus()?.state === 'uploading', 5_000);
    const second = await fcOn(pty);
    await waitFor('the fence on the second FC', () => fcFence(second)?.enabled === true, 10_000);
    expect(fcFence(second)).toMatchObject({ vertices: 4, altMaxM: 30, enabled: true });
    await waitFor('its report', () => flight.fenceStatus()?.uploads === 2, 3_000);
    expect(reports.map((r) => [r.state, r.reason])).toEqual([['on-fc', null], ['on-fc', null]]);
  }, 40_000);

  it('an FC that reboots faster than it is declared lost (a brownout) gets the fence again', async () => {
    // The companion declares the FC lost after 5 of its own 2 s heartbeat intervals: 10 s.
    const { pty, flight } = await companionOnPty(2_000);
    const first = await fcOn(pty);
    flight.keepFence(square(50, 30));
    await waitFor('the fence on the first FC', () => flight.fenceStatus()?.state === 'on-fc', 10_000);
    await new Promise((r) => setTimeout(r, 3_000)); // up a few seconds: its time since boot then goes back clearly
    const t0 = performance.now();
    await first.stop();
    const second = await fcOn(pty);
    // Its time since boot went back: before, nothing noticed (no lost, no up) and it flew without it.
    await waitFor('the fence on the rebooted FC', () => fcFence(second)?.enabled === true, 8_000).catch((e: Error) => { throw new Error(`${e.message}: ${JSON.stringify(flight.fenceStatus())} fc: ${JSON.stringify(second.lines().slice(-3))}`); });
    expect(performance.now() - t0).toBeLessThan(10_000); // before the link could have been declared lost
    expect(fcFence(second)).toMatchObject({ vertices: 4, altMaxM: 30, enabled: true });
    await waitFor('its report', () => flight.fenceStatus()?.uploads === 2, 3_000);
  }, 40_000);

  it('a new fence replaces the one on the FC', async () => {
    const { pty, flight } = await companionOnPty();
    const fc = await fcOn(pty);
    flight.keepFence(square(50, 30));
    await waitFor('the first fence', () => flight.fenceStatus()?.state === 'on-fc', 10_000);
    const wider: GeoFence = { polygon: [...square(80, null).polygon, localToGeo(origin, 0, -100)], altMaxM: 60 };
    flight.keepFence(wider);
    expect(flight.fenceStatus()?.state).toBe('uploading');
    await waitFor('the wider fence', () => fcFence(fc)?.vertices === 5 && fcFence(fc)?.altMaxM === 60, 10_000);
    await waitFor('on-fc', () => flight.fenceStatus()?.state === 'on-fc', 3_000);
    expect(flight.fenceStatus()).toMatchObject({ vertices: 5, altMaxM: 60, uploads: 2, failures: 0 });
  }, 30_000);

  it('a fence the FC refuses is reported with its MISSION_ACK and retried in the background', async () => {
    const { pty, flight } = await companionOnPty();
    await fcOn(pty, ['--fence-max', '3']);
    const reports: FenceKeeperStatus[] = [];
    flight.keepFence(square(50, null), (s) => reports.push(s));
    await waitFor('two failed attempts', () => (flight.fenceStatus()?.failures ?? 0) >= 2, 10_000);
    expect(flight.fenceStatus()).toMatchObject({ state: 'failed', reason: 'fence upload: MISSION_ACK NO_SPACE', uploads: 0 });
    expect(reports.slice(0, 2).map((r) => [r.state, r.reason])).toEqual([
      ['failed', 'fence upload: MISSION_ACK NO_SPACE'],
      ['failed', 'fence upload: MISSION_ACK NO_SPACE'],
    ]);
  }, 30_000);

  it('a fence the protocol cannot carry is reported once, with the reason, and never sent, even when an FC comes up', async () => {
    const { pty, flight } = await companionOnPty();
    const reports: FenceKeeperStatus[] = [];
    flight.keepFence({ polygon: square(50, null).polygon.slice(0, 2), altMaxM: null }, (s) => reports.push(s));
    const refused = { state: 'failed', reason: 'fence upload: a fence polygon needs 3..64 vertices, got 2', failures: 1 };
    expect(flight.fenceStatus()).toMatchObject(refused);
    await new Promise((r) => setTimeout(r, 600));
    expect(reports.length).toBe(1);
    // An FC coming up starts no upload of it (before, it was sent, refused, and retried for good).
    const fc = await fcOn(pty);
    await waitFor('the FC up', () => flight.state().ok, 10_000);
    await new Promise((r) => setTimeout(r, 1_500));
    expect(flight.fenceStatus()).toMatchObject(refused);
    expect(reports.length).toBe(1);
    expect(fcFence(fc)).toBeNull();
  }, 30_000);
});
