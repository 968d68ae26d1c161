// Which of the wanted keep-out circles go up to the flight controller with the fence (fence-keeper.ts):
// the FC enforces every circle it holds at once, so one the drone is inside would be a breach the
// moment it went up (the FC's fence action takes the drone over, and on the ground it refuses to arm).
// The rule: a circle goes up only when the drone is known to be outside it, or it is on the FC already
// (a circle the FC holds is never taken off because the drone is in it: that is the breach it is there
// for). The swarm's own routing takes the drone out (hazards.ts drops the waypoints inside a keep-out),
// and the keeper checks again until it is out. Past the FC's item budget (limits.fenceItemsMax, shared
// with the polygon's vertices) the circles nearest the drone go up: those it could reach first. A real
// FC may store fewer: one that answers NO_SPACE gets half the keep-outs next (fence-keeper.ts).

import type { GeoCircle, GeoFence } from '../devices.js';
import { geoToLocal } from '../geo.js';
import { limits } from '../../runtime/lib/limits.js';

/** The fence to upload, and what was left out of it. */
export interface KeepOutPlan {
  readonly fence: GeoFence;
  /** Left out because the drone is inside them or its position is not known: checked again. */
  readonly waiting: readonly GeoCircle[];
  /** Left out for want of room on the FC. */
  readonly overBudget: number;
  /** Why circles were left out, in one line; null when none were. */
  readonly reason: string | null;
}

/** A circle's identity on the wire (what the FC stores): centre degE7 and radius. */
export const circleKey = (c: GeoCircle): string => `${Math.round(c.latDeg * 1e7)},${Math.round(c.lonDeg * 1e7)},${c.radiusM}`;

/** How far a point is from the circle's edge, metres: negative inside. */
export function edgeDistanceM(c: GeoCircle, at: { latDeg: number; lonDeg: number }): number {
  const d = geoToLocal(c, at.latDeg, at.lonDeg);
  return Math.hypot(d.northM, d.eastM) - c.radiusM;
}

const plural = (n: number): string => `${n} keep-out${n === 1 ? '' : 's'}`;

/**
 * The fence with the keep-outs that go up: those the drone (at `at`, null: not known) is outside of or
 * the FC holds already (`held`, circleKey), at most the room the polygon leaves, the nearest first;
 * kept in the order given, so the same set is the same upload.
 */
export function planKeepOuts(
  wanted: GeoFence,
  at: { latDeg: number; lonDeg: number } | null,
  held: ReadonlySet<string>,
  itemsMax: number = limits.fenceItemsMax,
  /** The item count this FC answered NO_SPACE to, which made `itemsMax` smaller; null: none. */
  refusedItems: number | null = null,
): KeepOutPlan {
  const all = wanted.keepOuts ?? [];
  if (all.length === 0) return { fence: wanted, waiting: [], overBudget: 0, reason: null };
  const waiting = all.filter((c) => !held.has(circleKey(c)) && (at === null || edgeDistanceM(c, at) < 0));
  const ready = all.filter((c) => !waiting.includes(c));
  const room = Math.max(0, itemsMax - wanted.polygon.length);
  // Stable: equally near circles keep the order given; without a position, the order given.
  const chosen = new Set(at === null ? ready.slice(0, room) : [...ready].sort((a, b) => edgeDistanceM(a, at) - edgeDistanceM(b, at)).slice(0, room));
  const kept = ready.filter((c) => chosen.has(c));
  const overBudget = ready.length - kept.length;
  const why: string[] = [];
  if (waiting.length > 0) why.push(at === null ? `${plural(waiting.length)} left out: the drone's position is not known yet (uploaded once it is, outside them)` : `${plural(waiting.length)} left out: the drone is inside ${waiting.length === 1 ? 'it' : 'them'} (uploaded once it is out)`);
  const given = refusedItems === null ? `the flight controller is given ${itemsMax} fence items` : `the flight controller answered NO_SPACE to ${refusedItems} fence items, so it is given ${itemsMax}`;
  if (overBudget > 0) why.push(`${plural(overBudget)} left out: ${given} and the polygon takes ${wanted.polygon.length} (the ${kept.length} ${at === null ? 'first given' : 'nearest the drone'} kept)`);
  return { fence: { ...wanted, keepOuts: kept }, waiting, overBudget, reason: why.length > 0 ? why.join('; ') : null };
}
