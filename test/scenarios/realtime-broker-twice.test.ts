// Two real-time runs in a row on one Mosquitto, as README's `--broker mqtt://127.0.0.1:1883` invites:
// every run named its fleet `fleetsim`, and the second read the first one's retained decision logs and
// reported a false safety violation ("agreement: v02 committed 632da6513245 at height 21, others
// 3a4f5a266bfc", expect FAILED). Each run now has its own fleet name, said first and in the report.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { realtimeRun, type RealtimeReport } from '../../fleet-sim/realtime/realtime-run.js';
import { formatSummary } from '../../fleet-sim/report/write.js';
import type { Scenario } from '../../fleet-sim/scenario/scenario.js';
import { Mosquitto } from '../links/processes.js';

// Short, with a crash of the proposer so the heights of the two runs' chains differ in their blocks.
const scenario: Scenario = {
  name: 'twice-on-one-broker',
  seed: 7,
  durationMs: 5_000,
  validators: 4,
  followers: 1,
  mqtt: { latencyMs: 0, jitterMs: 0, loss: 0, duplicate: 0 },
  faults: [{ at: 2_500, kind: 'crash', node: 'proposer' }],
  workload: [{ kind: 'rate', from: 300, to: 4_500, perSec: 10, command: 'noop' }],
  expect: { safety: true },
  consensus: { proposeMs: 300, commitWaitMs: 100, gossipMs: 200 },
  livenessBudgetMs: 5_000,
};

describe('real-time runs one after another on one external broker', () => {
  let broker: Mosquitto;
  beforeAll(async () => void (broker = await Mosquitto.start()), 20_000);
  afterAll(() => broker.stop());

  it('the second run checks only its own fleet: safety ok, each run under its own fleet name', async () => {
    const runs: { report: RealtimeReport; lines: string[] }[] = [];
    for (let k = 0; k < 2; k++) {
      const lines: string[] = [];
      const report = await realtimeRun(scenario, { brokerUrl: broker.url, processes: false, observer: { onEvent: () => undefined }, log: (l) => lines.push(l) });
      runs.push({ report, lines });
    }
    const [first, second] = runs as [(typeof runs)[0], (typeof runs)[0]];
    for (const { report } of runs) {
      const said = `fleet ${report.fleet}: ${JSON.stringify({ safety: report.safety, liveness: report.liveness })}`;
      expect(report.safety.ok, said).toBe(true);
      expect(report.liveness.heights, said).toBeGreaterThan(3);
    }
    for (const { report, lines } of runs) {
      expect(report.fleet).toMatch(/^fleetsim-[0-9a-f]{8}$/);
      // Said in the run's first lines, with the topics a user can mosquitto_sub.
      expect(lines[0]).toContain(`real-time fleet ${report.fleet} (topics murmur/v1/${report.fleet}/#)`);
      expect(formatSummary(report)).toMatch(new RegExp(`\\n  fleet +${report.fleet} \\(its topics: murmur/v1/${report.fleet}/#\\)\\n`));
    }
    expect(second.report.fleet).not.toBe(first.report.fleet);
  }, 90_000);

  it('a fleet name used before: the earlier run\'s retained logs are not read, safety ok', async () => {
    // The checker cannot tell an earlier run's retained message from its own: it reads a topic from
    // the first live message on it.
    const fleet = `fleetsim-again-${process.pid}`;
    for (let k = 0; k < 2; k++) {
      const r = await realtimeRun(scenario, { brokerUrl: broker.url, processes: false, fleet, observer: { onEvent: () => undefined } });
      const said = `run ${k + 1}: ${JSON.stringify({ safety: r.safety, liveness: r.liveness })}`;
      expect(r.safety.ok, said).toBe(true);
      expect(r.liveness.heights, said).toBeGreaterThan(3);
    }
  }, 90_000);
});
