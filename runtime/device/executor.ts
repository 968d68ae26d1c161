// Executes this device's own tasks from committed blocks through the HAL: take off, fly the waypoints
// in order, hold, resume, return or land. Reports started, progress, done and failed (with the
// reason) through `report`; the runtime turns those into signed acks and JSON on MQTT.

import type { DeviceError, DeviceSet, FlightAction, FlightControl, FlightState, GeoPoint } from '../../hal/devices.js';
import type { Result } from '../lib/result.js';
import { geoToLocal, localToGeo, type GeoOrigin } from '../../hal/geo.js';
import type { Task, TaskOrigin } from '../mission/types.js';
import { resumeIndex, sameLeg, wayFrom, withLocalKeepOut, type KeepOut } from '../mission/hazards.js';
import { insidePolygon } from '../../agents/builtin/mission-reflexes.js';
import type { Point } from '../../agents/api/agent.js';
import { OwnModes } from './own-modes.js';
import { MotionWatch, type Motion, type MotionPoint } from './motion-watch.js';
import { fenceCut, fenceCutMarginM, legFrom, wayHome } from '../mission/fence-cut.js';
import { ownReturnMismatch, type OwnReturn } from './own-return.js';

export type ExecStage = 'started' | 'progress' | 'done' | 'failed';

export interface ExecReport {
  readonly command: string;
  readonly stage: ExecStage;
  readonly progress: number;
  readonly reason: string;
}

const pollMs = 50;
const arriveToleranceM = 3;
/** A vehicle a goto sent to a point that stays (within MotionWatch's 3 m) for reckonedArrivalStillMs
 *  within this of it by this device's position has arrived by its own reckoning (waitFor): 5 s, in
 *  which a goto at the slowest mission speed (1 m/s) moves more than 3 m. Only where this device's
 *  position is not the FC's own estimate (positionIsFcs). */
const reckonedArrivalM = 10;
const reckonedArrivalStillMs = 5_000;
/** A task that finds the vehicle landing below this height waits for the touchdown, then takes off. */
const touchdownWaitBelowM = 2;
const altitudeToleranceM = 1.5;
/** The return altitude is written again this often, in case the flight controller rebooted. */
const returnAltRewriteMs = 30_000;
/** How long a task waits for a flight controller not heard yet (a device just started) before it fails. */
const flightControllerWaitMs = 15_000;
/** Bound on one wait (real time) so a stuck vehicle fails the task instead of waiting forever. */
const waitMsMax = 600_000;
/** What the vehicle's motion tells while the executor waits (MotionWatch): a goto at any mission speed
 *  moves it farther than 3 m in a second, so one within that of a point for 30 s has stopped short; a
 *  vehicle that holds drifts by a metre or two (wind, GNSS), so one 6 m off (4 m in height) from where
 *  it settled for 2 s (a receiver's glitch jumps and comes back), or not settled 12 s after the hold
 *  (braking from 15 m/s at 2 m/s² takes 7.5 s), is flown by someone. */
export const stallMsDefault = 30_000;
const motionLimits = { stallMoveM: 3, stillBreakMs: 1_000, settleMs: 2_000, settleMoveM: 5, settleUpM: 5, settleMaxMs: 12_000, driftM: 6, driftUpM: 4, driftForMs: 2_000 } as const;
/** A flight controller that refuses to arm (a pre-arm check: its estimator or GNSS not ready yet, a
 *  battery below its threshold) is asked again this often, and the task fails with its last refusal
 *  after armWaitMsDefault (Executor's armWaitMs). */
const armRetryMs = 1_000;
export const armWaitMsDefault = 120_000;

/** A position as MotionWatch reads it: with its height not known (Executor.position's upM null), across
 *  only, as a reading of another source (the watch starts over on it, and compares heights of 0). */
function motionPoint(p: { northM: number; eastM: number; upM: number | null; source?: string } | null): MotionPoint | null {
  if (p === null) return null;
  if (p.upM !== null) return { ...p, upM: p.upM };
  return { northM: p.northM, eastM: p.eastM, upM: 0, source: `${p.source ?? 'receiver'}, no height` };
}

type Cut = { readonly next: number; readonly targets: readonly { n: number; e: number }[]; readonly reached: number };

/** Where a re-planned route of the mission `prev` flew carries on (the waypoint it was heading for, by
 *  the same leg in the new route), and the fence cut of that leg, kept when the leg is the same. */
function replannedFrom(prev: { task: { waypoints: readonly { n: number; e: number }[] }; next: number; cut: Cut | null }, waypoints: readonly { n: number; e: number }[]): { next: number; cut: Cut | null } {
  const same = (a: { n: number; e: number }, b: { n: number; e: number }): boolean => a.n === b.n && a.e === b.e;
  const next = resumeIndex(prev.task.waypoints, prev.next, waypoints, same);
  const cut = prev.cut && prev.cut.next === prev.next && sameLeg(prev.task.waypoints, prev.next, waypoints, next, same) ? { next, targets: prev.cut.targets, reached: prev.cut.reached } : null;
  return { next, cut };
}

/** Waypoints flown of all, 0..1000 for the ack (an empty route, every waypoint inside a committed
 *  hazard, is 0 until done rather than NaN, which no ack reader accepts). */
const permilleOf = (flown: number, all: number): number => (all === 0 ? 0 : Math.floor((flown * 1000) / all));

export interface ExecutorOptions {
  /** This device's own fence (device.yaml `geofence`); none by default. */
  readonly fence?: readonly Point[] | null;
  /** How long a task asks a refusing flight controller to arm before it fails; armWaitMsDefault. */
  readonly armWaitMs?: number;
  /** How long a vehicle a goto sent on may stay where it is before the wait for it ends; stallMsDefault. */
  readonly stallMs?: number;
  /** Told when a flying of mission `mission` has the vehicle in the air (its take-off accepted, begun
   *  in the air, or a committed hold of it taken up in the air after a restart): the device keeps it in
   *  its data directory, so a restart that finds the drone on the ground knows someone landed it, under
   *  the mission's hold (adoptHold) or with it active (run's `restart`). */
  readonly flying?: (mission: string) => void;
  /** The executor's own last return or landing (own-return.ts): `found` is the record the device read
   *  from its data directory at start (null: none), `keep` writes a new one or empties it (null). */
  readonly ownReturn?: { readonly found: OwnReturn | null; readonly keep: (r: OwnReturn | null) => void };
}

/** What one of the executor's own returns or landings carries out, for its record (OwnReturn). */
interface ReturnCause {
  readonly command: string | null;
  readonly what: string;
}

/** A restart's resume of this drone's part of an active mission (MissionRunner.resumeOwnTask) that it
 *  flew for before: `why` the device knows (MissionRunner.flewBefore), and the part's committed
 *  progress (per mille) for the failure's ack. */
export interface RestartResume {
  readonly why: string;
  readonly progress: number;
}

export class Executor {
  /** Mission id whose waypoints were all flown; reported in telemetry so the fleet can close it. */
  completed = '';
  private generation = 0;
  private paused = false;
  /** `descended`: the drone reached its route's first waypoint at the transit altitude and came down to
   *  the mission altitude there; from then on it flies at the mission altitude. */
  /** `heldBlocked`: it stopped before a blocked leg (its task failed so); `resumed`: the started ack's
   *  reason when a re-plan gave that leg its way. `cut`: the points the leg to waypoint `next` is
   *  flown by (cutAtFence, from where the drone was when it began that leg), and how many were
   *  reached: a flying begun again on that leg (a reflex's release, a resume, a re-plan that keeps the
   *  leg) flies on from there, not back to where the leg came in through the fence. */
  /** `flewBefore`: a restart's resume of a part the drone flew before (run's `restart`): found on the
   *  ground, it is not taken off again (fly). `automatic`: the machine's or the device's own (run's
   *  `origin`), which does not take the vehicle back from a pilot or the FC's own failsafe (fly asks
   *  once the FC is heard, as run's notTakenBack asks when the FC already was). */
  /** `leftNone`: this task left the drone none of its route ahead because the part's last waypoints
   *  lie inside a committed keep-out (the task's droppedEnd): why it holds where it is (fly). */
  private current: { command: string; task: Extract<Task, { type: 'waypoints' }>; next: number; descended: boolean; heldBlocked: boolean; resumed: string; cut: Cut | null; flewBefore?: RestartResume; automatic?: true; leftNone?: string } | null = null;
  private stopped = false;
  /** Sent home (goHome) and given no task since: a reflex's release sends it home again from where it is. */
  private homeward = false;
  /** Going home or landing on a local failsafe (returnHome, landHere) and given no command since: a
   *  re-plan of its mission changes the route it holds, not that, and the mission's hold and resume
   *  are not carried out (as in fleet-sim's flight layer). */
  private failsafe = false;
  /** A pilot's mode switch or the flight controller's own failsafe took the vehicle out of the
   *  executor's hands while it flew (takenOver), and no operator's task has come since: nothing flies
   *  it on (a reflex's release, a re-plan, any automatic task: notTakenBack), until an operator's
   *  command for it (a new mission naming it, an rtl, land or abort). */
  private handedOver = false;
  /** Why (handedOver): what the device's status tells the operator. */
  private handedOverWhy = '';
  /** The mission whose part the vehicle was handed over from (handedOver): the task's, or, with no
   *  route held (restarted under the mission's hold: adoptHold), the held mission's. A re-plan of that
   *  mission is not a new task for the drone even when this executor holds no route of it (run). */
  private handedOverMission: string | null = null;
  /** The held mission adoptHold took up (or handed over) after a restart, with no route of it held:
   *  what a takeover seen under that hold hands the vehicle over from. Cleared by a task of its own. */
  private adoptedFor: string | null = null;
  /** Which modes the executor's last action leaves the flight controller in, and whether they showed
   *  (takenOver: a mode outside them is a pilot's switch or the FC's own failsafe). */
  private readonly ownModes = new OwnModes();
  /** The flight controller's failsafe flag was seen clear since that flying began (takenOver). */
  private seenNoFailsafe = false;
  /** A reflex's action was not sent since the last takeover, and the log said so (othersHands). */
  private reflexRefusalLogged = false;
  /** The return-to-launch altitude the flight controller confirmed and when; whether a write is under
   *  way; why the last write failed (logged once per distinct reason). */
  private returnAlt: { confirmedM: number | null; atMs: number; writing: boolean; failure: string } = { confirmedM: null, atMs: 0, writing: false, failure: '' };
  /** The last fence outcome logged (keepFence), so a retry failing the same way is not logged again. */
  private fenceReport = '';
  /** The last warning about the FC's breach action logged (null: none), logged again only when it changes. */
  private fenceWarning: string | null = null;
  /** What keepFence was last asked to keep, by reference. */
  private fenceAsked: { committed: readonly { n: number; e: number }[] | null; altDmMax: number; zones: readonly KeepOut[] } | null = null;
  /** The committed keep-outs and geofence (decimetres) the leg from where the drone is goes round (wayFrom). */
  private zones: readonly KeepOut[] = [];
  /** Keep-outs round what this drone's own range sensor hit in its way (sawObstacle): its routing goes
   *  round them as round the committed ones. */
  private localZones: readonly KeepOut[] = [];
  private committedFence: readonly { n: number; e: number }[] | null = null;

  /** This device's own fence (device.yaml `geofence`): each leg is flown up to it (cutAtFence). */
  private readonly fence: readonly Point[] | null;
  /** How long a task asks a refusing flight controller to arm before it fails (armFor). */
  private readonly armWaitMs: number;
  /** How long a vehicle a goto sent on may not move before it counts as stopped short (waitFor). */
  private readonly stallMs: number;
  private readonly flying: (mission: string) => void;
  /** The last action sent to the flight controller that it did not refuse (send): only a goto's wait
   *  counts a vehicle that does not move as stopped short; after a hold (a reflex's, the mission's) or a
   *  velocity it is meant to. */
  private lastAction: FlightAction['type'] | null = null;
  /** Actions sent so far (send): a refusal puts lastAction back only when no newer one was sent. */
  private sent = 0;
  /** The own-return record found at start, not judged yet: judged (takeUpOwnReturn) once the flight
   *  controller is heard, dropped once the vehicle accepts an action of the executor's before that. */
  private priorReturn: OwnReturn | null;
  /**
   * This device's own return or landing from before the restart (priorReturn), which the vehicle was
   * found flying and the executor took up again (takeUpOwnReturn): its modes are the executor's, and
   * a watch follows it down. Until the vehicle accepts another action, or someone else takes it: the
   * mission's hold and resume and the swarm's automatic routes are not carried out meanwhile (run).
   */
  private continued: OwnReturn | null = null;
  /** Whether the data directory holds a record now (keepReturn writes an empty one only then). */
  private returnKept: boolean;
  private readonly keepReturnFile: (r: OwnReturn | null) => void;
  /** What the last way home (goHome) carried out, for a way home begun again (flyOn, goHomeAnew). */
  private homeCause: ReturnCause = { command: null, what: 'return home' };

  constructor(
    private readonly devices: DeviceSet,
    private readonly origin: GeoOrigin,
    private readonly report: (r: ExecReport) => void,
    private readonly log: (msg: string, level?: 'info' | 'warn') => void,
    options: ExecutorOptions = {},
  ) {
    this.fence = options.fence ?? null;
    this.armWaitMs = options.armWaitMs ?? armWaitMsDefault;
    this.stallMs = options.stallMs ?? stallMsDefault;
    this.flying = options.flying ?? (() => undefined);
    this.priorReturn = options.ownReturn?.found ?? null;
    this.returnKept = this.priorReturn !== null;
    this.keepReturnFile = options.ownReturn?.keep ?? (() => undefined);
  }

  /** Local position in metres from the fix, or null without one. The height is the flight
   *  controller's own above home when it gives one (heightAboveHome), else the fix's over the ground's;
   *  null when the flight controller says its height is not known (FlightState.heightUnknown: its
   *  estimator's vertical position invalid), for no other altitude tells where the vehicle, flying its
   *  commanded altitudes by that estimate, stops. Every reader does the safe thing with null: no
   *  altitude-based arrival, no take-off or landing judged by it, telemetry that says it is unknown. */
  position(): { northM: number; eastM: number; upM: number | null; source?: string } | null {
    const f = this.devices.position?.fix();
    // A receiver without a fix (NMEA GGA of quality 0, GPS_RAW_INT's no fix) gives no coordinates
    // (NaN) or its last ones over and over: no position. Before, either never counted as moved, so the
    // stall check (waitFor) read a vehicle flying on by its FC's estimate as stopped short, in Hold a
    // pilot's, and handed it over.
    if (!f || !f.ok || f.value.fix === 'none' || !Number.isFinite(f.value.latDeg) || !Number.isFinite(f.value.lonDeg) || !Number.isFinite(f.value.altMslM)) return null;
    const ne = geoToLocal(this.origin, f.value.latDeg, f.value.lonDeg);
    const source = f.value.source !== undefined ? { source: f.value.source } : {};
    if (this.heightUnknown() !== null) return { northM: ne.northM, eastM: ne.eastM, upM: null, ...source };
    const fc = this.heightAboveHome();
    if (fc !== null) this.fcGroundMsl = f.value.altMslM - fc;
    const upM = fc ?? f.value.altMslM - (this.fcGroundMsl ?? this.homeAltMsl());
    this.lastKnownUpM = upM;
    return { northM: ne.northM, eastM: ne.eastM, upM, ...source };
  }

  /** The height position() last gave while it knew one (metres above home), or null before any since
   *  this process started: what the telemetry holds while the height is not known (MissionRunner
   *  telemetryFacts). */
  heldUpM(): number | null {
    return this.lastKnownUpM;
  }
  private lastKnownUpM: number | null = null;

  /** Why the flight controller says the vehicle's height is not known (FlightState.heightUnknown), or null. */
  heightUnknown(): string | null {
    const fs = this.devices.flight?.state();
    return fs?.ok && fs.value.heightUnknown !== undefined ? fs.value.heightUnknown : null;
  }

  /** The ground's altitude by this receiver that the flight controller's last height above home
   *  implies: with the FC's height gone stale, the receiver's altitude over it carries on from where the
   *  FC's height left off, rather than jump by the receiver's bias (or to another ground reference). */
  private fcGroundMsl: number | null = null;

  /**
   * The flight controller's height above home (MAVLink's relative_alt), or null without one. Take-off and
   * goto altitudes are commanded in that frame, so the waits for them read it too: a receiver's altitude
   * wanders by metres against the barometer-fused estimate the vehicle flies by, more than the 1.5 m
   * the waits allow.
   */
  private heightAboveHome(): number | null {
    const fs = this.devices.flight?.state();
    return fs?.ok && fs.value.heightAboveHomeM !== undefined ? fs.value.heightAboveHomeM : null;
  }

  /** Where the flight controller returns to, in local metres, or null before it reports a home. */
  home(): Point | null {
    const fs = this.devices.flight?.state();
    if (!fs || !fs.ok || !fs.value.home) return null;
    return geoToLocal(this.origin, fs.value.home.latDeg, fs.value.home.lonDeg);
  }

  /**
   * The ground's altitude that `position().upM` is measured from: the receiver's first altitude while
   * the vehicle is on the ground (the same receiver, so its altitude bias cancels), or, for a device
   * that starts with its vehicle in the air (restarted in flight), the flight controller's home. Taken
   * in the air from the receiver, it read the drone as on the ground: the resumed leg was flown again
   * from its start and the telemetry told the swarm the drone was at -1 m.
   */
  private homeAlt: number | null = null;
  /** Whether `position().upM` is a height above a known ground (the flight controller's own, or the
   *  fix's over homeAltMsl), not the fix's altitude itself. */
  heightKnown(): boolean {
    this.homeAltMsl();
    return this.heightUnknown() === null && (this.homeAlt !== null || this.heightAboveHome() !== null);
  }
  private homeAltMsl(): number {
    if (this.homeAlt !== null) return this.homeAlt;
    const f = this.devices.position?.fix();
    const fs = this.devices.flight?.state();
    // On the ground: the vehicle says so, or it is disarmed (a landed state not reported yet).
    const grounded = fs === undefined || (fs.ok && (fs.value.landed === 'on-ground' || (fs.value.landed === 'unknown' && !fs.value.armed)));
    if (grounded && f?.ok) this.homeAlt = f.value.altMslM;
    else if (fs?.ok && fs.value.landed !== 'unknown' && fs.value.home) this.homeAlt = fs.value.home.altMslM;
    // Not known yet (no flight state; armed with no landed state; in the air with no home): this fix,
    // not kept (heightKnown() is false meanwhile).
    return this.homeAlt ?? (f?.ok ? f.value.altMslM : 0);
  }

  batteryPermille(): number {
    const b = this.devices.battery?.state();
    if (!b || !b.ok || !Number.isFinite(b.value.remainingFraction)) return -1;
    return Math.round(b.value.remainingFraction * 1000);
  }

  /** Why the vehicle is out of this device's hands (a pilot's switch or sticks, the FC's own failsafe)
   *  until an operator's command for it (Executor.run: nothing automatic ends it), or null while the
   *  device flies it: the device's status says so. */
  handedOverBecause(): string | null {
    return this.handedOver ? this.handedOverWhy : null;
  }

  /** The mission whose part the vehicle was handed over from (handedOver), while no task since gave
   *  it back; null when the device flies it, or when it was handed over with no mission (no task). Its
   *  telemetry says so, so the swarm may hand the part on (runtime/mission/reassign.ts). */
  handedOverFrom(): string | null {
    return this.handedOver ? this.handedOverMission : null;
  }

  /** Whether the vehicle was handed over from its part of `mission` (handedOver) and no task since gave
   *  it back: a state sync or re-plan of that mission does not (MissionRunner.resumeOwnTask, run). */
  handedOverFor(mission: string): boolean {
    return this.handedOver && this.handedOverMission === mission;
  }

  /** Whether this executor holds a route of that mission (flying, held or flown); false after a restart. */
  hasTask(mission: string): boolean {
    return this.current !== null && this.current.task.mission === mission;
  }

  /** The route of the task it holds (flying, held or flown) and the index of the waypoint it is
   *  heading to (the length once flown), or null without one. */
  route(): { readonly mission: string; readonly waypoints: readonly { n: number; e: number }[]; readonly next: number } | null {
    const cur = this.current;
    return cur ? { mission: cur.task.mission, waypoints: cur.task.waypoints, next: cur.next } : null;
  }

  /** Runs a task for this device; a new task supersedes the one in progress. `restart`: a waypoints task
   *  is a restart's resume of the part of an active mission the drone flew for before (RestartResume).
   *  `origin`: who decided it (TaskOrigin; a re-plan is always the machine's): an automatic one is not
   *  carried out while a pilot or the flight controller's own failsafe has the vehicle (notTakenBack). */
  run(command: string, task: Task, restart: RestartResume | null = null, origin: TaskOrigin = task.type === 'waypoints' && task.replan === true ? 'automatic' : 'operator'): void {
    this.homeAltMsl();
    const prev = this.current;
    if (origin === 'automatic' && this.notTakenBack(command, task)) return;
    // This device's own return or landing from before the restart goes on (continued): a route the swarm
    // decided on its own (a state sync's resume, a re-plan, a lost drone's part) would take the vehicle
    // out of it, as it would out of a failsafe return of this device's before the restart (failsafe).
    const goesOn = origin === 'automatic' && task.type === 'waypoints' ? this.continuedWhy() : null;
    if (goesOn !== null && task.type === 'waypoints') {
      const reason = `not carried out: ${goesOn}; the swarm's automatic route of mission ${task.mission} does not end it (an operator's command does)`;
      this.log(`task ${command}: ${reason}`);
      this.report({ command, stage: 'started', progress: 0, reason: '' });
      this.report({ command, stage: 'failed', progress: 0, reason });
      return;
    }
    // An operator's command takes the vehicle back (only a re-plan, hold or resume does not: below): said
    // in its started ack and the log, so whoever had it and the operator both know.
    const takenBack = origin === 'operator' && task.type !== 'hold' && task.type !== 'resume' && (task.type !== 'waypoints' || task.replan !== true) && this.othersHaveIt() ? this.handedOverWhy : null;
    if (takenBack !== null) this.log(`task ${command} (${task.type}), an operator's command, takes the vehicle back (it was out of this device's hands: ${takenBack})`);
    // A re-plan of the mission it flies carries on from where the drone is. One while the vehicle is
    // handed over ended above (notTakenBack), with no route of it held too (restarted under its hold:
    // adoptHold), where it once read as a first task and took off a drone a pilot had landed.
    const sameMission = task.type === 'waypoints' && prev !== null && prev.task.mission === task.mission;
    const replan = task.type === 'waypoints' && task.replan === true && sameMission;
    // The mission's hold and resume concern the drones flying it. Not carried out on one that a pilot or
    // the FC's own failsafe has (the hold would switch the FC out of the pilot's mode or its failsafe
    // landing), nor on one going home or landing on its own failsafe, which only an rtl, land or abort
    // (or a new task) replaces.
    // Asked of the FC too, not only whether something saw it taken (handedOver): restarted with the FC
    // heard only after the resume gave up on it, on the FC's own return, nothing flies to notice, and
    // the hold switched the FC out of that return.
    const others = (task.type === 'hold' || task.type === 'resume') && this.othersHaveIt();
    const notHere = others ? `the vehicle is not in this device's hands (a pilot or the flight controller's failsafe took it)` : this.failsafe ? 'a failsafe return or landing is in force on this drone' : (task.type === 'hold' || task.type === 'resume') ? this.continuedWhy() : null;
    if (notHere !== null && (task.type === 'hold' || task.type === 'resume')) {
      this.report({ command, stage: 'started', progress: 0, reason: '' });
      this.report({ command, stage: 'failed', progress: 0, reason: `not carried out: ${notHere}` });
      return;
    }
    if (!(replan && this.failsafe)) {
      this.failsafe = false;
      if (task.type !== 'hold' && task.type !== 'resume') this.homeward = false;
    }
    // An operator's task for this drone gives it back to the executor (takenBack); the mission's hold
    // and resume do not (they concern the drones flying it), nor does anything automatic (notTakenBack).
    if (!replan && task.type !== 'hold' && task.type !== 'resume') {
      this.handedOver = false;
      this.adoptedFor = null;
    }
    switch (task.type) {
      case 'waypoints': {
        // A route re-planned around a committed hazard carries on from where the drone is.
        const { next, cut } = replan && sameMission && prev ? replannedFrom(prev, task.waypoints) : { next: 0, cut: null };
        // The route's end was dropped inside a committed keep-out, and the drone had some of it ahead
        // (or held for that before): its part is not done, nothing is left for it to fly (fly holds).
        const hadAhead = !replan || (prev !== null && (prev.next < prev.task.waypoints.length || prev.leftNone !== undefined));
        const leftNone = task.droppedEnd !== undefined && next >= task.waypoints.length && hadAhead ? { leftNone: `${task.droppedEnd}: none of its route is left ahead of it; holding where it is` } : {};
        if (replan && this.failsafe) {
          // Going home on a failsafe (battery, link loss): the new route is kept for a resume, and the
          // return goes on (its loop is not superseded).
          this.current = { command, task, next, descended: next > 0, heldBlocked: false, resumed: '', cut, ...leftNone };
          this.log(`task ${command}: re-planned route kept; the failsafe return goes on`, 'info');
          return;
        }
        // Held before a blocked leg, and the re-plan (a hazard cleared, a new fence) gives it a way: say so.
        const resumed = replan && prev?.heldBlocked === true && next < task.waypoints.length && !task.blocked?.some((b) => b.to === next) ? `resumed: the re-planned route has a way for the leg it held before (waypoint ${next + 1} of ${task.waypoints.length})` : '';
        this.generation++;
        this.current = { command, task, next, descended: next > 0, heldBlocked: false, resumed, cut, ...(restart && !replan ? { flewBefore: restart } : {}), ...(origin === 'automatic' ? { automatic: true as const } : {}), ...leftNone };
        // A re-plan changes the route, not what the drone is doing: under a committed hold it keeps
        // holding and flies the new route on resume.
        if (replan && this.paused) {
          void this.watchHeld(this.generation);
          return;
        }
        this.paused = false;
        void this.fly(this.generation);
        return;
      }
      case 'hold':
        this.paused = true;
        void this.simple(command, { type: 'hold' });
        return;
      case 'resume':
        this.paused = false;
        this.flyOn();
        void this.simple(command, null);
        return;
      // A drone still disarmed on the ground (its take-off not begun) is already where these end. They
      // take the drone out of a held mission, whose resume never reaches it: the hold's pause ends here,
      // or goHome's waits (which a paused executor does not count) kept it at the first point round a
      // keep-out for ever.
      case 'rtl':
      case 'abort': {
        this.generation++;
        this.current = null;
        this.paused = false;
        const live = this.liveFor(this.generation);
        void this.simple(command, this.grounded() ? null : () => this.goHome(live, { command, what: `${task.type} for command ${command}` }), takenBack, live);
        return;
      }
      case 'land':
        this.generation++;
        this.current = null;
        this.paused = false;
        this.watchAnew();
        const live = this.liveFor(this.generation);
        void this.simple(command, this.grounded() ? null : () => this.descend({ type: 'land' }, live, { command, what: `land for command ${command}` }), takenBack, live);
        return;
    }
  }

  /** A committed rtl or land of this drone whose task never reached this executor (a state sync
   *  installed a state past it): carry it out, with no ack (the command's were due at its commit).
   *  A drone on the ground stays there. Not while a pilot or the flight controller's own failsafe has
   *  the vehicle: the committed state does not say whether an operator or the machine (a lost drone
   *  sent home) decided it, and only an operator takes a vehicle back (notTakenBack). */
  carryOut(action: 'rtl' | 'land'): void {
    if (this.othersHaveIt()) {
      this.log(`committed ${action} not carried out: ${this.handedOverWhy}; a state sync's catch-up does not take the vehicle back`);
      return;
    }
    // Restarted mid-way through this device's own return or landing (othersHaveIt took it up: continued),
    // one of the same kind as the committed action (an rtl's or an abort's return, a landing) goes on as
    // it is, nothing sent again: it is what the committed state says this drone does. Before, the
    // return read as someone else's, and the drone was handed over. A return found under a committed
    // land (or a landing under an rtl) ends elsewhere: the committed action is carried out, as before.
    const c = this.continued;
    if (c !== null && (c.action === 'return-to-launch') === (action === 'rtl')) {
      this.log(`committed ${action} goes on: the vehicle flies this device's own ${c.what} from before the restart (mode ${this.modeNow()}); not sent again`, 'info');
      return;
    }
    this.generation++;
    this.current = null;
    this.homeward = false;
    this.failsafe = false;
    this.handedOver = false;
    this.adoptedFor = null;
    this.paused = false;
    this.watchAnew();
    if (this.grounded()) return;
    const live = this.liveFor(this.generation);
    const cause = { command: null, what: `committed ${action} of this drone, carried out as the device caught up` };
    void (action === 'rtl' ? this.goHome(live, cause) : this.descend({ type: 'land' }, live, cause)).then((r) => r && this.log(`committed ${action} not carried out: ${r}`));
  }

  /**
   * Whether a pilot or the flight controller's own failsafe has the vehicle: handed over before, or seen
   * taken now (takenOver, which hands it over: a pilot may take the drone where its finished task left
   * it, with no flying of the executor's to notice).
   */
  private othersHaveIt(): boolean {
    return this.handedOver || this.takenOver() !== null;
  }

  /**
   * An automatic task (TaskOrigin: the machine's own, from committed inputs: a lost drone's return, a
   * re-plan, a lost drone's part grown onto this one's route; a state sync's resume) while a pilot or
   * the flight controller's own failsafe has the vehicle (othersHaveIt): not carried out, since it
   * would switch the FC out of the pilot's mode or its failsafe (a lost-drone rtl, from the battery
   * reserve or silence under reassignHandedOver 0, took the vehicle from a pilot into RTL, and the
   * EKF failsafe's LAND into a return). The vehicle stays handed over; a re-plan of the route it held
   * replaces that route, flown from where it was (as before: the route held follows the committed
   * one), but nothing is flown; the log and the task's failed ack say why. True when it was not
   * carried out.
   */
  private notTakenBack(command: string, task: Task): boolean {
    if (!this.othersHaveIt()) return false;
    if (task.type === 'waypoints' && task.replan === true && this.current !== null && this.current.task.mission === task.mission) {
      const { next, cut } = replannedFrom(this.current, task.waypoints);
      this.current = { command, task, next, descended: next > 0, heldBlocked: false, resumed: '', cut };
    }
    const what = task.type === 'waypoints' ? (task.replan === true ? `re-planned route of mission ${task.mission}${this.current?.task === task ? ' (kept)' : ''}` : `route of mission ${task.mission}`) : task.type;
    const reason = `not carried out: ${this.handedOverWhy}; the swarm's automatic ${what} does not take the vehicle back (an operator's command does)`;
    this.log(`task ${command}: ${reason}`);
    this.report({ command, stage: 'started', progress: 0, reason: '' });
    this.report({ command, stage: 'failed', progress: 0, reason });
    return true;
  }

  /** A local failsafe's return to launch (the mission-reflexes agent: battery reserve, link loss), which
   *  no task carries: home as a committed rtl goes (goHome). The task's loop stops sending the drone on;
   *  the task stays (a committed resume flies it on, as before the return). */
  returnHome(why: string): void {
    if (this.othersHands(`return to launch (${why})`)) return;
    this.failsafe = true;
    // Restarted on this device's own return (continued: a reflex latched it before, and re-asserts it
    // now): the flight controller flies that already, and nothing is sent.
    if (this.continued?.action === 'return-to-launch') return this.log(`return to launch (${why}): the vehicle is on this device's own ${this.continued.what} from before the restart; not sent again`, 'info');
    // A local failsafe is not held by a committed hold (the flight controller's own return was not,
    // before the executor flew the way round): goHome's waits count.
    this.paused = false;
    this.goHomeAnew(`return to launch (${why})`, { command: null, what: `failsafe return to launch (${why})` });
  }

  /** A local failsafe's landing where the drone is (the mission-reflexes agent: battery critical, a
   *  severe anomaly): the task's loop stops, and a re-plan of its mission does not take off again. */
  landHere(why: string): void {
    if (this.othersHands(`landing (${why})`)) return;
    this.failsafe = true;
    if (this.continued?.action === 'land') return this.log(`landing (${why}): the vehicle is on this device's own ${this.continued.what} from before the restart; not sent again`, 'info');
    this.homeward = false;
    this.generation++;
    this.watchAnew();
    void this.descend({ type: 'land' }, this.liveFor(this.generation), { command: null, what: `failsafe landing (${why})` }).then((r) => r && this.log(`landing (${why}) was refused: ${r}`));
  }

  /** A reflex's action that goes straight to the flight controller (a hold, a velocity), unless a pilot
   *  or the FC's own failsafe has the vehicle (othersHands). */
  reflexAction(action: FlightAction): void {
    if (this.othersHands(action.type)) return;
    const fc = this.devices.flight;
    if (fc) void this.send(fc, action);
  }

  /**
   * Whether a pilot or the flight controller's own failsafe has the vehicle (handedOver): then the
   * reflexes' actions are not sent either, since each would switch the FC out of the pilot's mode or
   * its failsafe return or landing (a link-loss hold, say, in the middle of the FC's return). Said in
   * the log once per takeover.
   */
  private othersHands(what: string): boolean {
    // Asked here too, not only while a task flies: a pilot may take the drone where its finished task
    // left it hovering, and a reflex's back-off or hold would take it back from the pilot.
    if (!this.handedOver && this.takenOver() === null) return false;
    if (!this.reflexRefusalLogged) this.log(`reflex ${what} not sent: a pilot or the flight controller's own failsafe has the vehicle`);
    this.reflexRefusalLogged = true;
    return true;
  }

  /** goHome from where the drone is now, superseding what the executor was doing; a refusal is logged
   *  as `what` was refused. */
  private goHomeAnew(what: string, cause: ReturnCause): void {
    this.generation++;
    void this.goHome(this.liveFor(this.generation), cause).then((r) => r && this.log(`${what} was refused: ${r}`));
  }

  /** Whether work started at generation `gen` is still wanted: no newer task, not stopped. */
  private liveFor(gen: number): () => boolean {
    return () => gen === this.generation && !this.stopped;
  }

  /** Flies to each of `points` in turn at `altM`, waiting to arrive at each: null, or why it stopped
   *  (the vehicle refused a goto, a point was not reached in time, or a newer task took over). */
  private async flyVia(points: readonly { n: number; e: number }[], altM: number, speedMps: number | undefined, live: () => boolean, what: string): Promise<string | null> {
    for (const p of points) {
      const taken = this.takenOver();
      if (taken !== null) return taken;
      const g = await this.goto(this.target(p, altM), speedMps, live);
      if (g) return g;
      const there = await this.waitFor(live, () => Promise.resolve(this.near(p.n / 10, p.e / 10)), what, p);
      if (there) return there;
    }
    return null;
  }

  /**
   * Home: the flight controller's own return (up or down to this drone's return altitude, straight
   * across, down onto home), once the straight line from the drone to its home is clear of the committed
   * keep-outs and its own (avoidZones). When it is not, the executor first flies the way round them (wayFrom, inside the
   * committed fence when the drone is) at the return altitude, or higher when the drone is, and hands
   * the last, clear leg to the flight controller. A keep-out is a committed obstacle of any height: the
   * return altitude does not clear it. With no way round, or a way round the vehicle refuses or does not
   * fly in time, the return goes straight (said in the log).
   * Null, or why the vehicle refused; a newer task (`live` false) ends it quietly.
   */
  private async goHome(live: () => boolean, cause: ReturnCause): Promise<string | null> {
    this.homeward = true;
    this.homeCause = cause;
    this.watchAnew();
    const here = this.position();
    const home = this.home();
    const zones = this.avoidZones();
    const way = here && home ? this.wayHome(here, home, zones) : null;
    if (here && way !== null && way.points.length > 0) {
      // Its height not known (FlightState.heightUnknown): the return altitude, which is no lower than
      // any layer the swarm flies (deconflict.ts), rather than a number the FC does not vouch for.
      const altM = Math.max(here.upM ?? 0, this.returnAlt.confirmedM ?? 0);
      this.log(`return to launch ${way.what}: ${way.points.length} points before the straight leg home`, 'info');
      // A goto refused (an ArduPilot refuses a guided target outside its fence, or while its own
      // failsafe holds the mode), or a point not reached in time: the flight controller's own return
      // all the same, straight, as with no way round. Before, the drone got no return at all.
      const round = await this.flyVia(way.points, altM, undefined, live, `the way home ${way.what}`);
      if (!live()) return null;
      if (this.handedOver) return round; // a pilot or the FC's failsafe took it on the way: no return of ours
      if (round) this.log(`the way ${way.what} was refused or stalled (${round}): the return flies straight`);
    }
    if (!live()) return null;
    return this.descend({ type: 'return-to-launch' }, live, cause);
  }

  /** The way home to fly before the flight controller's straight return (fence-cut.ts wayHome), in
   *  decimetres, with what it goes round for the log; null: straight home. */
  private wayHome(here: Point, home: Point, zones: readonly KeepOut[]): { points: { n: number; e: number }[]; what: string } | null {
    const fence = this.committedFence;
    const w = wayHome(here, home, zones, fence);
    if (w.keepOutsBlocked && w.via === null) this.log(`no way home round the keep-outs in its way${fence ? ' inside the geofence' : ''}: the return flies straight`);
    if (w.via === null) return null;
    const what = w.via === 'keep-outs' ? 'round the keep-outs in its way' : w.keepOutsBlocked ? "round the geofence's notch (no way round the keep-outs inside it)" : "round the geofence's notch";
    return { points: w.points.map((p) => ({ n: Math.round(p.northM * 10), e: Math.round(p.eastM * 10) })), what };
  }

  /**
   * The executor's own return or landing: its mode is the executor's (takenOver), and a watch follows
   * it to the ground (watchDescent). Before, nothing watched then and the FC's return mode counted as
   * not the executor's, so a safety pilot who took the drone on its way home in a manual mode had it
   * taken back: a reflex's hold or back-off was sent, and the reflex's release sent it home again.
   */
  private async descend(action: { type: 'return-to-launch' } | { type: 'land' }, live: () => boolean, cause: ReturnCause): Promise<string | null> {
    const r = await this.act(action, cause);
    if (r !== null) return r;
    if (live()) void this.watchDescent(live);
    return null;
  }

  /** Polls takenOver through the executor's own return or landing, until the vehicle is down and
   *  disarmed, another flying begins, or the wait bound passes; and its motion (MotionWatch): a reflex's
   *  hold on the way (ArduCopter's LOITER) that a pilot flies off with the sticks is the pilot's. Before,
   *  only the mode was watched, and the reflex's release sent the drone home again from the pilot. */
  private async watchDescent(live: () => boolean): Promise<void> {
    const watch = this.motionWatch();
    for (const t0 = Date.now(); live() && !this.handedOver && Date.now() - t0 < waitMsMax; await new Promise((r) => setTimeout(r, pollMs))) {
      // Down: that return or landing is over, and its record with it, disarmed or not (an FC that does
      // not disarm on landing: ArduCopter's DISARM_DELAY 0, PX4's COM_DISARM_LAND -1). Before, only a
      // disarm emptied it, and a pilot flying the still-armed drone on (no re-arm: the same home) into
      // a return or landing read, at a restart, as this device's own.
      const fs = this.devices.flight?.state();
      if (fs?.ok && fs.value.landed === 'on-ground') this.keepReturn(null);
      if (this.grounded()) {
        // Down and disarmed: the return or landing is over, and its record with it.
        this.continued = null;
        this.keepReturn(null);
        return;
      }
      if (this.takenOver() !== null) return;
      if (this.motion(watch, 'the way home', false) !== null) return;
    }
  }

  /**
   * The own-return record the device found at start (priorReturn), judged once, when the flight
   * controller is first heard (takenOver asks, before OwnModes reads a return of a fresh executor as
   * someone else's). When the vehicle flies it still (ownReturnMismatch: armed, in the air, in a mode
   * that action leaves it in, a record of this flight), the device's own return or landing goes on:
   * its modes are the executor's (OwnModes.adopt, as adoptHold takes up a hold), and watchDescent
   * follows it down, so a pilot taking it on the way is seen and the record goes once it has landed.
   * Nothing is sent: the FC flies it already. Otherwise the record is emptied, and the log says why it
   * was not taken up; the vehicle's mode is then judged as with no record (a return is someone else's).
   */
  private takeUpOwnReturn(fs: FlightState): void {
    const r = this.priorReturn;
    this.priorReturn = null;
    if (r === null) return;
    const modes = this.devices.flight?.modesAfter(r.action) ?? null;
    const mismatch = ownReturnMismatch(r, fs, modes, Date.now());
    if (mismatch !== null) {
      this.log(`this device's own ${r.what} from before the restart (its data directory's record) is not what the vehicle flies now: ${mismatch}; record emptied`, 'info');
      this.keepReturn(null);
      return;
    }
    this.ownModes.adopt(modes ?? [], fs.mode);
    this.continued = r;
    this.homeward = r.action === 'return-to-launch';
    if (this.homeward) this.homeCause = { command: r.command, what: r.what };
    this.log(`the vehicle flies this device's own ${r.what} from before the restart (mode ${fs.mode}): it goes on, watched; nothing is sent`, 'info');
    // Until it lands, another flying begins, or the vehicle accepts another action (continued cleared).
    const live = this.liveFor(this.generation);
    void this.watchDescent(() => live() && this.continued === r);
  }

  /** The failure of mission `command`'s part while this device's own return goes on (continued), once:
   *  a state sync calls the runner's resume anew (as adoptHold's `handedOver` answer says once). */
  private reportContinued(command: string, progress: number, reason: string): void {
    if (this.continuedReported === command) return;
    this.continuedReported = command;
    this.log(reason, 'info');
    this.report({ command, stage: 'failed', progress, reason });
  }
  private continuedReported: string | null = null;

  /** Why nothing of the swarm's but an operator's command ends what the vehicle flies: this device's own
   *  return or landing from before the restart goes on (continued), or null. */
  private continuedWhy(): string | null {
    return this.continued === null ? null : `this device's own ${this.continued.what} from before the restart goes on (the flight controller is in mode ${this.modeNow()})`;
  }

  /** Keeps the flight controller's return-to-launch altitude at `relAltM` (the committed layer of this
   *  drone): writes it when it differs from the confirmed value, and again every returnAltRewriteMs (a
   *  flight controller that rebooted may have lost it), one write at a time. A failed write is tried
   *  again on the next call (the next committed block); it is logged once per reason, but not while the
   *  flight controller has not been heard yet (no-data). */
  keepReturnAltitude(relAltM: number): void {
    const fc = this.devices.flight;
    const ra = this.returnAlt;
    if (!fc || this.stopped || ra.writing || (ra.confirmedM === relAltM && Date.now() - ra.atMs < returnAltRewriteMs)) return;
    ra.writing = true;
    void fc.setReturnAltitude(relAltM).then((r) => {
      ra.writing = false;
      if (r.ok) {
        if (ra.confirmedM !== relAltM) this.log(`return altitude set to ${relAltM} m`, 'info');
        ra.confirmedM = relAltM;
        ra.atMs = Date.now();
        ra.failure = '';
      } else if (r.error.code !== 'no-data' && failureKind(r.error) !== ra.failure) {
        // Not before the flight controller is first heard: every start said "check the wiring" a moment
        // before the first HEARTBEAT (an FC silent for good is said by the device's HAL watch and /health).
        // Once per kind, numbers aside: a silent FC's "newest HEARTBEAT is N ms old" was a new reason
        // at every block (about 10 lines a second, for as long as it stayed silent).
        ra.failure = failureKind(r.error);
        this.log(`return altitude ${relAltM} m not set (tried again at the next block): ${r.error.message}`);
      }
    });
  }

  /**
   * Keeps the fence on the flight controller as its own failsafe (a driver whose FC holds one: MAVLink):
   * the committed geofence (`geofence.set`, decimetres from the origin, with its ceiling) or, with none
   * committed, this device's own (device.yaml `geofence`, no ceiling); with neither, nothing. With the
   * polygon go the committed hazards' keep-out circles (`zones`: hazards.ts keepOuts, the very circles
   * every route goes round, margin included), as circle exclusions; the driver leaves out one the drone
   * is inside until it is out, and those past the FC's item budget. The driver uploads in the
   * background and again after the FC comes back; the same fence again is a no-op. Each outcome is
   * logged when it differs from the last, with the reason of a failure or of keep-outs left out and the
   * FC's breach action; a warning that the breach action does nothing is logged once per change of it.
   */
  keepFence(committed: readonly { n: number; e: number }[] | null, altDmMax: number, zones: readonly KeepOut[] = []): void {
    this.zones = zones;
    this.committedFence = committed;
    const fc = this.devices.flight;
    if (!fc?.keepFence || this.stopped) return;
    // The same committed fence and keep-outs as on the last block (the state keeps them by reference):
    // nothing to convert and compare again (the driver would find the same key).
    const last = this.fenceAsked;
    if (last && last.committed === committed && last.altDmMax === altDmMax && last.zones === zones) return;
    this.fenceAsked = { committed, altDmMax, zones };
    const local = committed ? committed.map((p) => ({ northM: p.n / 10, eastM: p.e / 10 })) : this.fence;
    // No fence at all: a fence set on the FC by other means (a ground station) is left alone.
    if (!local) return;
    const keepOuts = zones.map((z) => ({ ...localToGeo(this.origin, z.n / 10, z.e / 10), radiusM: z.r / 10 }));
    const fence = { polygon: local.map((p) => localToGeo(this.origin, p.northM, p.eastM)), altMaxM: committed ? altDmMax / 10 : null, ...(keepOuts.length > 0 ? { keepOuts } : {}) };
    fc.keepFence(fence, (s) => {
      const circles = s.keepOuts > 0 ? `, ${s.keepOuts} keep-out${s.keepOuts === 1 ? '' : 's'}` : '';
      const what = `${s.vertices} vertices${circles}${s.altMaxM !== null ? `, ceiling ${s.altMaxM} m` : ''}`;
      const action = `${s.breachAction !== null ? `, breach action ${s.breachAction}` : ''}${s.reason !== null ? `; ${s.reason}` : ''}${s.leftOutReason !== null ? `; ${s.leftOutReason}` : ''}`;
      const line = s.state === 'on-fc' ? (s.vertices === 0 ? 'fence cleared on the flight controller' : `fence on the flight controller: ${what}${action}`) : `fence (${what}) not on the flight controller yet, retrying: ${s.reason ?? 'unknown reason'}`;
      // A breach action not known (a failed attempt, a failed read) leaves the last warning standing.
      if (s.breachAction !== null && s.warning !== this.fenceWarning) {
        this.fenceWarning = s.warning;
        if (s.warning !== null) this.log(s.warning, 'warn');
      }
      // A retry's reason once per kind, numbers aside (a silent FC's "newest HEARTBEAT is N ms old").
      const key = s.state === 'on-fc' ? line : line.replace(/\d+(\.\d+)?/g, '#');
      if (key === this.fenceReport) return;
      this.fenceReport = key;
      this.log(line, s.state === 'on-fc' && s.reason === null ? 'info' : 'warn');
    });
  }

  /** The obstacle back-off found an obstacle in the drone's way (its range beam's hit point, local
   *  metres, and the beam's direction): from now on the leg from where the drone is and its way home go
   *  round it (hazards.ts withLocalKeepOut), committed or not. */
  sawObstacle(northM: number, eastM: number, beamRad: number): void {
    const next = withLocalKeepOut(this.localZones, this.zones, northM, eastM, beamRad);
    if (!next) return;
    this.localZones = next;
    this.log(`obstacle at [${northM.toFixed(1)}, ${eastM.toFixed(1)}] m: this drone's routing keeps clear of it (${this.localZones.length} local keep-out${this.localZones.length === 1 ? '' : 's'})`, 'info');
  }

  /** What the drone's own legs go round: the committed keep-outs and its own. */
  private avoidZones(): readonly KeepOut[] {
    return this.localZones.length === 0 ? this.zones : [...this.zones, ...this.localZones];
  }

  /** A local reflex held the vehicle (no quorum contact) and its cause is gone: fly on from the waypoint
   *  it was heading to. A committed hold (paused) or no task leaves it where it is. */
  resumeAfterReflex(): void {
    // Nor a failsafe's return or landing: the scheduler suppresses releases while one is latched, and
    // after the latch (the vehicle disarmed) a release must not take it up to fly the mission on.
    if (!this.paused && !this.failsafe) this.flyOn();
  }

  /** The vehicle was told to hold: fly on with the current task from the waypoint it was heading to. */
  private flyOn(): void {
    const cur = this.current;
    if (this.stopped || this.handedOver) return;
    if (!cur) {
      // On its way home (a committed rtl or abort), stopped by the obstacle reflex: home again from here.
      if (this.homeward && !this.grounded()) this.goHomeAnew('the return home', this.homeCause);
      return;
    }
    if (cur.next >= cur.task.waypoints.length) {
      // Its part is flown (and reported done): a hold of the mission, or a reflex, may have stopped it
      // on its way home, but it is not sent round its route again (a landed drone would take off).
      if (cur.task.then === 'return' && !this.grounded()) this.goHomeAnew(`task ${cur.command}: done, but the return home`, { command: cur.command, what: `return home after its task ${cur.command} was done` });
      return;
    }
    this.generation++;
    void this.fly(this.generation);
  }

  /** For waitFor: the vehicle is no longer in `state` (a take-off or landing under way). */
  private noLonger(state: 'taking-off' | 'landing') {
    return (): Promise<boolean> => {
      const st = this.devices.flight?.state();
      return Promise.resolve(!(st?.ok === true && st.value.landed === state));
    };
  }

  /** After a goto refused as the vehicle landed: waits out the rest of a landing under way (its last
   *  metres), then whether the vehicle is on the ground (the refusal was the touchdown's). */
  private async touchedDown(live: () => boolean): Promise<boolean> {
    const onGround = (): boolean => {
      const st = this.devices.flight?.state();
      return st?.ok === true && st.value.landed === 'on-ground';
    };
    if (!onGround() && (await this.waitFor(live, this.noLonger('landing'), 'the landing under way')) !== null) return false;
    return live() && onGround();
  }

  /** Disarmed on the ground, per the flight controller: nothing to return from or land. */
  private grounded(): boolean {
    const fs = this.devices.flight?.state();
    return fs !== undefined && fs.ok && !fs.value.armed && fs.value.landed === 'on-ground';
  }

  stop(): void {
    this.stopped = true;
    this.generation++;
  }

  /** A task of one action (or a way home: goHome), reported started, then done or failed. */
  /** A task of one action (or none): started, then done or failed with the vehicle's refusal. `takenBack`:
   *  whose the vehicle was (an operator's rtl, land or abort took it back: run), for the started ack.
   *  Taking it back is asked of the FC: refused (ArduCopter's "requires position" in its EKF failsafe's
   *  LAND, PX4's "is currently not available"), the vehicle is still in those hands, and is handed over
   *  again for the same reason while no newer command (`live`) came: before, status and telemetry
   *  stopped saying so although the FC's failsafe still had it. */
  private async simple(command: string, action: FlightAction | (() => Promise<string | null>) | null, takenBack: string | null = null, live: () => boolean = () => true): Promise<void> {
    this.report({ command, stage: 'started', progress: 0, reason: takenBack !== null ? `taken back by an operator's command (the vehicle was out of this device's hands: ${takenBack})` : '' });
    if (action) {
      const r = await (typeof action === 'function' ? action() : this.act(action));
      if (r && takenBack !== null && live()) {
        // As it was: the same reason, the same mission (run kept handedOverMission).
        this.handedOver = true;
        this.handedOverWhy = takenBack;
        this.log(`task ${command} refused by the vehicle: it stays out of this device's hands (${takenBack})`);
        return this.report({ command, stage: 'failed', progress: 0, reason: `${r}; the vehicle stays out of this device's hands (${takenBack})` });
      }
      if (r) return this.report({ command, stage: 'failed', progress: 0, reason: r });
    }
    this.report({ command, stage: 'done', progress: 1000, reason: '' });
  }

  /**
   * A goto of the flying `live` speaks for: null, or why the vehicle refused it. One superseded before
   * its ACK by a hold (a reflex's on link loss, the mission's: MavlinkVehicle.execute stops its resends,
   * which flew the drone on out of the hold) while that flying is still live is not a refusal: the
   * vehicle holds, and the wait that follows lasts until the hold ends (a reflex's release and the
   * mission's resume fly on anew), as after a goto the hold came after.
   */
  private async goto(target: GeoPoint, speedMps: number | undefined, live: () => boolean): Promise<string | null> {
    const fc = this.devices.flight;
    if (!fc) return 'this device has no flight controller (hal.driver: none)';
    const r = await this.send(fc, { type: 'goto', target, ...(speedMps !== undefined ? { speedMps } : {}) });
    return r.ok || (r.error.code === 'superseded' && live()) ? null : `goto: ${r.error.message}`;
  }

  private async act(action: FlightAction, cause?: ReturnCause): Promise<string | null> {
    const fc = this.devices.flight;
    if (!fc) return 'this device has no flight controller (hal.driver: none)';
    const r = await this.send(fc, action, cause);
    return r.ok ? null : `${action.type}: ${r.error.message}`;
  }

  /** Every action the executor and its reflexes send: ownModes hears the modes it leaves the vehicle in
   *  and whether the vehicle accepted it. A return or landing it accepted (`cause`: what it carries
   *  out) is kept in the data directory, and any other action it accepted empties that record
   *  (keepReturn), unless a newer action was sent meanwhile (its outcome decides). */
  private async send(fc: FlightControl, action: FlightAction, cause?: ReturnCause): Promise<Result<void, DeviceError>> {
    const token = this.ownModes.sending(fc.modesAfter(action.type));
    const before = this.lastAction;
    const n = ++this.sent;
    this.lastAction = action.type;
    const r = await fc.execute(action);
    // Refused, it changed nothing the vehicle does (a reflex's hold refused leaves the goto flying).
    if (!r.ok && n === this.sent) this.lastAction = before;
    const st = fc.state();
    this.ownModes.outcome(token, r.ok, st.ok ? st.value.timeMs : null);
    if (r.ok && n === this.sent) {
      // Accepted before the record found at start was judged: the executor flies now, whatever it said.
      // (One refused, as before the FC's first HEARTBEAT, leaves it to be judged once the FC is heard.)
      this.priorReturn = null;
      this.continued = null;
      const returns = action.type === 'return-to-launch' || action.type === 'land';
      if (returns && cause) {
        const home = st.ok && st.value.home ? { latDeg: st.value.home.latDeg, lonDeg: st.value.home.lonDeg } : null;
        this.keepReturn({ action: action.type, command: cause.command, what: cause.what, atMs: Date.now(), home });
      } else if (!returns) this.keepReturn(null);
    }
    return r;
  }

  /** Writes the own-return record, or empties it (null) when it holds one. */
  private keepReturn(r: OwnReturn | null): void {
    if (r === null && !this.returnKept) return;
    this.returnKept = r !== null;
    this.keepReturnFile(r);
  }

  private async fly(gen: number): Promise<void> {
    const cur = this.current;
    if (!cur) return;
    const { command, task } = cur;
    const live = this.liveFor(gen);
    const fail = (reason: string): void => {
      this.log(`task ${command} failed: ${reason}`);
      this.report({ command, stage: 'failed', progress: permilleOf(cur.next, task.waypoints.length), reason });
    };
    // A route carried on from its middle (re-plan, resume, state sync) starts with the progress made.
    this.report({ command, stage: 'started', progress: permilleOf(cur.next, task.waypoints.length), reason: cur.resumed });
    const altM = task.altDm / 10;
    // The leg to the first waypoint is flown at the transit altitude the planner gave this drone, so its
    // way there keeps clear of the others'; it comes down to the mission altitude at that waypoint.
    const transitM = cur.descended || task.transitAltDm === undefined ? altM : task.transitAltDm / 10;
    const flight = this.devices.flight;
    let fs = flight?.state();
    // A device that has just started (a restart resumes its part of the mission at once) has not heard
    // its flight controller yet, or not whether the vehicle is on the ground (MAVLink: the first HEARTBEAT
    // comes before EXTENDED_SYS_STATE): it waits a while rather than fail the task, or take off with a
    // drone that is in the air. An FC lost or a driver stopped fails the task at once, as before.
    const unheard = (r: typeof fs): boolean => r !== undefined && (r.ok ? r.value.landed === 'unknown' : r.error.code === 'no-data');
    for (const t0 = Date.now(); flight && unheard(fs) && Date.now() - t0 < flightControllerWaitMs; fs = flight.state()) {
      await new Promise((r) => setTimeout(r, pollMs));
      if (!live()) return;
    }
    if (!fs || !fs.ok) return fail(`flight controller: ${fs && !fs.ok ? fs.error.message : 'none fitted'}`);
    // An automatic task (a restart's resume) run before the FC was heard: run's notTakenBack could not
    // tell whose the vehicle is, so it is asked here, before watchAnew forgets that nothing was sent
    // since the start (OwnModes: a return, a landing or a manual mode is then someone else's). Heard
    // late in its own failsafe's return (a link back after the runner's 10 s wait), the vehicle is handed
    // over and no route of the mission is held, as when heard in time (Executor.adoptReturn). Before,
    // the resume's goto took it out of that return.
    if (cur.automatic) {
      // Or heard late flying this device's own return from before the restart (takenOver took it up):
      // not flown out of it either (adoptReturn's, when heard in time).
      const found = this.takenOver();
      const own = found === null ? this.continuedWhy() : null;
      const taken = found ?? (own === null ? null : `not resumed after a restart: ${own}: its part of mission ${task.mission} is not flown on, and nothing is sent, until an operator's command for this drone`);
      if (taken !== null) {
        if (this.current === cur) this.current = null;
        this.log(`task ${command} failed: ${taken}`);
        this.report({ command, stage: 'failed', progress: cur.flewBefore?.progress ?? permilleOf(cur.next, task.waypoints.length), reason: taken });
        return;
      }
    }
    this.watchAnew();
    if (fs.value.landed === 'in-air' && fs.value.mode === 'manual') {
      // A pilot flies it (a device restarted, or a task committed, meanwhile): the pilot keeps it.
      this.handedOver = true;
      this.handedOverWhy = 'a pilot flies the vehicle (the flight controller is in a manual mode)';
      // Handed over from this task's mission (its telemetry names it: handedOverFrom), not the one of
      // an earlier handover, which a new task ended.
      this.handedOverMission = task.mission;
      return fail(`${this.handedOverWhy}: the task is not flown; a new task for this drone, once the pilot hands it back, is`);
    }
    // A leg with no way round the committed hazards inside the geofence (the task's `blocked`) is never
    // flown: the drone holds before it (on the ground it stays there) and the task fails with the reason.
    const blocked = (): string | null => {
      const b = task.blocked?.find((x) => x.to === cur.next);
      return b ? `${b.reason}: holding before that leg (waypoint ${cur.next + 1} of ${task.waypoints.length})` : null;
    };
    const holdBefore = async (reason: string): Promise<void> => {
      cur.heldBlocked = true;
      if (!this.grounded()) {
        const h = await this.act({ type: 'hold' });
        if (h) return live() ? fail(`${reason}; and the hold was refused: ${h}`) : undefined;
        fail(reason);
        // It holds there until a re-plan gives the leg a way: watched as a hold is (watchHold).
        return this.watchHold(live);
      }
      fail(reason);
    };
    // A re-plan that dropped every waypoint ahead of the drone inside a newly committed keep-out: its
    // part is not flown, so it holds where it is (as before a blocked leg) and says why. Before, the
    // empty rest of the route read as flown, and the drone reported its part done where it stood.
    if (cur.leftNone !== undefined) return holdBefore(cur.leftNone);
    if (cur.next >= task.waypoints.length) {
      // Nothing (left) to fly: a continuation (re-plan, state sync) of a route flown to its end. No
      // take-off for it.
      this.completed = task.mission;
      this.report({ command, stage: 'done', progress: 1000, reason: '' });
      if (task.then === 'return' && fs.value.landed === 'in-air' && live()) {
        const r = await this.goHome(live, { command, what: `return home after its task ${command} was done` });
        if (r) this.log(`task ${command}: done, but the return home was refused: ${r}`);
      }
      return;
    }
    const first = blocked();
    if (first && fs.value.landed === 'on-ground') {
      cur.heldBlocked = true;
      return fail(first);
    }
    if (fs.value.landed === 'taking-off' && flight) {
      // A take-off under way (a task's before this one): flown on from the air once it is up, not
      // armed and taken off again (ArduCopter refuses a second take-off; a goto below 0.5 m is refused).
      const up = await this.waitFor(live, this.noLonger('taking-off'), 'the take-off under way');
      if (up) return live() ? fail(up) : undefined;
      fs = flight.state();
      if (!fs.ok) return fail(`flight controller: ${fs.error.message}`);
    }
    // A height not known (null) counts as low: the landing is waited out rather than a goto sent into it.
    if (fs.value.landed === 'landing' && flight && (this.position()?.upM ?? 0) < touchdownWaitBelowM) {
      // In its last metres down (a landing before this task, an abort's): a goto there is refused as
      // not flying (the simulated multirotor below 0.5 m) or raced by the touchdown, so the landing is
      // waited out and the task taken off from the ground. Before, the task failed "goto refused: not
      // flying" (test/device/e2e.test.ts, a survey sent just after an abort).
      const down = await this.waitFor(live, this.noLonger('landing'), 'the landing under way');
      if (down) return live() ? fail(down) : undefined;
      fs = flight.state();
      if (!fs.ok) return fail(`flight controller: ${fs.error.message}`);
    }
    if (cur.flewBefore && live() && (fs.value.landed === 'on-ground' || (fs.value.landed === 'unknown' && !fs.value.armed))) {
      // A restart's resume of a part the drone flew before, with the drone on the ground (or disarmed,
      // on an FC that sends no landed state): the flight controller holds its last goto when the
      // device restarts, so someone or something landed it while the device was down (a pilot, the
      // FC's battery, RC or GCS failsafe, a crash). It is handed over, as under the mission's hold
      // (adoptHold): nothing is sent to it, and only a new task for this drone flies it. Before, the
      // resume armed it and took it off again.
      const where = fs.value.armed ? 'armed, on the ground' : 'disarmed';
      const reason = this.handOver(`the vehicle is on the ground after flying for this mission (${cur.flewBefore.why}), ${where}: landed while this device was down (a pilot, a failsafe of the flight controller's own: battery, RC or GCS, or a crash); not taken off again by the resume after the restart`);
      // No route of the mission is held (as adoptHold holds none): a re-plan or a state sync of it is
      // no new task (handedOverFor), and the telemetry reports no progress made up from this route.
      if (this.current === cur) this.current = null;
      this.report({ command, stage: 'failed', progress: cur.flewBefore.progress, reason });
      return;
    }
    /** Armed and taken off to the transit altitude from the ground: null, or why not. */
    const takeOff = async (): Promise<string | null> => {
      const armed = await this.armFor(live);
      if (armed) return armed;
      const t = await this.act({ type: 'takeoff', relAltM: transitM });
      if (t) return t;
      this.flying(task.mission);
      // A height not known (null) is no arrival: the wait goes on until the FC vouches for one again.
      return this.waitFor(live, () => Promise.resolve((this.position()?.upM ?? 0) >= transitM - altitudeToleranceM), 'take-off');
    };
    // Landing higher up is in the air too: no arming or take-off again (but see the first goto below).
    const landingAbove = fs.value.landed === 'landing';
    if (fs.value.landed !== 'on-ground') this.flying(task.mission);
    else {
      const up = await takeOff();
      if (up) return live() ? fail(up) : undefined;
    }
    while (cur.next < task.waypoints.length) {
      if (!live()) return;
      const stop = blocked();
      if (stop) return holdBefore(stop);
      const w = task.waypoints[cur.next] as { n: number; e: number };
      const kept = cur.cut?.next === cur.next ? cur.cut : null;
      const targets = kept ? kept.targets : this.cutAtFence(task.waypoints, cur.next);
      cur.cut = { next: cur.next, targets, reached: kept?.reached ?? 0 };
      if (targets.length === 0) {
        // The swarm's plan stands; this drone's part of it is cut at its own fence (as fleet-sim's flight layer does).
        // A waypoint inside with nothing to fly: a notch between it and the leg's start with no way round
        // it that keeps the margin (fenceCut). Before, said to be outside the fence.
        const inside = this.fence !== null && insidePolygon({ northM: w.n / 10, eastM: w.e / 10 }, this.fence);
        if (inside) this.log(`task ${command}: no way inside this device's geofence to waypoint ${cur.next + 1} [${w.n / 10}, ${w.e / 10}] keeps ${fenceCutMarginM} m from it: skipped`, 'info');
        else this.log(`task ${command}: waypoint ${cur.next + 1} [${w.n / 10}, ${w.e / 10}] is outside this device's geofence, and no part of the leg to it inside: skipped`, 'info');
        cur.next++;
        this.report({ command, stage: 'progress', progress: permilleOf(cur.next, task.waypoints.length), reason: '' });
        continue;
      }
      if (targets[targets.length - 1] !== w) this.log(`task ${command}: waypoint ${cur.next + 1} [${w.n / 10}, ${w.e / 10}] is outside this device's geofence: the leg to it is flown up to the fence`, 'info');
      // A part taken over from a lost drone and the way to it (the task's joins) are flown at their own
      // altitude, above a lost drone that may still hover on its lane.
      // (Asked again for each point: the first point flown ends the transit altitude.)
      const legAlt = (): { altM: number; join: { from: number } | undefined } => {
        const join = cur.descended ? task.joins?.find((j) => cur.next >= j.from && cur.next <= j.to) : undefined;
        return { altM: !cur.descended ? transitM : join ? join.altDm / 10 : altM, join };
      };
      const legStart = legAlt();
      const here = this.position();
      // With its height not known, up (or down) to it all the same: the climb's wait ends once the height
      // is known again and there, not on a number the flight controller does not vouch for.
      if (legStart.join && cur.next === legStart.join.from && here && (here.upM === null || Math.abs(here.upM - legStart.altM) > altitudeToleranceM)) {
        // Up (or down) to it where it is first, out of the mission altitude the others fly their lanes at.
        const c = await this.goto(this.target({ n: here.northM * 10, e: here.eastM * 10 }, legStart.altM), task.speedDmps / 10, live);
        if (c) return live() ? fail(c) : undefined;
        const up = await this.waitFor(live, () => Promise.resolve(Math.abs((this.position()?.upM ?? Infinity) - legStart.altM) <= altitudeToleranceM), 'climb to the join altitude');
        if (up) return live() ? fail(up) : undefined;
      }
      // Points of this leg reached before (this flying begun again on it) are not flown again.
      const reached = kept?.reached ?? 0;
      for (const [i, t] of targets.entries()) {
        if (i < reached) continue;
        const legAltM = legAlt().altM;
        const what = t === w ? `waypoint ${cur.next + 1}` : `the fence on the leg to waypoint ${cur.next + 1}`;
        // The leg from where the drone is (its way to the route, or on after the obstacle reflex stopped
        // it), which no committed plan knows, goes round the committed keep-outs and its own (wayFrom), inside the
        // committed fence when the drone is.
        const from = this.position();
        const zones = this.avoidZones();
        if (from && zones.length > 0) {
          const at = { n: Math.round(from.northM * 10), e: Math.round(from.eastM * 10) };
          const round = await this.flyVia(wayFrom(at, t, zones, this.committedFence) ?? [], legAltM, task.speedDmps / 10, live, `the way round the keep-outs in its way to ${what}`);
          if (round) return live() ? fail(round) : undefined;
        }
        // Arrived within the second before a HEARTBEAT showed a pilot's switch: the goto would undo it.
        const taken = this.takenOver();
        if (taken !== null) return fail(taken);
        // A goto refused because a newer action superseded it before its ACK (a reflex's return, a
        // re-plan's goto: MavlinkVehicle.execute) ended this flying: not the task's failure.
        let g = await this.goto(this.target(t, legAltM), task.speedDmps / 10, live);
        if (g && landingAbove && !cur.descended && i === reached && live() && (await this.touchedDown(live))) {
          // Found landing above touchdownWaitBelowM, it touched down before this first goto reached it (a
          // fast descent, or a simulated vehicle run faster than the wall clock: at timeScale 20 one
          // 100 ms tick is 3 m of a 1.5 m/s descent), which refused it as not flying: taken off from the
          // ground, as a task that finds it landed is, and the goto sent again, once. Before, the task
          // failed "goto refused: not flying" (test/device/e2e.test.ts, a survey sent after an abort).
          this.log(`task ${command}: the vehicle touched down before the first goto (${g}): taking off again`, 'info');
          const up = await takeOff();
          if (up) return live() ? fail(up) : undefined;
          g = await this.goto(this.target(t, legAltM), task.speedDmps / 10, live);
        }
        if (g) return live() ? fail(g) : undefined;
        const there = await this.waitFor(live, () => Promise.resolve(this.near(t.n / 10, t.e / 10)), what, t);
        if (there) return live() ? fail(there) : undefined;
        if (!cur.descended) {
          // At the route's first point flown: down from the transit altitude to the mission's.
          if (legAltM !== altM) {
            const d = await this.goto(this.target(t, altM), task.speedDmps / 10, live);
            if (d) return live() ? fail(d) : undefined;
            const down = await this.waitFor(live, () => Promise.resolve(Math.abs((this.position()?.upM ?? Infinity) - altM) <= altitudeToleranceM), 'descent to the mission altitude');
            if (down) return live() ? fail(down) : undefined;
          }
          cur.descended = true;
        }
        cur.cut = { next: cur.next, targets, reached: i + 1 };
      }
      cur.next++;
      this.report({ command, stage: 'progress', progress: permilleOf(cur.next, task.waypoints.length), reason: '' });
    }
    this.completed = task.mission;
    this.report({ command, stage: 'done', progress: 1000, reason: '' });
    // A survey's drone goes home on its flight controller's return (at this drone's return altitude); a
    // goto's or formation's stays where the task put it.
    if (task.then === 'return' && live()) {
      const r = await this.goHome(live, { command, what: `return home after its task ${command} was done` });
      if (r) this.log(`task ${command}: done, but the return home was refused: ${r}`);
    }
  }

  /**
   * The points to fly for the route's waypoint `i` (decimetres): the waypoint itself, or, with this
   * device's own fence (device.yaml `geofence`) cutting the leg to it, the parts of that leg inside the
   * fence (fenceCut: a survey lane past the fence is flown up to it, and the next from where it comes
   * back in). Empty: nothing of it inside (a first waypoint outside has no leg before it). Before, a
   * waypoint outside was skipped, and with it every lane with an end past the fence.
   */
  private cutAtFence(waypoints: readonly { n: number; e: number }[], i: number): readonly { n: number; e: number }[] {
    const w = waypoints[i] as { n: number; e: number };
    const fence = this.fence;
    if (!fence) return [w];
    const b = { northM: w.n / 10, eastM: w.e / 10 };
    const prev = i > 0 ? (waypoints[i - 1] as { n: number; e: number }) : null;
    const here = this.position();
    // The route's first waypoint has no leg of the plan before it: with the drone up and inside the
    // fence, the leg is the one from where it is (a route resumed after a restart begins at the waypoint
    // the drone was heading to, mid-lane: its rest up to the fence is flown, not skipped); on the
    // ground, none.
    const hereInside = here !== null && insidePolygon(here, fence);
    // Up: above 2 m, or, its height not known, not on the ground by its flight controller.
    const up = here !== null && (here.upM === null ? !this.grounded() : here.upM > 2);
    const a = prev ? { northM: prev.n / 10, eastM: prev.e / 10 } : hereInside && up ? { northM: here.northM, eastM: here.eastM } : null;
    if (!a) return insidePolygon(b, fence) ? [w] : [];
    const leg = legFrom(here, fenceCut(a, b, fence), fence);
    if (leg === null) {
      this.log(`no way inside this device's geofence from [${here?.northM.toFixed(0)}, ${here?.eastM.toFixed(0)}] to the leg to waypoint ${i + 1} keeps ${fenceCutMarginM} m from it: skipped`, 'info');
      return [];
    }
    return leg.map((p) => (p === b ? w : { n: Math.round(p.northM * 10), e: Math.round(p.eastM * 10) }));
  }

  private target(w: { n: number; e: number }, relAltM: number): GeoPoint {
    const geo = localToGeo(this.origin, w.n / 10, w.e / 10);
    return { latDeg: geo.latDeg, lonDeg: geo.lonDeg, relAltM };
  }

  private near(northM: number, eastM: number): boolean {
    const p = this.position();
    return p !== null && Math.hypot(p.northM - northM, p.eastM - eastM) <= arriveToleranceM;
  }

  /**
   * Arms the vehicle: null, or why not. A refusal (the flight controller's pre-arm checks, which pass
   * once its estimator and GNSS are ready) is logged when its reason changes and asked again each
   * armRetryMs, up to armWaitMs of not being paused; the task then fails with the last refusal. Before,
   * the arm was sent every 50 ms for up to 10 minutes and the task failed saying only that arming did
   * not complete.
   */
  private async armFor(live: () => boolean): Promise<string | null> {
    let waitedMs = 0;
    let last = '';
    while (live()) {
      const t = Date.now();
      if (!this.paused) {
        const refused = await this.act({ type: 'arm' });
        if (refused === null) return null;
        if (!live()) break;
        if (refused !== last) this.log(`arming refused (asked again each ${armRetryMs / 1000} s, up to ${this.armWaitMs / 1000} s): ${refused}`);
        last = refused;
        if (waitedMs >= this.armWaitMs) return `not armed in ${this.armWaitMs / 1000} s: ${refused}`;
      }
      for (let slept = 0; slept < armRetryMs && live(); slept += pollMs) await new Promise((r) => setTimeout(r, pollMs));
      if (!this.paused) waitedMs += Date.now() - t;
    }
    return 'superseded by a newer task';
  }

  /** A new flying begins: what takenOver has seen of the FC's failsafe flag starts over, and of its
   *  mode too unless `modes` is 'keep' (under a committed hold, the hold sent is what the FC is in). */
  private watchAnew(modes: 'forget' | 'keep' = 'forget'): void {
    if (modes === 'forget') this.ownModes.forget();
    this.seenNoFailsafe = false;
  }

  /**
   * Why the vehicle is out of the executor's hands, or null. The FC's mode is the executor's when its
   * last action leaves the vehicle in it (ownModes: a goto GUIDED on ArduCopter and Hold on PX4, its own
   * return or landing those); once the FC had time to show that mode, any other (a manual one, LOITER
   * switched by a pilot, a return or a landing of the FC's own, a mode Murmur does not name) is a pilot's
   * switch or the FC's own failsafe (a battery, a fence, a lost link), which the executor must not undo
   * with its next goto: it stops (handedOver). A disarmed vehicle flies for no one.
   */
  private takenOver(): string | null {
    const fs = this.devices.flight?.state();
    if (fs?.ok && this.priorReturn !== null) this.takeUpOwnReturn(fs.value);
    if (!fs || !fs.ok || !fs.value.armed) return null;
    const m = fs.value.mode;
    const verdict = this.ownModes.verdict(m, fs.value.timeMs);
    // A failsafe the FC announces while it flies for the executor (one whose action is a hold, which
    // the mode alone does not tell from the executor's own): the flag from before the flying, which the
    // next accepted action clears, does not count, only one raised after it was seen clear.
    const failsafeNow = verdict === 'own' && fs.value.failsafe && this.seenNoFailsafe;
    if (!fs.value.failsafe) this.seenNoFailsafe = true;
    if (verdict !== 'other' && !failsafeNow) return null;
    // The failsafe in the FC's own words where it gave them (ArduCopter's EKF failsafe: "EKF variance:
    // position lost", "EKF Failsafe: changed to LAND Mode"), so the operator knows which one it was. Its
    // texts come before the HEARTBEAT with its new mode (ArduCopter sends them as it switches; the
    // HEARTBEAT is up to a second later), so the mode named is the one shown when it said so.
    const said = fs.value.failsafeSaid !== undefined ? `the flight controller said ${fs.value.failsafeSaid}; ` : '';
    const by = m === 'manual' ? 'a pilot took it (a manual mode)' : fs.value.failsafe ? `its own failsafe (${said}mode ${m})` : `mode ${m}, not the executor's (a pilot's switch or its own failsafe)`;
    return this.handOver(`the flight controller left the executor's control: ${by}`);
  }

  /** The vehicle is out of the executor's hands (takenOver, stoppedShort): nothing flies it on. */
  private handOver(why: string): string {
    // Someone else's now: a record of the executor's own return would be theirs after a restart.
    this.continued = null;
    this.keepReturn(null);
    this.handedOver = true;
    this.handedOverWhy = why;
    this.handedOverMission = this.adoptedFor ?? this.current?.task.mission ?? null;
    this.reflexRefusalLogged = false;
    const reason = `${why}; nothing more is commanded until an operator's command for this drone`;
    this.log(reason);
    return reason;
  }

  /**
   * Why a vehicle a goto sent on to `what` has not moved for stallMs. PX4 flies a goto in Hold, so a
   * pilot's Hold (the RC switch, a ground station's Pause) shows no new mode, only this stop: the
   * vehicle is the pilot's (handOver), and no re-plan or reflex release takes it back. In the mode the
   * goto flies in on ArduPilot (GUIDED), the FC itself keeps it short (its fence or obstacle avoidance):
   * the task fails with that. Before, either waited for the vehicle for waitMsMax (10 minutes).
   */
  private stoppedShort(what: string): string {
    const m = this.modeNow();
    const still = `${this.stallMs / 1000} s`;
    // Its height not known, the watch compares across only (motionPoint): a climb or a descent in place
    // looks still, and says nothing of a pilot. The task fails with the reason; nothing is handed over.
    const height = this.heightUnknown();
    if (height !== null) {
      const reason = `${what} not judged reached: ${height}, and the vehicle has not moved across for ${still} (mode ${m}); not flown on`;
      this.log(reason);
      return reason;
    }
    if (m === 'hold') return this.handOver(`the vehicle stopped in hold short of ${what} and has not moved for ${still}: a pilot's hold or the flight controller's own`);
    const reason = `the vehicle stopped short of ${what} and has not moved for ${still} (mode ${m}): the flight controller keeps it there (its own fence or obstacle avoidance); not flown on`;
    this.log(reason);
    return reason;
  }

  /** One MotionWatch per wait, with the executor's limits. */
  private motionWatch(): MotionWatch {
    return new MotionWatch({ ...motionLimits, stallMs: this.stallMs });
  }

  /** What the vehicle's motion says while the executor waits (MotionWatch), as a reason, or null: a
   *  goto's vehicle stopped short of `what` (stoppedShort; counted unless `countStall` is false), or a
   *  held one flown off by someone. */
  private motion(watch: MotionWatch, what: string, countStall = !this.paused): string | null {
    const seen = watch.step(this.lastAction, countStall, motionPoint(this.position()), Date.now());
    return seen === null ? null : this.motionReason(seen, what);
  }

  private motionReason(seen: Motion, what: string): string {
    if (seen.kind === 'stalled') return this.stoppedShort(what);
    return this.handOver(`the vehicle moved ${seen.byM.toFixed(0)} m from where it held (mode ${this.modeNow()}): a pilot flies it (ArduCopter's LOITER takes the sticks with no mode change)`);
  }

  /** The flight controller's mode as last heard, or 'unknown'. */
  private modeNow(): string {
    const fs = this.devices.flight?.state();
    return fs?.ok ? fs.value.mode : 'unknown';
  }

  /**
   * Under a committed hold, after a re-plan ended the flying that was waiting there (its route is
   * another now), nothing would notice a pilot or the FC's own failsafe taking the vehicle, and the
   * mission's resume would fly it on from them: this watches (takenOver) until the hold ends, and fails
   * the task with the reason as the flying would.
   */
  private async watchHeld(gen: number, adopted?: { readonly command: string; readonly progress: number }): Promise<void> {
    const live = this.liveFor(gen);
    this.watchAnew('keep');
    const watch = this.motionWatch();
    while (live() && this.paused && !this.handedOver) {
      const taken = this.takenOver() ?? this.motion(watch, 'the hold');
      const cur = this.current;
      if (taken !== null && cur) return this.report({ command: cur.command, stage: 'failed', progress: permilleOf(cur.next, cur.task.waypoints.length), reason: taken });
      if (taken !== null && adopted) return this.report({ command: adopted.command, stage: 'failed', progress: adopted.progress, reason: taken });
      await new Promise((r) => setTimeout(r, pollMs));
    }
  }

  /**
   * Restarted while the swarm holds the mission `command` this device flies a part of (`progress`, per
   * mille), with the vehicle in the air: the hold it sent before the restart is taken up again, so a
   * pilot or the FC's own failsafe taking the vehicle is seen (takenOver, MotionWatch) as under a hold
   * sent since, and the mission's resume does not fly it on from them. Before, nothing watched a
   * restarted device's held vehicle, and the resume flew the route from wherever a pilot had taken it.
   * A vehicle found in a mode the hold does not leave it in is handed over at once (and the task
   * fails); with the FC not heard, it is taken up once it is (until the resume or another task).
   *
   * One on the ground (disarmed, or landed) has nothing to watch, but the resume must know why it is
   * there. `flewBefore` says why the device knows it flew for this mission (MissionRunner: the committed
   * progress, its last committed report in the air since the mission began, or its own data directory),
   * or is null when nothing does. Flown before, it was landed while the swarm held the mission (a pilot,
   * a failsafe, the flight controller's own, a battery landing): it is handed over and its task fails,
   * so the resume does not take it off on its own (a new task for this drone does). Never flown for
   * it, it is where the mission found it, and the resume's take-off is the task's own. Before, both
   * read "nothing to hold" and the resume armed and took off a drone a pilot had landed.
   * Returns what it found, for the log.
   */
  adoptHold(command: string, progress: number, flewBefore: string | null = null): string {
    const fc = this.devices.flight;
    const fs = fc?.state();
    if (fc && fs && !fs.ok) {
      // The FC not heard (yet) when the runner stopped waiting for it (a link back late): the hold is
      // taken up once it is. Before, it read as a vehicle on the ground, and nothing watched the hold.
      // The mission's resume (paused cleared), a task or a stop before then end the wait.
      this.generation++;
      this.paused = true;
      const live = this.liveFor(this.generation);
      void (async () => {
        for (const t0 = Date.now(); live() && this.paused && Date.now() - t0 < waitMsMax; await new Promise((r) => setTimeout(r, pollMs))) {
          if (fc.state().ok) return this.log(`mission ${command} is held: ${this.adoptHold(command, progress, flewBefore)}`, 'info');
        }
      })();
      return `the flight controller's state is not known (${fs.error.message}): the hold is taken up once it is heard`;
    }
    // Taken up before (a state sync while running calls resumeOwnTask anew) and found someone else's
    // since: it stays theirs, and its task's failure was said then. Before, it was reported failed again,
    // or, the pilot's mode being a hold's, logged as watched while nothing watched it.
    if (this.handedOver) return `the vehicle is already out of this device's hands: ${this.handedOverWhy}`;
    this.adoptedFor = command;
    if (!fc || !fs?.ok || !fs.value.armed || fs.value.landed === 'on-ground') {
      const where = !fc ? 'no flight controller fitted' : !fs?.ok ? 'no flight state' : fs.value.armed ? 'armed, on the ground' : 'disarmed';
      // The simulated vehicle (hal.driver sim) lives in this process and starts anew on the ground with
      // it: what it flew before says nothing of a landing (MissionRunner.flewBefore gives null for it).
      if (flewBefore === null && fc?.driver === 'sim') return `the simulated vehicle (hal.driver sim) starts anew on the ground with the device (${where}), so its place there says nothing of a landing: the mission's resume takes it off as its task would`;
      if (flewBefore === null) return `the vehicle is on the ground, and nothing says it flew for this mission (${where}; no waypoint of it passed, no report of it in the air committed since the mission began, no flight of it in this device's data directory): the mission's resume takes it off as its task would`;
      // The failure goes out now (not at the resume), as a takeover seen under the hold does.
      const reason = this.handOver(`the vehicle is on the ground after flying for this mission (${flewBefore}), ${where}: landed while the swarm held the mission (a pilot, a failsafe or the flight controller's own); not taken off again by the mission's resume`);
      this.report({ command, stage: 'failed', progress, reason });
      return reason;
    }
    this.generation++;
    this.paused = true;
    const mode = fs.value.mode;
    // On a return or landing this device's data directory says it sent itself (a reflex's failsafe
    // under the hold), that goes on, not handed over, as adoptReturn says with the mission active.
    if (this.priorReturn !== null && !(fc.modesAfter('hold') ?? []).includes(mode)) this.takeUpOwnReturn(fs.value);
    const goesOn = this.continuedWhy();
    if (goesOn !== null) {
      const reason = `${goesOn}: not the hold the swarm committed; its part of mission ${command} is not flown on, and nothing is sent, until an operator's command for this drone`;
      this.reportContinued(command, progress, reason);
      return reason;
    }
    if (!this.ownModes.adopt(fc.modesAfter('hold') ?? [], mode)) {
      // Returning or landing: a failsafe, of the FC or of this device before the restart (a reflex's
      // return, which its agent re-asserts), as a restart mid-mission says (MissionRunner.resumeOwnTask).
      const whose = mode === 'return' || mode === 'land' ? "a failsafe, of this device before it started or the flight controller's own, or a pilot's switch" : "a pilot's or the flight controller's own";
      const reason = this.handOver(`restarted with the vehicle in mode ${mode}, not the hold the swarm committed: ${whose}`);
      this.report({ command, stage: 'failed', progress, reason });
      return reason;
    }
    this.lastAction = 'hold';
    this.flying(command);
    void this.watchHeld(this.generation, { command, progress });
    return `the vehicle holds (mode ${mode}): watched for a pilot or the flight controller taking it until the mission resumes`;
  }

  /**
   * Restarted with the mission `command` active, this drone's part of it not flown to its end
   * (`progress`, per mille), and the vehicle in the air on a return or a landing that no command of
   * this device since it started put it in (MissionRunner.resumeOwnTask): a failsafe of the flight
   * controller's own (a battery, a fence breach, its companion lost while this device was down), a
   * pilot's switch, or a failsafe of this device from before the restart. The FC's words for it
   * (STATUSTEXT) came before the restart and are not sent again, and a bare HEARTBEAT in RTL looks the
   * same whoever chose it; every one of them is a return or landing the swarm must not take the drone
   * out of. So it is taken as when the FC's failsafe takes the vehicle while the device flies it
   * (takenOver): handed over, nothing more commanded until an operator's command for this drone (the
   * mission's hold and resume, a re-plan, a state sync or a reflex do not take it back: run,
   * notTakenBack, othersHands), its telemetry naming the mission it was handed over from. Before, the
   * resume was only skipped: the mission's hold then switched the FC out of its return, and the
   * resume after it sent the route's goto. Returns the reason (the task's failed ack carries it).
   *
   * Unless the device's data directory says this device put it there (own-return.ts: its own rtl,
   * land or abort, a reflex's failsafe return or landing, a task's way home, accepted by the FC before
   * the restart), and the vehicle still flies that (the FC in a mode that action leaves it in, armed
   * and in the air, a record of this flight): takeUpOwnReturn took it up as the executor's own. Then
   * it is not handed over: no pilot and no failsafe of the FC's has it, and saying so would be false;
   * its return goes on as before the restart, watched (a pilot's switch on the way is seen and hands
   * it over; the record goes once it has landed). What the swarm sees is as before the restart: the
   * telemetry names no handover (a reflex's failsafe return did not hand its part over either, so
   * reassignHandedOver gives it to no one, as the swarm's battery and lost-drone rules may); the part
   * is not flown on (its task fails with the reason, naming the action and its command); the
   * mission's hold and resume and the swarm's automatic routes send nothing while it goes on (run:
   * continued), as they sent nothing into a failsafe return of this device's (failsafe); the reflexes
   * act as they did on its way home; an operator's command flies the drone, without a "taken back".
   * Nothing is sent in either case: the difference is what the device says, and that it still watches.
   */
  adoptReturn(command: string, progress: number): string {
    this.adoptedFor = command;
    const st = this.devices.flight?.state();
    if (st?.ok && this.priorReturn !== null) this.takeUpOwnReturn(st.value);
    const goesOn = this.handedOver ? null : this.continuedWhy();
    if (goesOn !== null) {
      const reason = `${goesOn}: its part of mission ${command} is not flown on, and nothing is sent, until an operator's command for this drone`;
      this.reportContinued(command, progress, `not resumed after a restart: ${reason}`);
      return reason;
    }
    if (this.handedOver) {
      // Seen taken before the runner got here (a reflex's action refused, a committed rtl not carried out).
      this.handedOverMission = command;
      const reason = `${this.handedOverWhy}; nothing more is commanded until an operator's command for this drone`;
      this.report({ command, stage: 'failed', progress, reason: `not resumed after a restart: ${reason}` });
      return reason;
    }
    const fs = this.devices.flight?.state();
    const v = fs?.ok ? fs.value : null;
    const m = v?.mode ?? 'unknown';
    const doing = m === 'return' ? 'returning home' : m === 'land' ? 'landing' : `in mode ${m}`;
    // Announced since this device started (a failsafe the FC said again, or one that began meanwhile).
    const said = v?.failsafe === true ? `its own failsafe (${v.failsafeSaid !== undefined ? `the flight controller said ${v.failsafeSaid}; ` : ''}mode ${m})` : null;
    const by = said ?? `the vehicle was ${doing} (mode ${m}) when this device started, not by a command of this device since: the flight controller's own failsafe (a battery, a fence, its companion lost; what it said then is not sent again), a pilot's switch, or a failsafe of this device before the restart`;
    const reason = this.handOver(`the flight controller left the executor's control: ${by}`);
    this.report({ command, stage: 'failed', progress, reason: `not resumed after a restart: ${reason}` });
    return reason;
  }

  /**
   * A hold the executor keeps with no wait on it (before a blocked leg, its task failed so): until
   * another flying begins, another action replaces the hold, or the wait bound passes, a pilot's mode
   * switch (takenOver) or a pilot flying the drone off with the sticks (MotionWatch: ArduCopter's LOITER
   * shows no mode change) hands it over. Before, nothing watched it there, and the re-plan that gave the
   * leg a way took the drone back from the pilot with its goto.
   */
  private async watchHold(live: () => boolean): Promise<void> {
    const watch = this.motionWatch();
    for (const t0 = Date.now(); live() && !this.handedOver && this.lastAction === 'hold' && Date.now() - t0 < waitMsMax; await new Promise((r) => setTimeout(r, pollMs))) {
      if (this.takenOver() !== null) return;
      if (this.motion(watch, 'the hold', false) !== null) return;
    }
  }

  /** Whether this device's position is, now, the estimate the flight controller flies by (the MAVLink
   *  position driver's fix from the FC's estimate, on the FC the flight driver commands): a goto then
   *  ends within arriveToleranceM by it, so no stop further off is an arrival by the vehicle's own
   *  reckoning. Not while that driver gives its receiver's fix (the FC's estimate stale, or one its
   *  estimator does not trust): before, the configured driver alone decided, and a vehicle stopped at
   *  the point by its FC, metres off by the receiver, was read as stopped short. */
  private positionIsFcs(): boolean {
    const f = this.devices.position?.fix();
    return this.devices.position?.driver === 'mavlink' && this.devices.flight?.driver === 'mavlink' && f?.ok === true && f.value.source === 'fc-estimate';
  }

  /** Polls `cond` until true; returns null, or why it gave up: not in time, superseded, the vehicle
   *  taken out of the executor's hands (takenOver, or flown off from a hold: motion), or, sent on by a
   *  goto, stopped short of it (stoppedShort). A paused executor waits without counting. */
  private async waitFor(live: () => boolean, cond: () => Promise<boolean>, what: string, point?: { readonly n: number; readonly e: number }): Promise<string | null> {
    const t0 = Date.now();
    const watch = this.motionWatch();
    while (live()) {
      const taken = this.takenOver();
      if (taken !== null) return taken;
      if (!this.paused && (await cond())) return null;
      if (!this.paused && Date.now() - t0 > waitMsMax) return `${what} did not complete within ${waitMsMax / 1000} s`;
      const p = this.position();
      const now = Date.now();
      const seen = watch.step(this.lastAction, !this.paused, motionPoint(p), now);
      if (point && p && this.lastAction === 'goto' && !this.positionIsFcs() && watch.stillForMs(now) >= reckonedArrivalStillMs) {
        // Stopped where the flight controller reckons the point is, off by this device's own receiver
        // (hal.gnss: two receivers differ by metres) more than arriveToleranceM: arrived. Before, the
        // task waited for it 10 minutes and failed (and, stopped in Hold, was read as a pilot's). With
        // the FC's own estimate as the position, a stop short is a stop short (a pilot's PX4 Hold).
        const offM = Math.hypot(p.northM - point.n / 10, p.eastM - point.e / 10);
        if (offM <= reckonedArrivalM) {
          this.log(`${what}: reached by the vehicle's own reckoning (it stopped there; ${offM.toFixed(1)} m from it by this device's position)`, 'info');
          return null;
        }
      }
      if (seen !== null) return this.motionReason(seen, what);
      await new Promise((r) => setTimeout(r, pollMs));
    }
    return 'superseded by a newer task';
  }
}

/** A device error with its numbers left out (ages, counts): what a failure logged once per reason compares. */
function failureKind(e: { readonly code: string; readonly message: string }): string {
  return `${e.code}: ${e.message.replace(/\d+(\.\d+)?/g, '#')}`;
}
