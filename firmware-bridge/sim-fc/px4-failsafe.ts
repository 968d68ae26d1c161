// The simulated PX4's position-loss failsafe, a multicopter's: the commander's mode requirements
// (src/modules/commander/ModeUtil/mode_requirements.cpp) and the part of its failsafe state machine
// (src/modules/commander/failsafe/failsafe.cpp, framework.cpp) that a lost position sets off. A pure
// state machine: sim-fc.ts feeds it each tick and carries out what it answers.
//
// Simulated (PX4 v1.14 on):
// - Mode requirements, for a switch (sim-fc.ts positionModeRefused) and for the mode flown: Mission,
//   Hold (AUTO_LOITER) and Return need a global and a local position; Takeoff, Land (a "relaxed" local
//   position) and Offboard (offboardCheck.cpp: position or velocity setpoints need the local position
//   or velocity) a local one; Manual and Descend none.
// - Failsafe::checkModeFallback: armed, the user's intended mode cannot run (FailsafeBase::modeCanRun)
//   → Action::RTL; FailsafeBase::getSelectedAction falls through what cannot run either: RTL, then Land,
//   then Descend. No hold delay first: the mode fallback allows user takeover Always, so COM_FAIL_ACT_T
//   is not applied (checkFailsafe sets the delay only for UserTakeoverAllowed::Auto).
// - The same fall-through for the fence's and a lost link's action (px4SelectedAction): Hold or Return
//   without a global position flies Land, or Descend without a local one too.
// - FailsafeBase::notifyUser, when the action gets worse: the STATUSTEXT "Failsafe activated" at
//   CRITICAL (mavlink_log_critical), ended with the tab PX4 puts on a text that an event also carries.
// - The action's ClearCondition::WhenConditionClears: once the intended mode can run again (the position
//   back), the action is dropped and the vehicle flies the user's mode again, silently.
// - A user's mode switch (an accepted command) is a new intended mode, checked afresh.
// - The lost data link ignored while the user's mode is Land, or disarmed (px4LinkLossIgnored).
// - The user's Land not climbing back into a failsafe's Return while Land can run: a warning only
//   (px4KeepsLanding).
// Not simulated: the event itself (EVENT "Failsafe activated, triggering Land"; Murmur does not speak
// the events protocol); the estimator's accuracy (eph against COM_POS_FS_EPH: the sim has no strict
// and relaxed position apart, so during dead reckoning PX4 would pick Land before Descend, the sim goes
// straight from valid to lost); the local altitude requirement (a height lost here leaves the modes
// be); Offboard's own loss action (COM_OBL_RC_ACT's Position or Altitude mode need a pilot's sticks:
// with no RC, as here, the chain ends where it does for any mode that cannot run); Descend's lack of
// position control (it lands in place here, as Land does; both show AUTO_LAND on MAVLink, PX4's custom
// mode for NAVIGATION_STATE_DESCEND too). The mode shown once landed and disarmed is the user's again
// (UserModeIntention::onDisarm): px4-user-intention.ts.

import type { FlightMode } from '../../hal/devices.js';

/** The estimator's positions as the commander's failsafe flags see them: global_position_invalid and
 *  local_position_invalid(_relaxed) clear. */
export interface Px4Position {
  readonly global: boolean;
  readonly local: boolean;
}

/** The nav state the failsafe flies: Return (AUTO_RTL), Land (AUTO_LAND) or Descend (DESCEND). */
export type Px4FailsafeAction = 'return' | 'land' | 'descend';

/** What the simulated FC does after a step. */
export type Px4FailsafeEffect =
  | { readonly type: 'none' }
  /** Fly `action` (a new failsafe, or another action of it); `notify`: it is worse, so PX4 tells the user. */
  | { readonly type: 'enter'; readonly action: Px4FailsafeAction; readonly notify: boolean }
  /** The failsafe is over: fly the user's mode again. */
  | { readonly type: 'exit'; readonly mode: FlightMode };

/** The STATUSTEXT of FailsafeBase::notifyUser (severity CRITICAL). */
export const px4FailsafeText = 'Failsafe activated\t';

/** Whether a multicopter's `mode` can run with `p` (FailsafeBase::modeCanRun over mode_requirements.cpp). */
export function px4ModeCanRun(mode: FlightMode | 'descend', p: Px4Position): boolean {
  switch (mode) {
    case 'mission':
    case 'hold':
    case 'return':
      return p.global && p.local;
    case 'takeoff':
    case 'land':
    case 'guided':
      return p.local;
    case 'manual':
    case 'descend':
    case 'unknown':
      return true;
  }
}

/** The actions FailsafeBase::getSelectedAction falls through, in its order: one that cannot run with
 *  the position gives way to the next. */
const fallthrough = ['hold', 'return', 'land', 'descend'] as const;

/**
 * What PX4 flies for a failsafe's `action` (getSelectedAction): it if it can run with `p`, else the
 * first after it that can (Hold, Return, Land, Descend; Descend needs no position, so Terminate after
 * it is never reached here). The fence's (GF_ACTION) and a lost link's (NAV_DLL_ACT) actions go
 * through it as the position fallback's Return does.
 */
export function px4SelectedAction(action: Px4FailsafeAction, p: Px4Position): Px4FailsafeAction;
export function px4SelectedAction(action: 'hold' | Px4FailsafeAction, p: Px4Position): 'hold' | Px4FailsafeAction;
export function px4SelectedAction(action: 'hold' | Px4FailsafeAction, p: Px4Position): 'hold' | Px4FailsafeAction {
  for (const a of fallthrough.slice(fallthrough.indexOf(action))) if (px4ModeCanRun(a, p)) return a;
  return 'descend';
}

/**
 * Whether PX4 ignores its lost data link (the companion's or a ground station's heartbeats gone,
 * gcs_connection_lost): Failsafe::checkStateAndMode (failsafe.cpp) adds no NAV_DLL_ACT action while
 * disarmed, nor while the user's intended mode is Land (dll_loss_ignored_land: AUTO_LAND or
 * AUTO_PRECLAND), which lands on without a link. Its other exceptions (COM_DLL_EXCEPT: Mission, the
 * auto modes, Offboard) are off by default and not simulated. `intended` is the user's mode, not one
 * a failsafe flies: a failsafe's own Land does not count (its user's mode may be Hold or Mission).
 */
export function px4LinkLossIgnored(armed: boolean, intended: FlightMode): boolean {
  return !armed || intended === 'land';
}

/**
 * Whether a failsafe whose selected action is `selected` only warns because the user's intended mode
 * is Land: FailsafeBase::getSelectedAction's last step (framework.cpp, "If already landing, do not go
 * into RTL") turns a selected RTL into Action::Warn while Land can run with `p`. The vehicle lands on,
 * and MAVLink shows nothing of it: FailsafeBase::notifyUser sends "Failsafe activated" only for an
 * action other than Warn (PX4 PR 24858; the warning is an event), and FailsafeBase::inFailsafe leaves
 * Warn out (PR 22879), so HEARTBEAT does not say CRITICAL. A Land or Descend selected (Return could not
 * run) is no climb, so it is flown as selected.
 */
export function px4KeepsLanding(intended: FlightMode, selected: 'hold' | Px4FailsafeAction, p: Px4Position): boolean {
  return intended === 'land' && selected === 'return' && px4ModeCanRun('land', p);
}

/** Action::RTL (checkModeFallback), then what getSelectedAction falls through to. */
function fallback(p: Px4Position): Px4FailsafeAction {
  return px4SelectedAction('return', p);
}

/** The failsafe's Action order (framework.h: further down takes precedence). */
const severity: Record<Px4FailsafeAction, number> = { return: 1, land: 2, descend: 3 };

export class Px4PositionFailsafe {
  /** While a failsafe acts: the user's intended mode, which it flies in place of, and its action. */
  private active: { readonly intended: FlightMode; readonly action: Px4FailsafeAction } | null = null;

  /** The user's intended mode while a failsafe flies another, else null. */
  intended(): FlightMode | null {
    return this.active?.intended ?? null;
  }

  action(): Px4FailsafeAction | null {
    return this.active?.action ?? null;
  }

  /** One commander cycle: whether armed, the vehicle's mode (the user's while no failsafe acts) and the
   *  position; what to fly. Disarmed, no failsafe acts (getSelectedAction: Action::None). */
  step(armed: boolean, mode: FlightMode, p: Px4Position): Px4FailsafeEffect {
    if (!armed) {
      this.active = null;
      return { type: 'none' };
    }
    const intended = this.active?.intended ?? mode;
    if (px4ModeCanRun(intended, p)) {
      if (this.active === null) return { type: 'none' };
      this.active = null;
      return { type: 'exit', mode: intended };
    }
    const action = fallback(p);
    const before = this.active?.action ?? null;
    this.active = { intended, action };
    if (action === before) return { type: 'none' };
    return { type: 'enter', action, notify: before === null || severity[action] > severity[before] };
  }

  /** The user switched mode (an accepted command): the failsafe's action goes, and the next step checks
   *  the new mode (UserModeIntention::change, then the fallback on the new user_intended_mode). */
  userSwitched(): void {
    this.active = null;
  }
}
