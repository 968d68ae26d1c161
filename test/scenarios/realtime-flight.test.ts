// Real-time mode applies the scenario's world to the devices and measures the flight section that
// deterministic mode reports: drones start on the scenario's pads, fly with the scenario's small
// battery until their own battery reflex (the mission-reflexes agent) sends them home, and the report
// counts those failsafes from the devices' status, and the geofence breaches from their positions. Each
// device keeps to world.geofence on its own (device.yaml geofence: its executor flies a lane past it up
// to it, its reflexes hold before it). Without radios no envelope arrives through a relay, so the
// multi-hop expectation fails, naming the count. Four devices in this process.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Scenario } from '../../fleet-sim/scenario/scenario.js';
import type { RunEvent } from '../../fleet-sim/report/events.js';
import { realtimeRun } from '../../fleet-sim/realtime/realtime-run.js';

const scenario: Scenario = {
  name: 'realtime-flight',
  seed: 5,
  // The first battery failsafe (a reflex landing or returning a drone) came 19.2 s in at load 8, the
  // waypoints past the fence were logged at 9.7 s: 24 s leave the failsafe a status period and 4 s more.
  // The battery drains on the simulated vehicle's clock from take-off, so load delays it little. It was 30 s.
  durationMs: 24_000,
  validators: 4,
  followers: 0,
  mqtt: { latencyMs: 0, jitterMs: 0, loss: 0, duplicate: 0 },
  faults: [],
  workload: [{ kind: 'once', at: 500, command: 'mission.survey', args: { area: [[0, 0], [0, 200], [120, 200], [120, 0]], spacingM: 20, altM: 20, speedMps: 10 } }],
  // The fence cuts the area at 30 m east: every lane runs past it, and no drone may.
  expect: { safety: true, failsafesMin: 1, geofenceBreachesMax: 0, relayedDeliveriesMin: 1 },
  consensus: { proposeMs: 300, commitWaitMs: 100, gossipMs: 200 },
  livenessBudgetMs: 5_000,
  world: { hazards: [], batteryWh: 1.5, geofence: [[-60, -60], [-60, 30], [200, 30], [200, -60]], pads: { spacingM: 10, columns: 2, origin: [-30, -30] } },
};

describe('real-time mode: world and flight section', () => {
  it('starts on the pads, keeps to the fence, counts battery failsafes, and fails an unmet relay expectation', async () => {
    const events: RunEvent[] = [];
    const logs: string[] = [];
    const dir = mkdtempSync(join(tmpdir(), 'murmur-rt-flight-'));
    const deviceLog = join(dir, 'devices.log');
    const report = await realtimeRun(scenario, { brokerUrl: null, processes: false, observer: { onEvent: (e) => events.push(e) }, log: (l) => logs.push(l), deviceLog });
    const devices = readFileSync(deviceLog, 'utf8');
    rmSync(dir, { recursive: true, force: true });
    const why = `flight ${JSON.stringify(report.flight)}; expect ${report.expect.failed.join('; ')}; unsupported ${report.unsupported.join('; ')}; log ${logs.slice(-4).join(' | ')}`;
    expect(report.safety.ok, why).toBe(true);
    // The pads: 10 m apart in two columns from [-30, -30], rows going south.
    const first = events.find((e): e is Extract<RunEvent, { t: 'frame' }> => e.t === 'frame');
    const pads = [
      [-30, -30],
      [-30, -20],
      [-40, -30],
      [-40, -20],
    ];
    expect(first?.nodes.length, why).toBe(4);
    first?.nodes.forEach((x, i) => expect(Math.hypot(x.n - pads[i]![0]!, x.e - pads[i]![1]!), `drone ${i} at [${x.n}, ${x.e}]`).toBeLessThan(2.5)); // GNSS noise
    // 1.5 Wh lasts seconds at full power: the devices' own reflexes send them home or down.
    expect(report.flight.failsafes, why).toBeGreaterThanOrEqual(1);
    expect(report.expect.failed.some((f) => f.startsWith('failsafesMin')), why).toBe(false);
    // Lanes run to 200 m east and the fence stands at 30 m: the drones flew, and none crossed it.
    const frames = events.filter((e): e is Extract<RunEvent, { t: 'frame' }> => e.t === 'frame');
    const eastMost = Math.max(...frames.flatMap((f) => f.nodes.map((x) => x.e)));
    expect(frames.some((f) => f.nodes.some((x) => x.u > 5)), why).toBe(true);
    expect(eastMost, why).toBeLessThan(30);
    // The fence did the keeping: the drones were sent waypoints past it (east of 30 m) and flew their
    // legs up to it, or skipped them.
    const pastFenceEast = [...devices.matchAll(/waypoint \d+ \[-?[\d.]+, (-?[\d.]+)\] is outside this device's geofence/g)].map((m) => Number(m[1]));
    expect(pastFenceEast.length, why).toBeGreaterThan(0);
    expect(Math.max(...pastFenceEast), why).toBeGreaterThan(30);
    expect(report.flight.geofenceBreaches, why).toBe(0);
    // Every device runs here on simulated hardware: separation comes from the vehicles, not GNSS.
    expect(report.flight.separationFrom, why).toBe('vehicles');
    expect(report.flight.minSeparationM, why).not.toBeNull();
    expect(report.expect.failed.some((f) => f.startsWith('geofenceBreachesMax')), why).toBe(false);
    expect(report.unsupported, why).toEqual([]);
    expect(report.expect.failed, why).toContain('relayedDeliveriesMin: 0 envelopes first delivered through a radio relay < 1');
    expect(report.radio, why).toBeNull();
    expect(report.expect.met).toBe(false);
  }, 120_000);
});
