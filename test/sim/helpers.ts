// Builds scenarios the way the tests read ("proposer crashes at 10s, n=4, f=1") and runs them with the
// seed in every failure message, plus the command that replays it.

import { expect } from 'vitest';
import type { Fault, Scenario } from '../../fleet-sim/scenario/scenario.js';
import { runScenario, type Report } from '../../fleet-sim/sim/run.js';
import type { World, WorldOptions } from '../../fleet-sim/sim/world.js';

export function scenario(over: Partial<Scenario> & { faults?: Fault[] }): Scenario {
  return {
    name: 'test',
    seed: 1,
    durationMs: 8_000,
    validators: 4,
    followers: 1,
    mqtt: { latencyMs: 2, jitterMs: 1, loss: 0, duplicate: 0 },
    faults: [],
    workload: [{ kind: 'rate', from: 500, to: 7_000, perSec: 10, command: 'noop' }],
    expect: { safety: true },
    consensus: { proposeMs: 300, commitWaitMs: 100, gossipMs: 200 },
    livenessBudgetMs: 20_000,
    ...over,
  };
}

/** The operator (give the scenario operatorRoles with admin) sends `manifest` in a fleet.update: the
 *  world's devices submit it once that commits, as a device's mission runner does. A manifest is
 *  committed only so (runtime/consensus/chain-state.ts pendingManifests). */
export function sendFleetUpdate(w: World, manifest: Uint8Array): string {
  w.ensureFlight(); // the mission machine that hands the manifest on
  return w.submit('fleet.update', { manifest });
}

export function explain(r: Report): string {
  return `seed ${r.seed} of ${r.scenario}: ${JSON.stringify(r.safety.violations.slice(0, 3))} failed=${r.expect.failed.join(',')}\n  replay: ${r.replay}\n  log: ${r.log.slice(0, 10).join(' | ')}`;
}

export async function runOk(s: Scenario, seed = s.seed, opts: WorldOptions = {}): Promise<Report> {
  const r = await runScenario(s, seed, opts);
  expect(r.safety.ok, explain(r)).toBe(true);
  expect(r.liveness.ok, explain(r)).toBe(true);
  return r;
}
