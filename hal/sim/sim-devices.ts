// Simulated HAL drivers over one SimMultirotor: the same interfaces a device's Linux drivers
// implement, so agents and reflexes run unchanged in fleet-sim. Reads never draw randomness
// (sensors sample inside step), so how often an agent reads cannot change a seeded run.

import { err, ok, type Result } from '../../runtime/lib/result.js';
import {
  deviceError,
  type Attitude,
  type AttitudeSensor,
  type Battery,
  type BatteryState,
  type DeviceError,
  type FlightAction,
  type FlightActionType,
  type FlightControl,
  type FlightMode,
  type FlightState,
  type GnssFix,
  type HomePoint,
  type ImuSample,
  type PositionSensor,
  type RangeReading,
  type RangeSensor,
} from '../devices.js';
import { assertNever } from '../../runtime/lib/assert.js';
import { checkFlightAction, checkReturnAltitude } from '../flight-action.js';
import { geoToLocal, localToGeo } from '../geo.js';
import { modesAfterAction } from '../modes-after.js';
import type { SimMultirotor } from './multirotor.js';

abstract class SimDevice {
  readonly driver = 'sim';
  protected running = false;
  constructor(protected readonly vehicle: SimMultirotor) {}
  start(): Promise<void> {
    this.running = true;
    return Promise.resolve();
  }
  stop(): Promise<void> {
    this.running = false;
    return Promise.resolve();
  }
  protected guard<T>(read: () => T | null): Result<T, DeviceError> {
    if (!this.running) return err(deviceError('stopped', `${this.constructor.name} is not started`));
    const v = read();
    return v === null ? err(deviceError('no-data', 'no sample yet')) : ok(v);
  }
}

export class SimPosition extends SimDevice implements PositionSensor {
  readonly kind = 'position';
  fix(): Result<GnssFix, DeviceError> {
    return this.guard(() => this.vehicle.gnssFix());
  }
}

export class SimAttitude extends SimDevice implements AttitudeSensor {
  readonly kind = 'attitude';
  attitude(): Result<Attitude, DeviceError> {
    return this.guard(() => {
      const a = this.vehicle.attitude();
      return { timeMs: this.vehicle.timeMs(), ...a, rollRateRadps: 0, pitchRateRadps: 0, yawRateRadps: 0 };
    });
  }
  imu(): Result<ImuSample, DeviceError> {
    return this.guard(() => ({ timeMs: this.vehicle.timeMs(), ...this.vehicle.imu() }));
  }
}

export class SimBatteryDevice extends SimDevice implements Battery {
  readonly kind = 'battery';
  state(): Result<BatteryState, DeviceError> {
    return this.guard(() => this.vehicle.batteryState());
  }
}

export class SimRange extends SimDevice implements RangeSensor {
  readonly kind = 'range';
  readings(): Result<readonly RangeReading[], DeviceError> {
    return this.guard(() => {
      const r = this.vehicle.rangeReadings();
      return r.length > 0 ? r : null;
    });
  }
}

export class SimFlight extends SimDevice implements FlightControl {
  readonly kind = 'flight';
  private failsafe = false;

  /** Applies the action at the vehicle's current time; the promise settles at once. */
  execute(action: FlightAction): Promise<Result<void, DeviceError>> {
    return Promise.resolve(this.executeNow(action));
  }

  /** The synchronous form for fleet-sim's deterministic loop. */
  executeNow(action: FlightAction): Result<void, DeviceError> {
    if (!this.running) return err(deviceError('stopped', 'flight control is not started'));
    const bad = checkFlightAction(action);
    if (!bad.ok) return bad;
    const v = this.vehicle;
    let r: Result<void, string>;
    switch (action.type) {
      case 'arm':
        r = v.arm();
        break;
      case 'disarm':
        r = v.disarm();
        break;
      case 'takeoff':
        r = v.takeoff(action.relAltM);
        break;
      case 'goto': {
        const ne = geoToLocal(v.origin, action.target.latDeg, action.target.lonDeg);
        r = v.goto(ne.northM, ne.eastM, action.target.relAltM, action.speedMps);
        break;
      }
      case 'hold':
        r = v.hold();
        break;
      case 'land':
        r = v.land();
        break;
      case 'return-to-launch':
        r = v.returnToLaunch();
        break;
      case 'velocity':
        r = v.velocity(action.northMps, action.eastMps, action.downMps);
        break;
      default:
        return assertNever(action, 'flight action');
    }
    if (r.ok) this.failsafe = false;
    return r.ok ? ok(undefined) : err(deviceError('rejected', r.error));
  }

  private home(): HomePoint {
    const h = this.vehicle.home();
    const g = localToGeo(this.vehicle.origin, h.northM, h.eastM);
    return { latDeg: g.latDeg, lonDeg: g.lonDeg, relAltM: 0, altMslM: this.vehicle.config.origin.altMslM };
  }

  setReturnAltitude(relAltM: number): Promise<Result<void, DeviceError>> {
    return Promise.resolve(this.setReturnAltitudeNow(relAltM));
  }

  setReturnAltitudeNow(relAltM: number): Result<void, DeviceError> {
    if (!this.running) return err(deviceError('stopped', 'flight control is not started'));
    const bad = checkReturnAltitude(relAltM);
    if (!bad.ok) return bad;
    const r = this.vehicle.setReturnAltitude(relAltM);
    return r.ok ? ok(undefined) : err(deviceError('rejected', r.error));
  }

  /** As the simulated multirotor flies them: a goto in guided, a velocity until it lapses into a hold,
   *  a take-off ending as its config says. */
  modesAfter(action: FlightActionType): readonly FlightMode[] | null {
    return modesAfterAction({ takeoff: ['takeoff', this.vehicle.config.takeoffEndsIn], goto: ['guided'] }, action);
  }

  /** A reflex or fleet-sim fault marks a failsafe (cleared by the next accepted action). */
  markFailsafe(): void {
    this.failsafe = true;
  }

  state(): Result<FlightState, DeviceError> {
    return this.guard(() => {
      const s = this.vehicle.state();
      return {
        timeMs: s.timeMs,
        armed: s.armed,
        mode: s.mode,
        landed: s.landed,
        home: this.home(),
        failsafe: this.failsafe,
      };
    });
  }
}

export interface SimDeviceSet {
  readonly position: SimPosition;
  readonly attitude: SimAttitude;
  readonly battery: SimBatteryDevice;
  readonly range: SimRange;
  readonly flight: SimFlight;
}

export function createSimDevices(vehicle: SimMultirotor): SimDeviceSet {
  return {
    position: new SimPosition(vehicle),
    attitude: new SimAttitude(vehicle),
    battery: new SimBatteryDevice(vehicle),
    range: new SimRange(vehicle),
    flight: new SimFlight(vehicle),
  };
}
