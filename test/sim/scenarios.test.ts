// Scenario tests written like the situations they test. Each runs the real node shell over the
// deterministic simulator; a failure prints the seed and the command that replays it.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseScenario } from '../../fleet-sim/scenario/parse.js';
import { World } from '../../fleet-sim/sim/world.js';
import type { Report } from '../../fleet-sim/sim/run.js';
import type { SignerGuard } from '../../runtime/node/signer-guard.js';
import { explain, runOk, scenario } from './helpers.js';

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
    const r = await runOk(scenario({ name: 'torn', faults: [{ at: 2_000, kind: 'crash', node: 1 }, { at: 4_000, kind: 'restart', node: 1, wal: 'torn' }] }));
    expect(r.nodes.crashed, explain(r)).toContain(1);
    expect(r.refused.tornLogTails, `${explain(r)}: its start dropped the torn tail`).toBeGreaterThanOrEqual(1);
  });

  it('partition 2|3 at 2s (no quorum on either side) stalls, then heals without forking', async () => {
    const r = await runOk(scenario({ name: 'split', faults: [{ at: 2_000, kind: 'partition', groups: [[0, 1], [2, 3, 4]], until: 4_000 }] }));
    expect(r.liveness.maxStallMs).toBeGreaterThanOrEqual(1_500);
  });

  it('broker down for 2s: nothing commits, then progress resumes', async () => {
    const r = await runOk(scenario({ name: 'broker', faults: [{ at: 2_000, kind: 'broker-down', until: 4_000 }] }));
    expect(r.liveness.maxStallMs, explain(r)).toBeGreaterThanOrEqual(1_900);
    expect(r.network.messagesDropped, explain(r)).toBeGreaterThan(0);
  });

  it('20% loss and 5% duplication: re-broadcast keeps it live', async () => {
    const r = await runOk(scenario({ name: 'lossy', mqtt: { latencyMs: 5, jitterMs: 5, loss: 0.2, duplicate: 0.05 } }));
    const { messagesDropped: dropped, messagesDelivered: delivered, messagesDuplicated: duplicated } = r.network;
    const tries = dropped + delivered - duplicated;
    expect(dropped / tries, `${explain(r)}: ${dropped} of ${tries} dropped`).toBeGreaterThan(0.15);
    expect(duplicated, explain(r)).toBeGreaterThan(0);
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

  // Each behaviour with what shows it happened and was refused: surviving alone would pass a liar that
  // did nothing. (Amnesia, which leaves nothing in the report, has its own test below.)
  const seen: Record<'twins' | 'forge' | 'replay' | 'silent' | 'flood' | 'invalid-block' | 'wrong-proposer', [string, (r: Report) => number, number]> = {
    twins: ['committed evidence against it', (r) => r.evidence.filter((e) => e.validator === 2).length, 1],
    forge: ['signatures refused', (r) => r.refused.badSignatures, 1],
    replay: ['committed commands replayed, refused', (r) => r.refused.replayedCommands, 1],
    // Its turns to propose time out (300 ms): the no-fault run's longest gap is about 110 ms.
    silent: ['the longest gap, ms', (r) => r.liveness.maxStallMs, 300],
    flood: ['malformed messages dropped', (r) => r.refused.malformed, 1],
    'invalid-block': ['invalid blocks refused', (r) => r.refused.invalidBlock, 1],
    'wrong-proposer': ['proposals from a non-proposer refused', (r) => r.refused.notProposer, 1],
  };
  for (const [behavior, [what, count, min]] of Object.entries(seen) as [keyof typeof seen, (typeof seen)[keyof typeof seen]][]) {
    it(`one Byzantine validator (${behavior}) breaks neither safety nor liveness, and is seen (${what})`, async () => {
      const r = await runOk(scenario({ name: behavior, durationMs: 6_000, faults: [{ at: 1_000, kind: 'byzantine', node: 2, behavior }] }));
      expect(count(r), `${explain(r)}: ${what}`).toBeGreaterThanOrEqual(min);
    });
  }

  it('one Byzantine validator (amnesia) restarts without its votes and its lock, signs again, and breaks neither safety nor liveness', async () => {
    const s = scenario({ name: 'amnesia', durationMs: 6_000, faults: [{ at: 1_000, kind: 'byzantine', node: 2, behavior: 'amnesia' }] });
    await runOk(s);
    const w = new World(s, s.seed);
    w.start();
    w.queue.runUntil(999, 1e7);
    const n = w.nodes[2];
    const guard = (): SignerGuard | undefined => (n?.shell as unknown as { guard: SignerGuard } | null)?.guard;
    const before = guard()?.lastSigned();
    const incarnation = n?.incarnation ?? -1;
    expect(before, `seed ${s.seed}: v02 signed before 1 s`).toBeTruthy();
    w.queue.runUntil(1_000, 1e7);
    expect(n?.incarnation, `seed ${s.seed}: v02 restarted at 1 s`).toBeGreaterThan(incarnation);
    expect(guard()?.lastSigned() ?? null, `seed ${s.seed}: v02's signer state forgotten`).toBeNull();
    w.queue.runUntil(3_000, 1e7);
    expect(guard()?.lastSigned()?.height ?? 0, `seed ${s.seed}: v02 signs again, past where it was`).toBeGreaterThan(before?.height ?? Infinity);
  });

  it('n=7, f=2: an equivocator and a silent validator at once', async () => {
    const r = await runOk(scenario({ name: 'n7', validators: 7, followers: 0, faults: [{ at: 1_000, kind: 'byzantine', node: 1, behavior: 'equivocate' }, { at: 1_500, kind: 'byzantine', node: 5, behavior: 'silent' }] }));
    expect(new Set(r.evidence.map((e) => e.validator)), explain(r)).toEqual(new Set([1]));
    expect(r.liveness.maxStallMs, `${explain(r)}: the silent one's turns to propose time out`).toBeGreaterThanOrEqual(300);
  });
});
