// Hardware in the loop in real time: node 0 drives the simulated flight controller (its own process,
// firmware-bridge/sim-fc) over MAVLink 2 on a socat pty through the HAL's MAVLink driver, while the
// other nodes fly the simulated multirotor. The committed survey is flown by the FC: node 0 takes off,
// leaves home and makes progress on its lane, all from the FC's MAVLink telemetry.

import { describe, expect, it } from 'vitest';
import type { Scenario } from '../../fleet-sim/scenario/scenario.js';
import type { RunEvent } from '../../fleet-sim/report/events.js';
import { realtimeRun } from '../../fleet-sim/realtime/realtime-run.js';

type Frame = Extract<RunEvent, { t: 'frame' }>;

const s: Scenario = {
  name: 'realtime-hil',
  seed: 4,
  durationMs: 30_000,
  validators: 4,
  followers: 0,
  mqtt: { latencyMs: 0, jitterMs: 0, loss: 0, duplicate: 0 },
  hil: { nodes: [0], autopilot: 'px4' },
  faults: [],
  workload: [{ kind: 'once', at: 1_000, command: 'mission.survey', args: { area: [[0, 0], [0, 60], [40, 60], [40, 0]], spacingM: 15, altM: 10, speedMps: 8 } }],
  expect: { safety: true },
  consensus: { proposeMs: 300, commitWaitMs: 100, gossipMs: 200 },
  livenessBudgetMs: 5_000,
};

describe('real-time hardware in the loop (sim-fc over MAVLink on a pty)', () => {
  it('the committed survey is flown by the simulated flight controller', async () => {
    const events: RunEvent[] = [];
    const r = await realtimeRun(s, { brokerUrl: null, processes: false, observer: { onEvent: (e) => events.push(e) } });
    const frames = events.filter((e): e is Frame => e.t === 'frame');
    const n0 = frames.map((f) => f.nodes[0]).filter((n) => n !== undefined);
    const track = n0.filter((_, k) => k % 8 === 0).map((n) => `${n.n.toFixed(0)},${n.e.toFixed(0)},${n.u.toFixed(0)} ${n.mode}`).join(' | ');
    const replay = `scenario ${s.name} seed ${s.seed}: ${JSON.stringify({ liveness: r.liveness, hil: r.hil })}; node 0: ${track}`;
    expect(r.safety.ok, replay).toBe(true);
    expect(r.hil.map((h) => [h.node, h.autopilot]), replay).toEqual([[0, 'px4']]);
    expect(Math.max(...n0.map((n) => n.u)), replay).toBeGreaterThan(8); // took off to the survey's 10 m
    expect(Math.max(...n0.map((n) => Math.hypot(n.n, n.e))), replay).toBeGreaterThan(20); // left home along its lane
    expect(n0.some((n) => /active [1-9]\d*%|done|complete/.test(n.mode)), replay).toBe(true);
  }, 120_000);
});
