// The flying half of a deterministic world, stepped on the world's own event queue: the agreed chain
// goes through the runtime's mission adapter and machine into the flight layer, the drones fly, and
// their positions feed the radio (range) and the report (coverage, separation). It is part of the
// world whenever the scenario needs it (a radio, a physical world, missions, flight expectations), so
// the outcome never depends on whether a dashboard watches.

import { missionBlockOf } from '../../runtime/device/mission-adapter.js';
import type { Prng } from '../../runtime/lib/prng.js';
import type { MissionEffect } from '../../runtime/mission/types.js';
import { CoverageGrid } from '../report/coverage.js';
import type { PointNe } from '../report/events.js';
import type { Scenario } from '../scenario/scenario.js';
import type { World } from '../sim/world.js';
import { FlightLayer } from './flight-layer.js';

export const flightStepMs = 100;
/** Camera footprint radius for survey coverage, metres, and the coverage grid's cell. */
const footprintM = 12;
export const coverageCellM = 10;
/** Separation is measured between drones above this height (the pads are closer than any rule). */
const airborneM = 5;
const separationDronesMax = 300;

export interface FlightReport {
  surveyedFraction: number | null;
  geofenceBreaches: number;
  failsafes: number;
  minSeparationM: number | null;
  /** Hazards some drone's range sensor returned. */
  hazardsFound: number;
}

/** The survey area of the scenario's first mission.survey command, if any. */
export function surveyAreaOf(s: Scenario): PointNe[] | null {
  for (const w of s.workload) {
    if (w.kind !== 'once' || w.command !== 'mission.survey') continue;
    const area = w.args.area;
    if (Array.isArray(area) && area.every((p) => Array.isArray(p) && p.length === 2 && p.every((x) => typeof x === 'number'))) return area as PointNe[];
  }
  return null;
}

/** Whether the world must fly: anything in the scenario that reads or is read by the drones. */
export function scenarioFlies(s: Scenario): boolean {
  const e = s.expect;
  const flightExpect = e.geofenceBreachesMax !== undefined || e.failsafesMin !== undefined || e.hazardsCommittedMin !== undefined || e.hazardsCommittedMax !== undefined || e.minSeparationM !== undefined || e.surveyedFractionMin !== undefined;
  return s.radio !== undefined || s.world !== undefined || flightExpect || s.workload.some((w) => w.kind !== 'rate');
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

  constructor(
    private readonly w: World,
    prng: Prng,
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

  /** The agreed chain so far, in height order, from an honest node's recent blocks. */
  private feedCommits(): void {
    const holder = this.w.honestChainNode();
    const chain = holder?.shell?.core.chain;
    if (!chain) return;
    const decided = this.w.checkers.decided;
    const ctx = { manifestAt: (h: number) => chain.manifestAt(h), verifier: this.w.verifier, authority: this.w.manifest.body.authority };
    for (let h = this.fedHeight + 1; decided.has(h); h++) {
      const c = chain.recentBlock(h);
      if (!c) break; // not in this holder's window: stop feeding rather than skip
      this.effects.push(...this.layer.applyCommitted(missionBlockOf(c, ctx, this.w.fleet)));
      this.fedHeight = h;
    }
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
    if (airborne.length > separationDronesMax) return;
    const st = airborne.map((i) => (this.layer.drones[i] as SimNodeDrone).sim.state());
    for (let a = 0; a < st.length; a++) {
      for (let b = a + 1; b < st.length; b++) {
        const p = st[a] as ReturnType<SimNodeDrone['sim']['state']>;
        const q = st[b] as ReturnType<SimNodeDrone['sim']['state']>;
        const d = Math.hypot(p.northM - q.northM, p.eastM - q.eastM, p.upM - q.upM);
        if (this.minSeparationM === null || d < this.minSeparationM) this.minSeparationM = d;
      }
    }
  }

  report(): FlightReport {
    return {
      surveyedFraction: this.coverage ? Math.round(this.coverage.fraction() * 1000) / 1000 : null,
      geofenceBreaches: this.layer.geofenceBreaches,
      failsafes: this.layer.failsafes,
      minSeparationM: this.minSeparationM === null ? null : Math.round(this.minSeparationM * 10) / 10,
      hazardsFound: this.layer.sightings.size,
    };
  }
}

type SimNodeDrone = FlightLayer['drones'][number];
