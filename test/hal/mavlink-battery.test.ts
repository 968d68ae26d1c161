// The MAVLink battery driver's reading of BATTERY_STATUS voltages (MAVLink common.xml): cells above the
// pack's count and unknown voltages are UINT16_MAX, cells 11-14 come in voltages_ext (0: none), and a
// pack known only as a whole has its voltage in cell 0.

import { describe, expect, it } from 'vitest';
import type { MavlinkVehicle } from '../../firmware-bridge/mavlink/vehicle.js';
import { MavlinkBattery } from '../../hal/mavlink/mavlink-devices.js';

const none = 65535;
function battery(voltages: number[], voltagesExt: number[] = []): MavlinkBattery {
  const status = { voltages: [...voltages, ...Array<number>(10 - voltages.length).fill(none)], voltagesExt, batteryRemaining: 80, currentBattery: 1000, currentConsumed: 0, chargeState: 1 };
  const vehicle = { telemetry: { battery: status, receivedAtMs: { BATTERY_STATUS: Date.now() } }, silence: () => null } as unknown as MavlinkVehicle;
  return new MavlinkBattery(vehicle);
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
});
