// The endpoint remembers at most 64 other components (peersMax), but always the flight controller it
// is for: an FC forwarding a shared radio network relays the HEARTBEATs of many systems, and when 64 of
// them came first the FC's own were never admitted, so it was never "connected" and an ARM ran to a
// full timeout. Past the cap the component heard longest ago makes room.

import { describe, expect, it } from 'vitest';
import { minimal } from 'node-mavlink';
import { encodeFrame } from '../../firmware-bridge/mavlink/codec.js';
import { MavlinkEndpoint, peersMax } from '../../firmware-bridge/mavlink/endpoint.js';
import { memoryPair } from './memory-pair.js';
import { inMemoryFc, waitFor } from './companion.js';

const heartbeatFrom = (sysid: number, compid = 1): Buffer =>
  encodeFrame(Object.assign(new minimal.Heartbeat(), { type: 2, autopilot: 3, baseMode: 0, customMode: 0, systemStatus: 4, mavlinkVersion: 3 }), { sysid, compid, seq: 0 });
const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);
const tick = (ms = 5): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('the endpoint\'s peer table', () => {
  it('admits a kept component (the FC) after 64 others, and makes room by forgetting those heard longest ago', async () => {
    const [ours, far] = memoryPair();
    const e = new MavlinkEndpoint({ transport: ours, sysid: 245, compid: 191, heartbeat: () => ({ type: 18, autopilot: 8, baseMode: 0, customMode: 0, systemStatus: 4 }) });
    e.keepPeer(1, 1);
    expect(peersMax).toBe(64);
    // Systems 2-65 fill the table; 66-69 come later, one ms or more apart, each taking the place of
    // the one heard longest ago (2-5).
    for (const s of range(2, 65)) far.write(heartbeatFrom(s));
    await tick(10);
    for (const s of range(66, 69)) {
      far.write(heartbeatFrom(s));
      await tick();
    }
    expect(e.heardSystems()).toEqual(range(6, 69));
    far.write(heartbeatFrom(1));
    await tick();
    expect(e.isPeerUp(1, 1)).toBe(true);
    expect(e.heardSystems()).toEqual([1, ...range(7, 69)]); // 6 made room: 64 in all
    // More strangers never push the kept one out.
    for (const s of range(70, 200)) far.write(heartbeatFrom(s));
    await tick(20);
    expect(e.isPeerUp(1, 1)).toBe(true);
    expect(e.heardSystems()).toHaveLength(peersMax);
    expect(e.heardSystems()).toContain(1);
  });

  it('an FC heard after 64 other systems on its link is connected, and arms (the simulated FC in this process)', async () => {
    // The FC's own frames are held back until systems 2-69 were heard, as relayed from a radio network.
    let held = true;
    let toCompanion: ((f: Uint8Array) => void) | null = null;
    const rig = inMemoryFc({
      fromFc: (f, pass) => {
        toCompanion = pass;
        if (!held) pass(f);
      },
    });
    try {
      await waitFor('the FC sending', () => toCompanion !== null, 5_000);
      for (const s of range(2, 69)) toCompanion!(heartbeatFrom(s));
      await waitFor('the others heard', () => rig.endpoint.heardSystems().length === 64, 5_000);
      held = false;
      await waitFor('the FC connected', () => rig.vehicle.connected(), 5_000);
      await waitFor('its position', () => rig.vehicle.telemetry.position !== null, 5_000);
      const r = await rig.vehicle.arm();
      expect(r.ok ? 'armed' : r.error).toBe('armed');
    } finally {
      rig.stop();
    }
  });
});
