// Real-time mode: the scenario played against real `murmur start` processes on the wall clock, over the
// embedded aedes broker or an external one. The operator's commands are signed and published like
// murmurctl does; faults are real (SIGKILL by PID, restart, stopping the embedded broker). The run is
// observed from the devices' JSON status and decision-log topics into the same event stream as the
// deterministic mode; agreement is checked on the committed decisions every device publishes.

import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import mqtt from 'mqtt';
import { createSigner } from '../../runtime/crypto/sodium.js';
import { encodeCommandBody } from '../../runtime/wire/command.js';
import { sealEnvelope } from '../../runtime/wire/envelope.js';
import { encodeFrame, fleetTag } from '../../runtime/links/frame.js';
import { controlTopics, type DecisionJson, type StatusJson } from '../../runtime/device/control-topics.js';
import { toHex } from '../../runtime/lib/bytes.js';
import type { Scenario } from '../scenario/scenario.js';
import { surveyAreaOf } from '../report/observe-world.js';
import type { NodeSample, RunObserver } from '../report/events.js';
import { CoverageGrid } from '../report/coverage.js';
import { FleetProcs, type RealDevice } from './fleet-procs.js';

export interface RealtimeOptions {
  readonly brokerUrl: string | null;
  /** One `murmur start` child process per device; otherwise all devices run in this process. */
  readonly processes: boolean;
  readonly observer: RunObserver;
  readonly log?: (line: string) => void;
  /** Rate workloads are capped here: each command is a real signed publish. */
  readonly ratePerSecMax?: number;
}

export interface RealtimeReport {
  scenario: string;
  seed: number;
  mode: 'realtime';
  simulatedMs: number;
  wallMs: number;
  broker: string;
  nodes: { validators: number; followers: number; byzantine: number[]; crashed: number[] };
  safety: { ok: boolean; violations: { property: string; atMs: number; detail: string }[] };
  liveness: { heights: number; commandsSubmitted: number; commandsCommitted: number; maxStallMs: number };
  latencyMs: { commitP50: number | null; commitP99: number | null };
  throughput: { commandsPerSec: number };
  evidence: { kind: string; validator: number; height: number }[];
  flight: null;
  expect: { met: boolean; failed: string[] };
  unsupported: string[];
}

const percentile = (sorted: number[], p: number): number | null => (sorted.length === 0 ? null : (sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number));

export async function realtimeRun(s: Scenario, o: RealtimeOptions): Promise<RealtimeReport> {
  const log = o.log ?? (() => {});
  const fleet = new FleetProcs({ validators: s.validators, followers: s.followers, brokerUrl: o.brokerUrl, processes: o.processes });
  const wallStart = performance.now();
  const unsupported: string[] = [];
  const crashed = new Set<number>();
  const violations: RealtimeReport['safety']['violations'] = [];
  try {
    await fleet.setup();
    log(`real-time fleet: ${fleet.devices.length} devices ${o.processes ? 'as murmur processes' : 'in this process'} on ${fleet.brokerUrl}${fleet.embedded ? ' (embedded aedes)' : ''}`);
    await Promise.all(fleet.devices.map((d) => fleet.start(d)));
    const topics = controlTopics(fleet.fleet);
    const client = await mqtt.connectAsync(fleet.brokerUrl, {
      clientId: `fleet-sim-${randomBytes(4).toString('hex')}`,
      reconnectPeriod: 500,
      ...(fleet.embedded ? { username: 'ops', password: fleet.operatorPassword } : {}),
    });
    const status = new Map<string, StatusJson>();
    const decidedHash = new Map<number, string>();
    const committedAt = new Map<string, number>();
    const sentAt = new Map<string, number>();
    const index = new Map(fleet.devices.map((d) => [d.id, d.index]));
    const t0 = performance.now();
    const now = (): number => Math.round(performance.now() - t0);
    const proposerIndex = (): number => {
      let best: StatusJson | undefined;
      for (const st of status.values()) if (!best || st.height > best.height) best = st;
      return Math.max(0, index.get(best?.proposer ?? '') ?? 0);
    };
    client.on('message', (topic, payload) => {
      let doc: unknown;
      try {
        doc = JSON.parse(payload.toString('utf8'));
      } catch {
        return;
      }
      if (topic.endsWith('/status')) {
        // A Last Will says only {node, state: 'offline'}: keep the last height and position it reported.
        const st = doc as Partial<StatusJson> & { node: string };
        const prev = status.get(st.node);
        status.set(st.node, { ...(prev ?? { height: 0, round: 0, proposer: '', position: null, batteryPct: null, mission: null }), ...st } as StatusJson);
      }
      else if (topic.endsWith('/log')) {
        const { node, decisions } = doc as { node: string; decisions: DecisionJson[] };
        const fresh = new Map<number, { commands: number; latencyMs: number }>();
        for (const d of decisions ?? []) {
          const before = decidedHash.get(d.height);
          if (before !== undefined && before !== d.blockHash) violations.push({ property: 'agreement', atMs: now(), detail: `${node} committed ${d.blockHash.slice(0, 12)} at height ${d.height}, others ${before.slice(0, 12)}` });
          decidedHash.set(d.height, d.blockHash);
          const sent = sentAt.get(d.command);
          if (!committedAt.has(d.command) && sent !== undefined) {
            committedAt.set(d.command, now());
            const f = fresh.get(d.height) ?? { commands: 0, latencyMs: 0 };
            fresh.set(d.height, { commands: f.commands + 1, latencyMs: Math.max(f.latencyMs, now() - sent) });
          }
        }
        // Commits as the dashboard charts them: the first device to log a height's commands reports them.
        for (const [height, f] of [...fresh.entries()].sort((a, b) => a[0] - b[0])) {
          o.observer.onEvent({ t: 'commit', at: now(), height, round: 0, proposer: proposerIndex(), latencyMs: f.latencyMs, txs: f.commands, commands: f.commands });
        }
      }
    });
    await client.subscribeAsync([topics.statusAll, topics.logAll], { qos: 1 });
    const area = surveyAreaOf(s);
    const coverage = area ? new CoverageGrid(area, 10) : null;
    o.observer.onEvent({
      t: 'run',
      at: 0,
      scenario: s.name,
      seed: s.seed,
      mode: 'realtime',
      durationMs: s.durationMs,
      nodes: fleet.devices.map((d) => ({ index: d.index, id: d.id, role: d.index < s.validators ? 'validator' : 'follower', engine: 'ts' })),
      world: { geofence: null, surveyArea: area, coverageCellM: 10, radioRangeM: null, home: [0, 0] },
    });
    const signer = createSigner(fleet.operator);
    const publish = (type: string, args: Readonly<Record<string, unknown>>): void => {
      const nonce = randomBytes(16);
      const t = Date.now();
      const env = sealEnvelope('command', fleet.fleet, 'ops', encodeCommandBody({ type, nonce, issuedAt: t, expiresAt: t + 120_000, args }), signer);
      sentAt.set(`ops/${toHex(nonce)}`, now()); // the command reference of acks and decision logs
      client.publish(topics.commands, Buffer.from(encodeFrame(fleetTag(fleet.fleet), 'consensus', env)), { qos: 1 });
    };
    // Timeline: faults and once-commands at their times, rate workloads spread over the run.
    const actions: { at: number; run: () => Promise<void> | void }[] = [];
    const device = (i: number): RealDevice => fleet.devices[i] as RealDevice;
    const fault = (kind: 'crash' | 'restart' | 'broker-down' | 'broker-up', nodes: number[], detail: string): void => o.observer.onEvent({ t: 'fault', at: now(), kind, nodes, detail });
    let lastCrashed = 0;
    for (const f of s.faults) {
      if (f.kind === 'crash') {
        actions.push({
          at: f.at,
          run: async () => {
            const i = f.node === 'proposer' ? proposerIndex() : f.node;
            lastCrashed = i;
            crashed.add(i);
            await fleet.kill(device(i));
            fault('crash', [i], o.processes ? 'SIGKILL' : 'stopped');
          },
        });
      } else if (f.kind === 'restart') {
        actions.push({
          at: f.at,
          run: async () => {
            const i = f.node === 'crashed' ? lastCrashed : f.node;
            await fleet.kill(device(i));
            fleet.start(device(i)).then(() => fault('restart', [i], 'recovered from its data directory'), (e: Error) => log(e.message));
          },
        });
      } else if (f.kind === 'broker-down' && fleet.embedded) {
        actions.push({ at: f.at, run: async () => (await fleet.stopBroker(), fault('broker-down', [], 'embedded broker stopped')) });
        actions.push({ at: f.until, run: async () => (await fleet.startBroker(), fault('broker-up', [], 'embedded broker back')) });
      } else {
        unsupported.push(`${f.kind} at ${f.at} ms (not available in real-time mode${f.kind === 'broker-down' ? ' with an external broker' : ''})`);
      }
    }
    if (s.radio) unsupported.push('links.radio (the real-time devices get no simulated serial radios)');
    for (const w of s.workload) {
      if (w.kind === 'once') actions.push({ at: w.at, run: () => publish(w.command, w.args) });
      else if (w.kind === 'fleet-update') unsupported.push(`fleet.update at ${w.at} ms (not implemented in real-time mode)`);
      else {
        const gap = 1000 / Math.min(w.perSec, o.ratePerSecMax ?? 20);
        for (let t = w.from, k = 0; t < w.to && k < 100_000; t += gap, k++) actions.push({ at: t, run: () => publish(w.command, {}) });
      }
    }
    actions.sort((a, b) => a.at - b.at);
    let next = 0;
    let lastHeight = 0;
    let lastCommitAt = 0;
    let maxStall = 0;
    for (let tick = 0; now() < s.durationMs && tick < 1_000_000; tick++) {
      while (next < actions.length && (actions[next] as { at: number }).at <= now()) await (actions[next++] as { run: () => Promise<void> | void }).run();
      const height = Math.max(0, ...[...status.values()].map((x) => x.height ?? 0));
      if (height > lastHeight) {
        maxStall = Math.max(maxStall, now() - lastCommitAt);
        lastCommitAt = now();
        lastHeight = height;
      }
      const fresh: number[] = [];
      const nodes: NodeSample[] = fleet.devices.map((d) => {
        const st = status.get(d.id);
        const p = st?.position;
        if (coverage && p && p.upM > 5 && fleet.alive(d)) fresh.push(...coverage.mark(p.northM, p.eastM, 12));
        return { i: d.index, n: p?.northM ?? 0, e: p?.eastM ?? 0, u: p?.upM ?? 0, bat: st?.batteryPct ?? 100, h: st?.height ?? 0, r: st?.round ?? 0, health: fleet.alive(d) ? 'alive' : 'crashed', byz: null, mode: st?.mission ? `${st.mission.status} ${st.mission.progressPct}%` : (st?.state ?? 'starting') };
      });
      if (coverage && fresh.length > 0) o.observer.onEvent({ t: 'coverage', at: now(), cells: fresh, fraction: Math.round(coverage.fraction() * 1000) / 1000 });
      o.observer.onEvent({ t: 'frame', at: now(), nodes, proposer: proposerIndex(), radio: [], broker: client.connected ? 'up' : 'down' });
      await sleep(250);
    }
    maxStall = Math.max(maxStall, now() - lastCommitAt);
    const latencies = [...committedAt.entries()].map(([k, at]) => at - (sentAt.get(k) as number)).sort((a, b) => a - b);
    await client.endAsync();
    const failed: string[] = [];
    if (violations.length > 0) failed.push('safety');
    const fraction = sentAt.size === 0 ? 1 : committedAt.size / sentAt.size;
    if (s.expect.committedFraction !== undefined && fraction < s.expect.committedFraction) failed.push(`committedFraction ${fraction.toFixed(3)} < ${s.expect.committedFraction}`);
    if (s.expect.maxStallMs !== undefined && maxStall > s.expect.maxStallMs) failed.push(`maxStall ${maxStall} ms > ${s.expect.maxStallMs} ms`);
    if (lastHeight === 0) failed.push('liveness: no height was committed');
    return {
      scenario: s.name,
      seed: s.seed,
      mode: 'realtime',
      simulatedMs: now(),
      wallMs: Math.round(performance.now() - wallStart),
      broker: fleet.brokerUrl,
      nodes: { validators: s.validators, followers: s.followers, byzantine: [], crashed: [...crashed].sort((a, b) => a - b) },
      safety: { ok: violations.length === 0, violations },
      liveness: { heights: lastHeight, commandsSubmitted: sentAt.size, commandsCommitted: committedAt.size, maxStallMs: maxStall },
      latencyMs: { commitP50: percentile(latencies, 50), commitP99: percentile(latencies, 99) },
      throughput: { commandsPerSec: Math.round((committedAt.size / (s.durationMs / 1000)) * 100) / 100 },
      evidence: [],
      flight: null,
      expect: { met: failed.length === 0, failed },
      unsupported,
    };
  } finally {
    await fleet.teardown();
  }
}
