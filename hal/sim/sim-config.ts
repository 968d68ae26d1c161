// Parameters of a simulated multirotor: limits, battery, wind, GNSS and range sensor, obstacles.
// Defaults describe a 4S quadcopter of about 1.5 kg with a 100 Wh pack.

import type { GeoOrigin } from '../geo.js';
import { defaultBattery, type BatteryModel } from './battery-model.js';
import type { Obstacle } from './obstacles.js';

export interface MultirotorLimits {
  readonly horizSpeedMpsMax: number;
  readonly cruiseMps: number;
  readonly accelMps2Max: number;
  readonly climbMpsMax: number;
  readonly descentMpsMax: number;
  readonly altitudeMMax: number;
  readonly returnAltM: number;
}

export interface WindModel {
  readonly northMps: number;
  readonly eastMps: number;
  /** Standard deviation of the gust process, m/s. */
  readonly gustStdMps: number;
}

export interface GnssModel {
  readonly rateHz: number;
  /** White noise per sample, metres (1 sigma). */
  readonly noiseStdM: number;
  /** Random-walk step of the slowly drifting bias, metres. */
  readonly biasWalkStdM: number;
}

export interface RangeModel {
  readonly rateHz: number;
  /** Beam directions relative to the heading, radians clockwise. */
  readonly beamsRad: readonly number[];
  readonly minM: number;
  readonly maxM: number;
}

export interface SimVehicleConfig {
  readonly origin: GeoOrigin & { readonly altMslM: number };
  readonly limits: MultirotorLimits;
  readonly battery: BatteryModel;
  readonly wind: WindModel;
  readonly gnss: GnssModel;
  readonly range: RangeModel;
  readonly obstacles: readonly Obstacle[];
  /** The mode a take-off that reached its altitude leaves the vehicle in: PX4 holds (AUTO.LOITER),
   *  ArduCopter stays in the GUIDED it took off in (the simulated FC sets it per autopilot). */
  readonly takeoffEndsIn: 'hold' | 'guided';
}

export const defaultSimConfig: SimVehicleConfig = {
  origin: { latDeg: 47.397742, lonDeg: 8.545594, altMslM: 488 },
  limits: { horizSpeedMpsMax: 12, cruiseMps: 8, accelMps2Max: 4, climbMpsMax: 3, descentMpsMax: 1.5, altitudeMMax: 120, returnAltM: 30 },
  battery: defaultBattery,
  wind: { northMps: 0, eastMps: 0, gustStdMps: 0 },
  gnss: { rateHz: 5, noiseStdM: 0.5, biasWalkStdM: 0.05 },
  range: { rateHz: 10, beamsRad: [0, Math.PI / 2, Math.PI, -Math.PI / 2], minM: 0.2, maxM: 40 },
  obstacles: [],
  takeoffEndsIn: 'hold',
};
