// Battery drain from motion: electrical power = hover + drag (airspeed^2) + climb, integrated over
// time; voltage follows a linear open-circuit curve with sag under load.

import type { BatteryState } from '../devices.js';

export interface SimBattery {
  readonly usedWh: number;
  readonly currentA: number;
  readonly voltageV: number;
  readonly consumedMah: number;
}

export interface BatteryModel {
  readonly capacityWh: number;
  readonly cells: number;
  readonly hoverPowerW: number;
  /** Extra power per (m/s)^2 of airspeed. */
  readonly dragPowerWPerMps2: number;
  /** Extra power per m/s of climb. */
  readonly climbPowerWPerMps: number;
  readonly internalOhm: number;
  readonly lowFraction: number;
  readonly criticalFraction: number;
  drain(b: SimBattery, powerW: number, dtS: number): SimBattery;
}

function openCircuitV(model: BatteryModel, remaining: number): number {
  // 3.5 V per cell empty to 4.2 V full: crude, monotonic, good enough for reserve logic.
  return model.cells * (3.5 + 0.7 * Math.max(0, Math.min(1, remaining)));
}

export const defaultBattery: BatteryModel = {
  capacityWh: 100,
  cells: 4,
  hoverPowerW: 180,
  dragPowerWPerMps2: 1.2,
  climbPowerWPerMps: 25,
  internalOhm: 0.03,
  lowFraction: 0.3,
  criticalFraction: 0.15,
  drain(b, powerW, dtS) {
    const usedWh = b.usedWh + (powerW * dtS) / 3600;
    const remaining = 1 - usedWh / this.capacityWh;
    const ocv = openCircuitV(this, remaining);
    const currentA = powerW / ocv;
    return { usedWh, currentA, voltageV: ocv - currentA * this.internalOhm, consumedMah: b.consumedMah + (currentA * dtS * 1000) / 3600 };
  },
};

export function powerW(model: BatteryModel, airspeedMps: number, climbMps: number): number {
  return model.hoverPowerW + model.dragPowerWPerMps2 * airspeedMps * airspeedMps + model.climbPowerWPerMps * Math.max(0, climbMps);
}

export function batteryStateAt(model: BatteryModel, b: SimBattery, timeMs: number): BatteryState {
  const remaining = Math.max(0, 1 - b.usedWh / model.capacityWh);
  const voltageV = b.voltageV > 0 ? b.voltageV : openCircuitV(model, remaining);
  const status = remaining <= model.criticalFraction ? 'critical' : remaining <= model.lowFraction ? 'low' : 'ok';
  return { timeMs, voltageV, cells: model.cells, currentA: b.currentA, remainingFraction: remaining, consumedMah: b.consumedMah, status };
}
