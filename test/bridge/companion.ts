// The companion side of a bridge test: a MAVLink endpoint and vehicle on a serial port or UDP socket.

import { MavlinkEndpoint, type SigningPolicy } from '../../firmware-bridge/mavlink/endpoint.js';
import { MavlinkVehicle, type VehicleOptions } from '../../firmware-bridge/mavlink/vehicle.js';
import type { ByteTransport } from '../../firmware-bridge/transport.js';

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
