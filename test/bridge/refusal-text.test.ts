// A refusal's reason comes in a STATUSTEXT, not in the COMMAND_ACK (which says only DENIED or FAILED).
// ArduPilot sends the text first; PX4 queues its log text apart from the ACK, so the text can come
// second. MavlinkVehicle waits a moment for it either way. The simulated FC (ArduPilot) runs in this
// process, joined to the companion in memory; the test holds every STATUSTEXT back 80 ms, past the ACK.

import { afterEach, describe, expect, it } from 'vitest';
import { localToGeo } from '../../hal/geo.js';
import { defaultSimConfig } from '../../hal/sim/sim-config.js';
import { SimFlightController } from '../../firmware-bridge/sim-fc/sim-fc.js';
import type { ByteTransport } from '../../firmware-bridge/transport.js';
import { companion, waitFor } from './companion.js';
import { memoryPair } from './memory-pair.js';

const cleanup: Array<() => void> = [];
afterEach(() => cleanup.splice(0).forEach((f) => f()));

/** Whether a MAVLink 2 frame is a STATUSTEXT (253). */
function isStatusText(frame: Uint8Array): boolean {
  return frame[0] === 0xfd && ((frame[7] ?? 0) | ((frame[8] ?? 0) << 8) | ((frame[9] ?? 0) << 16)) === 253;
}

describe('a refusal explained after its ACK', () => {
  it('carries the PreArm text that came 80 ms after the DENIED', async () => {
    const [a, b] = memoryPair();
    const fcSide: ByteTransport = { ...b, write: (bytes) => (isStatusText(bytes) ? void setTimeout(() => b.write(bytes), 80) : b.write(bytes)) };
    const fc = new SimFlightController({ transport: fcSide, family: 'ardupilot', seed: 1, heartbeatIntervalMs: 200, speedFactor: 4 });
    fc.start();
    const { endpoint, vehicle } = companion(a, 200);
    cleanup.push(() => {
      vehicle.close();
      endpoint.stop();
      fc.stop();
    });
    await waitFor('the FC heard', () => vehicle.connected(), 10_000);
    // A fence 110 m north of the vehicle: ArduPilot's fence pre-arm check refuses.
    const origin = defaultSimConfig.origin;
    const polygon = Array.from({ length: 4 }, (_, i) => localToGeo(origin, 110 + 20 * Math.cos((Math.PI * i) / 2), 20 * Math.sin((Math.PI * i) / 2)));
    const up = await vehicle.uploadFence({ polygon, altMaxM: 25 });
    expect(up.ok ? 'uploaded' : up.error.message).toBe('uploaded');
    const arm = await vehicle.arm();
    expect(arm.ok ? 'armed' : arm.error.message).toBe('COMPONENT_ARM_DISARM: DENIED (the flight controller said "PreArm: vehicle outside fence")');
  }, 30_000);
});
