// Every scenario shipped in fleet-sim/scenarios runs in deterministic mode and meets its `expect`.
// Long ones are shortened by scaling every time in them (faults, workload, duration) by one factor, so
// the story stays the same; the 1000-device fleet runs here with 100 devices (npm run bench:sim runs
// it in full). Scenarios that expect something of the flights (failsafes, hazards committed, ...) run
// in full: a drone does not fly faster when the story is scaled, so their files keep them short.
// A failure prints the seed and the command that replays the full scenario.

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { shardProblem } from '../../fleet-sim/sim/shards.js';
import { parseScenario } from '../../fleet-sim/scenario/parse.js';
import type { Fault, Scenario, Workload } from '../../fleet-sim/scenario/scenario.js';
import { runScenario } from '../../fleet-sim/sim/run.js';

const dir = 'fleet-sim/scenarios';
const simulatedMsMax = 15_000;
const devicesMax = 100;
/** Fleets this big pass every broadcast to every device: a shorter story keeps npm test quick. */
const bigFleetSimulatedMsMax = 6_000;

function scaleFault(f: Fault, k: number): Fault {
  const at = Math.round(f.at * k);
  return 'until' in f ? { ...f, at, until: Math.max(at + 1, Math.round(f.until * k)) } : { ...f, at };
}

function scaleWork(w: Workload, k: number): Workload {
  return w.kind === 'rate' ? { ...w, from: Math.round(w.from * k), to: Math.round(w.to * k) } : { ...w, at: Math.round(w.at * k) };
}

/** Expectations that physical time decides (how far drones flew, what they saw): no time scaling. */
function physical(s: Scenario): boolean {
  const e = s.expect;
  return [e.failsafesMin, e.hazardsCommittedMin, e.hazardsCommittedMax, e.geofenceBreachesMax, e.surveyedFractionMin, e.minSeparationM].some((x) => x !== undefined);
}

/** The same scenario in at most simulatedMsMax of virtual time and devicesMax devices. */
export function shorten(s: Scenario): Scenario {
  const k = physical(s) ? 1 : Math.min(1, (s.validators + s.followers > 50 ? bigFleetSimulatedMsMax : simulatedMsMax) / s.durationMs);
  const followers = Math.min(s.followers, Math.max(0, devicesMax - s.validators));
  return { ...s, durationMs: Math.round(s.durationMs * k), followers, faults: s.faults.map((f) => scaleFault(f, k)), workload: s.workload.map((w) => scaleWork(w, k)) };
}

const files = readdirSync(dir).filter((f) => f.endsWith('.yaml') || f.endsWith('.json')).sort();

describe('shipped scenarios', () => {
  it('the library holds the scenarios the documentation promises', () => {
    for (const name of ['default', 'leader-crash', 'partition-heal', 'broker-outage', 'lossy-links', 'lossy-radio', 'byzantine-equivocate', 'byzantine-twins', 'byzantine-forge', 'byzantine-replay', 'forged-commands', 'survey-mission', 'fleet-1000', 'hazard-detection', 'byzantine-fake-hazard', 'validator-set-change']) {
      expect(files).toContain(`${name}.yaml`);
    }
  });

  for (const file of files) {
    it(`${file} meets its expect`, async () => {
      const path = join(dir, file);
      const full = parseScenario(readFileSync(path, 'utf8'));
      const s = shorten(full);
      const r = await runScenario(s, s.seed, { file: path });
      const why = `${file} seed ${s.seed} (shortened to ${s.durationMs} ms, ${s.validators}+${s.followers} devices): ${r.expect.failed.join('; ')} ${r.safety.violations[0]?.detail ?? ''}\n  replay the full scenario: npx fleet-sim run ${path} --seed ${s.seed}`;
      expect(r.safety.ok, why).toBe(true);
      expect(r.expect.failed, why).toEqual([]);
      expect(r.liveness.heights, why).toBeGreaterThan(0);
    });
  }

  it('those that can be split over threads meet their expect on two as well (fleet-sim run --threads 2)', async () => {
    const split = files.map((file) => ({ file, s: shorten(parseScenario(readFileSync(join(dir, file), 'utf8'))) })).filter(({ s }) => shardProblem(s, 2, {}) === null);
    expect(split.map(({ file }) => file)).toEqual(expect.arrayContaining(['fleet-1000.yaml', 'partition-heal.yaml']));
    for (const { file, s } of split) {
      const r = await runScenario(s, s.seed, { file: join(dir, file), threads: 2 });
      const why = `${file} seed ${s.seed} on 2 threads (shortened to ${s.durationMs} ms, ${s.validators}+${s.followers} devices): ${r.expect.failed.join('; ')} ${r.safety.violations[0]?.detail ?? ''}\n  replay: ${r.replay}`;
      expect(r.safety.ok, why).toBe(true);
      expect(r.expect.failed, why).toEqual([]);
      expect(r.threads, why).toBe(2);
    }
  });
});
