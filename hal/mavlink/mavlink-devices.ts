// HAL drivers over a MAVLink flight controller (firmware-bridge/mavlink/vehicle.ts): position,
// attitude, battery and flight control from the FC's telemetry and commands. Position is where the FC
// reckons the vehicle is (its fused GLOBAL_POSITION_INT: what it flies a goto by and stops at), with the
// fix quality of its receiver (GPS_RAW_INT: fix type, satellites, HDOP) when it streams one. The IMU comes
// from HIGHRES_IMU (PX4) or SCALED_IMU (ArduPilot), which the vehicle asks the FC to stream. The
// flight driver keeps the device's geofence on the FC as its own failsafe (fence-keeper.ts).

import { err, ok, type Result } from '../../runtime/lib/result.js';
import {
  deviceError,
  type Attitude,
  type AttitudeSensor,
  type Battery,
  type BatteryState,
  type DeviceError,
  type FenceKeeperStatus,
  type FlightAction,
  type FlightActionType,
  type FlightControl,
  type FlightMode,
  type GeoFence,
  type FlightState,
  type GnssFix,
  type ImuSample,
  type PositionSensor,
} from '../devices.js';
import { estimatorFlag, type EstimatorReport, type MavlinkVehicle } from '../../firmware-bridge/mavlink/vehicle.js';
import { mavlinkModesAfter } from '../../firmware-bridge/mavlink/modes.js';
import { checkFlightAction, checkReturnAltitude } from '../flight-action.js';
import { FenceKeeper, type FenceKeeperOptions } from './fence-keeper.js';

/** Telemetry older than this reads as 'stale' (the FC streams at 1-10 Hz). */
export const mavlinkStaleMs = 3000;

/** Why the link to the FC is down below MAVLink (a serial port that went away), or null. */
export type LinkProblem = () => string | null;

abstract class MavlinkDevice {
  readonly driver = 'mavlink';
  private running = false;
  constructor(
    protected readonly vehicle: MavlinkVehicle,
    private readonly linkProblem: LinkProblem = () => null,
  ) {}
  start(): Promise<void> {
    this.running = true;
    return Promise.resolve();
  }
  stop(): Promise<void> {
    this.running = false;
    return Promise.resolve();
  }
  protected fresh<T>(name: string, value: T | null): Result<{ value: T; timeMs: number }, DeviceError> {
    if (!this.running) return err(deviceError('stopped', `${this.constructor.name} is not started`));
    const at = this.vehicle.telemetry.receivedAtMs[name];
    if (value === null || at === undefined) return err(deviceError('no-data', this.why(`no ${name} from the flight controller yet`, this.vehicle.silence())));
    if (Date.now() - at > mavlinkStaleMs) return err(deviceError('stale', this.why(`newest ${name} is ${Date.now() - at} ms old`)));
    return ok({ value, timeMs: at });
  }
  /** The message with why the link is down (a port gone) or, failing that, `detail`. */
  private why(message: string, detail: string | null = null): string {
    const p = this.linkProblem() ?? detail;
    return p === null ? message : `${message}: ${p}`;
  }
}

/** GPS_FIX_TYPE: 0 no GPS, 1 no fix, 2 2D, 3 3D, 4 DGPS, 5 RTK float, 6 RTK fixed. */
function fixOf(t: number): GnssFix['fix'] {
  return t <= 1 ? 'none' : t === 2 ? '2d' : t === 3 ? '3d' : t === 4 ? 'dgps' : 'rtk';
}

export class MavlinkPosition extends MavlinkDevice implements PositionSensor {
  readonly kind = 'position';
  /** The FC's fused estimate, with its receiver's fix quality. The estimate is what the FC flies by: a
   *  goto ends where the estimate reaches the point, so arrival and stall checks read it, not the raw
   *  receiver a few metres of noise off it (source 'fc-estimate'; the receiver's is 'receiver').
   *
   *  Whether the estimate is one the FC trusts, its estimator says (EKF_STATUS_REPORT on ArduPilot,
   *  ESTIMATOR_STATUS on PX4; trustedEstimate): while it says its horizontal absolute position is
   *  good, the estimate is the position whatever the receiver says (a vision or other non-GNSS source
   *  with no GNSS fix: a 3D fix then, with no HDOP), and while it says it is not, the estimate is no
   *  position at all (ArduPilot streams it on, held or dead reckoned). Without a fresh report (an FC
   *  that streams none) the receiver's fix type rules: no fix there reads as 'none' (the estimate then
   *  drifts on dead reckoning); without a fresh GPS_RAW_INT the estimate counts as a 3D fix. Without a
   *  trusted estimate (none fresh, ArduPilot's (0, 0) before its EKF has an origin: noEstimateAtZero,
   *  or its estimator's word against it), the receiver alone. */
  fix(): Result<GnssFix, DeviceError> {
    const raw = this.fresh('GPS_RAW_INT', this.vehicle.telemetry.gpsRaw);
    if (!raw.ok && raw.error.code === 'stopped') return raw;
    const report = this.fresh('ESTIMATOR', this.vehicle.telemetry.estimator);
    const estimator = report.ok ? report.value.value : null;
    const global = noEstimateAtZero(this.fresh('GLOBAL_POSITION_INT', this.vehicle.telemetry.position));
    const fused = trustedEstimate(global, estimator);
    if (fused.ok) {
      const p = fused.value.value;
      const course = (Math.atan2(p.vy, p.vx) * 180) / Math.PI;
      const receiver = raw.ok ? qualityOf(raw.value.value) : null;
      // Without the receiver's message, or with its estimator vouching for an estimate the receiver has
      // no fix for, the estimate counts as a 3D fix: it carries no HDOP.
      const quality = receiver !== null && (estimator === null || receiver.fix !== 'none') ? receiver : { fix: '3d' as const, satellites: receiver?.satellites ?? 0, hdop: 99.99 };
      return ok({ timeMs: fused.value.timeMs, ...quality, latDeg: p.lat / 1e7, lonDeg: p.lon / 1e7, altMslM: p.alt / 1000, groundSpeedMps: Math.hypot(p.vx, p.vy) / 100, courseDeg: (course + 360) % 360, source: 'fc-estimate' });
    }
    if (!raw.ok) return global.ok ? fused : withLocalOnly(fused, this.vehicle, estimator);
    const g = raw.value.value;
    return ok({
      timeMs: raw.value.timeMs,
      ...qualityOf(g),
      latDeg: g.lat / 1e7,
      lonDeg: g.lon / 1e7,
      altMslM: g.alt / 1000,
      groundSpeedMps: g.vel === 65535 ? 0 : g.vel / 100,
      courseDeg: g.cog === 65535 ? 0 : (g.cog / 100) % 360,
      source: 'receiver',
    });
  }
}

/**
 * The estimate, unless the FC's estimator says its horizontal absolute position is not good
 * (EstimatorReport.horizAbsOk: EKF_POS_HORIZ_ABS clear, or EKF_CONST_POS_MODE or EKF_UNINITIALIZED
 * set). ArduPilot streams GLOBAL_POSITION_INT whatever its EKF answers (GCS_MAVLINK's "we send stale
 * data"): after the EKF lost its position (its GNSS or vision source gone past its dead-reckoning
 * time), the last estimate, frozen in constant position mode or walking off on dead reckoning. A
 * relative position only (optical flow: EKF_POS_HORIZ_REL) is no absolute one either: it drifts from
 * where the flow began, and the swarm's points are WGS84. No report (null): nothing said against it.
 */
function trustedEstimate<T>(r: Result<{ value: T; timeMs: number }, DeviceError>, estimator: EstimatorReport | null): Result<{ value: T; timeMs: number }, DeviceError> {
  if (!r.ok || estimator === null || estimator.horizAbsOk) return r;
  const f = estimator.flags;
  const why = (f & estimatorFlag.constPosMode) !== 0 ? 'it holds a constant position (CONST_POS_MODE)' : (f & estimatorFlag.posHorizRel) !== 0 ? 'it has a relative one only (POS_HORIZ_REL: optical flow or dead reckoning)' : 'POS_HORIZ_ABS is clear';
  return err(deviceError('no-data', `the flight controller's estimator has no horizontal absolute position (${estimator.message} flags 0x${f.toString(16)}: ${why}; horizontal position test ratio ${estimator.posHorizRatio.toFixed(2)}): its GLOBAL_POSITION_INT is an estimate it does not trust (held or dead reckoned)`));
}

/** `r` (no global estimate), saying so when the FC has a local position only: a fresh LOCAL_POSITION_NED
 *  that its estimator vouches for (POS_HORIZ_REL) with no global estimate (PX4 or ArduPilot flying on
 *  vision or optical flow without a global origin). Both autopilots stream LOCAL_POSITION_NED whatever
 *  it is worth, so without the estimator's word nothing is said. The device's tasks are WGS84 points,
 *  flown as such (DO_REPOSITION): a local position is none for them. */
function withLocalOnly(r: Result<never, DeviceError> & { ok: false }, vehicle: MavlinkVehicle, estimator: EstimatorReport | null): Result<never, DeviceError> {
  const at = vehicle.telemetry.receivedAtMs.LOCAL_POSITION_NED;
  if (estimator === null || (estimator.flags & estimatorFlag.posHorizRel) === 0) return r;
  if (vehicle.telemetry.localPosition === null || at === undefined || Date.now() - at > mavlinkStaleMs) return r;
  return err(deviceError(r.error.code, `${r.error.message}; the flight controller has a local position only (LOCAL_POSITION_NED), no global one: give its estimator a global origin (SET_GPS_GLOBAL_ORIGIN) or a GNSS fix`));
}

/**
 * ArduPilot streams GLOBAL_POSITION_INT whatever its AHRS answers (it sends its last location, "stale
 * data"): before its EKF has an origin that is lat 0, lon 0 (its Location zeroed), while the receiver
 * may already report a 3D fix. Taken as the estimate, the device stood at (0, 0) with a 3D fix, thousands
 * of kilometres from its pad. PX4 sends none until its global position is valid. Exactly (0, 0) at 1e-7
 * degrees is no place a drone flies from, so it reads as no estimate (the receiver's, if it has one).
 */
function noEstimateAtZero<T extends { lat: number; lon: number }>(r: Result<{ value: T; timeMs: number }, DeviceError>): Result<{ value: T; timeMs: number }, DeviceError> {
  if (!r.ok || r.value.value.lat !== 0 || r.value.value.lon !== 0) return r;
  return err(deviceError('no-data', 'GLOBAL_POSITION_INT is at lat 0, lon 0: the flight controller has no position estimate yet (ArduPilot before its EKF origin)'));
}

/** The receiver's fix type, satellites and HDOP from GPS_RAW_INT (UINT8_MAX / UINT16_MAX: unknown). */
function qualityOf(g: { fixType: number; satellitesVisible: number; eph: number }): Pick<GnssFix, 'fix' | 'satellites' | 'hdop'> {
  return { fix: fixOf(g.fixType), satellites: g.satellitesVisible === 255 ? 0 : g.satellitesVisible, hdop: g.eph === 65535 ? 99.99 : Math.max(0.01, g.eph / 100) };
}

export class MavlinkAttitude extends MavlinkDevice implements AttitudeSensor {
  readonly kind = 'attitude';
  attitude(): Result<Attitude, DeviceError> {
    const r = this.fresh('ATTITUDE', this.vehicle.telemetry.attitude);
    if (!r.ok) return r;
    const a = r.value.value;
    return ok({ timeMs: r.value.timeMs, rollRad: a.roll, pitchRad: a.pitch, yawRad: a.yaw, rollRateRadps: a.rollspeed, pitchRateRadps: a.pitchspeed, yawRateRadps: a.yawspeed });
  }
  imu(): Result<ImuSample, DeviceError> {
    const r = this.fresh('IMU', this.vehicle.telemetry.imu);
    if (!r.ok) return r.error.code === 'no-data' && this.vehicle.imuRefusal ? err(deviceError('unsupported', this.vehicle.imuRefusal)) : r;
    return ok({ timeMs: r.value.timeMs, accelMps2: r.value.value.accelMps2, gyroRadps: r.value.value.gyroRadps });
  }
}

export class MavlinkBattery extends MavlinkDevice implements Battery {
  readonly kind = 'battery';
  /** `cells`: the pack's series cells as configured (hal.mavlink.batteryCells), for a flight controller
   *  that reports the pack's voltage only as a whole (ArduPilot without cell monitoring does). */
  constructor(
    vehicle: MavlinkVehicle,
    linkProblem?: LinkProblem,
    private readonly cells?: number,
  ) {
    super(vehicle, linkProblem);
  }

  state(): Result<BatteryState, DeviceError> {
    const r = this.fresh('BATTERY_STATUS', this.vehicle.telemetry.battery);
    if (!r.ok) return r;
    const b = r.value.value;
    // common.xml BATTERY_STATUS: voltages[] holds cells 1-10, UINT16_MAX past the pack's count or when
    // unknown; a pack known only as a whole is in cell 0 (above 65.534 V: 65534 there, the rest in
    // cell 1); voltages_ext holds cells 11-14, 0 for none. No voltage at all is NaN: read as 0 V, the
    // telemetry model saw an empty pack and landed the drone.
    const valid = b.voltages.filter((v) => v !== 65535);
    const ext = (b.voltagesExt ?? []).filter((v) => v > 0);
    const voltageV = valid.length === 0 ? Number.NaN : [...valid, ...ext].reduce((s, v) => s + v, 0) / 1000;
    const perCell = valid.length >= 2 && valid[0] !== 65534;
    const remaining = b.batteryRemaining < 0 ? Number.NaN : b.batteryRemaining / 100;
    // MAV_BATTERY_CHARGE_STATE: 1 ok, 2 low, 3 critical, 4 emergency.
    const status = b.chargeState === 1 ? 'ok' : b.chargeState === 2 ? 'low' : b.chargeState >= 3 && b.chargeState <= 5 ? 'critical' : 'unknown';
    const cells = perCell ? valid.length + ext.length : this.cells;
    return ok({ timeMs: r.value.timeMs, voltageV, ...(cells !== undefined ? { cells } : {}), currentA: b.currentBattery < 0 ? Number.NaN : b.currentBattery / 100, remainingFraction: remaining, consumedMah: Math.max(0, b.currentConsumed), status });
  }
}

export class MavlinkFlight extends MavlinkDevice implements FlightControl {
  readonly kind = 'flight';
  private keeper: FenceKeeper | null = null;
  constructor(
    vehicle: MavlinkVehicle,
    linkProblem?: LinkProblem,
    private readonly fenceOptions?: FenceKeeperOptions,
  ) {
    super(vehicle, linkProblem);
  }
  keepFence(fence: GeoFence | null, onReport?: (s: FenceKeeperStatus) => void): void {
    this.keeper ??= new FenceKeeper(this.vehicle, this.fenceOptions);
    this.keeper.keep(fence, onReport);
  }
  fenceStatus(): FenceKeeperStatus | null {
    return this.keeper?.current() ?? null;
  }
  override stop(): Promise<void> {
    this.keeper?.stop();
    this.keeper = null;
    return super.stop();
  }
  execute(action: FlightAction): Promise<Result<void, DeviceError>> {
    const bad = checkFlightAction(action);
    if (!bad.ok) return Promise.resolve(bad);
    const r = this.fresh('HEARTBEAT', this.vehicle.telemetry.heartbeat);
    if (!r.ok) return Promise.resolve(r);
    return this.vehicle.execute(action);
  }
  modesAfter(action: FlightActionType): readonly FlightMode[] | null {
    return mavlinkModesAfter(this.vehicle.family(), action);
  }
  setReturnAltitude(relAltM: number): Promise<Result<void, DeviceError>> {
    const bad = checkReturnAltitude(relAltM);
    if (!bad.ok) return Promise.resolve(bad);
    const r = this.fresh('HEARTBEAT', this.vehicle.telemetry.heartbeat);
    if (!r.ok) return Promise.resolve(r);
    return this.vehicle.setReturnAltitude(relAltM);
  }
  state(): Result<FlightState, DeviceError> {
    const r = this.fresh('HEARTBEAT', this.vehicle.telemetry.heartbeat);
    if (!r.ok) return r;
    const said = this.vehicle.failsafeSaid();
    const state: FlightState = { timeMs: r.value.timeMs, armed: this.vehicle.armed(), mode: this.vehicle.mode(), landed: this.vehicle.landed(), home: this.vehicle.home(), failsafe: this.vehicle.failsafe(), ...(said !== null ? { failsafeSaid: said } : {}) };
    // The estimator's word against its vertical position (POS_VERT_ABS clear) makes the height unknown:
    // GLOBAL_POSITION_INT streams on then with its altitude held or drifting (MavlinkVehicle.heightProblem).
    const unknown = this.vehicle.heightProblem();
    if (unknown !== null) return ok({ ...state, heightUnknown: unknown });
    const p = this.fresh('GLOBAL_POSITION_INT', this.vehicle.telemetry.position);
    return ok(p.ok ? { ...state, heightAboveHomeM: p.value.value.relativeAlt / 1000 } : state);
  }
}

export function createMavlinkDevices(vehicle: MavlinkVehicle, linkProblem?: LinkProblem, batteryCells?: number, fenceOptions?: FenceKeeperOptions): { position: MavlinkPosition; attitude: MavlinkAttitude; battery: MavlinkBattery; flight: MavlinkFlight } {
  return { position: new MavlinkPosition(vehicle, linkProblem), attitude: new MavlinkAttitude(vehicle, linkProblem), battery: new MavlinkBattery(vehicle, linkProblem, batteryCells), flight: new MavlinkFlight(vehicle, linkProblem, fenceOptions) };
}
