// The MAVLink flight driver keeps the device's geofence on the flight controller (hal/mavlink/
// fence-keeper.ts), against the simulated FC as its own process on a socat pty: asked before the FC
// is there, it uploads once the FC comes up; a replaced FC (process restarted, fence gone) gets it
// again without being asked; a refusal is reported with the FC's reason and retried in the background;
// keepFence itself never waits on the link. The FC's breach action (FENCE_ACTION / GF_ACTION) is read
// and reported after each upload, with a warning when it does nothing, or set when the device is
// configured to (hal.mavlink.fenceAction), and a breach then does what was set. Keep-out circles go up
// with the polygon, except one the drone is inside (uploaded once it is out) and those past the FC's
// item budget (the nearest kept), each reported in the status.

import { describe, it, type TestContext } from 'vitest';
import { common } from 'node-mavlink';
import { createMavlinkDevices } from '../../hal/mavlink/mavlink-devices.js';
import type { FenceKeeperOptions } from '../../hal/mavlink/fence-keeper.js';
import type { FenceKeeperStatus, GeoFence } from '../../hal/devices.js';
import { localToGeo } from '../../hal/geo.js';
import { defaultSimConfig } from '../../hal/sim/sim-config.js';
import { openSerial, type SerialTransport } from '../../firmware-bridge/transport.js';
import { startPtyPair, startSimFc, type PtyPair, type SimFcProcess } from '../../firmware-bridge/tools/processes.js';
import { companion, companionCompid, companionSysid, frameMsgid, inMemoryFc, waitFor } from '../bridge/companion.js';
import { encodeFrame } from '../../firmware-bridge/mavlink/codec.js';
import { missionTypeFence } from '../../firmware-bridge/mavlink/fence.js';
import { cliEntry } from '../support/run-cli.js';

const origin = defaultSimConfig.origin;
const square = (halfM: number, altMaxM: number | null): GeoFence => ({
  polygon: [localToGeo(origin, -halfM, -halfM), localToGeo(origin, -halfM, halfM), localToGeo(origin, halfM, halfM), localToGeo(origin, halfM, -halfM)],
  altMaxM,
});

type FenceLine = { fence: { vertices: number; polygonE7: [number, number][]; circles: [number, number, number][]; altMaxM: number | null; enabled: boolean } };
const fcFence = (fc: SimFcProcess): FenceLine['fence'] | null =>
  fc.lines().filter((l): l is FenceLine => typeof l === 'object' && l !== null && 'fence' in l).at(-1)?.fence ?? null;

const keepOut = (northM: number, eastM: number, radiusM: number) => ({ ...localToGeo(origin, northM, eastM), radiusM });
const circleE7 = (c: { latDeg: number; lonDeg: number; radiusM: number }): [number, number, number] => [Math.round(c.latDeg * 1e7), Math.round(c.lonDeg * 1e7), c.radiusM];

// The tests run at once, across the blocks too (describe.concurrent; vitest's maxConcurrency, 5): each
// has its own ptys, companion and FC processes and mostly waits on them. The brownout test runs on its
// own, last (a plain describe and it): it times an FC restart against the 10 s the link takes to be
// declared lost. Each test stops what it started when it ends (stopsAtEnd), not after every test,
// which would stop the others'.
type Cleanup = (() => Promise<void> | void)[];
function stopsAtEnd(onTestFinished: TestContext['onTestFinished']): Cleanup {
  const cleanup: Cleanup = [];
  onTestFinished(async () => {
    for (const c of cleanup.reverse()) await c();
  });
  return cleanup;
}

/** A companion on one end of a pty pair, with the MAVLink flight driver started; the FC comes later. */
async function companionOnPty(cleanup: Cleanup, heartbeatMs = 200, breachAction: NonNullable<FenceKeeperOptions['breachAction']> = 'leave'): Promise<{ pty: PtyPair; port: SerialTransport; flight: ReturnType<typeof createMavlinkDevices>['flight']; c: ReturnType<typeof companion> }> {
  const pty = await startPtyPair();
  cleanup.push(() => pty.stop());
  const port = await openSerial({ path: pty.a, baudRate: 921_600 });
  const c = companion(port, heartbeatMs);
  cleanup.push(async () => {
    c.vehicle.close();
    c.endpoint.stop();
    await port.close();
  });
  const flight = createMavlinkDevices(c.vehicle, undefined, undefined, { retryFirstMs: 200, retryMaxMs: 400, breachAction }).flight;
  await flight.start();
  cleanup.push(() => flight.stop());
  return { pty, port, flight, c };
}

async function fcOn(cleanup: Cleanup, pty: PtyPair, extra: string[] = [], autopilot: 'ardupilot' | 'px4' = 'ardupilot'): Promise<SimFcProcess> {
  const fc = await startSimFc(['--serial', pty.b, '--autopilot', autopilot, '--heartbeat-ms', '200', ...extra], cliEntry('sim-fc'));
  cleanup.push(() => fc.stop());
  return fc;
}

describe.concurrent('MAVLink flight driver: the fence kept on the flight controller', () => {
  it.concurrent('asked before the FC is up, uploads when it comes; a restarted FC that lost it gets it again unasked', async ({ expect, onTestFinished }) => {
    const cleanup = stopsAtEnd(onTestFinished);
    const { pty, flight } = await companionOnPty(cleanup);
    const reports: FenceKeeperStatus[] = [];
    const fence = square(50, 30);
    // keepFence is synchronous (it returns void, not a promise): it returns with the upload still to
    // do, the FC not even there yet. (A 20 ms bound on the call, here before, was a timed test that
    // failed once at load 17.)
    flight.keepFence(fence, (s) => reports.push(s));
    expect(flight.fenceStatus()).toMatchObject({ state: 'uploading', vertices: 4, altMaxM: 30, uploads: 0 });
    const first = await fcOn(cleanup, pty);
    await waitFor('the fence on the first FC', () => flight.fenceStatus()?.state === 'on-fc', 10_000);
    expect(fcFence(first)).toMatchObject({ vertices: 4, altMaxM: 30, enabled: true });
    flight.keepFence(fence); // the same fence on the next committed block: no second upload
    expect(flight.fenceStatus()?.state).toBe('on-fc');
    // The FC process ends (a reboot) and a fresh one, knowing no fence, takes the port.
    await first.stop();
    await waitFor('the FC declared lost', () => flight.fenceStatus()?.state === 'uploading', 5_000);
    const second = await fcOn(cleanup, pty);
    await waitFor('the fence on the second FC', () => fcFence(second)?.enabled === true, 10_000);
    expect(fcFence(second)).toMatchObject({ vertices: 4, altMaxM: 30, enabled: true });
    await waitFor('its report', () => flight.fenceStatus()?.uploads === 2, 3_000);
    expect(reports.map((r) => [r.state, r.reason])).toEqual([['on-fc', null], ['on-fc', null]]);
  }, 40_000);

  it.concurrent('a new fence replaces the one on the FC', async ({ expect, onTestFinished }) => {
    const cleanup = stopsAtEnd(onTestFinished);
    const { pty, flight } = await companionOnPty(cleanup);
    const fc = await fcOn(cleanup, pty);
    flight.keepFence(square(50, 30));
    await waitFor('the first fence', () => flight.fenceStatus()?.state === 'on-fc', 10_000);
    const wider: GeoFence = { polygon: [...square(80, null).polygon, localToGeo(origin, 0, -100)], altMaxM: 60 };
    flight.keepFence(wider);
    expect(flight.fenceStatus()?.state).toBe('uploading');
    await waitFor('the wider fence', () => fcFence(fc)?.vertices === 5 && fcFence(fc)?.altMaxM === 60, 10_000);
    await waitFor('on-fc', () => flight.fenceStatus()?.state === 'on-fc', 3_000);
    expect(flight.fenceStatus()).toMatchObject({ vertices: 5, altMaxM: 60, uploads: 2, failures: 0 });
  }, 30_000);

  it.concurrent('a fence the FC refuses is reported with its MISSION_ACK and retried in the background', async ({ expect, onTestFinished }) => {
    const cleanup = stopsAtEnd(onTestFinished);
    const { pty, flight } = await companionOnPty(cleanup);
    await fcOn(cleanup, pty, ['--fence-max', '3']);
    const reports: FenceKeeperStatus[] = [];
    flight.keepFence(square(50, null), (s) => reports.push(s));
    await waitFor('two failed attempts', () => (flight.fenceStatus()?.failures ?? 0) >= 2, 10_000);
    expect(flight.fenceStatus()).toMatchObject({ state: 'failed', reason: 'fence upload: MISSION_ACK NO_SPACE', uploads: 0 });
    expect(reports.slice(0, 2).map((r) => [r.state, r.reason])).toEqual([
      ['failed', 'fence upload: MISSION_ACK NO_SPACE'],
      ['failed', 'fence upload: MISSION_ACK NO_SPACE'],
    ]);
  }, 30_000);

  it.concurrent('a fence the protocol cannot carry is reported once, with the reason, and never sent, even when an FC comes up', async ({ expect, onTestFinished }) => {
    const cleanup = stopsAtEnd(onTestFinished);
    const { pty, flight } = await companionOnPty(cleanup);
    const reports: FenceKeeperStatus[] = [];
    flight.keepFence({ polygon: square(50, null).polygon.slice(0, 2), altMaxM: null }, (s) => reports.push(s));
    const refused = { state: 'failed', reason: 'fence upload: a fence polygon needs 3..64 vertices, got 2', failures: 1 };
    expect(flight.fenceStatus()).toMatchObject(refused);
    await new Promise((r) => setTimeout(r, 600));
    expect(reports.length).toBe(1);
    // An FC coming up starts no upload of it (before, it was sent, refused, and retried for good).
    const fc = await fcOn(cleanup, pty);
    await waitFor('the FC up', () => flight.state().ok, 10_000);
    await new Promise((r) => setTimeout(r, 1_500));
    expect(flight.fenceStatus()).toMatchObject(refused);
    expect(reports.length).toBe(1);
    expect(fcFence(fc)).toBeNull();
  }, 30_000);
});

const reportOnly = (param: string, value: number, meaning: string): string => `the flight controller holds the fence but ${param} is ${value} (${meaning}): a breach does nothing there; set hal.mavlink.fenceAction: return in device.yaml, or ${param} on the vehicle`;

describe.concurrent('MAVLink flight driver: the FC\'s breach action with the fence', () => {
  it.concurrent('left to the vehicle (the default), read after the upload: report only is reported with the warning (ArduPilot), and so are PX4\'s none and warning only', async ({ expect, onTestFinished }) => {
    const cleanup = stopsAtEnd(onTestFinished);
    const ap = await companionOnPty(cleanup);
    await fcOn(cleanup, ap.pty, ['--fence-action', 'report']);
    const reports: FenceKeeperStatus[] = [];
    ap.flight.keepFence(square(50, 30), (s) => reports.push(s));
    await waitFor('the fence on the FC', () => ap.flight.fenceStatus()?.state === 'on-fc', 10_000);
    expect(ap.flight.fenceStatus()).toMatchObject({ state: 'on-fc', reason: null, breachAction: 'report', warning: reportOnly('FENCE_ACTION', 0, 'report only') });
    expect(reports.map((r) => [r.state, r.breachAction])).toEqual([['on-fc', 'report']]);
    for (const [start, value, meaning] of [['none', 0, 'none'], ['report', 1, 'warning only']] as const) {
      const px4 = await companionOnPty(cleanup);
      await fcOn(cleanup, px4.pty, ['--fence-action', start], 'px4');
      px4.flight.keepFence(square(50, 30));
      await waitFor('the fence on the PX4 FC', () => px4.flight.fenceStatus()?.state === 'on-fc', 10_000);
      expect(px4.flight.fenceStatus()).toMatchObject({ state: 'on-fc', reason: null, breachAction: start, warning: reportOnly('GF_ACTION', value, meaning) });
    }
    // An FC whose action does something: no warning.
    const rtl = await companionOnPty(cleanup);
    await fcOn(cleanup, rtl.pty, [], 'px4');
    rtl.flight.keepFence(square(50, 30));
    await waitFor('the fence on the PX4 FC', () => rtl.flight.fenceStatus()?.state === 'on-fc', 10_000);
    expect(rtl.flight.fenceStatus()).toMatchObject({ breachAction: 'return', warning: null });
  }, 40_000);

  it.concurrent('fenceAction: return on a PX4 FC with warning only: GF_ACTION is set to 3 after the upload, no warning', async ({ expect, onTestFinished }) => {
    const cleanup = stopsAtEnd(onTestFinished);
    const { pty, flight, c } = await companionOnPty(cleanup, 200, 'return');
    await fcOn(cleanup, pty, ['--fence-action', 'report'], 'px4');
    flight.keepFence(square(50, 30));
    await waitFor('the fence on the FC', () => flight.fenceStatus()?.state === 'on-fc', 10_000);
    expect(flight.fenceStatus()).toMatchObject({ state: 'on-fc', breachAction: 'return', warning: null, reason: null });
    expect(await c.vehicle.params.get('GF_ACTION', 'bytewise')).toEqual({ ok: true, value: { value: 3, type: 6 } });
  }, 30_000);

  it.concurrent('fenceAction: return on an ArduPilot FC with report only: FENCE_ACTION is set to 1, and flown past the fence it returns; a rebooted FC gets it again', async ({ expect, onTestFinished }) => {
    const cleanup = stopsAtEnd(onTestFinished);
    const { pty, flight, c } = await companionOnPty(cleanup, 200, 'return');
    const fc = await fcOn(cleanup, pty, ['--fence-action', 'report', '--speed', '4', '--seed', '4']);
    const texts: string[] = [];
    c.endpoint.onMessage(({ msg }) => {
      if (msg instanceof common.StatusText) texts.push(msg.text);
    });
    flight.keepFence(square(40, 30));
    await waitFor('the fence on the FC', () => flight.fenceStatus()?.state === 'on-fc', 10_000);
    expect(flight.fenceStatus()).toMatchObject({ state: 'on-fc', breachAction: 'return', warning: null, reason: null, uploads: 1 });
    expect(await c.vehicle.params.get('FENCE_ACTION')).toEqual({ ok: true, value: { value: 1, type: 2 } });
    const v = c.vehicle;
    expect((await v.arm()).ok).toBe(true);
    expect((await v.takeoff(8)).ok).toBe(true);
    await waitFor('takeoff altitude', () => (v.telemetry.position?.relativeAlt ?? 0) > 7000, 10_000);
    expect((await v.streamPosition({ ...localToGeo(origin, 70, 0), relAltM: 8 })).ok).toBe(true);
    await waitFor('RTL after the breach', () => v.mode() === 'return', 15_000).catch((e: Error) => {
      throw new Error(`${e.message}: mode ${v.mode()}, texts ${JSON.stringify(texts)}`);
    });
    expect(texts).toContain('failsafe: fence breached (boundary), action return');
    // The FC process restarts with report only again (a replaced FC): set again with the upload.
    await fc.stop();
    await waitFor('the FC declared lost', () => flight.fenceStatus()?.state === 'uploading', 5_000);
    expect(flight.fenceStatus()?.breachAction).toBeNull();
    await fcOn(cleanup, pty, ['--fence-action', 'report']);
    await waitFor('the fence on the new FC', () => flight.fenceStatus()?.uploads === 2, 10_000);
    expect(flight.fenceStatus()).toMatchObject({ state: 'on-fc', breachAction: 'return', warning: null });
    expect(await c.vehicle.params.get('FENCE_ACTION')).toEqual({ ok: true, value: { value: 1, type: 2 } });
  }, 60_000);
});

/** The parameter id of a MAVLink 2 PARAM_REQUEST_READ (20) or PARAM_SET (23) frame, else null. */
function paramRequestId(frame: Uint8Array): { msgid: number; id: string } | null {
  const msgid = frameMsgid(frame);
  const at = msgid === 20 ? 4 : msgid === 23 ? 6 : -1; // payload offset of param_id (fields ordered by size)
  if (at < 0) return null;
  const len = frame[1] ?? 0;
  const payload = frame.subarray(10, 10 + len);
  return { msgid, id: Buffer.from(payload.subarray(at, at + 16)).toString('latin1').replace(/\0+$/, '') };
}

describe.concurrent('MAVLink flight driver: a breach action read or set that gets no answer (the simulated FC in this process, requests dropped)', () => {
  /** The companion and FC joined in memory; `drop` decides which of the companion's parameter requests are lost. */
  async function rig(cleanup: Cleanup, breachAction: NonNullable<FenceKeeperOptions['breachAction']>, drop: (r: { msgid: number; id: string }) => boolean): Promise<ReturnType<typeof createMavlinkDevices>['flight']> {
    const c = inMemoryFc({
      fc: { fenceAction: 'report' },
      vehicle: { command: { timeoutMs: 300, retries: 1 } },
      fromCompanion: (f, pass) => {
        const r = paramRequestId(f);
        if (r === null || !drop(r)) pass(f);
      },
    });
    const flight = createMavlinkDevices(c.vehicle, undefined, undefined, { retryFirstMs: 200, retryMaxMs: 400, breachAction }).flight;
    await flight.start();
    cleanup.push(async () => {
      await flight.stop();
      c.stop();
    });
    return flight;
  }

  it.concurrent('a read that fails leaves the fence on-fc, the action null with the reason; the read alone is retried', async ({ expect, onTestFinished }) => {
    const cleanup = stopsAtEnd(onTestFinished);
    let lose = true;
    const flight = await rig(cleanup, 'leave', (r) => lose && r.msgid === 20 && r.id === 'FENCE_ACTION');
    flight.keepFence(square(50, 30));
    await waitFor('the fence on the FC', () => flight.fenceStatus()?.state === 'on-fc', 10_000);
    expect(flight.fenceStatus()).toMatchObject({ state: 'on-fc', uploads: 1, breachAction: null, warning: null, reason: 'fence breach action not read: PARAM_REQUEST_READ FENCE_ACTION: no PARAM_VALUE after 2 attempts of 300 ms' });
    lose = false;
    await waitFor('the action read again', () => flight.fenceStatus()?.breachAction !== null, 5_000);
    expect(flight.fenceStatus()).toMatchObject({ state: 'on-fc', uploads: 1, breachAction: 'report', warning: reportOnly('FENCE_ACTION', 0, 'report only'), reason: null });
  }, 20_000);

  it.concurrent('a set that fails fails the attempt (the fence would not do what was asked), retried from the upload with the backoff', async ({ expect, onTestFinished }) => {
    const cleanup = stopsAtEnd(onTestFinished);
    let lose = true;
    const flight = await rig(cleanup, 'land', (r) => lose && r.msgid === 23 && r.id === 'FENCE_ACTION');
    const reports: FenceKeeperStatus[] = [];
    flight.keepFence(square(50, 30), (s) => reports.push(s));
    await waitFor('a failed attempt', () => flight.fenceStatus()?.state === 'failed', 10_000);
    expect(flight.fenceStatus()).toMatchObject({ state: 'failed', breachAction: null, reason: 'fence breach action: PARAM_SET FENCE_ACTION: no PARAM_VALUE after 2 attempts of 300 ms' });
    lose = false;
    await waitFor('on-fc', () => flight.fenceStatus()?.state === 'on-fc', 10_000);
    expect(flight.fenceStatus()).toMatchObject({ state: 'on-fc', breachAction: 'land', warning: null, reason: null });
    expect(reports.filter((r) => r.state === 'on-fc').length).toBe(1);
    expect(reports[0]?.state).toBe('failed');
  }, 20_000);
});

describe.concurrent('MAVLink flight driver: the committed keep-outs on the flight controller', () => {
  it.concurrent('a keep-out round the drone is left out (it would breach at once) and goes up once the drone has flown out of it; the same fence again uploads nothing', async ({ expect, onTestFinished }) => {
    const cleanup = stopsAtEnd(onTestFinished);
    const { pty, flight, c } = await companionOnPty(cleanup);
    const fc = await fcOn(cleanup, pty, ['--speed', '4', '--seed', '5']);
    const v = c.vehicle;
    await waitFor('the FC\'s position', () => v.telemetry.position !== null, 10_000);
    const around = keepOut(0, 0, 15); // the drone stands at the origin
    const ahead = keepOut(40, 40, 10);
    const fence: GeoFence = { ...square(80, 30), keepOuts: [around, ahead] };
    const reports: FenceKeeperStatus[] = [];
    flight.keepFence(fence, (s) => reports.push(s));
    await waitFor('the fence on the FC', () => flight.fenceStatus()?.state === 'on-fc', 10_000);
    const inside = '1 keep-out left out: the drone is inside it (uploaded once it is out)';
    expect(flight.fenceStatus()).toMatchObject({ state: 'on-fc', vertices: 4, keepOuts: 1, keepOutsLeftOut: 1, leftOutReason: inside, uploads: 1 });
    await waitFor('the FC to print its fence', () => fcFence(fc)?.enabled === true, 3_000);
    expect(fcFence(fc)?.circles).toEqual([circleE7(ahead)]);
    // It arms and flies (a circle round it on the FC would have refused the arming, or breached at once).
    expect((await v.arm()).ok).toBe(true);
    expect((await v.takeoff(8)).ok).toBe(true);
    await waitFor('takeoff altitude', () => (v.telemetry.position?.relativeAlt ?? 0) > 7000, 10_000);
    flight.keepFence({ ...fence, keepOuts: [...fence.keepOuts!] }); // the next block, the same fence: nothing
    expect(flight.fenceStatus()?.uploads).toBe(1);
    expect((await v.streamPosition({ ...localToGeo(origin, -40, 0), relAltM: 8 })).ok).toBe(true);
    await waitFor('both keep-outs on the FC', () => flight.fenceStatus()?.keepOuts === 2 && flight.fenceStatus()?.state === 'on-fc', 20_000);
    expect(flight.fenceStatus()).toMatchObject({ keepOuts: 2, keepOutsLeftOut: 0, leftOutReason: null, uploads: 2, failures: 0 });
    expect(v.mode()).toBe('guided'); // out of it before it went up: no breach
    expect(fcFence(fc)?.circles).toEqual([circleE7(around), circleE7(ahead)]);
    expect(reports.map((r) => [r.keepOuts, r.keepOutsLeftOut])).toEqual([[1, 1], [2, 0]]);
    expect((await v.land()).ok).toBe(true);
  }, 40_000);

  it.concurrent('more keep-outs than the FC\'s 64 items leave room for: the polygon and the nearest ones go up, the rest are reported left out', async ({ expect, onTestFinished }) => {
    const cleanup = stopsAtEnd(onTestFinished);
    const { pty, flight, c } = await companionOnPty(cleanup);
    const fc = await fcOn(cleanup, pty);
    await waitFor('the FC\'s position', () => c.vehicle.telemetry.position !== null, 10_000);
    // 60 vertices leave room for 4 of the 6 keep-outs, given farthest first: the 4 nearest the drone go up.
    const polygon = Array.from({ length: 60 }, (_, i) => localToGeo(origin, 200 * Math.cos((2 * Math.PI * i) / 60), 200 * Math.sin((2 * Math.PI * i) / 60)));
    const circles = [120, 100, 20, 80, 40, 60].map((n) => keepOut(n, 0, 5));
    flight.keepFence({ polygon, altMaxM: 40, keepOuts: circles }, () => undefined);
    await waitFor('the fence on the FC', () => flight.fenceStatus()?.state === 'on-fc', 15_000);
    expect(flight.fenceStatus()).toMatchObject({ vertices: 60, keepOuts: 4, keepOutsLeftOut: 2, leftOutReason: '2 keep-outs left out: the flight controller is given 64 fence items and the polygon takes 60 (the 4 nearest the drone kept)' });
    await waitFor('the FC to print its fence', () => fcFence(fc)?.enabled === true, 3_000);
    // In the order given, the two farthest (120 m and 100 m north) left out.
    expect(fcFence(fc)).toMatchObject({ vertices: 60, circles: [circles[2], circles[3], circles[4], circles[5]].map((x) => circleE7(x!)) });
  }, 30_000);

  it.concurrent('an FC that stores fewer fence items answers NO_SPACE: the keep-outs are halved until the fence fits, and the count it took is kept while the FC stays up', async ({ expect, onTestFinished }) => {
    const cleanup = stopsAtEnd(onTestFinished);
    const { pty, flight, c } = await companionOnPty(cleanup);
    const fc = await fcOn(cleanup, pty, ['--fence-max', '8']);
    await waitFor('the FC\'s position', () => c.vehicle.telemetry.position !== null, 10_000);
    // 4 vertices + 6 keep-outs = 10 items: NO_SPACE; 4 + 3 = 7 fit. The 3 nearest the drone go up.
    const circles = [120, 100, 20, 80, 40, 60].map((n) => keepOut(n, 0, 5));
    flight.keepFence({ ...square(200, 40), keepOuts: circles }, () => undefined);
    await waitFor('the fence on the FC', () => flight.fenceStatus()?.state === 'on-fc', 15_000);
    expect(flight.fenceStatus()).toMatchObject({
      vertices: 4,
      keepOuts: 3,
      keepOutsLeftOut: 3,
      uploads: 1,
      failures: 1,
      leftOutReason: '3 keep-outs left out: the flight controller answered NO_SPACE to 10 fence items, so it is given 7 and the polygon takes 4 (the 3 nearest the drone kept)',
    });
    await waitFor('the FC to print its fence', () => fcFence(fc)?.enabled === true, 3_000);
    expect(fcFence(fc)).toMatchObject({ vertices: 4, circles: [circles[2], circles[4], circles[5]].map((x) => circleE7(x!)) });
    // A new fence with the same count of items goes up at the size learned: no second NO_SPACE.
    flight.keepFence({ ...square(210, 40), keepOuts: circles }, () => undefined);
    await waitFor('the new fence on the FC', () => flight.fenceStatus()?.state === 'on-fc' && flight.fenceStatus()?.uploads === 2, 15_000);
    expect(flight.fenceStatus()).toMatchObject({ keepOuts: 3, failures: 1 });
  }, 30_000);
});

describe.concurrent('MAVLink flight driver: an FC that keeps asking for the same fence item (the simulated FC in this process)', () => {
  it.concurrent('the upload ends with the reason instead of keeping the keeper uploading, and is retried with the backoff like any failure', async ({ expect, onTestFinished }) => {
    const cleanup = stopsAtEnd(onTestFinished);
    // While `stuck`, the FC never sees the fence upload: each MISSION_COUNT (44) or MISSION_ITEM_INT
    // (73) is answered here, as the FC, with a request for item 0 again. Before, only silence ended an
    // upload: the keeper stayed 'uploading' for good. (`toCompanion`: the FC's way to the companion.)
    let stuck = true;
    let counts = 0;
    let toCompanion: ((f: Uint8Array) => void) | null = null;
    let seq = 0;
    const c = inMemoryFc({
      fromFc: (f, pass) => {
        toCompanion = pass;
        pass(f);
      },
      fromCompanion: (f, pass) => {
        const id = frameMsgid(f);
        if (id === 44) counts++;
        if (!stuck || (id !== 44 && id !== 73)) return pass(f);
        const again = Object.assign(new common.MissionRequestInt(), { targetSystem: companionSysid, targetComponent: companionCompid, seq: 0, missionType: missionTypeFence });
        toCompanion?.(encodeFrame(again, { sysid: 1, compid: 1, seq: 200 + (seq++ % 50) }));
      },
    });
    const flight = createMavlinkDevices(c.vehicle, undefined, undefined, { retryFirstMs: 200, retryMaxMs: 400, breachAction: 'leave' }).flight;
    await flight.start();
    cleanup.push(async () => {
      await flight.stop();
      c.stop();
    });
    const reports: FenceKeeperStatus[] = [];
    flight.keepFence(square(50, 30), (s) => reports.push(s));
    await waitFor('a failed attempt', () => flight.fenceStatus()?.state === 'failed', 10_000);
    expect(flight.fenceStatus()).toMatchObject({
      state: 'failed',
      uploads: 0,
      failures: 1,
      reason: 'fence upload: the vehicle asked for item 0 7 times (at most 6: 1 + retries 5), so it is not taking it; cancelled with MISSION_ACK OPERATION_CANCELLED',
    });
    await waitFor('the upload tried again', () => counts >= 2, 5_000);
    stuck = false;
    await waitFor('the fence on the FC', () => flight.fenceStatus()?.state === 'on-fc', 10_000);
    expect(flight.fenceStatus()).toMatchObject({ state: 'on-fc', vertices: 4, uploads: 1, reason: null });
    expect(reports[0]?.state).toBe('failed');
  }, 30_000);
});

// After the blocks above, on its own (a plain describe and it): it times an FC restart against the
// 10 s the link takes to be declared lost, which a machine busy with the others' FC processes stretches.
describe('MAVLink flight driver: the fence kept on the flight controller, through a brownout', () => {
  it('an FC that reboots faster than it is declared lost (a brownout) gets the fence again', async ({ expect, onTestFinished }) => {
    const cleanup = stopsAtEnd(onTestFinished);
    // The companion declares the FC lost after 5 of its own 2 s heartbeat intervals: 10 s.
    const { pty, flight } = await companionOnPty(cleanup, 2_000);
    const first = await fcOn(cleanup, pty);
    flight.keepFence(square(50, 30));
    await waitFor('the fence on the first FC', () => flight.fenceStatus()?.state === 'on-fc', 10_000);
    await new Promise((r) => setTimeout(r, 3_000)); // up a few seconds: its time since boot then goes back clearly
    const t0 = performance.now();
    await first.stop();
    const second = await fcOn(cleanup, pty);
    // Its time since boot went back: before, nothing noticed (no lost, no up) and it flew without it.
    await waitFor('the fence on the rebooted FC', () => fcFence(second)?.enabled === true, 8_000).catch((e: Error) => { throw new Error(`${e.message}: ${JSON.stringify(flight.fenceStatus())} fc: ${JSON.stringify(second.lines().slice(-3))}`); });
    expect(performance.now() - t0).toBeLessThan(10_000); // before the link could have been declared lost
    expect(fcFence(second)).toMatchObject({ vertices: 4, altMaxM: 30, enabled: true });
    await waitFor('its report', () => flight.fenceStatus()?.uploads === 2, 3_000);
  }, 40_000);
});
