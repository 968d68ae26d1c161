// The flying half of a deterministic run: the committed command log goes through the real mission state
// machine (runtime/mission), and each device's tasks fly a seeded kinematic multirotor (hal/sim). A
// device whose Murmur process is down leaves its flight controller in hold, as PX4's offboard-loss
// failsafe would. Time is the world's virtual time, so a seed replays the flights exactly.

import type { Prng } from '../../runtime/lib/prng.js';
import { applyBlock, initialMissionState, returnAltitudeDm } from '../../runtime/mission/machine.js';
import type { MissionBlock, MissionEffect, MissionState, PointDm, Task } from '../../runtime/mission/types.js';
import { SimMultirotor } from '../../hal/sim/multirotor.js';
import type { Obstacle } from '../../hal/sim/obstacles.js';
import { hazardRangeRing } from '../../agents/features/range.js';
import { defaultBattery } from '../../hal/sim/battery-model.js';
import { insidePolygon } from '../report/coverage.js';
import type { PointNe } from '../report/events.js';
import { keepOuts, resumeIndex as resumeAt, sameLeg, wayFrom, withLocalKeepOut, type KeepOut } from '../../runtime/mission/hazards.js';
import { beamHit, defaultMissionReflexConfig, obstacleToAvoid } from '../../agents/builtin/mission-reflexes.js';
import { finishedProgress, plannedPassed } from '../../runtime/mission/progress.js';
import { fenceCut, fenceCutMarginM, legFrom, wayHome } from '../../runtime/mission/fence-cut.js';

/** Where drone i of n waits: on a pad grid, columns going east and rows south from its first pad (by
 *  default 6 m apart, as square as it gets, south-west of the origin). Both fleet-sim modes use it. */
export function padPosition(i: number, n: number, pads?: FlightWorld['pads']): { northM: number; eastM: number } {
  const square = Math.ceil(Math.sqrt(n));
  const p = pads ?? { spacingM: 6, columns: square, origin: [-20, -20 - 6 * (square - 1)] as const };
  return { northM: p.origin[0] - p.spacingM * Math.floor(i / p.columns), eastM: p.origin[1] + p.spacingM * (i % p.columns) };
}

export interface FlightDrone {
  readonly id: string;
  readonly sim: SimMultirotor;
  /** Waypoints still to fly, metres; null when there is no task. The first point reached is reached at
   *  `transitAltM` and the drone comes down to `altM` there (`descended`), as the device's executor
   *  does. `cut`: the points left to fly for waypoint `for` (the waypoint, or the parts of its leg inside
   *  the world's geofence: legCut). */
  route: { readonly mission: string; readonly points: PointNe[]; readonly altM: number; readonly transitAltM: number; readonly speedMps: number; readonly then: 'return' | 'hold'; next: number; sent: number; descended: boolean; cut: { readonly for: number; readonly points: PointNe[] } | null; readonly blocked: readonly { readonly to: number; readonly reason: string }[]; readonly joins: readonly { readonly from: number; readonly to: number; readonly altM: number }[]; readonly planned: number } | null;
  mode: string;
  /** The device's process is down: its flight controller holds. */
  offline: boolean;
  /** The last mission whose route this drone finished (its telemetry's `completed`), or ''. */
  completed: string;
  /** The route it flew to its end last, and the length of its committed part when that route was
   *  taken (what finishedProgress needs once the route is gone), or null. */
  finished: { readonly mission: string; readonly planned: number } | null;
  /** The obstacle reflex, as the device's mission-reflexes agent keeps it: consecutive fresh scans with
   *  a return within reach and without, the last scan looked at, and whether it is backing away. */
  avoid: { closeTicks: number; clearTicks: number; lastScanMs: number | null; backingOff: boolean };
  /** Points round the committed keep-outs to fly before the route's next waypoint (wayFrom), metres. */
  detour: PointNe[];
  /** Points round the committed keep-outs to fly on the way home before the vehicle's own return
   *  (goHome), metres. */
  homeWay: PointNe[];
  /** Keep-outs round what its own range sensor hit in its way (the back-off), as a device's executor
   *  keeps them (sawObstacle). */
  localZones: readonly KeepOut[];
}

/** The physical world around the fleet (the scenario's `world`). */
export interface FlightWorld {
  readonly hazards?: readonly Obstacle[];
  readonly batteryWh?: number;
  readonly geofence?: readonly PointNe[];
  /** Columns go east and rows south from the first pad at `origin` [north, east]. */
  readonly pads?: { readonly spacingM: number; readonly columns: number; readonly origin: readonly [number, number] };
}

/** Where a re-planned route continues (runtime/mission/hazards.ts resumeIndex), on float metres. */
export function resumeIndex(old: readonly PointNe[], oldNext: number, route: readonly PointNe[]): number {
  return resumeAt(old, oldNext, route, samePoint);
}

/** Route points equal to a micrometre (float metres). */
const samePoint = (a: PointNe, b: PointNe): boolean => Math.abs(a[0] - b[0]) < 1e-6 && Math.abs(a[1] - b[1]) < 1e-6;


/** A local reflex that fired: it acted at once, without waiting for consensus (DESIGN.md). */
export interface Reflex {
  readonly kind: 'failsafe' | 'geofence';
  readonly drone: number;
  readonly detail: string;
}

const takeoffAltM = 20;
const altitudeToleranceM = 1.5;
const arrivalM = 2.5;

export class FlightLayer {
  readonly drones: FlightDrone[];
  private mission: MissionState = initialMissionState();
  /** Mission decisions the dashboard shows in its event log. */
  readonly notes: string[] = [];
  private readonly hazards: readonly Obstacle[];
  private readonly fence: readonly PointNe[] | null;
  private readonly reserveFraction: number;
  /** Reflexes since the observer last drained them. */
  reflexes: Reflex[] = [];
  failsafes = 0;
  geofenceBreaches = 0;
  /** Mission re-plans around committed hazards. */
  replans = 0;
  /** hazard index -> drone indexes whose range sensor has returned a hit on it, in order of sighting. */
  readonly sightings = new Map<number, number[]>();

  constructor(devices: readonly string[], prng: Prng, startMs: number, world: FlightWorld = {}) {
    this.hazards = world.hazards ?? [];
    this.fence = world.geofence ?? null;
    const battery = { ...defaultBattery, ...(world.batteryWh !== undefined ? { capacityWh: world.batteryWh } : {}) };
    this.reserveFraction = battery.lowFraction;
    this.drones = devices.map((id, i) => ({
      id,
      sim: new SimMultirotor({ obstacles: this.hazards, battery, range: hazardRangeRing }, prng.split(`drone-${id}`), startMs, padPosition(i, devices.length, world.pads)),
      route: null,
      mode: 'landed',
      offline: false,
      completed: '',
      finished: null,
      avoid: { closeTicks: 0, clearTicks: 0, lastScanMs: null, backingOff: false },
      detour: [],
      homeWay: [],
      localZones: [],
    }));
  }

  /** One committed block in chain order, as the runtime's mission adapter makes it (runtime/device/
   *  mission-adapter.ts); returns the machine's effects for the caller's part (fleet updates). */
  applyCommitted(block: MissionBlock): readonly MissionEffect[] {
    if (block.height !== this.mission.height + 1) return []; // the world only feeds the agreed chain, in order
    const r = applyBlock(this.mission, block);
    this.mission = r.state;
    this.keepReturnAltitudes();
    for (const e of r.effects) {
      if (e.type === 'decision' && e.decision.type !== 'noop') {
        this.note(`height ${block.height}: ${e.decision.type} ${e.decision.outcome}${e.decision.reason ? ` (${e.decision.reason})` : ''}`);
      } else if (e.type === 'replan') {
        this.replans++;
        this.note(`height ${e.height}: committed hazards re-routed ${e.nodes.length} drones around ${e.keepOuts} keep-out zone${e.keepOuts === 1 ? '' : 's'}`);
      } else if (e.type === 'reassign') {
        this.note(`height ${e.height}: ${e.reason}: ${e.from} leaves the mission; ${e.to ? `${e.to} flies its ${e.waypoints} unflown waypoints` : `its ${e.waypoints} unflown waypoints are dropped`}`);
      } else if (e.type === 'task') {
        const d = this.drones.find((x) => x.id === e.node);
        if (d) this.assign(d, e.task);
      }
    }
    return r.effects;
  }

  /** Each vehicle's return-to-launch altitude follows the committed state, as a device keeps its flight
   *  controller's (runtime/device/executor.ts); recomputed only when what it depends on changed. */
  private returnAltKey = '';
  private keepReturnAltitudes(): void {
    const s = this.mission;
    const key = `${s.mission?.altDm}|${s.params.altitudeM}|${s.params.separationM}|${s.geofence ? s.geofenceAltDmMax : '-'}|${s.drones.map((d) => d.id).join(',')}`;
    if (key === this.returnAltKey) return;
    this.returnAltKey = key;
    const slot = new Map(s.drones.map((d, i) => [d.id, i]));
    for (const d of this.drones) d.sim.setReturnAltitude(returnAltitudeDm(s, slot.get(d.id) ?? -1) / 10);
  }

  missionState(): MissionState {
    return this.mission;
  }

  geofence(): readonly PointNe[] | null {
    return this.mission.geofence ? this.mission.geofence.map((p) => [p.n / 10, p.e / 10] as const) : null;
  }

  private note(text: string): void {
    if (this.notes.length < 1_000) this.notes.push(text);
  }

  private assign(d: FlightDrone, task: Task): void {
    // The mission's hold and resume concern the drones flying it, not one going home on its failsafe
    // (as the device's executor); a re-plan changes the route, not a way home under way.
    if (d.mode === 'failsafe rtl' && (task.type === 'hold' || task.type === 'resume')) return;
    switch (task.type) {
      case 'waypoints': {
        const points = task.waypoints.map((w: PointDm) => [w.n / 10, w.e / 10] as const);
        const next = task.replan && d.route ? resumeIndex(d.route.points, d.route.next, points) : 0;
        d.detour = [];
        const altM = task.altDm / 10;
        // A re-plan that keeps the leg the drone is on keeps what is left of its cut at the fence:
        // recut, it would fly back to where the leg came in through the fence.
        const prev = d.route;
        const cut = task.replan && prev?.cut && prev.cut.for === prev.next && sameLeg(prev.points, prev.next, points, next, samePoint) ? { for: next, points: [...prev.cut.points] } : null;
        d.finished = null;
        // A re-plan that dropped every waypoint ahead of the drone inside a committed keep-out (the
        // task's droppedEnd) leaves its part unflown: it holds where it is, as before a blocked leg
        // at the route's end, and never reports the part done (as the device's executor does).
        const hadAhead = prev !== null && prev.mission === task.mission && (prev.next < prev.points.length || d.mode === 'hold (blocked leg)');
        const leftNone = task.droppedEnd !== undefined && next >= points.length && hadAhead ? [{ to: points.length, reason: `${task.droppedEnd}: none of its route is left ahead of it` }] : [];
        d.route = { mission: task.mission, points, altM, transitAltM: task.transitAltDm === undefined ? altM : task.transitAltDm / 10, speedMps: task.speedDmps / 10, then: task.then, next, sent: -1, descended: next > 0, cut, blocked: [...(task.blocked ?? []), ...leftNone], joins: (task.joins ?? []).map((j) => ({ from: j.from, to: j.to, altM: j.altDm / 10 })), planned: this.plannedOf(d.id, task.mission) };
        // A re-plan changes the route, not what the drone is doing (a drone holding or going home stays
        // so), except for a drone holding before a blocked leg: it flies on when the leg has its way now,
        // as the device's executor does.
        const unblocked = d.mode === 'hold (blocked leg)' && !d.route.blocked.some((b) => b.to === next);
        if (unblocked) this.note(`${d.id}: resumed: the re-planned route has a way for the leg it held before`);
        if (!task.replan || d.mode === 'tasked' || unblocked) {
          d.mode = 'tasked';
          d.homeWay = [];
        }
        return;
      }
      case 'hold':
        d.homeWay = [];
        d.sim.hold();
        d.mode = 'hold';
        return;
      case 'resume':
        d.mode = d.route ? 'tasked' : 'hold';
        if (d.route) d.route.sent = -1;
        d.detour = [];
        return;
      // An abort sends every drone home (the machine's 'returning'), as a device's executor flies it.
      case 'rtl':
      case 'abort':
        d.route = null;
        // Already going home on its battery failsafe (the swarm's rtl for a drone lost below the reserve
        // comes after it): it stays that, or the reflex, seeing 'rtl', fired and counted a second time.
        if (d.mode === 'failsafe rtl') return;
        this.goHome(d, 'rtl');
        return;
      case 'land':
        d.route = null;
        d.homeWay = [];
        d.sim.land();
        d.mode = 'landing';
        return;
    }
  }

  /** Advances every drone to nowMs and runs each autopilot's next step. */
  step(nowMs: number): void {
    for (const d of this.drones) {
      d.sim.step(nowMs);
      if (d.offline) {
        if (d.mode !== 'hold (link lost)' && d.sim.state().upM > 0.5) d.sim.hold();
        d.mode = d.sim.state().upM > 0.5 ? 'hold (link lost)' : 'landed';
        continue;
      }
      this.look(d);
      this.reflex(d);
      if (this.avoidObstacles(d)) continue; // backing away: the autopilot waits
      if (d.mode === 'hold (link lost)') {
        d.mode = d.route ? 'tasked' : 'hold';
        if (d.route) d.route.sent = -1;
      }
      this.pilot(d);
    }
  }

  /** Local reflexes, checked every step before the autopilot: battery reserve, then the geofence. */
  private reflex(d: FlightDrone): void {
    const st = d.sim.state();
    if (st.upM < 1) return;
    const index = this.drones.indexOf(d);
    const left = d.sim.remainingFraction();
    if (left < this.reserveFraction && d.mode !== 'failsafe rtl' && d.mode !== 'landing' && d.mode !== 'landed') {
      d.route = null;
      this.goHome(d, 'failsafe rtl');
      this.failsafes++;
      this.reflexes.push({ kind: 'failsafe', drone: index, detail: `battery ${(left * 100).toFixed(0)}% below the ${(this.reserveFraction * 100).toFixed(0)}% reserve: return to launch` });
      return;
    }
    if (this.fence === null) return;
    if (!insidePolygon(st.northM, st.eastM, this.fence) && d.mode !== 'fence hold') {
      this.geofenceBreaches++;
      d.route = null;
      d.sim.hold();
      d.mode = 'fence hold';
      this.reflexes.push({ kind: 'geofence', drone: index, detail: `outside the geofence at [${st.northM.toFixed(0)}, ${st.eastM.toFixed(0)}]: hold` });
      return;
    }
  }

  /**
   * The points left to fly for the route's next waypoint: the waypoint itself, or, with the world's
   * geofence cutting the leg to it, the parts of that leg inside (fenceCut, as the device's executor
   * cuts at its own fence: a survey lane past the fence is flown up to it). Empty: nothing inside, the
   * waypoint is skipped. Before, a waypoint outside was skipped, and every lane with an end past the
   * fence with it.
   */
  private legCut(d: FlightDrone, r: NonNullable<FlightDrone['route']>): PointNe[] {
    if (r.cut?.for === r.next) return r.cut.points;
    const wp = r.points[r.next] as PointNe;
    let points: PointNe[] = [wp];
    if (this.fence !== null) {
      const fence = this.fence.map((p) => ({ northM: p[0], eastM: p[1] }));
      const b = { northM: wp[0], eastM: wp[1] };
      const prev = r.next > 0 ? r.points[r.next - 1] : undefined;
      const cut = prev ? fenceCut({ northM: prev[0], eastM: prev[1] }, b, fence) : insidePolygon(wp[0], wp[1], this.fence) ? [b] : [];
      const index = this.drones.indexOf(d);
      const st = d.sim.state();
      const leg = legFrom({ northM: st.northM, eastM: st.eastM }, cut, fence);
      if (leg === null) {
        this.reflexes.push({ kind: 'geofence', drone: index, detail: `no way inside the geofence from [${st.northM.toFixed(0)}, ${st.eastM.toFixed(0)}] to the leg to waypoint [${wp[0]}, ${wp[1]}] keeps ${fenceCutMarginM} m from it: skipped` });
        r.cut = { for: r.next, points: [] };
        return r.cut.points;
      }
      points = leg.map((p) => (p === b ? wp : ([p.northM, p.eastM] as const)));
      const last = points[points.length - 1];
      // A waypoint inside with nothing to fly: a notch between it and the leg's start with no way round
      // it that keeps the margin (fenceCut). Before, said to be outside the geofence.
      if (last === undefined && insidePolygon(wp[0], wp[1], this.fence)) this.reflexes.push({ kind: 'geofence', drone: index, detail: `no way inside the geofence from [${prev?.[0]}, ${prev?.[1]}] to waypoint [${wp[0]}, ${wp[1]}] keeps ${fenceCutMarginM} m from it: skipped` });
      else if (last === undefined) this.reflexes.push({ kind: 'geofence', drone: index, detail: `waypoint [${wp[0]}, ${wp[1]}] is outside the geofence, and no part of the leg to it inside: skipped` });
      else if (last !== wp) this.reflexes.push({ kind: 'geofence', drone: index, detail: `waypoint [${wp[0]}, ${wp[1]}] is outside the geofence: the leg to it is flown up to the fence` });
    }
    r.cut = { for: r.next, points };
    return points;
  }

  /**
   * The device's obstacle reflex (agents/builtin/mission-reflexes.ts, the same rule): a return within
   * reach (obstacleToAvoid: closer than the drone needs to stop, flying as it does) on two fresh scans
   * sends the drone back from it, every scan while it lasts; two clear scans after, the drone flies on
   * (its goto is sent again, round the committed keep-outs by then, or up to the obstacle again; a
   * drone on its way home, a failsafe's return included, goes home again from there: the device's
   * scheduler lets the back-off pass a latched failsafe and sends the failsafe again after it). True
   * while it backs away. Only a drone flying a route or going home: a hold or a landing is left alone.
   */
  private avoidObstacles(d: FlightDrone): boolean {
    const a = d.avoid;
    const st = d.sim.state();
    const flying = (d.mode === 'tasked' && d.route !== null) || d.mode === 'rtl' || d.mode === 'failsafe rtl';
    if (this.hazards.length === 0 || !flying || st.upM < 1) {
      d.avoid = { closeTicks: 0, clearTicks: 0, lastScanMs: null, backingOff: false };
      return false;
    }
    const range = d.sim.rangeReadings();
    const scanMs = range.length > 0 ? Math.max(...range.map((r) => r.timeMs)) : null;
    if (scanMs === null || scanMs === a.lastScanMs) return a.backingOff;
    a.lastScanMs = scanMs;
    const close = obstacleToAvoid(range, { headingRad: st.yawRad, velocityNorthMps: st.velocityNed.x, velocityEastMps: st.velocityNed.y }, defaultMissionReflexConfig);
    a.closeTicks = close ? a.closeTicks + 1 : 0;
    a.clearTicks = close ? 0 : a.clearTicks + 1;
    if (close && a.closeTicks >= 2) {
      const away = st.yawRad + close.bearingRad + Math.PI;
      const v = defaultMissionReflexConfig.avoidSpeedMps;
      d.sim.velocity(v * Math.cos(away), v * Math.sin(away), 0, 300);
      if (!a.backingOff) {
        this.note(`${d.id}: obstacle at ${close.distanceM.toFixed(1)} m: backing away`);
        const hit = beamHit({ northM: st.northM, eastM: st.eastM, headingRad: st.yawRad }, close);
        d.localZones = withLocalKeepOut(d.localZones, keepOuts(this.mission.hazards), hit.northM, hit.eastM, hit.beamRad) ?? d.localZones;
      }
      a.backingOff = true;
      return true;
    }
    if (a.backingOff && a.clearTicks >= 2) {
      a.backingOff = false;
      if (d.mode === 'rtl' || d.mode === 'failsafe rtl') this.goHome(d, d.mode);
      else if (d.route) {
        d.route.sent = -1; // fly on: the goto again, round what is committed by now
        d.detour = [];
      }
    }
    return a.backingOff;
  }

  /** A range beam that returns short of its maximum hit something: credit the obstacle it hit. */
  private look(d: FlightDrone): void {
    if (this.hazards.length === 0) return;
    const st = d.sim.state();
    if (st.upM < 2) return;
    for (const r of d.sim.rangeReadings()) {
      if (r.distanceM >= r.maxM || r.distanceM <= r.minM) continue;
      const bearing = st.yawRad + r.bearingRad;
      const hn = st.northM + Math.cos(bearing) * r.distanceM;
      const he = st.eastM + Math.sin(bearing) * r.distanceM;
      let best = -1;
      let bestGap = 3; // metres of GNSS and beam error tolerated between the hit and an obstacle's edge
      this.hazards.forEach((h, i) => {
        const gap = Math.abs(Math.hypot(hn - h.northM, he - h.eastM) - h.radiusM);
        if (gap < bestGap) {
          bestGap = gap;
          best = i;
        }
      });
      if (best < 0) continue;
      const seen = this.sightings.get(best) ?? [];
      const index = this.drones.indexOf(d);
      if (!seen.includes(index)) this.sightings.set(best, [...seen, index]);
    }
  }

  private pilot(d: FlightDrone): void {
    const st = d.sim.state();
    if (d.mode === 'tasked' && d.route) {
      // A leg with no way round the committed hazards inside the fence is never flown: the drone holds
      // before it (on the ground it stays there), as the device's executor does.
      const blocked = d.route.blocked.find((b) => b.to === d.route?.next);
      if (blocked) {
        if (st.upM > 0.5) d.sim.hold();
        d.mode = 'hold (blocked leg)';
        this.note(`${d.id}: ${blocked.reason}: holding before that leg`);
        return;
      }
      if (!st.armed) {
        d.sim.arm();
        return;
      }
      if (st.upM < 0.5 && st.mode !== 'takeoff') {
        d.sim.takeoff(Math.max(takeoffAltM, d.route.descended ? d.route.altM : d.route.transitAltM));
        return;
      }
      if (st.mode === 'takeoff' && !d.sim.atTarget(1.5)) return;
      const wp = d.route.points[d.route.next];
      if (wp === undefined) {
        // As the device's executor: a survey's drone goes home, a goto's or formation's holds there.
        d.completed = d.route.mission;
        d.finished = { mission: d.route.mission, planned: d.route.planned };
        const home = d.route.then === 'return';
        d.route = null;
        if (home) this.goHome(d, 'rtl');
        else {
          d.sim.hold();
          d.mode = 'hold';
        }
        return;
      }
      const r = d.route;
      const cut = this.legCut(d, r);
      const tgt = cut[0];
      if (tgt === undefined) {
        r.next++;
        return;
      }
      // A part taken over from a lost drone and the way to it (joins) are flown at their own altitude,
      // as the device's executor does: up to it where the drone is first.
      const join = r.descended ? r.joins.find((j) => r.next >= j.from && r.next <= j.to) : undefined;
      const legAltM = !r.descended ? r.transitAltM : join ? join.altM : r.altM;
      if (Math.hypot(st.northM - tgt[0], st.eastM - tgt[1]) < arrivalM) {
        if (!r.descended && legAltM !== r.altM) {
          // At the route's first point flown: down from the transit altitude before flying on.
          if (r.sent !== -2) {
            d.sim.goto(tgt[0], tgt[1], r.altM, r.speedMps);
            r.sent = -2;
          }
          if (Math.abs(st.upM - r.altM) > altitudeToleranceM) return;
        }
        r.descended = true;
        if (cut.length > 1) {
          cut.shift(); // on along the leg, from the fence's edge where it comes back in
          r.sent = -1;
          return;
        }
        r.next++;
        return;
      }
      if (join && r.next === join.from && r.sent !== r.next && r.sent !== -3 && Math.abs(st.upM - legAltM) > altitudeToleranceM) {
        d.sim.goto(st.northM, st.eastM, legAltM, r.speedMps);
        r.sent = -3;
      }
      if (r.sent === -3) {
        if (Math.abs(st.upM - legAltM) > altitudeToleranceM) return;
        r.sent = -1;
      }
      if (d.detour.length > 0) {
        // On the way round a committed keep-out to the next waypoint (wayFrom below).
        const p = d.detour[0] as PointNe;
        if (Math.hypot(st.northM - p[0], st.eastM - p[1]) >= arrivalM) return;
        d.detour.shift();
        const q = d.detour[0] ?? tgt;
        d.sim.goto(q[0], q[1], legAltM, r.speedMps);
        return;
      }
      if (r.sent !== r.next) {
        // The leg from where the drone is, which no plan knows (its way to the route, or on after the
        // obstacle reflex stopped it), goes round the committed keep-outs as a device's executor does.
        const zones = this.avoidZones(d);
        const from = { n: Math.round(st.northM * 10), e: Math.round(st.eastM * 10) };
        const way = zones.length > 0 ? wayFrom(from, { n: Math.round(tgt[0] * 10), e: Math.round(tgt[1] * 10) }, zones, this.mission.geofence) : [];
        d.detour = (way ?? []).map((p) => [p.n / 10, p.e / 10] as const);
        const first = d.detour[0] ?? tgt;
        d.sim.goto(first[0], first[1], legAltM, r.speedMps);
        r.sent = r.next;
      }
      return;
    }
    if ((d.mode === 'rtl' || d.mode === 'failsafe rtl') && d.homeWay.length > 0) {
      // On the way round a committed keep-out to the straight leg home (goHome).
      const p = d.homeWay[0] as PointNe;
      if (Math.hypot(st.northM - p[0], st.eastM - p[1]) >= arrivalM) return;
      d.homeWay.shift();
      const q = d.homeWay[0];
      if (q) d.sim.goto(q[0], q[1], Math.max(st.upM, d.sim.returnAltitude()));
      else d.sim.returnToLaunch();
      return;
    }
    // The vehicle's own return-to-launch lands it on its pad (hal/sim/multirotor.ts).
    if ((d.mode === 'landing' || d.mode === 'rtl') && st.upM < 0.3) d.mode = 'landed';
  }

  /** What a drone's own legs go round: the committed keep-outs and its own (localZones). */
  private avoidZones(d: FlightDrone): readonly KeepOut[] {
    const committed = keepOuts(this.mission.hazards);
    return d.localZones.length === 0 ? committed : [...committed, ...d.localZones];
  }

  /**
   * Home as a device's executor goes (runtime/device/executor.ts goHome): the vehicle's own return once
   * the straight line home is clear of the committed keep-outs and its own, after the way round them (wayFrom,
   * inside the committed fence when the drone is) at the return altitude, or higher when the drone is.
   */
  private goHome(d: FlightDrone, mode: 'rtl' | 'failsafe rtl'): void {
    d.mode = mode;
    const zones = this.avoidZones(d);
    const st = d.sim.state();
    const home = d.sim.home();
    // As the device's executor: round the keep-outs in the way, else round a concave committed fence's
    // notch inside it (fence-cut.ts wayHome).
    const way = wayHome(st, home, zones, this.mission.geofence);
    if (way.keepOutsBlocked && way.via === null) this.note(`${d.id}: no way home round the keep-outs in its way: the return flies straight`);
    d.homeWay = way.points.map((p) => [p.northM, p.eastM] as const);
    const first = d.homeWay[0];
    if (first) d.sim.goto(first[0], first[1], Math.max(st.upM, d.sim.returnAltitude()));
    else d.sim.returnToLaunch();
  }

  /** How far the drone has flown its part of the committed mission, as a device reports it in its
   *  telemetry (runtime/device/mission-runner.ts missionProgress); null when it flies none or has
   *  flown it all (and that counts). Its route is always its whole part here (the world keeps a route across a device's
   *  restart: the flight controller holds, the task goes on). */
  progressOf(d: FlightDrone): { mission: string; flown: number } | null {
    const m = this.mission.mission;
    const r = d.route;
    if (!m) return null;
    // Flown to its end (the route is gone then): "completed", unless its part grew and that would
    // not count yet (progress.ts finishedProgress), as the device's mission runner.
    if (!r) return d.finished?.mission === m.id ? finishedProgress(m, d.id, d.finished.planned) : null;
    if (r.mission !== m.id) return null;
    if (r.next >= r.points.length) return finishedProgress(m, d.id, r.planned);
    const mine = m.assignments.find((a) => a.node === d.id);
    if (!mine) return null;
    return { mission: m.id, flown: plannedPassed(mine.waypoints, r.points.map((p) => ({ n: Math.round(p[0] * 10), e: Math.round(p[1] * 10) })), r.next) };
  }

  /** The length of the drone's committed part of `mission` (0: none), when a route of it is taken. */
  private plannedOf(node: string, mission: string): number {
    const m = this.mission.mission;
    return m?.id === mission ? (m.assignments.find((a) => a.node === node)?.waypoints.length ?? 0) : 0;
  }

  /** What the dashboard prints for the drone's activity. */
  activity(d: FlightDrone): string {
    if (d.mode === 'tasked') return this.mission.mission?.kind ?? 'tasked';
    return d.mode;
  }
}
