// One deterministic run over several threads. The validators and the world (operator, faults, checkers)
// stay on the main thread with a share of the followers; each worker thread runs the rest of the
// followers, each thread with its own event queue on the same virtual clock.
//
// Conservative lockstep (Chandy-Misra-Bryant's lookahead, in its simplest form): nothing a node does
// reaches a node on another thread sooner than the broker's latency, so all threads run the same window
// of virtual time, shorter than that latency, without hearing from each other, and trade at its end
// what they sent across: deliveries (each due after the window), the followers' subscription changes,
// and what the checkers need (commits, application states, violations, heights). A window starts at
// the earliest event due anywhere, so the quiet stretch of a commit wait costs one trade. Each thread
// inserts what it received in one fixed order, so a run is a function of the seed and the thread
// count; with another thread count the network's draws fall differently (each thread draws from its
// own stream).
//
// What may run split: followers that only talk over the broker. A scenario with a radio, flights or
// agents, forged commands, a validator-set change, or faults aimed at followers runs on one thread
// (shardProblem says why).

import { Worker } from 'node:worker_threads';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { RefusedKind, Scenario } from '../scenario/scenario.js';
import { scenarioFlies } from '../flight/world-flight.js';
import { scenarioHasAgents } from '../flight/world-agents.js';
import type { Checkers, Violation } from './checkers.js';
import type { WorldOptions } from './world.js';

/** How many followers' work one validator counts for when the followers are split. A validator of the
 *  1000-device bench costs about what 6 followers do, but most of it falls in windows where the
 *  followers have nothing to do (between an announcement and the next), so thread 0 is given half that
 *  (measured: 3 left the main thread least idle). Only the split depends on it, never the results. */
const validatorWeight = 3;

/** Why this scenario cannot be split over threads, or null. */
export function shardProblem(s: Scenario, threads: number, opts: WorldOptions): string | null {
  if (!Number.isInteger(threads) || threads < 1 || threads > 16) return `threads must be an integer from 1 to 16, got ${threads}`;
  if (threads === 1) return null;
  if (s.followers < threads) return `${threads} threads need at least ${threads} followers (the scenario has ${s.followers})`;
  if (s.mqtt.latencyMs < 0.5) return `the broker's latency (${s.mqtt.latencyMs} ms) is the threads' window and must be at least 0.5 ms`;
  if (s.radio !== undefined) return 'a scenario with a radio runs on one thread';
  if (s.workload.some((w) => w.kind === 'fleet-update')) return 'a scenario that changes the validator set runs on one thread';
  if (scenarioFlies(s) || scenarioHasAgents(s)) return 'a scenario whose drones fly runs on one thread';
  for (const f of s.faults) {
    if (f.kind === 'forged-commands') return 'a scenario with forged commands runs on one thread';
    if ((f.kind === 'crash' || f.kind === 'restart' || f.kind === 'byzantine' || f.kind === 'clock') && typeof f.node === 'number' && f.node >= s.validators) return `a fault at ${f.at} ms is aimed at follower ${f.node}: faults on followers run on one thread`;
  }
  if (opts.crashPoint && opts.crashPoint.node >= s.validators) return 'a crash point on a follower runs on one thread';
  return null;
}

/** Which thread runs each node: validators on 0; followers in contiguous blocks, thread 0 taking fewer
 *  so that its validators and the world's own work even out. */
export function shardOwners(s: Scenario, threads: number): Uint8Array {
  const n = s.validators + s.followers;
  const owner = new Uint8Array(n);
  if (threads === 1) return owner;
  const perThread = (s.validators * validatorWeight + s.followers) / threads;
  const onMain = Math.max(0, Math.min(s.followers - (threads - 1), Math.round(perThread - s.validators * validatorWeight)));
  const perWorker = (s.followers - onMain) / (threads - 1);
  for (let k = 0; k < s.followers; k++) owner[s.validators + k] = k < onMain ? 0 : 1 + Math.min(threads - 2, Math.floor((k - onMain) / perWorker));
  return owner;
}

/** Deliveries for another thread's nodes, packed into a few typed arrays (each distinct message once). */
export interface Batch {
  readonly at: Float64Array;
  readonly to: Int32Array;
  readonly from: Int32Array;
  readonly announced: Uint8Array;
  /** Delivery i carries data[offsets[blob[i]] .. offsets[blob[i] + 1]). */
  readonly blob: Int32Array;
  readonly data: Uint8Array;
  readonly offsets: Int32Array;
}

class BatchBuilder {
  private readonly at: number[] = [];
  private readonly to: number[] = [];
  private readonly from: number[] = [];
  private readonly announced: number[] = [];
  private readonly blob: number[] = [];
  private readonly blobs: Uint8Array[] = [];
  private readonly index = new Map<Uint8Array, number>();

  add(at: number, to: number, from: number, bytes: Uint8Array, announced: boolean): void {
    let b = this.index.get(bytes);
    if (b === undefined) {
      b = this.blobs.length;
      this.blobs.push(bytes);
      this.index.set(bytes, b);
    }
    this.at.push(at);
    this.to.push(to);
    this.from.push(from);
    this.announced.push(announced ? 1 : 0);
    this.blob.push(b);
  }

  get size(): number {
    return this.at.length;
  }

  build(): Batch {
    const offsets = new Int32Array(this.blobs.length + 1);
    for (let i = 0; i < this.blobs.length; i++) offsets[i + 1] = (offsets[i] as number) + (this.blobs[i] as Uint8Array).length;
    const data = new Uint8Array(offsets[this.blobs.length] as number);
    this.blobs.forEach((b, i) => data.set(b, offsets[i] as number));
    return { at: Float64Array.from(this.at), to: Int32Array.from(this.to), from: Int32Array.from(this.from), announced: Uint8Array.from(this.announced), blob: Int32Array.from(this.blob), data, offsets };
  }
}

export function transferables(batches: readonly Batch[]): ArrayBuffer[] {
  return batches.flatMap((b) => [b.at.buffer, b.to.buffer, b.from.buffer, b.announced.buffer, b.blob.buffer, b.data.buffer, b.offsets.buffer] as ArrayBuffer[]);
}

export type FollowChange = readonly [node: number, sources: readonly number[] | null];

/** What one thread hands on at the end of a window. */
export interface WindowReport {
  readonly ok: boolean;
  /** Per destination thread (index), what this thread's nodes sent there; null when nothing. */
  readonly out: (Batch | null)[];
  readonly follows: FollowChange[];
  /** Honest commits and application states of this thread's nodes, for the main thread's checkers. */
  readonly commits: [node: string, height: number, hash: string][];
  readonly apps: [node: string, height: number, state: string][];
  readonly violations: Violation[];
  /** The chain height of each node this thread runs (by index; -1: down, -2: refused to start). */
  readonly heights: [node: number, height: number][];
  /** When this thread's next event is due (Infinity: none); the next window starts no earlier. */
  readonly next: number;
  /** Events this thread ran in the window (the step budget counts them). */
  readonly steps: number;
}

/** What the main thread tells a worker to do next. */
export type Order =
  | { readonly type: 'window'; readonly end: number; readonly stepsMax: number; readonly heal: boolean; readonly follows: FollowChange[]; readonly inbound: Batch[] }
  | { readonly type: 'finish' };

/** One thread's totals at the end (its own nodes and network sends), for the report and the benchmark. */
export interface ThreadTotals {
  readonly delivered: number;
  readonly dropped: number;
  readonly duplicated: number;
  readonly bytes: number;
  readonly installs: number;
  readonly refused: number;
  /** What its honest nodes refused or dropped, by kind (World.refusals). */
  readonly refusals: Readonly<Record<RefusedKind, number>>;
  readonly verified: number;
  readonly signed: number;
  readonly events: string[];
}

/** The part of a World a window needs (world.ts implements it). */
export interface ShardHost {
  runUntil(end: number, stepsMax: number): boolean;
  /** Events run so far on this thread. */
  stepsRun(): number;
  healNetwork(): void;
  applyFollow(node: number, sources: readonly number[] | null): void;
  deliverAt(at: number, to: number, from: number, bytes: Uint8Array, announced: boolean): void;
  /** Heights of this thread's nodes (-1: down, -2: refused to start). */
  ownHeights(): [number, number][];
  /** When the next event of this thread is due (Infinity: none). */
  nextEventAt(): number;
}

/** One thread's side of a split run: which nodes are its own, and what it collected during a window. */
export class ShardState {
  readonly owner: Uint8Array;
  private outbound: BatchBuilder[];
  follows: FollowChange[] = [];
  commits: [string, number, string][] = [];
  apps: [string, number, string][] = [];
  private violationsSent = 0;
  /** Heights of the nodes other threads run, as of the last window (-1: down, -2: refused to start). */
  readonly remoteHeights = new Map<number, number>();

  constructor(
    readonly index: number,
    readonly threads: number,
    s: Scenario,
  ) {
    this.owner = shardOwners(s, threads);
    this.outbound = Array.from({ length: threads }, () => new BatchBuilder());
  }

  owns(node: number): boolean {
    return this.owner[node] === this.index;
  }

  /** Whether deliveries for other threads wait to be traded (sent between windows, e.g. by a restart). */
  hasOutbound(): boolean {
    return this.outbound.some((b) => b.size > 0);
  }

  /** The network's hook: a delivery due at `at` to a node of another thread is kept for the trade. */
  elsewhere(to: number, at: number, from: number, bytes: Uint8Array, announced: boolean): boolean {
    const t = this.owner[to] as number;
    if (t === this.index) return false;
    (this.outbound[t] as BatchBuilder).add(at, to, from, bytes, announced);
    return true;
  }

  /** Runs one window on `host` after taking in what the others sent; returns what goes out. */
  runWindow(host: ShardHost, o: { end: number; stepsMax: number; heal: boolean; follows: readonly FollowChange[]; inbound: readonly Batch[] }, violations: readonly Violation[]): WindowReport {
    if (o.heal) host.healNetwork();
    for (const [node, sources] of o.follows) host.applyFollow(node, sources);
    for (const b of o.inbound) {
      // One array per message, shared by its recipients as on one thread (a view would pin the batch).
      const blobs = Array.from({ length: b.offsets.length - 1 }, (_, k) => b.data.slice(b.offsets[k], b.offsets[k + 1]));
      for (let i = 0; i < b.at.length; i++) host.deliverAt(b.at[i] as number, b.to[i] as number, b.from[i] as number, blobs[b.blob[i] as number] as Uint8Array, b.announced[i] === 1);
    }
    const steps0 = host.stepsRun();
    const ok = host.runUntil(o.end, o.stepsMax);
    const out = this.outbound.map((b) => (b.size === 0 ? null : b.build()));
    this.outbound = Array.from({ length: this.threads }, () => new BatchBuilder());
    const report: WindowReport = { ok, out, follows: this.follows, commits: this.commits, apps: this.apps, violations: violations.slice(this.violationsSent), heights: host.ownHeights(), next: host.nextEventAt(), steps: host.stepsRun() - steps0 };
    this.violationsSent = violations.length;
    this.follows = [];
    this.commits = [];
    this.apps = [];
    return report;
  }
}

/** The main thread's world: its checkers take the workers' reports. */
export interface MainHost extends ShardHost {
  readonly checkers: Checkers;
}

interface WorkerLink {
  readonly worker: Worker;
  /** Set before the main thread ends the worker itself: its exit is then no failure. */
  ending: boolean;
  /** Resolves with the next message from the worker (one order in flight at a time). */
  next: ((m: unknown) => void) | null;
  failed: Error | null;
}

/** How a worker starts: the built JavaScript as it is; in a source clone, through tsx's loader first
 *  (as bin/launch.js does for the CLIs). */
function startWorker(workerData: unknown): Worker {
  const here = import.meta.url;
  if (!here.endsWith('.ts')) return new Worker(new URL('./shard-worker.js', here), { workerData });
  // tsx's ESM API by its package's own export map (import.meta.resolve is not there under every runner).
  const pkgFile = createRequire(here).resolve('tsx/package.json');
  const pkg = JSON.parse(readFileSync(pkgFile, 'utf8')) as { exports: Record<string, { import: { default: string } }> };
  const tsx = pathToFileURL(join(dirname(pkgFile), pkg.exports['./esm/api']?.import.default ?? 'dist/esm/api/index.mjs')).href;
  const entry = new URL('./shard-worker.ts', here).href;
  const boot = `(async () => { const { register } = await import(${JSON.stringify(tsx)}); register(); await import(${JSON.stringify(entry)}); })();`;
  return new Worker(boot, { eval: true, workerData });
}

/** The main thread's side: starts the workers, runs every window with them, gathers their totals. */
export class ShardCoordinator {
  private readonly links: WorkerLink[] = [];
  private readonly windowMs: number;
  private reached = 0;
  private started = false;
  private healNext = false;
  /** What the workers sent in the last window, per destination thread, in worker order. */
  private pending: (Batch | null)[][] = [];
  private pendingFollows: FollowChange[] = [];
  /** The earliest next event of any thread's queue after the last window (0 before the first). */
  private nextAt = 0;
  totals: ThreadTotals[] = [];
  private readonly createdAt = performance.now();
  /** From creating the workers to all of them ready (module loading, building their worlds). */
  startMs = 0;

  constructor(
    private readonly host: MainHost,
    private readonly shard: ShardState,
    s: Scenario,
    seed: number,
    opts: WorldOptions,
  ) {
    // Strictly shorter than any delivery's delay: what one window sends is due after it ends.
    this.windowMs = s.mqtt.latencyMs - 1e-3;
    // The options a worker's world needs (data only: hooks and loggers stay on the main thread).
    const plain: WorldOptions = {
      ...(opts.crashPoint ? { crashPoint: opts.crashPoint } : {}),
      ...(opts.snapshotEveryHeights !== undefined ? { snapshotEveryHeights: opts.snapshotEveryHeights } : {}),
      ...(opts.consensus ? { consensus: opts.consensus } : {}),
      ...(opts.routerDedup !== undefined ? { routerDedup: opts.routerDedup } : {}),
      ...(opts.memo !== undefined ? { memo: opts.memo } : {}),
    };
    for (let k = 1; k < shard.threads; k++) {
      const worker = startWorker({ scenario: s, seed, opts: plain, index: k, threads: shard.threads });
      const link: WorkerLink = { worker, ending: false, next: null, failed: null };
      worker.on('message', (m) => {
        const r = link.next;
        link.next = null;
        r?.(m);
      });
      const fail = (e: Error): void => {
        link.failed = e;
        const r = link.next;
        link.next = null;
        r?.(null);
      };
      worker.on('error', fail);
      worker.on('exit', (code) => {
        if (!link.ending && link.failed === null && code !== 0) fail(new Error(`simulation thread ${k} exited with status ${code}`));
      });
      this.links.push(link);
    }
  }

  private reply(link: WorkerLink): Promise<unknown> {
    return new Promise((resolve, reject) => {
      if (link.failed) return reject(link.failed);
      link.next = (m) => (link.failed ? reject(link.failed) : resolve(m));
    });
  }

  /** The next network heal applies at the start of the next window, on every thread. */
  heal(): void {
    this.host.healNetwork();
    this.healNext = true;
  }

  async advance(untilMs: number, stepsMax: number): Promise<boolean> {
    if (!this.started) {
      this.started = true;
      await Promise.all(this.links.map((l) => this.reply(l))); // each worker says it is ready
      this.startMs = performance.now() - this.createdAt;
    }
    let ok = true;
    let used = 0; // events run by all threads in this call: the step budget is the whole run's, as on one thread
    while (this.reached < untilMs && ok) {
      // Nothing happens anywhere before the earliest next event (a thread's queue, the main thread's
      // included, which may have acted between windows: a restart, a heal; or a delivery on its way to
      // a thread), so a window may start there: quiet stretches cost one trade, not many. Deliveries
      // the main thread sent between windows leave with this window: it must start where they were sent.
      let next = Math.min(this.nextAt, this.host.nextEventAt());
      if (this.shard.hasOutbound()) next = this.reached;
      for (const perDest of this.pending) for (const b of perDest) if (b) for (const at of b.at) next = Math.min(next, at);
      const end = Math.min(untilMs, Math.max(this.reached, next) + this.windowMs);
      const owner = this.shard.owner;
      const budget = stepsMax - used;
      // Every thread hears of the others' subscription changes of the last window, in thread order.
      const followsFor = (k: number): FollowChange[] => this.pendingFollows.filter(([node]) => owner[node] !== k);
      const inboundFor = (k: number): Batch[] => this.pending.map((perDest) => perDest[k]).filter((b): b is Batch => b !== null && b !== undefined);
      const replies = Promise.all(this.links.map((l) => this.reply(l)));
      replies.catch(() => undefined); // awaited below; a failure of the main thread's own window comes first
      this.links.forEach((l, i) => {
        const inbound = inboundFor(i + 1);
        const order: Order = { type: 'window', end, stepsMax: budget, heal: this.healNext, follows: followsFor(i + 1), inbound };
        l.worker.postMessage(order, transferables(inbound));
      });
      this.healNext = false;
      const own = this.shard.runWindow(this.host, { end, stepsMax: budget, heal: false, follows: followsFor(0), inbound: inboundFor(0) }, this.host.checkers.violations);
      const reports = (await replies) as (WindowReport | null)[];
      this.pending = [own.out];
      this.pendingFollows = [...own.follows];
      this.nextAt = own.next;
      used += own.steps;
      for (const r of reports) {
        if (r === null) throw new Error('a simulation thread stopped');
        this.pending.push(r.out);
        this.pendingFollows.push(...r.follows);
        for (const [node, h, hash] of r.commits) this.host.checkers.onRemoteCommit(node, h, hash);
        for (const [node, h, state] of r.apps) this.host.checkers.onAppState(node, h, state);
        for (const v of r.violations) this.host.checkers.addViolation(v);
        for (const [node, h] of r.heights) this.shard.remoteHeights.set(node, h);
        this.nextAt = Math.min(this.nextAt, r.next);
        used += r.steps;
        ok &&= r.ok;
      }
      ok &&= own.ok && used < stepsMax;
      this.reached = end;
    }
    return ok;
  }

  /** Ends the workers and keeps their totals. */
  async finish(): Promise<void> {
    const replies = this.links.map((l) => this.reply(l));
    for (const l of this.links) l.worker.postMessage({ type: 'finish' } satisfies Order);
    this.totals = (await Promise.all(replies)) as ThreadTotals[];
    await this.abort();
  }

  /** Stops the workers without waiting for anything (a run that failed). */
  async abort(): Promise<void> {
    for (const l of this.links) l.ending = true;
    await Promise.all(this.links.map((l) => l.worker.terminate()));
  }
}
