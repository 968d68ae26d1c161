// The HAL device interfaces: what agents, reflexes and the runtime see of sensors and actuators.
// Drivers (simulated, Linux, MAVLink) implement them; test/hal runs one conformance suite per interface.

import type { Result } from '../runtime/lib/result.js';

/** Every kind of device the HAL knows; a device config section names a driver for each. */
export type DeviceKind = 'position' | 'attitude' | 'battery' | 'range' | 'flight' | 'radio' | 'led';
export const deviceKinds: readonly DeviceKind[] = ['position', 'attitude', 'battery', 'range', 'flight', 'radio', 'led'];

/** Expected device failures are values (STYLE.md §6): the caller decides whether to retry or fail safe. */
export type DeviceErrorCode =
  | 'no-data' // the device has not produced a sample yet
  | 'stale' // the newest sample is older than the driver's staleness bound
  | 'io' // the port, file or socket failed
  | 'rejected' // the device refused the request (flight controller denied, arming check failed)
  | 'timeout' // no answer within the protocol's timeout and retries
  | 'superseded' // a newer action replaced it before the device confirmed it (its resends stopped)
  | 'unsupported' // this driver cannot do that
  | 'stopped'; // the device is not started or was stopped

export interface DeviceError {
  readonly code: DeviceErrorCode;
  readonly message: string;
}

export const deviceError = (code: DeviceErrorCode, message: string): DeviceError => ({ code, message });

/** The lifecycle every device shares: start once, stop once; reads before start return 'stopped'. */
export interface Device {
  readonly kind: DeviceKind;
  /** The driver name from the device config ("sim", "nmea", "mavlink", "sysfs", ...). */
  readonly driver: string;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface Vec3 {
  readonly x: number;
  readonly y: number;
  readonly z: number;
}

/** A WGS84 position; altitude relative to the home (take-off) point, metres, up positive. */
export interface GeoPoint {
  readonly latDeg: number;
  readonly lonDeg: number;
  readonly relAltM: number;
}

/** The flight controller's home: where it armed, with that ground's altitude above mean sea level. */
export interface HomePoint extends GeoPoint {
  readonly altMslM: number;
}

export type FixType = 'none' | '2d' | '3d' | 'dgps' | 'rtk';

export interface GnssFix {
  /** Device clock time of the sample (virtual in fleet-sim). */
  readonly timeMs: number;
  readonly fix: FixType;
  readonly latDeg: number;
  readonly lonDeg: number;
  /** Altitude above mean sea level, metres. */
  readonly altMslM: number;
  readonly satellites: number;
  /** Horizontal dilution of precision; lower is better (99.99 = unknown). */
  readonly hdop: number;
  readonly groundSpeedMps: number;
  /** Course over ground, degrees clockwise from true north, 0..360. */
  readonly courseDeg: number;
  /** Whose coordinates these are: 'fc-estimate', the flight controller's own fused estimate (what it
   *  flies a goto by and stops at), or 'receiver', a GNSS receiver's own fix. A driver may give either
   *  from one sample to the next (MAVLink: the receiver's while the FC has no estimate it trusts).
   *  Absent: a receiver's (the NMEA and simulated drivers). */
  readonly source?: 'fc-estimate' | 'receiver';
}

export interface PositionSensor extends Device {
  readonly kind: 'position';
  /** The newest fix; 'no-data' before the first, 'stale' when older than the driver's bound. */
  fix(): Result<GnssFix, DeviceError>;
}

export interface Attitude {
  readonly timeMs: number;
  readonly rollRad: number;
  readonly pitchRad: number;
  /** Heading, radians clockwise from north, -pi..pi. */
  readonly yawRad: number;
  readonly rollRateRadps: number;
  readonly pitchRateRadps: number;
  readonly yawRateRadps: number;
}

export interface ImuSample {
  readonly timeMs: number;
  /** Body-frame specific force (x forward, y right, z down), m/s^2; at rest z is about -9.81. */
  readonly accelMps2: Vec3;
  readonly gyroRadps: Vec3;
}

export interface AttitudeSensor extends Device {
  readonly kind: 'attitude';
  attitude(): Result<Attitude, DeviceError>;
  imu(): Result<ImuSample, DeviceError>;
}

export type BatteryStatus = 'ok' | 'low' | 'critical' | 'unknown';

export interface BatteryState {
  readonly timeMs: number;
  /** The pack's voltage, or NaN when the driver does not know it (never 0 for "unknown"). */
  readonly voltageV: number;
  /** Series cells in the pack, when the driver knows (per-cell voltages, a configured model). */
  readonly cells?: number;
  /** Positive while discharging. */
  readonly currentA: number;
  /** 0..1, or NaN when the driver cannot estimate it. */
  readonly remainingFraction: number;
  readonly consumedMah: number;
  readonly status: BatteryStatus;
}

export interface Battery extends Device {
  readonly kind: 'battery';
  state(): Result<BatteryState, DeviceError>;
}

export interface RangeReading {
  readonly timeMs: number;
  /** Distance to the nearest return, metres; equal to maxM when nothing is in range. */
  readonly distanceM: number;
  readonly minM: number;
  readonly maxM: number;
  /** Beam direction relative to the vehicle heading, radians clockwise (0 = straight ahead). */
  readonly bearingRad: number;
}

export interface RangeSensor extends Device {
  readonly kind: 'range';
  /** The newest reading of every beam, in a fixed beam order. */
  readings(): Result<readonly RangeReading[], DeviceError>;
}

/** The flight actions a swarm needs (the MAVSDK Action and Offboard plugins' core). Closed union. */
export type FlightAction =
  | { readonly type: 'arm' }
  | { readonly type: 'disarm' }
  | { readonly type: 'takeoff'; readonly relAltM: number }
  | { readonly type: 'goto'; readonly target: GeoPoint; readonly speedMps?: number }
  | { readonly type: 'hold' }
  | { readonly type: 'land' }
  | { readonly type: 'return-to-launch' }
  /** NED velocity setpoint; callers stream it (>= 2 Hz) or the vehicle falls back to hold. */
  | { readonly type: 'velocity'; readonly northMps: number; readonly eastMps: number; readonly downMps: number; readonly yawRateRadps?: number };

export type FlightActionType = FlightAction['type'];

export type FlightMode = 'manual' | 'hold' | 'takeoff' | 'guided' | 'mission' | 'land' | 'return' | 'unknown';
export type LandedState = 'on-ground' | 'taking-off' | 'in-air' | 'landing' | 'unknown';

export interface FlightState {
  readonly timeMs: number;
  readonly armed: boolean;
  readonly mode: FlightMode;
  readonly landed: LandedState;
  /** Where return-to-launch goes; null until the vehicle has a home position. */
  readonly home: HomePoint | null;
  /** True after the vehicle entered a failsafe (link loss, battery) until a new mode is commanded. */
  readonly failsafe: boolean;
  /** While `failsafe`: what the flight controller said of it, in its own words where it gives them
   *  (MAVLink STATUSTEXT, quoted: ArduCopter's EKF failsafe says "EKF variance: position lost", "EKF
   *  Failsafe: changed to LAND Mode"). Absent: nothing said, or no failsafe. */
  readonly failsafeSaid?: string;
  /**
   * The flight controller's own estimate of its height above home, metres (MAVLink: GLOBAL_POSITION_INT's
   * relative_alt, barometer and GNSS fused): the frame take-off and goto altitudes are commanded in.
   * Absent where the driver has no such estimate, or it is not fresh; the receiver's altitude over the
   * ground's is used then (runtime/device/executor.ts), unless heightUnknown says why there is none.
   */
  readonly heightAboveHomeM?: number;
  /**
   * Why the vehicle's height above home is not known, when the flight controller says so itself (MAVLink:
   * its estimator's report, EKF_STATUS_REPORT or ESTIMATOR_STATUS, has POS_VERT_ABS clear while
   * GLOBAL_POSITION_INT streams on with a held or drifting altitude). heightAboveHomeM is absent then,
   * and no other altitude stands in for it: the vehicle flies its commanded altitudes by that estimate,
   * so a receiver's altitude says nothing of where it stops. Absent: nothing said against the height.
   */
  readonly heightUnknown?: string;
}

/** A geofence in WGS84 for the flight controller to keep on its own (an inclusion polygon and an
 *  optional ceiling, metres above home). */
/** A circle the vehicle must stay out of: its centre (WGS84) and radius, metres. */
export interface GeoCircle {
  readonly latDeg: number;
  readonly lonDeg: number;
  readonly radiusM: number;
}

export interface GeoFence {
  readonly polygon: readonly { readonly latDeg: number; readonly lonDeg: number }[];
  readonly altMaxM: number | null;
  /** Circles to keep out of (the committed hazards' keep-outs), uploaded after the polygon's vertices
   *  as MAV_CMD_NAV_FENCE_CIRCLE_EXCLUSION items; absent: none. */
  readonly keepOuts?: readonly GeoCircle[];
}

/** Where the fence the device asked the flight controller to keep stands. */
export interface FenceKeeperStatus {
  /** uploading: being sent (or waiting for the FC to come up); on-fc: the FC confirmed it (null:
   *  cleared); failed: the last upload failed (`reason`), another is scheduled. */
  readonly state: 'uploading' | 'on-fc' | 'failed';
  readonly vertices: number;
  readonly altMaxM: number | null;
  /** Keep-out circles in the fence being uploaded or on the FC. */
  readonly keepOuts: number;
  /** Keep-outs wanted but not in it, and why in one line (null when none are left out): one round the
   *  drone's position (it would breach at once) goes up once the drone is out; past the FC's item
   *  budget, the nearest to the drone go up. */
  readonly keepOutsLeftOut: number;
  readonly leftOutReason: string | null;
  /** Completed uploads and failed attempts since the driver started. */
  readonly uploads: number;
  readonly failures: number;
  /** Why the last attempt failed; with on-fc, why the breach action is not known (its read failed). */
  readonly reason: string | null;
  /** What the FC does on a breach (ArduPilot FENCE_ACTION, PX4 GF_ACTION), as set after the upload or,
   *  left to the vehicle, read: return, land, hold, report, none, terminate, or "unknown N". null: not
   *  known (no fence, not on the FC yet, or the read or set failed: `reason`). */
  readonly breachAction: string | null;
  /** When that action does nothing on a breach (report only, none, warning only): the parameter, its
   *  value and the fix, in one line; else null. */
  readonly warning: string | null;
}

export interface FlightControl extends Device {
  readonly kind: 'flight';
  /** Resolves when the vehicle accepted (not completed) the action, or with the reason it did not. */
  execute(action: FlightAction): Promise<Result<void, DeviceError>>;
  state(): Result<FlightState, DeviceError>;
  /**
   * The modes the vehicle may show once it accepted `action`, while it carries it out and after (its own
   * next steps included: PX4 flies a reposition in Hold and holds after a take-off; ArduCopter takes
   * off and flies to a target in GUIDED). A mode outside them, seen after the vehicle had time to
   * report the action's, is someone else's: a pilot's switch or the FC's own failsafe (the executor's
   * takeover check, runtime/device/own-modes.ts). null: the action sets no mode (arm, disarm).
   */
  modesAfter(action: FlightActionType): readonly FlightMode[] | null;
  /** The altitude (above home) return-to-launch climbs or descends to and flies home at; resolves
   *  when the vehicle confirmed it (MAVSDK's set_return_to_launch_altitude). Not a FlightAction: it
   *  configures the vehicle's own return, which its failsafes use too. */
  setReturnAltitude(relAltM: number): Promise<Result<void, DeviceError>>;
  /** Drivers with a flight controller that can hold a fence of its own (MAVLink): keep `fence` on it
   *  (null: none), uploading it now and again after the FC comes back, retrying failures in the
   *  background. Returns at once; `onReport` hears each attempt's outcome (on-fc or failed). Absent: the driver's vehicle
   *  has no fence of its own (the simulated multirotor, kept by the agents and flight layer only). */
  keepFence?(fence: GeoFence | null, onReport?: (s: FenceKeeperStatus) => void): void;
  /** The kept fence's status; null before keepFence was called. */
  fenceStatus?(): FenceKeeperStatus | null;
}

export interface RadioCounters {
  framesSent: number;
  framesReceived: number;
  /** Sends refused because the frame exceeded mtuBytes or the transmit queue was full. */
  framesRefused: number;
}

/** A packet radio (SiK, E32/E22, LoRa): unreliable, bounded datagrams. Framing above is the link's job. */
export interface Radio extends Device {
  readonly kind: 'radio';
  readonly mtuBytes: number;
  /** Queues one datagram; false (counted) when it is too large or the queue is full. */
  send(bytes: Uint8Array): boolean;
  /** Registers the receiver; returns a function that removes it. */
  onReceive(handler: (bytes: Uint8Array, rssiDbm: number | null) => void): () => void;
  counters(): Readonly<RadioCounters>;
}

export type LedPattern =
  | { readonly type: 'off' }
  | { readonly type: 'on' }
  /** Toggles every periodMs / 2. */
  | { readonly type: 'blink'; readonly periodMs: number }
  /** The kernel's heartbeat trigger where available, else a double blink. */
  | { readonly type: 'heartbeat' };

export interface StatusLed extends Device {
  readonly kind: 'led';
  set(pattern: LedPattern): Result<void, DeviceError>;
  current(): LedPattern;
  /** Whether the LED is lit right now (for tests and the dashboard). */
  lit(): boolean;
}

/** One device of each kind, as the runtime receives them; absent kinds are simply not fitted. */
export interface DeviceSet {
  readonly position?: PositionSensor;
  readonly attitude?: AttitudeSensor;
  readonly battery?: Battery;
  readonly range?: RangeSensor;
  readonly flight?: FlightControl;
  readonly radio?: Radio;
  readonly led?: StatusLed;
}
