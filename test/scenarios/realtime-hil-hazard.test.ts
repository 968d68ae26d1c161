// A committed hazard reaches the flight controller: the real-time hazard run (a 60 m mast in the survey
// area, seen on the devices' range rings, attested, committed by f+1 devices) with node 0 flying the
// simulated flight controller (its own process) over MAVLink 2 on a socat pty. Node 0's MAVLink driver
// keeps the committed geofence on its FC, and with it the hazard's keep-out circle, the one every route
// goes round, as a circle exclusion: the FC holds it, and was never breached.

import { describe, expect, it } from 'vitest';
import type { Scenario } from '../../fleet-sim/scenario/scenario.js';
import { realtimeRun } from '../../fleet-sim/realtime/realtime-run.js';
import { geoToLocal } from '../../hal/geo.js';

const origin = { latDeg: 47.397742, lonDeg: 8.545594 }; // the devices' default origin (device.yaml)
const mast = { northM: 30, eastM: 30 };

const s: Scenario = {
  name: 'realtime-hil-hazard',
  seed: 3,
  // 40 s: the hazard is committed about 21 s in (two devices must pass the mast); 30 s left too little under load.
  durationMs: 40_000,
  validators: 4,
  followers: 2,
  mqtt: { latencyMs: 0, jitterMs: 0, loss: 0, duplicate: 0 },
  hil: { nodes: [0], autopilot: 'ardupilot' },
  operatorRoles: ['operator', 'admin'], // geofence.set is an admin's
  faults: [],
  workload: [
    { kind: 'once', at: 300, command: 'geofence.set', args: { polygon: [[-80, -80], [-80, 120], [100, 120], [100, -80]], altMaxM: 60 } },
    { kind: 'once', at: 800, command: 'mission.survey', args: { area: [[0, 0], [0, 60], [60, 60], [60, 0]], spacingM: 12, altM: 20, speedMps: 8 } },
  ],
  expect: { safety: true, hazardsCommittedMin: 1 },
  consensus: { proposeMs: 300, commitWaitMs: 100, gossipMs: 200 },
  livenessBudgetMs: 5_000,
  world: { hazards: [{ ...mast, radiusM: 4, heightM: 60 }] },
};

describe('real-time hardware in the loop with a hazard in the world', () => {
  it('the committed hazard\'s keep-out circle is on node 0\'s flight controller, round the mast, and never breached', async () => {
    const r = await realtimeRun(s, { brokerUrl: null, processes: false, observer: { onEvent: () => undefined } });
    const fc = r.hil[0]?.fence ?? null;
    const why = `scenario ${s.name} seed ${s.seed}: hazards ${JSON.stringify(r.hazards)}; expect ${r.expect.failed.join('; ')}; hil ${JSON.stringify(r.hil)}; flight ${JSON.stringify(r.flight)}; liveness ${JSON.stringify(r.liveness)}`;
    expect(r.safety.ok, why).toBe(true);
    expect(r.expect.failed, why).toEqual([]);
    expect(fc?.vertices, why).toBe(4);
    // One cluster of committed cells, one circle: centred within a cell or two of the mast, its radius
    // the cells' spread plus the 8 m margin routes keep.
    expect(fc?.circles.length, why).toBe(1);
    const [latE7, lonE7, radiusM] = fc?.circles[0] ?? [0, 0, 0];
    const c = geoToLocal(origin, latE7 / 1e7, lonE7 / 1e7);
    console.log(`committed keep-out on node 0's FC: centre ${Math.hypot(c.northM - mast.northM, c.eastM - mast.eastM).toFixed(1)} m from the mast, radius ${radiusM} m`);
    expect(Math.hypot(c.northM - mast.northM, c.eastM - mast.eastM), why).toBeLessThan(8);
    expect(radiusM, why).toBeGreaterThan(8);
    expect(radiusM, why).toBeLessThan(40);
    expect(fc?.breachCount, why).toBe(0);
  }, 150_000);
});
