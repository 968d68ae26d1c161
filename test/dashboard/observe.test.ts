// The deterministic world observed for the dashboard: the committed survey flows through the real
// mission state machine to the simulated multirotors, coverage grows, a mast in the field shows up when
// a drone's range sensor returns it, crashes are reported, and observing never changes the outcome.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseScenario } from '../../fleet-sim/scenario/parse.js';
import type { Scenario } from '../../fleet-sim/scenario/scenario.js';
import { runScenario, type Report } from '../../fleet-sim/sim/run.js';
import { WorldObserver } from '../../fleet-sim/report/observe-world.js';
import type { RunEvent } from '../../fleet-sim/report/events.js';

const file = 'fleet-sim/scenarios/survey-mission.yaml';
const base = parseScenario(readFileSync(file, 'utf8'));
const scenario: Scenario = { ...base, radio: { baud: 57_600, mtuBytes: 252, loss: 0.02, rangeM: 800, hopLimit: 1 }, world: { hazards: [{ northM: 100, eastM: 150, radiusM: 8, heightM: 60 }] } };

describe('observing a deterministic run', () => {
  it('flies the committed survey, covers the field, finds the mast, reports the crash; same report as unobserved', async () => {
    const events: RunEvent[] = [];
    const observed = await runScenario(scenario, scenario.seed, { onWorld: (w) => void new WorldObserver(w, { onEvent: (e) => events.push(e) }) });
    const plain = await runScenario(scenario, scenario.seed);
    const why = `seed ${scenario.seed}; replay: npx fleet-sim start ${file} --seed ${scenario.seed}`;
    // Observation is read-only: the consensus outcome is identical.
    expect(observed.liveness, why).toEqual(plain.liveness);
    expect(observed.latencyMs, why).toEqual(plain.latencyMs);
    expect(observed.radio, why).toEqual(plain.radio);
    expect(observed.flight, why).toEqual(plain.flight);
    expect(events.some((e) => e.t === 'log' && e.text.includes('mission.survey accepted')), why).toBe(true);
    const coverage = events.filter((e): e is Extract<RunEvent, { t: 'coverage' }> => e.t === 'coverage');
    expect(coverage.at(-1)?.fraction ?? 0, why).toBeGreaterThan(0.3);
    const hazard = events.find((e): e is Extract<RunEvent, { t: 'hazard' }> => e.t === 'hazard');
    expect(hazard, why).toMatchObject({ id: 'h0', status: 'detected', n: 100, e: 150 });
    expect(events.some((e) => e.t === 'fault' && e.kind === 'crash' && e.nodes[0] === 7), why).toBe(true);
    expect(events.some((e) => e.t === 'fault' && e.kind === 'restart' && e.nodes[0] === 7), why).toBe(true);
    const frames = events.filter((e): e is Extract<RunEvent, { t: 'frame' }> => e.t === 'frame');
    const last = frames.at(-1);
    expect(last?.nodes.length).toBe(10);
    expect(Math.max(...frames.map((f) => Math.max(...f.nodes.map((n) => n.u)))), 'drones took off').toBeGreaterThan(20);
    expect(frames.some((f) => f.radio.length > 0)).toBe(true);
  }, 240_000);
});

describe('observing a scenario whose drones do not fly', () => {
  it('gives the report fleet-sim run gives (the dashboard shows the drones on their pads, and they sign no telemetry)', async () => {
    const path = 'fleet-sim/scenarios/leader-crash.yaml';
    const s = parseScenario(readFileSync(path, 'utf8'));
    const plain = await runScenario(s, s.seed);
    const observed = await runScenario(s, s.seed, { onWorld: (w) => void new WorldObserver(w, { onEvent: () => undefined }), sliceMs: 50, pace: async () => undefined });
    const why = `seed ${s.seed}; npx fleet-sim run ${path} against npx fleet-sim start ${path} --speed 0`;
    expect(observed.simulatedMs, why).toBe(plain.simulatedMs);
    expect(observed.liveness, why).toEqual(plain.liveness);
    expect(observed.latencyMs, why).toEqual(plain.latencyMs);
    expect(observed.network, why).toEqual(plain.network);
  }, 120_000);
});

async function observe(name: string): Promise<{ events: RunEvent[]; flight: NonNullable<Report['flight']> }> {
  const path = `fleet-sim/scenarios/${name}.yaml`;
  const s = parseScenario(readFileSync(path, 'utf8'));
  const events: RunEvent[] = [];
  const r = await runScenario(s, s.seed, { onWorld: (w) => void new WorldObserver(w, { onEvent: (e) => events.push(e) }) });
  expect(r.expect.failed, `${name} seed ${s.seed}`).toEqual([]);
  if (!r.flight) throw new Error(`${name} did not fly`);
  return { events, flight: r.flight };
}

describe('local reflexes in the flight layer', () => {
  it('battery-failsafe: every drone that reaches the reserve turns home at once', async () => {
    const { events, flight } = await observe('battery-failsafe');
    const failsafes = events.filter((e) => e.t === 'fault' && e.kind === 'failsafe');
    expect(failsafes.length).toBe(flight.failsafes);
    expect(flight.failsafes).toBeGreaterThan(0);
    expect(failsafes[0]).toMatchObject({ detail: expect.stringContaining('below the 30% reserve') });
    const last = events.filter((e): e is Extract<RunEvent, { t: 'frame' }> => e.t === 'frame').at(-1);
    expect(last?.nodes.filter((n) => n.mode === 'failsafe rtl' || n.mode === 'landing' || n.mode === 'landed').length).toBeGreaterThanOrEqual(flight.failsafes);
  });

  it('geofence: legs outside the fence are skipped and no drone crosses it', async () => {
    const { events, flight } = await observe('geofence');
    expect(events.some((e) => e.t === 'fault' && e.kind === 'geofence' && e.detail.includes('skipped'))).toBe(true);
    expect(flight.geofenceBreaches).toBe(0);
    const frames = events.filter((e): e is Extract<RunEvent, { t: 'frame' }> => e.t === 'frame');
    expect(Math.max(...frames.flatMap((f) => f.nodes.map((n) => n.e)))).toBeLessThan(185);
    expect(events[0]).toMatchObject({ t: 'run', world: { geofence: [[-60, -60], [-60, 180], [260, 180], [260, -60]] } });
  });
});
