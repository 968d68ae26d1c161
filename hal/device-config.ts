// The devices section of a device's configuration: which driver serves each HAL interface, and
// openDevices() that builds them. Sim drivers share one SimMultirotor (fleet-sim hands it in);
// mavlink drivers share one connection to the flight controller.

import { z } from 'zod';
import { err, ok, type Result } from '../runtime/lib/result.js';
import type { DeviceSet } from './devices.js';
import { createSimDevices } from './sim/sim-devices.js';
import type { SimMultirotor } from './sim/multirotor.js';
import { SimLed } from './sim/sim-led.js';
import type { SimRadioMedium } from './sim/sim-radio.js';
import { NmeaGps } from './linux/nmea-gps.js';
import { SysfsLed } from './linux/sysfs-led.js';
import { createMavlinkDevices } from './mavlink/mavlink-devices.js';
import { openSerial, openUdp, udpPortCompanion, type ByteTransport } from '../firmware-bridge/transport.js';
import { MavlinkEndpoint } from '../firmware-bridge/mavlink/endpoint.js';
import { MavlinkVehicle } from '../firmware-bridge/mavlink/vehicle.js';

const sim = z.object({ driver: z.literal('sim') }).strict();
const mavlink = z.object({ driver: z.literal('mavlink') }).strict();

export const halDevicesSchema = z
  .object({
    position: z.discriminatedUnion('driver', [sim, mavlink, z.object({ driver: z.literal('nmea'), port: z.string().min(1), baud: z.number().int().min(1200).max(921_600).default(9600) }).strict()]).optional(),
    attitude: z.discriminatedUnion('driver', [sim, mavlink]).optional(),
    battery: z.discriminatedUnion('driver', [sim, mavlink]).optional(),
    range: sim.optional(),
    flight: z.discriminatedUnion('driver', [sim, mavlink]).optional(),
    radio: sim.optional(),
    led: z.discriminatedUnion('driver', [sim, z.object({ driver: z.literal('sysfs'), name: z.string().regex(/^[A-Za-z0-9_:.-]+$/), classDir: z.string().optional() }).strict()]).optional(),
    /** The flight controller link, needed when any device uses the mavlink driver. */
    mavlink: z
      .object({
        serial: z.object({ path: z.string().min(1), baud: z.number().int().min(1200).max(4_000_000).default(921_600) }).strict().optional(),
        udp: z.object({ localPort: z.number().int().min(0).max(65_535).default(udpPortCompanion), remotePort: z.number().int().min(1).max(65_535).optional() }).strict().optional(),
        autopilot: z.enum(['px4', 'ardupilot']).optional(),
        targetSysid: z.number().int().min(1).max(255).default(1),
        sysid: z.number().int().min(1).max(255).default(245),
        compid: z.number().int().min(1).max(255).default(191),
      })
      .strict()
      .refine((m) => (m.serial === undefined) !== (m.udp === undefined), { message: 'set exactly one of mavlink.serial or mavlink.udp' })
      .optional(),
  })
  .strict();

export type HalDevicesConfig = z.infer<typeof halDevicesSchema>;

export interface OpenContext {
  /** The simulated vehicle for 'sim' drivers (fleet-sim or `hal.driver: sim`). */
  readonly vehicle?: SimMultirotor;
  readonly radioMedium?: SimRadioMedium;
  readonly nowMs?: () => number;
}

export interface OpenDevices {
  readonly devices: DeviceSet;
  close(): Promise<void>;
}

/** Builds every configured device (not started). Errors name the field and what to do. */
export async function openDevices(raw: unknown, ctx: OpenContext = {}): Promise<Result<OpenDevices, string>> {
  const parsed = halDevicesSchema.safeParse(raw);
  if (!parsed.success) {
    const i = parsed.error.issues[0];
    return err(`devices.${i?.path.join('.') ?? ''}: ${i?.message ?? 'invalid'}`);
  }
  const c = parsed.data;
  const wantsSim = [c.position, c.attitude, c.battery, c.range, c.flight, c.radio, c.led].some((d) => d?.driver === 'sim');
  if (wantsSim && !ctx.vehicle && [c.position, c.attitude, c.battery, c.range, c.flight].some((d) => d?.driver === 'sim')) {
    return err('devices: a sim driver needs the simulated vehicle (run under fleet-sim or set hal.driver: sim)');
  }
  const usesMavlink = [c.position, c.attitude, c.battery, c.flight].some((d) => d?.driver === 'mavlink');
  if (usesMavlink && !c.mavlink) return err('devices.mavlink: a device uses the mavlink driver; set mavlink.serial or mavlink.udp');
  const closers: Array<() => Promise<void>> = [];
  let mav: ReturnType<typeof createMavlinkDevices> | null = null;
  if (usesMavlink && c.mavlink) {
    const m = c.mavlink;
    let transport: ByteTransport;
    try {
      transport = m.serial ? await openSerial({ path: m.serial.path, baudRate: m.serial.baud }) : await openUdp({ localPort: m.udp?.localPort ?? udpPortCompanion, ...(m.udp?.remotePort !== undefined ? { remotePort: m.udp.remotePort } : {}) });
    } catch (e) {
      return err(`devices.mavlink: ${(e as Error).message}`);
    }
    const endpoint = new MavlinkEndpoint({ transport, sysid: m.sysid, compid: m.compid, heartbeat: () => ({ type: 18, autopilot: 8, baseMode: 0, customMode: 0, systemStatus: 4 }) });
    const vehicle = new MavlinkVehicle(endpoint, { target: { sysid: m.targetSysid, compid: 1 }, ...(m.autopilot ? { family: m.autopilot } : {}) });
    endpoint.start();
    closers.push(async () => {
      vehicle.close();
      endpoint.stop();
      await transport.close();
    });
    mav = createMavlinkDevices(vehicle);
  }
  const s = ctx.vehicle ? createSimDevices(ctx.vehicle) : null;
  const pick = <K extends 'position' | 'attitude' | 'battery' | 'flight'>(k: K, driver: string | undefined) => (driver === 'sim' ? s?.[k] : driver === 'mavlink' ? mav?.[k] : undefined);
  const devices: { -readonly [K in keyof DeviceSet]: DeviceSet[K] } = {};
  const position = c.position?.driver === 'nmea' ? new NmeaGps({ open: () => openSerial({ path: (c.position as { port: string }).port, baudRate: (c.position as { baud: number }).baud }) }) : pick('position', c.position?.driver);
  if (position) devices.position = position;
  const attitude = pick('attitude', c.attitude?.driver);
  if (attitude) devices.attitude = attitude;
  const battery = pick('battery', c.battery?.driver);
  if (battery) devices.battery = battery;
  const flight = pick('flight', c.flight?.driver);
  if (flight) devices.flight = flight;
  if (c.range?.driver === 'sim' && s) devices.range = s.range;
  if (c.radio?.driver === 'sim') {
    if (!ctx.radioMedium || !ctx.vehicle) return err('devices.radio: the sim radio needs fleet-sim\'s radio medium');
    const v = ctx.vehicle;
    devices.radio = ctx.radioMedium.attach('radio', () => v.state());
  }
  if (c.led?.driver === 'sim') devices.led = new SimLed(ctx.nowMs ?? Date.now);
  else if (c.led?.driver === 'sysfs') devices.led = new SysfsLed({ name: c.led.name, ...(c.led.classDir ? { classDir: c.led.classDir } : {}) });
  return ok({
    devices,
    close: async () => {
      for (const d of Object.values(devices)) await d.stop();
      for (const f of closers) await f();
    },
  });
}
