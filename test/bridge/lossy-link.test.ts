// The bridge over a bad link: the companion and the simulated FC (its own process) talk through
// two socat pty pairs joined by a relay that loses 10 % of the bytes in bursts. A 20-item mission
// upload completes intact; commands still get through by retrying.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { common } from 'node-mavlink';
import { openSerial, type ByteTransport } from '../../firmware-bridge/transport.js';
import { localToGeo } from '../../hal/geo.js';
import { defaultSimConfig } from '../../hal/sim/sim-config.js';
import { mavCmd, type MavlinkVehicle } from '../../firmware-bridge/mavlink/vehicle.js';
import type { MavlinkEndpoint } from '../../firmware-bridge/mavlink/endpoint.js';
import { startPtyPair, startSimFc, type PtyPair, type SimFcProcess } from '../../firmware-bridge/tools/processes.js';
import { Impairment, startRelay, type Relay } from './lossy-relay.js';
import { Prng } from '../../runtime/lib/prng.js';
import { companion, waitFor } from './companion.js';
import { cliEntry } from '../support/run-cli.js';

const seed = Number(process.env.MURMUR_SEED ?? 11);

describe(`mission upload over a pty link losing 10 % of bytes in bursts (seed ${seed}; replay with MURMUR_SEED=${seed})`, () => {
  let near: PtyPair;
  let far: PtyPair;
  let relay: Relay;
  let fc: SimFcProcess;
  let port: ByteTransport;
  let endpoint: MavlinkEndpoint;
  let vehicle: MavlinkVehicle;

  beforeAll(async () => {
    near = await startPtyPair();
    far = await startPtyPair();
    fc = await startSimFc(['--serial', far.b, '--autopilot', 'ardupilot', '--heartbeat-ms', '200', '--telemetry-hz', '4', '--speed', '4'], cliEntry('sim-fc'));
    relay = await startRelay(near.b, far.a, { lossFraction: 0.1, meanBurstBytes: 32, corruptProbability: 0 }, seed);
    port = await openSerial({ path: near.a, baudRate: 921_600 });
    // More command retries than the default 3: a lost command or ACK is the normal case here. And the FC
    // counts as lost after 10 missed heartbeats (2 s), not 5: a heartbeat is a 21-byte frame, which a
    // 32-byte burst takes about one time in six, and a relay or FC held off the CPU for a few hundred ms
    // (two test files on two loaded cores) took the rest of a 1 s window once (MISSION_START: lost).
    ({ endpoint, vehicle } = companion(port, 200, undefined, { command: { timeoutMs: 700, retries: 8 } }, 10));
  });

  afterAll(async () => {
    vehicle?.close();
    endpoint?.stop();
    await port?.close();
    await relay?.close();
    await fc?.stop();
    await far?.stop();
    await near?.stop();
  });

  it('the relay loses 10 % of bytes in the long run (1 MB through the channel model)', () => {
    const imp = new Impairment({ lossFraction: 0.1, meanBurstBytes: 32, corruptProbability: 0 }, new Prng(seed));
    const kept = imp.pass(new Uint8Array(1_000_000)).length;
    expect(1 - kept / 1_000_000).toBeGreaterThan(0.095);
    expect(1 - kept / 1_000_000).toBeLessThan(0.105);
  });

  it('completes a 20-item upload, and the FC flies the plan it received', async () => {
    await waitFor('FC heartbeat through the lossy relay', () => vehicle.connected(), 10_000);
    const items = Array.from({ length: 20 }, (_, i) => ({ command: mavCmd.navWaypoint, ...localToGeo(defaultSimConfig.origin, 10 * i, 5 * (i % 3)), relAltM: 10 + i }));
    const r = await vehicle.upload(items, { itemTimeoutMs: 300, retries: 15 });
    expect(r.ok, r.ok ? '' : r.error.message).toBe(true);
    if (r.ok) expect(r.value.items).toBe(20);
    // The FC shows it holds the plan: MISSION_CURRENT reports 20 items and it flies the first two.
    // MISSION_ITEM_REACHED is sent once and may be lost; MISSION_CURRENT repeats at 1 Hz.
    let total = 0;
    let current = -1;
    endpoint.onMessage(({ msg }) => {
      if (msg instanceof common.MissionItemReached) current = Math.max(current, msg.seq + 1);
      if (msg instanceof common.MissionCurrent) {
        total = msg.total;
        current = Math.max(current, msg.seq);
      }
    });
    for (const step of [() => vehicle.arm(), () => vehicle.takeoff(5)]) {
      const res = await step();
      // The diagnostics go in the failure message: a CI log may keep only the summary at its end.
      const diagnostics = (): string => JSON.stringify({ endpoint: endpoint.counters(), forward: relay.forward.counters, backward: relay.backward.counters, connected: vehicle.connected(), fcStderr: fc.stderr() });
      expect(res.ok, res.ok ? '' : `${res.error.message}; diagnostics: ${diagnostics()}`).toBe(true);
    }
    await waitFor('MISSION_CURRENT', () => total === 20, 5000);
    await waitFor('takeoff', () => (vehicle.telemetry.position?.relativeAlt ?? 0) > 4000, 10_000);
    const start = await vehicle.startMission();
    expect(start.ok, start.ok ? '' : start.error.message).toBe(true);
    await waitFor('items 0 and 1 flown (current item 2)', () => current >= 2, 15_000);
    const lost = relay.forward.counters.bytesDropped + relay.backward.counters.bytesDropped;
    const bytes = relay.forward.counters.bytesIn + relay.backward.counters.bytesIn;
    expect(lost / bytes).toBeGreaterThan(0.06);
    expect(lost / bytes).toBeLessThan(0.14);
    console.log(`lossy link: ${lost}/${bytes} bytes dropped (${((100 * lost) / bytes).toFixed(1)} %), upload ${r.ok ? `${r.value.elapsedMs} ms, ${r.value.resends} resends` : 'failed'}`);
  });
});
