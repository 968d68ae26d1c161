// The companion side of a bridge test: a MAVLink endpoint and vehicle on a serial port or UDP socket,
// and the simulated flight controller rig on a pty pair.

import { MavlinkEndpoint, type SigningPolicy } from '../../firmware-bridge/mavlink/endpoint.js';
import { MavlinkVehicle, type VehicleOptions } from '../../firmware-bridge/mavlink/vehicle.js';
import { openSerial, type ByteTransport } from '../../firmware-bridge/transport.js';
import { startPtyPair, startSimFc, type SimFcProcess } from '../../firmware-bridge/tools/processes.js';

export const companionSysid = 245;
export const companionCompid = 191; // MAV_COMP_ID_ONBOARD_COMPUTER

export function companion(transport: ByteTransport, heartbeatIntervalMs: number, signing?: SigningPolicy, vehicleOptions: VehicleOptions = {}): { endpoint: MavlinkEndpoint; vehicle: MavlinkVehicle } {
  const endpoint = new MavlinkEndpoint({
    transport,
    sysid: companionSysid,
    compid: companionCompid,
    heartbeatIntervalMs,
    heartbeat: () => ({ type: 18, autopilot: 8, baseMode: 0, customMode: 0, systemStatus: 4 }), // ONBOARD_CONTROLLER, INVALID
    ...(signing ? { signing } : {}),
  });
  endpoint.start();
  return { endpoint, vehicle: new MavlinkVehicle(endpoint, vehicleOptions) };
}

export async function waitFor(what: string, cond: () => boolean, timeoutMs: number): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The simulated flight controller (its own process) on one end of a socat pty pair, and the companion
 *  on the other: the rig most bridge and HAL tests fly against. `stop` ends all of it, by PID. */
export interface SimFcRig {
  readonly fc: SimFcProcess;
  readonly port: ByteTransport;
  readonly endpoint: MavlinkEndpoint;
  readonly vehicle: MavlinkVehicle;
  stop(): Promise<void>;
}

export async function simFcRig(fcArgs: readonly string[], heartbeatIntervalMs = 1000, vehicleOptions: VehicleOptions = {}): Promise<SimFcRig> {
  const pty = await startPtyPair();
  const fc = await startSimFc(['--serial', pty.b, ...fcArgs]);
  const port = await openSerial({ path: pty.a, baudRate: 921_600 });
  const { endpoint, vehicle } = companion(port, heartbeatIntervalMs, undefined, vehicleOptions);
  return {
    fc,
    port,
    endpoint,
    vehicle,
    stop: async () => {
      vehicle.close();
      endpoint.stop();
      await port.close();
      await fc.stop();
      await pty.stop();
    },
  };
}
