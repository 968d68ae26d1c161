// Failure detection benchmark on the seeded detection simulation (runtime/membership/detection-sim.ts):
// median time to detect a crash and false positives over one simulated hour, 5 % loss, 30 % jitter.

import { summarizeDetection, type DetectionSummary } from '../../../runtime/membership/detection-sim.js';
import { defaultMembershipConfig } from '../../../runtime/membership/membership-view.js';
import { akkaClusterDefaults } from '../../../runtime/membership/phi-accrual.js';

export interface DetectionResult extends DetectionSummary {
  readonly case: string;
  readonly seed: number;
}

export function runDetectionBench(opts: { seed: number; trials: number }): DetectionResult[] {
  const cases = [
    { name: 'one path, pause 1.5 intervals', paths: 1, pauseMs: 1_500 },
    { name: 'one path, Akka defaults (pause 3 s)', paths: 1, pauseMs: 3_000 },
    { name: 'two paths (MQTT + radio), pause 1 interval', paths: 2, pauseMs: 1_000 },
  ];
  return cases.map((c) => ({
    case: c.name,
    seed: opts.seed,
    ...summarizeDetection(
      { nodes: 5, intervalMs: 1_000, loss: 0.05, jitter: 0.3, baseDelayMs: 5, paths: c.paths, membership: { ...defaultMembershipConfig, phi: { ...akkaClusterDefaults, acceptablePauseMs: c.pauseMs } } },
      opts.seed,
      opts.trials,
    ),
  }));
}
