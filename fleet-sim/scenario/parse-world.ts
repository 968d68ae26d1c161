// The scenario's physical side and expectations: the radio on every device, the world the drones fly
// in (hazards, battery, geofence, pads), and `expect`. Errors name the field (parse-fields.ts).

import { limits } from '../../runtime/lib/limits.js';
import { relaySuppressMax } from '../../runtime/links/serial-link.js';
import { crossingProblem, doubleArea } from '../../runtime/mission/geometry.js';
import { duration, fail, fraction, int, metres, obj, only, pointNe } from './parse-fields.js';
import { refusedKinds, type Expect, type RadioModel, type RefusedKind, type Scenario } from './scenario.js';

/** links.radio: { baud: 57600, mtu: 252, loss: 0.02, rangeM: 800, hopLimit: 3, relaySuppress: 3 } (DESIGN.md). */
export function radio(v: unknown): RadioModel {
  const f = 'links.radio';
  const o = obj(v, f);
  only(o, ['baud', 'mtu', 'loss', 'rangeM', 'hopLimit', 'relaySuppress', 'relayJitter'], f);
  if (o.baud === undefined) fail(`${f}.baud`, 'is required (SiK radios run at 57600)');
  if (o.mtu === undefined) fail(`${f}.mtu`, 'is required: bytes per radio packet (SiK 252, E32 58)');
  if (o.rangeM === undefined) fail(`${f}.rangeM`, 'is required: metres within which two radios hear each other');
  return {
    baud: int(o.baud, `${f}.baud`, 300, 10_000_000),
    // The runtime's SerialLink accepts 32..256-byte packets (runtime/links/serial-link.ts).
    mtuBytes: int(o.mtu, `${f}.mtu`, 32, 256),
    loss: o.loss === undefined ? 0 : fraction(o.loss, `${f}.loss`),
    rangeM: metres(o.rangeM, `${f}.rangeM`, 1, 100_000),
    hopLimit: o.hopLimit === undefined ? 3 : int(o.hopLimit, `${f}.hopLimit`, 1, limits.radioHopLimitMax),
    // Left out unless set: the runtime's defaults (SerialLink) apply, in the simulator and on devices alike.
    ...(o.relaySuppress === undefined ? {} : { relaySuppress: relaySuppress(o.relaySuppress, `${f}.relaySuppress`) }),
    ...(o.relayJitter === undefined ? {} : { relayJitterMs: relayJitter(o.relayJitter, `${f}.relayJitter`) }),
  };
}

/** 0 (relay every new packet) or 2..relaySuppressMax copies heard before a queued relay is cancelled. */
function relaySuppress(v: unknown, field: string): number {
  const n = int(v, field, 0, relaySuppressMax);
  return n === 1 ? fail(field, `is 1, which would cancel every relay: 0 (never cancel) or 2..${relaySuppressMax} copies heard`) : n;
}

/** A duration from 0 to limits.radioRelayJitterMsMax. */
function relayJitter(v: unknown, field: string): number {
  const ms = duration(v, field);
  return ms > limits.radioRelayJitterMsMax ? fail(field, `is ${ms} ms; at most ${limits.radioRelayJitterMsMax / 1000}s`) : ms;
}

/** links.policy: { consensus: first }: the router's policy per traffic class (runtime/links/router.ts). */
export function linkPolicy(v: unknown): NonNullable<Scenario['linkPolicy']> {
  const o = obj(v, 'links.policy');
  only(o, ['consensus', 'heartbeat', 'telemetry'], 'links.policy');
  const out: Record<string, 'all' | 'first'> = {};
  for (const [k, p] of Object.entries(o)) out[k] = p === 'all' || p === 'first' ? p : fail(`links.policy.${k}`, 'must be all (every link that is up) or first (the broker while it is up, else the radio)');
  return out;
}

/** world: { hazards: [{ at: [north, east], radius: 15, height: 60 }], batteryWh: 20,
 *  geofence: [[n, e], ...], pads: { spacing: 6, columns: 5, origin: [-20, -20] } } (metres). */
export function world(v: unknown): NonNullable<Scenario['world']> {
  const o = obj(v, 'world');
  only(o, ['hazards', 'batteryWh', 'geofence', 'pads'], 'world');
  let geofence: [number, number][] | undefined;
  if (o.geofence !== undefined) {
    // Each device takes the fence as its geofence.polygon (device.yaml), at most that many points.
    if (!Array.isArray(o.geofence) || o.geofence.length < 3 || o.geofence.length > limits.geofencePointsMax) fail('world.geofence', `must be a list of 3 to ${limits.geofencePointsMax} [north, east] points in metres`);
    geofence = (o.geofence as unknown[]).map((p, i) => pointNe(p, `world.geofence[${i}]`));
    const dm = geofence.map(([n, e]) => ({ n: Math.round(n * 10), e: Math.round(e * 10) }));
    const crossing = crossingProblem(dm, 'world.geofence');
    if (crossing) fail('world.geofence', `${crossing.slice('world.geofence '.length)}; give its points in order around the area`);
    if (doubleArea(dm) === 0) fail('world.geofence', 'encloses no area (its points are on one line)');
  }
  // Each simulated vehicle's range beams test every one (hal.sim.obstacles, at most that many).
  if (o.hazards !== undefined && (!Array.isArray(o.hazards) || o.hazards.length > limits.simObstaclesMax)) fail('world.hazards', `must be a list of at most ${limits.simObstaclesMax} hazards`);
  const hazards = ((o.hazards as unknown[] | undefined) ?? []).map((h, i) => {
    const f = `world.hazards[${i}]`;
    const ho = obj(h, f);
    only(ho, ['at', 'radius', 'height'], f);
    const at = pointNe(ho.at, `${f}.at`);
    return {
      northM: at[0],
      eastM: at[1],
      radiusM: metres(ho.radius ?? 10, `${f}.radius`, 0.5, 1_000),
      heightM: metres(ho.height ?? 60, `${f}.height`, 1, 1_000),
    };
  });
  let pads: NonNullable<NonNullable<Scenario['world']>['pads']> | undefined;
  if (o.pads !== undefined) {
    const p = obj(o.pads, 'world.pads');
    only(p, ['spacing', 'columns', 'origin'], 'world.pads');
    pads = {
      spacingM: metres(p.spacing ?? 6, 'world.pads.spacing', 1, 10_000),
      columns: int(p.columns ?? 1, 'world.pads.columns', 1, 1_000),
      origin: p.origin === undefined ? [-20, -20] : pointNe(p.origin, 'world.pads.origin'),
    };
  }
  return {
    hazards,
    ...(o.batteryWh !== undefined ? { batteryWh: metres(o.batteryWh, 'world.batteryWh', 1, 10_000, 'watt-hours') } : {}),
    ...(geofence !== undefined ? { geofence } : {}),
    ...(pads !== undefined ? { pads } : {}),
  };
}

const count = (v: unknown, field: string): number => int(v, field, 0, 1_000_000_000);

/** expect.evidenceAgainst: [3] (node indexes; checked against validators and faults in parse.ts). */
function evidenceAgainst(v: unknown): number[] {
  if (!Array.isArray(v)) return fail('expect.evidenceAgainst', 'must be a list of validator indexes, such as [3] (or [] for none)');
  const out = v.map((x, i) => int(x, `expect.evidenceAgainst[${i}]`, 0, 63));
  if (new Set(out).size !== out.length) fail('expect.evidenceAgainst', 'names a validator twice');
  return out;
}

/** refusedMin: { malformed: 100, notProposer: 10 }: a count per kind of refusal the report counts. */
function refusedMin(v: unknown): NonNullable<Expect['refusedMin']> {
  const f = 'expect.refusedMin';
  const o = obj(v, f);
  only(o, refusedKinds, f);
  if (Object.keys(o).length === 0) fail(f, `names no kind: give at least one of ${refusedKinds.join(', ')}, such as { malformed: 100 }`);
  const out: Partial<Record<RefusedKind, number>> = {};
  for (const k of refusedKinds) if (o[k] !== undefined) out[k] = int(o[k], `${f}.${k}`, 1, 1_000_000_000);
  return out;
}

/** expect: { safety: true, committedFraction: 0.99, maxStall: 5s, geofenceBreachesMax: 0, ... }. */
export function expectations(v: unknown): Expect {
  const ex = obj(v ?? {}, 'expect');
  only(ex, ['safety', 'committedFraction', 'maxStall', 'geofenceBreachesMax', 'failsafesMin', 'hazardsCommittedMin', 'hazardsCommittedMax', 'minSeparationM', 'obstacleStrikesMax', 'surveyedFractionMin', 'epoch', 'relayedDeliveriesMin', 'forgedRefused', 'evidenceAgainst', 'stateSyncInstallsMin', 'stateSyncRefusedMin', 'refusedMin', 'blockTimeAheadMax'], 'expect');
  const e: Expect = {
    safety: ex.safety === undefined ? true : ex.safety === true ? true : fail('expect.safety', 'must be true'),
    ...(ex.committedFraction !== undefined ? { committedFraction: fraction(ex.committedFraction, 'expect.committedFraction') } : {}),
    ...(ex.maxStall !== undefined ? { maxStallMs: duration(ex.maxStall, 'expect.maxStall') } : {}),
    ...(ex.geofenceBreachesMax !== undefined ? { geofenceBreachesMax: count(ex.geofenceBreachesMax, 'expect.geofenceBreachesMax') } : {}),
    ...(ex.failsafesMin !== undefined ? { failsafesMin: count(ex.failsafesMin, 'expect.failsafesMin') } : {}),
    ...(ex.hazardsCommittedMin !== undefined ? { hazardsCommittedMin: count(ex.hazardsCommittedMin, 'expect.hazardsCommittedMin') } : {}),
    ...(ex.hazardsCommittedMax !== undefined ? { hazardsCommittedMax: count(ex.hazardsCommittedMax, 'expect.hazardsCommittedMax') } : {}),
    ...(ex.minSeparationM !== undefined ? { minSeparationM: metres(ex.minSeparationM, 'expect.minSeparationM', 0, 10_000) } : {}),
    ...(ex.obstacleStrikesMax !== undefined ? { obstacleStrikesMax: count(ex.obstacleStrikesMax, 'expect.obstacleStrikesMax') } : {}),
    ...(ex.surveyedFractionMin !== undefined ? { surveyedFractionMin: fraction(ex.surveyedFractionMin, 'expect.surveyedFractionMin') } : {}),
    ...(ex.epoch !== undefined ? { epoch: int(ex.epoch, 'expect.epoch', 1, 1_000_000) } : {}),
    ...(ex.relayedDeliveriesMin !== undefined ? { relayedDeliveriesMin: count(ex.relayedDeliveriesMin, 'expect.relayedDeliveriesMin') } : {}),
    ...(ex.forgedRefused !== undefined ? { forgedRefused: ex.forgedRefused === true ? true : fail('expect.forgedRefused', 'must be true (or left out)') } : {}),
    ...(ex.evidenceAgainst !== undefined ? { evidenceAgainst: evidenceAgainst(ex.evidenceAgainst) } : {}),
    ...(ex.stateSyncInstallsMin !== undefined ? { stateSyncInstallsMin: count(ex.stateSyncInstallsMin, 'expect.stateSyncInstallsMin') } : {}),
    ...(ex.stateSyncRefusedMin !== undefined ? { stateSyncRefusedMin: count(ex.stateSyncRefusedMin, 'expect.stateSyncRefusedMin') } : {}),
    ...(ex.refusedMin !== undefined ? { refusedMin: refusedMin(ex.refusedMin) } : {}),
    ...(ex.blockTimeAheadMax !== undefined ? { blockTimeAheadMaxMs: duration(ex.blockTimeAheadMax, 'expect.blockTimeAheadMax') } : {}),
  };
  if (e.hazardsCommittedMin !== undefined && e.hazardsCommittedMax !== undefined && e.hazardsCommittedMin > e.hazardsCommittedMax) fail('expect.hazardsCommittedMin', `is ${e.hazardsCommittedMin}, more than expect.hazardsCommittedMax (${e.hazardsCommittedMax})`);
  return e;
}

/** operator: { roles: [operator, admin] }: the roles of the simulated operator "op". */
export function operatorRoles(v: unknown): ('operator' | 'admin')[] {
  const o = obj(v, 'operator');
  only(o, ['roles'], 'operator');
  if (!Array.isArray(o.roles) || o.roles.length === 0) return fail('operator.roles', 'must be a non-empty list of operator, admin');
  const roles = (o.roles as unknown[]).map((r, i) => (r === 'operator' || r === 'admin' ? r : fail(`operator.roles[${i}]`, 'must be operator or admin')));
  return [...new Set(roles)].sort();
}
