// Builds the HAL drivers named in device.yaml. The simulated vehicle runs on the wall clock, optionally
// faster (hal.sim.timeScale), and is stepped by the device's tick; "none" fits no flight hardware.

import type { DeviceSet } from '../../hal/devices.js';
import { SimMultirotor } from '../../hal/sim/multirotor.js';
import { createSimDevices } from '../../hal/sim/sim-devices.js';
import { Prng } from '../lib/prng.js';
import type { DeviceConfig } from '../config/device-config.js';

export interface Hal {
  readonly devices: DeviceSet;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Advances simulated hardware to wall time `nowMs` (no-op for real drivers). */
  step(nowMs: number): void;
}

/** Home altitude of the simulated vehicle above mean sea level, metres. */
const simHomeAltMslM = 488;

export function createHal(c: DeviceConfig, nowMs: number): Hal {
  if (c.hal.driver === 'none') {
    return { devices: {}, start: () => Promise.resolve(), stop: () => Promise.resolve(), step: () => {} };
  }
  const s = c.hal.sim;
  const vehicle = new SimMultirotor({ origin: { ...c.origin, altMslM: simHomeAltMslM } }, new Prng(s.seed), 0, { northM: s.startNorthM, eastM: s.startEastM });
  const devices = createSimDevices(vehicle);
  const all = [devices.position, devices.attitude, devices.battery, devices.range, devices.flight];
  return {
    devices,
    start: async () => {
      for (const d of all) await d.start();
    },
    stop: async () => {
      for (const d of all) await d.stop();
    },
    // Simulated time starts at 0 when the device starts and runs timeScale times faster than the wall.
    step: (now) => vehicle.step(Math.max(0, (now - nowMs) * s.timeScale)),
  };
}
