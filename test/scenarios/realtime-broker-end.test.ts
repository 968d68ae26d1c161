// A real-time run that ends while its broker is down (the scenario's outage outlasts it, or an external
// broker died): fleet-sim's operator client still holds command publishes the broker never acknowledged.
// mqtt.js's graceful end waits for those acknowledgements and stops reconnecting first, so the run used
// to hang there for ever, before its finally: devices, ptys and the embedded broker left running.

import { describe, expect, it } from 'vitest';
import type { Scenario } from '../../fleet-sim/scenario/scenario.js';
import { realtimeRun } from '../../fleet-sim/realtime/realtime-run.js';

const scenario: Scenario = {
  name: 'realtime-ends-broker-down',
  seed: 11,
  durationMs: 4_000,
  validators: 4,
  followers: 0,
  mqtt: { latencyMs: 0, jitterMs: 0, loss: 0, duplicate: 0 },
  // Down from 1.5 s to past the end: the commands of the last 2.5 s go out to no broker.
  faults: [{ at: 1_500, kind: 'broker-down', until: 60_000 }],
  workload: [{ kind: 'rate', from: 300, to: 3_900, perSec: 4, command: 'noop' }],
  expect: { safety: true },
  consensus: { proposeMs: 300, commitWaitMs: 100, gossipMs: 200 },
  livenessBudgetMs: 5_000,
};

describe('a real-time run whose broker is down at its end', () => {
  it('ends and reports, its commands sent into the outage counted as not committed', async () => {
    const started = performance.now();
    const r = await realtimeRun(scenario, { brokerUrl: null, processes: false, observer: { onEvent: () => undefined } });
    const replay = `scenario ${scenario.name} seed ${scenario.seed}: ${JSON.stringify({ liveness: r.liveness, wallMs: r.wallMs })}`;
    // The run itself is 4 s; its start-up and teardown a few more. Before the fix it never returned.
    expect(performance.now() - started, replay).toBeLessThan(45_000);
    expect(r.safety.ok, replay).toBe(true);
    expect(r.liveness.commandsSubmitted, replay).toBeGreaterThan(r.liveness.commandsCommitted);
  }, 60_000);
});
