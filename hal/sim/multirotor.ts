// A kinematic multirotor for fleet-sim and the simulated flight controller: speed, acceleration and
// climb limits, wind and gusts, battery drain from motion, noisy GNSS and range beams against obstacles.
// Time is an input (step(nowMs)) and noise comes from a seeded Prng, so a seed replays exactly.

import type { Prng } from '../../runtime/lib/prng.js';
import { err, ok, type Result } from '../../runtime/lib/result.js';
import type { FlightMode, GnssFix, LandedState, RangeReading, Vec3 } from '../devices.js';
import { localToGeo, wrapPi, type GeoOrigin } from '../geo.js';
import { defaultSimConfig, type SimVehicleConfig } from './sim-config.js';
import { batteryStateAt, powerW, type SimBattery } from './battery-model.js';
import { rangeToObstacles, type Obstacle } from './obstacles.js';

/** Physics advances on a fixed 10 ms grid of absolute time, so the result never depends on how
 *  often step() is called, only on the times at which commands arrive. */
export const physicsTickMs = 10;
const gravityMps2 = 9.80665;

type Target =
  | { readonly type: 'none' }
  | { readonly type: 'position'; readonly northM: number; readonly eastM: number; readonly upM: number; readonly speedMps: number }
  | { readonly type: 'velocity'; readonly northMps: number; readonly eastMps: number; readonly upMps: number; readonly untilMs: number };

export interface MultirotorState {
  readonly timeMs: number;
  readonly northM: number;
  readonly eastM: number;
  readonly upM: number;
  readonly velocityNed: Vec3;
  readonly yawRad: number;
  readonly armed: boolean;
  readonly mode: FlightMode;
  readonly landed: LandedState;
}

/** A simulated vehicle entering an obstacle: where, when, and how fast it was flying. */
export interface ObstacleStrike {
  readonly timeMs: number;
  /** Index in the vehicle's config.obstacles. */
  readonly obstacle: number;
  readonly northM: number;
  readonly eastM: number;
  readonly upM: number;
  readonly speedMps: number;
}

const obstacleStrikesKept = 64;

export class SimMultirotor {
  readonly config: SimVehicleConfig;
  readonly origin: GeoOrigin;
  private readonly gnssPrng: Prng;
  private readonly windPrng: Prng;
  private readonly rangePrng: Prng;
  private tick: number;
  private n = 0;
  private e = 0;
  private u = 0;
  private vn = 0;
  private ve = 0;
  private vu = 0;
  private accel: Vec3 = { x: 0, y: 0, z: 0 };
  private yaw = 0;
  private gust = { n: 0, e: 0 };
  private target: Target = { type: 'none' };
  private modeValue: FlightMode = 'hold';
  private armedValue = false;
  private onGroundSinceMs = 0;
  /** Where return-to-launch goes: the spot the vehicle last armed on (an autopilot sets home at arming),
   *  or where it was created until then. */
  private homeNe: { northM: number; eastM: number };
  /** Return-to-launch flies at exactly this altitude (the autopilot's RTL altitude parameter). */
  private returnAltM: number;
  /** Return-to-launch in three phases: straight up or down to the return altitude, across to home at
   *  it, then down onto home. null outside a return. */
  private returnPhase: 'vertical' | 'cruise' | 'descend' | null = null;
  private battery: SimBattery;
  private gnssBias = { n: 0, e: 0, u: 0 };
  private lastFix: GnssFix | null = null;
  private lastRange: RangeReading[] = [];
  private nextGnssMs = 0;
  private nextRangeMs = 0;
  /** The obstacle the vehicle is inside now (index in config.obstacles), or -1. */
  private insideObstacle = -1;
  private strikeList: ObstacleStrike[] = [];
  /** Distance flown, metres (fleet-sim reports it). */
  odometerM = 0;

  constructor(config: Partial<SimVehicleConfig>, prng: Prng, startMs: number, startNe: { northM: number; eastM: number } = { northM: 0, eastM: 0 }) {
    this.config = { ...defaultSimConfig, ...config };
    this.origin = this.config.origin;
    this.gnssPrng = prng.split('gnss');
    this.windPrng = prng.split('wind');
    this.rangePrng = prng.split('range');
    this.tick = Math.floor(startMs / physicsTickMs);
    this.n = startNe.northM;
    this.e = startNe.eastM;
    this.homeNe = { ...startNe };
    this.returnAltM = this.config.limits.returnAltM;
    this.battery = { usedWh: 0, currentA: 0, voltageV: 0, consumedMah: 0 };
    this.nextGnssMs = this.timeMs();
    this.nextRangeMs = this.timeMs();
    this.sampleSensors(this.timeMs());
  }

  timeMs(): number {
    return this.tick * physicsTickMs;
  }

  /** Advances the world to nowMs (never backwards). */
  step(nowMs: number): void {
    const last = Math.floor(nowMs / physicsTickMs);
    for (let guard = 0; this.tick < last && guard < 1_000_000; guard++) {
      this.tick++;
      this.integrate(physicsTickMs / 1000);
      this.checkObstacles();
      this.sampleSensors(this.timeMs());
    }
  }

  /** Each time the vehicle flew into an obstacle (the simulator's truth: nothing on a real drone knows
   *  this), oldest first, at most obstacleStrikesKept. */
  strikes(): readonly ObstacleStrike[] {
    return this.strikeList;
  }

  /** Inside an obstacle's cylinder, below its top: a strike when it enters, none while it stays. */
  private checkObstacles(): void {
    const obstacles = this.config.obstacles;
    let inside = -1;
    for (let i = 0; i < obstacles.length && inside < 0; i++) {
      const o = obstacles[i] as Obstacle;
      if (this.u < o.heightM && Math.hypot(this.n - o.northM, this.e - o.eastM) < o.radiusM) inside = i;
    }
    if (inside >= 0 && inside !== this.insideObstacle && this.strikeList.length < obstacleStrikesKept) {
      this.strikeList.push({ timeMs: this.timeMs(), obstacle: inside, northM: this.n, eastM: this.e, upM: this.u, speedMps: Math.hypot(this.vn, this.ve) });
    }
    this.insideObstacle = inside;
  }

  state(): MultirotorState {
    return {
      timeMs: this.timeMs(),
      northM: this.n,
      eastM: this.e,
      upM: this.u,
      velocityNed: { x: this.vn, y: this.ve, z: -this.vu },
      yawRad: this.yaw,
      armed: this.armedValue,
      mode: this.modeValue,
      landed: this.landedState(),
    };
  }

  /** Arming checks, like an autopilot's pre-arm: a 3D fix, battery above reserve, on the ground. */
  arm(): Result<void, string> {
    if (this.armedValue) return ok(undefined);
    if (this.lastFix === null || this.lastFix.fix === 'none' || this.lastFix.fix === '2d') return err('arming check: no 3D GNSS fix');
    if (this.remainingFraction() < this.config.battery.lowFraction) return err('arming check: battery below the low threshold');
    if (this.u > 0.2) return err('arming check: not on the ground');
    this.armedValue = true;
    this.onGroundSinceMs = this.timeMs();
    this.homeNe = { northM: this.n, eastM: this.e };
    return ok(undefined);
  }

  disarm(force = false): Result<void, string> {
    if (!force && this.u > 0.2) return err('disarm refused: vehicle is in the air');
    this.armedValue = false;
    this.target = { type: 'none' };
    this.vn = this.ve = this.vu = 0;
    return ok(undefined);
  }

  takeoff(relAltM: number): Result<void, string> {
    if (!this.armedValue) return err('takeoff refused: not armed');
    if (!(relAltM > 0 && relAltM <= this.config.limits.altitudeMMax)) return err(`takeoff altitude must be in (0, ${this.config.limits.altitudeMMax}] m`);
    this.modeValue = 'takeoff';
    this.target = { type: 'position', northM: this.n, eastM: this.e, upM: relAltM, speedMps: this.config.limits.climbMpsMax };
    return ok(undefined);
  }

  goto(northM: number, eastM: number, upM: number, speedMps?: number, mode: FlightMode = 'guided'): Result<void, string> {
    if (!this.armedValue || this.u < 0.5) return err('goto refused: not flying');
    if (!(upM > 0 && upM <= this.config.limits.altitudeMMax)) return err(`goto altitude must be in (0, ${this.config.limits.altitudeMMax}] m`);
    const speed = Math.min(speedMps ?? this.config.limits.cruiseMps, this.config.limits.horizSpeedMpsMax);
    this.modeValue = mode;
    this.target = { type: 'position', northM, eastM, upM, speedMps: speed };
    return ok(undefined);
  }

  /** A velocity setpoint that lapses after holdMs without a new one (offboard "proof of life"). */
  velocity(northMps: number, eastMps: number, downMps: number, holdMs = 1000): Result<void, string> {
    if (!this.armedValue || this.u < 0.5) return err('velocity refused: not flying');
    this.modeValue = 'guided';
    this.target = { type: 'velocity', northMps, eastMps, upMps: -downMps, untilMs: this.timeMs() + holdMs };
    return ok(undefined);
  }

  hold(): Result<void, string> {
    this.modeValue = 'hold';
    this.target = this.u > 0.2 ? { type: 'position', northM: this.n, eastM: this.e, upM: this.u, speedMps: this.config.limits.cruiseMps } : { type: 'none' };
    return ok(undefined);
  }

  land(): Result<void, string> {
    if (!this.armedValue) return err('land refused: not armed');
    this.modeValue = 'land';
    this.target = { type: 'position', northM: this.n, eastM: this.e, upM: -1, speedMps: this.config.limits.cruiseMps };
    return ok(undefined);
  }

  /** Home, in the local frame: where return-to-launch lands. */
  home(): { northM: number; eastM: number } {
    return this.homeNe;
  }

  returnAltitude(): number {
    return this.returnAltM;
  }

  /** The RTL altitude parameter; a return already under way climbs or descends to the new one. */
  setReturnAltitude(relAltM: number): Result<void, string> {
    if (!(relAltM >= 2 && relAltM <= this.config.limits.altitudeMMax)) return err(`return altitude must be in [2, ${this.config.limits.altitudeMMax}] m`);
    this.returnAltM = relAltM;
    if (this.returnPhase === 'vertical' || this.returnPhase === 'cruise') this.returnLeg(this.returnPhase);
    return ok(undefined);
  }

  /** Straight up or down to the return altitude where it is, across to home at that altitude, then
   *  down onto home: two returning vehicles on different return altitudes cross without meeting. */
  returnToLaunch(): Result<void, string> {
    if (!this.armedValue) return err('return refused: not armed');
    this.modeValue = 'return';
    this.returnLeg(Math.abs(this.u - this.returnAltM) > 1 ? 'vertical' : 'cruise');
    return ok(undefined);
  }

  private returnLeg(phase: 'vertical' | 'cruise' | 'descend'): void {
    this.returnPhase = phase;
    const speedMps = this.config.limits.cruiseMps;
    if (phase === 'vertical') this.target = { type: 'position', northM: this.n, eastM: this.e, upM: this.returnAltM, speedMps };
    else if (phase === 'cruise') this.target = { type: 'position', northM: this.homeNe.northM, eastM: this.homeNe.eastM, upM: this.returnAltM, speedMps };
    else this.target = { type: 'position', northM: this.homeNe.northM, eastM: this.homeNe.eastM, upM: -1, speedMps };
  }

  /** Mode change without a new target (the FC sim uses it for 'mission' and 'manual'). */
  setMode(mode: FlightMode): void {
    this.modeValue = mode;
  }

  /** True when a position target is reached within toleranceM. */
  atTarget(toleranceM = 1): boolean {
    const t = this.target;
    if (t.type !== 'position') return false;
    return Math.hypot(t.northM - this.n, t.eastM - this.e, t.upM - this.u) <= toleranceM;
  }

  gnssFix(): GnssFix | null {
    return this.lastFix;
  }

  rangeReadings(): readonly RangeReading[] {
    return this.lastRange;
  }

  batteryState(): ReturnType<typeof batteryStateAt> {
    return batteryStateAt(this.config.battery, this.battery, this.timeMs());
  }

  remainingFraction(): number {
    return Math.max(0, 1 - this.battery.usedWh / this.config.battery.capacityWh);
  }

  /** Body-frame specific force (x forward, y right, z down) and body rates. */
  imu(): { accelMps2: Vec3; gyroRadps: Vec3 } {
    const c = Math.cos(this.yaw);
    const s = Math.sin(this.yaw);
    const fwd = c * this.accel.x + s * this.accel.y;
    const right = -s * this.accel.x + c * this.accel.y;
    return { accelMps2: { x: fwd, y: right, z: this.accel.z - gravityMps2 }, gyroRadps: { x: 0, y: 0, z: 0 } };
  }

  /** Small-angle attitude from the horizontal acceleration a multirotor must tilt to produce. */
  attitude(): { rollRad: number; pitchRad: number; yawRad: number } {
    const { accelMps2 } = this.imu();
    return { rollRad: Math.atan2(accelMps2.y, gravityMps2), pitchRad: -Math.atan2(accelMps2.x, gravityMps2), yawRad: this.yaw };
  }

  private landedState(): LandedState {
    if (this.u <= 0.05) return this.modeValue === 'takeoff' && this.armedValue ? 'taking-off' : 'on-ground';
    if (this.modeValue === 'takeoff') return 'taking-off';
    if (this.modeValue === 'land' || (this.modeValue === 'return' && this.target.type === 'position' && this.target.upM < 0)) return 'landing';
    return 'in-air';
  }

  private integrate(dtS: number): void {
    const lim = this.config.limits;
    const now = this.timeMs();
    // Desired velocity from the target, with a braking curve so the vehicle stops at the target.
    let dn = 0;
    let de = 0;
    let du = 0;
    const t = this.target;
    if (this.armedValue && t.type === 'position') {
      const en = t.northM - this.n;
      const ee = t.eastM - this.e;
      const dist = Math.hypot(en, ee);
      const vh = Math.min(t.speedMps, Math.sqrt(2 * lim.accelMps2Max * dist), dist / dtS);
      if (dist > 1e-6) {
        dn = (en / dist) * vh;
        de = (ee / dist) * vh;
      }
      const eu = t.upM - this.u;
      du = Math.max(-lim.descentMpsMax, Math.min(lim.climbMpsMax, eu * 1.5));
    } else if (this.armedValue && t.type === 'velocity') {
      if (now <= t.untilMs) {
        dn = t.northMps;
        de = t.eastMps;
        du = Math.max(-lim.descentMpsMax, Math.min(lim.climbMpsMax, t.upMps));
      } else {
        this.hold(); // setpoint stream lapsed: stop where we are
      }
    }
    // Airspeed limit: the vehicle cannot exceed its top speed through the air, so a headwind slows it.
    const wind = this.windAt(dtS);
    const airN = dn - wind.n;
    const airE = de - wind.e;
    const air = Math.hypot(airN, airE);
    if (air > lim.horizSpeedMpsMax) {
      dn = wind.n + (airN / air) * lim.horizSpeedMpsMax;
      de = wind.e + (airE / air) * lim.horizSpeedMpsMax;
    }
    // Acceleration limit on the velocity change.
    const maxDv = lim.accelMps2Max * dtS;
    const clamp = (d: number): number => Math.max(-maxDv, Math.min(maxDv, d));
    const an = clamp(dn - this.vn);
    const ae = clamp(de - this.ve);
    const au = clamp(du - this.vu);
    this.vn += an;
    this.ve += ae;
    this.vu += au;
    const flying = this.u > 0.05 || this.vu > 0;
    const gn = flying ? this.gust.n : 0;
    const ge = flying ? this.gust.e : 0;
    const stepN = (this.vn + gn) * dtS;
    const stepE = (this.ve + ge) * dtS;
    this.n += stepN;
    this.e += stepE;
    this.u += this.vu * dtS;
    this.odometerM += Math.hypot(stepN, stepE);
    this.accel = { x: an / dtS, y: ae / dtS, z: -au / dtS };
    // Heading follows the commanded direction of travel, not the braking wobble at the end.
    if (Math.hypot(dn, de) > 1) this.yaw = wrapPi(Math.atan2(de, dn));
    if (this.u <= 0) this.touchdown(now);
    else this.onGroundSinceMs = now;
    if (this.modeValue === 'takeoff' && this.atTarget(0.3)) {
      this.hold();
      this.modeValue = this.config.takeoffEndsIn;
    }
    if (this.modeValue !== 'return') this.returnPhase = null;
    else if (this.returnPhase === 'vertical' && Math.abs(this.u - this.returnAltM) < 0.5) this.returnLeg('cruise');
    else if (this.returnPhase === 'cruise' && Math.hypot(this.n - this.homeNe.northM, this.e - this.homeNe.eastM) < 1) this.returnLeg('descend');
    const p = this.armedValue ? powerW(this.config.battery, Math.hypot(this.vn - wind.n, this.ve - wind.e), this.vu) : 0;
    this.battery = this.config.battery.drain(this.battery, p, dtS);
  }

  private touchdown(now: number): void {
    this.u = 0;
    if (this.vu < 0) this.vu = 0;
    this.vn = this.ve = 0;
    // Like PX4's auto-disarm: a landing that reached the ground disarms after a moment.
    const landing = this.modeValue === 'land' || this.modeValue === 'return';
    if (this.armedValue && landing && now - this.onGroundSinceMs >= 500) {
      this.armedValue = false;
      this.target = { type: 'none' };
      this.modeValue = 'hold';
    }
  }

  /** Steady wind plus an Ornstein-Uhlenbeck gust the position controller only partly rejects. */
  private windAt(dtS: number): { n: number; e: number } {
    const w = this.config.wind;
    const theta = 0.5;
    const sigma = w.gustStdMps * Math.sqrt(2 * theta);
    this.gust = {
      n: this.gust.n - theta * this.gust.n * dtS + sigma * Math.sqrt(dtS) * this.windPrng.normal(),
      e: this.gust.e - theta * this.gust.e * dtS + sigma * Math.sqrt(dtS) * this.windPrng.normal(),
    };
    return { n: w.northMps, e: w.eastMps };
  }

  private sampleSensors(now: number): void {
    const g = this.config.gnss;
    if (now >= this.nextGnssMs) {
      this.nextGnssMs = now + Math.round(1000 / g.rateHz);
      const walk = g.biasWalkStdM;
      this.gnssBias = {
        n: this.gnssBias.n * 0.99 + this.gnssPrng.normal(0, walk),
        e: this.gnssBias.e * 0.99 + this.gnssPrng.normal(0, walk),
        u: this.gnssBias.u * 0.99 + this.gnssPrng.normal(0, walk),
      };
      const nn = this.n + this.gnssBias.n + this.gnssPrng.normal(0, g.noiseStdM);
      const ne = this.e + this.gnssBias.e + this.gnssPrng.normal(0, g.noiseStdM);
      const geo = localToGeo(this.origin, nn, ne);
      const speed = Math.hypot(this.vn, this.ve);
      const course = (Math.atan2(this.ve, this.vn) * 180) / Math.PI;
      this.lastFix = {
        timeMs: now,
        fix: '3d',
        latDeg: geo.latDeg,
        lonDeg: geo.lonDeg,
        altMslM: this.config.origin.altMslM + this.u + this.gnssBias.u + this.gnssPrng.normal(0, g.noiseStdM * 1.5),
        satellites: 14,
        hdop: 0.8,
        groundSpeedMps: speed,
        courseDeg: (course + 360) % 360,
      };
    }
    if (now >= this.nextRangeMs) {
      this.nextRangeMs = now + Math.round(1000 / this.config.range.rateHz);
      this.lastRange = this.config.range.beamsRad.map((b) => {
        const d = rangeToObstacles(this.config.obstacles, this.n, this.e, this.u, wrapPi(this.yaw + b), this.config.range.maxM);
        const noisy = d >= this.config.range.maxM ? d : Math.max(this.config.range.minM, d + this.rangePrng.normal(0, 0.02));
        return { timeMs: now, distanceM: noisy, minM: this.config.range.minM, maxM: this.config.range.maxM, bearingRad: b };
      });
    }
  }
}
