// Amnesia in real time: a validator is stopped, forgets its consensus memory (its lock, its own votes
// and its signer state; its committed blocks and snapshot stay, as a validator restored from a stale
// backup) and starts again. The fleet stays safe and live, and the amnesiac catches up.

import { describe, expect, it } from 'vitest';
import type { Scenario } from '../../fleet-sim/scenario/scenario.js';
import type { RunEvent } from '../../fleet-sim/report/events.js';
import { realtimeRun } from '../../fleet-sim/realtime/realtime-run.js';

type Frame = Extract<RunEvent, { t: 'frame' }>;

const scenario: Scenario = {
  name: 'realtime-amnesia',
  seed: 4,
  durationMs: 14_000,
  validators: 4,
  followers: 1,
  mqtt: { latencyMs: 0, jitterMs: 0, loss: 0, duplicate: 0 },
  faults: [{ at: 4_000, kind: 'byzantine', node: 3, behavior: 'amnesia' }],
  workload: [{ kind: 'rate', from: 300, to: 13_000, perSec: 4, command: 'noop' }],
  expect: { safety: true },
  consensus: { proposeMs: 300, commitWaitMs: 100, gossipMs: 200 },
  livenessBudgetMs: 5_000,
};

describe('real-time amnesia', () => {
  it('the validator restarts without its consensus memory; the fleet stays safe and live and it catches up', async () => {
    const events: RunEvent[] = [];
    const r = await realtimeRun(scenario, { brokerUrl: null, processes: false, observer: { onEvent: (e) => events.push(e) } });
    const frames = events.filter((e): e is Frame => e.t === 'frame');
    const height = (f: Frame | undefined, i: number): number => f?.nodes.find((n) => n.i === i)?.h ?? 0;
    const why = `seed ${scenario.seed}: ${JSON.stringify({ liveness: r.liveness, nodes: r.nodes, unsupported: r.unsupported, expect: r.expect })}`;
    expect(r.safety, why).toEqual({ ok: true, violations: [] });
    expect(r.unsupported, why).toEqual([]);
    expect(r.nodes.byzantine, why).toEqual([3]);
    const fault = events.find((e): e is Extract<RunEvent, { t: 'fault' }> => e.t === 'fault' && e.kind === 'byzantine');
    expect(fault?.nodes, why).toEqual([3]);
    expect(fault?.detail, why).toContain('amnesia');
    // The others keep committing after it forgot, and it comes back to their height.
    const after = frames.find((f) => f.at >= (fault?.at ?? 0) + 1_000);
    const last = frames.at(-1);
    expect(height(last, 0) - height(after, 0), why).toBeGreaterThan(5);
    expect(height(last, 3), why).toBeGreaterThanOrEqual(height(last, 0) - 3);
    expect(height(last, 3), why).toBeGreaterThan(height(after, 3));
  }, 120_000);
});
