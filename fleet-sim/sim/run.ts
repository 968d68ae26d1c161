// Runs one scenario with one seed in deterministic mode and builds the report of DESIGN.md. After the
// scenario's duration a liveness phase heals the network, restarts crashed honest nodes, and requires
// every honest node to commit a new height within the budget.

import { initCrypto } from '../../runtime/crypto/sodium.js';
import { scenarioFlies, type FlightReport } from '../flight/world-flight.js';
import { hazardReport, type HazardReport } from '../flight/hazard-report.js';
import { refusedKinds, type RefusedKind, type Scenario } from '../scenario/scenario.js';
import type { Violation } from './checkers.js';
import { expectFailures } from './expect.js';
import type { ForgedCommandsReport } from './forged-commands.js';
import type { RadioReport } from './sim-links.js';
import { World, type WorldOptions } from './world.js';
import { randomWorldMs } from './random-world.js';
import { shellWord, type ScenarioFile } from '../scenario/shipped.js';
export { shellWord };
import type { ThreadTotals } from './shards.js';
import type { CommandRejection } from '../report/rejections.js';

export interface Report {
  scenario: string;
  seed: number;
  mode: 'deterministic';
  /** Threads the run was split over (fleet-sim/sim/shards.ts); a seed replays with the same count. */
  threads: number;
  simulatedMs: number;
  wallMs: number;
  nodes: { validators: number; followers: number; byzantine: number[]; crashed: number[] };
  safety: { ok: boolean; violations: Violation[] };
  /** commandsRejected: of the committed, those the mission machine committed as rejected; rejections:
   *  the first of them (report/rejections.ts). */
  liveness: { ok: boolean; heights: number; commandsSubmitted: number; commandsCommitted: number; commandsRejected: number; rejections: CommandRejection[]; maxStallMs: number; healedAtMs: number; progressAfterHealMs: number | null };
  latencyMs: { commitP50: number | null; commitP99: number | null };
  throughput: { commandsPerSec: number };
  network: { messagesDelivered: number; messagesDropped: number; messagesDuplicated: number; bytesSent: number; bytesPerHeight: number | null };
  /** Snapshots honest nodes installed by state sync, and offers or chunks they refused (all incarnations). */
  stateSync: { installs: number; refused: number };
  /** What honest nodes refused or dropped, by kind (all incarnations and threads): scenario.ts refusedKinds. */
  refused: Record<RefusedKind, number>;
  /** The furthest a committed block's time ran ahead of true time when first committed (ms; null
   *  without a commit). A fast clock's blocks, if accepted, show here. */
  blockTimeAheadMaxMs: number | null;
  /** The serial radio's counters and which link delivered first; null without a radio. */
  radio: RadioReport | null;
  detection: null;
  evidence: { kind: 'equivocation'; validator: number; height: number }[];
  /** What the drones did; null when the scenario does not fly. */
  flight: FlightReport | null;
  /** Hazards sighted, attested and committed through consensus; null when the scenario has no agents. */
  hazards: HazardReport | null;
  /** What an attacker's forged commands met (the scenario's forgedCommands faults); null without one. */
  forgedCommands: ForgedCommandsReport | null;
  /** The manifest in force on the honest chain at the end. */
  validatorSet: { epoch: number; validators: number[]; followers: number[]; sinceHeight: number };
  expect: { met: boolean; failed: string[] };
  replay: string;
  /** The scenario file the run read (absolute) and its SHA-256: `fleet-sim replay REPORT.json` runs that
   *  file, and refuses when it changed since. null for a random world or a scenario given as a value. */
  scenarioFile: ScenarioFile | null;
  log: string[];
}

/** What a run takes besides the world's own options: the file it came from (for the replay line, and
 *  the report's scenarioFile) and the hooks. */
export type RunOptions = WorldOptions & { file?: string; scenarioFile?: ScenarioFile } & RunHooks;

const stepsMax = 50_000_000;

/** The world's log lines of every thread of a split run, in time order (each starts `<ms>ms`). */
function mergeLogs(logs: readonly (readonly string[])[]): string[] {
  const at = (line: string): number => Number.parseFloat(line);
  return logs.flat().sort((a, b) => at(a) - at(b));
}

function percentile(sorted: number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

/** The command that runs a world again. A random world (file `--random`) names its length when it is
 *  not the default one. */
export function replayCommand(file: string | undefined, seed: number, threads = 1, durationMs = randomWorldMs): string {
  if (file === '--random') return `npx fleet-sim replay --seed ${seed}${durationMs !== randomWorldMs ? ` --seconds ${durationMs / 1000}` : ''}`;
  return `npx fleet-sim run ${file === undefined ? '<scenario>' : shellWord(file)} --seed ${seed}${threads > 1 ? ` --threads ${threads}` : ''} --json -`;
}

/** The manifest in force at the end of the honest chain, by node index, and the height it took over. */
function setInForce(w: World): Report['validatorSet'] {
  const chain = w.honestChainNode()?.shell?.core.chain;
  const m = chain ? chain.manifestAt(chain.height) : w.manifest;
  const index = (id: string): number => w.nodes.findIndex((n) => n.id === id);
  let since = 1;
  if (chain) {
    since = chain.height;
    for (let h = chain.height - 1; h >= 1 && chain.manifestAt(h).body.epoch === m.body.epoch; h--) since = h;
  }
  return { epoch: m.body.epoch, validators: m.body.validators.map((v) => index(v.id)), followers: m.body.followers.map((f) => index(f.id)), sinceHeight: since };
}

/** Thrown by a `pace` hook to end the run there (Ctrl-C): there is no report. */
export class RunStopped extends Error {
  constructor(readonly atMs: number) {
    super(`stopped at ${atMs} ms`);
  }
}

/** Hooks for fleet-sim's dashboard and real-time pacing (fleet-sim/report/observe-world.ts). */
export interface RunHooks {
  /** Called once the world exists, before it starts: observers attach here (read-only). */
  readonly onWorld?: (w: World) => void;
  /** Called between slices of sliceMs virtual time; the run waits for it (pacing to a wall clock). */
  readonly pace?: (simNowMs: number) => Promise<void>;
  readonly sliceMs?: number;
}

export async function runScenario(s: Scenario, seed: number = s.seed, opts: RunOptions = {}): Promise<Report> {
  await initCrypto();
  const wallStart = performance.now();
  const threads = opts.threads ?? 1;
  const w = new World(s, seed, opts);
  opts.onWorld?.(w);
  try {
    return await runWorld(w, s, seed, opts, threads, wallStart);
  } catch (e) {
    await w.abort(); // a run split over threads ends its workers
    throw e;
  }
}

async function runWorld(w: World, s: Scenario, seed: number, opts: RunOptions, threads: number, wallStart: number): Promise<Report> {
  w.start();
  const limit = opts.stepsMax ?? stepsMax;
  for (let t = 0; opts.pace && t < s.durationMs; ) {
    t = Math.min(s.durationMs, t + (opts.sliceMs ?? 50));
    if (!(await w.advance(t, limit))) break;
    await opts.pace(t);
  }
  if (!(await w.advance(s.durationMs, limit))) throw new Error(`step budget of ${limit} events ran out before ${s.durationMs} ms`);
  // Liveness phase.
  const healedAt = w.queue.now;
  w.heal();
  for (const n of w.nodes) if (n.shell === null && w.honest(n) && w.owns(n.index)) w.restart(n);
  const honest = w.nodes.filter((n) => w.honest(n));
  const heightAt = (): number => Math.max(0, ...honest.map((n) => w.heightOf(n) ?? 0));
  const target = heightAt() + 1;
  let progressAt: number | null = null;
  for (let t = healedAt; t < healedAt + s.livenessBudgetMs; ) {
    t += 250;
    if (!(await w.advance(t, limit))) break;
    if (honest.every((n) => (w.heightOf(n) ?? -1) >= target)) {
      progressAt = w.queue.now;
      break;
    }
  }
  if (progressAt === null) {
    const hs = honest.map((n) => `${n.id}:${w.heightOf(n) ?? (w.refusedToStart(n) ? 'refused to start' : 'down')}`).join(' ');
    w.checkers.livenessFailure(`no progress to height ${target} within ${s.livenessBudgetMs} ms after healing (${hs})`);
  }
  // Statistics from the honest commits.
  const decided = [...w.checkers.decided.entries()].sort((a, b) => a[0] - b[0]);
  const committedAt = new Map<string, number>();
  for (const [, d] of decided) for (const c of d.commands) committedAt.set(c, d.atMs);
  const latencies: number[] = [];
  let committed = 0;
  for (const [key, at] of w.submitted) {
    const c = committedAt.get(key);
    if (c !== undefined) {
      committed++;
      latencies.push(c - at);
    }
  }
  latencies.sort((a, b) => a - b);
  let maxStall = 0;
  let prev = 0;
  for (const [, d] of decided) {
    if (d.atMs > healedAt) break;
    maxStall = Math.max(maxStall, d.atMs - prev);
    prev = d.atMs;
  }
  maxStall = Math.max(maxStall, healedAt - prev);
  const heights = decided.length;
  const evidence = w.committedEvidence.map((e) => ({ kind: 'equivocation' as const, validator: w.nodes.findIndex((n) => n.id === e.culprit), height: e.height }));
  const violations = w.checkers.violations;
  const safetyViolations = violations.filter((v) => v.property !== 'liveness');
  const failed: string[] = [];
  if (safetyViolations.length > 0) failed.push('safety');
  if (violations.some((v) => v.property === 'liveness')) failed.push('liveness');
  const submittedBeforeEnd = [...w.submitted.values()].length;
  const fraction = submittedBeforeEnd === 0 ? 1 : committed / submittedBeforeEnd;
  if (s.expect.committedFraction !== undefined && fraction < s.expect.committedFraction) failed.push(`committedFraction ${fraction.toFixed(3)} < ${s.expect.committedFraction}`);
  if (s.expect.maxStallMs !== undefined && maxStall > s.expect.maxStallMs) failed.push(`maxStall ${Math.round(maxStall)} ms > ${s.expect.maxStallMs} ms`);
  const flight = scenarioFlies(s) ? (w.flight?.report() ?? null) : null;
  const radio = w.links.radioReport();
  const validatorSet = setInForce(w);
  const hazards = hazardReport(w);
  const forgedCommands = w.forgery?.ledger.report() ?? null;
  // After the flight report: the heights decided since the flight layer's last step go through it now.
  // A world that does not fly (no flight layer) commits only noops of its operator, which the machine
  // never rejects.
  const rejections = w.flight?.settle() ?? null;
  await w.finish();
  // Every thread's nodes and sends (one thread, or a split run's main thread and workers: shards.ts).
  const threadTotals = [w.ownTotals(), ...w.workerTotals()];
  const sum = (f: (t: ThreadTotals) => number): number => threadTotals.reduce((a, t) => a + f(t), 0);
  const bytesSent = sum((t) => t.bytes);
  const refused = Object.fromEntries(refusedKinds.map((k) => [k, sum((t) => t.refusals[k])])) as Record<RefusedKind, number>;
  const blockTimeAheadMaxMs = w.blockTimeAheadMaxMs === null ? null : Math.round(w.blockTimeAheadMaxMs);
  failed.push(...expectFailures(s.expect, { flight, radio, epoch: validatorSet.epoch, hazardsCommitted: hazards?.committed ?? 0, forged: forgedCommands, evidence, stateSync: { installs: sum((t) => t.installs), refused: sum((t) => t.refused) }, refused, blockTimeAheadMaxMs }));
  const r: Report = {
    scenario: s.name,
    seed,
    mode: 'deterministic',
    threads,
    simulatedMs: w.queue.now,
    wallMs: Math.round(performance.now() - wallStart),
    nodes: {
      validators: s.validators,
      followers: s.followers,
      byzantine: w.nodes.filter((n) => !w.honest(n)).map((n) => n.index),
      crashed: [...w.crashedIds].sort((a, b) => a - b),
    },
    safety: { ok: safetyViolations.length === 0, violations },
    liveness: { ok: progressAt !== null, heights, commandsSubmitted: w.submitted.size, commandsCommitted: committed, commandsRejected: rejections?.count ?? 0, rejections: [...(rejections?.first ?? [])], maxStallMs: Math.round(maxStall), healedAtMs: healedAt, progressAfterHealMs: progressAt === null ? null : Math.round(progressAt - healedAt) },
    latencyMs: { commitP50: percentile(latencies, 50), commitP99: percentile(latencies, 99) },
    throughput: { commandsPerSec: Math.round((committed / (s.durationMs / 1000)) * 100) / 100 },
    network: { messagesDelivered: sum((t) => t.delivered), messagesDropped: sum((t) => t.dropped), messagesDuplicated: sum((t) => t.duplicated), bytesSent, bytesPerHeight: heights > 0 ? Math.round(bytesSent / heights) : null },
    stateSync: { installs: sum((t) => t.installs), refused: sum((t) => t.refused) },
    refused,
    blockTimeAheadMaxMs,
    radio,
    detection: null,
    evidence,
    flight,
    hazards,
    forgedCommands,
    validatorSet,
    expect: { met: failed.length === 0, failed },
    replay: replayCommand(opts.file, seed, threads, s.durationMs),
    scenarioFile: opts.scenarioFile ?? null,
    log: mergeLogs(threadTotals.map((t) => t.events)).slice(0, 50),
  };
  return r;
}
