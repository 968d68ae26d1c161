// The device application's part of a state snapshot: the mission state and the newest decisions of the
// audit log, as canonical CBOR (sorted map keys), so every device with the same history writes the
// same bytes. Reading checks the shape field by field: a snapshot file can be damaged or edited.

import { snapshotBytesMax } from '../consensus/snapshot.js';
import { limits } from '../lib/limits.js';
import { err, type Result } from '../lib/result.js';
import type { ActiveMission, DroneState, CanaryVersion, HazardSet, MissionState, ModelRollout, ModelVersion, PointDm, TelemetryOrder } from '../mission/types.js';
import { decodeCbor, encodeCanonicalCbor } from '../wire/cbor.js';
import { array, fail, int, map, num, oneOf, parseWith, text, uint } from '../wire/fields.js';
import type { DecisionJson } from './control-topics.js';
import { cellKey, emptyHazardState, type CellRecord, type HazardState } from '../../agents/swarm/hazard-commit.js';

export interface MissionSnapshot {
  readonly mission: MissionState;
  /** The newest decisions (the full audit is the chain); oldest first. */
  readonly decisions: readonly DecisionJson[];
  /** The hazard rule's per-cell counts (agents/swarm/hazard-commit.ts), which decide future commits. */
  readonly hazardRule: HazardState;
}

export function encodeMissionSnapshot(s: MissionSnapshot): Uint8Array {
  return encodeCanonicalCbor({ mission: s.mission, decisions: s.decisions, hazardRule: s.hazardRule });
}

const scan = { depthMax: 12, itemsMax: 4_000_000, collectionLengthMax: 1_000_000, textBytesMax: limits.cborTextBytesMax };
const textMax = 1_024;
const listMax = 1_000_000;

const point = (v: unknown, path: string): PointDm => {
  const m = map(v, path);
  return { n: int(m.n, `${path}.n`, -Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER), e: int(m.e, `${path}.e`, -Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER) };
};
const points = (v: unknown, path: string): PointDm[] => array(v, path, listMax).map((p, i) => point(p, `${path}[${i}]`));
const texts = (v: unknown, path: string): string[] => array(v, path, listMax).map((t, i) => text(t, `${path}[${i}]`, textMax));
const signed = (v: unknown, path: string): number => int(v, path, -Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);

function sent(v: unknown, path: string): TelemetryOrder {
  const m = map(v, path);
  return { session: uint(m.session, `${path}.session`), seq: uint(m.seq, `${path}.seq`) };
}

function drone(v: unknown, path: string): DroneState {
  const m = map(v, path);
  return {
    id: text(m.id, `${path}.id`, textMax),
    pos: m.pos === null ? null : point(m.pos, `${path}.pos`),
    altDm: signed(m.altDm, `${path}.altDm`),
    batteryPermille: signed(m.batteryPermille, `${path}.batteryPermille`),
    telemetryHeight: uint(m.telemetryHeight, `${path}.telemetryHeight`),
    // Absent in snapshots written before lost drones were told from their silence.
    telemetryMs: m.telemetryMs === undefined ? 0 : uint(m.telemetryMs, `${path}.telemetryMs`),
    // Absent before its first report (and in snapshots written before reports were ordered).
    ...(m.telemetrySent === undefined ? {} : { telemetrySent: sent(m.telemetrySent, `${path}.telemetrySent`) }),
    activity: oneOf(m.activity, `${path}.activity`, ['idle', 'tasked', 'holding', 'returning', 'landing'] as const),
  };
}

/** `snapshotMs`: the snapshot's block time, the start a mission written before ActiveMission.startMs
 *  existed is given (below). */
function mission(v: unknown, path: string, snapshotMs: number): ActiveMission {
  const m = map(v, path);
  return {
    id: text(m.id, `${path}.id`, textMax),
    kind: oneOf(m.kind, `${path}.kind`, ['survey', 'goto', 'formation'] as const),
    operator: text(m.operator, `${path}.operator`, textMax),
    height: uint(m.height, `${path}.height`),
    // Absent in snapshots written before lost drones were judged (with DroneState.telemetryMs): the
    // snapshot's block time, the same on every device restoring it. A drone of the mission is then
    // judged from it, not from a silence no one measured: one that reports is judged from its report,
    // one silent since (crashed before the upgrade) is lost lostAfterS after it, never at once. (0
    // would leave such a drone unjudged, and its lanes unflown, for good.)
    startMs: m.startMs === undefined ? snapshotMs : uint(m.startMs, `${path}.startMs`),
    status: oneOf(m.status, `${path}.status`, ['active', 'held'] as const),
    altDm: signed(m.altDm, `${path}.altDm`),
    speedDmps: signed(m.speedDmps, `${path}.speedDmps`),
    assignments: array(m.assignments, `${path}.assignments`, listMax).map((a, i) => {
      const x = map(a, `${path}.assignments[${i}]`);
      return {
        node: text(x.node, `${path}.assignments[${i}].node`, textMax),
        waypoints: points(x.waypoints, `${path}.assignments[${i}].waypoints`),
        transitAltDm: signed(x.transitAltDm, `${path}.assignments[${i}].transitAltDm`),
        // Absent in snapshots written before committed progress, and while none is committed.
        ...(x.flown === undefined ? {} : { flown: uint(x.flown, `${path}.assignments[${i}].flown`) }),
        ...(x.joins === undefined
          ? {}
          : {
              joins: array(x.joins, `${path}.assignments[${i}].joins`, listMax).map((j, k) => {
                const jm = map(j, `${path}.assignments[${i}].joins[${k}]`);
                return { at: uint(jm.at, `${path}.assignments[${i}].joins[${k}].at`), altDm: signed(jm.altDm, `${path}.assignments[${i}].joins[${k}].altDm`) };
              }),
            }),
      };
    }),
    done: texts(m.done, `${path}.done`),
  };
}

function modelVersion(v: unknown, path: string): ModelVersion {
  const m = map(v, path);
  return { version: text(m.version, `${path}.version`, textMax), sha256: text(m.sha256, `${path}.sha256`, 64), height: uint(m.height, `${path}.height`) };
}

function model(v: unknown, path: string): ModelRollout {
  const m = map(v, path);
  const canary = (c: unknown): CanaryVersion => {
    const x = map(c, `${path}.canary`);
    return { ...modelVersion(c, `${path}.canary`), permille: uint(x.permille, `${path}.canary.permille`), nodes: texts(x.nodes, `${path}.canary.nodes`) };
  };
  return {
    model: text(m.model, `${path}.model`, textMax),
    stable: m.stable === null ? null : modelVersion(m.stable, `${path}.stable`),
    previous: m.previous === null ? null : modelVersion(m.previous, `${path}.previous`),
    canary: m.canary === null ? null : canary(m.canary),
  };
}

function hazards(v: unknown, path: string): HazardSet {
  const m = map(v, path);
  return {
    cellDm: uint(m.cellDm, `${path}.cellDm`),
    cells: array(m.cells, `${path}.cells`, listMax).map((c, i) => {
      const pair = array(c, `${path}.cells[${i}]`, 2, 2);
      return [signed(pair[0], `${path}.cells[${i}][0]`), signed(pair[1], `${path}.cells[${i}][1]`)] as const;
    }),
  };
}

function heights(v: unknown, path: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, h] of Object.entries(map(v, path))) out[text(k, `${path} key`, textMax)] = uint(h, `${path}.${k}`);
  return out;
}

function hazardRule(v: unknown, path: string): HazardState {
  const cells: Record<string, CellRecord> = {};
  for (const [k, c] of Object.entries(map(map(v, path).cells, `${path}.cells`))) {
    const at = `${path}.cells.${k}`;
    const m = map(c, at);
    const pair = array(m.cell, `${at}.cell`, 2, 2);
    const cell = [signed(pair[0], `${at}.cell[0]`), signed(pair[1], `${at}.cell[1]`)] as const;
    if (cellKey(cell) !== k) fail(`${at}: the key does not name its cell`);
    cells[k] = {
      cell,
      present: heights(m.present, `${at}.present`),
      absent: heights(m.absent, `${at}.absent`),
      // Absent in snapshots written before words were ordered by their own dates (basis, observedAt).
      observedAt: m.observedAt === undefined ? {} : heights(m.observedAt, `${at}.observedAt`),
      committedAt: m.committedAt === null ? null : uint(m.committedAt, `${at}.committedAt`),
      // Absent from uncommitted cells, and from snapshots written before the record kept who committed it.
      ...(m.committedBy === undefined ? {} : { committedBy: texts(m.committedBy, `${at}.committedBy`) }),
      // Only while an admin's clear of the cell is within the window (and never before that existed).
      ...(m.clearedAt === undefined ? {} : { clearedAt: uint(m.clearedAt, `${at}.clearedAt`) }),
      lastHeight: uint(m.lastHeight, `${at}.lastHeight`),
    };
  }
  return { cells };
}

function decision(v: unknown, path: string): DecisionJson {
  const m = map(v, path);
  return {
    height: uint(m.height, `${path}.height`),
    index: uint(m.index, `${path}.index`),
    command: text(m.command, `${path}.command`, textMax),
    operator: text(m.operator, `${path}.operator`, textMax),
    type: text(m.type, `${path}.type`, textMax),
    outcome: oneOf(m.outcome, `${path}.outcome`, ['accepted', 'rejected'] as const),
    reason: text(m.reason, `${path}.reason`, limits.cborTextBytesMax),
    blockHash: text(m.blockHash, `${path}.blockHash`, 64),
  };
}

function parse(v: unknown): MissionSnapshot {
  const top = map(v, 'app');
  const s = map(top.mission, 'app.mission');
  const params = map(s.params, 'app.mission.params');
  const p: Record<string, number> = {};
  for (const [k, x] of Object.entries(params)) p[k] = num(x, `app.mission.params.${k}`);
  const known = ['height', 'timeMs', 'drones', 'mission', 'geofence', 'geofenceAltDmMax', 'params', 'models', 'hazards', 'accepted', 'rejected'];
  for (const k of Object.keys(s)) if (!known.includes(k)) fail(`app.mission has unexpected key "${k}"`);
  return {
    mission: {
      height: uint(s.height, 'app.mission.height'),
      timeMs: uint(s.timeMs, 'app.mission.timeMs'),
      drones: array(s.drones, 'app.mission.drones', limits.manifestMembersMax).map((d, i) => drone(d, `app.mission.drones[${i}]`)),
      mission: s.mission === null ? null : mission(s.mission, 'app.mission.mission', uint(s.timeMs, 'app.mission.timeMs')),
      geofence: s.geofence === null ? null : points(s.geofence, 'app.mission.geofence'),
      geofenceAltDmMax: signed(s.geofenceAltDmMax, 'app.mission.geofenceAltDmMax'),
      params: p,
      models: array(s.models, 'app.mission.models', listMax).map((m, i) => model(m, `app.mission.models[${i}]`)),
      hazards: s.hazards === null || s.hazards === undefined ? null : hazards(s.hazards, 'app.mission.hazards'),
      accepted: uint(s.accepted, 'app.mission.accepted'),
      rejected: uint(s.rejected, 'app.mission.rejected'),
    },
    decisions: array(top.decisions, 'app.decisions', listMax).map((d, i) => decision(d, `app.decisions[${i}]`)),
    // Absent from snapshots written before the device ran the hazard rule.
    hazardRule: top.hazardRule === undefined ? emptyHazardState : hazardRule(top.hazardRule, 'app.hazardRule'),
  };
}

export function decodeMissionSnapshot(bytes: Uint8Array): Result<MissionSnapshot> {
  const d = decodeCbor(bytes, snapshotBytesMax, scan);
  if (!d.ok) return err(`mission snapshot: ${d.error}`);
  return parseWith('mission snapshot', d.value, parse);
}
