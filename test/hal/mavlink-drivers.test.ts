// The MAVLink drivers (position, attitude, battery, flight) against the conformance suites, served by
// the simulated flight controller running as its own process on a socat pty. One FC and one link are
// shared by the suites in this file; the flight suite runs last and leaves the vehicle landed.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSerial, type ByteTransport } from '../../firmware-bridge/transport.js';
import { createMavlinkDevices } from '../../hal/mavlink/mavlink-devices.js';
import type { Device } from '../../hal/devices.js';
import type { MavlinkVehicle } from '../../firmware-bridge/mavlink/vehicle.js';
import type { MavlinkEndpoint } from '../../firmware-bridge/mavlink/endpoint.js';
import { startPtyPair, startSimFc, type PtyPair, type SimFcProcess } from '../../firmware-bridge/tools/processes.js';
import { companion } from '../bridge/companion.js';
import { startHilVehicle, type HilVehicle } from '../../firmware-bridge/sim-fc/hil.js';
import { attitudeConformance, batteryConformance, flightConformance, positionConformance, type Harness } from './conformance.js';

let pty: PtyPair;
let fc: SimFcProcess;
let port: ByteTransport;
let endpoint: MavlinkEndpoint;
let vehicle: MavlinkVehicle;

beforeAll(async () => {
  pty = await startPtyPair();
  fc = await startSimFc(['--serial', pty.b, '--autopilot', 'px4', '--speed', '4', '--seed', '3']);
  port = await openSerial({ path: pty.a, baudRate: 921_600 });
  ({ endpoint, vehicle } = companion(port, 1000));
});

afterAll(async () => {
  vehicle?.close();
  endpoint?.stop();
  await port?.close();
  await fc?.stop();
  await pty?.stop();
});

function mavHarness<T extends Device>(pick: (d: ReturnType<typeof createMavlinkDevices>) => T): () => Promise<Harness<T>> {
  return () =>
    Promise.resolve({
      device: pick(createMavlinkDevices(vehicle)),
      advance: (ms: number) => new Promise((r) => setTimeout(r, ms)),
      close: () => Promise.resolve(),
    });
}

positionConformance('mavlink (sim FC over a pty)', mavHarness((d) => d.position));
attitudeConformance('mavlink (sim FC over a pty)', mavHarness((d) => d.attitude));
batteryConformance('mavlink (sim FC over a pty)', mavHarness((d) => d.battery));
flightConformance('mavlink (sim FC over a pty)', mavHarness((d) => d.flight));

describe('MAVLink position driver', () => {
  it('reports the receiver (GPS_RAW_INT: fix type, satellites, HDOP) rather than the fused position', async () => {
    const p = createMavlinkDevices(vehicle).position;
    await p.start();
    const f = p.fix();
    expect(f.ok && f.value).toMatchObject({ fix: '3d', satellites: 14, hdop: 0.8 });
    await p.stop();
  });
});

// The ArduPilot flavour (GUIDED takeoff, ArduCopter mode numbers) over UDP, through the HIL helper.
describe('ArduPilot over UDP (hardware-in-the-loop helper)', () => {
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
