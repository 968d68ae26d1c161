// What each command does to the mission state, after the role check: parse args, check state,
// geofence and battery, then return the new state and the tasks, or a reason to reject.

import { availableDrones, allocateSlots, allocateSurvey, batteryProblem, silenceProblem } from './allocate.js';
import { ArgError, noExtraArgs, nodesArg, num, oneOfArg, pointArg, pointsArg, str } from './args.js';
import { runModelCommand } from './models.js';
import { circleSlotsMax, crossingProblem, doubleArea, formationSlots, insidePolygon, lawnmowerLanes, legOutside, type FormationShape } from './geometry.js';
import { hazardCellsText, hazardMarginDm, keepOuts, routeAround, wayFrom } from './hazards.js';
import { assignmentTask, joinLayersOf, reassign, reassignText } from './reassign.js';
import { paramNames, paramOf, paramSpecs, toDm, type ParamSpec } from './params.js';
import { transitAltitudes } from './deconflict.js';
import type { ActiveMission, Assignment, DroneActivity, MissionBlock, MissionCommand, MissionEffect, MissionKind, MissionState, PointDm, Route, Task } from './types.js';

export const missionLimits = {
  polygonVerticesMax: 64,
  waypointsArgMax: 64,
  surveyLanesMax: 1_000,
} as const;

/** A manifest takes effect two heights after the block that commits it (the consensus H+2 rule). */
export const manifestDelayHeights = 2;

/** After its last waypoint a survey's drone returns home; a goto's or formation's holds there. */
export const thenOf = (kind: MissionKind): 'return' | 'hold' => (kind === 'survey' ? 'return' : 'hold');

/** `note`: for an accepted command, what the audit should say besides (the drones a mission left out,
 *  and why); the decision's reason. */
export type Outcome = { readonly ok: true; readonly state: MissionState; readonly effects: MissionEffect[]; readonly note?: string } | { readonly ok: false; readonly reason: string };

const reject = (reason: string): Outcome => ({ ok: false, reason });

export function runCommand(s: MissionState, c: MissionCommand, block: MissionBlock): Outcome {
  try {
    return dispatch(s, c, block);
  } catch (e) {
    if (e instanceof ArgError) return reject(e.message);
    throw e;
  }
}

function dispatch(s: MissionState, c: MissionCommand, block: MissionBlock): Outcome {
  const a = c.args;
  switch (c.type) {
    case 'noop':
      noExtraArgs(a, []);
      return { ok: true, state: s, effects: [] };
    case 'mission.survey': {
      noExtraArgs(a, ['area', 'spacingM', 'altM', 'speedMps', 'drones', 'replace']);
      const area = pointsArg(a, 'area', 3, missionLimits.polygonVerticesMax);
      const crossing = crossingProblem(area, 'args.area');
      if (crossing) return reject(crossing);
      if (doubleArea(area) === 0) return reject('args.area encloses no area (its points are on one line)');
      const spacing = toDm(num(a, 'spacingM', paramSpecs.laneSpacingM!.min, paramSpecs.laneSpacingM!.max, paramOf(s.params, 'laneSpacingM')));
      // A lane widened past the area's own line (over a slanting edge) stays inside the committed geofence.
      const lanes = lawnmowerLanes(area, spacing, missionLimits.surveyLanesMax, s.geofence);
      if (lanes === null) return reject(`args.area needs more than ${missionLimits.surveyLanesMax} lanes at ${spacing / 10} m spacing; use a larger spacingM`);
      if (lanes.length === 0) return reject('args.area gives no lane inside the geofence');
      return startMission(s, c, block, 'survey', (drones) => allocateSurvey(lanes, drones));
    }
    case 'mission.goto': {
      noExtraArgs(a, ['waypoints', 'node', 'nodes', 'altM', 'speedMps', 'replace']);
      const wps = pointsArg(a, 'waypoints', 1, missionLimits.waypointsArgMax);
      if (a.node !== undefined && a.nodes !== undefined) return reject('give args.node or args.nodes, not both');
      const nodes = nodesArg(a, a.node !== undefined ? 'node' : 'nodes', block.members.devices);
      if (nodes === null) return reject('args.node or args.nodes must name the drone or drones to send');
      for (const id of nodes) {
        const d = s.drones.find((x) => x.id === id);
        const p = d ? (batteryProblem(d, reservePermille(s)) ?? silenceProblem(d, block.timeMs, lostAfterMs(s))) : null;
        if (p) return reject(p);
      }
      // A group flies the same path, each drone offset east by the formation spacing so they keep apart.
      const gap = toDm(paramOf(s.params, 'formationSpacingM'));
      return startMission(s, c, block, 'goto', (drones) =>
        drones.map((d, i) => ({ node: d.id, waypoints: wps.map((w) => ({ n: w.n, e: w.e + i * gap })) })),
        nodes,
      );
    }
    case 'formation': {
      noExtraArgs(a, ['shape', 'center', 'spacingM', 'altM', 'speedMps', 'drones', 'replace']);
      const shape = oneOfArg<FormationShape>(a, 'shape', ['line', 'grid', 'circle']);
      if (a.center === undefined) return reject('args.center must be [north, east] in metres');
      const center = pointArg(a.center, 'args.center');
      const spacing = toDm(num(a, 'spacingM', paramSpecs.formationSpacingM!.min, paramSpecs.formationSpacingM!.max, paramOf(s.params, 'formationSpacingM')));
      return startMission(s, c, block, 'formation', (drones) => {
        if (shape === 'circle' && drones.length > circleSlotsMax) {
          throw new ArgError(`args.shape circle places at most ${circleSlotsMax} drones (one per whole degree), and ${drones.length} are available; use grid, or name the drones in args.drones`);
        }
        return allocateSlots(formationSlots(shape, center, drones.length, spacing), drones);
      });
    }
    case 'hold': {
      noExtraArgs(a, []);
      const m = s.mission;
      if (!m || m.status !== 'active') return reject(m ? `mission ${m.id} is already held` : 'no mission is active, so there is nothing to hold');
      return withMission(s, { ...m, status: 'held' }, unfinished(m), 'holding', { type: 'hold', mission: m.id }, c.id);
    }
    case 'resume': {
      noExtraArgs(a, []);
      const m = s.mission;
      if (!m || m.status !== 'held') return reject(m ? `mission ${m.id} is not held, so there is nothing to resume` : 'no mission is held, so there is nothing to resume');
      return withMission(s, { ...m, status: 'active' }, unfinished(m), 'tasked', { type: 'resume', mission: m.id }, c.id);
    }
    case 'rtl':
    case 'land': {
      // Safety commands: never refused for state or battery, only for bad arguments.
      noExtraArgs(a, ['nodes']);
      const nodes = nodesArg(a, 'nodes', block.members.devices) ?? s.drones.map((d) => d.id);
      const task: Task = c.type === 'rtl' ? { type: 'rtl' } : { type: 'land' };
      const activity = c.type === 'rtl' ? 'returning' : 'landing';
      if (!s.mission) return withMission(s, null, nodes, activity, task, c.id);
      const left = leaveMission(s, s.mission, nodes, activity, c, block.height);
      const out = withMission(s, left.mission, nodes, activity, task, c.id);
      return out.ok ? { ...out, effects: [...out.effects, ...left.effects], ...(left.note ? { note: left.note } : {}) } : out;
    }
    case 'abort': {
      noExtraArgs(a, []);
      return withMission(s, null, s.drones.map((d) => d.id), 'returning', { type: 'abort' }, c.id);
    }
    case 'geofence.set': {
      noExtraArgs(a, ['polygon', 'altMaxM']);
      const poly = pointsArg(a, 'polygon', 3, missionLimits.polygonVerticesMax);
      const crossing = crossingProblem(poly, 'args.polygon');
      if (crossing) return reject(crossing);
      if (doubleArea(poly) === 0) return reject('args.polygon encloses no area (its points are on one line)');
      const altDmMax = toDm(num(a, 'altMaxM', 5, 500, 120));
      for (const d of s.drones) {
        if (d.pos && !insidePolygon(d.pos, poly)) return reject(`the new geofence would leave ${d.id} outside it at [${d.pos.n / 10}, ${d.pos.e / 10}] m; move it first`);
      }
      // Nor may the parts of the active mission still to be flown leave it: each drone's own fence
      // reflex would stop it at the edge, and the mission could never end.
      const m = s.mission;
      if (m) {
        const high = Math.max(m.altDm, ...m.assignments.filter((x) => !m.done.includes(x.node)).map((x) => x.transitAltDm));
        if (high > altDmMax) return reject(`mission ${m.id} flies up to ${high / 10} m (its legs to their routes included), above the new ceiling of ${altDmMax / 10} m; abort or replace the mission first`);
        const zones = keepOuts(s.hazards);
        for (const x of m.assignments) {
          if (m.done.includes(x.node)) continue;
          // The route it flies now (planned under the fence in force); a blocked leg it never flies.
          const { route, blocked } = routeAround(x.waypoints, zones, s.geofence);
          const out = routeOutside(route, poly, blocked.map((b) => b.to));
          if (out) return reject(`${out} of mission ${m.id} for ${x.node} ${out.startsWith('the leg') ? 'leaves' : 'is outside'} the new geofence; abort or replace the mission first`);
          // Nor the way from where it is to the next waypoint it has not passed (its way to its route).
          const here = s.drones.find((d) => d.id === x.node)?.pos;
          const next = x.waypoints[x.flown ?? 0];
          if (here && next && legOutside(here, next, poly)) return reject(`the way from ${x.node}'s position ${at(here)} to its next waypoint ${at(next)} of mission ${m.id} leaves the new geofence; abort or replace the mission first`);
        }
      }
      return { ok: true, state: { ...s, geofence: poly, geofenceAltDmMax: altDmMax }, effects: [{ type: 'geofence', polygon: poly, altDmMax }] };
    }
    case 'hazard.clear':
      return clearHazards(s, c, block);
    case 'param.set': {
      noExtraArgs(a, ['key', 'value']);
      const key = str(a, 'key', 64);
      const spec: ParamSpec | undefined = Object.hasOwn(paramSpecs, key) ? paramSpecs[key] : undefined;
      // JSON-quoted: a key holding control characters (an escape sequence) went into the committed reason
      // raw, and from there to every operator's terminal. The same text as before for a plain key.
      if (!spec) return reject(`args.key ${JSON.stringify(key)} is not a parameter; known: ${paramNames.join(', ')}`);
      const value = num(a, 'value', spec.min, spec.max);
      if (spec.integer && !Number.isInteger(value)) return reject(`args.value of ${key} must be a whole number (${spec.min} to ${spec.max}), is ${value}`);
      return { ok: true, state: { ...s, params: { ...s.params, [key]: value } }, effects: [{ type: 'param', key, value }] };
    }
    case 'fleet.update': {
      noExtraArgs(a, ['manifest']);
      const m = a.manifest;
      if (!(m instanceof Uint8Array)) return reject('args.manifest must be the signed manifest file, as bytes');
      const check = c.manifest ?? { ok: false, reason: 'the manifest was not checked at the edge' };
      if (!check.ok) return reject(`args.manifest: ${check.reason}`);
      if (check.epoch <= block.members.epoch) return reject(`args.manifest has epoch ${check.epoch}, not newer than the epoch in force (${block.members.epoch})`);
      // Not in force at this block + 2: each device submits the manifest as a tx of its own after this
      // block, and chain-state puts it in force two heights after the block that commits that tx, so
      // this block + 3 at the earliest (later when the tx waits for a block).
      return { ok: true, state: s, effects: [{ type: 'fleet-update', command: c.id, epoch: check.epoch, manifest: m, earliestFromHeight: block.height + 1 + manifestDelayHeights }] };
    }
    case 'agent.model': {
      const r = runModelCommand(s, a, block.members.devices, block.height);
      if ('reason' in r) return reject(r.reason);
      return { ok: true, state: r.state, effects: [{ type: 'model-rollout', action: r.command.action, rollout: r.rollout }] };
    }
    default:
      return reject(`unknown command type "${c.type}"`);
  }
}

const at = (p: PointDm): string => `[${p.n / 10}, ${p.e / 10}] m`;

/** Committed hazard cells shown in a reason: at most this many, then how many more. */
const cellsShownMax = 8;
const cellsText = (cells: readonly (readonly [number, number])[], sep = ', '): string =>
  cells.slice(0, cellsShownMax).map((c) => c.join(',')).join(sep) + (cells.length > cellsShownMax ? ` and ${cells.length - cellsShownMax} more` : '');

/**
 * `hazard.clear`: an admin takes committed hazard cells off the map (one, args.cell, as status shows
 * it; or every one, args.all). Denials by the drones clear a cell too, but only one whose obstacle a
 * drone flies near enough to see is gone; this is the operator's way for the rest. Checked against
 * the committed set after the block's attestations and earlier clears (`block.hazards`, else the
 * state's); the shell clears the hazard rule's record (hazard-commit.ts clearHazards).
 */
function clearHazards(s: MissionState, c: MissionCommand, block: MissionBlock): Outcome {
  const a = c.args;
  noExtraArgs(a, ['cell', 'all']);
  if (a.cell !== undefined && a.all !== undefined) return reject('give args.cell or args.all, not both');
  if (a.cell === undefined && a.all === undefined) return reject('give args.cell ([north, east] indexes of the 5 m hazard grid, as murmurctl status shows them) or args.all true');
  if (a.all !== undefined && a.all !== true) return reject('args.all must be true (to clear every committed hazard)');
  const committed = (block.hazards ?? s.hazards)?.cells ?? [];
  if (committed.length === 0) return reject('no hazard is committed, so there is nothing to clear');
  let cells = committed;
  if (a.cell !== undefined) {
    const v = a.cell;
    if (!Array.isArray(v) || v.length !== 2 || !v.every((x) => Number.isSafeInteger(x))) return reject(`args.cell must be [north, east], two whole numbers (the cell's indexes on the hazard grid), is ${JSON.stringify(v).slice(0, 64)}`);
    const [n, e] = v as [number, number];
    if (!committed.some((x) => x[0] === n && x[1] === e)) return reject(`cell ${n},${e} is not a committed hazard; committed: ${cellsText(committed)}`);
    cells = [[n, e]];
  }
  return { ok: true, state: s, effects: [{ type: 'hazard-clear', command: c.id, operator: c.operator, cells }], note: `cleared committed hazard ${cells.length === 1 ? 'cell' : 'cells'} ${cellsText(cells, ' and ')}` };
}

/** The first waypoint of the route outside the fence ("waypoint [n, e] m"), or the first leg between
 *  two of them that leaves it ("the leg from [..] m to [..] m"): one across its edge, or one from edge
 *  to edge across a concave fence's notch (legOutside), or null when it keeps inside.
 *  `skipLegsTo`: legs (by the index of the waypoint they lead to) the drone never flies. */
function routeOutside(route: readonly PointDm[], fence: readonly PointDm[], skipLegsTo: readonly number[] = []): string | null {
  const w = route.find((p) => !insidePolygon(p, fence));
  if (w) return `waypoint ${at(w)}`;
  for (let k = 1; k < route.length; k++) {
    if (skipLegsTo.includes(k)) continue;
    const a = route[k - 1] as PointDm;
    const b = route[k] as PointDm;
    if (legOutside(a, b, fence)) return `the leg from ${at(a)} to ${at(b)}`;
  }
  return null;
}

const reservePermille = (s: MissionState): number => Math.round(paramOf(s.params, 'batteryReservePct') * 10);
const lostAfterMs = (s: MissionState): number => paramOf(s.params, 'lostAfterS') * 1000;

/** Shared path of survey, goto and formation: state check, allocation, geofence check, tasks. */
function startMission(
  s: MissionState,
  c: MissionCommand,
  block: MissionBlock,
  kind: MissionKind,
  plan: (drones: MissionState['drones'][number][]) => Route[],
  only: string[] | null = null,
): Outcome {
  const a = c.args;
  if (a.replace !== undefined && typeof a.replace !== 'boolean') return reject('args.replace must be true or false');
  if (s.mission && a.replace !== true) return reject(`mission ${s.mission.id} is ${s.mission.status}; send abort first, or set args.replace to true`);
  const altDm = toDm(num(a, 'altM', paramSpecs.altitudeM!.min, paramSpecs.altitudeM!.max, paramOf(s.params, 'altitudeM')));
  const speedDmps = toDm(num(a, 'speedMps', paramSpecs.speedMps!.min, paramSpecs.speedMps!.max, paramOf(s.params, 'speedMps')));
  const chosen = only ?? nodesArg(a, 'drones', block.members.devices);
  // A drone silent for lostAfterS would be lost at once and its part handed on or dropped: left out.
  const { ok: drones, excluded } = availableDrones(s.drones, reservePermille(s), chosen, block.timeMs, lostAfterMs(s));
  if (drones.length === 0) return reject(`no drone is available${excluded.length > 0 ? `: ${excluded.join('; ')}` : ''}`);
  if (s.geofence && altDm > s.geofenceAltDmMax) return reject(`altitude ${altDm / 10} m is above the geofence ceiling of ${s.geofenceAltDmMax / 10} m`);
  const routes = plan(drones);
  if (s.geofence) {
    for (const asg of routes) {
      const out = asg.waypoints.find((w) => !insidePolygon(w, s.geofence as PointDm[]));
      if (out) return reject(`waypoint [${out.n / 10}, ${out.e / 10}] m for ${asg.node} is outside the geofence`);
    }
  }
  // Each drone's leg to its route gets an altitude that keeps it clear of the others' (deconflict.ts).
  const ceilingDm = s.geofence ? s.geofenceAltDmMax : toDm(paramSpecs.altitudeM!.max);
  const from = new Map(s.drones.map((d) => [d.id, d.pos]));
  const transit = transitAltitudes(
    routes.map((r) => ({ node: r.node, from: from.get(r.node) ?? null, route: r.waypoints })),
    altDm,
    toDm(paramOf(s.params, 'separationM')),
    ceilingDm,
  );
  const assignments: Assignment[] = routes.map((r, i) => ({ ...r, transitAltDm: transit[i] as number }));
  const mission: ActiveMission = { id: c.id, kind, operator: c.operator, height: block.height, startMs: block.timeMs, status: 'active', altDm, speedDmps, assignments, done: [] };
  // Routes keep clear of committed hazards; the assignment keeps the plan, so a re-plan starts from it.
  const zones = keepOuts(s.hazards);
  const planned = assignments.map((x) => routeAround(x.waypoints, zones, s.geofence));
  const flown = planned.map((p) => p.route);
  const leftOut: string[] = [];
  for (let i = 0; i < planned.length; i++) {
    const node = (assignments[i] as Assignment).node;
    // Waypoints inside a keep-out are dropped (routeAround); with none left the drone would report its
    // part done where it stands, so that is refused, and a goto says which it dropped.
    const dropped = (assignments[i] as Assignment).waypoints.filter((_, k) => (planned[i] as (typeof planned)[number]).index[k] === -1);
    if (dropped.length > 0) {
      const inHazard = `inside the keep-out round ${hazardCellsText(s.hazards, dropped)}`;
      if ((flown[i] as PointDm[]).length === 0) return reject(`every waypoint for ${node} lies ${inHazard} (routes keep ${hazardMarginDm / 10} m from its edge): ${dropped.map(at).join(', ')}`);
      if (kind === 'goto') leftOut.push(`left out for ${node}, ${inHazard}: ${dropped.map(at).join(', ')}`);
    }
    // A leg between two waypoints inside a concave fence may leave it.
    const out = s.geofence ? routeOutside(flown[i] as PointDm[], s.geofence) : null;
    if (out?.startsWith('the leg')) return reject(`${out} for ${node} leaves the geofence`);
    if (out) return reject(`${out} for ${node} is outside the geofence (on its way round a committed hazard)`);
    // Round a hazard on either side, inside the fence; a leg with no way round is not started.
    const blocked = (planned[i] as (typeof planned)[number]).blocked[0];
    if (blocked) return reject(`${blocked.reason} (for ${node})`);
    // The way from where the drone is to its first waypoint, which the device flies round the
    // keep-outs and inside the fence (wayFrom, as the executor does): with none it would hold there
    // for good, and the mission never end.
    const here = from.get(node);
    const first = (flown[i] as PointDm[])[0];
    if (here && first && wayFrom(here, first, zones, s.geofence) === null) {
      const way = `the way from ${node}'s position ${at(here)} to its first waypoint ${at(first)}`;
      if (zones.length === 0) return reject(`${way} leaves the geofence; send it nearer first (mission.goto)`);
      const fenced = s.geofence && insidePolygon(here, s.geofence) ? 'inside the geofence and ' : '';
      return reject(`no way round the committed hazards keeps ${fenced}outside every keep-out on ${way}; send it nearer first (mission.goto)`);
    }
  }
  const effects: MissionEffect[] = assignments.map((x, i) => ({ type: 'task', node: x.node, command: c.id, task: { type: 'waypoints', mission: c.id, waypoints: flown[i] as PointDm[], altDm, transitAltDm: x.transitAltDm, speedDmps, then: thenOf(kind) }, origin: 'operator' }));
  // Drones of a replaced mission that get no part in the new one stop where they are (those that had
  // finished their part carry on: home, or hovering where it ended).
  if (s.mission) {
    for (const node of unfinished(s.mission)) {
      if (!assignments.some((x) => x.node === node)) effects.push({ type: 'task', node, command: c.id, task: { type: 'hold', mission: null }, origin: 'operator' });
    }
  }
  const tasked = new Set(assignments.map((x) => x.node));
  const drones2 = s.drones.map((d) => (tasked.has(d.id) ? { ...d, activity: 'tasked' as const } : d));
  const notes = [...(excluded.length > 0 ? [`left out: ${excluded.join('; ')}`] : []), ...leftOut];
  return { ok: true, state: { ...s, mission, drones: drones2 }, effects, ...(notes.length > 0 ? { note: notes.join('; ') } : {}) };
}

/** The drones of the mission that have not finished their part: those a hold or resume concerns (one
 *  that has is on its way home or hovering where its part ended, and stays so). */
const unfinished = (m: ActiveMission): string[] => m.assignments.filter((x) => !m.done.includes(x.node)).map((x) => x.node);

/** The mission without these drones' parts, or null when every part left has been flown (no drone is
 *  left to finish it, so nothing would ever end it). */
export function withoutNodes(m: ActiveMission, nodes: readonly string[]): ActiveMission | null {
  const assignments = m.assignments.filter((x) => !nodes.includes(x.node));
  const done = m.done.filter((id) => !nodes.includes(id));
  return done.length === assignments.length ? null : { ...m, assignments, done };
}

/**
 * The mission after an operator's rtl or land of `nodes`: a drone among them that had finished its
 * part just leaves it; one that had not is lost from it as to the machine (reassign.ts, cause
 * `operator`), so a survey's unflown part goes on with the nearest drone still flying it, re-tasked
 * with its longer route, and a goto's or formation's is dropped. The reassign effects say which; the
 * decision's note repeats them, so `murmurctl send` shows them too.
 */
function leaveMission(s: MissionState, m: ActiveMission, nodes: readonly string[], activity: DroneActivity, c: MissionCommand, height: number): { mission: ActiveMission | null; effects: MissionEffect[]; note: string } {
  const leaving = unfinished(m).filter((n) => nodes.includes(n));
  const kept = withoutNodes(m, nodes.filter((n) => !leaving.includes(n)));
  if (!kept || leaving.length === 0) return { mission: kept, effects: [], note: '' };
  // Those named are on their way home or down: the taker's layer keeps clear of their return layers.
  const drones = s.drones.map((d) => (nodes.includes(d.id) ? { ...d, activity } : d));
  const lost = leaving.map((node) => ({ node, cause: 'operator' as const, reason: `${c.type} of ${node} by ${c.operator}` }));
  const r = reassign(kept, lost, drones, Math.round(paramOf(s.params, 'batteryReservePct') * 10), height, joinLayersOf(s));
  const effects: MissionEffect[] = [...r.effects];
  for (const node of r.grown) {
    const a = r.mission?.assignments.find((x) => x.node === node);
    if (r.mission && a) effects.push({ type: 'task', node, command: m.id, task: assignmentTask({ ...s, mission: r.mission }, r.mission, a, 0, true), origin: 'automatic' });
  }
  const note = r.effects.flatMap((e) => (e.type === 'reassign' ? [reassignText(e)] : [])).join('; ');
  return { mission: r.mission, effects, note };
}

function withMission(s: MissionState, mission: ActiveMission | null, nodes: readonly string[], activity: DroneActivity, task: Task, command: string): Outcome {
  const set = new Set(nodes);
  const drones = s.drones.map((d) => (set.has(d.id) ? { ...d, activity } : d));
  const effects: MissionEffect[] = [...set].sort().map((node) => ({ type: 'task', node, command, task, origin: 'operator' }));
  return { ok: true, state: { ...s, mission, drones }, effects };
}
