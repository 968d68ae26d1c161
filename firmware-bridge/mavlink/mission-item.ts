// A mission item as Murmur plans it, and its MISSION_ITEM_INT form (lat/lon in degE7, frame
// MAV_FRAME_GLOBAL_RELATIVE_ALT_INT): mavlink.io/en/services/mission.html.

import { common } from 'node-mavlink';

export interface MissionItem {
  /** MAV_CMD: NAV_WAYPOINT 16, NAV_RETURN_TO_LAUNCH 20, NAV_LAND 21, NAV_TAKEOFF 22, ... */
  readonly command: number;
  readonly latDeg: number;
  readonly lonDeg: number;
  readonly relAltM: number;
  /** param1..param4 (e.g. hold time and acceptance radius of a waypoint). */
  readonly params?: readonly [number, number, number, number];
}

export const missionTypeMission = 0;
export const frameGlobalRelativeAltInt = 6;

export function toMissionItemInt(item: MissionItem, seq: number, target: { sysid: number; compid: number }): common.MissionItemInt {
  const m = new common.MissionItemInt();
  m.targetSystem = target.sysid;
  m.targetComponent = target.compid;
  m.seq = seq;
  m.frame = frameGlobalRelativeAltInt;
  m.command = item.command;
  m.current = seq === 0 ? 1 : 0;
  m.autocontinue = 1;
  [m.param1, m.param2, m.param3, m.param4] = item.params ?? [0, 0, 0, 0];
  m.x = Math.round(item.latDeg * 1e7);
  m.y = Math.round(item.lonDeg * 1e7);
  m.z = item.relAltM;
  m.missionType = missionTypeMission;
  return m;
}

export function fromMissionItemInt(m: common.MissionItemInt): MissionItem {
  return { command: m.command, latDeg: m.x / 1e7, lonDeg: m.y / 1e7, relAltM: m.z, params: [m.param1, m.param2, m.param3, m.param4] };
}
