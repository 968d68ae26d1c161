// Real-time mode with radio: every device runs its real serial radio link over socat ptys, and
// fleet-sim's air relays the packets at the scenario's baud rate. The embedded broker is stopped for
// eight seconds and the devices (real `murmur start` processes) keep committing over the radio alone;
// fleet-sim follows their heights through the heartbeats on the air.

import { describe, expect, it } from 'vitest';
import type { Scenario } from '../../fleet-sim/scenario/scenario.js';
import type { RunEvent } from '../../fleet-sim/report/events.js';
import { realtimeRun } from '../../fleet-sim/realtime/realtime-run.js';
import { cliRoot } from '../support/run-cli.js';

type Frame = Extract<RunEvent, { t: 'frame' }>;

const outage: Scenario = {
  name: 'realtime-radio-outage',
  seed: 5,
  // Every assertion is about the outage (4-12 s) or the air at the end: 14 s (it was 18 s of five real
  // processes) leaves the frames after the broker's return that the last one needs.
  durationMs: 14_000,
  validators: 4,
  followers: 1,
  mqtt: { latencyMs: 0, jitterMs: 0, loss: 0, duplicate: 0 },
  radio: { baud: 115_200, mtuBytes: 252, loss: 0.01, rangeM: 800, hopLimit: 1 },
  faults: [{ at: 4_000, kind: 'broker-down', until: 12_000 }],
  workload: [{ kind: 'rate', from: 300, to: 13_000, perSec: 4, command: 'noop' }],
  expect: { safety: true },
  consensus: { proposeMs: 300, commitWaitMs: 100, gossipMs: 200 },
  livenessBudgetMs: 5_000,
};

describe('real-time mode with a radio (socat ptys, fleet-sim air)', () => {
  it('rides through an eight-second broker outage on the radio: heights keep committing', async () => {
    const events: RunEvent[] = [];
    const r = await realtimeRun(outage, { brokerUrl: null, processes: true, launchRoot: cliRoot(), observer: { onEvent: (e) => events.push(e) } });
    const replay = `scenario ${outage.name} seed ${outage.seed}: ${JSON.stringify({ liveness: r.liveness, radio: r.radio, failed: r.expect.failed })}`;
    expect(r.safety.ok, replay).toBe(true);
    const down = events.find((e) => e.t === 'fault' && e.kind === 'broker-down')?.at ?? Infinity;
    const up = events.find((e) => e.t === 'fault' && e.kind === 'broker-up')?.at ?? -Infinity;
    expect(up - down, replay).toBeGreaterThan(7_000);
    const frames = events.filter((e): e is Frame => e.t === 'frame');
    const each = (f: Frame | undefined): string => (f?.nodes ?? []).map((n) => n.h).join(',');
    const atDown = frames.find((f) => f.at >= down);
    const beforeUp = frames.filter((f) => f.at < up).at(-1);
    // A quorum of validators (3 of 4) commits at least two heights while the broker is gone.
    const risen = [0, 1, 2, 3].filter((i) => (beforeUp?.nodes[i]?.h ?? 0) - (atDown?.nodes[i]?.h ?? 0) >= 2);
    expect(risen.length, `${replay}; heights ${each(atDown)} at ${atDown?.at} ms, ${each(beforeUp)} at ${beforeUp?.at} ms`).toBeGreaterThanOrEqual(3);
    expect(frames.filter((f) => f.at > down && f.at < up).every((f) => f.broker === 'down'), replay).toBe(true);
    expect(r.radio?.copiesDelivered ?? 0, replay).toBeGreaterThan(100);
    expect(frames.at(-1)?.radio.length, replay).toBe(10); // 5 devices 6 m apart: every pair in range
  }, 120_000);
});
