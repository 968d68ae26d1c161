// The simulated PX4's user intended mode as its commander keeps it (src/modules/commander/
// UserModeIntention.cpp): the mode the user (a ground station, the companion) last switched to, and the
// mode it goes back to once disarmed. A pure state machine: sim-fc.ts tells it of each accepted switch
// and of each disarm, and shows the mode it answers.
//
// Simulated: UserModeIntention::change keeps a switched-to mode as the one to go back to after
// disarming unless that mode prevents arming (mode_requirements.cpp mode_req_prevent_arming: Return,
// Land, Descend among the modes named here); UserModeIntention::onDisarm (Commander::disarm calls it,
// the land detector's auto-disarm too) makes that mode the user's again. So a copter landed by the
// companion's Land or Return, or by a failsafe's, shows the mode it flew before (Hold, after a goto or a
// take-off, which Commander turns into Loiter when done), not Land. Its first mode is Hold
// (_nav_state_after_disarming's AUTO_LOITER). Not simulated: a mode replaced by an external mode
// (ModeChangeHandler), and Termination (refused here, never flown).

import type { FlightMode } from '../../hal/devices.js';

/** Whether a multicopter's `mode` prevents arming (mode_requirements.cpp: mode_req_prevent_arming). */
export function px4PreventsArming(mode: FlightMode): boolean {
  return mode === 'return' || mode === 'land';
}

export class Px4UserIntention {
  private intended: FlightMode = 'hold';
  private afterDisarm: FlightMode = 'hold';

  /** The user's intended mode (vehicle_status.nav_state_user_intention). */
  current(): FlightMode {
    return this.intended;
  }

  /** The mode a disarm goes back to. */
  afterDisarming(): FlightMode {
    return this.afterDisarm;
  }

  /** A switch the commander accepted (UserModeIntention::change). */
  change(mode: FlightMode): void {
    this.intended = mode;
    if (!px4PreventsArming(mode)) this.afterDisarm = mode;
  }

  /** Disarmed (UserModeIntention::onDisarm): the mode now intended, and shown. */
  onDisarm(): FlightMode {
    this.intended = this.afterDisarm;
    return this.intended;
  }
}
