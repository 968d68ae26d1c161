// A geofence as the flight controller stores it (mavlink.io/en/services/geofence.html): one inclusion
// polygon uploaded with the mission protocol as mission_type MAV_MISSION_TYPE_FENCE, each vertex a
// MAV_CMD_NAV_FENCE_POLYGON_VERTEX_INCLUSION item (param1 = the polygon's vertex count) in
// MAV_FRAME_GLOBAL with lat/lon as degE7 integers, then the keep-out circles, each a
// MAV_CMD_NAV_FENCE_CIRCLE_EXCLUSION item (common.xml: param1 radius in metres, x/y the centre); the
// ceiling is a parameter (fence.ts: fenceAltitudeParam).

import { common } from 'node-mavlink';
import { err, ok, type Result } from '../../runtime/lib/result.js';
import { limits } from '../../runtime/lib/limits.js';
import { doubleArea, insidePolygon, selfCrossing } from '../../runtime/mission/geometry.js';
import type { PointDm } from '../../runtime/mission/types.js';
import type { GeoCircle, GeoFence } from '../../hal/devices.js';
import type { MavParamTypeUsed } from './params.js';
import { mavParamType } from './params.js';

export const missionTypeFence = 1;
export const frameGlobal = 0; // MAV_FRAME_GLOBAL (the vertices' altitude is unused)
export const cmdFenceVertexInclusion = 5001; // MAV_CMD_NAV_FENCE_POLYGON_VERTEX_INCLUSION
export const cmdFenceCircleExclusion = 5004; // MAV_CMD_NAV_FENCE_CIRCLE_EXCLUSION
/** A keep-out circle's radius limits, metres (a committed keep-out is a few metres to a few hundred). */
export const fenceCircleRadiusMinM = 0.1;
export const fenceCircleRadiusMaxM = 10_000;
export const cmdDoFenceEnable = 207; // MAV_CMD_DO_FENCE_ENABLE: param1 0 disable, 1 enable

export interface FenceVertex {
  readonly latDeg: number;
  readonly lonDeg: number;
}

/** What the flight controller is to keep the vehicle inside (a polygon and, optionally, a ceiling in
 *  metres above home) and out of (keep-out circles). */
export type Fence = GeoFence;

/** The items the fence takes on the FC: the polygon's vertices, then one per keep-out circle. */
export function fenceItems(f: Fence): number {
  return f.polygon.length + (f.keepOuts?.length ?? 0);
}

/** The polygon as the FC will hold it: degE7 integers (what MISSION_ITEM_INT carries). */
export function fenceVerticesE7(polygon: readonly FenceVertex[]): PointDm[] {
  return polygon.map((v) => ({ n: Math.round(v.latDeg * 1e7), e: Math.round(v.lonDeg * 1e7) }));
}

/** The fence's span limit: beyond a few hundred kilometres the flat point-in-polygon test of a flight
 *  controller (and of ours, in exact integers below 2^53) no longer means what the polygon drew. */
export const fenceSpanDegMax = 5;

/**
 * Why the protocol or its limits cannot carry this fence, or null: 3..fenceItemsMax vertices (the
 * spec's minimum; autopilots store a bounded number), finite coordinates in range, no two consecutive
 * vertices equal at degE7, no self-crossing edges (the spec: "must not be self-intersecting"), a
 * non-zero area, a span of at most fenceSpanDegMax, a ceiling of 1..10 000 m when given, keep-out
 * circles with centres in range and a radius of fenceCircleRadiusMinM..MaxM, and at most `itemsMax`
 * items in all (Infinity: the shape alone, for a fence whose circles are yet to be trimmed to fit).
 */
export function fenceProblem(f: Fence, itemsMax: number = limits.fenceItemsMax): string | null {
  const n = f.polygon.length;
  if (n < 3 || n > limits.fenceItemsMax) return `a fence polygon needs 3..${limits.fenceItemsMax} vertices, got ${n}`;
  for (const [i, v] of f.polygon.entries()) {
    if (!Number.isFinite(v.latDeg) || Math.abs(v.latDeg) > 90) return `fence vertex ${i}: latitude ${v.latDeg} is not in -90..90`;
    if (!Number.isFinite(v.lonDeg) || Math.abs(v.lonDeg) > 180) return `fence vertex ${i}: longitude ${v.lonDeg} is not in -180..180`;
  }
  const e7 = fenceVerticesE7(f.polygon);
  const lats = e7.map((p) => p.n);
  const lons = e7.map((p) => p.e);
  if (Math.max(...lats) - Math.min(...lats) > fenceSpanDegMax * 1e7 || Math.max(...lons) - Math.min(...lons) > fenceSpanDegMax * 1e7) return `the fence spans more than ${fenceSpanDegMax} degrees of latitude or longitude`;
  for (let i = 0; i < n; i++) {
    const a = e7[i] as PointDm;
    const b = e7[(i + 1) % n] as PointDm;
    if (a.n === b.n && a.e === b.e) return `fence vertices ${i} and ${(i + 1) % n} are the same point at 1e-7 degrees`;
  }
  const crossing = selfCrossing(e7);
  if (crossing) return `fence edges ${crossing[0]} and ${crossing[1]} cross (the protocol needs a polygon that does not intersect itself)`;
  if (doubleArea(e7) === 0) return 'the fence polygon encloses no area (its vertices are on one line)';
  if (f.altMaxM !== null && (!Number.isFinite(f.altMaxM) || f.altMaxM < 1 || f.altMaxM > 10_000)) return `fence ceiling ${f.altMaxM} m is not in 1..10000 m`;
  for (const [i, c] of (f.keepOuts ?? []).entries()) {
    if (!Number.isFinite(c.latDeg) || Math.abs(c.latDeg) > 90) return `keep-out circle ${i}: latitude ${c.latDeg} is not in -90..90`;
    if (!Number.isFinite(c.lonDeg) || Math.abs(c.lonDeg) > 180) return `keep-out circle ${i}: longitude ${c.lonDeg} is not in -180..180`;
    if (!Number.isFinite(c.radiusM) || c.radiusM < fenceCircleRadiusMinM || c.radiusM > fenceCircleRadiusMaxM) return `keep-out circle ${i}: radius ${c.radiusM} m is not in ${fenceCircleRadiusMinM}..${fenceCircleRadiusMaxM} m`;
  }
  const items = fenceItems(f);
  if (items > itemsMax) return `a fence of ${items} items (${n} vertices + ${items - n} keep-out circles) is more than the ${itemsMax} the flight controller is given`;
  return null;
}

export function checkFence(f: Fence): Result<void, string> {
  const p = fenceProblem(f);
  return p === null ? ok(undefined) : err(p);
}

/** Item `seq` of the fence as the MISSION_ITEM_INT the vehicle asks for: a vertex of the polygon, or
 *  past them a keep-out circle. */
export function toFenceItemInt(f: Fence, seq: number, target: { sysid: number; compid: number }): common.MissionItemInt {
  const vertex = seq < f.polygon.length;
  const v = vertex ? (f.polygon[seq] as FenceVertex) : (f.keepOuts?.[seq - f.polygon.length] as GeoCircle);
  const m = new common.MissionItemInt();
  m.targetSystem = target.sysid;
  m.targetComponent = target.compid;
  m.seq = seq;
  m.frame = frameGlobal;
  m.command = vertex ? cmdFenceVertexInclusion : cmdFenceCircleExclusion;
  m.current = 0;
  m.autocontinue = 0;
  // A vertex: the polygon's vertex count; a circle: its radius, metres.
  m.param1 = vertex ? f.polygon.length : (v as GeoCircle).radiusM;
  m.param2 = 0; // inclusion group (ArduPilot) for a vertex, one polygon here; reserved for a circle exclusion
  m.param3 = 0;
  m.param4 = 0;
  m.x = Math.round(v.latDeg * 1e7);
  m.y = Math.round(v.lonDeg * 1e7);
  m.z = 0;
  m.missionType = missionTypeFence;
  return m;
}

/** Whether a point (degE7) is inside a polygon (degE7), edges counting as inside, as the FC tests it. */
export function insideFence(latE7: number, lonE7: number, polygonE7: readonly PointDm[]): boolean {
  return insidePolygon({ n: latE7, e: lonE7 }, polygonE7);
}

/** The parameter that sets the fence's ceiling, per autopilot: ArduPilot's FENCE_ALT_MAX (metres above
 *  home, FLOAT), PX4's GF_MAX_VER_DIST (metres above home, FLOAT; 0 disables it). */
export function fenceAltitudeParam(family: 'px4' | 'ardupilot', altMaxM: number): { id: string; value: number; type: MavParamTypeUsed } {
  return { id: family === 'ardupilot' ? 'FENCE_ALT_MAX' : 'GF_MAX_VER_DIST', value: altMaxM, type: mavParamType.real32 };
}

/** What a flight controller does on a fence breach, by name (FenceBreachAction values are what
 *  FENCE_ACTION / GF_ACTION mean; 'report' and 'none' do nothing to the flight). */
export type FenceBreachAction = 'return' | 'land' | 'hold' | 'report' | 'none' | 'terminate';
/** The breach actions Murmur sets (device.yaml hal.mavlink.fenceAction, 'leave' aside). */
export type FenceActionWanted = 'return' | 'land' | 'hold';

/** The breach action's parameter per autopilot: ArduPilot Copter FENCE_ACTION (INT8), PX4 GF_ACTION (INT32). */
export function fenceActionParam(family: 'px4' | 'ardupilot'): { id: string; type: MavParamTypeUsed } {
  return family === 'ardupilot' ? { id: 'FENCE_ACTION', type: mavParamType.int8 } : { id: 'GF_ACTION', type: mavParamType.int32 };
}

// Their values (ArduPilot Copter's FENCE_ACTION and PX4's GF_ACTION parameter references): the
// action's name here and the autopilot's own words for it. SmartRTL retraces the path home: a return.
const fenceActionValues: Readonly<Record<'px4' | 'ardupilot', Readonly<Record<number, readonly [FenceBreachAction, string]>>>> = {
  ardupilot: { 0: ['report', 'report only'], 1: ['return', 'RTL or land'], 2: ['land', 'always land'], 3: ['return', 'SmartRTL or RTL or land'], 4: ['hold', 'brake or land'], 5: ['return', 'SmartRTL or land'] },
  px4: { 0: ['none', 'none'], 1: ['report', 'warning only'], 2: ['hold', 'hold mode'], 3: ['return', 'return mode'], 4: ['terminate', 'flight termination'], 5: ['land', 'land mode'] },
};

/** The value that sets `action` (ArduPilot 1/2/4, PX4 3/5/2; 'report' and 'none' for the simulated FC). */
export function fenceActionValue(family: 'px4' | 'ardupilot', action: FenceBreachAction): number | null {
  // ArduPilot's "report only" is its only action that does nothing: it stands for 'none' too.
  const want = family === 'ardupilot' && action === 'none' ? 'report' : action;
  for (const [v, [name]] of Object.entries(fenceActionValues[family])) if (name === want) return Number(v);
  return null;
}

/** What a flight controller's breach action is, as the status reports it. */
export interface FenceActionReport {
  /** 'return', 'land', 'hold', 'report', 'none', 'terminate', or 'unknown N' for a value not listed. */
  readonly name: string;
  readonly param: string;
  readonly value: number;
  /** Set when a breach does nothing to the flight there (ArduPilot 0, PX4 0 or 1): what to do about it. */
  readonly warning: string | null;
}

/** Names `value` of the family's breach-action parameter, with a warning when a breach does nothing. */
export function describeFenceAction(family: 'px4' | 'ardupilot', value: number): FenceActionReport {
  const { id } = fenceActionParam(family);
  const known = Number.isInteger(value) ? fenceActionValues[family][value] : undefined;
  const name = known ? known[0] : `unknown ${value}`;
  const inert = name === 'report' || name === 'none';
  const warning = inert && known ? `the flight controller holds the fence but ${id} is ${value} (${known[1]}): a breach does nothing there; set hal.mavlink.fenceAction: return in device.yaml, or ${id} on the vehicle` : null;
  return { name, param: id, value, warning };
}
