// What the vehicle's motion tells while the executor waits on it, where its flight mode tells nothing:
// - a vehicle a goto (or a take-off) sent on that stays within stallMoveM of one point (the mean of its
//   readings of its first stillBreakMs) for stallMs has stopped short, where it is read as the mean of
//   the readings of the last stillBreakMs (a receiver's noise averages out: one reading of white noise
//   three sigma off is not the vehicle moving)
//   (PX4 flies a goto in Hold, so a pilot's Hold shows no new mode; in GUIDED the FC's own fence or
//   obstacle avoidance keeps it there);
// - a vehicle the executor (or a reflex) holds that, once settled, moves off by more than driftM (or
//   driftUpM in height) and stays off for driftForMs (a receiver's glitch comes back), or that has not settled settleMaxMs after the hold (a multirotor brakes to a
//   stop in a few seconds), is flown by someone else: ArduCopter's LOITER, which the executor's hold
//   puts it in, takes a pilot's sticks without a mode change.
// Executor.waitFor and watchHeld keep one per wait; pure, so its rules are tested on their own.

import type { FlightActionType } from '../../hal/devices.js';

export interface MotionPoint {
  readonly northM: number;
  readonly eastM: number;
  readonly upM: number;
  /** Whose position it is (GnssFix.source: the FC's estimate or a receiver's fix, metres apart); a
   *  reading from another source than the last starts the watch over (step). */
  readonly source?: string;
}

export type Motion = { readonly kind: 'stalled' } | { readonly kind: 'moved-off'; readonly byM: number };

export interface MotionLimits {
  /** A goto's vehicle within stallMoveM of one point this long has stopped short. */
  readonly stallMs: number;
  readonly stallMoveM: number;
  /** Where the vehicle is and where it stays are means of this long of readings (a receiver's noise),
   *  or of a fifth of stallMs if that is shorter (the means lag a moving vehicle by half of it). */
  readonly stillBreakMs: number;
  /** A held vehicle within settleMoveM across (settleUpM in height) of one point this long has settled
   *  where it holds: wider than stallMoveM, so a receiver's noise (a metre or more across, more in
   *  height) does not keep a still drone from settling. */
  readonly settleMs: number;
  readonly settleMoveM: number;
  readonly settleUpM: number;
  /** Settled, it has moved off once this far from there across, or driftUpM up or down, for driftForMs. */
  readonly driftM: number;
  readonly driftUpM: number;
  readonly driftForMs: number;
  /** Not settled this long after the hold: someone flies it. */
  readonly settleMaxMs: number;
}

export class MotionWatch {
  private action: FlightActionType | null = null;
  /** Where the vehicle has stayed within stallMoveM of (the mean of the window's first stillBreakMs of
   *  readings: their sums and count), since when. */
  private still: { n: number; e: number; u: number; count: number; readonly sinceMs: number } | null = null;
  /** The readings of the last stillBreakMs: their mean is where the vehicle is, a receiver's noise averaged. */
  private recent: { readonly p: MotionPoint; readonly atMs: number }[] = [];
  /** Where a held vehicle has stayed within settleMoveM (settleUpM) of, since when. */
  private box: { readonly at: MotionPoint; readonly sinceMs: number } | null = null;
  /** Where a held vehicle settled. */
  private anchor: MotionPoint | null = null;
  /** Where and when the hold was first seen (a position with it). */
  private held: { readonly at: MotionPoint; readonly sinceMs: number } | null = null;
  /** Since when a settled vehicle has been farther off than driftM (driftUpM). */
  private offSinceMs: number | null = null;
  /** Since when there has been no position (null: there is one). */
  private blindSinceMs: number | null = null;
  /** The source of the last reading (null: none yet). */
  private source: string | undefined | null = null;

  constructor(private readonly limits: MotionLimits) {}

  /** Keeps the still window with reading `p`; how long the vehicle has stayed (0: it moved, a new
   *  window begins). Where it is, is the mean of the readings of the last stillBreakMs; where it stays,
   *  the mean of the window's first stillBreakMs of readings, then fixed (a mean that kept taking
   *  readings would follow a vehicle creeping on). Before, each raw reading was measured from the
   *  window's first one: through a receiver of 0.5 m white noise a still vehicle's window broke every
   *  few seconds, so 5 s still took 6-45 s to see (test/device/executor-stall, the reckoned arrival). */
  private stayed(p: MotionPoint, nowMs: number): number {
    const l = this.limits;
    // At most a fifth of the stall time: the means lag a moving vehicle by half of it.
    const windowMs = Math.min(l.stillBreakMs, l.stallMs / 5);
    this.recent.push({ p, atMs: nowMs });
    while (this.recent.length > 0 && (this.recent[0] as { atMs: number }).atMs <= nowMs - windowMs) this.recent.shift();
    const now = meanOf(this.recent.map((r) => r.p));
    const s = this.still;
    if (s !== null) {
      if (nowMs - s.sinceMs < windowMs) {
        s.n += p.northM;
        s.e += p.eastM;
        s.u += p.upM;
        s.count++;
      }
      if (Math.hypot(now.northM - s.n / s.count, now.eastM - s.e / s.count, now.upM - s.u / s.count) <= l.stallMoveM) return nowMs - s.sinceMs;
    }
    this.still = { n: p.northM, e: p.eastM, u: p.upM, count: 1, sinceMs: nowMs };
    return 0;
  }

  /** How long the vehicle has stayed within stallMoveM of one point, as of the last step (0: not). */
  stillForMs(nowMs: number): number {
    return this.still === null ? 0 : nowMs - this.still.sinceMs;
  }

  /**
   * One poll: the last action the vehicle accepted, whether a goto's stop counts now (not under a
   * committed hold), where the vehicle is (null: no fix) and the time. A new action starts over.
   */
  step(action: FlightActionType | null, countStall: boolean, p: MotionPoint | null, nowMs: number): Motion | null {
    const l = this.limits;
    if (action !== this.action) {
      this.action = action;
      this.still = null;
      this.recent = [];
      this.box = null;
      this.anchor = null;
      this.held = null;
      this.offSinceMs = null;
      this.blindSinceMs = null;
    }
    if (p === null) {
      this.still = null;
      this.recent = [];
      this.box = null;
      // Nor is it off all along from a reading before the gap to one after it.
      this.offSinceMs = null;
      this.blindSinceMs ??= nowMs;
      return null;
    }
    // Time without a position (a receiver that lost its fix) is no time the held vehicle could be seen
    // to settle in: the settling time runs on from where it stopped. Before, a gap longer than
    // settleMaxMs read a drone that had hovered still all along as never settled, a pilot's.
    if (this.blindSinceMs !== null) {
      if (this.held !== null) this.held = { at: this.held.at, sinceMs: this.held.sinceMs + (nowMs - this.blindSinceMs) };
      this.blindSinceMs = null;
    }
    // Another source (the MAVLink driver gone from the FC's estimate to its receiver, or back) is
    // another frame, metres off the last: no motion of the vehicle, and nothing to measure against what
    // the last one saw. The watch starts over from this reading, the hold's settling with it. Before, a
    // held drone whose position moved to the receiver 8 m off was read as flown off by a pilot.
    if (this.source !== null && p.source !== this.source) {
      this.still = null;
      this.recent = [];
      this.box = null;
      this.anchor = null;
      this.offSinceMs = null;
      if (this.held !== null) this.held = { at: p, sinceMs: nowMs };
    }
    this.source = p.source;
    const stillForMs = this.stayed(p, nowMs);
    // A take-off's vehicle climbs as a goto's flies: PX4 ends its take-off in Hold, so a pilot's Hold
    // mid-climb shows no new mode either. Before, only a goto's stop counted, and the take-off's wait
    // ran its 10 minutes.
    if (action === 'goto' || action === 'takeoff') {
      if (!countStall) this.still = null;
      else if (stillForMs >= l.stallMs) return { kind: 'stalled' };
      return null;
    }
    if (action !== 'hold') return null;
    this.held ??= { at: p, sinceMs: nowMs };
    const b = this.box;
    if (b === null || Math.hypot(p.northM - b.at.northM, p.eastM - b.at.eastM) > l.settleMoveM || Math.abs(p.upM - b.at.upM) > l.settleUpM) this.box = { at: p, sinceMs: nowMs };
    const box = this.box as { readonly at: MotionPoint; readonly sinceMs: number };
    const a = this.anchor;
    if (a === null) {
      if (nowMs - box.sinceMs >= l.settleMs) this.anchor = box.at;
      else if (nowMs - this.held.sinceMs >= l.settleMaxMs) {
        const h = this.held.at;
        return { kind: 'moved-off', byM: Math.max(Math.hypot(p.northM - h.northM, p.eastM - h.eastM), Math.abs(p.upM - h.upM)) };
      }
      return null;
    }
    const across = Math.hypot(p.northM - a.northM, p.eastM - a.eastM);
    const up = Math.abs(p.upM - a.upM);
    if (across <= l.driftM && up <= l.driftUpM) {
      this.offSinceMs = null;
      return null;
    }
    // Off for driftForMs on end: a receiver's glitch (multipath) jumps and comes back; a pilot's
    // drone stays off.
    this.offSinceMs ??= nowMs;
    return nowMs - this.offSinceMs >= l.driftForMs ? { kind: 'moved-off', byM: Math.max(across, up) } : null;
  }
}

function meanOf(ps: readonly MotionPoint[]): MotionPoint {
  let n = 0;
  let e = 0;
  let u = 0;
  for (const p of ps) {
    n += p.northM;
    e += p.eastM;
    u += p.upM;
  }
  return { northM: n / ps.length, eastM: e / ps.length, upM: u / ps.length };
}
