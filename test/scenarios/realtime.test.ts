// Real-time mode against a real Mosquitto (started on a free loopback port, stopped by PID): five real
// `murmur start` processes, an operator survey and noop commands signed and published like murmurctl,
// and a SIGKILL of the proposer mid-run, while an attacker with a broker login publishes forged
// commands. The swarm keeps committing, every device's committed decisions agree, each forgery is
// refused with its reason, and the run's event stream carries what the dashboard needs.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Scenario } from '../../fleet-sim/scenario/scenario.js';
import type { RunEvent } from '../../fleet-sim/report/events.js';
import { realtimeRun, type RealtimeReport } from '../../fleet-sim/realtime/realtime-run.js';
import { Mosquitto } from '../links/processes.js';
import { forgeryKinds } from '../../fleet-sim/sim/forged-commands.js';
import { statusMs } from '../../runtime/device/device.js';
import { cliRoot } from '../support/run-cli.js';

const scenario: Scenario = {
  name: 'realtime-proposer-crash',
  seed: 1,
  durationMs: 14_000,
  validators: 4,
  followers: 1,
  mqtt: { latencyMs: 0, jitterMs: 0, loss: 0, duplicate: 0 },
  faults: [
    { at: 4_000, kind: 'crash', node: 'proposer' },
    // Mosquitto cannot drop deliveries per pair: the run must say so at start and in the report.
    { at: 9_000, kind: 'partition', groups: [[0], [1, 2, 3, 4]], until: 10_000 },
    { at: 5_000, kind: 'forged-commands', perSec: 3, until: 12_000, kinds: [...forgeryKinds] },
  ],
  workload: [
    { kind: 'once', at: 500, command: 'mission.survey', args: { area: [[0, 0], [0, 100], [80, 100], [80, 0]] } },
    { kind: 'rate', from: 300, to: 13_000, perSec: 5, command: 'noop' },
  ],
  expect: { safety: true, committedFraction: 0.5, forgedRefused: true },
  consensus: { proposeMs: 300, commitWaitMs: 100, gossipMs: 200 },
  livenessBudgetMs: 5_000,
};

describe('real-time mode over Mosquitto', () => {
  let broker: Mosquitto;
  let report: RealtimeReport;
  const events: RunEvent[] = [];
  const logs: string[] = [];

  beforeAll(async () => {
    broker = await Mosquitto.start();
    report = await realtimeRun(scenario, { brokerUrl: broker.url, processes: true, launchRoot: cliRoot(), observer: { onEvent: (e) => events.push(e) }, log: (l) => logs.push(l) });
  }, 90_000);

  it('has no shared signature memo when every device is its own process', () => {
    expect(report.signatures).toBeNull();
  });

  afterAll(async () => {
    await broker?.stop();
  });

  it('commits through a proposer crash, with agreement on every committed decision', () => {
    expect(report.safety).toEqual({ ok: true, violations: [] });
    expect(report.nodes.crashed.length).toBe(1);
    expect(report.liveness.heights).toBeGreaterThan(5);
    expect(report.liveness.commandsCommitted).toBeGreaterThan(10);
    expect(report.expect.failed).toEqual([]);
    const crashAt = events.find((e) => e.t === 'fault' && e.kind === 'crash')?.at ?? Infinity;
    const after = events.filter((e) => e.t === 'commit' && e.at > crashAt).map((e) => e.at);
    expect(after.length, `commits after the crash at ${crashAt} ms: ${after.join(', ')}`).toBeGreaterThan(3);
    const commands = events.reduce((n, e) => n + (e.t === 'commit' ? e.commands : 0), 0);
    expect(commands).toBe(report.liveness.commandsCommitted);
  });

  it('keeps the light follower (node 4) within 3 heights of the chain over Mosquitto', () => {
    // Heights in a frame come from each device's status, published once a second at its own phase, so
    // two devices in one frame can differ by a second of commits without anyone lagging. The follower's
    // height in the last frame is at least its true height a status period (plus slack) earlier; a
    // follower within 3 heights of the chain then was at least the top height any frame showed by then.
    const frames = events.filter((e): e is Extract<RunEvent, { t: 'frame' }> => e.t === 'frame');
    const last = frames.at(-1);
    const follower = last?.nodes.find((n) => n.i === 4)?.h ?? -1;
    const earlier = frames.filter((f) => f.at <= (last?.at ?? 0) - statusMs - 200).at(-1);
    const top = Math.max(...(earlier?.nodes.map((n) => n.h) ?? [Infinity]));
    const show = (f: typeof last): string => `${f?.at} ms: ${f?.nodes.map((n) => `${n.i}@${n.h}`).join(' ')}`;
    expect(top, 'the chain grew during the run').toBeGreaterThan(20);
    expect(follower, `heights in the last frame (${show(last)}) and a status period before (${show(earlier)})`).toBeGreaterThanOrEqual(top - 3);
  });

  it('refuses every forged command with its reason, through the real devices and broker, and commits none', () => {
    const f = report.forgedCommands;
    for (const k of forgeryKinds) expect(f?.sent[k], k).toBeGreaterThan(0);
    expect(f?.refused).toEqual(f?.sent);
    expect(f?.wrong).toEqual([]);
    expect(f?.committed).toBe(0);
    const published = events.filter((e) => e.t === 'fault' && e.kind === 'forged-command');
    expect(published.length).toBe(Object.values(f?.sent ?? {}).reduce((a, n) => a + n, 0));
  });

  it('reports the run as the dashboard reads it: every device in every frame', () => {
    expect(events[0]?.t).toBe('run');
    const frames = events.filter((e): e is Extract<RunEvent, { t: 'frame' }> => e.t === 'frame');
    expect(frames.length).toBeGreaterThan(20);
    expect(frames.every((f) => f.nodes.length === 5)).toBe(true);
    expect(frames.at(-1)?.nodes.filter((n) => n.health === 'crashed').length).toBe(1);
    expect(report.broker).toBe(broker.url);
  });

  it('says at start which faults an external broker cannot apply, and lists them in the report', () => {
    expect(logs.find((l) => l.startsWith('not applied over the external broker'))).toMatch(/partition at 9s/);
    expect(report.unsupported).toEqual(['partition at 9s: not applied to MQTT over an external broker']);
    expect(events.some((e) => e.t === 'fault' && e.kind === 'partition')).toBe(false);
  });
});

describe('real-time mode in one process over the embedded aedes broker', () => {
  it('runs the device runtime for every node in this process, through a stopped validator and a broker outage', async () => {
    const events: RunEvent[] = [];
    // 11 s: the broker is back at 6 s, and the first commit after it came 1.0-1.7 s later (load 3-5, alone
    // and beside realtime-byzantine), so 5 s leave three times that. It ran 14 s.
    const s: Scenario = {
      ...scenario,
      name: 'realtime-in-process',
      durationMs: 11_000,
      faults: [
        { at: 3_000, kind: 'crash', node: 1 },
        { at: 5_000, kind: 'broker-down', until: 6_000 },
      ],
      workload: [{ kind: 'rate', from: 300, to: 10_500, perSec: 5, command: 'noop' }],
    };
    const r = await realtimeRun(s, { brokerUrl: null, processes: false, observer: { onEvent: (e) => events.push(e) } });
    expect(r.safety.ok).toBe(true);
    expect(r.broker).toMatch(/^mqtt:\/\/127\.0\.0\.1:\d+$/);
    // The five devices share one signature memo: most checks are another device's, answered from it.
    expect(r.signatures?.remembered, JSON.stringify(r.signatures)).toBeGreaterThan(r.signatures?.checked ?? Infinity);
    expect(r.liveness.commandsCommitted).toBeGreaterThan(10);
    expect(events.filter((e) => e.t === 'fault').map((e) => (e.t === 'fault' ? e.kind : ''))).toEqual(['crash', 'broker-down', 'broker-up']);
    const up = events.find((e) => e.t === 'fault' && e.kind === 'broker-up')?.at ?? Infinity;
    const after = events.filter((e) => e.t === 'commit' && e.at > up).map((e) => e.at);
    expect(after.length, `commits after the broker came back at ${up} ms: ${after.join(', ')}`).toBeGreaterThan(0);
  }, 60_000);
});
