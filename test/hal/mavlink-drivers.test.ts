// The MAVLink drivers (position, attitude, battery, flight) against the conformance suites, served by
// the simulated flight controller running as its own process on a socat pty. One PX4 FC and one link
// are shared by its suites (the IMU one first, on the ground); the flight suite runs last and leaves
// the vehicle landed. ArduPilot's run beside it, over UDP through the HIL helper. The IMU
// stream the vehicle asks for (HIGHRES_IMU on PX4, SCALED_IMU on ArduPilot) feeds the telemetry agent,
// which runs its model on it.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { common } from 'node-mavlink';
import { geoToLocal, localToGeo } from '../../hal/geo.js';
import { createMavlinkDevices } from '../../hal/mavlink/mavlink-devices.js';
import type { Device } from '../../hal/devices.js';
import type { MavlinkVehicle } from '../../firmware-bridge/mavlink/vehicle.js';
import { simFcRig, waitFor, type SimFcRig } from '../bridge/companion.js';
import { HalInputReader } from '../../agents/api/hal-io.js';
import { AgentScheduler } from '../../agents/api/scheduler.js';
import { MemoryStateStore } from '../../agents/api/state-store.js';
import { telemetryAnomalyAgent } from '../../agents/builtin/telemetry-anomaly.js';
import type { AttestationBody } from '../../runtime/wire/attestation.js';
import { startHilVehicle, type HilVehicle } from '../../firmware-bridge/sim-fc/hil.js';
import { attitudeConformance, batteryConformance, flightConformance, positionConformance, type Harness } from './conformance.js';

let rig: SimFcRig;
let vehicle: MavlinkVehicle;

beforeAll(async () => {
  rig = await simFcRig(['--autopilot', 'px4', '--speed', '4', '--seed', '3']);
  ({ vehicle } = rig);
});

afterAll(() => rig?.stop());

function mavHarness<T extends Device>(pick: (d: ReturnType<typeof createMavlinkDevices>) => T): () => Promise<Harness<T>> {
  return () =>
    Promise.resolve({
      device: pick(createMavlinkDevices(vehicle)),
      advance: (ms: number) => new Promise((r) => setTimeout(r, ms)),
      close: () => Promise.resolve(),
    });
}

/** The telemetry agent on these devices for `ms` of wall time at 10 Hz: its engine, model and attestations. */
async function runTelemetryAgent(devices: ReturnType<typeof createMavlinkDevices>, ms: number): Promise<{ engine: string; model: string | null; attests: AttestationBody[] }> {
  const attests: AttestationBody[] = [];
  const sched = new AgentScheduler({ store: new MemoryStateStore(), act: () => undefined, attest: (b) => attests.push(b), cpuClock: () => 0 });
  sched.add(telemetryAnomalyAgent({ deviceId: 'd1', prefer: ['pure-ts', 'rules'] }));
  const reader = new HalInputReader(devices, { latDeg: 47.397742, lonDeg: 8.545594 });
  await sched.start(0);
  for (let t = 0; t < ms; t += 100) {
    await sched.tick(reader.read(t));
    await new Promise((r) => setTimeout(r, 100));
  }
  const st = sched.status()[0]!;
  await sched.stop(ms);
  return { engine: st.engine, model: st.model, attests };
}

// The PX4 FC over a pty (the file's rig: its suites in order on the one FC) and two ArduPilot HIL
// vehicles over UDP (each its own, started in its block: one for its IMU and a goto, one for the flight
// conformance suite) run at once (describe.concurrent): each mostly waits on its own simulated flight.
// Inside each, the order stays (describe.sequential).
describe.concurrent('the PX4 FC over a pty', () => {
  describe.sequential('its suites in order on the one FC', () => {
    describe('MAVLink attitude driver: the IMU (PX4, HIGHRES_IMU)', () => {
      it('asks the FC to stream HIGHRES_IMU and reports it in SI units; the telemetry agent runs its model on it', async () => {
        const d = createMavlinkDevices(vehicle);
        await Promise.all([d.attitude.start(), d.battery.start()]);
        await waitFor('an IMU sample', () => d.attitude.imu().ok, 5_000);
        const imu = d.attitude.imu();
        expect(imu.ok && imu.value.accelMps2.z).toBeCloseTo(-9.81, 1); // on the ground: specific force straight up
        const run = await runTelemetryAgent(d, 3_000);
        expect(run).toEqual({ engine: 'pure-ts', model: 'telemetry-anomaly@2.0.0', attests: [] });
        await Promise.all([d.attitude.stop(), d.battery.stop()]);
      }, 20_000);
    });

    positionConformance('mavlink (sim FC over a pty)', mavHarness((d) => d.position));
    attitudeConformance('mavlink (sim FC over a pty)', mavHarness((d) => d.attitude));
    batteryConformance('mavlink (sim FC over a pty)', mavHarness((d) => d.battery));
    flightConformance('mavlink (sim FC over a pty)', mavHarness((d) => d.flight));

    describe('MAVLink position driver', () => {
      it("reports where the FC reckons it is (GLOBAL_POSITION_INT) with its receiver's fix quality (GPS_RAW_INT)", async () => {
        const p = createMavlinkDevices(vehicle).position;
        await p.start();
        try {
          await waitFor('both position messages', () => vehicle.telemetry.position !== null && vehicle.telemetry.gpsRaw !== null, 5_000);
          // Read synchronously after each change: the FC's next message cannot land in between.
          const t = vehicle.telemetry;
          await waitFor("the estimator's report", () => t.estimator !== null, 5_000);
          const [fused, raw, estimator] = [t.position!, t.gpsRaw!, t.estimator!];
          try {
            // PX4's ESTIMATOR_STATUS says its horizontal absolute position is good.
            expect(estimator).toMatchObject({ message: 'ESTIMATOR_STATUS', horizAbsOk: true });
            t.estimator = null; // as from an FC that streams no estimator report, until the last part
            // The sim FC's receiver is noisy; put it plainly apart from the estimate so the two cannot agree by chance.
            t.gpsRaw = Object.assign(new common.GpsRawInt(), raw, { lat: fused.lat + 500, lon: fused.lon - 500, fixType: 3, satellitesVisible: 14, eph: 80 });
            const both = p.fix();
            expect(both.ok && both.value).toMatchObject({ fix: '3d', satellites: 14, hdop: 0.8, latDeg: fused.lat / 1e7, lonDeg: fused.lon / 1e7, altMslM: fused.alt / 1000, source: 'fc-estimate' });
            // The receiver without a fix: the estimate is dead reckoning, and says so.
            t.gpsRaw = Object.assign(new common.GpsRawInt(), t.gpsRaw, { fixType: 1 });
            const lost = p.fix();
            expect(lost.ok && lost.value.fix).toBe('none');
            // An FC that streams no receiver: the estimate alone, as a 3D fix with no satellites or HDOP known.
            t.gpsRaw = null;
            const alone = p.fix();
            expect(alone.ok && alone.value).toMatchObject({ fix: '3d', satellites: 0, hdop: 99.99, latDeg: fused.lat / 1e7 });
            // No estimate (before the FC's first GLOBAL_POSITION_INT): the receiver alone.
            t.gpsRaw = Object.assign(new common.GpsRawInt(), raw, { lat: fused.lat + 500, fixType: 3, satellitesVisible: 14, eph: 80 });
            t.position = null;
            const receiver = p.fix();
            expect(receiver.ok && receiver.value).toMatchObject({ fix: '3d', satellites: 14, latDeg: (fused.lat + 500) / 1e7, source: 'receiver' });
            // ArduPilot streams GLOBAL_POSITION_INT whatever its AHRS answers (GCS_MAVLINK::
            // send_global_position_int: "we send stale data"): before its EKF has an origin, at lat 0,
            // lon 0, alt 0, while the receiver already has its 3D fix. That is no estimate: the receiver's.
            t.position = Object.assign(new common.GlobalPositionInt(), fused, { lat: 0, lon: 0, alt: 0, relativeAlt: 0, vx: 0, vy: 0, vz: 0 });
            const noOrigin = p.fix();
            expect(noOrigin.ok && noOrigin.value).toMatchObject({ fix: '3d', satellites: 14, latDeg: (fused.lat + 500) / 1e7, lonDeg: raw.lon / 1e7 });
            // ... and with its receiver not at a fix either: no position at all, not one at (0, 0).
            t.gpsRaw = Object.assign(new common.GpsRawInt(), t.gpsRaw, { fixType: 1 });
            const noneYet = p.fix();
            expect(noneYet.ok ? noneYet.value.fix : noneYet.error.code).not.toBe('3d');
            t.gpsRaw = null;
            const alone0 = p.fix();
            expect(alone0.ok ? alone0.value : alone0.error.code).toBe('no-data');
            t.position = null;
            // Neither: no data, named.
            t.gpsRaw = null;
            const none = p.fix();
            expect(!none.ok && none.error).toMatchObject({ code: 'no-data' });
            expect(!none.ok && none.error.message).toMatch(/GLOBAL_POSITION_INT/);
            // With the estimator's report: its word, not the receiver's fix type, says whether the estimate
            // is a position. Vouched for, it is one with the receiver at no fix (vision, or within the
            // EKF's dead-reckoning time): a 3D fix with no HDOP.
            t.position = fused;
            t.gpsRaw = Object.assign(new common.GpsRawInt(), raw, { fixType: 1, satellitesVisible: 3, eph: 65535 });
            t.estimator = estimator;
            const vouched = p.fix();
            expect(vouched.ok && vouched.value).toMatchObject({ fix: '3d', satellites: 3, hdop: 99.99, latDeg: fused.lat / 1e7, source: 'fc-estimate' });
            // Said not to be good (POS_HORIZ_ABS clear; here in constant position mode): no position, from
            // the estimate or from a receiver at no fix; the receiver's own with a fix.
            t.estimator = { ...estimator, flags: 1 | 4 | 32 | 128, horizAbsOk: false };
            const held = p.fix();
            expect(held.ok ? held.value.fix : held.error.code).toBe('none');
            t.gpsRaw = Object.assign(new common.GpsRawInt(), raw, { lat: fused.lat + 500, fixType: 3, satellitesVisible: 14, eph: 80 });
            const own = p.fix();
            expect(own.ok && own.value).toMatchObject({ fix: '3d', latDeg: (fused.lat + 500) / 1e7, source: 'receiver' });
            t.gpsRaw = null;
            const noneHeld = p.fix();
            expect(!noneHeld.ok && noneHeld.error).toMatchObject({ code: 'no-data' });
            expect(!noneHeld.ok && noneHeld.error.message).toMatch(/no horizontal absolute position \(ESTIMATOR_STATUS flags 0xa5: it holds a constant position/);
          } finally {
            t.position = t.position ?? fused;
            t.gpsRaw = t.gpsRaw ?? raw;
            t.estimator = t.estimator ?? estimator;
          }
        } finally {
          await p.stop();
        }
      });
    });

    describe('MAVLink flight driver: height above home', () => {
      it("gives the FC's relative_alt as heightAboveHomeM while GLOBAL_POSITION_INT is fresh, and none without it", async () => {
        const fl = createMavlinkDevices(vehicle).flight;
        await fl.start();
        await waitFor('a flight state with a height', () => {
          const st = fl.state();
          return st.ok && st.value.heightAboveHomeM !== undefined;
        }, 5_000);
        const st = fl.state();
        expect(st.ok && st.value.heightAboveHomeM).toBeCloseTo((vehicle.telemetry.position?.relativeAlt ?? Number.NaN) / 1000, 2);
        const position = vehicle.telemetry.position;
        vehicle.telemetry.position = null; // as before the first GLOBAL_POSITION_INT
        try {
          const without = fl.state();
          expect(without.ok).toBe(true);
          expect(without.ok && 'heightAboveHomeM' in without.value).toBe(false);
        } finally {
          vehicle.telemetry.position = vehicle.telemetry.position ?? position;
          await fl.stop();
        }
      });
    });
  });
});

describe.concurrent('beside it, the ArduPilot HIL vehicle', () => {
  // The ArduPilot flavour (GUIDED takeoff, ArduCopter mode numbers) over UDP, through the HIL helper.
  describe.sequential('ArduPilot over UDP (hardware-in-the-loop helper)', () => {
    let hil: HilVehicle;
    beforeAll(async () => {
      hil = await startHilVehicle({ family: 'ardupilot', seed: 4, speed: 4 });
    });
    afterAll(async () => {
      await hil?.stop();
    });
    it('gets the IMU as SCALED_IMU (mG, mrad/s) and reports it in SI units', async () => {
      await hil.devices.attitude.start();
      await waitFor('an IMU sample', () => hil.devices.attitude.imu().ok, 5_000);
      const imu = hil.devices.attitude.imu();
      expect(imu.ok && imu.value.accelMps2.z).toBeCloseTo(-9.81, 1);
      expect(hil.vehicle.imuRefusal).toBeNull();
      await hil.devices.attitude.stop();
    }, 20_000);
    it('flies a goto in GUIDED to its target and stays on it, with no setpoint stream (ArduPilot is not PX4 offboard); a velocity not renewed lapses into a hold', async () => {
      // Before, the simulated FC held every ArduPilot goto one second in ("offboard setpoints lost":
      // PX4's COM_OF_LOSS_T applied to GUIDED), and a device on ArduPilot never flew its route.
      const { flight, position } = hil.devices;
      const texts: string[] = [];
      const off = hil.vehicle.endpoint.onMessage(({ msg }) => {
        if (msg instanceof common.StatusText) texts.push(msg.text);
      });
      await flight.start();
      await position.start();
      try {
        await waitFor('a first state and fix', () => flight.state().ok && position.fix().ok, 10_000);
        const f0 = position.fix();
        if (!f0.ok) throw new Error(f0.error.message);
        expect((await flight.execute({ type: 'arm' })).ok).toBe(true);
        expect((await flight.execute({ type: 'takeoff', relAltM: 5 })).ok).toBe(true);
        await waitFor('5 m up', () => (hil.vehicle.telemetry.position?.relativeAlt ?? 0) > 4_500, 15_000);
        // The FC's own height above home (GLOBAL_POSITION_INT's relative_alt), the frame the take-off and
        // the goto below are commanded in; the executor reads its height from it (executor-height.test.ts).
        const st = flight.state();
        expect(st.ok && st.value.heightAboveHomeM).toBeCloseTo((hil.vehicle.telemetry.position?.relativeAlt ?? 0) / 1000, 0);
        expect(st.ok && st.value.heightAboveHomeM).toBeGreaterThan(4);
        // A refusal carries what the FC said in STATUSTEXT before its COMMAND_ACK (a pre-arm check's
        // reason, here the disarm check's), not only the ACK's result.
        const disarm = await flight.execute({ type: 'disarm' });
        expect(disarm.ok ? '' : disarm.error.message).toMatch(/DENIED.*\(the flight controller said "disarm refused: vehicle is in the air"\)/);
        const target = localToGeo({ latDeg: f0.value.latDeg, lonDeg: f0.value.lonDeg }, 0, 40);
        expect((await flight.execute({ type: 'goto', target: { ...target, relAltM: 5 } })).ok).toBe(true);
        const eastOf = (): number => {
          const p = hil.vehicle.telemetry.position;
          return p ? geoToLocal({ latDeg: f0.value.latDeg, lonDeg: f0.value.lonDeg }, p.lat / 1e7, p.lon / 1e7).eastM : 0;
        };
        await waitFor('40 m east', () => eastOf() > 37, 20_000).catch((e: Error) => {
          throw new Error(`${e.message}: at ${eastOf().toFixed(1)} m east; the FC said ${JSON.stringify(texts)}`);
        });
        await new Promise((r) => setTimeout(r, 1_500)); // past the 1 s that held it before
        expect(eastOf()).toBeGreaterThan(37);
        expect(texts.filter((t) => t.includes('setpoints lost'))).toEqual([]);
        // A velocity given once and not renewed (a reflex whose obstacle cleared) lapses into a hold: the
        // HAL's contract is that callers stream it. Before, the vehicle streamed it on, and the drone flew
        // on east at 2 m/s until the next action.
        expect((await flight.execute({ type: 'velocity', northMps: 0, eastMps: 2, downMps: 0 })).ok).toBe(true);
        const speed = (): number => {
          const p = hil.vehicle.telemetry.position;
          return p ? Math.hypot(p.vx, p.vy) / 100 : 0;
        };
        await waitFor('moving east at the velocity', () => speed() > 1, 10_000);
        await waitFor('the velocity lapsed and the vehicle holds', () => hil.vehicle.velocityLapses === 1 && hil.vehicle.mode() === 'hold' && speed() < 0.3, 15_000).catch((e: Error) => {
          throw new Error(`${e.message}: lapses ${hil.vehicle.velocityLapses}, mode ${hil.vehicle.mode()}, speed ${speed().toFixed(2)} m/s`);
        });
        expect((await flight.execute({ type: 'land' })).ok).toBe(true);
        await waitFor('landed and disarmed', () => !hil.vehicle.armed(), 30_000);
      } finally {
        off();
        await position.stop();
        await flight.stop();
      }
    }, 60_000);
  });
});

describe.concurrent('beside them, a second ArduPilot HIL vehicle', () => {
  // The flight conformance suite on an ArduPilot vehicle of its own, fresh on the ground, beside the
  // goto flown on the first (they ran one after the other on the one vehicle).
  describe.sequential('ArduPilot over UDP (hardware-in-the-loop helper), its flight conformance', () => {
    let hil: HilVehicle;
    beforeAll(async () => {
      hil = await startHilVehicle({ family: 'ardupilot', seed: 4, speed: 4 });
    });
    afterAll(async () => {
      await hil?.stop();
    });
    flightConformance('mavlink ardupilot (sim FC over UDP)', () =>
      Promise.resolve({ device: hil.devices.flight, advance: (ms: number) => new Promise<void>((r) => setTimeout(r, ms)), close: () => Promise.resolve() }),
    );
  });
});
