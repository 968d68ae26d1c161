// Turns a deterministic World into the run event stream. It reads the world (never changes it) from a
// sampling event on the world's own queue every frameMs of virtual time and reports commits, faults,
// evidence, hazards, coverage, the radio links that carried traffic and one frame per sample.

import type { World } from '../sim/world.js';
import { coverageCellM, surveyAreaOf, type WorldFlight } from '../flight/world-flight.js';
import { clearedHow, hazardSiteOf } from '../flight/hazard-report.js';
import { hazardText } from '../../runtime/device/mission-runner.js';
import { cellCentre } from '../../agents/swarm/hazard-commit.js';
import { hazardCellM } from '../flight/world-agents.js';
import type { FaultKind, NodeSample, RunEvent, RunObserver } from './events.js';

export { surveyAreaOf } from '../flight/world-flight.js';

export interface ObserveOptions {
  /** Virtual time between frames. */
  readonly frameMs?: number;
}

const round1 = (v: number): number => Math.round(v * 10) / 10;

export class WorldObserver {
  private readonly flight: WorldFlight;
  private notesSent = 0;
  private readonly wasDown = new Set<number>();
  private readonly wasByzantine = new Set<number>();
  private evidenceSent = 0;
  private faultsSent = new Set<number>();
  /** Forgeries of the world's attacker already on the timeline. */
  private forgeriesSent = 0;
  private lastCommitAt = 0;
  private commitsSent = 0;
  private readonly lastHeight: number[] = [];
  private readonly sightingsSent = new Map<number, number>();
  private hazardEventsSent = 0;
  /** The committed cells ("n,e") of each site on the map (a scenario hazard's id, or a lone cell's). */
  private readonly sitesCommitted = new Map<string, Set<string>>();
  private readonly frameMs: number;

  constructor(
    private readonly w: World,
    private readonly out: RunObserver,
    options: ObserveOptions = {},
  ) {
    this.frameMs = options.frameMs ?? 250;
    const s = w.scenario;
    // A scenario that does not fly still shows its drones on their pads; flying changes no consensus
    // outcome (only a radio or hazards couple the two, and those scenarios always fly).
    this.flight = w.ensureFlight();
    this.flight.collectFresh();
    w.links.radio?.trackLinks();
    out.onEvent({
      t: 'run',
      at: 0,
      scenario: s.name,
      seed: w.seed,
      mode: 'deterministic',
      durationMs: s.durationMs,
      nodes: w.nodes.map((n) => ({ index: n.index, id: n.id, role: n.index < s.validators ? 'validator' : 'follower', engine: 'none' })),
      world: { geofence: s.world?.geofence ?? null, surveyArea: surveyAreaOf(s), coverageCellM: this.flight.coverage?.cellM ?? coverageCellM, radioRangeM: s.radio?.rangeM ?? null, home: [0, 0] },
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

  /** Commits of the agreed chain since the last sample, in height order. */
  private feedCommits(): void {
    const decided = this.w.checkers.decided;
    for (let h = this.commitsSent + 1; decided.has(h); h++) {
      const d = decided.get(h);
      const c = this.w.committedBlock(h);
      if (!d || !c) break; // the block is no longer kept: stop rather than skip
      let oldest = d.atMs - this.lastCommitAt;
      const commandLatencyMs: number[] = [];
      for (const key of d.commands) {
        const at = this.w.submitted.get(key);
        if (at === undefined) continue;
        oldest = Math.max(oldest, d.atMs - at);
        commandLatencyMs.push(round1(d.atMs - at));
      }
      const proposer = this.w.nodes.findIndex((n) => n.id === c.block.proposer);
      this.emit({ t: 'commit', at: d.atMs, height: h, round: c.certificate.round, proposer, latencyMs: round1(oldest), commandLatencyMs, txs: c.block.txs.length, commands: d.commands.length });
      this.lastCommitAt = d.atMs;
      this.commitsSent = h;
    }
    const notes = this.flight.layer.notes;
    while (this.notesSent < notes.length) this.emit({ t: 'log', at: this.w.queue.now, level: 'info', text: notes[this.notesSent++] as string });
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
    }
    // Network faults are scheduled: report each as its start and end pass.
    this.w.scenario.faults.forEach((f, i) => {
      if (f.kind !== 'partition' && f.kind !== 'one-way' && f.kind !== 'broker-down' && f.kind !== 'loss') return; // the others show as they happen
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
    const forged = this.w.forgery?.published ?? [];
    for (; this.forgeriesSent < forged.length; this.forgeriesSent++) this.fault('forged-command', [], (forged[this.forgeriesSent] as { detail: string }).detail);
    const evidence = this.w.committedEvidence;
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
    const layer = this.flight.layer;
    const samples: NodeSample[] = [];
    for (const n of this.w.nodes) {
      const d = layer.drones[n.index];
      if (!d) continue;
      const st = d.sim.state();
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
        mode: layer.activity(d),
      });
    }
    this.feedSightings(now);
    this.feedCommittedHazards(now);
    for (const r of layer.reflexes.splice(0)) this.fault(r.kind, [r.drone], r.detail);
    const fresh = this.flight.takeFreshCells();
    const coverage = this.flight.coverage;
    if (fresh.length > 0 && coverage) this.emit({ t: 'coverage', at: now, cells: fresh, fraction: Math.round(coverage.fraction() * 1000) / 1000 });
    this.emit({ t: 'frame', at: now, nodes: samples, proposer: this.w.currentProposer(), radio: this.radioLinks(samples), broker: this.w.net.brokerDown ? 'down' : 'up' });
  }

  /** A hazard appears on the map when the first drone's range sensor returns it; later sightings by
   *  other drones are logged. */
  private feedSightings(now: number): void {
    for (const [i, drones] of this.flight.layer.sightings) {
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

  /** A hazard turns "committed" on the map when the swarm rule commits its first cell (f+1 devices);
   *  a committed cell near no real hazard (lying devices would need f+1 of them) shows on its own. It
   *  goes off the map ("cleared") once none of its cells is committed: an operator's hazard.clear, or
   *  the drones' denials. */
  private feedCommittedHazards(now: number): void {
    const events = this.flight.hazardEvents;
    const hazards = this.w.scenario.world?.hazards ?? [];
    for (; this.hazardEventsSent < events.length; this.hazardEventsSent++) {
      const e = events[this.hazardEventsSent];
      if (!e) continue;
      const i = hazardSiteOf(hazards, e.cell);
      const h = hazards[i];
      const id = h ? `h${i}` : `cell ${e.cell[0]},${e.cell[1]}`;
      const key = e.cell.join(',');
      const cells = this.sitesCommitted.get(id);
      const [cn, ce] = cellCentre(e.cell);
      if (e.type === 'hazard-cleared') {
        if (!cells?.delete(key) || cells.size > 0) continue;
        this.sitesCommitted.delete(id);
        const how = clearedHow(hazardText(e));
        this.emit({ t: 'hazard', at: now, id, n: h?.northM ?? cn, e: h?.eastM ?? ce, radiusM: h?.radiusM ?? hazardCellM / 2, status: 'cleared', by: null, how });
        this.emit({ t: 'log', at: now, level: 'info', text: `hazard ${id} cleared ${how} at height ${e.height}` });
        continue;
      }
      if (cells) {
        cells.add(key);
        continue;
      }
      this.sitesCommitted.set(id, new Set([key]));
      const by = this.w.nodes.findIndex((n) => n.id === e.attesters[0]);
      this.emit({ t: 'hazard', at: now, id, n: h?.northM ?? cn, e: h?.eastM ?? ce, radiusM: h?.radiusM ?? hazardCellM / 2, status: 'committed', by: by < 0 ? null : by });
      this.emit({ t: 'log', at: now, level: h ? 'info' : 'warn', text: `hazard ${id} committed at height ${e.height}: attested by ${e.attesters.join(', ')}` });
    }
  }

  /** The radio links that carried packets since the last frame, as a person reads them: each node to
   *  its nearest two such neighbours (every pair of a 20-drone field in range would be a solid smear). */
  private radioLinks(samples: readonly NodeSample[]): [number, number][] {
    const radio = this.w.links.radio;
    if (!radio) return [];
    const used = radio.takeLinks();
    if (samples.length > 300) return [];
    const near = new Map<number, { j: number; d: number }[]>();
    for (const [a, b] of used) {
      const p = samples[a];
      const q = samples[b];
      if (!p || !q) continue;
      const d = Math.hypot(p.n - q.n, p.e - q.e);
      for (const [x, y] of [[a, b], [b, a]] as const) {
        const list = near.get(x) ?? [];
        list.push({ j: y, d });
        near.set(x, list);
      }
    }
    const pairs = new Set<number>();
    for (const [a, list] of near) {
      list.sort((x, y) => x.d - y.d || x.j - y.j);
      for (const { j } of list.slice(0, 2)) pairs.add(Math.min(a, j) * 100_000 + Math.max(a, j));
    }
    return [...pairs].sort((x, y) => x - y).map((k) => [Math.floor(k / 100_000), k % 100_000]);
  }
}
