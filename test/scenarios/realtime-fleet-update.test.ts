// A validator-set change in real time: the operator (admin role) sends fleet.update with an epoch-2
// manifest the fleet authority signed (validator 3 out, follower 4 in); the real devices commit it, every
// one submits the manifest, and the new set takes over two heights later. Then validators 3 and 2 stop:
// the old set would have lost its quorum, the new one keeps committing. Six devices in this process over the embedded aedes broker.

import { describe, expect, it } from 'vitest';
import type { Scenario } from '../../fleet-sim/scenario/scenario.js';
import type { RunEvent } from '../../fleet-sim/report/events.js';
import { realtimeRun } from '../../fleet-sim/realtime/realtime-run.js';

const scenario: Scenario = {
  name: 'realtime-fleet-update',
  seed: 41,
  durationMs: 14_000,
  validators: 4,
  followers: 2,
  operatorRoles: ['operator', 'admin'],
  mqtt: { latencyMs: 0, jitterMs: 0, loss: 0, duplicate: 0 },
  faults: [
    { at: 6_000, kind: 'crash', node: 3 },
    { at: 6_500, kind: 'crash', node: 2 },
  ],
  workload: [
    { kind: 'fleet-update', at: 2_000, validators: [0, 1, 2, 4], followers: [3, 5] },
    { kind: 'rate', from: 500, to: 13_500, perSec: 10, command: 'noop' },
  ],
  expect: { safety: true, committedFraction: 0.8, epoch: 2 },
  consensus: { proposeMs: 300, commitWaitMs: 100, gossipMs: 200 },
  livenessBudgetMs: 5_000,
};

describe('real-time mode: fleet.update', () => {
  it('the new validator set takes over: with the dropped validator and one more gone, it still commits', async () => {
    const events: RunEvent[] = [];
    const logs: string[] = [];
    const report = await realtimeRun(scenario, { brokerUrl: null, processes: false, observer: { onEvent: (e) => events.push(e) }, log: (l) => logs.push(l) });
    const why = `expect ${report.expect.failed.join('; ')}; unsupported ${report.unsupported.join('; ')}; log ${logs.slice(-4).join(' | ')}`;
    expect(report.safety.ok, why).toBe(true);
    expect(report.unsupported, why).toEqual([]);
    expect(report.epoch, why).toBe(2);
    expect(report.expect.failed, why).toEqual([]);
    // With validators 2 and 3 gone, the old set would have 2 of 4 left (no quorum); the new one has 0, 1
    // and the former follower 4, 3 of 4: commits after the second crash prove that 4's vote counts.
    const crashAt = events.filter((e) => e.t === 'fault' && e.kind === 'crash').at(1)?.at ?? Infinity;
    const after = events.filter((e) => e.t === 'commit' && e.at > crashAt);
    // (About one height a second: the new set needs all three of its live members, and the stopped 2
    // still has its proposer turns, each a propose timeout. The old set would commit nothing here. The
    // 7.5 s left after the crash give a machine running at half speed room for 3.)
    expect(after.length, why).toBeGreaterThanOrEqual(3);
    expect(events.some((e) => e.t === 'log' && e.text.startsWith('fleet.update sent')), why).toBe(true);
  }, 90_000);
});
