// A small seeded simulation of heartbeats and the membership view: how fast crashes are detected and
// how often live peers are wrongly suspected or declared dead, under loss and jitter. One seed decides
// everything (runtime/lib/prng.ts); `npm run bench:links` and test/membership use it.

import { Prng } from '../lib/prng.js';
import type { HeartbeatBody } from '../wire/heartbeat.js';
import { MembershipView, type MembershipConfig } from './membership-view.js';

export interface DetectionSimConfig {
  readonly seed: number;
  readonly nodes: number;
  readonly intervalMs: number;
  /** Probability that one copy of a heartbeat is lost, independently per receiver and path. */
  readonly loss: number;
  /** Delay spread as a fraction of the interval: delay = baseDelay + U(0, jitter * interval). */
  readonly jitter: number;
  readonly baseDelayMs: number;
  readonly durationMs: number;
  /** Independent paths each heartbeat is sent on (MQTT + radio = 2); the view drops the copies. */
  readonly paths: number;
  /** Path p carries every pathEvery[p]-th heartbeat (a radio sized to its airtime); default 1. */
  readonly pathEvery?: readonly number[];
  /** One path down for every node from fromMs to toMs (the broker gone): nothing crosses it, and
   *  observers know their own link is down (MembershipView.tick's linksUp). */
  readonly outage?: { readonly path: number; readonly fromMs: number; readonly toMs: number };
  /** Node index that crashes at `crashAtMs`, if any. */
  readonly crash?: { readonly node: number; readonly atMs: number };
  readonly membership: MembershipConfig;
}

export interface DetectionSimResult {
  /** Per observer of the crashed node: ms from the crash to suspect and to dead (undefined: never). */
  readonly suspectAfterMs: (number | undefined)[];
  readonly deadAfterMs: (number | undefined)[];
  /** Transitions of live peers to suspect and to dead, summed over observers. */
  readonly falseSuspicions: number;
  readonly falseDeaths: number;
  readonly heartbeatsDelivered: number;
}

interface Arrival {
  readonly atMs: number;
  readonly to: number;
  readonly from: number;
  readonly seq: number;
  readonly path: number;
}

export function runDetectionSim(c: DetectionSimConfig): DetectionSimResult {
  const prng = new Prng(c.seed);
  const net = prng.split('network');
  const phases = prng.split('phases');
  const ids = Array.from({ length: c.nodes }, (_, i) => `n${i}`);
  const arrivals: Arrival[] = [];
  for (let from = 0; from < c.nodes; from++) {
    const phase = phases.range(0, c.intervalMs - 1);
    const stopMs = c.crash?.node === from ? c.crash.atMs : c.durationMs;
    for (let seq = 0, at = phase; at < stopMs; seq++, at += c.intervalMs) {
      for (let to = 0; to < c.nodes; to++) {
        if (to === from) continue;
        for (let path = 0; path < c.paths; path++) {
          if (seq % (c.pathEvery?.[path] ?? 1) !== 0) continue;
          const down = c.outage?.path === path && at >= c.outage.fromMs && at < c.outage.toMs;
          if (net.chance(c.loss) || down) continue;
          const delay = c.baseDelayMs + net.next() * c.jitter * c.intervalMs;
          arrivals.push({ atMs: at + delay, to, from, seq, path });
        }
      }
    }
  }
  arrivals.sort((a, b) => a.atMs - b.atMs || a.to - b.to || a.from - b.from || a.path - b.path);

  const views = ids.map((id) => new MembershipView(id, c.membership));
  const suspectAt: (number | undefined)[] = ids.map(() => undefined);
  const deadAt: (number | undefined)[] = ids.map(() => undefined);
  let falseSuspicions = 0;
  let falseDeaths = 0;
  let delivered = 0;
  const tickMs = c.intervalMs / 10;
  const allPaths = Array.from({ length: c.paths }, (_, p) => `path${p}`);
  let next = 0;
  for (let now = 0; now <= c.durationMs; now += tickMs) {
    const out = c.outage !== undefined && now >= c.outage.fromMs && now < c.outage.toMs ? `path${c.outage.path}` : undefined;
    const linksUp = new Set(allPaths.filter((p) => p !== out));
    for (; next < arrivals.length && (arrivals[next] as Arrival).atMs <= now; next++) {
      const a = arrivals[next] as Arrival;
      if (c.crash?.node === a.to && a.atMs >= c.crash.atMs) continue; // a crashed node hears nothing
      const hb: HeartbeatBody = { node: ids[a.from] as string, seq: a.seq, session: 1, height: 0, round: 0, health: 'ok', position: null, batteryPct: null };
      if ((views[a.to] as MembershipView).onHeartbeat(hb.node, hb, a.atMs, `path${a.path}`).accepted) delivered++;
    }
    for (let o = 0; o < c.nodes; o++) {
      if (c.crash?.node === o && now >= c.crash.atMs) continue;
      for (const ch of (views[o] as MembershipView).tick(now, linksUp)) {
        const crashed = c.crash !== undefined && ch.id === ids[c.crash.node] && ch.atMs >= c.crash.atMs;
        if (crashed && c.crash) {
          // A peer already suspect when it crashed goes straight to dead: that is its detection (as in
          // DetectionRecorder), not a crash missed.
          if ((ch.to === 'suspect' || ch.to === 'dead') && suspectAt[o] === undefined) suspectAt[o] = ch.atMs - c.crash.atMs;
          if (ch.to === 'dead' && deadAt[o] === undefined) deadAt[o] = ch.atMs - c.crash.atMs;
        } else if (ch.to === 'suspect') falseSuspicions++;
        else if (ch.to === 'dead') falseDeaths++;
      }
    }
  }
  const observers = ids.map((_, i) => i).filter((i) => i !== c.crash?.node);
  return {
    suspectAfterMs: c.crash ? observers.map((o) => suspectAt[o]) : [],
    deadAfterMs: c.crash ? observers.map((o) => deadAt[o]) : [],
    falseSuspicions,
    falseDeaths,
    heartbeatsDelivered: delivered,
  };
}

export interface DetectionSummary {
  readonly trials: number;
  readonly suspectMsP50: number;
  readonly deadMsP50: number;
  readonly suspectIntervalsP50: number;
  readonly deadIntervalsP50: number;
  readonly undetected: number;
  readonly falseSuspicionsPerHour: number;
  readonly falseDeathsPerHour: number;
}

/** Crash trials (one crash each, random node and time) plus one clean run of `hourMs` for false positives. */
export function summarizeDetection(base: Omit<DetectionSimConfig, 'crash' | 'durationMs' | 'seed'>, seed: number, trials: number, hourMs = 3_600_000): DetectionSummary {
  const prng = new Prng(seed);
  const suspect: number[] = [];
  const dead: number[] = [];
  let undetected = 0;
  for (let t = 0; t < trials; t++) {
    const durationMs = 40 * base.intervalMs;
    const crash = { node: prng.int(base.nodes), atMs: 10 * base.intervalMs + prng.next() * 5 * base.intervalMs };
    const r = runDetectionSim({ ...base, seed: prng.nextU32(), durationMs, crash });
    for (const s of r.suspectAfterMs) if (s === undefined) undetected++; else suspect.push(s);
    for (const d of r.deadAfterMs) if (d !== undefined) dead.push(d);
  }
  const clean = runDetectionSim({ ...base, seed: prng.nextU32(), durationMs: hourMs });
  const hours = hourMs / 3_600_000;
  const p50s = median(suspect);
  const p50d = median(dead);
  return {
    trials,
    suspectMsP50: Math.round(p50s),
    deadMsP50: Math.round(p50d),
    suspectIntervalsP50: Math.round((p50s / base.intervalMs) * 100) / 100,
    deadIntervalsP50: Math.round((p50d / base.intervalMs) * 100) / 100,
    undetected,
    falseSuspicionsPerHour: clean.falseSuspicions / hours,
    falseDeathsPerHour: clean.falseDeaths / hours,
  };
}

function median(xs: number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}
