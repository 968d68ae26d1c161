// What real-time mode hands each real device: the device.yaml fleet-sim writes carries the scenario's
// router policy (links.policy -> routing) and its hazards (world.hazards -> hal.sim.obstacles), and the
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
  });

  beforeAll(async () => {
    await initCrypto();
    await fleet.setup();
  }, 30_000);
  afterAll(async () => {
    await fleet.teardown();
  });

  it('every device gets the scenario router policy and obstacles, in a config the runtime accepts', () => {
    expect(fleet.devices).toHaveLength(5);
    for (const d of fleet.devices) {
      const c = loadDeviceConfig(d.config);
      expect(c.ok, c.ok ? '' : c.error).toBe(true);
      if (!c.ok) continue;
      expect(c.value.routing).toEqual({ consensus: 'first' });
      expect(c.value.hal.driver).toBe('sim');
      expect(c.value.hal.sim.obstacles).toEqual([{ northM: 50, eastM: 60, radiusM: 10, heightM: 60 }]);
    }
  });
});
