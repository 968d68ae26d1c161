// The numbers in a flight action, checked at the HAL's edge before any driver acts on them. NaN has
// no wire form: MAVLink's int32 latitude turns it into 0 (a reposition towards 0°N) and its float
// fields into "use the default"; the simulated vehicle would carry it into its state for good.

import { err, ok, type Result } from '../runtime/lib/result.js';
import { assertNever } from '../runtime/lib/assert.js';
import { deviceError, type DeviceError, type FlightAction } from './devices.js';

export function checkFlightAction(a: FlightAction): Result<void, DeviceError> {
  const why = problemOf(a);
  return why === null ? ok(undefined) : err(deviceError('rejected', `${a.type}: ${why}`));
}

/** The return altitude (FlightControl.setReturnAltitude), checked like an action's numbers: a NaN
 *  would reach ArduPilot's RTL_ALT or PX4's RTL_RETURN_ALT as NaN, and no vehicle returns below home. */
export function checkReturnAltitude(relAltM: number): Result<void, DeviceError> {
  const why = finite('relAltM', relAltM) ?? (relAltM < 0 ? `relAltM must be 0 or more (metres above home), got ${relAltM}` : null);
  return why === null ? ok(undefined) : err(deviceError('rejected', `setReturnAltitude: ${why}`));
}

function finite(name: string, v: number): string | null {
  return Number.isFinite(v) ? null : `${name} must be a finite number, got ${v}`;
}

function problemOf(a: FlightAction): string | null {
  switch (a.type) {
    case 'arm':
    case 'disarm':
    case 'hold':
    case 'land':
    case 'return-to-launch':
      return null;
    case 'takeoff':
      return finite('relAltM', a.relAltM);
    case 'goto': {
      const t = a.target;
      const f = finite('target.latDeg', t.latDeg) ?? finite('target.lonDeg', t.lonDeg) ?? finite('target.relAltM', t.relAltM);
      if (f !== null) return f;
      if (Math.abs(t.latDeg) > 90) return `target.latDeg must be within -90..90, got ${t.latDeg}`;
      if (Math.abs(t.lonDeg) > 180) return `target.lonDeg must be within -180..180, got ${t.lonDeg}`;
      if (a.speedMps !== undefined && !(a.speedMps > 0 && Number.isFinite(a.speedMps))) return `speedMps must be above 0, got ${a.speedMps}`;
      return null;
    }
    case 'velocity':
      return finite('northMps', a.northMps) ?? finite('eastMps', a.eastMps) ?? finite('downMps', a.downMps) ?? (a.yawRateRadps === undefined ? null : finite('yawRateRadps', a.yawRateRadps));
    default:
      return assertNever(a, 'flight action');
  }
}
