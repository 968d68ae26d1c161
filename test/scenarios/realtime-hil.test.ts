// Hardware in the loop in real time: node 0 drives the simulated flight controller (its own process,
// firmware-bridge/sim-fc) over MAVLink 2 on a socat pty through the HAL's MAVLink driver, while the
// other nodes fly the simulated multirotor. The committed survey is flown by the FC: node 0 takes off,
// leaves home and makes progress on its lane, all from the FC's MAVLink telemetry. The geofence the
// swarm committed first is on the FC as its own failsafe: node 0's MAVLink driver uploaded it.

import { describe, expect, it } from 'vitest';
import type { Scenario } from '../../fleet-sim/scenario/scenario.js';
import type { RunEvent } from '../../fleet-sim/report/events.js';
import { realtimeRun } from '../../fleet-sim/realtime/realtime-run.js';
import { localToGeo } from '../../hal/geo.js';
import { cliRoot } from '../support/run-cli.js';

type Frame = Extract<RunEvent, { t: 'frame' }>;

/** Round the pads (south-west of the origin) and the survey area, in metres [north, east]. */
const fence: [number, number][] = [[-80, -80], [-80, 120], [100, 120], [100, -80]];
const origin = { latDeg: 47.397742, lonDeg: 8.545594 }; // the devices' default origin (device.yaml)

const s: Scenario = {
  name: 'realtime-hil',
  seed: 4,
  // Node 0 was above 8 m 4.6 s in, on its lane ("active N%") at 6.4 s and 20 m from home at 9.9 s, on a
  // machine at load 10; at load 22, at 5.1, 7.2 and 11.1 s: 16 s leave 5 s past the slowest.
  durationMs: 16_000,
  validators: 4,
  followers: 0,
  mqtt: { latencyMs: 0, jitterMs: 0, loss: 0, duplicate: 0 },
  hil: { nodes: [0], autopilot: 'px4' },
  operatorRoles: ['operator', 'admin'], // geofence.set is an admin's
  faults: [],
  workload: [
    { kind: 'once', at: 500, command: 'geofence.set', args: { polygon: fence, altMaxM: 50 } },
    { kind: 'once', at: 1_000, command: 'mission.survey', args: { area: [[0, 0], [0, 60], [40, 60], [40, 0]], spacingM: 15, altM: 10, speedMps: 8 } },
  ],
  expect: { safety: true },
  consensus: { proposeMs: 300, commitWaitMs: 100, gossipMs: 200 },
  livenessBudgetMs: 5_000,
};

describe('real-time hardware in the loop (sim-fc over MAVLink on a pty)', () => {
  it('the committed survey is flown by the simulated flight controller', async () => {
    const events: RunEvent[] = [];
    const r = await realtimeRun(s, { brokerUrl: null, processes: false, launchRoot: cliRoot(), observer: { onEvent: (e) => events.push(e) } });
    const frames = events.filter((e): e is Frame => e.t === 'frame');
    const n0 = frames.map((f) => f.nodes[0]).filter((n) => n !== undefined);
    const track = n0.filter((_, k) => k % 8 === 0).map((n) => `${n.n.toFixed(0)},${n.e.toFixed(0)},${n.u.toFixed(0)} ${n.mode}`).join(' | ');
    const replay = `scenario ${s.name} seed ${s.seed}: ${JSON.stringify({ liveness: r.liveness, hil: r.hil })}; node 0: ${track}`;
    expect(r.safety.ok, replay).toBe(true);
    expect(r.hil.map((h) => [h.node, h.autopilot]), replay).toEqual([[0, 'px4']]);
    expect(Math.max(...n0.map((n) => n.u)), replay).toBeGreaterThan(8); // took off to the survey's 10 m
    expect(Math.max(...n0.map((n) => Math.hypot(n.n, n.e))), replay).toBeGreaterThan(20); // left home along its lane
    expect(n0.some((n) => /active [1-9]\d*%|done|complete/.test(n.mode)), replay).toBe(true);
    // The committed fence, vertex for vertex at 1e-7 degrees, with its ceiling, switched on, unbreached.
    const e7 = fence.map(([n, e]) => localToGeo(origin, n, e)).map((g) => [Math.round(g.latDeg * 1e7), Math.round(g.lonDeg * 1e7)]);
    expect(r.hil[0]?.fence, replay).toMatchObject({ vertices: 4, polygonE7: e7, altMaxM: 50, enabled: true, breached: null, breachCount: 0 });
  }, 120_000);
});
