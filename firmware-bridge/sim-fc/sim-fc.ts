// A simulated flight controller speaking Murmur's MAVLink 2 subset over any byte transport: PX4 or
// ArduPilot modes, arming checks, commands with ACKs (IN_PROGRESS for takeoff), mission upload and
// execution, telemetry streams (the IMU on request, MAV_CMD_SET_MESSAGE_INTERVAL, as PX4 and ArduPilot
// do for a companion), offboard-loss hold, a failsafe when the companion's heartbeats stop, and a
// geofence of its own (a polygon and keep-out circles uploaded with mission_type FENCE, sim-fence.ts)
// whose breach runs the fence action. Its navigation (setNavigation) can lose the position estimate:
// ArduPilot streams GLOBAL_POSITION_INT on, held or dead reckoned, with EKF_STATUS_REPORT saying so;
// PX4 streams its own estimate on too (or, as older PX4 did, stops it), with ESTIMATOR_STATUS saying
// so. Or it can fly on vision with no GNSS fix, or lose its height (POS_VERT_ABS clear, the altitude
// held). ArduPilot's EKF failsafe lands a vehicle that lost its position in a mode that needs one
// (ArduCopter ekf_check.cpp: ekfCheck); PX4's commander flies Land or Descend in place of a mode that
// cannot run without it (px4-failsafe.ts), and in place of the fence's or the lost link's Hold or Return
// when those cannot run either (px4SelectedAction); it lands on, ignoring its lost link, in the user's
// Land (px4LinkLossIgnored), only warns of a failsafe's Return there (px4KeepsLanding), and shows,
// landed and disarmed, the mode its commander goes back to (px4-user-intention.ts). ArduCopter stays,
// landed and disarmed, in the mode it landed in: LAND, RTL, or AUTO after a mission's landing
// (ardupilotKeepModeOnLanding).

import { common, type MavLinkData } from 'node-mavlink';
import { Prng } from '../../runtime/lib/prng.js';
import type { FlightMode } from '../../hal/devices.js';
import { SimMultirotor } from '../../hal/sim/multirotor.js';
import { geoToLocal, localToGeo } from '../../hal/geo.js';
import type { ByteTransport } from '../transport.js';
import { MavlinkEndpoint, type ReceivedMessage, type SigningPolicy } from '../mavlink/endpoint.js';
import { decodeMode, encodeMode, mavAutopilotArdupilot, mavAutopilotPx4, px4ModeNames, type AutopilotFamily } from '../mavlink/modes.js';
import { mavCmd, mavMsgId } from '../mavlink/vehicle.js';
import { MissionReceiver, PlanReceiver } from '../mavlink/mission-receiver.js';
import type { MissionItem } from '../mavlink/mission-item.js';
import { cmdDoFenceEnable, describeFenceAction, fenceActionValue, missionTypeFence } from '../mavlink/fence.js';
import { answerParam, simParams, type SimValue } from './sim-params.js';
import { limits } from '../../runtime/lib/limits.js';
import { SimFence, type FenceAction, type FenceStatus } from './sim-fence.js';
import { Px4PositionFailsafe, px4FailsafeText, px4KeepsLanding, px4LinkLossIgnored, px4ModeCanRun, px4SelectedAction, type Px4FailsafeAction, type Px4Position } from './px4-failsafe.js';
import { Px4UserIntention } from './px4-user-intention.js';
import { homePosition, sendEstimatorStatus, sendImu, sendTelemetry, sendSlowTelemetry, statusText } from './telemetry.js';

export type FailsafeAction = 'return' | 'land' | 'hold';
/** What PX4 flies for a failsafe's action: the action its framework selected, or only a warning
 *  (Action::Warn: the user's Land goes on; px4KeepsLanding). */
type Px4Flown = 'hold' | Px4FailsafeAction | 'warn';

/** The simulated FC's navigation: its GNSS receiver, and where its estimator's horizontal position comes from. */
export interface SimNavigation {
  /** 'fix': a 3D fix (GPS_RAW_INT fix type 3: the vehicle's noisy position, off by receiverOffsetM);
   *  'no-fix': fix type 1 with its last coordinates (indoors, jammed); 'absent': none fitted
   *  (ArduPilot's GPS_TYPE 0 sends no GPS_RAW_INT at all). */
  readonly receiver: 'fix' | 'no-fix' | 'absent';
  /** 'gnss': fused from the receiver, and for deadReckonMs after it lost its fix (the EKF dead reckons
   *  on, still absolute), then lost, drifting, until the fix is back;
   *  'vision': from an external vision system (VIO) with a global origin. Both absolute
   *  (POS_HORIZ_ABS). 'frozen': lost, in constant position mode (CONST_POS_MODE); 'drifting': lost,
   *  dead reckoning past the EKF's limit, walking east at driftMps. Lost, ArduPilot's
   *  GLOBAL_POSITION_INT (AP_AHRS's location, sent whatever it answers) is the receiver's fix when it has
   *  one (NavEKF3 getLLH), else that held or drifting estimate; PX4's is its estimate, held or drifting
   *  (EKF2 publishes its global position, lat_lon_valid false, once it has an origin), or none with
   *  px4GlobalWhenLost 'stop' (older PX4 published it only while valid). 'flow': optical flow with
   *  no global origin, a relative position only (POS_HORIZ_REL): ArduPilot's GLOBAL_POSITION_INT at
   *  lat 0, lon 0 (its location with no origin), PX4's none; LOCAL_POSITION_NED is the vehicle's. */
  readonly estimate: 'gnss' | 'vision' | 'frozen' | 'drifting' | 'flow';
  /** The estimator's vertical position: 'ok' (POS_VERT_ABS) or 'lost' (its height source rejected or
   *  gone: POS_VERT_ABS clear, GLOBAL_POSITION_INT's altitudes held where it was lost); default 'ok'. */
  readonly height?: 'ok' | 'lost';
}

/** ArduCopter's EKF failsafe (FS_EKF_ACTION, FS_EKF_THRESH): 'land' (FS_EKF_ACTION 1, its default) or
 *  'off' (FS_EKF_THRESH 0: the check disabled). On the simulated PX4, its commander's failsafe for a
 *  mode that cannot run without its position (px4-failsafe.ts: Land, or Descend without a local
 *  position); 'off' there is no PX4 setting, only a test's way to keep a PX4 flying on without one. */
export type EkfFailsafe = 'land' | 'off';

/** ArduCopter's EKF check runs at 10 Hz and fails after EKF_CHECK_ITERATIONS_MAX (10) bad iterations in a
 *  row: a second; it clears once as many good ones counted the fail count back down. */
const ekfCheckFailMs = 1_000;
/** ArduCopter's LAND entered by a failsafe (set_mode_land_with_pause) holds its altitude this long
 *  before it descends (LAND_WITH_DELAY_MS). */
const landPauseMs = 4_000;
/** The modes whose flight needs a position (ArduCopter Mode::requires_GPS: GUIDED, and GUIDED's take-off,
 *  AUTO, LOITER, RTL), named as the HAL does. */
const positionModes: readonly FlightMode[] = ['guided', 'takeoff', 'mission', 'hold', 'return'];

/** Commander::printRejectMode prints its text only if more than this (hrt time: simulated) passed since
 *  the last it printed; the command's TEMPORARILY_REJECTED is sent every time. */
const px4RejectTextGapMs = 1_000;

/** EKF_STATUS_FLAGS / ESTIMATOR_STATUS_FLAGS bits (the same in both up to 512). */
const navFlag = { attitude: 1, velHoriz: 2, velVert: 4, posHorizRel: 8, posHorizAbs: 16, posVertAbs: 32, constPosMode: 128, predPosHorizRel: 256, predPosHorizAbs: 512 } as const;

export interface SimFcOptions {
  readonly transport: ByteTransport;
  readonly family: AutopilotFamily;
  readonly seed: number;
  readonly sysid?: number;
  readonly heartbeatIntervalMs?: number;
  readonly telemetryHz?: number;
  readonly failsafeAction?: FailsafeAction;
  /** Offboard (guided) setpoints older than this make PX4 fall back to hold (COM_OF_LOSS_T). */
  readonly offboardLossMs?: number;
  readonly signing?: SigningPolicy;
  /** Simulated seconds per wall-clock second (PX4 SITL's speed factor); protocol timing stays real. */
  readonly speedFactor?: number;
  /** What a fence breach does at start (ArduPilot FENCE_ACTION, PX4 GF_ACTION, which set it later); default return. */
  readonly fenceAction?: FenceAction;
  /** Fence items (vertices and circles) the FC can store; a longer upload is answered MAV_MISSION_NO_SPACE. */
  readonly fenceItemsMax?: number;
  /** Called whenever the fence (polygon, ceiling, enable, breach) changes: main.ts prints it. */
  readonly onFence?: (status: FenceStatus) => void;
  /** Navigation at start (setNavigation); default a receiver with a fix, fused. */
  readonly navigation?: SimNavigation;
  /** How far the receiver's fix is off the vehicle (an antenna's multipath, another datum), metres; default none. */
  readonly receiverOffsetM?: { readonly northM: number; readonly eastM: number };
  /** How fast a drifting estimate walks off, metres per simulated second; default 0.5. */
  readonly driftMps?: number;
  /** What PX4 does with GLOBAL_POSITION_INT after its estimate is lost: 'stream' it on (current EKF2,
   *  the default) or 'stop' it (older PX4). */
  readonly px4GlobalWhenLost?: 'stream' | 'stop';
  /** How long (simulated) a GNSS estimate stays absolute after the receiver lost its fix: ArduPilot's
   *  EKF3 without velocity aiding times its position out after 7 s (posRetryTimeNoVel_ms), PX4's EKF2
   *  after EKF2_NOAID_TOUT, 5 s by default; those by default. */
  readonly deadReckonMs?: number;
  /** ArduPilot's EKF failsafe, or PX4's position-loss failsafe (EkfFailsafe); default 'land' (on, as
   *  both autopilots are by default). */
  readonly ekfFailsafe?: EkfFailsafe;
  /** The receiver loses its fix this long (simulated ms) after the vehicle is first in the air (armed,
   *  above 1 m): a jammed GNSS mid-flight, for a run of the FC process (main.ts --gnss-lost-after). */
  readonly gnssLostAfterAirborneMs?: number;
}

const result = common.MavResult;
const missionPlannerCompid = 190; // MAV_COMP_ID_MISSIONPLANNER: a ground station

export class SimFlightController {
  readonly endpoint: MavlinkEndpoint;
  readonly vehicle: SimMultirotor;
  readonly family: AutopilotFamily;
  private readonly t0 = Date.now();
  private readonly timers: NodeJS.Timeout[] = [];
  /** Streams a companion asked for with SET_MESSAGE_INTERVAL, by message id. */
  private readonly requested = new Map<number, NodeJS.Timeout>();
  private mission: MissionItem[] = [];
  private missionIndex = -1;
  private missionActive = false;
  private lastSetpointMs = -Infinity;
  private takeoffAckTimer: NodeJS.Timeout | null = null;
  /** Commands that may change what the vehicle does, counted: a take-off interrupted by one fails. */
  private flightCommands = 0;
  /** The final result of the last long-running command, re-sent when a retry of it arrives. */
  private lastFinal: { command: number; result: number; atMs: number } | null = null;
  private companionSeen = false;
  /** HOME_POSITION requests answered (MAV_CMD_REQUEST_MESSAGE). */
  homeRequests = 0;
  /** Why the vehicle is in failsafe, or null; while it is, HEARTBEAT says MAV_STATE_CRITICAL. PX4's
   *  position failsafe leaves another failsafe's reason be (px4PositionFailsafe). */
  failsafeReason: string | null = null;
  readonly fence: SimFence;
  /** FENCE_ACTION / GF_ACTION as the parameter holds it (fence.ts: its values per autopilot). */
  private fenceActionValue: number;
  private readonly o: Required<Omit<SimFcOptions, 'signing' | 'onFence' | 'deadReckonMs' | 'gnssLostAfterAirborneMs'>> & Pick<SimFcOptions, 'signing' | 'onFence' | 'gnssLostAfterAirborneMs'> & { readonly deadReckonMs: number };
  private nav: SimNavigation;
  /** The estimate when it was lost (simulated time), which a lost estimate holds or drifts from. */
  private lostEstimate: { readonly northM: number; readonly eastM: number; readonly atMs: number } | null = null;
  /** When (simulated) the receiver lost its fix; null while it has one. */
  private receiverLostAtMs: number | null = null;
  /** Whether the estimate was absolute at the last tick (a GNSS estimate times out on its own). */
  private wasAbsolute = true;
  /** The height above home when the estimator lost its vertical position (navigation height 'lost'),
   *  which GLOBAL_POSITION_INT holds; null while it has one. */
  private lostHeightM: number | null = null;
  /** ArduCopter's EKF check (ekfCheck): since when (simulated) its position has been bad, or good again
   *  after the failsafe; whether the failsafe is on; when a failsafe landing's pause ends. */
  private ekfBadSinceMs: number | null = null;
  private ekfGoodSinceMs: number | null = null;
  ekfFailsafeOn = false;
  private landPauseEndMs: number | null = null;
  /** PX4's commander failsafe for a mode that cannot run without a position (px4-failsafe.ts). */
  private readonly px4Failsafe = new Px4PositionFailsafe();
  /** PX4: the fence's or the lost link's failsafe action while it stands, the action its framework
   *  flies for it now (px4SelectedAction, or a warning only in the user's Land: px4KeepsLanding), and
   *  the user's intended mode, which a failsafe does not change (the position fallback checks it, not
   *  the mode flown); null while none stands. */
  private px4Requested: { readonly action: FailsafeAction; readonly flying: Px4Flown; readonly intended: FlightMode } | null = null;
  /** PX4's user intended mode, and the mode it shows once disarmed (px4-user-intention.ts). */
  private readonly px4Intention = new Px4UserIntention();
  /** The vehicle's armed state and mode at the last tick (px4FollowIntention). */
  private last: { readonly armed: boolean; readonly mode: FlightMode } = { armed: false, mode: 'hold' };
  /** When (simulated) PX4 last sent a mode switch's refusal text (Commander::printRejectMode sends one
   *  only more than px4RejectTextGapMs after the last); null before the first. */
  private px4RejectTextAtMs: number | null = null;
  /** When (simulated) the vehicle was first in the air (gnssLostAfterAirborneMs); null before. */
  private airborneAtMs: number | null = null;
  /** The receiver's last fix, which it repeats without one. */
  private lastReceiverFix: { readonly latDeg: number; readonly lonDeg: number; readonly altMslM: number } | null = null;

  constructor(options: SimFcOptions) {
    this.o = { sysid: 1, heartbeatIntervalMs: 1000, telemetryHz: 10, failsafeAction: 'return', offboardLossMs: 1000, speedFactor: 1, fenceAction: 'return', fenceItemsMax: limits.fenceItemsMax, navigation: { receiver: 'fix', estimate: 'gnss' }, receiverOffsetM: { northM: 0, eastM: 0 }, driftMps: 0.5, px4GlobalWhenLost: 'stream', deadReckonMs: options.family === 'px4' ? 5_000 : 7_000, ekfFailsafe: 'land', ...options };
    this.nav = this.o.navigation;
    if (this.nav.receiver !== 'fix') this.receiverLostAtMs = 0;
    // Lost from the start: held at (or drifting from) the origin, where it was switched on.
    if (!this.estimateAbsolute()) this.lostEstimate = { northM: 0, eastM: 0, atMs: 0 };
    this.wasAbsolute = this.estimateAbsolute();
    this.family = options.family;
    this.fenceActionValue = fenceActionValue(options.family, this.o.fenceAction) ?? 0;
    this.fence = new SimFence(options.family === 'ardupilot' ? 100 : null); // FENCE_ALT_MAX 100 m; GF_MAX_VER_DIST 0 (off)
    this.vehicle = new SimMultirotor({ takeoffEndsIn: options.family === 'ardupilot' ? 'guided' : 'hold' }, new Prng(options.seed), 0);
    this.endpoint = new MavlinkEndpoint({
      transport: options.transport,
      sysid: this.o.sysid,
      compid: 1,
      heartbeatIntervalMs: this.o.heartbeatIntervalMs,
      heartbeat: () => this.heartbeat(),
      ...(options.signing ? { signing: options.signing } : {}),
    });
    this.endpoint.onMessage((m) => this.handle(m));
    this.endpoint.onLink((e) => {
      if (e.type === 'up') this.companionSeen = true;
      if (e.type === 'lost' && this.companionSeen) this.onCompanionLost();
    });
    new MissionReceiver(this.endpoint, (items) => {
      this.mission = items;
      this.missionIndex = -1;
    });
    new PlanReceiver(this.endpoint, {
      missionType: missionTypeFence,
      itemsMax: this.o.fenceItemsMax,
      accept: (items) => {
        const r = this.fence.accept(items);
        if (r === common.MavMissionResult.ACCEPTED) this.fenceChanged();
        else this.send(statusText(`fence upload refused: ${(common.MavMissionResult as unknown as Record<number, string>)[r] ?? r}`, 4));
        return r;
      },
    });
  }

  private fenceChanged(): void {
    this.o.onFence?.(this.fence.status());
  }

  start(): void {
    this.endpoint.start();
    this.timers.push(setInterval(() => this.tick(), 20));
    this.timers.push(setInterval(() => sendTelemetry(this), 1000 / this.o.telemetryHz));
    this.timers.push(setInterval(() => sendSlowTelemetry(this), 1000));
  }

  stop(): void {
    this.endpoint.stop();
    for (const t of this.timers) clearInterval(t);
    for (const t of this.requested.values()) clearInterval(t);
    if (this.takeoffAckTimer) clearTimeout(this.takeoffAckTimer);
  }

  /** Simulated time since boot. */
  nowMs(): number {
    return (Date.now() - this.t0) * this.o.speedFactor;
  }

  private realMs(): number {
    return Date.now() - this.t0;
  }

  /** Changes the receiver or the estimate's source (SimNavigation); an estimate that stops being
   *  absolute is held or drifts from where it was. */
  setNavigation(n: Partial<SimNavigation>): void {
    const hadFix = this.nav.receiver === 'fix';
    this.nav = { ...this.nav, ...n };
    if (this.nav.receiver === 'fix') this.receiverLostAtMs = null;
    else if (hadFix) this.receiverLostAtMs = this.nowMs();
    if (this.nav.height === 'lost') this.lostHeightM ??= this.vehicle.state().upM;
    else this.lostHeightM = null;
    this.noteEstimate();
  }

  /** The estimator's height above home (GLOBAL_POSITION_INT relative_alt): the vehicle's, or, its
   *  vertical position lost, held where it was lost. */
  estimatedUpM(): number {
    return this.lostHeightM ?? this.vehicle.state().upM;
  }

  /** Keeps where an estimate that stopped being absolute was lost (held or drifted from there). */
  private noteEstimate(): void {
    const abs = this.estimateAbsolute();
    if (this.wasAbsolute && !abs) {
      const s = this.vehicle.state();
      this.lostEstimate = { northM: s.northM, eastM: s.eastM, atMs: this.nowMs() };
    } else if (abs) this.lostEstimate = null;
    this.wasAbsolute = abs;
  }

  navigation(): SimNavigation {
    return this.nav;
  }

  private estimateAbsolute(): boolean {
    if (this.nav.estimate === 'vision') return true;
    if (this.nav.estimate !== 'gnss') return false;
    return this.receiverLostAtMs === null || this.nowMs() - this.receiverLostAtMs <= this.o.deadReckonMs;
  }

  /** The receiver's fix now (GPS_RAW_INT): a 3D fix, off by receiverOffsetM; without one, its last
   *  coordinates (zeros before a first fix); null when none is fitted, or before its first fix. */
  receiverFix(): { readonly fixType: 1 | 3; readonly latDeg: number; readonly lonDeg: number; readonly altMslM: number; readonly hdop: number; readonly satellites: number; readonly groundSpeedMps: number; readonly courseDeg: number; readonly timeMs: number } | null {
    if (this.nav.receiver === 'absent') return null;
    const f = this.vehicle.gnssFix();
    if (this.nav.receiver === 'fix') {
      if (!f) return null; // not yet: no message, as before the receiver's first fix
      const ne = geoToLocal(this.vehicle.origin, f.latDeg, f.lonDeg);
      const geo = localToGeo(this.vehicle.origin, ne.northM + this.o.receiverOffsetM.northM, ne.eastM + this.o.receiverOffsetM.eastM);
      this.lastReceiverFix = { latDeg: geo.latDeg, lonDeg: geo.lonDeg, altMslM: f.altMslM };
      return { fixType: 3, ...this.lastReceiverFix, hdop: f.hdop, satellites: f.satellites, groundSpeedMps: f.groundSpeedMps, courseDeg: f.courseDeg, timeMs: f.timeMs };
    }
    const last = this.lastReceiverFix ?? { latDeg: 0, lonDeg: 0, altMslM: 0 };
    return { fixType: 1, ...last, hdop: 99.99, satellites: 2, groundSpeedMps: 0, courseDeg: 0, timeMs: this.nowMs() };
  }

  /** Where GLOBAL_POSITION_INT puts the vehicle (north/east of the origin), or null when the FC sends
   *  none (PX4 without an origin, or one that stops it once lost). See SimNavigation.estimate. */
  estimatedNe(): { readonly northM: number; readonly eastM: number } | null {
    const s = this.vehicle.state();
    if (this.estimateAbsolute()) return { northM: s.northM, eastM: s.eastM };
    if (this.nav.estimate === 'flow') return null; // no global origin: see globalOrigin
    if (this.family === 'px4' && this.o.px4GlobalWhenLost === 'stop') return null;
    const r = this.family === 'ardupilot' ? this.receiverFix() : null; // ArduPilot's getLLH falls back to the receiver
    if (r !== null && r.fixType === 3) return geoToLocal(this.vehicle.origin, r.latDeg, r.lonDeg);
    const l = this.lostEstimate ?? { northM: s.northM, eastM: s.eastM, atMs: this.nowMs() };
    return this.nav.estimate === 'frozen' ? l : { northM: l.northM, eastM: l.eastM + (this.o.driftMps * (this.nowMs() - l.atMs)) / 1000 };
  }

  /** Whether the estimator has a global origin (all but 'flow'): without one ArduPilot streams
   *  GLOBAL_POSITION_INT at lat 0, lon 0, PX4 none. */
  globalOrigin(): boolean {
    return this.nav.estimate !== 'flow';
  }

  /** The estimator's local position (LOCAL_POSITION_NED): the global estimate's, or the vehicle's
   *  flying on flow. */
  localNe(): { readonly northM: number; readonly eastM: number } {
    const s = this.vehicle.state();
    if (this.nav.estimate === 'flow') return { northM: s.northM, eastM: s.eastM };
    return this.estimatedNe() ?? this.lostEstimate ?? { northM: s.northM, eastM: s.eastM };
  }

  /** The estimator's flags (EKF_STATUS_REPORT, ESTIMATOR_STATUS) and horizontal position test ratio. */
  estimatorStatus(): { readonly flags: number; readonly posHorizRatio: number } {
    const f = navFlag;
    const base = f.attitude | f.velVert | (this.lostHeightM === null ? f.posVertAbs : 0);
    if (this.estimateAbsolute()) return { flags: base | f.velHoriz | f.posHorizRel | f.posHorizAbs | f.predPosHorizRel | f.predPosHorizAbs, posHorizRatio: 0.05 };
    if (this.nav.estimate === 'flow') return { flags: base | f.velHoriz | f.posHorizRel | f.predPosHorizRel, posHorizRatio: 0.1 };
    return this.nav.estimate === 'frozen' ? { flags: base | f.constPosMode, posHorizRatio: 0 } : { flags: base, posHorizRatio: 1.6 };
  }

  /** What PX4's position-loss failsafe flies now (Land and Descend look alike on MAVLink), or null. */
  px4FailsafeAction(): Px4FailsafeAction | null {
    return this.px4Failsafe.action();
  }

  missionState(): { items: number; current: number } {
    return { items: this.mission.length, current: this.missionIndex };
  }

  private heartbeat(): { type: number; autopilot: number; baseMode: number; customMode: number; systemStatus: number } {
    const s = this.vehicle.state();
    const mode = encodeMode(this.family, s.mode) ?? { customMode: 0 };
    return {
      type: 2, // MAV_TYPE_QUADROTOR
      autopilot: this.family === 'px4' ? mavAutopilotPx4 : mavAutopilotArdupilot,
      baseMode: 1 | (s.armed ? 128 : 0), // CUSTOM_MODE_ENABLED | SAFETY_ARMED
      customMode: mode.customMode,
      systemStatus: this.failsafeReason ? 5 : s.armed ? 4 : 3, // CRITICAL / ACTIVE / STANDBY
    };
  }

  private tick(): void {
    const before = this.vehicle.state();
    this.vehicle.step(this.nowMs());
    this.ardupilotKeepModeOnLanding(before);
    this.px4FollowIntention();
    this.noteEstimate();
    const s = this.vehicle.state();
    // PX4's OFFBOARD falls back to hold without setpoints (COM_OF_LOSS_T). ArduPilot's GUIDED does not:
    // a position target (DO_REPOSITION, a position setpoint) stands until replaced, and a velocity
    // setpoint lapses on its own (as GUID_TIMEOUT, 3 s on ArduPilot; here SimMultirotor.velocity's
    // holdMs, offboardLossMs). Applied to both, this
    // held every ArduPilot goto one second in, and a device on ArduPilot never flew its route.
    if (this.family === 'px4' && s.mode === 'guided' && this.realMs() - this.lastSetpointMs > this.o.offboardLossMs && s.upM > 0.5) {
      this.vehicle.hold();
      this.send(statusText('offboard setpoints lost: holding'));
    }
    if (this.missionActive) this.advanceMission();
    this.checkFence();
    this.loseGnssWhenDue();
    this.ekfCheck();
    this.px4PositionFailsafe();
    if (this.family === 'px4') this.px4RequestedFailsafe();
  }

  /**
   * ArduCopter changes no mode when it disarms (AP_Arming_Copter::disarm sets land_complete, stops the
   * motors and resets the mission, nothing more). Its landings disarm in the mode they flew: LAND
   * (ModeLand::run disarms once the land detector, land_detector.cpp update_land_detector, says
   * land_complete), RTL and SMART_RTL (ModeRTL::land_run: arming.disarm(Method::LANDED)), and AUTO after a
   * mission's land or RTL item (ModeAuto::exit_mission: arming.disarm(Method::MISSIONEXIT), still in
   * AUTO; the item itself flies here in LAND or RTL, startItem). So it shows that mode, disarmed, until
   * someone switches it; arming there is refused ("Arm: Mode not armable", command). The simulated
   * multirotor shows Hold after its touchdown's disarm (`before`: the state before this tick's step);
   * that is undone here. Before, the simulated ArduCopter showed LOITER after every landing.
   */
  private ardupilotKeepModeOnLanding(before: { readonly armed: boolean; readonly mode: FlightMode }): void {
    if (this.family !== 'ardupilot' || !before.armed || this.vehicle.state().armed) return;
    this.vehicle.setMode(this.missionActive ? 'mission' : before.mode);
  }

  /**
   * PX4's user intention follows the vehicle (px4-user-intention.ts): a take-off done is the user's
   * Loiter (Commander::run switches the intention once the take-off's mission result says finished;
   * not a failsafe's Hold), and a disarm (the land detector's, or a command's) goes back to the mode
   * before any that prevents arming (UserModeIntention::onDisarm), which HEARTBEAT shows from then on:
   * a copter landed in Land or Return shows Hold again, or Offboard, or Mission. Before, it showed
   * Hold after every landing (the simulated multirotor's), whatever it flew before.
   */
  private px4FollowIntention(): void {
    const s = this.vehicle.state();
    if (this.family === 'px4') {
      const failsafeActs = this.px4Requested !== null || this.px4Failsafe.action() !== null;
      if (this.px4Intention.current() === 'takeoff' && this.last.mode === 'takeoff' && s.mode === 'hold' && !failsafeActs) this.px4Intention.change('hold');
      if (this.last.armed && !s.armed) this.vehicle.setMode(this.px4Intention.onDisarm());
    }
    this.last = { armed: s.armed, mode: this.vehicle.state().mode };
  }

  /** The positions PX4's commander sees (Px4Position): global while the estimate is absolute, local
   *  while it is absolute or relative (optical flow: ESTIMATOR_STATUS POS_HORIZ_REL). */
  private px4Position(): Px4Position {
    return { global: this.estimateAbsolute(), local: this.estimateOk() };
  }

  /**
   * PX4's commander failsafe, armed, for a mode that cannot run without its position (px4-failsafe.ts:
   * what is simulated and what not): it flies Land (a local position left) or Descend (none; here it
   * lands in place as Land does, both AUTO_LAND on MAVLink) in place of Mission, Hold, Return, Takeoff
   * or Offboard, at once, saying "Failsafe activated" (CRITICAL); a mission stops where it is. The
   * position back, the user's mode is flown again: Mission from its current item, Hold where the
   * vehicle is (Navigator's loiter), Return, Offboard (the next setpoint steers it), Takeoff as Hold.
   */
  private px4PositionFailsafe(): void {
    if (this.family !== 'px4' || this.o.ekfFailsafe === 'off') return;
    const s = this.vehicle.state();
    // The user's mode, not one another failsafe flies in its place (px4Requested).
    const e = this.px4Failsafe.step(s.armed, this.px4Requested?.intended ?? s.mode, this.px4Position());
    if (e.type === 'enter') {
      this.missionActive = false;
      // Another failsafe acting (the companion's link lost, a fence breached) keeps its reason: PX4's
      // HEARTBEAT says CRITICAL while any failsafe acts (vehicle_status.failsafe), and that one goes on
      // after this one ends.
      this.failsafeReason ??= 'position lost';
      if (e.action === 'return') this.vehicle.returnToLaunch();
      else if (s.mode !== 'land') this.vehicle.land(); // Land or Descend: a landing under way goes on
      if (this.px4Requested !== null) this.px4Requested = { ...this.px4Requested, flying: e.action };
      if (e.notify) this.send(statusText(px4FailsafeText, 2));
      return;
    }
    if (e.type === 'none') return;
    if (this.failsafeReason === 'position lost') this.failsafeReason = null;
    // The fence's or the lost link's action still stands: it is flown again (px4RequestedFailsafe),
    // not the user's mode.
    if (this.px4Requested !== null) return;
    switch (e.mode) {
      case 'mission':
        if (this.mission[this.missionIndex] === undefined) {
          this.vehicle.hold();
          return;
        }
        this.missionActive = true;
        this.startItem();
        return;
      case 'return':
        this.vehicle.returnToLaunch();
        return;
      case 'land':
        if (s.mode !== 'land') this.vehicle.land();
        return;
      case 'guided':
        this.vehicle.hold();
        this.vehicle.setMode('guided');
        return;
      case 'hold':
      case 'takeoff':
      case 'manual':
      case 'unknown':
        this.vehicle.hold();
        return;
    }
  }

  /** gnssLostAfterAirborneMs: the receiver's fix goes that long after the vehicle is first in the air. */
  private loseGnssWhenDue(): void {
    const after = this.o.gnssLostAfterAirborneMs;
    if (after === undefined || this.nav.receiver !== 'fix') return;
    const s = this.vehicle.state();
    if (this.airborneAtMs === null) {
      if (s.armed && s.upM > 1) this.airborneAtMs = this.nowMs();
      return;
    }
    if (this.nowMs() - this.airborneAtMs >= after && this.receiverLostAtMs === null) this.setNavigation({ receiver: 'no-fix' });
  }

  /**
   * ArduCopter's EKF check and failsafe (ArduCopter/ekf_check.cpp), armed: its position is bad when the
   * EKF has neither an absolute position (EKF_POS_HORIZ_ABS, not in constant position mode) nor an
   * optical-flow relative one (ekf_over_threshold: "either optflow relative or absolute position
   * estimate OK"); its variances are not simulated. Bad for a second (ekfCheckFailMs) it says "EKF
   * variance: position lost" (CRITICAL) and runs its EKF failsafe (failsafe_ekf_event): in a mode that
   * needs a position, FS_EKF_ACTION 1 switches to LAND with a pause (set_mode_land_with_pause: LAND
   * holds its altitude landPauseMs, then descends, without GNSS), announced "EKF Failsafe: changed to
   * LAND Mode" (CRITICAL); in LAND already it lands on without GNSS, and a manual mode is left alone.
   * Good again for a second, the failsafe clears; the mode stays. Disarmed, it starts over.
   */
  private ekfCheck(): void {
    const s = this.vehicle.state();
    const now = this.nowMs();
    if (this.landPauseEndMs !== null && now >= this.landPauseEndMs) {
      this.landPauseEndMs = null;
      if (s.mode === 'land' && s.armed) this.vehicle.land();
    }
    if (this.family !== 'ardupilot' || this.o.ekfFailsafe === 'off' || !s.armed || !this.globalOrigin()) {
      this.ekfBadSinceMs = this.ekfGoodSinceMs = null;
      if (!s.armed) this.ekfFailsafeOn = false;
      return;
    }
    if (this.estimateOk()) {
      this.ekfBadSinceMs = null;
      this.ekfGoodSinceMs ??= now;
      if (this.ekfFailsafeOn && now - this.ekfGoodSinceMs >= ekfCheckFailMs) {
        this.ekfFailsafeOn = false;
        if (this.failsafeReason === 'EKF failsafe') this.failsafeReason = null;
      }
      return;
    }
    this.ekfGoodSinceMs = null;
    this.ekfBadSinceMs ??= now;
    if (this.ekfFailsafeOn || now - this.ekfBadSinceMs < ekfCheckFailMs) return;
    this.ekfFailsafeOn = true;
    this.send(statusText('EKF variance: position lost', 2));
    if (!positionModes.includes(s.mode)) return;
    this.missionActive = false;
    this.failsafeReason = 'EKF failsafe';
    // LAND, holding its altitude for the pause (the multirotor's hold, in mode LAND), then down.
    this.vehicle.hold();
    this.vehicle.setMode('land');
    this.landPauseEndMs = now + landPauseMs;
    this.send(statusText('EKF Failsafe: changed to LAND Mode', 2));
  }

  /** ArduCopter's estimate is good enough to navigate by: an absolute position, not in constant position
   *  mode, or an optical-flow relative one (ekf_check.cpp ekf_over_threshold; position_ok). */
  private estimateOk(): boolean {
    return this.estimateAbsolute() || this.nav.estimate === 'flow';
  }

  /**
   * Why the FC refuses to switch, armed, to `mode` for want of a position, or null. Disarmed, both
   * switch (their arming checks stop them later), and the same mode again is no change.
   * - ArduCopter (Copter::set_mode, Mode::requires_GPS): GUIDED, AUTO, LOITER and RTL while position_ok
   *   is false (in the EKF failsafe, or with neither an absolute nor an optical-flow position): "Mode
   *   change to RTL failed: requires position" (WARNING), the command answered FAILED.
   * - PX4 (UserModeIntention::change, a multicopter's mode_requirements.cpp; px4-failsafe.ts
   *   px4ModeCanRun): Mission, Hold and Return need a global position, Takeoff, Land and Offboard a
   *   local one (optical flow gives one). Commander::printRejectMode says "Switching to Return is
   *   currently not available\t" (CRITICAL; at most one a simulated second, refusalTextDue), the command
   *   answered TEMPORARILY_REJECTED. In its failsafe every switch is checked: the user's mode is not
   *   the one the failsafe flies (a Land asked while it descends without a local position is refused
   *   too).
   */
  private positionModeRefused(mode: FlightMode): { readonly text: string; readonly severity: number; readonly result: common.MavResult } | null {
    const s = this.vehicle.state();
    const inPx4Failsafe = this.family === 'px4' && this.px4Failsafe.action() !== null;
    const same = !inPx4Failsafe && (mode === s.mode || (mode === 'guided' && s.mode === 'takeoff' && this.family === 'ardupilot')); // GUIDED's take-off is GUIDED
    if (!s.armed || same) return null;
    if (this.family === 'px4') {
      if (px4ModeCanRun(mode, this.px4Position())) return null;
      // With the tab PX4 ends a text with that an event also carries (as px4FailsafeText).
      return { text: `Switching to ${px4ModeNames[mode] ?? mode} is currently not available\t`, severity: 2, result: result.TEMPORARILY_REJECTED };
    }
    if (!positionModes.includes(mode)) return null;
    if (!this.ekfFailsafeOn && this.estimateOk()) return null;
    const names: Partial<Record<FlightMode, string>> = { guided: 'GUIDED', takeoff: 'GUIDED', mission: 'AUTO', hold: 'LOITER', return: 'RTL' };
    return { text: `Mode change to ${names[mode] ?? mode} failed: requires position`, severity: 4, result: result.FAILED };
  }

  /** Whether a mode switch's refusal text goes out now: always on ArduPilot (Copter::mode_change_failed sends it
   *  each time), on PX4 only a simulated second after the last one (Commander::printRejectMode's rate
   *  limit; the companion then sees a bare TEMPORARILY_REJECTED). */
  private refusalTextDue(): boolean {
    if (this.family !== 'px4') return true;
    const now = this.nowMs();
    if (this.px4RejectTextAtMs !== null && now - this.px4RejectTextAtMs <= px4RejectTextGapMs) return false;
    this.px4RejectTextAtMs = now;
    return true;
  }

  /** The mode a command switches to: DO_SET_MODE's, RTL's, LAND's, MISSION_START's AUTO, the mode a
   *  reposition flies in (ArduPilot GUIDED, PX4 Hold), or PX4's Takeoff; null for the rest. */
  private modeCommanded(m: common.CommandLong | common.CommandInt): FlightMode | null {
    switch (m.command) {
      case mavCmd.doSetMode:
        return decodeMode(this.family, this.family === 'px4' ? ((m._param2 << 16) | (m._param3 << 24)) >>> 0 : m._param2);
      case mavCmd.navReturnToLaunch:
        return 'return';
      case mavCmd.navLand:
        return 'land';
      case mavCmd.missionStart:
        return 'mission';
      case mavCmd.doReposition:
        return this.family === 'px4' ? 'hold' : 'guided';
      case mavCmd.navTakeoff:
        return this.family === 'px4' ? 'takeoff' : null; // ArduCopter takes off in GUIDED, no switch
      default:
        return null;
    }
  }

  /** Why the fence refuses arming where the vehicle stands, or null. */
  private fenceArmingProblem(): string | null {
    const s = this.vehicle.state();
    const geo = localToGeo(this.vehicle.origin, s.northM, s.eastM);
    return this.fence.armingProblem(Math.round(geo.latDeg * 1e7), Math.round(geo.lonDeg * 1e7));
  }

  /** The FC's own fence check (ArduPilot runs it at 10 Hz, here every tick): a new breach while armed
   *  and flying runs the fence action and is announced with a critical STATUSTEXT. */
  private checkFence(): void {
    const s = this.vehicle.state();
    const geo = localToGeo(this.vehicle.origin, s.northM, s.eastM);
    const before = this.fence.status().breached;
    const breach = this.fence.check(s.armed && s.upM > 0.5, Math.round(geo.latDeg * 1e7), Math.round(geo.lonDeg * 1e7), s.upM, this.nowMs());
    if (breach !== null) {
      const a = describeFenceAction(this.family, this.fenceActionValue).name;
      const flown = a === 'return' || a === 'land' || a === 'hold' ? this.flyFailsafe(a) : a;
      if (flown === 'warn') {
        // PX4's Warn in the user's Land (px4KeepsLanding): no failsafe (HEARTBEAT stays ACTIVE, no
        // "Failsafe activated"), the landing goes on; the breach is still reported.
        this.send(statusText(`fence breached (${breach}): landing on`, 4));
      } else {
        this.missionActive = false;
        if (flown !== 'report' && flown !== 'none') this.failsafeReason = 'fence breach';
        this.send(statusText(`failsafe: fence breached (${breach}), action ${flown}`, 2));
      }
    }
    if (this.fence.status().breached !== before) this.fenceChanged();
  }

  private onCompanionLost(): void {
    const s = this.vehicle.state();
    // PX4 ignores its lost data link disarmed and in the user's Land (Failsafe::checkStateAndMode,
    // dll_loss_ignored_land: px4LinkLossIgnored): no failsafe, HEARTBEAT not CRITICAL, the landing goes
    // on. Before, the simulated PX4 climbed out of the companion's landing into Return.
    if (this.family === 'px4' && px4LinkLossIgnored(s.armed, this.px4UserMode())) return;
    this.failsafeReason = 'companion link lost';
    if (!s.armed || s.upM < 0.5) return;
    const flown = this.flyFailsafe(this.o.failsafeAction);
    if (flown === 'warn') this.failsafeReason = null; // not reached: the lost link in Land is ignored above
    else this.send(statusText(`failsafe: companion link lost, action ${flown}`, 2));
  }

  /** PX4's user intended mode (vehicle_status.nav_state_user_intention): the mode a failsafe flies in
   *  place of, else Mission while a mission runs (its land and return items show Land and Return here,
   *  but PX4 flies them in Mission), else the mode flown. */
  private px4UserMode(): FlightMode {
    return this.px4Requested?.intended ?? this.px4Failsafe.intended() ?? (this.missionActive ? 'mission' : this.vehicle.state().mode);
  }

  /**
   * Flies a failsafe's action `a` (the fence's, the companion link's) and names what it flies, for its
   * text. ArduPilot flies `a`. PX4 flies what its failsafe framework selects (px4SelectedAction: Hold
   * or Return without a global position gives way to Land, or to Descend without a local one too;
   * named 'land', as both show AUTO_LAND), and keeps selecting while the action stands (px4Requested);
   * a Return selected in the user's Land is a warning only ('warn': px4KeepsLanding), the landing goes on.
   */
  private flyFailsafe(a: FailsafeAction): FailsafeAction | 'warn' {
    if (this.family !== 'px4') {
      if (a === 'return') this.vehicle.returnToLaunch();
      else if (a === 'land') this.vehicle.land();
      else this.vehicle.hold();
      return a;
    }
    const intended = this.px4UserMode();
    const flown = this.px4Flown(a, intended);
    this.px4Requested = { action: a, flying: flown, intended };
    this.flyPx4(flown);
    return flown === 'descend' ? 'land' : flown;
  }

  /** What PX4 flies for the failsafe action `a` with the user's mode `intended` now
   *  (FailsafeBase::getSelectedAction: the fall-through, then the landing's warning). */
  private px4Flown(a: FailsafeAction, intended: FlightMode): Px4Flown {
    const p = this.px4Position();
    const selected = px4SelectedAction(a, p);
    return px4KeepsLanding(intended, selected, p) ? 'warn' : selected;
  }

  /** Flies one of PX4's failsafe actions; Land and Descend both land in place here (px4-failsafe.ts),
   *  and a landing under way goes on, as it does for a warning. */
  private flyPx4(a: Px4Flown): void {
    if (a === 'warn') return;
    if (a === 'return') this.vehicle.returnToLaunch();
    else if (a === 'hold') this.vehicle.hold();
    else if (this.vehicle.state().mode !== 'land') this.vehicle.land();
  }

  /** PX4 selects its failsafe's action afresh each cycle (getSelectedAction): while the fence's or the
   *  lost link's action stands and no position fallback acts, what it flies follows the position
   *  (a Land for want of a global position turns to Return once it is back). Disarmed, it is over
   *  (ClearCondition::OnModeChangeOrDisarm; a mode change is clearFailsafe). */
  private px4RequestedFailsafe(): void {
    const r = this.px4Requested;
    if (r === null || this.px4Failsafe.action() !== null) return;
    if (!this.vehicle.state().armed) {
      this.px4Requested = null;
      return;
    }
    const selected = this.px4Flown(r.action, r.intended);
    if (selected === r.flying) return;
    this.px4Requested = { ...r, flying: selected };
    this.flyPx4(selected);
  }

  send(msg: MavLinkData): void {
    this.endpoint.send(msg);
  }

  private handle({ msg, frame }: ReceivedMessage): void {
    if (msg instanceof common.CommandLong || msg instanceof common.CommandInt) {
      if (msg.targetSystem !== this.o.sysid) return;
      this.command(msg, frame.sysid, frame.compid);
    } else if (msg instanceof common.ParamSet || msg instanceof common.ParamRequestRead) {
      if (msg.targetSystem !== this.o.sysid) return;
      this.param(msg);
    } else if (msg instanceof common.SetPositionTargetGlobalInt || msg instanceof common.SetPositionTargetLocalNed) {
      if (msg.targetSystem !== this.o.sysid) return;
      this.lastSetpointMs = this.realMs();
      if (this.vehicle.state().mode !== 'guided') return;
      if (msg instanceof common.SetPositionTargetGlobalInt) {
        const ne = geoToLocal(this.vehicle.origin, msg.latInt / 1e7, msg.lonInt / 1e7);
        this.vehicle.goto(ne.northM, ne.eastM, msg.alt, undefined, 'guided');
      } else {
        this.vehicle.velocity(msg.vx, msg.vy, msg.vz, this.o.offboardLossMs * this.o.speedFactor);
      }
    }
  }

  /** PARAM_SET / PARAM_REQUEST_READ of the parameters sim-params.ts simulates. */
  private param(m: common.ParamSet | common.ParamRequestRead): void {
    const table = simParams(this.family, this.vehicle, this.fence, () => this.fenceChanged(), this.breachActionParam);
    answerParam(this.family, table, m, (msg) => this.send(msg));
  }

  /** The fence action's parameter: the autopilot's values that this simulation flies (SmartRTL as
   *  RTL); PX4's flight termination is refused, not simulated. */
  private readonly breachActionParam: SimValue = {
    get: () => this.fenceActionValue,
    set: (v) => {
      const name = describeFenceAction(this.family, v).name;
      // Short: the reason goes out as a STATUSTEXT of at most 50 characters.
      if (name.startsWith('unknown')) return `${v} is not a fence action (0..5)`;
      if (name === 'terminate') return `${v} (terminate) is not simulated`;
      this.fenceActionValue = v;
      return null;
    },
  };

  private ack(command: number, res: number, sysid: number, compid: number, progress = 0): void {
    const a = new common.CommandAck();
    a.command = command;
    a.result = res;
    a.progress = progress;
    a.resultParam2 = 0;
    a.targetSystem = sysid;
    a.targetComponent = compid;
    this.send(a);
  }

  /** Whether ArduCopter would start a take-off now: armed, in GUIDED, on the ground (Mode::do_user_takeoff;
   *  this FC is stricter during spool-up, where the real one still accepts a resend). */
  private ardupilotCanTakeOff(): boolean {
    const s = this.vehicle.state();
    return s.armed && s.mode === 'guided' && s.upM <= 0.3;
  }

  /** Answers a NAV_TAKEOFF that repeats one already taken (PX4's take-off here, which ArduPilot's
   *  never is: it has no final ACK to wait for), and says whether it did: IN_PROGRESS
   *  while the take-off's final ACK is pending, or that final ACK again when a resend (confirmation
   *  above 0) comes within 5 s of it, as its first copy was lost. */
  private answerTakeoffRepeat(m: common.CommandLong | common.CommandInt, sysid: number, compid: number): boolean {
    if (this.takeoffAckTimer) {
      this.ack(m.command, result.IN_PROGRESS, sysid, compid, 0);
      return true;
    }
    const retry = m instanceof common.CommandLong && m.confirmation > 0;
    const f = this.lastFinal;
    if (retry && f && f.command === m.command && this.realMs() - f.atMs < 5000) {
      this.ack(m.command, f.result, sysid, compid, 100);
      return true;
    }
    return false;
  }

  private command(m: common.CommandLong | common.CommandInt, sysid: number, compid: number): void {
    const v = this.vehicle;
    const reply = (r: { ok: boolean; error?: string }): void => {
      if (!r.ok && r.error) this.send(statusText(r.error, 4));
      this.ack(m.command, r.ok ? result.ACCEPTED : result.DENIED, sysid, compid);
    };
    // An accepted command that takes over: no failsafe of the FC's goes on (PX4: the user's new mode,
    // which its refusals below have checked, ends its failsafe's action).
    const clearFailsafe = (): void => {
      this.failsafeReason = null;
      this.px4Requested = null;
      this.px4Failsafe.userSwitched();
    };
    // PX4's commander takes an accepted switch as the user's intended mode (UserModeIntention::change).
    const intend = (r: { ok: boolean }, mode: FlightMode): void => {
      if (r.ok && this.family === 'px4') this.px4Intention.change(mode);
    };
    if (m.command === mavCmd.setMessageInterval) {
      reply(this.setInterval(m._param1, m._param2));
      return;
    }
    if (m.command === mavCmd.requestMessage) {
      // MAV_CMD_REQUEST_MESSAGE: HOME_POSITION only here (the message, then the ACK).
      if (m._param1 !== mavMsgId.homePosition) return this.ack(m.command, result.UNSUPPORTED, sysid, compid);
      this.homeRequests++;
      this.send(homePosition(this));
      return this.ack(m.command, result.ACCEPTED, sysid, compid);
    }
    if (m.command === cmdDoFenceEnable) {
      // param1: 0 disable, 1 enable, 2 disable the floor only (no floor here: nothing to do).
      const p1 = m._param1;
      if (p1 !== 0 && p1 !== 1 && p1 !== 2) return reply({ ok: false, error: `DO_FENCE_ENABLE param1 ${p1} is not 0, 1 or 2` });
      if (p1 !== 2) this.fence.setEnabled(p1 === 1);
      this.fenceChanged();
      return reply({ ok: true });
    }
    // A resent take-off (its ACK was lost, or the companion's timer ran out first) is the same
    // command again, not another one: it must not count as one that ends the take-off in progress.
    if (m.command === mavCmd.navTakeoff && this.answerTakeoffRepeat(m, sysid, compid)) return;
    // ArduCopter's take-off refused changes nothing (a mission flying goes on), so it is answered
    // before this command is counted as one that takes over.
    if (m.command === mavCmd.navTakeoff && this.family === 'ardupilot' && !this.ardupilotCanTakeOff()) {
      this.ack(m.command, result.FAILED, sysid, compid);
      return;
    }
    // A mode change refused without a position changes nothing either (ArduCopter's failsafe LAND
    // goes on): DO_SET_MODE, and the commands that switch mode (RTL, AUTO, a reposition, PX4's take-off).
    const modeWanted = this.modeCommanded(m);
    const modeRefused = modeWanted === null ? null : this.positionModeRefused(modeWanted);
    if (modeRefused !== null) {
      // PX4 prints a refused DO_SET_MODE only for a ground station (Commander: `cmd.source_component ==
      // 190`, MAV_COMP_ID_MISSIONPLANNER): a companion (191) gets the TEMPORARILY_REJECTED alone. RTL,
      // LAND, TAKEOFF, MISSION_START and a reposition print it for any sender.
      const printed = !(this.family === 'px4' && m.command === mavCmd.doSetMode && compid !== missionPlannerCompid);
      if (printed && this.refusalTextDue()) this.send(statusText(modeRefused.text, modeRefused.severity));
      this.ack(m.command, modeRefused.result, sysid, compid);
      return;
    }
    if (m.command !== mavCmd.missionStart) this.missionActive = false; // any other command takes over
    this.flightCommands++;
    switch (m.command) {
      case mavCmd.componentArmDisarm: {
        // The fence's arming check (ArduPilot "PreArm: vehicle outside fence"; PX4 the same with
        // GF_ACTION set): no arming outside an enabled fence, or inside a keep-out circle of it, where
        // it would breach at take-off.
        const fenceRefuses = m._param1 === 1 ? this.fenceArmingProblem() : null;
        // ArduCopter arms in no mode whose allows_arming() says no: RTL, SMART_RTL, AUTO_RTL and LAND
        // (where it stays after landing in them), nor AUTO without AUTO_OPTIONS' arming bit. PX4 arms in
        // no mode its requirements mark prevent-arming: AUTO.RTL and AUTO.LAND among them.
        const mode = v.state().mode;
        const ap = this.family === 'ardupilot';
        const notArmable = mode === 'return' || mode === 'land' || (ap && mode === 'mission');
        const modeRefuses = m._param1 === 1 && !v.state().armed && notArmable ? (ap ? 'Arm: Mode not armable' : 'Preflight Fail: Mode not suitable for arming') : null;
        if (fenceRefuses !== null) reply({ ok: false, error: fenceRefuses });
        else if (modeRefuses !== null) reply({ ok: false, error: modeRefuses });
        else if (m._param1 === 1) reply(v.arm());
        else reply(v.disarm(m._param2 === 21196)); // 21196: force (MAV_CMD_COMPONENT_ARM_DISARM param2)
        return;
      }
      case mavCmd.navTakeoff: {
        const p7 = m._param7;
        if (this.family === 'ardupilot') {
          // ArduCopter (handle_MAV_CMD_NAV_TAKEOFF, Mode::do_user_takeoff): ACCEPTED at once, no
          // IN_PROGRESS, or FAILED when it cannot start one: disarmed, not in GUIDED, or off the ground
          // already ("can't takeoff again!"), which is what a resend gets when the first ACK was lost.
          // (Refused before it was counted: ardupilotCanTakeOff. Here only the altitude can fail.)
          const r = v.takeoff(Number.isNaN(p7) ? 2.5 : p7);
          if (r.ok) clearFailsafe();
          this.ack(m.command, r.ok ? result.ACCEPTED : result.FAILED, sysid, compid);
          return;
        }
        const rel = Number.isNaN(p7) ? 2.5 : p7 - v.config.origin.altMslM;
        const r = v.takeoff(rel);
        if (!r.ok) {
          reply(r);
          return;
        }
        clearFailsafe();
        intend(r, 'takeoff');
        // Long-running: IN_PROGRESS now, the final ACK once the motors have spooled up.
        this.ack(m.command, result.IN_PROGRESS, sysid, compid, 0);
        // The final ACK says FAILED only if something ended the take-off: a disarm, a failsafe, or
        // another command. A climb already over (hold at the altitude) is a take-off done; it is what
        // a fast --speed shows, or a loaded machine that runs this timer late.
        const commandsAtTakeoff = this.flightCommands;
        this.takeoffAckTimer = setTimeout(() => {
          this.takeoffAckTimer = null;
          const s = v.state();
          const interrupted = !s.armed || this.failsafeReason !== null || this.flightCommands !== commandsAtTakeoff || (s.mode !== 'takeoff' && s.mode !== 'hold');
          const final = interrupted ? result.FAILED : result.ACCEPTED;
          this.lastFinal = { command: m.command, result: final, atMs: this.realMs() };
          this.ack(m.command, final, sysid, compid, 100);
        }, 300);
        return;
      }
      case mavCmd.navLand: {
        clearFailsafe();
        const r = v.land();
        intend(r, 'land');
        reply(r);
        return;
      }
      case mavCmd.navReturnToLaunch: {
        clearFailsafe();
        const r = v.returnToLaunch();
        intend(r, 'return');
        reply(r);
        return;
      }
      case mavCmd.doSetMode: {
        const r = this.setMode(modeWanted ?? 'unknown');
        if (r.ok) clearFailsafe();
        intend(r, modeWanted ?? 'unknown');
        reply(r);
        return;
      }
      case mavCmd.doReposition: {
        if (!(m instanceof common.CommandInt)) {
          reply({ ok: false, error: 'DO_REPOSITION needs COMMAND_INT' });
          return;
        }
        const ne = geoToLocal(v.origin, m._param5 / 1e7, m._param6 / 1e7);
        const speed = m._param1 > 0 ? m._param1 : undefined;
        const r = v.goto(ne.northM, ne.eastM, m._param7, speed, this.family === 'px4' ? 'hold' : 'guided');
        if (r.ok) clearFailsafe();
        intend(r, 'hold'); // PX4's reposition: Loiter
        reply(r);
        return;
      }
      case mavCmd.missionStart: {
        const r = this.setMode('mission');
        if (r.ok) clearFailsafe();
        intend(r, 'mission');
        reply(r);
        return;
      }
      default:
        this.ack(m.command, result.UNSUPPORTED, sysid, compid);
    }
  }

  /**
   * MAV_CMD_SET_MESSAGE_INTERVAL for the IMU messages: interval in microseconds (at least 10 ms here),
   * -1 stops the stream, 0 restores the default (off in this simulation, as on PX4 outside onboard mode).
   */
  private setInterval(id: number, intervalUs: number): { ok: boolean; error?: string } {
    const estimator = this.family === 'px4' ? mavMsgId.estimatorStatus : mavMsgId.ekfStatusReport;
    if (id !== mavMsgId.highresImu && id !== mavMsgId.scaledImu && id !== estimator) return { ok: false, error: `message ${id}: no interval control in the simulation` };
    const old = this.requested.get(id);
    if (old) clearInterval(old);
    this.requested.delete(id);
    const send = id === estimator ? (): void => sendEstimatorStatus(this) : (): void => sendImu(this, id);
    if (intervalUs > 0) this.requested.set(id, setInterval(send, Math.max(10, intervalUs / 1000)));
    return { ok: true };
  }

  private setMode(mode: FlightMode): { ok: boolean; error?: string } {
    const v = this.vehicle;
    switch (mode) {
      case 'hold':
        return v.hold();
      case 'land':
        return v.land();
      case 'return':
        return v.returnToLaunch();
      case 'takeoff':
        return v.takeoff(2.5);
      case 'manual':
        v.setMode('manual');
        return { ok: true };
      case 'guided':
        // PX4 refuses OFFBOARD without a recent setpoint stream; ArduPilot's GUIDED does not need one.
        if (this.family === 'px4' && this.realMs() - this.lastSetpointMs > this.o.offboardLossMs) return { ok: false, error: 'offboard refused: no setpoint stream' };
        if (v.state().upM > 0.5) v.hold(); // stop where we are until the first setpoint arrives
        v.setMode('guided');
        return { ok: true };
      case 'mission':
        if (this.mission.length === 0) return { ok: false, error: 'mission refused: no mission uploaded' };
        if (!v.state().armed) return { ok: false, error: 'mission refused: not armed' };
        // Already flying this mission (a resent MISSION_START whose ACK was lost): ArduPilot flies on,
        // as it starts a mission only when it is not running. PX4 goes to the item in param1 (0 from
        // this companion), so from the start again. An upload sets missionIndex to -1.
        if (this.family === 'ardupilot' && this.missionActive && this.missionIndex >= 0) return { ok: true };
        this.missionIndex = 0;
        this.missionActive = true;
        this.startItem();
        return { ok: true };
      case 'unknown':
        return { ok: false, error: 'unknown mode' };
    }
  }

  private startItem(): void {
    const item = this.mission[this.missionIndex];
    const v = this.vehicle;
    if (!item) {
      this.missionActive = false;
      v.hold();
      return;
    }
    const ne = geoToLocal(v.origin, item.latDeg, item.lonDeg);
    // Takeoff and waypoints fly in 'mission' mode; land and return use their own modes so the
    // vehicle disarms on touchdown as it would after an AUTO.LAND (ArduCopter flies them in AUTO, and
    // shows AUTO once disarmed here too: ardupilotKeepModeOnLanding).
    if (item.command === mavCmd.navTakeoff) {
      v.takeoff(item.relAltM);
      v.setMode('mission');
    } else if (item.command === mavCmd.navWaypoint) v.goto(ne.northM, ne.eastM, item.relAltM, undefined, 'mission');
    else if (item.command === mavCmd.navLand) v.land();
    else if (item.command === mavCmd.navReturnToLaunch) v.returnToLaunch();
  }

  private advanceMission(): void {
    const v = this.vehicle;
    const item = this.mission[this.missionIndex];
    if (!item) return;
    const reached = item.command === mavCmd.navLand || item.command === mavCmd.navReturnToLaunch ? !v.state().armed : v.atTarget(1.5);
    if (!reached) return;
    const r = new common.MissionItemReached();
    r.seq = this.missionIndex;
    this.send(r);
    this.missionIndex++;
    if (this.missionIndex >= this.mission.length) {
      this.missionActive = false;
      if (v.state().armed) v.hold();
      return;
    }
    this.startItem();
  }
}
