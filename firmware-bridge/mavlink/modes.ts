// Flight modes as PX4 and ArduPilot encode them in HEARTBEAT.custom_mode and MAV_CMD_DO_SET_MODE.
// PX4: custom_mode = main_mode << 16 | sub_mode << 24 (px4_custom_mode.h). ArduCopter: the mode
// number itself (ardupilot.org/copter/docs/parameters.html#fltmode1).

import { assertNever } from '../../runtime/lib/assert.js';
import type { FlightActionType, FlightMode } from '../../hal/devices.js';
import { modesAfterAction } from '../../hal/modes-after.js';

export type AutopilotFamily = 'px4' | 'ardupilot';

export const mavAutopilotPx4 = 12;
export const mavAutopilotArdupilot = 3;

export const px4MainMode = { manual: 1, altctl: 2, posctl: 3, auto: 4, acro: 5, offboard: 6, stabilized: 7 } as const;
export const px4AutoSubMode = { ready: 1, takeoff: 2, loiter: 3, mission: 4, rtl: 5, land: 6, precland: 9 } as const;
/** PX4's own names of the modes (mode_util nav_state_names), as its texts say them ("Switching to Hold ..."). */
export const px4ModeNames: Partial<Record<FlightMode, string>> = { hold: 'Hold', guided: 'Offboard', mission: 'Mission', return: 'Return', land: 'Land', takeoff: 'Takeoff', manual: 'Manual' };
export const arducopterMode = { stabilize: 0, acro: 1, altHold: 2, auto: 3, guided: 4, loiter: 5, rtl: 6, circle: 7, land: 9, drift: 11, sport: 13, posHold: 16, brake: 17, smartRtl: 21, flowHold: 22, autoRtl: 27 } as const;

export interface EncodedMode {
  /** HEARTBEAT.custom_mode */
  readonly customMode: number;
  /** MAV_CMD_DO_SET_MODE param2 and param3 (param1 is MAV_MODE_FLAG_CUSTOM_MODE_ENABLED). */
  readonly param2: number;
  readonly param3: number;
}

function px4(main: number, sub = 0): EncodedMode {
  return { customMode: ((main << 16) | (sub << 24)) >>> 0, param2: main, param3: sub };
}

function apm(n: number): EncodedMode {
  return { customMode: n, param2: n, param3: 0 };
}

export function encodeMode(family: AutopilotFamily, mode: FlightMode): EncodedMode | null {
  if (mode === 'unknown') return null;
  if (family === 'px4') {
    switch (mode) {
      case 'manual':
        return px4(px4MainMode.posctl);
      case 'hold':
        return px4(px4MainMode.auto, px4AutoSubMode.loiter);
      case 'takeoff':
        return px4(px4MainMode.auto, px4AutoSubMode.takeoff);
      case 'guided':
        return px4(px4MainMode.offboard);
      case 'mission':
        return px4(px4MainMode.auto, px4AutoSubMode.mission);
      case 'land':
        return px4(px4MainMode.auto, px4AutoSubMode.land);
      case 'return':
        return px4(px4MainMode.auto, px4AutoSubMode.rtl);
      default:
        return assertNever(mode, 'flight mode');
    }
  }
  switch (mode) {
    case 'manual':
      return apm(arducopterMode.stabilize);
    case 'hold':
      return apm(arducopterMode.loiter);
    case 'takeoff': // ArduCopter takes off from GUIDED with MAV_CMD_NAV_TAKEOFF
    case 'guided':
      return apm(arducopterMode.guided);
    case 'mission':
      return apm(arducopterMode.auto);
    case 'land':
      return apm(arducopterMode.land);
    case 'return':
      return apm(arducopterMode.rtl);
    default:
      return assertNever(mode, 'flight mode');
  }
}

export function decodeMode(family: AutopilotFamily, customMode: number): FlightMode {
  if (family === 'px4') {
    const main = (customMode >>> 16) & 0xff;
    const sub = (customMode >>> 24) & 0xff;
    if (main === px4MainMode.offboard) return 'guided';
    if (main === px4MainMode.auto) {
      if (sub === px4AutoSubMode.loiter || sub === px4AutoSubMode.ready) return 'hold';
      if (sub === px4AutoSubMode.takeoff) return 'takeoff';
      if (sub === px4AutoSubMode.mission) return 'mission';
      if (sub === px4AutoSubMode.land || sub === px4AutoSubMode.precland) return 'land'; // precision landing: RTL's or LAND's last phase
      if (sub === px4AutoSubMode.rtl) return 'return';
      return 'unknown';
    }
    if (main === px4MainMode.manual || main === px4MainMode.altctl || main === px4MainMode.posctl || main === px4MainMode.stabilized || main === px4MainMode.acro) return 'manual';
    return 'unknown';
  }
  switch (customMode) {
    case arducopterMode.stabilize:
    case arducopterMode.altHold:
    case arducopterMode.acro:
    case arducopterMode.drift:
    case arducopterMode.sport:
    case arducopterMode.posHold:
    case arducopterMode.flowHold:
      return 'manual';
    case arducopterMode.loiter:
    case arducopterMode.brake:
    case arducopterMode.circle:
      return 'hold';
    case arducopterMode.guided:
      return 'guided';
    case arducopterMode.auto:
      return 'mission';
    case arducopterMode.land:
      return 'land';
    case arducopterMode.rtl:
    case arducopterMode.smartRtl: // a failsafe's return by the way it came (FS_*_ACTION)
    case arducopterMode.autoRtl: // AUTO's DO_LAND_START return, as ArduCopter 4.1+ reports it
      return 'return';
    default:
      return 'unknown';
  }
}

export function familyOf(mavAutopilot: number): AutopilotFamily | null {
  return mavAutopilot === mavAutopilotPx4 ? 'px4' : mavAutopilot === mavAutopilotArdupilot ? 'ardupilot' : null;
}

/**
 * The modes the flight controller may report once it accepted `action` from this driver
 * (FlightControl.modesAfter). PX4 answers MAV_CMD_DO_REPOSITION in Hold (AUTO.LOITER, navigator's
 * reposition) and holds when a take-off reaches its altitude; ArduCopter takes off and repositions in
 * GUIDED and stays there. A velocity stream is GUIDED/OFFBOARD until it lapses, then this driver holds
 * (MavlinkVehicle.sendSetpoint). Family not known yet (no HEARTBEAT): the union of both.
 */
export function mavlinkModesAfter(family: AutopilotFamily | null, action: FlightActionType): readonly FlightMode[] | null {
  const flies = family === 'ardupilot' ? ardupilotFlies : family === 'px4' ? px4Flies : eitherFlies;
  return modesAfterAction(flies, action);
}

const ardupilotFlies = { takeoff: ['guided'], goto: ['guided'] } as const;
const px4Flies = { takeoff: ['takeoff', 'hold'], goto: ['hold'] } as const;
const eitherFlies = { takeoff: ['takeoff', 'hold', 'guided'], goto: ['hold', 'guided'] } as const;
