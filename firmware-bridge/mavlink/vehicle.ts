// The companion computer's view of one flight controller (what MAVSDK's telemetry, action, offboard
// and mission plugins do): cached telemetry, commands with ACKs, mode changes for PX4 and ArduPilot,
// streamed guided/offboard setpoints, mission and geofence upload, and the IMU stream the anomaly agent needs
// (asked for with SET_MESSAGE_INTERVAL, since neither autopilot streams it to a companion by default).

import { ardupilotmega, common, minimal } from 'node-mavlink';
import { err, ok, type Result } from '../../runtime/lib/result.js';
import { assertNever } from '../../runtime/lib/assert.js';
import { deviceError, type DeviceError, type FlightAction, type FlightMode, type GeoPoint, type HomePoint, type LandedState, type Vec3 } from '../../hal/devices.js';
import { isAbout, type MavlinkEndpoint } from './endpoint.js';
import { CommandClient, type CommandAckInfo, type CommandOptions, type CommandTarget } from './commands.js';
import { decodeMode, encodeMode, familyOf, px4ModeNames, type AutopilotFamily } from './modes.js';
import { uploadFence, uploadMission, type UploadOptions, type UploadReport } from './mission-upload.js';
import { cmdDoFenceEnable, describeFenceAction, fenceActionParam, fenceActionValue, fenceAltitudeParam, fenceProblem, type Fence, type FenceActionReport, type FenceActionWanted } from './fence.js';
import { frameGlobalRelativeAltInt, type MissionItem } from './mission-item.js';
import { mavParamType, paramEncoding, ParamClient, returnAltitudeParam } from './params.js';
import { checkReturnAltitude } from '../../hal/flight-action.js';

export const mavCmd = {
  navWaypoint: 16,
  navReturnToLaunch: 20,
  navLand: 21,
  navTakeoff: 22,
  doSetMode: 176,
  doReposition: 192,
  missionStart: 300,
  componentArmDisarm: 400,
  setMessageInterval: 511,
  requestMessage: 512,
} as const;

/** The commands after which the vehicle flies on by itself (home, down, up, its mission): one resent
 *  after a newer flight action would undo it, so that action supersedes them (execute). */
const selfFlyingCommands = [mavCmd.navReturnToLaunch, mavCmd.navLand, mavCmd.navTakeoff, mavCmd.missionStart];
/** What each flight action supersedes of the commands still awaiting their ACK (execute). A return or a
 *  landing ends every other movement: a goto's or a hold's resend after it switched the FC out of it
 *  (a battery reserve's return undone by the last goto's resend, which flew the drone on to the
 *  waypoint). A hold ends a goto too: its resend flew the drone on out of a reflex's (link loss) or the
 *  mission's hold. A goto replaces a goto, a hold a mode change: the newer was refused as "already
 *  awaiting an ACK" (a re-plan on a lossy link failed its task, and the older goto flew on). */
const supersededBy: { readonly [K in FlightAction['type']]: readonly number[] } = {
  arm: [],
  disarm: [],
  velocity: [], // streamed by a reflex beside the executor's commands
  takeoff: selfFlyingCommands,
  goto: [...selfFlyingCommands, mavCmd.doReposition],
  hold: [...selfFlyingCommands, mavCmd.doSetMode, mavCmd.doReposition],
  land: [...selfFlyingCommands, mavCmd.doReposition, mavCmd.doSetMode],
  'return-to-launch': [...selfFlyingCommands, mavCmd.doReposition, mavCmd.doSetMode],
};

/** Message ids of the IMU streams: PX4 sends HIGHRES_IMU (SI floats), ArduPilot SCALED_IMU (mG, mrad/s). */
export const mavMsgId = { scaledImu: 26, highresImu: 105, homePosition: 242, ekfStatusReport: 193, estimatorStatus: 230 } as const;

/** Flag bits ArduPilot's EKF_STATUS_REPORT (EKF_STATUS_FLAGS, ardupilotmega.xml) and PX4's ESTIMATOR_STATUS
 *  (ESTIMATOR_STATUS_FLAGS, common.xml) share, and ArduPilot's "not initialised" (in PX4's, that bit is a
 *  GPS glitch). POS_VERT_ABS (32): the vertical position (absolute) estimate is good; POS_VERT_AGL (64):
 *  the one above the ground is. */
export const estimatorFlag = { posHorizRel: 8, posHorizAbs: 16, posVertAbs: 32, posVertAgl: 64, constPosMode: 128, predPosHorizAbs: 512, ekfUninitialized: 1024 } as const;

/**
 * What the flight controller says of its own horizontal position estimate: ArduPilot's EKF_STATUS_REPORT
 * (ardupilotmega.xml, msgid 193) or PX4's ESTIMATOR_STATUS (common.xml, msgid 230). ArduPilot sets
 * EKF_POS_HORIZ_ABS while its EKF fuses an absolute position (GNSS, or an external vision system once
 * it has an origin) and has not timed out on it, and the filter is healthy (NavEKF3 getFilterStatus:
 * doingNormalGpsNav && filterHealthy); ArduCopter flies by its position, once armed, only with that
 * flag set and EKF_CONST_POS_MODE clear (Copter::ekf_has_absolute_position). Its GLOBAL_POSITION_INT
 * streams on without it: the last estimate, dead reckoned or held.
 */
export interface EstimatorReport {
  readonly message: 'EKF_STATUS_REPORT' | 'ESTIMATOR_STATUS';
  readonly flags: number;
  /** The horizontal absolute (WGS84) position estimate is good (and the filter is not in constant
   *  position mode, nor, ArduPilot, uninitialised). */
  readonly horizAbsOk: boolean;
  /** The horizontal position's normalised innovation test ratio (ArduPilot's pos_horiz_variance, PX4's
   *  pos_horiz_ratio): at 1 and above the measurements fail the filter's check. */
  readonly posHorizRatio: number;
  /** The vertical position (absolute) estimate is good (POS_VERT_ABS, and, ArduPilot, not
   *  uninitialised): the height above home GLOBAL_POSITION_INT gives (relative_alt, its altitude less
   *  home's) is one. ArduPilot's NavEKF3 clears it on a height time-out (its baro or other height
   *  source rejected or gone) or an unhealthy filter; PX4's EKF2 while it has no valid vertical position.
   *  POS_VERT_AGL is a height above the ground under the vehicle (a rangefinder, terrain), not above
   *  home: it does not stand in for it. */
  readonly vertAbsOk: boolean;
}

function estimatorReport(message: EstimatorReport['message'], flags: number, posHorizRatio: number): EstimatorReport {
  const uninitialised = message === 'EKF_STATUS_REPORT' && (flags & estimatorFlag.ekfUninitialized) !== 0;
  const horizAbsOk = (flags & estimatorFlag.posHorizAbs) !== 0 && (flags & estimatorFlag.constPosMode) === 0 && !uninitialised;
  const vertAbsOk = (flags & estimatorFlag.posVertAbs) !== 0 && !uninitialised;
  return { message, flags, horizAbsOk, posHorizRatio, vertAbsOk };
}

/** An estimator report older than this says nothing of the estimate now (the FC streams it at 1-2 Hz;
 *  the HAL's staleness bound, hal/mavlink/mavlink-devices.ts mavlinkStaleMs). */
const estimatorFreshMs = 3_000;

const gravityMps2 = 9.80665;

const customModeEnabled = 1; // MAV_MODE_FLAG_CUSTOM_MODE_ENABLED
const safetyArmed = 128; // MAV_MODE_FLAG_SAFETY_ARMED
/** A velocity setpoint not renewed for this long lapses: the stream stops and the vehicle holds. The
 *  HAL's contract (hal/devices.ts: callers stream a velocity at 2 Hz or more) and the simulated
 *  multirotor's 1 s, with room for a loaded event loop. Before, the last velocity was streamed until
 *  another action came: a reflex that stopped sending one (its obstacle cleared) left the drone flying
 *  away at that velocity. */
const velocityLapseMs = 1_500;
const severityWarning = 4; // MAV_SEVERITY_WARNING: 0 emergency .. 7 debug
/** A STATUSTEXT naming a failsafe that says it ended (ArduPilot "... Failsafe Cleared"). */
const failsafeEnded = /\b(cleared|resolved|deactivated|recovered|restored)\b/i;
/** A STATUSTEXT of an autopilot's arming or disarming checks: ArduPilot "PreArm: ...", "Arm: ...",
 *  "Disarm: ..."; PX4 "Preflight Fail: ...", "Arming denied: ...", "Disarming denied ...". */
const armingText = /^(pre-?arm|arm|disarm|preflight|arming|disarming)\b/i;
/** A STATUSTEXT refusing a mode change: ArduCopter "Mode change to RTL failed: requires position"
 *  (4.1+; before, "Flight mode change failed"), PX4 "Switching to Return is currently not possible". */
const modeText = /^(flight )?mode change\b|^switching to\b/i;
/** How long a refusal waits for the FC's STATUSTEXT that explains it, when the ACK came first. */
const refusalTextGraceMs = 250;
const statusTextsKept = 8;
/** ArduCopter's word that its EKF check failed (ekf_check.cpp: "EKF variance: position lost" or "...: over
 *  thresholds", CRITICAL), sent just before its EKF failsafe acts ("EKF Failsafe: changed to LAND Mode"). */
const ekfVarianceText = /^EKF variance\b/i;
/** What the FC said of a failsafe (failsafeSaid): the texts this long before its announcement count. */
const failsafeTextWindowMs = 5_000;
const failsafeTextsKept = 4;
// POSITION_TARGET_TYPEMASK bits: 1/2/4 x/y/z, 8/16/32 vx/vy/vz, 64/128/256 ax/ay/az, 1024 yaw, 2048 yaw rate.
const typemaskPositionOnly = (8 | 16 | 32 | 64 | 128 | 256 | 1024 | 2048) as common.PositionTargetTypemask;
const typemaskVelocityOnly = (1 | 2 | 4 | 64 | 128 | 256 | 1024) as common.PositionTargetTypemask;

export interface Telemetry {
  position: common.GlobalPositionInt | null;
  gpsRaw: common.GpsRawInt | null;
  attitude: common.Attitude | null;
  sysStatus: common.SysStatus | null;
  battery: common.BatteryStatus | null;
  extendedState: common.ExtendedSysState | null;
  home: common.HomePosition | null;
  heartbeat: minimal.Heartbeat | null;
  /** FENCE_STATUS, streamed by the FC while its fence is enabled (ArduPilot; PX4 does not send it). */
  fenceStatus: common.FenceStatus | null;
  /** The newest IMU sample in SI units, from HIGHRES_IMU or SCALED_IMU (body frame, z down). */
  imu: { readonly accelMps2: Vec3; readonly gyroRadps: Vec3 } | null;
  /** The FC's word on its position estimate, from EKF_STATUS_REPORT or ESTIMATOR_STATUS (both as "ESTIMATOR"). */
  estimator: EstimatorReport | null;
  /** LOCAL_POSITION_NED: the FC's position in its local frame, which it may have without a global one. */
  localPosition: common.LocalPositionNed | null;
  /** Local receive time (ms) of each message name (both IMU messages as "IMU"), for staleness checks. */
  receivedAtMs: Record<string, number>;
}

type Setpoint =
  | { readonly type: 'position'; readonly target: GeoPoint }
  | { readonly type: 'velocity'; readonly northMps: number; readonly eastMps: number; readonly downMps: number; readonly yawRateRadps: number };

export interface VehicleOptions {
  /** The flight controller's system and component ids (default 1, 1). */
  readonly target?: CommandTarget;
  /** How to say which setting sets the target's system or component id to `id`, for silence() when
   *  HEARTBEATs come from another one (the device's: "set `hal.mavlink.fcSystemId: 2` in device.yaml"). */
  readonly targetFix?: (part: 'system' | 'component', id: number) => string;
  /** Forces the autopilot family; otherwise it comes from the first HEARTBEAT. */
  readonly family?: AutopilotFamily;
  readonly command?: Partial<CommandOptions>;
  /** Rate of streamed guided/offboard setpoints; PX4 requires more than 2 Hz. */
  readonly setpointRateHz?: number;
  /** The IMU stream rate asked of the FC (0: do not ask). */
  readonly imuRateHz?: number;
  /** The rate asked of the FC for its estimator's report (EKF_STATUS_REPORT, ESTIMATOR_STATUS; 0: do
   *  not ask, take what it streams). */
  readonly estimatorRateHz?: number;
}

/** How far the FC's time since boot may go back before it reads as a reboot (vehicle.noteBootTime). */
const rebootSlackMs = 1_000;
/** How long a refused resend of a take-off waits for the vehicle to show it is leaving the ground
 *  (EXTENDED_SYS_STATE taking off or in the air, or this much climb), and that climb. */
const takeoffEvidenceMs = 3_000;
const takeoffEvidenceClimbMm = 500;
/** Below this relative altitude a vehicle that reports no landed state is taken to be on the ground. */
const onGroundMm = 300;

/** Why the vehicle tells of a reboot (onReboot): the FC's time since boot went back, or its port was
 *  reopened, after which the FC may have rebooted or be another one. */
export type RebootCause = 'boot-time' | 'port-reopened';

export class MavlinkVehicle {
  readonly target: CommandTarget;
  readonly commands: CommandClient;
  readonly params: ParamClient;
  readonly telemetry: Telemetry = { position: null, gpsRaw: null, attitude: null, sysStatus: null, battery: null, extendedState: null, home: null, heartbeat: null, fenceStatus: null, imu: null, estimator: null, localPosition: null, receivedAtMs: {} };
  private setpoint: Setpoint | null = null;
  /** When the velocity being streamed was last given (velocityLapseMs). */
  private velocityAtMs = 0;
  /** Velocity streams that lapsed into a hold (velocityLapseMs), for tests and diagnostics. */
  velocityLapses = 0;
  private streamTimer: NodeJS.Timeout | null = null;
  private readonly startMs = Date.now();
  private readonly setpointRateHz: number;
  private failsafeSeen = false;
  /** The FC's STATUSTEXTs announcing a failsafe, and ArduCopter's "EKF variance" that comes before its
   *  EKF failsafe's, newest last (failsafeSaid). */
  private readonly failsafeTexts: { atMs: number; text: string }[] = [];
  /** STATUSTEXTs of severity WARNING or worse, newest last (at most statusTextsKept): what a refusal's
   *  COMMAND_ACK does not say (ArduPilot's "PreArm: ...", PX4's "Arming denied: ..."). */
  private readonly warnings: { seq: number; text: string }[] = [];
  /** How many such STATUSTEXTs were heard on this link: a refusal takes those heard after its command
   *  went out (by count, not by clock: a text for the last command arriving in the millisecond the next
   *  one went out was also taken as the next one's reason). */
  private warningsHeard = 0;
  /** Whether the IMU stream was asked for on this link (asked again after the FC comes back). */
  private imuAsked = false;
  /** Whether HOME_POSITION was asked for on this link (askHome). */
  private homeAsked = false;
  /** Why the FC refused to stream its IMU, or null. */
  imuRefusal: string | null = null;
  /** The FC's time since boot in its latest position or attitude message (null: none since the link came up). */
  private fcBootMs: number | null = null;
  private readonly rebootHandlers = new Set<(cause: RebootCause) => void>();

  constructor(
    readonly endpoint: MavlinkEndpoint,
    private readonly options: VehicleOptions = {},
  ) {
    this.target = options.target ?? { sysid: 1, compid: 1 };
    endpoint.keepPeer(this.target.sysid, this.target.compid);
    this.commands = new CommandClient(endpoint, this.target, { timeoutMs: 1000, retries: 3, inProgressTimeoutMs: 15_000, ...options.command });
    this.params = new ParamClient(endpoint, this.target, { timeoutMs: options.command?.timeoutMs ?? 1000, retries: options.command?.retries ?? 3 });
    this.setpointRateHz = Math.max(2.5, options.setpointRateHz ?? 5);
    endpoint.onMessage(({ msg, frame }) => {
      // The flight controller's own messages only: a gimbal, camera or companion computer on its system
      // id sends HEARTBEATs (and may send ATTITUDE) of its own, which must not stand for the autopilot's.
      if (frame.sysid !== this.target.sysid || (this.target.compid !== 0 && frame.compid !== this.target.compid)) return;
      const t = this.telemetry;
      if (msg instanceof common.GlobalPositionInt || msg instanceof common.Attitude) this.noteBootTime(msg.timeBootMs);
      if (msg instanceof common.GlobalPositionInt) t.position = msg;
      else if (msg instanceof common.GpsRawInt) t.gpsRaw = msg;
      else if (msg instanceof common.Attitude) t.attitude = msg;
      else if (msg instanceof common.SysStatus) t.sysStatus = msg;
      else if (msg instanceof common.BatteryStatus) t.battery = msg;
      else if (msg instanceof common.ExtendedSysState) t.extendedState = msg;
      else if (msg instanceof common.HomePosition) t.home = msg;
      else if (msg instanceof common.FenceStatus) t.fenceStatus = msg;
      else if (msg instanceof common.HighresImu) t.imu = { accelMps2: { x: msg.xacc, y: msg.yacc, z: msg.zacc }, gyroRadps: { x: msg.xgyro, y: msg.ygyro, z: msg.zgyro } };
      else if (msg instanceof ardupilotmega.EkfStatusReport) t.estimator = estimatorReport('EKF_STATUS_REPORT', msg.flags, msg.posHorizVariance);
      else if (msg instanceof common.EstimatorStatus) t.estimator = estimatorReport('ESTIMATOR_STATUS', msg.flags, msg.posHorizRatio);
      else if (msg instanceof common.LocalPositionNed) t.localPosition = msg;
      else if (msg instanceof common.ScaledImu) t.imu = { accelMps2: { x: (msg.xacc * gravityMps2) / 1000, y: (msg.yacc * gravityMps2) / 1000, z: (msg.zacc * gravityMps2) / 1000 }, gyroRadps: { x: msg.xgyro / 1000, y: msg.ygyro / 1000, z: msg.zgyro / 1000 } };
      else if (msg instanceof minimal.Heartbeat) {
        t.heartbeat = msg;
        if (!this.imuAsked) this.askImu();
        if (!this.homeAsked && t.home === null) this.askHome();
      }
      else if (msg instanceof common.StatusText) {
        // PX4 "Failsafe activated", ArduPilot "Radio Failsafe", ...; not the end of one, which ArduPilot
        // says with the same word ("Radio Failsafe Cleared", "GCS Failsafe Cleared"): read as a new
        // failsafe, it failed the task flying after the link came back (the executor's takenOver).
        const now = Date.now();
        // PX4 ends a text that an event also carries with a tab ("Failsafe activated\t": its events
        // interface's backward compatibility, by which a ground station that shows the event hides the
        // text); the tab is no part of what it says.
        const text = msg.text.replace(/\t+$/, '');
        if (/failsafe/i.test(text) && !failsafeEnded.test(text)) {
          this.failsafeSeen = true;
          this.failsafeTexts.push({ atMs: now, text });
        } else if (ekfVarianceText.test(text)) this.failsafeTexts.push({ atMs: now, text });
        if (this.failsafeTexts.length > failsafeTextsKept) this.failsafeTexts.shift();
        if (msg.severity <= severityWarning) {
          this.warnings.push({ seq: ++this.warningsHeard, text });
          if (this.warnings.length > statusTextsKept) this.warnings.shift();
        }
      } else return;
      const name = (msg.constructor as unknown as { MSG_NAME: string }).MSG_NAME;
      t.receivedAtMs[name === 'SCALED_IMU' || name === 'HIGHRES_IMU' ? 'IMU' : name === 'EKF_STATUS_REPORT' || name === 'ESTIMATOR_STATUS' ? 'ESTIMATOR' : name] = Date.now();
    });
    endpoint.onLink((e) => {
      if (e.type !== 'lost' || !isAbout(e, this.target)) return;
      this.imuAsked = false; // a rebooted FC forgets
      this.homeAsked = false;
      this.fcBootMs = null;
    });
  }

  /**
   * Handlers told when the FC rebooted, or may have, without the link being declared lost: its time
   * since boot went back (a brownout or a reboot shorter than the missed heartbeats that declare it
   * lost; cause 'boot-time'), or the port to it went away and was opened again (portReopened; cause
   * 'port-reopened': a cable pulled and plugged back in within those heartbeats, where the FC on the
   * other end may have rebooted, or be another one, and its time since boot need not show it). A
   * rebooted FC has forgotten what it was asked (an IMU stream, a fence switched on). Returns the
   * unsubscribe.
   */
  onReboot(handler: (cause: RebootCause) => void): () => void {
    this.rebootHandlers.add(handler);
    return () => this.rebootHandlers.delete(handler);
  }

  /** The port to the FC went away and was opened again (the HAL's reopening serial port): treated as a
   *  reboot, since nothing on the wire need show one (see onReboot). */
  portReopened(): void {
    this.fcBootMs = null;
    this.rebooted('port-reopened');
  }

  private rebooted(cause: RebootCause): void {
    this.imuAsked = false;
    this.homeAsked = false;
    for (const h of this.rebootHandlers) h(cause);
  }

  private noteBootTime(bootMs: number): void {
    const last = this.fcBootMs;
    this.fcBootMs = bootMs;
    // A second of slack for streams of one clock arriving out of order; time_boot_ms wraps after 49.7
    // days, which reads as a reboot too (what follows is only asking again).
    if (last === null || bootMs + rebootSlackMs >= last) return;
    this.rebooted('boot-time');
  }

  /**
   * Asks the FC to stream its IMU (MAV_CMD_SET_MESSAGE_INTERVAL): PX4 streams HIGHRES_IMU only in its
   * onboard MAVLink mode, ArduPilot SCALED_IMU only when SRx_RAW_SENS is set. Once per link; a refusal
   * is kept for status and the IMU then reads as 'no-data'. Then its estimator's report (askEstimator).
   */
  private askImu(): void {
    const rate = this.options.imuRateHz ?? 10;
    const fam = this.family();
    if (fam === null) return;
    this.imuAsked = true;
    if (rate <= 0) return this.askEstimator(fam);
    const id = fam === 'px4' ? mavMsgId.highresImu : mavMsgId.scaledImu;
    void this.commands.long(mavCmd.setMessageInterval, [id, Math.round(1e6 / rate)]).then((r) => {
      this.imuRefusal = r.ok ? null : `the flight controller did not start the IMU stream (message ${id}): ${r.error.message}`;
      this.askEstimator(fam);
    });
  }

  /**
   * Asks for the estimator's report (ArduPilot EKF_STATUS_REPORT, in its EXTRA3 stream group, which a
   * companion's port need not stream; PX4 ESTIMATOR_STATUS), which says whether the position the FC
   * streams is one it trusts (EstimatorReport). After the IMU's: one command of an id awaits its ACK at
   * a time. A refusal leaves whatever the FC streams of it.
   */
  private askEstimator(fam: AutopilotFamily): void {
    const rate = this.options.estimatorRateHz ?? 2;
    if (rate <= 0) return;
    void this.commands.long(mavCmd.setMessageInterval, [fam === 'px4' ? mavMsgId.estimatorStatus : mavMsgId.ekfStatusReport, Math.round(1e6 / rate)]);
  }

  /**
   * Asks for HOME_POSITION once per link (MAV_CMD_REQUEST_MESSAGE), as ground stations do: ArduPilot
   * sends it when home is set and when asked, not as a stream, so a companion started with the vehicle
   * in the air (restarted in flight) would otherwise go without it, and without the ground's altitude.
   */
  private askHome(): void {
    this.homeAsked = true;
    void this.commands.long(mavCmd.requestMessage, [mavMsgId.homePosition]);
  }

  family(): AutopilotFamily | null {
    if (this.options.family) return this.options.family;
    const hb = this.telemetry.heartbeat;
    return hb ? familyOf(hb.autopilot) : null;
  }

  /**
   * Until the first HEARTBEAT from the flight controller, what the link did carry and what that points
   * to (the usual set-up mistakes: wrong system id, MAVLink 1, signing on one side only, wrong baud
   * rate, no data at all); null once a HEARTBEAT has come.
   */
  silence(): string | null {
    if (this.telemetry.heartbeat !== null) return null;
    const e = this.endpoint;
    const c = e.counters();
    const on = e.transportName;
    // Other components of our own system (a camera, a second companion process) are not candidates.
    const others = e.heardSystems().filter((s) => s !== this.target.sysid && s !== e.sysid);
    const fix = this.options.targetFix;
    const ifItIs = (part: 'system' | 'component', ids: readonly number[]): string => {
      if (!fix || ids.length === 0) return '';
      return ids.length === 1 ? `; if ${part} ${ids[0]} is the flight controller, ${fix(part, ids[0] as number)}` : `; if one of them is the flight controller, ${fix(part, ids[0] as number)} with its id in place of ${ids[0]}`;
    };
    if (others.length > 0) return `HEARTBEATs arrive on ${on} from system ${others.join(', ')}, but the flight controller is expected as system ${this.target.sysid}${ifItIs('system', others)}`;
    const components = e.heardComponents(this.target.sysid);
    if (components.length > 0) return `HEARTBEATs arrive on ${on} from system ${this.target.sysid} component ${components.join(', ')} only, but the flight controller is expected as component ${this.target.compid} (an autopilot is component 1; a gimbal, camera or companion computer is not one)${ifItIs('component', components)}`;
    // Its HEARTBEATs only: any CRC-valid MAVLink 1 frame was counted, and random bytes from a wrong baud
    // rate make one every 10 MB or so (two minutes at 921600), which then hid the baud rate advice.
    if (c.v1Heartbeats > 0) return `the flight controller sends MAVLink 1 (${c.v1Heartbeats} HEARTBEATs on ${on}); Murmur speaks MAVLink 2 only: set its port to MAVLink 2 (ArduPilot: SERIALn_PROTOCOL = 2; PX4: MAV_PROTO_VER = 2)`;
    if (c.rejectedUnsigned > 0) return `${c.rejectedUnsigned} unsigned frames refused on ${on}: a signing key is set here but the flight controller does not sign`;
    if (c.rejectedSignature > 0) return `${c.rejectedSignature} frames with a wrong signature refused on ${on}: the signing keys differ`;
    if (c.bytesReceived > 0 && c.framesReceived === 0) return `${c.bytesReceived} bytes received on ${on} but no valid MAVLink 2 frame (${c.badCrc} failed the CRC check): check that the baud rate matches the flight controller's`;
    if (c.bytesReceived === 0) return `nothing received on ${on}: check the wiring (TX to RX) and that the flight controller runs MAVLink on that port`;
    return null;
  }

  connected(): boolean {
    return this.endpoint.isPeerUp(this.target.sysid, this.target.compid);
  }

  armed(): boolean {
    return ((this.telemetry.heartbeat?.baseMode ?? 0) & safetyArmed) !== 0;
  }

  mode(): FlightMode {
    const hb = this.telemetry.heartbeat;
    const fam = this.family();
    return hb && fam ? decodeMode(fam, hb.customMode) : 'unknown';
  }

  landed(): LandedState {
    switch (this.telemetry.extendedState?.landedState) {
      case common.MavLandedState.ON_GROUND:
        return 'on-ground';
      case common.MavLandedState.TAKEOFF:
        return 'taking-off';
      case common.MavLandedState.IN_AIR:
        return 'in-air';
      case common.MavLandedState.LANDING:
        return 'landing';
      default:
        return 'unknown';
    }
  }

  home(): HomePoint | null {
    const h = this.telemetry.home;
    return h ? { latDeg: h.latitude / 1e7, lonDeg: h.longitude / 1e7, relAltM: 0, altMslM: h.altitude / 1000 } : null;
  }

  /** True once the FC announced a failsafe (STATUSTEXT), until the next accepted action. */
  failsafe(): boolean {
    return this.failsafeSeen;
  }

  /** While failsafe(): what the FC said of it, its texts quoted, oldest first (ArduCopter's EKF
   *  failsafe: "EKF variance: position lost", "EKF Failsafe: changed to LAND Mode"); else null. */
  failsafeSaid(): string | null {
    const last = this.failsafeTexts[this.failsafeTexts.length - 1];
    if (!this.failsafeSeen || last === undefined) return null;
    return this.failsafeTexts.filter((t) => last.atMs - t.atMs <= failsafeTextWindowMs).map((t) => `"${t.text}"`).join(', ');
  }

  /**
   * Why the FC's height above home (GLOBAL_POSITION_INT relative_alt) is not to be trusted, or null: its
   * estimator's fresh report says its vertical position is not valid (EstimatorReport.vertAbsOk false:
   * POS_VERT_ABS clear). Both autopilots stream GLOBAL_POSITION_INT on then, its altitude held or
   * integrated from the accelerometers. Without a fresh report, nothing is said against it.
   */
  heightProblem(): string | null {
    const e = this.telemetry.estimator;
    const at = this.telemetry.receivedAtMs.ESTIMATOR;
    if (e === null || at === undefined || Date.now() - at > estimatorFreshMs || e.vertAbsOk) return null;
    const agl = (e.flags & estimatorFlag.posVertAgl) !== 0 ? ' (POS_VERT_AGL is set: a height above the ground under it, not above home)' : '';
    return `the flight controller's estimator has no valid vertical position (${e.message} flags 0x${e.flags.toString(16)}: POS_VERT_ABS is clear${agl}): its height above home is not known`;
  }

  /** GLOBAL_POSITION_INT's relative_alt (mm) while the estimator does not say it is invalid (heightProblem), else null. */
  private trustedRelativeAltMm(): number | null {
    const p = this.telemetry.position;
    return p === null || this.heightProblem() !== null ? null : p.relativeAlt;
  }

  /**
   * A vehicle left in a return or landing mode on the ground (ArduCopter stays in the one it landed in;
   * PX4 goes back to the mode before it once disarmed, UserModeIntention::onDisarm, unless a ground
   * station switches it there) is armed there by neither autopilot: ArduCopter in no mode whose allows_arming() says no (RTL, SMART_RTL, AUTO_RTL, LAND, and AUTO
   * by default: "Arm: Mode not armable"), PX4 in none its mode requirements mark prevent-arming
   * (AUTO.RTL, AUTO.LAND and the like: "Mode not suitable for arming"). Such a vehicle is put first in
   * ArduPilot's GUIDED, the mode its take-off flies in anyway, or PX4's hold (AUTO.LOITER), from which
   * PX4 arms. Before, every task after a return was refused for the executor's whole arming wait.
   */
  async arm(): Promise<Result<CommandAckInfo, DeviceError>> {
    const mode = this.mode();
    const fam = this.family();
    const notArmable = mode === 'return' || mode === 'land' || (fam === 'ardupilot' && mode === 'mission');
    if (fam !== null && !this.armed() && notArmable) {
      const to = fam === 'ardupilot' ? 'guided' : 'hold';
      const g = await this.setMode(to);
      if (!g.ok) return err(deviceError(g.error.code, `${to} first (${fam === 'ardupilot' ? 'ArduPilot' : 'PX4'} does not arm in mode ${mode}): ${g.error.message}`));
    }
    return this.explained(() => this.commands.long(mavCmd.componentArmDisarm, [1]));
  }

  disarm(): Promise<Result<CommandAckInfo, DeviceError>> {
    return this.explained(() => this.commands.long(mavCmd.componentArmDisarm, [0]));
  }

  /**
   * An arming or disarming command, whose refusal the FC explains in STATUSTEXT (pre-arm checks): its
   * error carries what the FC said, at WARNING or worse, between the command and its answer, or up to
   * refusalTextGraceMs after it (PX4 queues its text apart from the ACK: it can come second). The texts
   * of the arming checks (armingText: ArduPilot's "PreArm:", "Arm:", PX4's "Preflight Fail:", "Arming
   * denied") are waited for and told alone when any came; else every warning of that window. Before, the
   * first warning of any kind ended the wait: a "GPS Glitch" sent just then was given as the reason, and
   * the PreArm text after it left out. A command that changes the mode waits the same way for the text
   * refusing the change (modeText): ArduCopter refuses RTL, AUTO, GUIDED and LOITER with no position,
   * and before, a refused return told the operator only "FAILED".
   */
  private async explained(send: () => Promise<Result<CommandAckInfo, DeviceError>>, awaited: RegExp = armingText): Promise<Result<CommandAckInfo, DeviceError>> {
    const since = this.warningsHeard;
    return this.explain(await send(), since, awaited);
  }

  /** A refusal `r` of a command sent when `since` warnings had been heard, with what the FC said
   *  about it after (explained). */
  private async explain(r: Result<CommandAckInfo, DeviceError>, since: number, awaited: RegExp): Promise<Result<CommandAckInfo, DeviceError>> {
    if (r.ok) return r;
    const window = (): { seq: number; text: string }[] => this.warnings.filter((w) => w.seq > since);
    for (const t0 = Date.now(); !window().some((w) => awaited.test(w.text)) && Date.now() - t0 < refusalTextGraceMs; ) await new Promise((done) => setTimeout(done, 20));
    const all = window();
    const checks = all.filter((w) => awaited.test(w.text));
    const said = (checks.length > 0 ? checks : all).map((w) => `"${w.text}"`);
    return said.length === 0 ? r : err(deviceError(r.error.code, `${r.error.message} (the flight controller said ${said.join(', ')})`));
  }

  async setMode(mode: FlightMode): Promise<Result<CommandAckInfo, DeviceError>> {
    const fam = this.family();
    if (fam === null) return err(deviceError('no-data', 'autopilot family unknown: no HEARTBEAT from the flight controller yet'));
    const m = encodeMode(fam, mode);
    if (m === null) return err(deviceError('unsupported', `mode ${mode} cannot be commanded`));
    const r = await this.explained(() => this.commands.long(mavCmd.doSetMode, [customModeEnabled, m.param2, m.param3]), modeText);
    // PX4 says why it refused a mode switch only to a ground station (Commander prints it for component
    // 190 alone): to a companion, the bare TEMPORARILY_REJECTED, which means the mode cannot run now.
    if (!r.ok && fam === 'px4' && r.error.message.endsWith(': TEMPORARILY_REJECTED')) {
      return err(deviceError(r.error.code, `${r.error.message} (PX4 cannot fly ${px4ModeNames[mode] ?? mode} now: its requirements for that mode, such as a position, are not met; it gives the reason only to a ground station)`));
    }
    return r;
  }

  /**
   * PX4 wants an AMSL altitude in param7; ArduPilot takes off from GUIDED with a relative one.
   * ArduCopter answers a take-off it cannot start FAILED, and one already under way is such a take-off
   * ("can't takeoff again"): when the ACK of the first copy is lost, the resend is refused while the
   * vehicle climbs. So a resent take-off answered FAILED or DENIED is checked against what the vehicle
   * does: armed and leaving the ground within `takeoffEvidenceMs`, it is the take-off asked for.
   */
  async takeoff(relAltM: number): Promise<Result<CommandAckInfo, DeviceError>> {
    const fam = this.family();
    let param7: number;
    if (fam === 'ardupilot') {
      const g = await this.setMode('guided');
      if (!g.ok) return g;
      param7 = relAltM;
    } else {
      const p = this.telemetry.position;
      const homeAlt = this.home()?.altMslM ?? (p ? (p.alt - p.relativeAlt) / 1000 : null);
      if (homeAlt === null) return err(deviceError('no-data', 'takeoff needs the home altitude: no HOME_POSITION or GLOBAL_POSITION_INT yet'));
      param7 = homeAlt + relAltM;
    }
    // Its height only while its estimator does not say it is invalid: a held or drifting relative_alt
    // would tell a climb, or the ground, that is not there (trustedRelativeAltMm).
    const startMm = this.trustedRelativeAltMm();
    // Only a take-off from the ground can be told by its climb: one asked of a vehicle already up is
    // refused for that, and its answer stands.
    const fromGround = this.landed() === 'on-ground' || (this.landed() === 'unknown' && startMm !== null && startMm < onGroundMm);
    let resends = 0;
    let inProgress = false;
    const since = this.warningsHeard;
    const r = await this.commands.long(mavCmd.navTakeoff, [0, 0, 0, Number.NaN, Number.NaN, Number.NaN, param7], {
      onResend: (n) => (resends = n),
      onProgress: () => (inProgress = true),
    });
    // A refusal says why when the FC did (PX4: "Switching to Takeoff is currently not available").
    // A final verdict after IN_PROGRESS (the FC's own, repeated to a poll) is not a lost first ACK.
    if (r.ok || resends === 0 || inProgress || !fromGround || !/: (FAILED|DENIED)$/.test(r.error.message)) return this.explain(r, since, modeText);
    const leaving = (): boolean => {
      if (!this.armed()) return false;
      const l = this.landed();
      if (l === 'taking-off' || l === 'in-air') return true;
      const nowMm = this.trustedRelativeAltMm();
      return startMm !== null && nowMm !== null && nowMm - startMm >= takeoffEvidenceClimbMm;
    };
    const deadline = Date.now() + takeoffEvidenceMs;
    while (!leaving() && Date.now() < deadline) await new Promise((x) => setTimeout(x, 50));
    return leaving() ? ok({ command: mavCmd.navTakeoff, result: common.MavResult.ACCEPTED, attempts: resends + 1, sawInProgress: false }) : this.explain(r, since, modeText);
  }

  land(): Promise<Result<CommandAckInfo, DeviceError>> {
    this.stopSetpoints();
    return this.explained(() => this.commands.long(mavCmd.navLand, [0, 0, 0, Number.NaN, Number.NaN, Number.NaN, Number.NaN]), modeText);
  }

  returnToLaunch(): Promise<Result<CommandAckInfo, DeviceError>> {
    this.stopSetpoints();
    return this.explained(() => this.commands.long(mavCmd.navReturnToLaunch, []), modeText);
  }

  /** The altitude return-to-launch flies home at (MAVSDK's set_return_to_launch_altitude): ArduPilot's
   *  RTL_ALT or PX4's RTL_RETURN_ALT, through the parameter protocol. */
  async setReturnAltitude(relAltM: number): Promise<Result<void, DeviceError>> {
    const bad = checkReturnAltitude(relAltM);
    if (!bad.ok) return bad;
    const fam = this.family();
    if (fam === null) return err(deviceError('no-data', 'autopilot family unknown: no HEARTBEAT from the flight controller yet'));
    const p = returnAltitudeParam(fam, relAltM);
    const r = await this.params.set(p.id, p.value, p.type);
    return r.ok ? ok(undefined) : r;
  }

  hold(): Promise<Result<CommandAckInfo, DeviceError>> {
    this.stopSetpoints();
    return this.setMode('hold');
  }

  /** Flies to a point with MAV_CMD_DO_REPOSITION as COMMAND_INT (lat/lon in degE7). */
  goto(target: GeoPoint, speedMps?: number): Promise<Result<CommandAckInfo, DeviceError>> {
    this.stopSetpoints();
    return this.explained(
      () =>
        this.commands.int(mavCmd.doReposition, {
          frame: frameGlobalRelativeAltInt,
          params: [speedMps ?? -1, 1, 0, Number.NaN],
          x: target.latDeg * 1e7,
          y: target.lonDeg * 1e7,
          z: target.relAltM,
        }),
      modeText,
    );
  }

  /** Starts streaming position setpoints (guided/offboard), then switches to guided mode. */
  async streamPosition(target: GeoPoint): Promise<Result<CommandAckInfo, DeviceError>> {
    return this.startStream({ type: 'position', target });
  }

  async streamVelocity(northMps: number, eastMps: number, downMps: number, yawRateRadps = 0): Promise<Result<CommandAckInfo, DeviceError>> {
    return this.startStream({ type: 'velocity', northMps, eastMps, downMps, yawRateRadps });
  }

  stopSetpoints(): void {
    this.setpoint = null;
    if (this.streamTimer) clearInterval(this.streamTimer);
    this.streamTimer = null;
  }

  upload(items: readonly MissionItem[], options: Partial<UploadOptions> = {}): Promise<Result<UploadReport, DeviceError>> {
    return uploadMission(this.endpoint, this.target, items, options);
  }

  /**
   * Puts `fence` on the flight controller as its own failsafe (MAVSDK's geofence plugin, plus the
   * ceiling and the switch): the polygon and its keep-out circles with mission_type FENCE, the ceiling
   * parameter (ArduPilot FENCE_ALT_MAX, PX4 GF_MAX_VER_DIST), ArduPilot's FENCE_TYPE (polygon, and the
   * ceiling when given: not its default circle, which would fence the vehicle 300 m round home; its
   * polygon bit covers the uploaded inclusion and exclusion polygons and circles alike, AC_Fence), then
   * MAV_CMD_DO_FENCE_ENABLE. null disables the fence and clears the polygon. Stops at the first step
   * that fails, naming it. PX4 applies an uploaded fence without the command (GF_ACTION decides);
   * an UNSUPPORTED answer to it there is not a failure.
   */
  async uploadFence(fence: Fence | null, options: Partial<UploadOptions> = {}): Promise<Result<UploadReport, DeviceError>> {
    const why = fence === null ? null : fenceProblem(fence);
    if (why !== null) return err(deviceError('rejected', `fence upload: ${why}`));
    const fam = this.family();
    if (fam === null) return err(deviceError('no-data', 'autopilot family unknown: no HEARTBEAT from the flight controller yet'));
    const enable = async (on: boolean): Promise<Result<void, DeviceError>> => {
      const r = await this.commands.long(cmdDoFenceEnable, [on ? 1 : 0, 0]);
      if (r.ok || (fam === 'px4' && r.error.message.endsWith('UNSUPPORTED'))) return ok(undefined);
      return err(deviceError(r.error.code, `fence ${on ? 'enable' : 'disable'}: ${r.error.message}`));
    };
    if (fence === null) {
      const off = await enable(false);
      if (!off.ok) return off;
      return uploadFence(this.endpoint, this.target, null, options);
    }
    const up = await uploadFence(this.endpoint, this.target, fence, options);
    if (!up.ok) return up;
    // PX4's GF_MAX_VER_DIST 0 is "no ceiling"; ArduPilot's ceiling is switched by FENCE_TYPE instead.
    const alt = fence.altMaxM ?? (fam === 'px4' ? 0 : null);
    if (alt !== null) {
      const p = fenceAltitudeParam(fam, alt);
      const r = await this.params.set(p.id, p.value, p.type);
      if (!r.ok) return err(deviceError(r.error.code, `fence ceiling: ${r.error.message}`));
    }
    if (fam === 'ardupilot') {
      const r = await this.params.set('FENCE_TYPE', 4 | (fence.altMaxM !== null ? 1 : 0), mavParamType.int32);
      if (!r.ok) return err(deviceError(r.error.code, `fence types: ${r.error.message}`));
    }
    const on = await enable(true);
    return on.ok ? up : on;
  }

  /**
   * Sets what the FC does when its fence is breached (ArduPilot FENCE_ACTION 1/2/4, PX4 GF_ACTION
   * 3/5/2 for return/land/hold). A parameter: the FC stores it in its EEPROM/flash, so it outlives
   * the flight and reboots. Resolves with the action the FC confirmed.
   */
  async setFenceAction(action: FenceActionWanted): Promise<Result<FenceActionReport, DeviceError>> {
    const fam = this.family();
    if (fam === null) return err(deviceError('no-data', 'autopilot family unknown: no HEARTBEAT from the flight controller yet'));
    const p = fenceActionParam(fam);
    const value = fenceActionValue(fam, action) as number; // return, land and hold exist on both
    const r = await this.params.set(p.id, value, p.type, paramEncoding(fam));
    return r.ok ? ok(describeFenceAction(fam, r.value)) : r;
  }

  /** Reads what the FC does when its fence is breached (FENCE_ACTION / GF_ACTION), named, with a
   *  warning when that is nothing. */
  async readFenceAction(): Promise<Result<FenceActionReport, DeviceError>> {
    const fam = this.family();
    if (fam === null) return err(deviceError('no-data', 'autopilot family unknown: no HEARTBEAT from the flight controller yet'));
    const r = await this.params.get(fenceActionParam(fam).id, paramEncoding(fam));
    return r.ok ? ok(describeFenceAction(fam, r.value.value)) : r;
  }

  startMission(): Promise<Result<CommandAckInfo, DeviceError>> {
    this.stopSetpoints();
    return this.explained(() => this.commands.long(mavCmd.missionStart, [0, 0]), modeText);
  }

  /** The HAL's flight actions mapped onto the protocol. */
  async execute(action: FlightAction): Promise<Result<void, DeviceError>> {
    let r: Result<unknown, DeviceError>;
    // A movement replaces a return, landing, take-off or mission start still awaiting its ACK, and
    // what else supersededBy names: their resends stop (CommandClient.supersede). Not a velocity,
    // which a reflex streams beside the executor's commands.
    const superseded = supersededBy[action.type];
    if (superseded.length > 0) this.commands.supersede(superseded, action.type);
    switch (action.type) {
      case 'arm':
        r = await this.arm();
        break;
      case 'disarm':
        r = await this.disarm();
        break;
      case 'takeoff':
        r = await this.takeoff(action.relAltM);
        break;
      case 'goto':
        r = await this.goto(action.target, action.speedMps);
        break;
      case 'hold':
        r = await this.hold();
        break;
      case 'land':
        r = await this.land();
        break;
      case 'return-to-launch':
        r = await this.returnToLaunch();
        break;
      case 'velocity':
        r = await this.streamVelocity(action.northMps, action.eastMps, action.downMps, action.yawRateRadps ?? 0);
        break;
      default:
        return assertNever(action, 'flight action');
    }
    if (r.ok) {
      this.failsafeSeen = false;
      this.failsafeTexts.length = 0;
    }
    return r.ok ? ok(undefined) : r;
  }

  close(): void {
    this.stopSetpoints();
  }

  private async startStream(sp: Setpoint): Promise<Result<CommandAckInfo, DeviceError>> {
    const wasStreaming = this.setpoint !== null;
    this.setpoint = sp;
    if (sp.type === 'velocity') this.velocityAtMs = Date.now();
    this.sendSetpoint();
    if (!this.streamTimer) this.streamTimer = setInterval(() => this.sendSetpoint(), 1000 / this.setpointRateHz);
    // PX4 refuses OFFBOARD unless setpoints already flow ("proof of life"): stream first, then switch.
    if (wasStreaming && this.mode() === 'guided') return ok({ command: mavCmd.doSetMode, result: 0, attempts: 0, sawInProgress: false });
    const r = await this.setMode('guided');
    if (!r.ok) this.stopSetpoints();
    return r;
  }

  private sendSetpoint(): void {
    const sp = this.setpoint;
    if (sp === null) return;
    if (sp.type === 'velocity' && Date.now() - this.velocityAtMs > velocityLapseMs) {
      this.stopSetpoints();
      this.velocityLapses++;
      // Held only out of the mode the stream put it in: a pilot's manual mode or the FC's own failsafe
      // return or landing since (the device stops renewing a reflex's velocity just then) is left alone.
      // Before, the lapse switched the vehicle from the pilot, or out of its failsafe return, to a hold.
      if (this.mode() === 'guided') void this.setMode('hold');
      return;
    }
    const bootMs = (Date.now() - this.startMs) >>> 0;
    if (sp.type === 'position') {
      const m = new common.SetPositionTargetGlobalInt();
      m.timeBootMs = bootMs;
      m.targetSystem = this.target.sysid;
      m.targetComponent = this.target.compid;
      m.coordinateFrame = frameGlobalRelativeAltInt;
      m.typeMask = typemaskPositionOnly;
      m.latInt = Math.round(sp.target.latDeg * 1e7);
      m.lonInt = Math.round(sp.target.lonDeg * 1e7);
      m.alt = sp.target.relAltM;
      this.endpoint.send(m);
    } else {
      const m = new common.SetPositionTargetLocalNed();
      m.timeBootMs = bootMs;
      m.targetSystem = this.target.sysid;
      m.targetComponent = this.target.compid;
      m.coordinateFrame = 1; // MAV_FRAME_LOCAL_NED
      m.typeMask = typemaskVelocityOnly;
      m.vx = sp.northMps;
      m.vy = sp.eastMps;
      m.vz = sp.downMps;
      m.yawRate = sp.yawRateRadps;
      this.endpoint.send(m);
    }
  }
}
