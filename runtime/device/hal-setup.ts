// Builds the HAL drivers named in device.yaml. The simulated vehicle runs on the wall clock, optionally
// faster (hal.sim.timeScale), and is stepped by the device's tick; "mavlink" drives a flight controller
// (PX4, ArduPilot, or firmware-bridge's simulated one) over MAVLink 2 on a serial port; "none" fits no
// flight hardware. On top of any of them, hal.gnss puts an NMEA 0183 receiver in place of the position
// source and hal.led adds a status LED from the Linux LED class. The MAVLink drivers (hal-mavlink.ts,
// with node-mavlink's message tables) are loaded only for a device that drives a flight controller
// (loadHalDrivers): 0.1-0.15 s of CPU and 6-8 MB resident more at every other device's start (built,
// on the 2-vCPU development VM).

import type { DeviceSet } from '../../hal/devices.js';
import { defaultBattery } from '../../hal/sim/battery-model.js';
import { SimMultirotor } from '../../hal/sim/multirotor.js';
import { hazardRangeRing } from '../../agents/features/range.js';
import { createSimDevices } from '../../hal/sim/sim-devices.js';
import { Prng } from '../lib/prng.js';
import type { DeviceConfig } from '../config/device-config.js';
import { deferredSerial, type DeferredTransport } from '../../firmware-bridge/transport.js';
import { NmeaGps } from '../../hal/linux/nmea-gps.js';
import { SysfsLed } from '../../hal/linux/sysfs-led.js';

export interface Hal {
  readonly devices: DeviceSet;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Advances simulated hardware to wall time `nowMs` (no-op for real drivers). */
  step(nowMs: number): void;
  /** The simulated vehicle's true position in local metres (not what its GNSS reads): what fleet-sim,
   *  which simulates the world, measures separation with, and how many times the vehicle flew into
   *  an obstacle of its simulated world. Absent for real drivers. */
  readonly truth?: () => { northM: number; eastM: number; upM: number; obstacleStrikes: number };
  /** The flight controller link's frame counters (MAVLink: frames sent and received, bytes, CRC
   *  failures, refused signatures...; counter values). Absent without one. */
  readonly fcLinkCounters?: () => Readonly<Record<string, number>>;
}

/** Home altitude of the simulated vehicle above mean sea level, metres. */
const simHomeAltMslM = 488;

/** What to check when the device a field names does not open at start (the schema's own advice, for a
 *  field missing or malformed, is in device-config.ts). */
const openFixes = {
  'hal.mavlink.serial': "set it to the flight controller's serial device (ls /dev/serial/by-id/), and check that it is plugged in and that this user may open it (group dialout)",
  'hal.gnss.serial': "set it to the GNSS receiver's serial device (ls /dev/serial/by-id/), and check that it is plugged in and that this user may open it (group dialout)",
  'hal.led.name': 'set it to an LED that /sys/class/leds lists (ls /sys/class/leds) and this user may write, or remove hal.led',
} as const;

/** A device that hal names could not be opened at start: the device.yaml field naming it, and the fix. */
export class HalOpenError extends Error {
  readonly fix: string;
  constructor(
    readonly field: keyof typeof openFixes,
    cause: unknown,
  ) {
    super((cause as Error).message);
    this.fix = openFixes[field];
  }
}

/** The driver modules a config's HAL needs beyond the simulated one, loaded before createHal. */
export interface HalDrivers {
  readonly mavlink?: typeof import('./hal-mavlink.js');
}

/** Loads the drivers `c` names that are not always loaded: MAVLink's, for hal.driver mavlink. */
export async function loadHalDrivers(c: DeviceConfig): Promise<HalDrivers> {
  return c.hal.driver === 'mavlink' ? { mavlink: await import('./hal-mavlink.js') } : {};
}

export function createHal(c: DeviceConfig, nowMs: number, drivers: HalDrivers): Hal {
  return withLinuxDevices(c, baseHal(c, nowMs, drivers));
}

/** hal.gnss and hal.led over the base drivers: started after them, stopped before them. */
function withLinuxDevices(c: DeviceConfig, base: Hal): Hal {
  const { gnss, led } = c.hal;
  if (!gnss && !led) return base;
  // The receiver's port is reopened if it goes away (unplugged), like the flight controller's.
  let gnssPort: DeferredTransport | null = null;
  const extra = {
    ...(gnss
      ? {
          position: new NmeaGps({
            open: async () => {
              const t = deferredSerial({ path: gnss.serial, baudRate: gnss.baud });
              await t.open();
              gnssPort = t;
              return t;
            },
            linkProblem: () => gnssPort?.problem() ?? null,
          }),
        }
      : {}),
    ...(led ? { led: new SysfsLed({ name: led.name, ...(led.classDir !== undefined ? { classDir: led.classDir } : {}) }) } : {}),
  };
  const own = Object.values(extra);
  const fields = [...(extra.position ? [['hal.gnss.serial', extra.position] as const] : []), ...(extra.led ? [['hal.led.name', extra.led] as const] : [])];
  return {
    devices: { ...base.devices, ...extra },
    start: async () => {
      await base.start();
      for (const [field, d] of fields) await d.start().catch((e: unknown) => Promise.reject(new HalOpenError(field, e)));
    },
    stop: async () => {
      for (const d of own) await d.stop();
      await base.stop();
    },
    step: (now) => base.step(now),
    ...(base.truth ? { truth: base.truth } : {}),
  };
}

/** The simulated vehicle's noise: hal.sim.seed, else a stream named by the device's id (its own for
 *  each device, the same at each of its starts). */
function simVehiclePrng(seed: number | undefined, id: string): Prng {
  return seed !== undefined ? new Prng(seed) : new Prng(0).split(`hal.sim/${id}`);
}

function baseHal(c: DeviceConfig, nowMs: number, drivers: HalDrivers): Hal {
  if (c.hal.driver === 'none') {
    return { devices: {}, start: () => Promise.resolve(), stop: () => Promise.resolve(), step: () => {} };
  }
  if (c.hal.driver === 'mavlink') {
    const m = c.hal.mavlink;
    if (!m) throw new Error('hal.mavlink is required with hal.driver: mavlink (checked by the config loader)');
    if (!drivers.mavlink) throw new Error('hal.driver mavlink: its drivers were not loaded (loadHalDrivers)');
    return drivers.mavlink.mavlinkHal(m);
  }
  const s = c.hal.sim;
  // The range ring the hazard model was trained on, so the agent reads the simulated scans right.
  const battery = s.batteryWh === undefined ? {} : { battery: { ...defaultBattery, capacityWh: s.batteryWh } };
  const vehicle = new SimMultirotor({ origin: { ...c.origin, altMslM: simHomeAltMslM }, range: hazardRangeRing, obstacles: s.obstacles, ...battery }, simVehiclePrng(s.seed, c.id), 0, { northM: s.startNorthM, eastM: s.startEastM });
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
    truth: () => {
      const v = vehicle.state();
      return { northM: v.northM, eastM: v.eastM, upM: v.upM, obstacleStrikes: vehicle.strikes().length };
    },
  };
}
