// Hardware-in-the-loop: start a simulated flight controller as its own process on loopback UDP and
// return the HAL devices that drive it through the MAVLink bridge, exactly as on a real companion.
// fleet-sim's HIL mode starts one per simulated drone; tests use it for the ArduPilot flavour.

import { openUdp } from '../transport.js';
import { MavlinkEndpoint } from '../mavlink/endpoint.js';
import { MavlinkVehicle } from '../mavlink/vehicle.js';
import type { AutopilotFamily } from '../mavlink/modes.js';
import { createMavlinkDevices } from '../../hal/mavlink/mavlink-devices.js';
import { startSimFc } from '../tools/processes.js';

export interface HilOptions {
  readonly family: AutopilotFamily;
  readonly seed: number;
  /** Simulated seconds per real second in the FC process. */
  readonly speed?: number;
  readonly heartbeatMs?: number;
}

export interface HilVehicle {
  readonly vehicle: MavlinkVehicle;
  readonly devices: ReturnType<typeof createMavlinkDevices>;
  readonly fcPid: number;
  stop(): Promise<void>;
}

export async function startHilVehicle(o: HilOptions): Promise<HilVehicle> {
  const sock = await openUdp({ localPort: 0 });
  let fc;
  try {
    fc = await startSimFc([
      '--udp-local', '0',
      '--udp-remote', String(sock.localPort),
      '--autopilot', o.family,
      '--seed', String(o.seed),
      '--speed', String(o.speed ?? 1),
      '--heartbeat-ms', String(o.heartbeatMs ?? 1000),
    ]);
  } catch (e) {
    await sock.close();
    throw e;
  }
  const endpoint = new MavlinkEndpoint({
    transport: sock,
    sysid: 245,
    compid: 191,
    heartbeatIntervalMs: o.heartbeatMs ?? 1000,
    heartbeat: () => ({ type: 18, autopilot: 8, baseMode: 0, customMode: 0, systemStatus: 4 }),
  });
  const vehicle = new MavlinkVehicle(endpoint, { family: o.family });
  endpoint.start();
  const started = fc;
  return {
    vehicle,
    devices: createMavlinkDevices(vehicle),
    fcPid: started.pid,
    stop: async () => {
      vehicle.close();
      endpoint.stop();
      await started.stop();
      await sock.close();
    },
  };
}
