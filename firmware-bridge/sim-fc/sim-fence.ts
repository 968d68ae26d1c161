// The simulated flight controller's geofence, kept as an autopilot keeps its own: the inclusion polygon
// and exclusion circles uploaded with mission_type FENCE, a ceiling (ArduPilot FENCE_ALT_MAX, PX4
// GF_MAX_VER_DIST) and an enable switch (MAV_CMD_DO_FENCE_ENABLE, ArduPilot FENCE_ENABLE). Checked
// while armed and flying: a breach (outside the polygon or inside a circle, both "boundary" as
// ArduPilot's polygon fence type reports them; above the ceiling) is latched until the vehicle is back
// inside, so the fence action runs once per excursion (ArduPilot: one action per new breach; it does
// not fight the return it started).

import { common } from 'node-mavlink';
import type { PointDm } from '../../runtime/mission/types.js';
import { geoToLocal } from '../../hal/geo.js';
import { cmdFenceCircleExclusion, cmdFenceVertexInclusion, frameGlobal, insideFence } from '../mavlink/fence.js';

/** What a breach does, as --fence-action names it ('report' and 'none': nothing to the flight). */
export type FenceAction = 'return' | 'land' | 'hold' | 'report' | 'none';
export type BreachType = 'boundary' | 'ceiling';

export interface FenceStatus {
  readonly vertices: number;
  /** The stored polygon, [latE7, lonE7] per vertex in upload order. */
  readonly polygonE7: readonly (readonly [number, number])[];
  /** The stored exclusion circles, [latE7, lonE7, radiusM] each in upload order. */
  readonly circles: readonly (readonly [number, number, number])[];
  readonly altMaxM: number | null;
  readonly enabled: boolean;
  readonly breached: BreachType | null;
  readonly breachCount: number;
  readonly breachTimeMs: number;
}

const frameGlobalInt = 5; // MAV_FRAME_GLOBAL_INT (deprecated, still sent by older ground stations)

export class SimFence {
  private polygonE7: PointDm[] = [];
  private circles: { latE7: number; lonE7: number; radiusM: number }[] = [];
  private altMaxM: number | null;
  private enabled = false;
  private breached: BreachType | null = null;
  private breachCount = 0;
  private breachTimeMs = 0;
  /** Fence types checked (ArduPilot FENCE_TYPE: 1 ceiling, 2 circle (not simulated), 4 polygon). */
  private types = 7;

  /** `altMaxM`: the autopilot's default ceiling (ArduPilot FENCE_ALT_MAX 100 m; PX4 GF_MAX_VER_DIST 0, off). */
  constructor(altMaxM: number | null) {
    this.altMaxM = altMaxM;
  }

  setTypes(bits: number): void {
    this.types = bits;
  }

  typesBits(): number {
    return this.types;
  }

  /**
   * A complete fence upload: the MAV_MISSION_RESULT to ACK with. One inclusion polygon of 3 or more
   * vertices, each MAV_CMD_NAV_FENCE_POLYGON_VERTEX_INCLUSION in a global frame with param1 = the
   * vertex count, sent one after another (mavlink.io geofence service), and any number of
   * MAV_CMD_NAV_FENCE_CIRCLE_EXCLUSION items (param1 the radius, metres, > 0); an empty upload clears
   * the fence.
   */
  accept(items: readonly common.MissionItemInt[]): number {
    const r = common.MavMissionResult;
    const vertices = items.filter((m) => m.command === cmdFenceVertexInclusion);
    const circles = items.filter((m) => m.command === cmdFenceCircleExclusion);
    if (items.length > 0) {
      if (vertices.length + circles.length !== items.length) return r.UNSUPPORTED;
      if (items.some((m) => m.frame !== frameGlobal && m.frame !== frameGlobalInt)) return r.UNSUPPORTED_FRAME;
      const first = items.indexOf(vertices[0] as common.MissionItemInt);
      const together = vertices.every((m, i) => items[first + i] === m);
      if (vertices.length < 3 || !together || vertices.some((m) => m.param1 !== vertices.length)) return r.INVALID_PARAM1;
      if (circles.some((m) => !Number.isFinite(m.param1) || m.param1 <= 0)) return r.INVALID_PARAM1;
    }
    this.polygonE7 = vertices.map((m) => ({ n: m.x, e: m.y }));
    this.circles = circles.map((m) => ({ latE7: m.x, lonE7: m.y, radiusM: m.param1 }));
    this.breached = null;
    return r.ACCEPTED;
  }

  setAltMax(m: number | null): void {
    this.altMaxM = m;
  }

  altMax(): number | null {
    return this.altMaxM;
  }

  setEnabled(on: boolean): void {
    this.enabled = on;
    if (!on) this.breached = null;
  }

  /**
   * One check of the vehicle's position (degE7, metres above home): the breach that just began, or
   * null (none, or the same excursion still going). Not armed or not flying: nothing to check.
   */
  check(flying: boolean, latE7: number, lonE7: number, upM: number, nowMs: number): BreachType | null {
    if (!this.enabled || !flying) return null;
    const outside = this.outside(latE7, lonE7);
    const above = (this.types & 1) !== 0 && this.altMaxM !== null && this.altMaxM > 0 && upM > this.altMaxM;
    const now: BreachType | null = outside ? 'boundary' : above ? 'ceiling' : null;
    if (now === null) {
      this.breached = null;
      return null;
    }
    if (this.breached !== null) return null;
    this.breached = now;
    this.breachCount++;
    this.breachTimeMs = nowMs;
    return now;
  }

  /** Whether an enabled polygon fence (ArduPilot's type bit 4, which covers the exclusion circles too)
   *  leaves this point (degE7) outside its polygon or inside one of its circles. */
  outside(latE7: number, lonE7: number): boolean {
    return this.outsidePolygon(latE7, lonE7) || this.insideCircle(latE7, lonE7);
  }

  /** Why arming here would be refused (ArduPilot's fence pre-arm check), or null. */
  armingProblem(latE7: number, lonE7: number): string | null {
    if (this.outsidePolygon(latE7, lonE7)) return 'PreArm: vehicle outside fence';
    if (this.insideCircle(latE7, lonE7)) return 'PreArm: vehicle inside a keep-out';
    return null;
  }

  private outsidePolygon(latE7: number, lonE7: number): boolean {
    return this.enabled && (this.types & 4) !== 0 && this.polygonE7.length >= 3 && !insideFence(latE7, lonE7, this.polygonE7);
  }

  private insideCircle(latE7: number, lonE7: number): boolean {
    if (!this.enabled || (this.types & 4) === 0) return false;
    return this.circles.some((c) => {
      const d = geoToLocal({ latDeg: c.latE7 / 1e7, lonDeg: c.lonE7 / 1e7 }, latE7 / 1e7, lonE7 / 1e7);
      return Math.hypot(d.northM, d.eastM) < c.radiusM;
    });
  }

  status(): FenceStatus {
    return { vertices: this.polygonE7.length, polygonE7: this.polygonE7.map((p) => [p.n, p.e] as const), circles: this.circles.map((c) => [c.latE7, c.lonE7, c.radiusM] as const), altMaxM: this.altMaxM, enabled: this.enabled, breached: this.breached, breachCount: this.breachCount, breachTimeMs: this.breachTimeMs };
  }

  /** FENCE_STATUS (common.xml), as ArduPilot streams it while a fence is enabled. */
  message(): common.FenceStatus {
    const m = new common.FenceStatus();
    m.breachStatus = this.breached === null ? 0 : 1;
    m.breachCount = this.breachCount;
    m.breachType = this.breached === 'boundary' ? common.FenceBreach.BOUNDARY : this.breached === 'ceiling' ? common.FenceBreach.MAXALT : common.FenceBreach.NONE;
    m.breachTime = this.breachTimeMs >>> 0;
    m.breachMitigation = common.FenceMitigate.NONE;
    return m;
  }
}
