// Geofence upload (mission protocol, mission_type FENCE) to the simulated flight controller, its own
// process on a socat pty: the polygon arrives whole and in order with its ceiling and the switch on;
// a fence longer than the FC stores is refused with MISSION_ACK NO_SPACE; one the protocol cannot
// carry is refused before a byte is sent; lost requests are retried (scripted in memory, and through a
// relay losing 10 % of bytes); and the FC, flown outside the fence, returns to launch on its own. Its
// breach action is a parameter (ArduPilot FENCE_ACTION, PX4 GF_ACTION) read and set per autopilot; an
// FC whose action is "report only" flies on through its fence. Keep-out circles (the committed hazards)
// go up after the polygon as MAV_CMD_NAV_FENCE_CIRCLE_EXCLUSION: the FC holds them, refuses to arm
// inside one, and flown into one it breaches and returns.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { common } from 'node-mavlink';
import { localToGeo } from '../../hal/geo.js';
import { defaultSimConfig } from '../../hal/sim/sim-config.js';
import { MavlinkEndpoint } from '../../firmware-bridge/mavlink/endpoint.js';
import { uploadFence } from '../../firmware-bridge/mavlink/mission-upload.js';
import { cmdFenceCircleExclusion, cmdFenceVertexInclusion, describeFenceAction, missionTypeFence, type Fence } from '../../firmware-bridge/mavlink/fence.js';
import { mavParamType } from '../../firmware-bridge/mavlink/params.js';
import { SimFence } from '../../firmware-bridge/sim-fc/sim-fence.js';
import { openSerial, type ByteTransport } from '../../firmware-bridge/transport.js';
import { startPtyPair, startSimFc, type PtyPair, type SimFcProcess } from '../../firmware-bridge/tools/processes.js';
import type { MavlinkVehicle } from '../../firmware-bridge/mavlink/vehicle.js';
import { companion, simFcRig, waitFor, type SimFcRig } from './companion.js';
import { startRelay, type Relay } from './lossy-relay.js';
import { memoryPair } from './memory-pair.js';
import { cliEntry } from '../support/run-cli.js';

// The describe blocks run at once (describe.concurrent; vitest's maxConcurrency, 5, at a time): each has
// its own FC (a process on its own ptys, or in memory) and spends most of its time waiting on it. The
// tests inside one block build on each other (upload, then arm, then fly) and stay in order
// (it.sequential).

const origin = defaultSimConfig.origin;
/** A fence of `n` vertices on a circle of `radiusM` round the origin, counter-clockwise from north. */
function ring(n: number, radiusM: number, altMaxM: number | null): Fence {
  const polygon = Array.from({ length: n }, (_, i) => localToGeo(origin, radiusM * Math.cos((2 * Math.PI * i) / n), radiusM * Math.sin((2 * Math.PI * i) / n)));
  return { polygon, altMaxM };
}
const e7 = (f: Fence): [number, number][] => f.polygon.map((v) => [Math.round(v.latDeg * 1e7), Math.round(v.lonDeg * 1e7)]);

interface FenceLine {
  readonly fence: { vertices: number; polygonE7: [number, number][]; circles: [number, number, number][]; altMaxM: number | null; enabled: boolean; breached: string | null; breachCount: number };
}
/** A keep-out circle `radiusM` round the point `northM`, `eastM` from the origin. */
const keepOut = (northM: number, eastM: number, radiusM: number) => ({ ...localToGeo(origin, northM, eastM), radiusM });
const circlesE7 = (f: Fence): [number, number, number][] => (f.keepOuts ?? []).map((c) => [Math.round(c.latDeg * 1e7), Math.round(c.lonDeg * 1e7), c.radiusM]);
/** The newest fence state the FC process printed. */
function fcFence(fc: SimFcProcess): FenceLine['fence'] | null {
  const lines = fc.lines().filter((l): l is FenceLine => typeof l === 'object' && l !== null && 'fence' in l);
  return lines.at(-1)?.fence ?? null;
}

describe.concurrent('fence upload to the simulated FC over a pty (ArduPilot), and its enforcement', () => {
  let rig: SimFcRig;
  let vehicle: MavlinkVehicle;
  const texts: string[] = [];
  let fenceStatus: common.FenceStatus | null = null;
  const fence = ring(6, 40, 25);

  beforeAll(async () => {
    rig = await simFcRig(['--autopilot', 'ardupilot', '--heartbeat-ms', '200', '--seed', '7', '--speed', '4'], 200);
    ({ vehicle } = rig);
    rig.endpoint.onMessage(({ msg }) => {
      if (msg instanceof common.StatusText) texts.push(msg.text);
      if (msg instanceof common.FenceStatus) fenceStatus = msg;
    });
    await waitFor('FC heartbeat', () => vehicle.connected(), 5000);
  }, 30_000);

  afterAll(() => rig?.stop());

  it.sequential('uploads a 6-vertex polygon with a 25 m ceiling: the FC holds the vertices in order, the ceiling, and the fence switched on', async () => {
    const r = await vehicle.uploadFence(fence);
    expect(r.ok ? r.value.items : r.error.message).toBe(6);
    await waitFor('the FC to print its fence', () => fcFence(rig.fc)?.enabled === true, 3000);
    expect(fcFence(rig.fc)).toMatchObject({ vertices: 6, polygonE7: e7(fence), altMaxM: 25, enabled: true, breached: null, breachCount: 0 });
    // ArduPilot streams FENCE_STATUS while its fence is on, and SYS_STATUS names the geofence healthy.
    await waitFor('FENCE_STATUS', () => fenceStatus !== null, 3000);
    const geofence = common.MavSysStatusSensor.GEOFENCE;
    await waitFor('SYS_STATUS with the geofence enabled', () => ((vehicle.telemetry.sysStatus?.onboardControlSensorsEnabled ?? 0) & geofence) !== 0, 3000);
    expect((vehicle.telemetry.sysStatus?.onboardControlSensorsHealth ?? 0) & geofence).toBe(geofence);
  });

  it.sequential('refuses to arm outside its fence (PreArm: the drone would breach it at take-off)', async () => {
    const away: Fence = { polygon: ring(4, 20, null).polygon.map((v) => ({ latDeg: v.latDeg + 0.001, lonDeg: v.lonDeg })), altMaxM: 25 }; // ~110 m north
    expect((await vehicle.uploadFence(away)).ok).toBe(true);
    const arm = await vehicle.arm();
    // The ACK says only DENIED; the refusal carries what the FC said just before it.
    expect(arm.ok ? 'armed' : arm.error).toEqual({ code: 'rejected', message: 'COMPONENT_ARM_DISARM: DENIED (the flight controller said "PreArm: vehicle outside fence")' });
    await waitFor('the PreArm text', () => texts.includes('PreArm: vehicle outside fence'), 10_000);
    const back = await vehicle.uploadFence(fence);
    expect(back.ok ? back.value.items : back.error.message).toBe(6);
  });

  it.sequential('flown outside the fence, the FC switches to RTL on its own, says so, and reports the breach', async () => {
    expect((await vehicle.arm()).ok).toBe(true);
    const t = await vehicle.takeoff(8);
    expect(t.ok, t.ok ? '' : t.error.message).toBe(true);
    await waitFor('takeoff altitude', () => (vehicle.telemetry.position?.relativeAlt ?? 0) > 7000, 10_000);
    // 70 m north: past the 40 m ring, streamed as guided setpoints. The FC's fence overrides them.
    const out = localToGeo(origin, 70, 0);
    const g = await vehicle.streamPosition({ ...out, relAltM: 8 });
    expect(g.ok, g.ok ? '' : g.error.message).toBe(true);
    const diag = (): string => JSON.stringify({ mode: vehicle.mode(), texts, fence: fcFence(rig.fc), pos: vehicle.telemetry.position && [vehicle.telemetry.position.lat, vehicle.telemetry.position.lon, vehicle.telemetry.position.relativeAlt] });
    await waitFor('RTL after the breach', () => vehicle.mode() === 'return', 15_000).catch((e: unknown) => {
      throw new Error(`${String(e)}: ${diag()}`);
    });
    expect(texts).toContain('failsafe: fence breached (boundary), action return');
    expect(vehicle.failsafe()).toBe(true);
    await waitFor('FENCE_STATUS breach', () => fenceStatus?.breachStatus === 1, 3000);
    expect(fenceStatus).toMatchObject({ breachStatus: 1, breachCount: 1, breachType: common.FenceBreach.BOUNDARY });
    // It turned back well short of the 70 m it was sent to.
    const northM = (((vehicle.telemetry.position?.lat ?? 0) / 1e7 - origin.latDeg) * Math.PI * 6_371_000) / 180;
    expect(northM).toBeLessThan(55);
    await waitFor('back inside: the breach clears', () => fcFence(rig.fc)?.breached === null && fcFence(rig.fc)?.breachCount === 1, 15_000);
  }, 40_000);
});

describe.concurrent('keep-out circles on the simulated FC over a pty (ArduPilot): MAV_CMD_NAV_FENCE_CIRCLE_EXCLUSION after the polygon', () => {
  let rig: SimFcRig;
  const texts: string[] = [];
  let fenceStatus: common.FenceStatus | null = null;
  // A 60 m hexagon with two keep-outs: 10 m round 30 m north, 8 m round 30 m south.
  const fence: Fence = { ...ring(6, 60, 25), keepOuts: [keepOut(30, 0, 10), keepOut(-30, 0, 8)] };

  beforeAll(async () => {
    rig = await simFcRig(['--autopilot', 'ardupilot', '--heartbeat-ms', '200', '--seed', '9', '--speed', '4'], 200);
    rig.endpoint.onMessage(({ msg }) => {
      if (msg instanceof common.StatusText) texts.push(msg.text);
      if (msg instanceof common.FenceStatus) fenceStatus = msg;
    });
    await waitFor('FC heartbeat', () => rig.vehicle.connected(), 5000);
  }, 30_000);

  afterAll(() => rig?.stop());

  it.sequential('the upload carries the 6 vertices and then the 2 circles; the FC holds both, in order, with their radii', async () => {
    const r = await rig.vehicle.uploadFence(fence);
    expect(r.ok ? r.value.items : r.error.message).toBe(8);
    await waitFor('the FC to print its fence', () => fcFence(rig.fc)?.enabled === true, 3000);
    expect(fcFence(rig.fc)).toMatchObject({ vertices: 6, polygonE7: e7(fence), circles: circlesE7(fence), altMaxM: 25, enabled: true, breached: null });
  });

  it.sequential('refuses to arm inside a keep-out (the drone would breach it at take-off)', async () => {
    const around: Fence = { ...fence, keepOuts: [keepOut(0, 0, 5)] };
    expect((await rig.vehicle.uploadFence(around)).ok).toBe(true);
    const arm = await rig.vehicle.arm();
    expect(arm.ok ? 'armed' : arm.error).toEqual({ code: 'rejected', message: 'COMPONENT_ARM_DISARM: DENIED (the flight controller said "PreArm: vehicle inside a keep-out")' });
    await waitFor('the PreArm text', () => texts.includes('PreArm: vehicle inside a keep-out'), 10_000);
    const back = await rig.vehicle.uploadFence(fence);
    expect(back.ok ? back.value.items : back.error.message).toBe(8);
  });

  it.sequential('flown through a keep-out, the FC breaches (boundary), returns on its own, and never gets through it', async () => {
    const v = rig.vehicle;
    expect((await v.arm()).ok).toBe(true);
    expect((await v.takeoff(8)).ok).toBe(true);
    await waitFor('takeoff altitude', () => (v.telemetry.position?.relativeAlt ?? 0) > 7000, 10_000);
    // To 45 m north, through the north keep-out (20..40 m north) and inside the polygon all the way.
    expect((await v.streamPosition({ ...localToGeo(origin, 45, 0), relAltM: 8 })).ok).toBe(true);
    let northMax = 0;
    /** North now, metres, the farthest north kept. */
    const track = (): number => {
      const n = northOf(v);
      northMax = Math.max(northMax, n);
      return n;
    };
    await waitFor('RTL after the breach', () => track() >= 0 && v.mode() === 'return', 15_000).catch((e: unknown) => {
      throw new Error(`${String(e)}: ${JSON.stringify({ mode: v.mode(), texts, fence: fcFence(rig.fc) })}`);
    });
    expect(texts).toContain('failsafe: fence breached (boundary), action return');
    await waitFor('FENCE_STATUS breach', () => fenceStatus?.breachStatus === 1, 3000);
    expect(fenceStatus).toMatchObject({ breachType: common.FenceBreach.BOUNDARY });
    await waitFor('heading home', () => track() < northMax - 3, 10_000);
    console.log(`keep-out breach: farthest north ${northMax.toFixed(1)} m (the circle spans 20..40 m north)`);
    // It entered the circle (the breach) and turned back before its far edge at 40 m.
    expect(northMax).toBeGreaterThan(20);
    expect(northMax).toBeLessThan(38);
    await waitFor('out of it again: the breach clears', () => fcFence(rig.fc)?.breached === null, 15_000);
  }, 40_000);
});

describe.concurrent('a fence the FC cannot store, or the protocol cannot carry', () => {
  let rig: SimFcRig;

  beforeAll(async () => {
    rig = await simFcRig(['--autopilot', 'px4', '--heartbeat-ms', '200', '--fence-max', '5'], 200);
    await waitFor('FC heartbeat', () => rig.vehicle.connected(), 5000);
  }, 30_000);

  afterAll(() => rig?.stop());

  it.sequential('a fence of more vertices than the FC stores: its MISSION_ACK NO_SPACE is reported, and it keeps no fence', async () => {
    const r = await rig.vehicle.uploadFence(ring(6, 40, null));
    expect(r.ok ? 'accepted' : r.error).toEqual({ code: 'rejected', message: 'fence upload: MISSION_ACK NO_SPACE' });
    await new Promise((res) => setTimeout(res, 300));
    expect(fcFence(rig.fc)).toBeNull();
    const five = await rig.vehicle.uploadFence(ring(5, 40, null));
    expect(five.ok ? five.value.items : five.error.message).toBe(5);
  });

  it.sequential('refuses, before sending anything, a polygon the protocol cannot carry, naming what is wrong', async () => {
    const before = rig.endpoint.counters().framesSent;
    const bowtie: Fence = { polygon: [localToGeo(origin, 0, 0), localToGeo(origin, 20, 20), localToGeo(origin, 20, 0), localToGeo(origin, 0, 20)], altMaxM: null };
    const cases: [Fence, string][] = [
      [{ polygon: bowtie.polygon.slice(0, 2), altMaxM: null }, 'fence upload: a fence polygon needs 3..64 vertices, got 2'],
      [ring(65, 100, null), 'fence upload: a fence polygon needs 3..64 vertices, got 65'],
      [bowtie, 'fence upload: fence edges 0 and 2 cross (the protocol needs a polygon that does not intersect itself)'],
      [{ polygon: [localToGeo(origin, 0, 0), localToGeo(origin, 10, 0), localToGeo(origin, 20, 0)], altMaxM: null }, 'fence upload: the fence polygon encloses no area (its vertices are on one line)'],
      [{ polygon: [{ latDeg: 91, lonDeg: 8 }, ...ring(3, 10, null).polygon], altMaxM: null }, 'fence upload: fence vertex 0: latitude 91 is not in -90..90'],
      [{ ...ring(4, 10, null), altMaxM: Number.NaN }, 'fence upload: fence ceiling NaN m is not in 1..10000 m'],
      [{ ...ring(60, 100, null), keepOuts: [1, 2, 3, 4, 5].map((k) => keepOut(10 * k, 0, 3)) }, 'fence upload: a fence of 65 items (60 vertices + 5 keep-out circles) is more than the 64 the flight controller is given'],
      [{ ...ring(4, 10, null), keepOuts: [keepOut(0, 0, 0)] }, 'fence upload: keep-out circle 0: radius 0 m is not in 0.1..10000 m'],
      [{ ...ring(4, 10, null), keepOuts: [{ latDeg: 47, lonDeg: 200, radiusM: 5 }] }, 'fence upload: keep-out circle 0: longitude 200 is not in -180..180'],
    ];
    for (const [f, message] of cases) {
      const r = await rig.vehicle.uploadFence(f);
      expect(r.ok ? 'accepted' : r.error).toEqual({ code: 'rejected', message });
    }
    // Only heartbeats went out meanwhile (none of it reached the wire as MISSION_COUNT).
    expect(rig.endpoint.counters().framesSent - before).toBeLessThanOrEqual(2);
  });
});

describe.concurrent('fence upload when the vehicle\'s requests are lost (scripted FC in memory)', () => {
  it.sequential('resends the last item after a silence, and the FC gets every vertex once in order', async () => {
    const [a, b] = memoryPair();
    const hb = () => ({ type: 2, autopilot: 3, baseMode: 0, customMode: 0, systemStatus: 3 });
    const ours = new MavlinkEndpoint({ transport: a, sysid: 245, compid: 191, heartbeat: hb });
    const fc = new MavlinkEndpoint({ transport: b, sysid: 1, compid: 1, heartbeat: hb });
    const got: number[] = [];
    let dropped = 0;
    const request = (seq: number): void => fc.send(Object.assign(new common.MissionRequestInt(), { targetSystem: 245, targetComponent: 191, seq, missionType: missionTypeFence }));
    const stored: common.MissionItemInt[] = [];
    fc.onMessage(({ msg }) => {
      if (msg instanceof common.MissionCount && msg.missionType === missionTypeFence) request(0);
      else if (msg instanceof common.MissionItemInt) {
        got.push(msg.seq);
        if (msg.seq === stored.length) stored.push(msg);
        // The request for item 2 is "lost" the first time: the sender hears nothing and resends item 1.
        if (stored.length === 2 && dropped === 0) {
          dropped++;
          return;
        }
        if (stored.length < 4) request(stored.length);
        else fc.send(Object.assign(new common.MissionAck(), { targetSystem: 245, targetComponent: 191, type: common.MavMissionResult.ACCEPTED, missionType: missionTypeFence, opaqueId: 0 }));
      }
    });
    const f = ring(4, 30, null);
    // On an idle machine only the dropped request times out (got [0, 1, 1, 2, 3], one resend); on a
    // loaded one a reply may come after the 400 ms too and cost another resend, which the FC also takes.
    const r = await uploadFence(ours, { sysid: 1, compid: 1 }, f, { itemTimeoutMs: 400, retries: 3 });
    expect(r.ok ? r.value.items : r.error.message).toBe(4);
    expect(r.ok ? r.value.resends : 0).toBeGreaterThanOrEqual(1);
    expect(got.filter((s) => s === 1).length, `sent ${got.join(', ')}`).toBeGreaterThanOrEqual(2); // item 1 again after the lost request
    expect(got.every((s, i) => i === 0 || s >= (got[i - 1] as number)), `sent ${got.join(', ')}: never an earlier item after a later one`).toBe(true);
    expect(stored.map((m) => [m.command, m.frame, m.param1, m.x, m.y, m.missionType])).toEqual(e7(f).map(([x, y]) => [cmdFenceVertexInclusion, 0, 4, x, y, missionTypeFence]));
  });
});

describe.concurrent('fence upload through a relay losing 10 % of bytes in bursts (seed 12)', () => {
  let near: PtyPair;
  let far: PtyPair;
  let relay: Relay;
  let fc: SimFcProcess;
  let port: ByteTransport;
  let c: ReturnType<typeof companion>;

  beforeAll(async () => {
    near = await startPtyPair();
    far = await startPtyPair();
    fc = await startSimFc(['--serial', far.b, '--autopilot', 'ardupilot', '--heartbeat-ms', '200', '--telemetry-hz', '4'], cliEntry('sim-fc'));
    relay = await startRelay(near.b, far.a, { lossFraction: 0.1, meanBurstBytes: 32, corruptProbability: 0 }, 12);
    port = await openSerial({ path: near.a, baudRate: 921_600 });
    c = companion(port, 200, undefined, { command: { timeoutMs: 700, retries: 8 } });
  }, 30_000);

  afterAll(async () => {
    c?.vehicle.close();
    c?.endpoint.stop();
    await port?.close();
    await relay?.close();
    await fc?.stop();
    await far?.stop();
    await near?.stop();
  });

  it.sequential('a 40-vertex fence arrives whole and in order, and the switch goes on', async () => {
    await waitFor('FC heartbeat through the lossy relay', () => c.vehicle.connected(), 10_000);
    const f = ring(40, 60, 50);
    const r = await c.vehicle.uploadFence(f, { itemTimeoutMs: 300, retries: 15 });
    expect(r.ok ? r.value.items : r.error.message).toBe(40);
    await waitFor('the FC to print its fence', () => fcFence(fc)?.enabled === true, 5000);
    expect(fcFence(fc)).toMatchObject({ vertices: 40, polygonE7: e7(f), altMaxM: 50, enabled: true });
    const lost = relay.forward.counters.bytesDropped + relay.backward.counters.bytesDropped;
    const bytes = relay.forward.counters.bytesIn + relay.backward.counters.bytesIn;
    expect(lost / bytes).toBeGreaterThan(0.05);
    console.log(`lossy fence upload: ${lost}/${bytes} bytes dropped (${((100 * lost) / bytes).toFixed(1)} %), ${r.ok ? `${r.value.elapsedMs} ms, ${r.value.resends} resends` : 'failed'}`);
  }, 60_000);
});

describe.concurrent('the simulated FC\'s fence check', () => {
  it.sequential('a ceiling breach while flying inside the polygon; none on the ground or with the fence off; one per excursion', () => {
    const f = new SimFence(null);
    const poly = e7(ring(4, 50, null));
    expect(f.accept(poly.map(([x, y]) => Object.assign(new common.MissionItemInt(), { command: cmdFenceVertexInclusion, frame: 0, param1: 4, x, y })))).toBe(common.MavMissionResult.ACCEPTED);
    f.setAltMax(20);
    const at = [Math.round(origin.latDeg * 1e7), Math.round(origin.lonDeg * 1e7)] as const;
    expect(f.check(true, at[0], at[1], 30, 0)).toBeNull(); // not enabled yet
    f.setEnabled(true);
    expect(f.check(false, at[0], at[1], 30, 0)).toBeNull(); // not flying
    expect(f.check(true, at[0], at[1], 30, 100)).toBe('ceiling');
    expect(f.check(true, at[0], at[1], 31, 200)).toBeNull(); // the same excursion
    expect(f.check(true, at[0], at[1], 10, 300)).toBeNull(); // back inside
    expect(f.check(true, at[0], at[1], 25, 400)).toBe('ceiling');
    expect(f.status().breachCount).toBe(2);
  });

  it.sequential('a keep-out circle: entering it while flying is a boundary breach, once per excursion; the arming check names it', () => {
    const f = new SimFence(null);
    const poly = e7(ring(4, 50, null));
    const c = localToGeo(origin, 20, 0);
    const items = [...poly.map(([x, y]) => Object.assign(new common.MissionItemInt(), { command: cmdFenceVertexInclusion, frame: 0, param1: 4, x, y })), Object.assign(new common.MissionItemInt(), { command: cmdFenceCircleExclusion, frame: 0, param1: 10, x: Math.round(c.latDeg * 1e7), y: Math.round(c.lonDeg * 1e7) })];
    expect(f.accept(items)).toBe(common.MavMissionResult.ACCEPTED);
    f.setEnabled(true);
    const at = (northM: number) => {
      const g = localToGeo(origin, northM, 0);
      return [Math.round(g.latDeg * 1e7), Math.round(g.lonDeg * 1e7)] as const;
    };
    expect(f.check(true, ...at(5), 10, 0)).toBeNull(); // 15 m from its centre
    expect(f.check(true, ...at(12), 10, 100)).toBe('boundary'); // 8 m from it
    expect(f.check(true, ...at(20), 10, 200)).toBeNull(); // the same excursion
    expect(f.check(true, ...at(0), 10, 300)).toBeNull();
    expect(f.armingProblem(...at(20))).toBe('PreArm: vehicle inside a keep-out');
    expect(f.armingProblem(...at(0))).toBeNull();
    expect(f.status()).toMatchObject({ vertices: 4, circles: [[Math.round(c.latDeg * 1e7), Math.round(c.lonDeg * 1e7), 10]], breachCount: 1 });
    // A circle without a positive radius is refused, and so is a polygon split by a circle.
    expect(f.accept([...items.slice(0, 4), Object.assign(new common.MissionItemInt(), { command: cmdFenceCircleExclusion, frame: 0, param1: 0, x: 1, y: 2 })])).toBe(common.MavMissionResult.INVALID_PARAM1);
    expect(f.accept([items[0], items[4], items[1], items[2], items[3]] as common.MissionItemInt[])).toBe(common.MavMissionResult.INVALID_PARAM1);
  });

  it.sequential('refuses an upload that is not one inclusion polygon with its vertex count in param1', () => {
    const f = new SimFence(null);
    const item = (param1: number, command = cmdFenceVertexInclusion) => Object.assign(new common.MissionItemInt(), { command, frame: 0, param1, x: 1, y: 2 });
    expect(f.accept([item(4), item(4), item(4)])).toBe(common.MavMissionResult.INVALID_PARAM1);
    expect(f.accept([item(3), item(3), item(3, 5002)])).toBe(common.MavMissionResult.UNSUPPORTED);
    expect(f.status().vertices).toBe(0);
  });
});

/** North of the origin, metres, from the FC's GLOBAL_POSITION_INT. */
const northOf = (v: MavlinkVehicle): number => (((v.telemetry.position?.lat ?? 0) / 1e7 - origin.latDeg) * Math.PI * 6_371_000) / 180;

describe.concurrent('the FC\'s breach action: ArduPilot FENCE_ACTION (integers cast into the float)', () => {
  let rig: SimFcRig;
  const texts: string[] = [];
  const values: { id: string; raw: number; type: number }[] = [];

  beforeAll(async () => {
    rig = await simFcRig(['--autopilot', 'ardupilot', '--heartbeat-ms', '200', '--seed', '3', '--speed', '4', '--fence-action', 'report'], 200);
    rig.endpoint.onMessage(({ msg }) => {
      if (msg instanceof common.StatusText) texts.push(msg.text);
      if (msg instanceof common.ParamValue) values.push({ id: msg.paramId, raw: msg.paramValue, type: msg.paramType });
    });
    await waitFor('FC heartbeat', () => rig.vehicle.connected(), 5000);
  }, 30_000);

  afterAll(() => rig?.stop());

  it.sequential('reads "report only" as report, with the warning naming the parameter, its value and the fix', async () => {
    const r = await rig.vehicle.readFenceAction();
    expect(r.ok ? r.value : r.error).toEqual({
      name: 'report',
      param: 'FENCE_ACTION',
      value: 0,
      warning: 'the flight controller holds the fence but FENCE_ACTION is 0 (report only): a breach does nothing there; set hal.mavlink.fenceAction: return in device.yaml, or FENCE_ACTION on the vehicle',
    });
    expect(values.at(-1)).toEqual({ id: 'FENCE_ACTION', raw: 0, type: mavParamType.int8 });
  });

  it.sequential('flown outside its fence with "report only", it says so and flies on', async () => {
    expect((await rig.vehicle.uploadFence(ring(6, 40, 25))).ok).toBe(true);
    expect((await rig.vehicle.arm()).ok).toBe(true);
    expect((await rig.vehicle.takeoff(8)).ok).toBe(true);
    await waitFor('takeoff altitude', () => (rig.vehicle.telemetry.position?.relativeAlt ?? 0) > 7000, 10_000);
    expect((await rig.vehicle.streamPosition({ ...localToGeo(origin, 70, 0), relAltM: 8 })).ok).toBe(true);
    await waitFor('60 m north, past the 40 m fence', () => northOf(rig.vehicle) > 60, 15_000);
    expect(texts).toContain('failsafe: fence breached (boundary), action report');
    expect(rig.vehicle.mode()).toBe('guided');
    expect(fcFence(rig.fc)?.breached).toBe('boundary');
    expect((await rig.vehicle.land()).ok).toBe(true);
  }, 40_000);

  it.sequential('return, land and hold set FENCE_ACTION 1, 2 and 4 as C-cast integers; a value it does not know is refused', async () => {
    for (const [action, value] of [['land', 2], ['hold', 4], ['return', 1]] as const) {
      const r = await rig.vehicle.setFenceAction(action);
      expect(r.ok ? r.value : r.error).toEqual({ name: action, param: 'FENCE_ACTION', value, warning: null });
      expect(values.at(-1)).toEqual({ id: 'FENCE_ACTION', raw: value, type: mavParamType.int8 });
      const back = await rig.vehicle.readFenceAction();
      expect(back.ok && back.value.value).toBe(value);
    }
    const bad = await rig.vehicle.params.set('FENCE_ACTION', 9, mavParamType.int8);
    expect(bad.ok ? bad.value : bad.error).toEqual({ code: 'rejected', message: 'PARAM_SET FENCE_ACTION=9: the vehicle holds 1' });
    await waitFor('the refusal', () => texts.includes('FENCE_ACTION: 9 is not a fence action (0..5)'), 10_000);
  });
});

describe.concurrent('the FC\'s breach action: PX4 GF_ACTION (an INT32\'s bytes in the float)', () => {
  it.sequential('reads none (0) and warning only (1) with the warning; sets return, land and hold as 3, 5 and 2; refuses termination (not simulated)', async () => {
    for (const [start, value, meaning] of [['none', 0, 'none'], ['report', 1, 'warning only']] as const) {
      const rig = await simFcRig(['--autopilot', 'px4', '--heartbeat-ms', '200', '--fence-action', start], 200);
      try {
        const raws: number[] = [];
        const texts: string[] = [];
        rig.endpoint.onMessage(({ msg }) => {
          if (msg instanceof common.StatusText) texts.push(msg.text);
          if (msg instanceof common.ParamValue && msg.paramId === 'GF_ACTION') raws.push(msg.paramValue);
        });
        await waitFor('FC heartbeat', () => rig.vehicle.connected(), 5000);
        const r = await rig.vehicle.readFenceAction();
        expect(r.ok ? r.value : r.error).toEqual({ name: start, param: 'GF_ACTION', value, warning: `the flight controller holds the fence but GF_ACTION is ${value} (${meaning}): a breach does nothing there; set hal.mavlink.fenceAction: return in device.yaml, or GF_ACTION on the vehicle` });
        if (start === 'none') continue;
        for (const [action, v] of [['return', 3], ['land', 5], ['hold', 2]] as const) {
          const s = await rig.vehicle.setFenceAction(action);
          expect(s.ok ? s.value : s.error).toEqual({ name: action, param: 'GF_ACTION', value: v, warning: null });
          // On the wire, the float whose bits are the integer (PX4's bytewise encoding), not v.0.
          expect(raws.at(-1)).toBeGreaterThan(0);
          expect(raws.at(-1)).toBeLessThan(1e-40);
        }
        const term = await rig.vehicle.params.set('GF_ACTION', 4, mavParamType.int32, 'bytewise');
        expect(term.ok ? term.value : term.error).toEqual({ code: 'rejected', message: 'PARAM_SET GF_ACTION=4: the vehicle holds 2' });
        await waitFor('the refusal', () => texts.includes('GF_ACTION: 4 (terminate) is not simulated'), 10_000);
      } finally {
        await rig.stop();
      }
    }
  }, 40_000);
});

describe.concurrent('breach action values the simulated FC does not fly', () => {
  it.sequential('PX4 flight termination is named terminate, a deliberate choice: no warning; a value not listed is unknown N', () => {
    expect(describeFenceAction('px4', 4)).toEqual({ name: 'terminate', param: 'GF_ACTION', value: 4, warning: null });
    expect(describeFenceAction('ardupilot', 6)).toEqual({ name: 'unknown 6', param: 'FENCE_ACTION', value: 6, warning: null });
    expect(describeFenceAction('ardupilot', 5).name).toBe('return'); // SmartRTL or land
    expect(describeFenceAction('ardupilot', 4).name).toBe('hold'); // brake or land
  });
});
