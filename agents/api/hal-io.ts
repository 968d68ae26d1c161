// Connects agents to the HAL: reads a DeviceSet into plain AgentInputs (positions in the fleet's local
// frame via hal/geo.ts), and executes agents' actions on the flight controller, turning a refusal into
// an error the scheduler reports. The same code runs on hal/sim drivers and on a device's drivers.

import type { DeviceSet, FlightAction, ImuSample } from '../../hal/devices.js';
import { geoToLocal, type GeoOrigin } from '../../hal/geo.js';
import type { AgentInputs, CommittedView, LinkState } from './agent.js';

export class HalInputReader {
  private lastImuMs = -Infinity;

  constructor(
    private readonly devices: DeviceSet,
    /** The fleet's local-frame origin (the mission origin); cells and geofences are relative to it. */
    private readonly origin: GeoOrigin & { readonly altMslM?: number },
  ) {}

  /** One snapshot; a device that is absent or has no fresh sample simply leaves its input out. */
  read(nowMs: number, extra: { link?: LinkState; committed?: CommittedView } = {}): AgentInputs {
    const d = this.devices;
    const out: { -readonly [K in keyof AgentInputs]: AgentInputs[K] } = { nowMs, ...extra };
    const fix = d.position?.fix();
    const att = d.attitude?.attitude();
    const flight = d.flight?.state();
    // The flight controller says its height is not known (FlightState.heightUnknown): the fix's
    // altitude is that same disowned estimate's, or a receiver's the vehicle does not fly by.
    const heightUnknown = flight?.ok === true && flight.value.heightUnknown !== undefined;
    if (fix?.ok && fix.value.fix !== 'none') {
      const ne = geoToLocal(this.origin, fix.value.latDeg, fix.value.lonDeg);
      const course = (fix.value.courseDeg * Math.PI) / 180;
      const heading = att?.ok ? att.value.yawRad : Number.NaN; // unknown: a course is not a heading (see LocalPosition)
      out.position = {
        timeMs: fix.value.timeMs,
        northM: ne.northM,
        eastM: ne.eastM,
        altM: heightUnknown ? Number.NaN : this.origin.altMslM === undefined ? 0 : fix.value.altMslM - this.origin.altMslM,
        headingRad: heading,
        velocityNorthMps: fix.value.groundSpeedMps * Math.cos(course),
        velocityEastMps: fix.value.groundSpeedMps * Math.sin(course),
      };
    }
    const imu = d.attitude?.imu();
    if (imu?.ok && imu.value.timeMs !== this.lastImuMs) { // another time, not a later one: the clock may step back
      this.lastImuMs = imu.value.timeMs;
      out.imu = [imu.value as ImuSample];
    }
    const battery = d.battery?.state();
    if (battery?.ok) out.battery = battery.value;
    const range = d.range?.readings();
    if (range?.ok) out.range = range.value;
    if (flight?.ok) out.flight = flight.value;
    return out;
  }
}

/** The scheduler's `act` port over a FlightControl: a refused action throws so it is reported. */
export function halActionSink(devices: DeviceSet): (action: FlightAction) => Promise<void> {
  return async (action) => {
    const flight = devices.flight;
    if (!flight) throw new Error('no flight controller fitted');
    const r = await flight.execute(action);
    if (!r.ok) throw new Error(`${r.error.code}: ${r.error.message}`);
  };
}
