// One seed decides the whole world: keys, the network's draws, disk tears, Byzantine choices. The world
// runs real NodeShells (the device code) over simulated ports on a virtual clock, applies the
// scenario's faults, submits the workload, and lets the checkers watch every signature and commit.

import { createSigner, createVerifier, hash, keyPairFromSeed, type Signer, type Verifier } from '../../runtime/crypto/sodium.js';
import { limits } from '../../runtime/lib/limits.js';
import { toHex } from '../../runtime/lib/bytes.js';
import { DedupWindow } from '../../runtime/links/dedup-cache.js';
import { Prng } from '../../runtime/lib/prng.js';
import { signManifest, type Manifest } from '../../runtime/manifest/manifest.js';
import { encodeCommandBody } from '../../runtime/wire/command.js';
import { decodeEnvelope, parseEnvelopeBody, sealEnvelope } from '../../runtime/wire/envelope.js';
import { encodeTelemetryBody } from '../../runtime/wire/telemetry.js';
import { TelemetryGate } from '../../runtime/device/telemetry-gate.js';
import { defaultConsensusConfig, defaultSnapshotCheckpoints, type CommittedBlock, type ConsensusConfig } from '../../runtime/consensus/types.js';
import { blockTxBytesMax } from '../../runtime/consensus/consensus-state.js';
import { Outbox } from '../../runtime/cli/outbox.js';
import { aheadFile, NodeShell, walFile, type ForeignSignature } from '../../runtime/node/shell.js';
import { signerStateFile } from '../../runtime/node/signer-guard.js';
import { diskSectorBytes, frameHeaderBytes } from '../../runtime/node/framed-log.js';
import type { Logger } from '../../runtime/node/ports.js';
import { unwrap } from '../../runtime/lib/result.js';
import { nodeId, rateCommandsMax, rateTimes, type Behavior, type RefusedKind, type Scenario } from '../scenario/scenario.js';
import { byzantineSend, rememberReceived, type ByzantineContext } from './byzantine.js';
import { makeByzantine, scheduleFaults } from './world-faults.js';
import { Checkers } from './checkers.js';
import { EventQueue } from './event-queue.js';
import { operatorIndex, type SimNetwork } from './network.js';
import { SimStorage, type CrashMode } from './sim-storage.js';
import { memoVerifier, rememberingSigner, type MemoVerifier } from '../../runtime/crypto/memo-verifier.js';
import { memoHash } from './memo-hash.js';
import { envelopeMemo, type EnvelopeMemo } from '../../runtime/wire/envelope-memo.js';
import { SimApp, type SimAppState } from './sim-app.js';
import { SimLinks } from './sim-links.js';
import type { TrafficClass } from '../../runtime/links/link.js';
import { flightStepMs, scenarioFlies, telemetryPeriodMs, WorldFlight } from '../flight/world-flight.js';
import { scenarioHasAgents, WorldAgents } from '../flight/world-agents.js';
import { WorldForgery } from './world-forgery.js';
import { ShardCoordinator, ShardState, shardProblem, type FollowChange, type MainHost, type Order, type ThreadTotals, type WindowReport } from './shards.js';

export class SimCrash extends Error {}

/** Drops of a sound envelope that every run has by the thousand (runtime/node/edge.ts). */
const commonDrop = /^(?:block \d+ is already committed here|prevote not needed|(?:prevote|precommit|proposal) for (?:height|round) \d+[^:]* not needed)/;
/** How the edge words a signature that does not verify (runtime/wire/envelope.ts verifyEnvelope). */
const badSignatureDrop = 'has a signature that does not verify';
/** How the core (a proposal that passed the edge) and the edge (one dropped unchecked) end a proposal's
 *  refusal whose sender is not its round's proposer. */
const notProposerDrop = ', who is not its proposer';

export interface SimNode {
  readonly index: number;
  readonly id: string;
  readonly signer: Signer;
  storage: SimStorage;
  shell: NodeShell | null;
  /** The application of the current incarnation (rebuilt from snapshot and WAL at every boot). */
  app: SimApp | null;
  /** Envelopes this incarnation received recently (only with WorldOptions.routerDedup). */
  seen: DedupWindow | null;
  incarnation: number;
  byzantine: Behavior | null;
  byz: ByzantineContext | null;
  twin: SimNode | null;
  /** Crash at the N-th persist/send point of the current incarnation (crash-point tests). */
  crashAtPoint: number | null;
  points: number;
  /** The label of each fail point this node crashed at (crash-point tests check what they covered). */
  crashLabels: string[];
  /** State sync in earlier incarnations (the current one's core counts its own). */
  earlierSync: { installs: number; refused: number };
  crashes: number;
  fatal: string | null;
  /** Its board clock's offset from true time (clock faults); 0 for most. */
  clockOffsetMs: number;
  /** Its consensus clock's offset: the board's, taken at boot or when it steps forward (SteadyClock). */
  steadyOffsetMs: number;
}

export interface WorldOptions {
  /**
   * Extra hook for tests: crash node i at its N-th fail point, restart after `restartAfterMs`. Points
   * count from its boot, or from `armAtMs` (virtual ms) when given.
   */
  readonly crashPoint?: { readonly node: number; readonly point: number; readonly restartAfterMs: number; readonly mode: CrashMode; readonly armAtMs?: number };
  readonly stepsMax?: number;
  /** Write the checkpoint snapshot to disk and empty the WAL every this many heights (bounded disk). */
  readonly snapshotEveryHeights?: number;
  /** Overrides of the consensus settings every node uses (e.g. checkpointEveryHeights, syncWindowHeights). */
  readonly consensus?: Partial<ConsensusConfig>;
  /**
   * Drop an envelope a node received within limits.routerDedupWindowMs of its first copy, as a device's
   * link router does (runtime/links/router.ts, the same DedupWindow on virtual time): a copy from
   * another link or a duplicated delivery is dropped, a re-broadcast after the window gets through.
   */
  readonly routerDedup?: boolean;
  /** Measure CPU time spent inside node code (the benchmark; costs a getrusage per event). */
  readonly measureNodeCpu?: boolean;
  /** Remember signature checks and hashes across nodes (default true; exact, and much faster). Off,
   *  each node remembers only what a device does (its own signatures, its recent checks). */
  readonly memo?: boolean;
  readonly log?: Logger;
  /** Run on this many threads (fleet-sim/sim/shards.ts): the followers split over worker threads.
   *  Deterministic for one seed and one thread count; another count draws the network differently. */
  readonly threads?: number;
  /** Set by shards.ts in a worker thread: this world is thread `index` of `threads`. */
  readonly shard?: { readonly index: number; readonly threads: number };
}

export const simEpochMs = 1_700_000_000_000; // virtual time 0 is this Unix time, so expiry checks are realistic

export class World implements MainHost {
  readonly queue = new EventQueue();
  readonly prng: Prng;
  readonly nodes: SimNode[] = [];
  /** Nodes a clock fault sets off true time (they read and schedule on their own clock). */
  private readonly clockFaulted = new Set<number>();
  /** Used by the checkers only. */
  readonly verifier: Verifier;
  /** BLAKE2b-256 for the nodes' and applications' hashing: remembered across nodes unless opts.memo is false. */
  private readonly hash: (bytes: Uint8Array) => Uint8Array;
  /** The memo behind `hash` (its hits and misses), or null without one. */
  readonly hashMemo: { readonly hits: number; readonly misses: number } | null;
  /** Envelopes decoded and opened once for all the nodes (runtime/wire/envelope-memo.ts), or null
   *  without the memo (opts.memo false: each node decodes what it hears, as a device does). */
  readonly envelopes: EnvelopeMemo | null;
  /** Used by the nodes; counts verifications for the benchmark. */
  readonly nodeVerifier: Verifier;
  nodeVerifications = 0;
  /** Signatures checked for real (the memo's misses: nodes and checkers), and made (nodes, the
   *  operator, the watcher): the benchmark's floor of crypto work. */
  readonly crypto = { verified: 0, signed: 0 };
  /** With the memo, what the world's signers sign is remembered as good (countSigns). */
  private readonly memoV: MemoVerifier | null;
  /** CPU time inside node code (not the simulator, workload signing or checkers), when measureNodeCpu. */
  nodeBusyMs = 0;
  /** What this thread's honest nodes refused or dropped, by kind (the report's `refused`). */
  readonly refusals: Record<RefusedKind, number> = { malformed: 0, notProposer: 0, invalidBlock: 0, tornLogTails: 0, replayedCommands: 0, badSignatures: 0 };
  /** The furthest a block's time ran ahead of true time when an honest node here first committed it
   *  (ms; null before any commit): a proposer's fast clock shows here unless its blocks are refused. */
  blockTimeAheadMaxMs: number | null = null;
  /** Every evidence the honest nodes committed, in block order: the chains forget it after
   *  limits.evidenceMaxAgeHeights, the report names it all. One entry per validator and height. */
  readonly committedEvidence: { readonly culprit: string; readonly height: number }[] = [];
  /** Copies dropped by the nodes' router filter (WorldOptions.routerDedup). */
  dedupDropped = 0;
  readonly net: SimNetwork;
  /** Each device's router over the broker and, when the scenario has one, the radio. */
  readonly links: SimLinks;
  /** The drones, when the scenario flies (or a dashboard asked to see them). */
  flight: WorldFlight | null = null;
  /** The drones' hazard agents, when the scenario has hazards or devices that lie about them. */
  readonly agents: WorldAgents | null = null;
  private agentsReady = false;
  private readonly flightPrng: Prng;
  private started = false;
  private indexById: Map<string, number> | null = null;
  readonly checkers: Checkers;
  readonly manifest: Manifest;
  readonly fleet = 'sim';
  private readonly operator: Signer;
  /** The fleet authority: signs manifests, including validator-set changes. */
  readonly authority: Signer;
  private readonly watcher: Signer;
  readonly submitted = new Map<string, number>();
  /** The operator's commands not yet seen committed, published again as murmurctl does (Outbox). */
  private readonly outbox = new Outbox();
  private resendAt: number | null = null;
  /** Copies the operator published again. */
  resent = 0;
  /** The attacker of the scenario's forgedCommands faults; null without one. */
  readonly forgery: WorldForgery | null = null;
  readonly crashedIds = new Set<number>();
  /** The world's log of notable events (bounded). */
  events: string[] = [];
  private readonly netPrng: Prng;
  readonly diskPrng: Prng;
  private readonly workPrng: Prng;
  /** Per device: which telemetry periods it signs a report in (runtime/device/telemetry-gate.ts), and
   *  the next report's sequence number. */
  private readonly telemetry: { readonly gate: TelemetryGate; seq: number }[] = [];
  /** This thread's part of a run split over threads (shards.ts); null on one thread. */
  readonly shard: ShardState | null = null;
  /** On the main thread of a split run: the workers. */
  private coordinator: ShardCoordinator | null = null;

  constructor(
    readonly scenario: Scenario,
    readonly seed: number,
    readonly opts: WorldOptions = {},
  ) {
    this.prng = new Prng(seed);
    const keyPrng = this.prng.split('keys');
    // Each thread of a split run draws its own senders' network fates (shards.ts); thread 0 as one thread does.
    this.netPrng = this.prng.split(opts.shard !== undefined && opts.shard.index > 0 ? `network-${opts.shard.index}` : 'network');
    this.diskPrng = this.prng.split('disk');
    this.workPrng = this.prng.split('workload');
    this.flightPrng = this.prng.split('flight');
    const radioPrng = scenario.radio ? this.prng.split('radio') : null;
    // One check per signature and one hash per input, not one per node; the benchmark turns this off to
    // count real work.
    const inner = createVerifier();
    const counted: Verifier = { backend: inner.backend, verify: (sig, msg, pk) => (this.crypto.verified++, inner.verify(sig, msg, pk)) };
    const memoV = opts.memo === false ? null : memoVerifier(counted, limits.simVerifyCacheMax, limits.simVerifyCacheBytesMax);
    const real = memoV ?? counted;
    const memo = opts.memo === false ? null : memoHash(hash);
    this.hashMemo = memo;
    this.hash = memo ?? hash;
    this.envelopes = opts.memo === false ? null : envelopeMemo(limits.simEnvelopeMemoMax, limits.simEnvelopeMemoBytesMax);
    this.verifier = real;
    this.memoV = memoV;
    this.nodeVerifier = { backend: real.backend, verify: (sig, msg, pk) => (this.nodeVerifications++, real.verify(sig, msg, pk)) };
    const authority = createSigner(keyPairFromSeed(keyPrng.bytes(32)));
    this.authority = authority;
    this.operator = this.countSigns(createSigner(keyPairFromSeed(keyPrng.bytes(32))));
    this.watcher = this.countSigns(createSigner(keyPairFromSeed(keyPrng.bytes(32))));
    if (scenario.faults.some((f) => f.kind === 'forged-commands')) {
      // A stream of its own, so a world with an attacker draws everything else as it would without.
      const forgeryPrng = new Prng(seed).split('forgery');
      this.forgery = new WorldForgery({
        fleet: this.fleet,
        now: () => Math.floor(this.now()), // whole ms, as submit's
        at: (t, fire) => this.queue.at(t, fire),
        after: (ms, fire) => this.queue.at(this.queue.now + ms, fire),
        publish: (bytes) => this.net.send(operatorIndex, null, bytes),
        operator: this.operator,
        observer: this.watcher,
        prng: forgeryPrng,
      });
    }
    const n = scenario.validators + scenario.followers;
    const signers: Signer[] = [];
    for (let i = 0; i < n; i++) signers.push(this.countSigns(createSigner(keyPairFromSeed(keyPrng.bytes(32)))));
    const id = (i: number): string => nodeId(i, scenario.validators);
    this.manifest = unwrap(
      signManifest(
        {
          fleet: this.fleet,
          epoch: 1,
          authority: authority.publicKey,
          validators: signers.slice(0, scenario.validators).map((s, i) => ({ id: id(i), publicKey: s.publicKey, power: 1 })),
          followers: signers.slice(scenario.validators).map((s, i) => ({ id: id(scenario.validators + i), publicKey: s.publicKey })),
          operators: [
            { id: 'op', publicKey: this.operator.publicKey, roles: [...(scenario.operatorRoles ?? ['operator'])] },
            { id: 'watcher', publicKey: this.watcher.publicKey, roles: ['observer'] },
          ],
          createdAt: simEpochMs,
        },
        authority,
      ),
    );
    const envelopes = this.envelopes;
    this.checkers = new Checkers(this.fleet, this.verifier, () => this.queue.now, envelopes === null ? decodeEnvelope : (b) => envelopes.decode(b), envelopes === null ? parseEnvelopeBody : (r) => envelopes.parseBody(r));
    this.links = new SimLinks(this.queue, this.netPrng, radioPrng, scenario, n, (i) => this.flight?.positions[i] ?? null, (to, bytes, announced) => this.deliver(to, bytes, announced));
    this.net = this.links.net;
    const threads = opts.shard?.threads ?? opts.threads ?? 1;
    const problem = shardProblem(scenario, threads, opts);
    if (problem !== null) throw new Error(problem);
    if (threads > 1) {
      const shard = new ShardState(opts.shard?.index ?? 0, threads, scenario);
      this.shard = shard;
      this.net.elsewhere = (to, at, from, bytes, announced) => shard.elsewhere(to, at, from, bytes, announced);
    }
    for (let i = 0; i < n; i++) {
      this.nodes.push({ index: i, id: id(i), signer: signers[i] as Signer, storage: new SimStorage(), shell: null, app: null, seen: null, incarnation: 0, byzantine: null, byz: null, twin: null, crashAtPoint: null, points: 0, crashLabels: [], earlierSync: { installs: 0, refused: 0 }, crashes: 0, fatal: null, clockOffsetMs: 0, steadyOffsetMs: 0 });
    }
    for (const f of scenario.faults) {
      if (f.kind !== 'clock') continue;
      this.clockFaulted.add(f.node);
      // Set from the start: the board booted with that time.
      if (f.at === 0) (this.nodes[f.node] as SimNode).clockOffsetMs = f.offsetMs;
    }
    if (scenarioFlies(scenario)) this.ensureFlight();
    if (scenarioHasAgents(scenario)) this.agents = new WorldAgents(this, this.ensureFlight(), this.prng.split('agents'));
  }

  /** Makes the drones part of the world (the dashboard calls it for scenarios that do not fly: their
   *  drones are shown on their pads and sign no telemetry, so watching a run does not change it). */
  ensureFlight(): WorldFlight {
    if (this.flight) return this.flight;
    const f = new WorldFlight(this, this.flightPrng, scenarioHasAgents(this.scenario));
    this.flight = f;
    if (this.started) this.scheduleFlight(this.queue.now);
    return f;
  }

  private scheduleFlight(from: number): void {
    let telemetryAt = from;
    const signsTelemetry = scenarioFlies(this.scenario);
    const tick = (): void => {
      const f = this.flight as WorldFlight;
      f.step(this.queue.now);
      if (signsTelemetry && this.queue.now >= telemetryAt) {
        telemetryAt += telemetryPeriodMs;
        this.sendTelemetry(f);
      }
      for (const e of f.effects.splice(0)) {
        // Every device's mission runner hands the authority-signed manifest to consensus (runtime/device).
        if (e.type === 'fleet-update') for (const n of this.nodes) if (n.shell && this.honest(n)) this.submitTx(n, e.manifest);
      }
      this.queue.at(this.queue.now + flightStepMs, tick);
    };
    this.queue.at(from, tick);
  }

  /** Every running device signs where its drone is, as runtime/device does each telemetry period: the
   *  committed positions and batteries are what the mission machine allocates and deconflicts from. */
  private sendTelemetry(f: WorldFlight): void {
    const radioOnly = this.scenario.radio !== undefined && this.net.brokerDown;
    for (const n of this.nodes) {
      const d = f.layer.drones[n.index];
      if (!n.shell || !d || d.offline) continue;
      const st = d.sim.state();
      const progress = f.layer.progressOf(d);
      const facts = {
        northDm: Math.round(st.northM * 10),
        eastDm: Math.round(st.eastM * 10),
        altDm: Math.round(st.upM * 10),
        batteryPermille: Math.round(d.sim.remainingFraction() * 1000),
        ...(progress ? { completed: '', progress } : { completed: d.completed }),
      };
      const t = (this.telemetry[n.index] ??= { gate: new TelemetryGate(n.id), seq: 0 });
      if (!t.gate.due(facts, radioOnly)) continue;
      const body = encodeTelemetryBody({ node: n.id, session: n.incarnation, seq: t.seq++, ...facts });
      this.submitTx(n, sealEnvelope('telemetry', this.fleet, n.id, body, n.signer));
    }
  }

  /** Committed block `height` as the first honest node to commit it here decoded it (the checkers hold
   *  every other to the same block), while it is among the last limits.recentBlocksMax: what the
   *  dashboard, flights and agents read. A node's own window keeps only the proofs. */
  committedBlock(height: number): CommittedBlock | undefined {
    return this.committedBlocks.get(height);
  }

  private readonly committedBlocks = new Map<number, CommittedBlock>();

  /** Keeps the first honest commit of each height among the newest limits.recentBlocksMax. Heights come
   *  in order but for a node catching up below them, whose old heights are not taken back in. */
  private keepCommitted(c: CommittedBlock): void {
    const h = c.block.height;
    if (this.committedBlocks.has(h)) return;
    const full = this.committedBlocks.size >= limits.recentBlocksMax;
    const oldest = this.committedBlocks.keys().next().value;
    if (full && oldest !== undefined && h < oldest) return;
    this.committedBlocks.set(h, c);
    if (full && oldest !== undefined) this.committedBlocks.delete(oldest);
  }

  /** The honest live node with the longest chain (the flight layer reads its manifests). */
  honestChainNode(): SimNode | undefined {
    let best: SimNode | undefined;
    for (const n of this.nodes) {
      if (n.byzantine !== null || n.shell === null) continue;
      if (!best || n.shell.core.chain.height > (best.shell?.core.chain.height ?? 0)) best = n;
    }
    return best;
  }

  /** A device's own transaction (an attestation, a manifest): gossiped on its links, into its mempool. */
  submitTx(n: SimNode, envelope: Uint8Array): void {
    this.transmit(n.index, null, envelope, 'telemetry');
    const shell = n.shell;
    if (shell) this.guarded(n, n.incarnation, () => void shell.receive(envelope));
  }

  transmit(from: number, to: number | null, bytes: Uint8Array, cls: TrafficClass): void {
    this.links.send(from, to, bytes, cls);
  }

  now(): number {
    return simEpochMs + this.queue.now;
  }

  /** Runs the world's events up to `untilMs` (inclusive); false when the step budget ran out. With
   *  agents it stops at every agent period and awaits their ticks (a barrier at a fixed virtual time). */
  async advance(untilMs: number, stepsMax: number): Promise<boolean> {
    if (this.coordinator) return this.coordinator.advance(untilMs, stepsMax);
    const agents = this.agents;
    if (agents) {
      if (!this.agentsReady) {
        await agents.start();
        this.agentsReady = true;
      }
      for (let b = agents.nextTickAt(); b <= untilMs; b = agents.nextTickAt()) {
        if (!this.queue.runUntil(b, stepsMax)) return false;
        await agents.tick(b);
      }
    }
    return this.queue.runUntil(untilMs, stepsMax);
  }

  /** Stops what runs beside the nodes (the agents' schedulers). */
  async finish(): Promise<void> {
    if (this.agents && this.agentsReady) await this.agents.stop();
    await this.coordinator?.finish();
  }

  /** Ends a split run's workers at once (a run that failed). */
  async abort(): Promise<void> {
    await this.coordinator?.abort();
  }

  /** Whether this thread runs node `i` (always, on one thread). */
  owns(i: number): boolean {
    return this.shard === null || this.shard.owns(i);
  }

  /** Node `n`'s committed height wherever it runs; null while it is down. */
  heightOf(n: SimNode): number | null {
    if (!this.owns(n.index)) {
      const h = this.shard?.remoteHeights.get(n.index) ?? 0;
      return h < 0 ? null : h;
    }
    return n.shell ? n.shell.core.chain.height : null;
  }

  /** Whether node `n`, wherever it runs, refused to start (its data, e.g. a damaged signer state). */
  refusedToStart(n: SimNode): boolean {
    return this.owns(n.index) ? n.fatal !== null : this.shard?.remoteHeights.get(n.index) === -2;
  }

  // The shards.ts side of a World: what a window needs, and what the main thread's checkers take in.
  runUntil(end: number, stepsMax: number): boolean {
    return this.queue.runUntil(end, stepsMax);
  }

  /** Every network fault ends: partitions, loss, and a broker outage with the radio block budget it brought. */
  healNetwork(): void {
    this.net.heal();
    this.setBrokerDown(false);
  }

  applyFollow(node: number, sources: readonly number[] | null): void {
    this.links.net.follow(node, sources);
  }

  deliverAt(at: number, to: number, from: number, bytes: Uint8Array, announced: boolean): void {
    // A delivery due before this thread's clock broke the windows' lookahead: a bug, never rounded away.
    if (at < this.queue.now) throw new Error(`a delivery from node ${from} to node ${to} due at ${at} ms reached its thread at ${this.queue.now} ms`);
    this.queue.at(at, () => this.deliver(to, bytes, announced));
  }

  stepsRun(): number {
    return this.queue.steps;
  }

  nextEventAt(): number {
    return this.queue.nextAt();
  }

  ownHeights(): [number, number][] {
    const out: [number, number][] = [];
    for (const n of this.nodes) if (this.owns(n.index)) out.push([n.index, n.shell ? n.shell.core.chain.height : n.fatal !== null ? -2 : -1]);
    return out;
  }

  /** A worker thread runs one window (shards.ts). */
  runWindow(o: Extract<Order, { type: 'window' }>): WindowReport {
    if (this.shard === null) throw new Error('runWindow is for a world that is one thread of a split run');
    return this.shard.runWindow(this, o, this.checkers.violations);
  }

  /** This thread's totals: its honest nodes' state syncs, its network sends, its log (run.ts adds up
   *  every thread's). */
  ownTotals(): ThreadTotals {
    const own = this.nodes.filter((n) => this.owns(n.index) && this.honest(n));
    return {
      delivered: this.net.delivered,
      dropped: this.net.dropped,
      duplicated: this.net.duplicated,
      bytes: this.net.bytes,
      installs: own.reduce((a, n) => a + n.earlierSync.installs + (n.shell?.core.sync.restored ?? 0), 0),
      refused: own.reduce((a, n) => a + n.earlierSync.refused + (n.shell?.core.sync.rejected ?? 0), 0),
      refusals: { ...this.refusals },
      verified: this.crypto.verified,
      signed: this.crypto.signed,
      events: this.events,
    };
  }

  /** How long the worker threads took to start (module loading, building their worlds); 0 on one thread. */
  get workerStartMs(): number {
    return this.coordinator?.startMs ?? 0;
  }

  /** The worker threads' totals, once finish() has run (empty on one thread). */
  workerTotals(): readonly ThreadTotals[] {
    return this.coordinator?.totals ?? [];
  }

  honest(n: SimNode): boolean {
    return n.byzantine === null;
  }

  /** Indexes of the nodes a Byzantine fault of the scenario names. */
  private byzantineNodes(): ReadonlySet<number> {
    this.byzantineIndexes ??= new Set(this.scenario.faults.flatMap((f) => (f.kind === 'byzantine' ? [f.node] : [])));
    return this.byzantineIndexes;
  }
  private byzantineIndexes: Set<number> | undefined;

  start(): void {
    this.started = true;
    for (const n of this.nodes) if (this.owns(n.index)) this.boot(n);
    if (this.flight) this.scheduleFlight(0);
    scheduleFaults(this);
    // The operator and the workload live on the main thread only.
    if (this.shard === null || this.shard.index === 0) this.scheduleWorkload();
    if (this.shard !== null && this.shard.index === 0) this.coordinator = new ShardCoordinator(this, this.shard, this.scenario, this.seed, this.opts);
    const cp = this.opts.crashPoint;
    if (cp) {
      const n = this.nodes[cp.node] as SimNode;
      if (cp.armAtMs === undefined) n.crashAtPoint = cp.point;
      else
        this.queue.at(cp.armAtMs, () => {
          n.crashAtPoint = cp.point;
          n.points = 0;
        });
    }
  }

  /** The broker goes down or comes back: each device's router sees its consensus links change, and
   *  its proposals follow the radio's block budget while the radio alone carries them (Device.tick). */
  setBrokerDown(down: boolean): void {
    // The operator is back on the broker: what waits goes out again within 3 s (Outbox.reconnected).
    if (!down && this.net.brokerDown) {
      this.outbox.reconnected(this.queue.now);
      if (this.outbox.size > 0) this.scheduleResend();
    }
    this.net.brokerDown = down;
    const budget = this.links.blockTxBytesHint() ?? blockTxBytesMax;
    for (const n of this.nodes) if (n.shell) n.shell.core.txBytesBudget = budget;
  }

  /** Every network fault ends (the liveness phase): partitions, loss, and a broker outage with the
   *  radio block budget it brought. */
  heal(): void {
    if (this.coordinator) this.coordinator.heal();
    else this.healNetwork();
  }

  log(line: string): void {
    if (this.events.length < 2_000) this.events.push(`${this.queue.now}ms ${line}`);
  }

  /** A clock fault: node n's board clock now reads offsetMs off true time. As on a device, whose
   *  consensus runs on a SteadyClock, a step forward is taken at once and a step back at its next boot. */
  setClock(n: SimNode, offsetMs: number): void {
    n.clockOffsetMs = offsetMs;
    if (offsetMs > n.steadyOffsetMs) n.steadyOffsetMs = offsetMs;
    this.log(`${n.id}'s clock reads ${offsetMs} ms off true time`);
  }

  boot(n: SimNode): void {
    if (!this.owns(n.index)) throw new Error(`${n.id} runs on another thread`);
    n.steadyOffsetMs = n.clockOffsetMs;
    n.incarnation++;
    n.points = 0;
    if (this.nodes[n.index] === n) this.links.boot(n.index); // a twin shares its original's radio
    const inc = n.incarnation;
    const app = new SimApp(this.hash, (st) => this.onAppState(n, st));
    n.app = app;
    n.seen = this.opts.routerDedup ? new DedupWindow(limits.routerDedupEntriesMax, limits.routerDedupWindowMs) : null;
    const sc = this.scenario.consensus;
    // Without the world's memo, each node remembers what a device remembers (runtime/device/device.ts):
    // its own signatures and the checks it made lately, in a memo of a device's size, fresh per start.
    const own = this.opts.memo === false ? memoVerifier(this.nodeVerifier, limits.deviceVerifyMemoMax, limits.deviceVerifyMemoBytesMax) : null;
    const shell = new NodeShell({
      id: n.id,
      genesis: this.manifest,
      config: {
        ...defaultConsensusConfig,
        proposeMs: sc.proposeMs,
        commitWaitMs: sc.commitWaitMs,
        gossipMs: sc.gossipMs,
        prevoteMs: sc.proposeMs / 2,
        precommitMs: sc.proposeMs / 2,
        ...(sc.checkpointEveryHeights !== undefined ? { checkpointEveryHeights: sc.checkpointEveryHeights } : {}),
        ...(sc.syncWindowHeights !== undefined ? { syncWindowHeights: sc.syncWindowHeights } : {}),
        ...(sc.followerSources !== undefined ? { followerSources: sc.followerSources } : {}),
        ...this.opts.consensus,
      },
      // A node whose clock a scenario sets off true time reads and schedules on its own clock.
      ...(!this.clockFaulted.has(n.index)
        ? { clock: { now: () => this.now() }, scheduler: { at: (atMs: number, fire: () => void) => this.queue.at(atMs - simEpochMs, () => this.guarded(n, inc, fire)) } }
        : { clock: { now: () => this.now() + n.steadyOffsetMs }, scheduler: { at: (atMs: number, fire: () => void) => this.queue.at(atMs - simEpochMs - n.steadyOffsetMs, () => this.guarded(n, inc, fire)) } }),
      storage: n.storage,
      // As a device does: its WAL emptied at a disk snapshot every 16th checkpoint unless told otherwise.
      snapshotEveryHeights: this.opts.snapshotEveryHeights ?? sc.snapshotEveryHeights ?? defaultSnapshotCheckpoints * (this.opts.consensus?.checkpointEveryHeights ?? sc.checkpointEveryHeights ?? defaultConsensusConfig.checkpointEveryHeights),
      send: (to, bytes) => this.send(n, to, bytes),
      announce: (bytes) => {
        if (n.byz?.behavior === 'silent') return false;
        this.links.announce(n.index, bytes);
        return true;
      },
      follow: (sources) => {
        if (this.nodes[n.index] !== n) return;
        const change: FollowChange = [n.index, sources === null ? null : sources.map((id) => this.indexOf(id)).filter((i) => i >= 0)];
        this.links.net.follow(...change);
        this.shard?.follows.push(change); // the other threads' brokers hear of it at the end of the window
      },
      signer: own === null ? n.signer : rememberingSigner(n.signer, own),
      verifier: own ?? this.nodeVerifier,
      hash: this.hash,
      ...(this.envelopes !== null ? { envelopeMemo: this.envelopes } : {}),
      logger: this.nodeLogger(n, this.opts.log ?? { info: () => {}, warn: () => {}, error: (m) => this.log(m) }),
      app: {
        commit: (c) => {
          this.onCommit(n, c);
          app.commit(c);
        },
        exportState: () => app.exportState(),
        importState: (b) => app.importState(b),
      },
      failPoint: (label) => {
        n.points++;
        if (n.crashAtPoint !== null && n.points === n.crashAtPoint) {
          n.crashLabels.push(label);
          throw new SimCrash(`${n.id} crashed at fail point ${n.points} (${label})`);
        }
      },
      onSigned: (env) => {
        if (this.honest(n)) this.offNodeClock(() => this.checkers.onSigned(n.id, env));
      },
      // A node no Byzantine fault names checks for signatures with its key that it never signed, as a
      // device does (runtime/node/shell.ts): it never has cause to, so a report is a false positive the
      // device would have stopped on, and fails the run. Nodes a fault names (twins, amnesia, an
      // equivocator) share or forget their key by design and run without the check, as before.
      ...(this.byzantineNodes().has(n.index)
        ? {}
        : {
            onForeignSignature: (m: ForeignSignature): boolean => {
              this.checkers.addViolation({ property: 'double-sign', atMs: this.now(), detail: `${n.id}, honest, found a ${m.kind} at ${m.height}/${m.round} signed with its key that it never signed (it would have stopped)` });
              return false;
            },
          }),
    });
    try {
      shell.boot();
      shell.core.txBytesBudget = this.links.blockTxBytesHint() ?? blockTxBytesMax;
      n.shell = shell;
      n.fatal = null;
    } catch (e) {
      n.shell = null;
      n.fatal = (e as Error).message;
      this.log(`${n.id} refused to start: ${n.fatal}`);
    }
  }

  /**
   * A node's logger: what it logs goes to `base`, and an honest node's warnings about what it refused
   * or dropped are counted (the report's `refused`). They are told apart by the runtime's wording
   * (runtime/consensus/core.ts, runtime/node/shell.ts): a rewording counts nothing, and a scenario that
   * expects such refusals (expect.refusedMin) then fails, so it cannot pass unseen.
   */
  private nodeLogger(n: SimNode, base: Logger): Logger {
    return {
      info: (m) => base.info(m),
      warn: (m) => {
        if (this.honest(n)) {
          if (m.endsWith(notProposerDrop)) this.refusals.notProposer++;
          else if (m.includes(': invalid block from ')) this.refusals.invalidBlock++;
          else if (/: dropped (?:a torn final record|the \d+ bytes from)/.test(m)) this.refusals.tornLogTails++;
        }
        base.warn(m);
      },
      error: (m) => base.error(m),
    };
  }

  /** Runs `fire` only if the node is still the same incarnation; a SimCrash takes it down. */
  private guarded(n: SimNode, inc: number, fire: () => void): void {
    if (n.incarnation !== inc || n.shell === null) return;
    const t0 = this.opts.measureNodeCpu ? process.cpuUsage() : undefined;
    try {
      fire();
      if (t0) {
        const d = process.cpuUsage(t0);
        this.nodeBusyMs += (d.user + d.system) / 1000;
      }
    } catch (e) {
      if (!(e instanceof SimCrash)) throw e;
      this.log(e.message);
      const cp = this.opts.crashPoint;
      this.crash(n, cp?.mode ?? 'intact');
      n.crashAtPoint = null;
      if (cp) this.queue.at(this.queue.now + cp.restartAfterMs, () => this.restart(n));
    }
  }

  crash(n: SimNode, mode: CrashMode): void {
    if (n.shell === null) return;
    n.earlierSync = { installs: n.earlierSync.installs + n.shell.core.sync.restored, refused: n.earlierSync.refused + n.shell.core.sync.rejected };
    n.shell = null;
    n.incarnation++;
    n.crashes++;
    this.crashedIds.add(n.index);
    if (this.nodes[n.index] === n) this.links.down(n.index);
    // The append-only files (the WAL, the ahead log and the signer state's log) end in a write cut short:
    // the one in flight, whose unsynced bytes the crash tears, or else one that never finished.
    const logs = [walFile, aheadFile, signerStateFile];
    const inFlight = logs.filter((f) => n.storage.hasPending(f));
    n.storage.crash(mode, this.diskPrng);
    if (mode === 'torn') for (const f of logs) if (!inFlight.includes(f)) n.storage.tearTail(f, this.diskPrng, f === signerStateFile ? diskSectorBytes - frameHeaderBytes : undefined);
    this.log(`${n.id} crashed (${mode})`);
  }

  restart(n: SimNode): void {
    if (n.shell !== null) return;
    this.log(`${n.id} restarts`);
    this.boot(n);
  }

  /** A node's index by id, or -1. */
  private indexOf(id: string): number {
    let m = this.indexById;
    if (m === null || m.size !== this.nodes.length) this.indexById = m = new Map(this.nodes.map((x, i) => [x.id, i]));
    return m.get(id) ?? -1;
  }

  private send(n: SimNode, to: string | null, bytes: Uint8Array): void {
    const toIdx = to === null ? null : this.indexOf(to);
    if (toIdx === -1) return;
    if (n.byz) byzantineSend(n.byz, toIdx, bytes);
    else this.transmit(n.index, toIdx, bytes, 'consensus');
  }

  /**
   * A node and its twin hear different halves of the other validators (the Twins method: Bano et al.,
   * "Twins: BFT Systems Made Robust", 2022): a message goes to the original when its sender is among the
   * first half of them (rounded up), to the twin otherwise; anything else (a follower's, an unreadable
   * one) to both. So the two see different proposals and votes, and sign differently with one key.
   */
  private twinTargets(n: SimNode, twin: SimNode, bytes: Uint8Array): SimNode[] {
    const e = decodeEnvelope(bytes);
    const from = e.ok ? this.nodes.findIndex((x) => x.id === e.value.sender) : -1;
    const validators = this.scenario.validators;
    if (from < 0 || from >= validators) return [n, twin];
    const rank = from < n.index ? from : from - 1; // its place among the other validators
    return rank < Math.ceil((validators - 1) / 2) ? [n] : [twin];
  }

  private deliver(to: number, bytes: Uint8Array, announced = false): void {
    const n = this.nodes[to] as SimNode;
    const key = this.opts.routerDedup ? Buffer.from(hash(bytes)).toString('base64') : null;
    if (n.twin) for (const target of this.twinTargets(n, n.twin, bytes)) this.deliverTo(target, bytes, announced, key);
    else this.deliverTo(n, bytes, announced, key);
  }

  private deliverTo(target: SimNode, bytes: Uint8Array, announced: boolean, key: string | null): void {
    if (key !== null && target.seen && !target.seen.add(key, this.now())) {
      this.dedupDropped++;
      return;
    }
    if (target.byz) rememberReceived(target.byz, bytes);
    const shell = target.shell;
    if (this.forgery && shell && this.honest(target)) this.forgery.onDelivered(bytes, target.id, shell);
    if (shell)
      this.guarded(target, target.incarnation, () => {
        const why = shell.receive(bytes, announced);
        if (why === null) return;
        if (this.opts.log) this.opts.log.info(`${target.id} dropped: ${why}`);
        // No envelope at all (garbage, an unknown kind): dropped at the edge, as a flood's should be. The
        // common drops of a sound envelope (a block held already, a prevote to a follower) skip the decode.
        if (!this.honest(target) || commonDrop.test(why)) return;
        if (why.endsWith(badSignatureDrop)) this.refusals.badSignatures++;
        else if (why.endsWith(notProposerDrop)) this.refusals.notProposer++;
        else if (!(this.envelopes === null ? decodeEnvelope(bytes) : this.envelopes.decode(bytes)).ok) this.refusals.malformed++;
      });
  }

  /** The checkers run inside a node's event but are not the node's work: their CPU is not charged. */
  private offNodeClock(check: () => void): void {
    const t0 = this.opts.measureNodeCpu ? process.cpuUsage() : undefined;
    check();
    if (t0) {
      const d = process.cpuUsage(t0);
      this.nodeBusyMs -= (d.user + d.system) / 1000;
    }
  }

  private onCommit(n: SimNode, c: CommittedBlock): void {
    const shell = n.shell;
    if (!this.honest(n) || !shell) return;
    const first = !this.checkers.decided.has(c.block.height);
    if (first) this.blockTimeAheadMaxMs = Math.max(this.blockTimeAheadMaxMs ?? -Infinity, c.block.timeMs - (simEpochMs + this.queue.now));
    this.offNodeClock(() => this.checkers.onCommit(n.id, c, shell.core.chain));
    this.keepCommitted(c);
    if (this.shard !== null && this.shard.index > 0) this.shard.commits.push([n.id, c.block.height, toHex(c.hash)]);
    const decided = this.checkers.decided.get(c.block.height);
    for (const k of decided?.commands ?? []) this.outbox.settle(k);
    if (first) this.forgery?.onCommitted(c.block.txs);
    if (first) for (const tx of c.txs) if (tx.kind === 'evidence') this.committedEvidence.push({ culprit: tx.culprit, height: tx.height });
  }

  /** While some command waits for its commit, the operator looks every 500 ms for copies due. */
  private scheduleResend(): void {
    if (this.resendAt !== null) return;
    this.resendAt = this.queue.now + 500;
    this.queue.at(this.resendAt, () => {
      this.resendAt = null;
      for (const e of this.outbox.due(this.queue.now)) {
        this.resent++;
        this.net.send(operatorIndex, null, e.frame);
      }
      if (this.outbox.size > 0) this.scheduleResend();
    });
  }

  private onAppState(n: SimNode, st: SimAppState): void {
    if (!this.honest(n) || n.app === null) return;
    const state = `${st.commands}/${Buffer.from(st.digest).toString('hex')}`;
    this.offNodeClock(() => this.checkers.onAppState(n.id, st.height, state));
    if (this.shard !== null && this.shard.index > 0) this.shard.apps.push([n.id, st.height, state]);
  }

  currentProposer(): number {
    let best: SimNode | undefined;
    for (const n of this.nodes.slice(0, this.scenario.validators)) if (n.shell && (!best || n.shell.core.height > (best.shell as NodeShell).core.height)) best = n;
    const id = best?.shell?.core.proposer(best.shell.core.round);
    return Math.max(0, this.nodes.findIndex((x) => x.id === id));
  }

  makeByzantine(n: SimNode, behavior: Behavior): void {
    makeByzantine(this, n, behavior);
  }

  private scheduleWorkload(): void {
    for (const w of this.scenario.workload) {
      if (w.kind === 'once') this.queue.at(w.at, () => this.submit(w.command, w.args));
      else if (w.kind === 'fleet-update') this.queue.at(w.at, () => this.submit('fleet.update', { manifest: this.nextManifest(w.validators, w.followers) }));
      else {
        for (const t of rateTimes(w.from, w.to, w.perSec, rateCommandsMax)) this.queue.at(t, () => this.submit(w.command, {}));
      }
    }
  }

  /** Counts signatures and, with the memo, remembers each as good: what the world's own signers make
   *  is never checked for real (runtime/crypto/memo-verifier.ts). */
  private countSigns(s: Signer): Signer {
    const signer = this.memoV === null ? s : rememberingSigner(s, this.memoV);
    return { publicKey: s.publicKey, sign: (m) => (this.crypto.signed++, signer.sign(m)) };
  }

  /** The operator signs a command and publishes it to every validator through the broker. */
  submit(type: string, args: Readonly<Record<string, unknown>>, as: 'op' | 'watcher' = 'op'): string {
    const nonce = this.workPrng.bytes(16);
    // Whole milliseconds, as an operator's clock gives them: a workload rate whose gap is not a whole
    // number of ms (3/s) puts commands at fractional times, and a fractional issuedAt is refused.
    const t = Math.floor(this.now());
    const body = encodeCommandBody({ type, nonce, issuedAt: t, expiresAt: t + 600_000, args });
    const env = sealEnvelope('command', this.fleet, as, body, as === 'op' ? this.operator : this.watcher);
    const key = `${as}/${Buffer.from(nonce).toString('hex')}`;
    if (as === 'op') {
      this.submitted.set(key, this.queue.now);
      this.outbox.add(key, env, this.queue.now + 600_000, this.queue.now); // the outbox runs on queue time
      this.scheduleResend();
      this.forgery?.onSubmitted(key, env);
    }
    this.net.send(operatorIndex, null, env);
    return key;
  }

  /** The authority signs the next epoch's manifest with these sets (node indexes); operators stay. */
  nextManifest(validators: readonly number[], followers: readonly number[]): Uint8Array {
    const old = this.manifest.body;
    const epoch = (this.honestChainNode()?.shell?.core.chain.latestEpoch() ?? old.epoch) + 1;
    const node = (i: number): SimNode => this.nodes[i] as SimNode;
    const power = (i: number): number => old.validators.find((v) => v.id === node(i).id)?.power ?? 1;
    const body = {
      ...old,
      epoch,
      validators: validators.map((i) => ({ id: node(i).id, publicKey: node(i).signer.publicKey, power: power(i) })),
      followers: followers.map((i) => ({ id: node(i).id, publicKey: node(i).signer.publicKey })),
      createdAt: this.now(),
    };
    return unwrap(signManifest(body, this.authority)).bytes;
  }

  /** Sends raw bytes as the operator console would (tests use this for forged or replayed commands). */
  publish(bytes: Uint8Array): void {
    this.net.send(operatorIndex, null, bytes);
  }

  operatorSigner(): Signer {
    return this.operator;
  }
}
