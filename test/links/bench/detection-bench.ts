// Failure detection benchmark on the seeded detection simulation (runtime/membership/detection-sim.ts):
// median time to detect a crash and false positives over one simulated hour, 5 % loss, 30 % jitter.

import { summarizeDetection, type DetectionSimConfig, type DetectionSummary } from '../../../runtime/membership/detection-sim.js';
import { defaultMembershipConfig } from '../../../runtime/membership/membership-view.js';
import { akkaClusterDefaults } from '../../../runtime/membership/phi-accrual.js';
import { limits } from '../../../runtime/lib/limits.js';

export interface DetectionResult extends DetectionSummary {
  readonly case: string;
  readonly seed: number;
}

/** The radio stride of a device's heartbeat plan for 5 devices on SiK (57600 baud, 10 % airtime). */
export const sikStrideForFive = 9;

export function runDetectionBench(opts: { seed: number; trials: number }): DetectionResult[] {
  const pause = (ms: number, intervalMs = 1_000) => ({ ...defaultMembershipConfig, phi: { ...akkaClusterDefaults, acceptablePauseMs: ms, expectedIntervalMs: intervalMs } });
  const k = sikStrideForFive;
  // With the MQTT path's resume grace, as membershipConfigOf gives a device (heartbeats-setup.ts).
  const device = { ...pause(1_000), linkIntervalsMs: { path0: 1_000, path1: k * 1_000 }, resumeGraceMs: { path0: limits.mqttReconnectMsMax } };
  const base = { nodes: 5, intervalMs: 1_000, loss: 0.05, jitter: 0.3, baseDelayMs: 5 };
  const cases: { name: string; sim: Omit<DetectionSimConfig, 'crash' | 'durationMs' | 'seed'> }[] = [
    { name: 'one path, pause 1.5 intervals', sim: { ...base, paths: 1, membership: pause(1_500) } },
    { name: 'one path, Akka defaults (pause 3 s)', sim: { ...base, paths: 1, membership: pause(3_000) } },
    { name: 'two paths (MQTT + radio), pause 1 interval', sim: { ...base, paths: 2, membership: pause(1_000) } },
    // What a device runs (device.yaml defaults, runtime/device/heartbeats-setup.ts): MQTT every beat,
    // the radio every k-th beat, one detector per link.
    { name: `device: MQTT every beat + SiK every ${k}th, pause 1 s`, sim: { ...base, paths: 2, pathEvery: [1, k], membership: device } },
    { name: `device, broker down 20-30 min of the hour`, sim: { ...base, paths: 2, pathEvery: [1, k], membership: device, outage: { path: 0, fromMs: 1_200_000, toMs: 1_800_000 } } },
    // With the broker down for good, the radio's detector is the only one: its interval is k s.
    { name: `broker down: SiK only, every ${k} s, pause ${k} s`, sim: { ...base, intervalMs: k * 1_000, paths: 1, membership: pause(k * 1_000, k * 1_000) } },
  ];
  return cases.map((c) => ({ case: c.name, seed: opts.seed, ...summarizeDetection(c.sim, opts.seed, opts.trials) }));
}
