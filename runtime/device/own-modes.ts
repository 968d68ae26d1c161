// Whose is the flight controller's mode: the executor's, or someone else's (a pilot's switch, the FC's
// own failsafe)? Each action the executor sends names the modes the vehicle may show once it accepted
// it (FlightControl.modesAfter: ArduCopter flies a goto in GUIDED, PX4 in Hold). A mode outside them is
// someone else's, once the vehicle has had time to report the action's: HEARTBEAT comes at 1 Hz, so
// for a while after an action the mode from before it may still show, and nothing is judged until the
// action's mode is seen or `statesToShow` newer states have come since the vehicle accepted it.
//
// Before, any mode but a manual one, the FC's mission, a return or a landing counted as the executor's:
// a pilot's switch to ArduCopter's LOITER (the pilot flies it with the sticks) or to a mode Murmur does
// not name (FOLLOW, ZIGZAG, PX4's flight termination) went unseen, and the next goto took the vehicle
// back from the pilot.

import type { FlightMode } from '../../hal/devices.js';

export type ModeVerdict = 'own' | 'other' | 'undecided';

/** Modes no flying of the executor's leaves the FC in but its own return or landing. An executor that
 *  has sent nothing and begun no flying since it started (a device restarted with its vehicle in the
 *  air) reads them as someone else's: the FC's own failsafe return, a pilot, or a return of its own
 *  from before the restart, which a reflex's hold would interrupt just the same. */
const neverFlownFresh: ReadonlySet<FlightMode> = new Set(['manual', 'mission', 'return', 'land', 'unknown']);

/** States newer than the one at an action's acceptance (MAVLink: HEARTBEATs received after its ACK)
 *  after which its modes must show. Two: PX4's HEARTBEAT may still carry the mode of the cycle the
 *  command was answered in. */
export const statesToShow = 2;

interface Expectation {
  /** The modes of the last action sent that sets one; null: none since forget(). */
  readonly modes: ReadonlySet<FlightMode> | null;
  /** One of them was seen since that action was sent. */
  readonly seen: boolean;
  /** The state time (FlightState.timeMs) when the vehicle accepted it; null: not accepted yet. */
  readonly acceptedAtMs: number | null;
  /** Distinct state times after acceptedAtMs read since. */
  readonly statesSince: number;
}

const nothing: Expectation = { modes: null, seen: false, acceptedAtMs: null, statesSince: 0 };

export class OwnModes {
  private now: Expectation = nothing;
  /** The expectation the latest action replaced (restored if the vehicle refuses it); null: it
   *  replaced none (it sets no mode, or the same modes). */
  private before: Expectation | null = null;
  private token = 0;
  private lastStateMs = Number.NEGATIVE_INFINITY;
  /** Nothing sent and no flying begun since this was made (neverFlownFresh). */
  private fresh = true;

  /** A new flying (a task of the swarm's takes the vehicle from wherever it is): nothing is judged
   *  until the next action's modes show. */
  forget(): void {
    this.fresh = false;
    this.now = nothing;
    this.before = null;
    this.token++;
  }

  /** The vehicle is already in a mode of `modes` (`mode`), left there by an action sent before this
   *  device restarted (the swarm's hold of its mission): those are expected, as seen, so any other is
   *  someone else's at once. */
  adopt(modes: readonly FlightMode[], mode: FlightMode): boolean {
    if (!modes.includes(mode)) return false;
    this.fresh = false;
    this.token++;
    this.before = null;
    this.now = { modes: new Set(modes), seen: true, acceptedAtMs: this.lastStateMs, statesSince: statesToShow };
    return true;
  }

  /**
   * An action is about to be sent; `modes` are those it may leave the vehicle in (null: it sets none,
   * as arming). Returns the token its outcome() is told with. An action with the same modes as the
   * one before (a goto after a goto, a velocity streamed) leaves the expectation as it is.
   */
  sending(modes: readonly FlightMode[] | null): number {
    this.fresh = false;
    this.token++;
    this.before = null;
    if (modes !== null && !sameModes(this.now.modes, modes)) {
      this.before = this.now;
      this.now = { modes: new Set(modes), seen: false, acceptedAtMs: null, statesSince: 0 };
    }
    return this.token;
  }

  /**
   * The vehicle's answer to the action `token` stands for, with the newest state's time then. A refusal
   * puts back the expectation from before it; the answer to an action a newer one followed is ignored
   * (the newer one's modes are those expected).
   */
  outcome(token: number, accepted: boolean, stateMs: number | null): void {
    if (token !== this.token) return;
    if (!accepted) {
      if (this.before !== null) this.now = this.before;
      return;
    }
    if (this.now.acceptedAtMs === null) this.now = { ...this.now, acceptedAtMs: stateMs ?? this.lastStateMs };
  }

  /** Whether `mode`, in the vehicle's state of time `stateMs`, is the executor's. Called as the state is
   *  polled: each new state time after an acceptance counts towards statesToShow. */
  verdict(mode: FlightMode, stateMs: number): ModeVerdict {
    const e = this.now;
    if (stateMs > this.lastStateMs) {
      this.lastStateMs = stateMs;
      if (e.acceptedAtMs !== null && stateMs > e.acceptedAtMs) this.now = { ...e, statesSince: e.statesSince + 1 };
    }
    const cur = this.now;
    if (cur.modes === null) return this.fresh && neverFlownFresh.has(mode) ? 'other' : 'undecided';
    if (cur.modes.has(mode)) {
      if (!cur.seen) this.now = { ...cur, seen: true };
      return 'own';
    }
    if (cur.seen || (cur.acceptedAtMs !== null && cur.statesSince >= statesToShow)) return 'other';
    return 'undecided';
  }
}

function sameModes(a: ReadonlySet<FlightMode> | null, b: readonly FlightMode[]): boolean {
  return a !== null && a.size === new Set(b).size && b.every((m) => a.has(m));
}
