// What real-time mode hands each real device: the device.yaml fleet-sim writes carries the scenario's
// router policy (links.policy -> routing), its hazards (world.hazards -> hal.sim.obstacles), battery
// (world.batteryWh -> hal.sim.batteryWh) and pads (world.pads -> hal.sim.startNorthM/EastM), and the
// device runtime's own config loader accepts it.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FleetProcs } from '../../fleet-sim/realtime/fleet-procs.js';
import { loadDeviceConfig } from '../../runtime/config/device-config.js';
import { initCrypto } from '../../runtime/crypto/sodium.js';

describe('real-time mode device configs', () => {
  const fleet = new FleetProcs({
    validators: 4,
    followers: 1,
    brokerUrl: null,
    processes: false,
    policy: { consensus: 'first' },
    obstacles: [{ northM: 50, eastM: 60, radiusM: 10, heightM: 60 }],
    batteryWh: 3,
    pads: { spacingM: 10, columns: 3, origin: [0, 0] },
  });

  beforeAll(async () => {
    await initCrypto();
    await fleet.setup();
  }, 30_000);
  afterAll(async () => {
    await fleet.teardown();
  });

  it('every device gets the scenario router policy, obstacles, battery and pad, in a config the runtime accepts', () => {
    expect(fleet.devices).toHaveLength(5);
    for (const d of fleet.devices) {
      const c = loadDeviceConfig(d.config);
      expect(c.ok, c.ok ? '' : c.error).toBe(true);
      if (!c.ok) continue;
      expect(c.value.routing).toEqual({ consensus: 'first' });
      expect(c.value.hal.driver).toBe('sim');
      expect(c.value.hal.sim.obstacles).toEqual([{ northM: 50, eastM: 60, radiusM: 10, heightM: 60 }]);
      expect(c.value.hal.sim.batteryWh).toBe(3);
      // Three columns going east, rows going south, from [0, 0].
      const pad = [[0, 0], [0, 10], [0, 20], [-10, 0], [-10, 10]][d.index] as number[];
      expect(Math.abs(c.value.hal.sim.startNorthM - (pad[0] as number)) + Math.abs(c.value.hal.sim.startEastM - (pad[1] as number))).toBe(0);
    }
  });
});
