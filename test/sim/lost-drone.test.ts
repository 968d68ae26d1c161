// A drone lost mid-survey in the deterministic world: its device crashes and never comes back, the
// mission machine finds no committed telemetry of it for lostAfterS of block time and gives the lanes
// it had not flown to the nearest drone still surveying (runtime/mission/reassign.ts), on every
// device alike. Without that its lanes were never flown (surveyed 0.855 at seed 23). A failure prints
// the seed and the command that replays it.

import { describe, expect, it } from 'vitest';
import { parseScenario } from '../../fleet-sim/scenario/parse.js';
import { runScenario, type Report } from '../../fleet-sim/sim/run.js';
import type { World } from '../../fleet-sim/sim/world.js';

const yaml = `
name: survey-lost-drone
seed: 23
duration: 160s
validators: 4
followers: 2
operator: { roles: [operator, admin] }
faults:
  - { at: 20s, crash: 5 }
workload:
  - { at: 500ms, command: { type: param.set, key: lostAfterS, value: 30 } }
  - { at: 1s, command: { type: mission.survey, area: [[0, 0], [0, 300], [200, 300], [200, 0]], spacingM: 20, altM: 30, speedMps: 8 } }
  - { from: 2s, to: 148s, rate: 2/s, command: noop }
expect: { safety: true, committedFraction: 0.95, surveyedFractionMin: 0.9, minSeparationM: 2.5 }
`;

const why = (r: Report, notes: readonly string[]): string => `seed ${r.seed} of ${r.scenario}: failed=${r.expect.failed.join('; ')} flight=${JSON.stringify(r.flight)}\n  notes: ${notes.filter((n) => /leaves the mission/.test(n)).join(' | ')}\n  replay: ${r.replay}`;

async function run(seed: number): Promise<{ r: Report; notes: string[]; missionOpen: boolean }> {
  const s = parseScenario(yaml);
  let world: World | null = null;
  const r = await runScenario(s, seed, { onWorld: (w) => void (world = w) });
  const layer = (world as World | null)?.flight?.layer;
  return { r, notes: [...(layer?.notes ?? [])], missionOpen: layer?.missionState().mission !== null };
}

/** Each seed's first run, kept: the determinism check compares a second run of seed 24 with it. */
const firstRuns = new Map<number, Promise<Awaited<ReturnType<typeof run>>>>();
function firstRun(seed: number): ReturnType<typeof run> {
  const known = firstRuns.get(seed);
  if (known !== undefined) return known;
  const started = run(seed);
  firstRuns.set(seed, started);
  return started;
}

describe('a drone lost mid-survey (deterministic mode)', () => {
  for (const seed of [23, 24, 25]) {
    it(`seed ${seed}: its unflown lanes go to another drone and the field is surveyed`, async () => {
      const { r, notes, missionOpen } = await firstRun(seed);
      expect(r.safety.ok, why(r, notes)).toBe(true);
      expect(r.expect.failed, why(r, notes)).toEqual([]);
      // Node 5 (the second follower) is the one lost, for its silence; one drone takes its lanes.
      const lost = notes.filter((n) => /leaves the mission/.test(n));
      expect(lost, why(r, notes)).toHaveLength(1);
      expect(lost[0], why(r, notes)).toMatch(/no telemetry of \S+ committed for 3\d s \(lostAfterS 30\): \S+ leaves the mission; \S+ flies its \d+ unflown waypoints/);
      // The taker's completion of its grown part counts (its drone reports every planned waypoint
      // passed first: progress.ts finishedProgress), so the survey ends.
      expect(missionOpen, why(r, notes)).toBe(false);
    }, 120_000);
  }

  it('the same seed gives the same reassignment and the same flight', async () => {
    const a = await firstRun(24); // the run the seed-24 case above checked, or the first of two when run alone
    const b = await run(24);
    expect(b.notes, why(b.r, b.notes)).toEqual(a.notes);
    expect(b.r.flight, why(b.r, b.notes)).toEqual(a.r.flight);
  }, 240_000);
});
