// Scenario tests written like the situations they test. Each runs the real node shell over the
// deterministic simulator; a failure prints the seed and the command that replays it.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseScenario } from '../../fleet-sim/scenario/parse.js';
import { runOk, scenario } from './helpers.js';

describe('consensus scenarios (n=4, f=1 unless said)', () => {
  it('no faults: every command commits, followers agree, commit p50 is a few network delays', async () => {
    const r = await runOk(scenario({ name: 'no-faults' }));
    expect(r.liveness.commandsCommitted).toBe(r.liveness.commandsSubmitted);
    expect(r.liveness.heights).toBeGreaterThan(30);
    expect(r.latencyMs.commitP50 ?? Infinity).toBeLessThan(200);
  });

  it('proposer crashes at 3s: the next round commits within the propose timeout plus a few delays', async () => {
    const r = await runOk(scenario({ name: 'proposer-crash', faults: [{ at: 3_000, kind: 'crash', node: 'proposer' }] }));
    expect(r.nodes.crashed.length).toBe(1);
    expect(r.liveness.maxStallMs).toBeLessThan(300 + 200 + 100 + 50);
  });

  it('a validator restarts with a torn WAL tail and catches up by block sync', async () => {
    await runOk(scenario({ name: 'torn', faults: [{ at: 2_000, kind: 'crash', node: 1 }, { at: 4_000, kind: 'restart', node: 1, wal: 'torn' }] }));
  });

  it('partition 2|3 at 2s (no quorum on either side) stalls, then heals without forking', async () => {
    const r = await runOk(scenario({ name: 'split', faults: [{ at: 2_000, kind: 'partition', groups: [[0, 1], [2, 3, 4]], until: 4_000 }] }));
    expect(r.liveness.maxStallMs).toBeGreaterThanOrEqual(1_500);
  });

  it('broker down for 2s: nothing commits, then progress resumes', async () => {
    await runOk(scenario({ name: 'broker', faults: [{ at: 2_000, kind: 'broker-down', until: 4_000 }] }));
  });

  it('20% loss and 5% duplication: re-broadcast keeps it live', async () => {
    await runOk(scenario({ name: 'lossy', mqtt: { latencyMs: 5, jitterMs: 5, loss: 0.2, duplicate: 0.05 } }));
  });

  it('an equivocating validator is caught: evidence is committed in a later block naming it', async () => {
    const r = await runOk(scenario({ name: 'equivocate', faults: [{ at: 1_000, kind: 'byzantine', node: 3, behavior: 'equivocate' }] }));
    expect(r.evidence.length).toBeGreaterThan(0);
    expect(new Set(r.evidence.map((e) => e.validator))).toEqual(new Set([3]));
  });

  it('twins hearing different halves of the validators sign differently with one key: caught as equivocation', async () => {
    // The shipped scenario: with both twins hearing everyone (before the split) it produced no evidence.
    const file = 'fleet-sim/scenarios/byzantine-twins.yaml';
    const r = await runOk(parseScenario(readFileSync(file, 'utf8')));
    expect(r.evidence.length).toBeGreaterThan(0);
    expect(new Set(r.evidence.map((e) => e.validator))).toEqual(new Set([3]));
  });

  for (const behavior of ['twins', 'forge', 'replay', 'silent', 'amnesia', 'flood', 'invalid-block', 'wrong-proposer'] as const) {
    it(`one Byzantine validator (${behavior}) breaks neither safety nor liveness`, async () => {
      await runOk(scenario({ name: behavior, durationMs: 6_000, faults: [{ at: 1_000, kind: 'byzantine', node: 2, behavior }] }));
    });
  }

  it('n=7, f=2: an equivocator and a silent validator at once', async () => {
    await runOk(scenario({ name: 'n7', validators: 7, followers: 0, faults: [{ at: 1_000, kind: 'byzantine', node: 1, behavior: 'equivocate' }, { at: 1_500, kind: 'byzantine', node: 5, behavior: 'silent' }] }));
  });
});
