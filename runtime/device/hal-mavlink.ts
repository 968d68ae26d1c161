// The HAL over a flight controller (PX4, ArduPilot, or firmware-bridge's simulated one) on a serial
// port, MAVLink 2: hal.driver mavlink. Loaded only for such a device (hal-setup.ts loadHalDrivers), as
// node-mavlink's message tables cost a device's process 0.1-0.15 s of CPU and 6-8 MB to load.

import { deferredSerial } from '../../firmware-bridge/transport.js';
import { MavlinkEndpoint } from '../../firmware-bridge/mavlink/endpoint.js';
import { MavlinkVehicle } from '../../firmware-bridge/mavlink/vehicle.js';
import { createMavlinkDevices } from '../../hal/mavlink/mavlink-devices.js';
import { defaultFenceKeeperOptions } from '../../hal/mavlink/fence-keeper.js';
import type { DeviceConfig } from '../config/device-config.js';
import { readSigningKey } from '../config/signing-key.js';
import { HalOpenError, type Hal } from './hal-setup.js';

/** The companion computer's MAVLink component: MAV_COMP_ID_ONBOARD_COMPUTER (its system id is
 *  hal.mavlink.systemId, 245 by default). */
const companionCompid = 191;

export function mavlinkHal(m: NonNullable<DeviceConfig['hal']['mavlink']>): Hal {
  const port = deferredSerial({ path: m.serial, baudRate: m.baud });
  // The key is checked when device.yaml is read (checkConfigFiles); read here for the endpoint.
  const key = m.signingKeyFile === undefined ? null : readSigningKey(m.signingKeyFile);
  if (key !== null && !key.ok) throw new Error(`hal.mavlink.signingKeyFile: ${key.error}`);
  const endpoint = new MavlinkEndpoint({
    ...(key !== null ? { signing: { key: key.value, linkId: 1 } } : {}),
    signingFix: 'set `hal.mavlink.signingKeyFile` in device.yaml to a file holding its key (64 hex digits)',
    transport: port,
    sysid: m.systemId,
    compid: companionCompid,
    heartbeatIntervalMs: 1000,
    heartbeat: () => ({ type: 18, autopilot: 8, baseMode: 0, customMode: 0, systemStatus: 4 }), // ONBOARD_CONTROLLER, INVALID
  });
  // The flight controller's ids: a swarm commonly gives each drone a SYSID_THISMAV (MAV_SYS_ID) of its own.
  const vehicle = new MavlinkVehicle(endpoint, {
    family: m.autopilot,
    target: { sysid: m.fcSystemId, compid: m.fcComponentId },
    targetFix: (part, id) => `set \`hal.mavlink.${part === 'system' ? 'fcSystemId' : 'fcComponentId'}: ${id}\` in device.yaml`,
  });
  // A cable pulled and plugged straight back in is not always declared lost (five missed heartbeats),
  // nor does the FC's time since boot always show that it rebooted: the vehicle asks again for what
  // a rebooted FC forgets (its fence, the IMU stream).
  port.onReopen(() => vehicle.portReopened());
  const devices = createMavlinkDevices(vehicle, () => port.problem(), m.batteryCells, { ...defaultFenceKeeperOptions, breachAction: m.fenceAction });
  const all = [devices.position, devices.attitude, devices.battery, devices.flight];
  return {
    devices,
    start: async () => {
      await port.open().catch((e: unknown) => Promise.reject(new HalOpenError('hal.mavlink.serial', e)));
      endpoint.start();
      for (const d of all) await d.start();
    },
    stop: async () => {
      for (const d of all) await d.stop();
      vehicle.close();
      endpoint.stop();
      await port.close();
    },
    step: () => {},
    fcLinkCounters: () => ({ ...endpoint.counters() }),
  };
}
