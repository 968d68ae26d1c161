// A real hazard in real-time mode: a 60 m mast stands in the survey area, every device's simulated
// vehicle carries the range ring the hazard model was trained on (hal.sim.obstacles in its device.yaml),
// the devices' own hazard agents attest what they see, the swarm commits the cells once f+1 devices did,
// and each device's status lists them; the report also says how much of the area was flown over. Six
// devices in this process over the embedded aedes broker, one of them a liar (fake-hazard). The liar flies
// the simulated flight controller (its own process) over MAVLink 2 on a socat pty: its MAVLink driver
// keeps the committed geofence on the FC and with it the hazard's keep-out circle, the one every route
// goes round, as a circle exclusion; the FC holds it and was never breached.

import { describe, expect, it } from 'vitest';
import type { Scenario } from '../../fleet-sim/scenario/scenario.js';
import type { RunEvent } from '../../fleet-sim/report/events.js';
import { realtimeRun } from '../../fleet-sim/realtime/realtime-run.js';
import { geoToLocal } from '../../hal/geo.js';
import { cliRoot } from '../support/run-cli.js';

const origin = { latDeg: 47.397742, lonDeg: 8.545594 }; // the devices' default origin (device.yaml)
// Near the area's west edge, which faces the pads (south-west, 20-30 m off): the drones bound for the
// lanes at 30-54 m north pass it on their way. At the area's centre (30, 30) it was committed about 19 s
// in, here 12.5 s (at load 14). Not nearer the liar's lane (6 m north) or its home (the origin): the FC
// must be outside the keep-out circle (15-18 m) when it arrives; at (18, 18) the liar was inside it once.
const mast = { northM: 30, eastM: 10 };

const scenario: Scenario = {
  name: 'realtime-hazard',
  seed: 3,
  // The hazard was committed 12.5 s in at load 14 (two devices must pass the mast): 26 s leave about
  // twice that. The liar's 3 x 20 lies need 22 s from 2 s on; it lies on a one-second beat. It was 36 s.
  durationMs: 26_000,
  validators: 4,
  followers: 2,
  mqtt: { latencyMs: 0, jitterMs: 0, loss: 0, duplicate: 0 },
  // The liar flies the simulated FC: a device on MAVLink has no simulated range ring, and its own hazard
  // agent is silenced anyway, so every honest device still sees the mast (on node 0 the two lanes past
  // the mast could both go to a blind drone, and nothing was committed).
  hil: { nodes: [5], autopilot: 'ardupilot' },
  operatorRoles: ['operator', 'admin'], // geofence.set is an admin's
  // At 10 m: at 20 m the climb alone took 7 s. Not faster than 8 m/s: at 12 m/s the mast was in the
  // beams too briefly for the three scans a cell needs, and once under load nothing was committed.
  workload: [
    { kind: 'once', at: 300, command: 'geofence.set', args: { polygon: [[-80, -80], [-80, 120], [100, 120], [100, -80]], altMaxM: 60 } },
    { kind: 'once', at: 800, command: 'mission.survey', args: { area: [[0, 0], [0, 60], [60, 60], [60, 0]], spacingM: 12, altM: 10, speedMps: 8 } },
  ],
  // The second follower lies from 2 s on: confident sightings of three cells where nothing stands,
  // signed with its real key (its own hazard agent is silenced). Alone (f + 1 = 2), it must never get
  // one committed; the five honest devices still see the mast.
  faults: [{ at: 2_000, kind: 'byzantine', node: 5, behavior: 'fake-hazard' }],
  expect: { safety: true, hazardsCommittedMin: 1, hazardsCommittedMax: 1 },
  consensus: { proposeMs: 300, commitWaitMs: 100, gossipMs: 200 },
  livenessBudgetMs: 5_000,
  world: { hazards: [{ ...mast, radiusM: 4, heightM: 60 }] },
};

describe('real-time mode with a hazard in the world', () => {
  it('the devices see the mast on their range rings, attest it, and commit it; nothing else is committed', async () => {
    const events: RunEvent[] = [];
    const logs: string[] = [];
    const report = await realtimeRun(scenario, { brokerUrl: null, processes: false, launchRoot: cliRoot(), observer: { onEvent: (e) => events.push(e) }, log: (l) => logs.push(l) });
    // On failure, enough to tell a mission that never committed from drones that never passed the mast
    // from attestations that never met: liveness, flight, and the run's own log lines.
    const runLog = events.filter((e): e is Extract<RunEvent, { t: 'log' }> => e.t === 'log').map((e) => `${Math.round(e.at)} ${e.text}`);
    const why = `report hazards ${JSON.stringify(report.hazards)}; expect ${report.expect.failed.join('; ')}; liveness ${JSON.stringify(report.liveness)}; flight ${JSON.stringify(report.flight)}; run log ${runLog.slice(-12).join(' | ')}; log ${logs.slice(-5).join(' | ')}`;
    expect(report.safety.ok, why).toBe(true);
    expect(report.expect.failed, why).toEqual([]);
    const site = report.hazards?.sites[0];
    expect(site?.committedAtMs, why).not.toBeNull();
    expect(site?.committedHeight ?? 0, why).toBeGreaterThan(0);
    // f + 1 = 2 distinct devices must have attested a cell for the rule to commit it.
    expect(site?.attesters.length ?? 0, why).toBeGreaterThanOrEqual(2);
    expect(report.hazards?.spuriousCells, why).toBe(0);
    // The liar did lie, once a second, and its own hazard agent said nothing true.
    expect(report.byzantine.map((b) => [b.node, b.behavior]), why).toEqual([[5, 'fake-hazard']]);
    expect(report.byzantine[0]?.lies ?? 0, why).toBeGreaterThanOrEqual(3 * 20);
    expect(site?.attesters ?? [], why).not.toContain(5);
    const shown = events.filter((e): e is Extract<RunEvent, { t: 'hazard' }> => e.t === 'hazard');
    expect(shown.map((e) => [e.id, e.status]), why).toEqual([['h0', 'committed']]);
    expect(shown[0]?.at, why).toBe(site?.committedAtMs);
    // Flown, as the devices reported their positions: part of the area covered, the closest pair measured.
    expect(report.flight.surveyedFraction ?? 0, why).toBeGreaterThan(0.1);
    expect(report.flight.minSeparationM, why).not.toBeNull();
    // Node 5's flight controller holds the committed keep-out: one cluster of cells, one circle, centred
    // within a cell or two of the mast, its radius the cells' spread plus the 8 m margin routes keep.
    const fc = report.hil[0]?.fence ?? null;
    const hil = `${why}; hil ${JSON.stringify(report.hil)}`;
    expect(fc?.vertices, hil).toBe(4);
    expect(fc?.circles.length, hil).toBe(1);
    const [latE7, lonE7, radiusM] = fc?.circles[0] ?? [0, 0, 0];
    const c = geoToLocal(origin, latE7 / 1e7, lonE7 / 1e7);
    expect(Math.hypot(c.northM - mast.northM, c.eastM - mast.eastM), hil).toBeLessThan(8);
    expect(radiusM, hil).toBeGreaterThan(8);
    expect(radiusM, hil).toBeLessThan(40);
    expect(fc?.breachCount, hil).toBe(0);
  }, 150_000);
});
