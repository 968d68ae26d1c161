// The MAVLink battery driver's reading of BATTERY_STATUS voltages (MAVLink common.xml): cells above the
// pack's count and unknown voltages are UINT16_MAX, cells 11-14 come in voltages_ext (0: none), and a
// pack known only as a whole has its voltage in cell 0.

import { describe, expect, it } from 'vitest';
import type { MavlinkVehicle } from '../../firmware-bridge/mavlink/vehicle.js';
import { MavlinkBattery } from '../../hal/mavlink/mavlink-devices.js';
import { telemetryAnomalyAgent } from '../../agents/builtin/telemetry-anomaly.js';

const none = 65535;
function battery(voltages: number[], voltagesExt: number[] = [], cells?: number): MavlinkBattery {
  const status = { voltages: [...voltages, ...Array<number>(10 - voltages.length).fill(none)], voltagesExt, batteryRemaining: 80, currentBattery: 1000, currentConsumed: 0, chargeState: 1 };
  const vehicle = { telemetry: { battery: status, receivedAtMs: { BATTERY_STATUS: Date.now() } }, silence: () => null } as unknown as MavlinkVehicle;
  return new MavlinkBattery(vehicle, undefined, cells);
}

async function read(b: MavlinkBattery) {
  await b.start();
  const r = b.state();
  if (!r.ok) throw new Error(r.error.message);
  return r.value;
}

describe('MavlinkBattery', () => {
  it('an unknown pack voltage (every cell UINT16_MAX) is NaN, not 0 V', async () => {
    // Read as 0 V, the telemetry model saw an empty pack and landed the drone.
    expect((await read(battery([]))).voltageV).toBeNaN();
  });

  it('per-cell voltages give the pack voltage and its cell count, cells 11 to 14 included', async () => {
    expect(await read(battery([4100, 4100, 4100]))).toMatchObject({ voltageV: 12.3, cells: 3 });
    const twelve = await read(battery(Array<number>(10).fill(4000), [4000, 4000]));
    expect(twelve).toMatchObject({ cells: 12 });
    expect(twelve.voltageV).toBeCloseTo(48, 6);
  });

  it('a pack known only as a whole gives its voltage and no cell count', async () => {
    const whole = await read(battery([22_200]));
    expect(whole.voltageV).toBeCloseTo(22.2, 6);
    expect(whole.cells).toBeUndefined();
    const big = await read(battery([65_534, 10_000])); // above 65.534 V: the rest in cell 1
    expect(big.voltageV).toBeCloseTo(75.534, 6);
    expect(big.cells).toBeUndefined();
  });

  it('a pack known only as a whole takes its cell count from hal.mavlink.batteryCells, and the telemetry agent judges volts per cell by it', async () => {
    // A 6S pack run down to 19.2 V (3.2 V a cell, below the rules' severe 3.3 V) behind ArduPilot
    // without cell monitoring: taken for the agent's default 4S, it read 4.8 V a cell and was never
    // landed. Configured, the driver gives 6 cells and the agent lands the drone; without the setting
    // the agent says what it assumed and which setting fixes it.
    const judge = async (cells?: number): Promise<{ actions: string[]; reasons: string }> => {
      const b = battery([19_200], [], cells);
      await b.start();
      const a = telemetryAnomalyAgent({ deviceId: 'v0', prefer: ['rules'] });
      let s = await a.start({ nowMs: 0, restored: undefined });
      const actions: string[] = [];
      for (let t = 0; t < 3_000; t += 100) {
        const r = b.state();
        if (!r.ok) throw new Error(r.error.message);
        const out = await a.tick(s, { nowMs: t, imu: [{ timeMs: t, accelMps2: { x: 0, y: 0, z: -9.81 }, gyroRadps: { x: 0, y: 0, z: 0 } }], battery: { ...r.value, timeMs: t }, flight: { timeMs: t, armed: true, mode: 'mission', landed: 'in-air', home: null, failsafe: false } });
        s = out.state;
        for (const o of out.outputs ?? []) if (o.type === 'action') actions.push(o.action.type);
      }
      const reasons = a.engineReasons?.().join(' ') ?? '';
      await a.stop?.();
      return { actions, reasons };
    };
    const configured = await judge(6);
    expect(configured.actions).toEqual(['land']);
    expect(configured.reasons).not.toContain('cell count unknown');
    const unknown = await judge();
    expect(unknown.actions).toEqual([]);
    expect(unknown.reasons).toContain("battery cell count unknown (the flight controller reports only the pack's total voltage): taken as 4S; set hal.mavlink.batteryCells");
    // Per-cell voltages from the FC win over the setting.
    expect((await read(battery([3200, 3200, 3200], [], 6))).cells).toBe(3);
  });
});
