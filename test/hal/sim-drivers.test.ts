// The simulated drivers (fleet-sim's devices) against every interface's conformance suite.

import { Prng } from '../../runtime/lib/prng.js';
import { SimMultirotor } from '../../hal/sim/multirotor.js';
import { createSimDevices } from '../../hal/sim/sim-devices.js';
import { SimRadioMedium } from '../../hal/sim/sim-radio.js';
import { SimLed } from '../../hal/sim/sim-led.js';
import type { Device } from '../../hal/devices.js';
import { attitudeConformance, batteryConformance, flightConformance, ledConformance, positionConformance, radioConformance, rangeConformance, type Harness } from './conformance.js';

function simHarness<T extends Device>(pick: (d: ReturnType<typeof createSimDevices>) => T): () => Promise<Harness<T>> {
  return () => {
    const vehicle = new SimMultirotor({ obstacles: [{ northM: 20, eastM: 0, radiusM: 2, heightM: 30 }] }, new Prng(7), 0);
    let t = 0;
    return Promise.resolve({
      device: pick(createSimDevices(vehicle)),
      advance: (ms: number) => {
        t += ms;
        vehicle.step(t);
        return Promise.resolve();
      },
      close: () => Promise.resolve(),
    });
  };
}

positionConformance('sim', simHarness((d) => d.position));
attitudeConformance('sim', simHarness((d) => d.attitude));
batteryConformance('sim', simHarness((d) => d.battery));
rangeConformance('sim', simHarness((d) => d.range));
flightConformance('sim', simHarness((d) => d.flight));

radioConformance('sim', () => {
  const medium = new SimRadioMedium({ prng: new Prng(3), mtuBytes: 252, lossRate: 0, latencyMs: 5, rangeM: 800, inFlightMax: 64 });
  const a = medium.attach('a', () => ({ northM: 0, eastM: 0 }));
  const b = medium.attach('b', () => ({ northM: 100, eastM: 0 }));
  let t = 0;
  return Promise.resolve({
    device: a,
    peer: b,
    advance: (ms: number) => {
      t += ms;
      medium.step(t);
      return Promise.resolve();
    },
    close: () => Promise.resolve(),
  });
});

ledConformance('sim', () => {
  const led = new SimLed(() => 0);
  return Promise.resolve({ device: led, advance: () => Promise.resolve(), close: () => Promise.resolve() });
});
