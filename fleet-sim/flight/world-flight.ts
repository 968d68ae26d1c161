// The flying half of a deterministic world, stepped on the world's own event queue: the agreed chain
// goes through the runtime's mission adapter and machine into the flight layer, the drones fly, and
// their positions feed the radio (range) and the report (coverage, separation). It is part of the
// world whenever the scenario needs it (a radio, a physical world, missions, flight expectations), so
// the outcome never depends on whether a dashboard watches.

import { agentTxOf, applyAgentBlock, emptySwarmAgentState, type AgentTx, type SwarmAgentState } from '../../agents/swarm/swarm-state.js';
import { clearHazards, committedHazards, type HazardEvent } from '../../agents/swarm/hazard-commit.js';
import { missionBlockOf } from '../../runtime/device/mission-adapter.js';
import type { Prng } from '../../runtime/lib/prng.js';
import type { MissionEffect } from '../../runtime/mission/types.js';
import { CoverageGrid } from '../report/coverage.js';
import { CommandRejections } from '../report/rejections.js';
import type { PointNe } from '../report/events.js';
import type { Scenario } from '../scenario/scenario.js';
import type { World } from '../sim/world.js';
import { FlightLayer } from './flight-layer.js';
import { hazardCellM, scenarioHasAgents } from './world-agents.js';

export const flightStepMs = 100;
/** How often each simulated device signs its position (the device default, telemetry.periodMs). */
export const telemetryPeriodMs = 1_000;
/** Camera footprint radius for survey coverage, metres, and the coverage grid's cell. */
const footprintM = 12;
export const coverageCellM = 10;
/** Separation is measured between drones above this height (the pads are closer than any rule). */
const airborneM = 5;
const separationDronesMax = 300;

/** The smallest distance between two of these positions, metres in three dimensions; null for fewer
 *  than two, or more than separationDronesMax (the pairs grow with the square). */
export function closestPairM(ps: readonly { readonly northM: number; readonly eastM: number; readonly upM: number }[]): number | null {
  if (ps.length > separationDronesMax) return null;
  let best: number | null = null;
  for (let a = 0; a < ps.length; a++) {
    for (let b = a + 1; b < ps.length; b++) {
      const p = ps[a] as (typeof ps)[number];
      const q = ps[b] as (typeof ps)[number];
      const d = Math.hypot(p.northM - q.northM, p.eastM - q.eastM, p.upM - q.upM);
      if (best === null || d < best) best = d;
    }
  }
  return best;
}

export interface FlightReport {
  surveyedFraction: number | null;
  geofenceBreaches: number;
  failsafes: number;
  minSeparationM: number | null;
  /** Times a drone flew into an obstacle of the world (the simulated vehicles' truth). */
  obstacleStrikes: number;
  /** Hazards some drone's range sensor returned. */
  hazardsFound: number;
  /** Times committed hazards re-routed the active mission. */
  replans: number;
}

/** The survey area of the scenario's first mission.survey command, if any. Fewer than 3 corners is no
 *  area (the parser refuses it; a scenario built in code reached the coverage grid's assert): the
 *  mission machine rejects that command. */
export function surveyAreaOf(s: Scenario): PointNe[] | null {
  for (const w of s.workload) {
    if (w.kind !== 'once' || w.command !== 'mission.survey') continue;
    const area = w.args.area;
    if (Array.isArray(area) && area.length >= 3 && area.every((p) => Array.isArray(p) && p.length === 2 && p.every((x) => typeof x === 'number'))) return area as PointNe[];
  }
  return null;
}

/** Whether the world must fly: anything in the scenario that reads or is read by the drones. A rate
 *  of a command other than noop flies too: the mission machine decides it (and may reject it, which the
 *  report lists); the machine accepts every noop of the world's operator. */
export function scenarioFlies(s: Scenario): boolean {
  const e = s.expect;
  const flightExpect = e.geofenceBreachesMax !== undefined || e.failsafesMin !== undefined || e.hazardsCommittedMin !== undefined || e.hazardsCommittedMax !== undefined || e.minSeparationM !== undefined || e.surveyedFractionMin !== undefined || e.obstacleStrikesMax !== undefined;
  return s.radio !== undefined || s.world !== undefined || flightExpect || s.workload.some((w) => w.kind !== 'rate' || w.command !== 'noop') || scenarioHasAgents(s);
}

export class WorldFlight {
  readonly layer: FlightLayer;
  readonly coverage: CoverageGrid | null;
  /** Each node's drone, metres north and east, as of the last step. */
  readonly positions: { northM: number; eastM: number }[];
  minSeparationM: number | null = null;
  /** Coverage cells newly covered, kept only while an observer drains them. */
  private fresh: number[] | null = null;
  private fedHeight = 0;
  /** Mission effects for the world (fleet updates), drained by it after each step. */
  readonly effects: MissionEffect[] = [];
  /** What every device derives from committed attestations (agents/swarm/swarm-state.ts). */
  swarm: SwarmAgentState = emptySwarmAgentState;
  /** Hazard cells committed or cleared by the swarm rule, with the time the block was decided. */
  readonly hazardEvents: (HazardEvent & { readonly atMs: number })[] = [];
  attestationsCommitted = 0;
  /** Committed attestations signed by a device with an agent Byzantine behaviour. */
  liesCommitted = 0;
  /** The operator's commands (World.submitted) the mission machine committed as rejected. */
  readonly rejections = new CommandRejections();

  constructor(
    private readonly w: World,
    prng: Prng,
    /** Apply the agents' rules to committed blocks (the scenario has hazards or liars). */
    private readonly agentsOn = false,
  ) {
    const s = w.scenario;
    this.layer = new FlightLayer(
      w.nodes.map((n) => n.id),
      prng,
      0,
      s.world ?? {},
    );
    const area = surveyAreaOf(s);
    this.coverage = area ? new CoverageGrid(area, coverageCellM) : null;
    this.positions = this.layer.drones.map((d) => ({ northM: d.sim.state().northM, eastM: d.sim.state().eastM }));
  }

  /** Starts keeping newly covered cells for takeFreshCells (the observer's coverage events). */
  collectFresh(): void {
    this.fresh ??= [];
  }

  takeFreshCells(): number[] {
    if (!this.fresh) return [];
    return this.fresh.splice(0);
  }

  /** The agreed chain so far, in height order (World.committedBlock; manifests from an honest node's chain). */
  private feedCommits(): void {
    const holder = this.w.honestChainNode();
    const chain = holder?.shell?.core.chain;
    if (!chain) return;
    const decided = this.w.checkers.decided;
    const ctx = { manifestAt: (h: number) => chain.manifestAt(h), verifier: this.w.verifier, authority: this.w.manifest.body.authority };
    for (let h = this.fedHeight + 1; decided.has(h); h++) {
      const c = this.w.committedBlock(h);
      if (!c) break; // no longer kept: stop feeding rather than skip
      let block = missionBlockOf(c, ctx, this.w.fleet);
      if (this.agentsOn && this.applyAgents(h, c.txs.map((t) => agentTxOf(t.bytes)).filter((t): t is AgentTx => t !== null), chain.manifestAt(h).body, decided.get(h)?.atMs ?? this.w.queue.now)) {
        // The same block first through the agents' hazard rule, then (with what it committed) the mission.
        block = { ...block, hazards: { cellDm: hazardCellM * 10, cells: committedHazards(this.swarm.hazards) } };
      }
      const effects = this.layer.applyCommitted(block);
      // An accepted hazard.clear clears the hazard rule's record too, as a device does (MissionRunner.onCommit).
      for (const e of effects) {
        if (e.type !== 'hazard-clear') continue;
        const c = clearHazards(this.swarm.hazards, h, e.cells, e.operator, e.command);
        this.swarm = { ...this.swarm, hazards: c.state };
        for (const x of c.events) this.hazardEvents.push({ ...x, atMs: decided.get(h)?.atMs ?? this.w.queue.now });
      }
      for (const e of effects) {
        if (e.type === 'decision' && e.decision.outcome === 'rejected' && this.w.submitted.has(e.decision.id)) this.rejections.note(h, e.decision.type, e.decision.reason);
      }
      this.effects.push(...effects);
      this.fedHeight = h;
    }
  }

  /** Applies the heights decided since the last step (the run's end comes between steps), so the
   *  rejections cover every committed command. Called once the run's flight report is taken. */
  settle(): CommandRejections {
    this.feedCommits();
    return this.rejections;
  }

  /** The agents' rules on one committed block; true when the committed hazard set changed. */
  private applyAgents(height: number, txs: readonly AgentTx[], m: { validators: readonly { id: string; power: number }[]; followers: readonly { id: string }[] }, atMs: number): boolean {
    const liars = new Set(this.w.nodes.filter((n) => n.byzantine === 'fake-hazard' || n.byzantine === 'deny-hazard').map((n) => n.id));
    for (const t of txs) {
      if (t.kind !== 'attestation') continue;
      this.attestationsCommitted++;
      if (liars.has(t.sender)) this.liesCommitted++;
    }
    const power = m.validators.reduce((sum, v) => sum + v.power, 0);
    const devices = [...m.validators.map((v) => v.id), ...m.followers.map((x) => x.id)];
    const r = applyAgentBlock(this.swarm, { height, f: Math.floor((power - 1) / 3), devices, txs });
    this.swarm = r.state;
    let changed = false;
    for (const e of r.events) {
      if (e.type !== 'hazard-committed' && e.type !== 'hazard-cleared') continue;
      changed = true;
      this.hazardEvents.push({ ...e, atMs });
    }
    return changed;
  }

  /** The highest committed height the flight layer (and the agents' committed view) has applied. */
  appliedHeight(): number {
    return this.fedHeight;
  }

  step(now: number): void {
    for (const n of this.w.nodes) (this.layer.drones[n.index] as { offline: boolean }).offline = n.shell === null;
    this.feedCommits();
    this.layer.step(now);
    const airborne: number[] = [];
    this.layer.drones.forEach((d, i) => {
      const st = d.sim.state();
      const p = this.positions[i] as { northM: number; eastM: number };
      p.northM = st.northM;
      p.eastM = st.eastM;
      if (st.upM > airborneM && !d.offline) {
        airborne.push(i);
        if (this.coverage) {
          const cells = this.coverage.mark(st.northM, st.eastM, footprintM);
          if (this.fresh && cells.length > 0) this.fresh.push(...cells);
        }
      }
    });
    this.measureSeparation(airborne);
  }

  /** The closest two airborne drones came, in three dimensions, checked every step. */
  private measureSeparation(airborne: readonly number[]): void {
    const d = closestPairM(airborne.map((i) => (this.layer.drones[i] as SimNodeDrone).sim.state()));
    if (d !== null && (this.minSeparationM === null || d < this.minSeparationM)) this.minSeparationM = d;
  }

  report(): FlightReport {
    return {
      surveyedFraction: this.coverage ? Math.round(this.coverage.fraction() * 1000) / 1000 : null,
      geofenceBreaches: this.layer.geofenceBreaches,
      failsafes: this.layer.failsafes,
      minSeparationM: this.minSeparationM === null ? null : Math.round(this.minSeparationM * 10) / 10,
      obstacleStrikes: this.layer.drones.reduce((n, d) => n + d.sim.strikes().length, 0),
      hazardsFound: this.layer.sightings.size,
      replans: this.layer.replans,
    };
  }
}

type SimNodeDrone = FlightLayer['drones'][number];
