// Turns a deterministic World into the run event stream. It reads the world (never changes it) from a
// sampling event on the world's own queue every frameMs of virtual time, feeds the agreed chain to the
// flight layer, and reports commits, faults, evidence, coverage and one frame per sample.

import { parseCommandBody } from '../../runtime/wire/command.js';
import { decodeCbor } from '../../runtime/wire/cbor.js';
import { parseWith } from '../../runtime/wire/fields.js';
import { limits } from '../../runtime/lib/limits.js';
import { decodeEnvelope } from '../../runtime/wire/envelope.js';
import { toHex } from '../../runtime/lib/bytes.js';
import type { MissionCommand } from '../../runtime/mission/types.js';
import type { Scenario } from '../scenario/scenario.js';
import type { SimNode, World } from '../sim/world.js';
import { FlightLayer } from '../flight/flight-layer.js';
import { CoverageGrid } from './coverage.js';
import type { FaultKind, NodeSample, PointNe, RunEvent, RunObserver } from './events.js';

export interface ObserveOptions {
  /** Virtual time between frames. */
  readonly frameMs?: number;
  /** Radio range for the links drawn on the map; null draws none (the simulator has no radio yet). */
  readonly radioRangeM?: number | null;
  readonly coverageCellM?: number;
  /** Camera footprint radius for coverage, metres. */
  readonly footprintM?: number;
}

const round1 = (v: number): number => Math.round(v * 10) / 10;

/** The survey area of the scenario's first mission.survey command, if any. */
export function surveyAreaOf(s: Scenario): PointNe[] | null {
  for (const w of s.workload) {
    if (w.kind !== 'once' || w.command !== 'mission.survey') continue;
    const area = w.args.area;
    if (Array.isArray(area) && area.every((p) => Array.isArray(p) && p.length === 2 && p.every((x) => typeof x === 'number'))) return area as PointNe[];
  }
  return null;
}

export class WorldObserver {
  private readonly flight: FlightLayer;
  private readonly coverage: CoverageGrid | null;
  private fedHeight = 0;
  private notesSent = 0;
  private readonly wasDown = new Set<number>();
  private readonly wasByzantine = new Set<number>();
  private evidenceSent = 0;
  private faultsSent = new Set<number>();
  private lastCommitAt = 0;
  private readonly lastHeight: number[] = [];
  private readonly sightingsSent = new Map<number, number>();
  private readonly frameMs: number;
  private readonly footprintM: number;
  private readonly radioRangeM: number | null;

  constructor(
    private readonly w: World,
    private readonly out: RunObserver,
    options: ObserveOptions = {},
  ) {
    this.frameMs = options.frameMs ?? 250;
    this.footprintM = options.footprintM ?? 12;
    this.radioRangeM = options.radioRangeM ?? null;
    const s = w.scenario;
    this.flight = new FlightLayer(
      w.nodes.map((n) => n.id),
      [
        { id: 'op', roles: ['operator'] },
        { id: 'watcher', roles: ['observer'] },
      ],
      w.prng.split('flight'),
      0,
      s.world ?? {},
    );
    const area = surveyAreaOf(s);
    const cellM = options.coverageCellM ?? 10;
    this.coverage = area ? new CoverageGrid(area, cellM) : null;
    out.onEvent({
      t: 'run',
      at: 0,
      scenario: s.name,
      seed: w.seed,
      mode: 'deterministic',
      durationMs: s.durationMs,
      nodes: w.nodes.map((n) => ({ index: n.index, id: n.id, role: n.index < s.validators ? 'validator' : 'follower', engine: 'none' })),
      world: { geofence: s.world?.geofence ?? null, surveyArea: area, coverageCellM: cellM, radioRangeM: this.radioRangeM, home: [0, 0] },
    });
    const tick = (): void => {
      this.sample();
      w.queue.at(w.queue.now + this.frameMs, tick);
    };
    w.queue.at(0, tick);
  }

  private emit(e: RunEvent): void {
    this.out.onEvent(e);
  }

  private honestChainNode(): SimNode | undefined {
    let best: SimNode | undefined;
    for (const n of this.w.nodes) {
      if (n.byzantine !== null || n.shell === null) continue;
      if (!best || n.shell.core.chain.height > (best.shell?.core.chain.height ?? 0)) best = n;
    }
    return best;
  }

  private commands(txs: readonly Uint8Array[]): (MissionCommand | null)[] {
    return txs.map((tx) => {
      const raw = decodeEnvelope(tx);
      if (!raw.ok || raw.value.kind !== 'command') return null;
      // The block is committed, so its commands passed the edge checks; only their fields are read here.
      const cbor = decodeCbor(raw.value.body, limits.commandBytesMax);
      const body = cbor.ok ? parseWith('command', cbor.value, parseCommandBody) : cbor;
      if (!body.ok) return null;
      const b = body.value;
      return { kind: 'command', id: toHex(b.nonce), operator: raw.value.sender, type: b.type, args: b.args, issuedAt: b.issuedAt, expiresAt: b.expiresAt };
    });
  }

  /** Commits of the agreed chain since the last sample, in height order. */
  private feedCommits(): void {
    const holder = this.honestChainNode();
    const decided = this.w.checkers.decided;
    for (let h = this.fedHeight + 1; decided.has(h); h++) {
      const d = decided.get(h);
      const c = holder?.shell?.core.chain.recentBlock(h);
      if (!d || !c) break; // the block fell out of every window: stop feeding rather than skip
      const cmds = this.commands(c.block.txs);
      this.flight.applyCommitted(h, c.block.timeMs, cmds);
      let oldest = d.atMs - this.lastCommitAt;
      for (const key of d.commands) {
        const at = this.w.submitted.get(key);
        if (at !== undefined) oldest = Math.max(oldest, d.atMs - at);
      }
      const proposer = this.w.nodes.findIndex((n) => n.id === c.block.proposer);
      this.emit({ t: 'commit', at: d.atMs, height: h, round: c.certificate.round, proposer, latencyMs: round1(oldest), txs: c.block.txs.length, commands: d.commands.length });
      this.lastCommitAt = d.atMs;
      this.fedHeight = h;
    }
    while (this.notesSent < this.flight.notes.length) {
      this.emit({ t: 'log', at: this.w.queue.now, level: 'info', text: this.flight.notes[this.notesSent++] as string });
    }
  }

  private fault(kind: FaultKind, nodes: number[], detail: string): void {
    this.emit({ t: 'fault', at: this.w.queue.now, kind, nodes, detail });
  }

  private feedFaults(): void {
    const now = this.w.queue.now;
    for (const n of this.w.nodes) {
      const down = n.shell === null;
      if (down && !this.wasDown.has(n.index)) {
        this.wasDown.add(n.index);
        this.fault('crash', [n.index], n.fatal ?? 'process stopped');
      } else if (!down && this.wasDown.has(n.index)) {
        this.wasDown.delete(n.index);
        this.fault('restart', [n.index], 'recovered from its WAL');
      }
      if (n.byzantine !== null && !this.wasByzantine.has(n.index)) {
        this.wasByzantine.add(n.index);
        this.fault('byzantine', [n.index], n.byzantine);
      }
      (this.flight.drones[n.index] as { offline: boolean }).offline = down;
    }
    // Network faults are scheduled: report each as its start and end pass.
    this.w.scenario.faults.forEach((f, i) => {
      if (f.kind !== 'partition' && f.kind !== 'one-way' && f.kind !== 'broker-down' && f.kind !== 'loss') return;
      if (now >= f.at && !this.faultsSent.has(2 * i)) {
        this.faultsSent.add(2 * i);
        if (f.kind === 'broker-down') this.fault('broker-down', [], `until ${f.until / 1000} s`);
        else if (f.kind === 'partition') this.fault('partition', f.groups.flat(), f.groups.map((g) => `[${g.join(',')}]`).join(' | '));
        else if (f.kind === 'one-way') this.fault('partition', [...f.from, ...f.to], `one-way ${f.from.join(',')} → ${f.to.join(',')}`);
        else this.fault('link-loss', [], `loss ${f.loss}`);
      }
      if (now >= f.until && !this.faultsSent.has(2 * i + 1)) {
        this.faultsSent.add(2 * i + 1);
        this.fault(f.kind === 'broker-down' ? 'broker-up' : 'heal', [], 'healed');
      }
    });
    const evidence = this.honestChainNode()?.shell?.core.chain.evidence ?? [];
    for (; this.evidenceSent < evidence.length; this.evidenceSent++) {
      const e = evidence[this.evidenceSent];
      if (!e) break;
      this.emit({ t: 'evidence', at: now, kind: 'equivocation', validator: this.w.nodes.findIndex((n) => n.id === e.culprit), height: e.height });
    }
  }

  sample(): void {
    const now = this.w.queue.now;
    this.feedFaults();
    this.feedCommits();
    this.flight.step(now);
    const samples: NodeSample[] = [];
    const fresh: number[] = [];
    for (const n of this.w.nodes) {
      const d = this.flight.drones[n.index];
      if (!d) continue;
      const st = d.sim.state();
      if (this.coverage && st.upM > 5 && !d.offline) fresh.push(...this.coverage.mark(st.northM, st.eastM, this.footprintM));
      samples.push({
        i: n.index,
        n: round1(st.northM),
        e: round1(st.eastM),
        u: round1(st.upM),
        bat: Math.round(d.sim.remainingFraction() * 1000) / 10,
        // A crashed node shows where it stopped, not zero.
        h: n.shell ? (this.lastHeight[n.index] = n.shell.core.chain.height) : (this.lastHeight[n.index] ?? 0),
        r: n.shell?.core.round ?? 0,
        health: n.shell === null ? 'crashed' : 'alive',
        byz: n.byzantine,
        mode: this.flight.activity(d),
      });
    }
    this.feedSightings(now);
    for (const r of this.flight.reflexes.splice(0)) this.fault(r.kind, [r.drone], r.detail);
    this.measureSeparation(samples);
    if (fresh.length > 0 && this.coverage) this.emit({ t: 'coverage', at: now, cells: fresh, fraction: Math.round(this.coverage.fraction() * 1000) / 1000 });
    this.emit({ t: 'frame', at: now, nodes: samples, proposer: this.w.currentProposer(), radio: this.radioLinks(samples), broker: this.w.net.brokerDown ? 'down' : 'up' });
  }

  /** The radio mesh as a person reads it: each live node to its nearest two live neighbours in range
   *  (a full graph of a 20-drone field in 800 m range would be a solid smear). */
  private minSeparationM: number | null = null;

  /** The closest two airborne drones came, sampled every frame. */
  private measureSeparation(samples: readonly NodeSample[]): void {
    const up = samples.filter((x) => x.u > 5);
    for (let a = 0; a < up.length && up.length <= 300; a++) {
      for (let b = a + 1; b < up.length; b++) {
        const p = up[a] as NodeSample;
        const q = up[b] as NodeSample;
        const d = Math.hypot(p.n - q.n, p.e - q.e, p.u - q.u);
        if (this.minSeparationM === null || d < this.minSeparationM) this.minSeparationM = d;
      }
    }
  }

  /** The report's `flight` section. */
  flightReport(): { surveyedFraction: number | null; geofenceBreaches: number; failsafes: number; minSeparationM: number | null; hazardsFound: number } {
    return {
      surveyedFraction: this.coverage ? Math.round(this.coverage.fraction() * 1000) / 1000 : null,
      geofenceBreaches: this.flight.geofenceBreaches,
      failsafes: this.flight.failsafes,
      minSeparationM: this.minSeparationM === null ? null : round1(this.minSeparationM),
      hazardsFound: this.flight.sightings.size,
    };
  }

  /** A hazard appears on the map when the first drone's range sensor returns it; later sightings by
   *  other drones are logged. (Attesting it through consensus is the agents' job, not modelled here.) */
  private feedSightings(now: number): void {
    for (const [i, drones] of this.flight.sightings) {
      const h = this.w.scenario.world?.hazards[i];
      const told = this.sightingsSent.get(i) ?? 0;
      if (!h || told >= drones.length) continue;
      if (told === 0) {
        this.emit({ t: 'hazard', at: now, id: `h${i}`, n: h.northM, e: h.eastM, radiusM: h.radiusM, status: 'detected', by: drones[0] as number });
      }
      for (const d of drones.slice(Math.max(1, told))) {
        this.emit({ t: 'log', at: now, level: 'info', text: `hazard h${i} also seen by ${this.w.nodes[d]?.id ?? d}'s range sensor (${drones.length} drones)` });
      }
      this.sightingsSent.set(i, drones.length);
    }
  }

  private radioLinks(samples: readonly NodeSample[]): [number, number][] {
    const range = this.radioRangeM;
    if (range === null || samples.length > 300) return [];
    const live = samples.filter((x) => x.health !== 'crashed');
    const pairs = new Set<number>();
    for (const a of live) {
      const near = live
        .filter((b) => b !== a)
        .map((b) => ({ b, d: Math.hypot(a.n - b.n, a.e - b.e) }))
        .filter((x) => x.d <= range)
        .sort((x, y) => x.d - y.d || x.b.i - y.b.i)
        .slice(0, 2);
      for (const { b } of near) pairs.add(Math.min(a.i, b.i) * 100_000 + Math.max(a.i, b.i));
    }
    return [...pairs].sort((x, y) => x - y).map((k) => [Math.floor(k / 100_000), k % 100_000]);
  }


  /** Geofence as the committed mission state has it (for the report). */
  geofence(): readonly PointNe[] | null {
    return this.flight.geofence();
  }
}
