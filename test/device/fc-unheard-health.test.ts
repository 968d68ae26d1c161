// A device configured to fly a flight controller that never answers: after the 15 s a mission waits for
// the first HEARTBEAT, its /health is failing and says what the port carried (here: nothing). Before,
// "no data" was harmless for good and /health said ok, ready, no reasons, with no FC heard at all. Once
// the FC answers (the simulated ArduPilot on the pty's far end), the reason goes.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SimFlightController } from '../../firmware-bridge/sim-fc/sim-fc.js';
import { openSerial } from '../../firmware-bridge/transport.js';
import { Device } from '../../runtime/device/device.js';
import { noDataGraceMs } from '../../runtime/device/device-health.js';
import { createLogger } from '../../runtime/device/observability.js';
import { mavlinkDeviceRig } from './mavlink-device-rig.js';

interface HealthJson {
  readonly health: string;
  readonly healthReasons: readonly string[];
}

describe('a device whose flight controller never answers', () => {
  it('reports failing on /health after the grace, naming the silent port; the reason goes once the FC answers', { timeout: 60_000 }, async (t) => {
    const { p, pair, parts, cleanup } = await mavlinkDeviceRig(t, 'unheard');
    // Its log, as `log.file` writes it: the FC's return is said there.
    const logFile = p('d1.log');
    const device = new Device(parts, Date.now(), {}, { log: createLogger('d1', 'info', () => ({ height: 0, round: 0 }), logFile) });
    cleanup.push(() => device.stop());
    const startedAt = Date.now();
    await device.start();
    const health = async (): Promise<HealthJson> => (await (await fetch(`http://127.0.0.1:${device.httpPort}/health`)).json()) as HealthJson;

    // Within the grace: nothing to say yet (an FC takes seconds to boot).
    const early = await health();
    expect(early.healthReasons.some((r) => r.startsWith('flight:')), JSON.stringify(early)).toBe(false);
    let last: HealthJson = early;
    for (const deadline = Date.now() + noDataGraceMs + 10_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 250))) {
      last = await health();
      if (last.health === 'failing') break;
    }
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(noDataGraceMs);
    expect(last.health, JSON.stringify(last)).toBe('failing');
    expect(last.healthReasons[0], JSON.stringify(last)).toMatch(new RegExp(`^flight: no data for \\d+\\.?\\d* s \\(.*nothing received on serial:${pair.a.replace(/[/.]/g, '\\$&')}`));

    // Its log says so too, once (within a status tick of /health).
    const lines = (): { event?: string; device?: string; msg: string }[] => readFileSync(logFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { event?: string; device?: string; msg: string });
    const flightLines = (): string[] => lines().filter((l) => l.event === 'hal' && l.device === 'flight').map((l) => l.msg);
    for (const deadline = Date.now() + 5_000; Date.now() < deadline && flightLines().length === 0; ) await new Promise((r) => setTimeout(r, 200));
    expect(flightLines()).toHaveLength(1);
    expect(flightLines()[0]).toMatch(/^flight: no data since the start, 1\d s \(.*nothing received on serial:/);

    // The flight controller comes up on the far end: its heartbeats clear the reason.
    const transport = await openSerial({ path: pair.b, baudRate: 115_200 });
    cleanup.push(() => transport.close());
    const fc = new SimFlightController({ transport, family: 'ardupilot', seed: 3, heartbeatIntervalMs: 500 });
    fc.start();
    cleanup.push(() => fc.stop());
    let now: HealthJson = last;
    for (const deadline = Date.now() + 15_000; Date.now() < deadline && now.healthReasons.some((r) => r.startsWith('flight:')); await new Promise((r) => setTimeout(r, 250))) now = await health();
    expect(now.healthReasons.filter((r) => r.startsWith('flight:')), JSON.stringify(now)).toEqual([]);
    // And its log, that it answers again (it said nothing of either before).
    for (const deadline = Date.now() + 5_000; Date.now() < deadline && flightLines().length < 2; ) await new Promise((r) => setTimeout(r, 200));
    expect(flightLines().slice(1)).toEqual(['flight: answering again']);
  });
});
