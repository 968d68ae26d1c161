// Parses a scenario file (YAML or JSON) into a Scenario, with errors that name the bad field.
// The CLI turns a ScenarioError into exit status 2.

import { parse as parseYaml } from 'yaml';
import { defaultConsensusConfig } from '../../runtime/consensus/types.js';
import { limits } from '../../runtime/lib/limits.js';
import { behaviors, type Behavior, type Fault, type HilModel, type LinkModel, type NodeRef, type RadioModel, type Scenario, type Workload } from './scenario.js';

export class ScenarioError extends Error {}

const fail = (field: string, what: string): never => {
  throw new ScenarioError(`scenario field "${field}": ${what}`);
};

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function obj(v: unknown, field: string): Obj {
  return isObj(v) ? v : fail(field, 'must be a map');
}

function only(o: Obj, keys: readonly string[], field: string): void {
  for (const k of Object.keys(o)) if (!keys.includes(k)) fail(field ? `${field}.${k}` : k, `unknown key (expected one of: ${keys.join(', ')})`);
}

/** "10s", "250ms", "2m" or a bare number of milliseconds. */
export function duration(v: unknown, field: string): number {
  if (typeof v === 'number' && Number.isFinite(v) && v >= 0) return v;
  if (typeof v !== 'string') return fail(field, 'must be a duration such as 10s or 250ms');
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(v.trim());
  if (!m) return fail(field, `"${v}" is not a duration such as 10s or 250ms`);
  const n = Number(m[1]);
  return Math.round(m[2] === 'ms' ? n : m[2] === 's' ? n * 1000 : n * 60_000);
}

function int(v: unknown, field: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) fail(field, `must be an integer in ${min}..${max}`);
  return v as number;
}

function fraction(v: unknown, field: string): number {
  if (typeof v !== 'number' || !(v >= 0 && v <= 1)) fail(field, 'must be a number between 0 and 1');
  return v as number;
}

function node(v: unknown, field: string, count: number, allowProposer: boolean): NodeRef {
  if (allowProposer && v === 'proposer') return 'proposer';
  return int(v, field, 0, count - 1);
}

function nodeList(v: unknown, field: string, count: number): number[] {
  if (!Array.isArray(v)) return fail(field, 'must be a list of node indexes');
  return v.map((x, i) => node(x, `${field}[${i}]`, count, false) as number);
}

function link(v: unknown, field: string): LinkModel {
  const o = v === undefined ? {} : obj(v, field);
  only(o, ['latency', 'jitter', 'loss', 'duplicate'], field);
  return {
    latencyMs: o.latency === undefined ? 2 : duration(o.latency, `${field}.latency`),
    jitterMs: o.jitter === undefined ? 1 : duration(o.jitter, `${field}.jitter`),
    loss: o.loss === undefined ? 0 : fraction(o.loss, `${field}.loss`),
    duplicate: o.duplicate === undefined ? 0 : fraction(o.duplicate, `${field}.duplicate`),
  };
}

/** links.radio: { baud: 57600, mtu: 252, loss: 0.02, rangeM: 800, hops: 3 } (DESIGN.md). */
function radio(v: unknown, field: string): RadioModel {
  const o = obj(v, field);
  only(o, ['baud', 'mtu', 'loss', 'rangeM', 'hops'], field);
  return {
    baud: o.baud === undefined ? 57_600 : int(o.baud, `${field}.baud`, 1_200, 4_000_000),
    mtuBytes: o.mtu === undefined ? 252 : int(o.mtu, `${field}.mtu`, 32, 256),
    loss: o.loss === undefined ? 0 : fraction(o.loss, `${field}.loss`),
    rangeM: o.rangeM === undefined ? 800 : metres(o.rangeM, `${field}.rangeM`, 1, 100_000),
    hops: o.hops === undefined ? 3 : int(o.hops, `${field}.hops`, 1, 7),
  };
}

/** hil: { nodes: [0], autopilot: px4 } */
function hil(v: unknown, count: number): HilModel {
  const o = obj(v, 'hil');
  only(o, ['nodes', 'autopilot'], 'hil');
  const autopilot = o.autopilot ?? 'px4';
  if (autopilot !== 'px4' && autopilot !== 'ardupilot') fail('hil.autopilot', 'must be px4 or ardupilot');
  const nodes = nodeList(o.nodes, 'hil.nodes', count);
  if (nodes.length === 0) fail('hil.nodes', 'must name at least one node');
  return { nodes, autopilot: autopilot as HilModel['autopilot'] };
}

function fault(v: unknown, i: number, count: number): Fault {
  const f = `faults[${i}]`;
  const o = obj(v, f);
  const at = duration(o.at, `${f}.at`);
  const until = (): number => {
    const u = duration(o.until, `${f}.until`);
    return u > at ? u : fail(`${f}.until`, 'must be after "at"');
  };
  if ('crash' in o) {
    only(o, ['at', 'crash'], f);
    return { at, kind: 'crash', node: node(o.crash, `${f}.crash`, count, true) };
  }
  if ('restart' in o) {
    only(o, ['at', 'restart', 'wal'], f);
    const wal = o.wal ?? 'intact';
    if (wal !== 'torn' && wal !== 'intact') fail(`${f}.wal`, 'must be torn or intact');
    return { at, kind: 'restart', node: node(o.restart, `${f}.restart`, count, false) as number, wal: wal as 'torn' | 'intact' };
  }
  if ('byzantine' in o) {
    only(o, ['at', 'byzantine', 'behavior'], f);
    if (!behaviors.includes(o.behavior as Behavior)) fail(`${f}.behavior`, `must be one of ${behaviors.join(', ')}`);
    return { at, kind: 'byzantine', node: node(o.byzantine, `${f}.byzantine`, count, false) as number, behavior: o.behavior as Behavior };
  }
  if ('partition' in o) {
    only(o, ['at', 'partition', 'until'], f);
    if (isObj(o.partition)) {
      const p = o.partition;
      only(p, ['from', 'to'], `${f}.partition`);
      return { at, kind: 'one-way', from: nodeList(p.from, `${f}.partition.from`, count), to: nodeList(p.to, `${f}.partition.to`, count), until: until() };
    }
    if (!Array.isArray(o.partition)) fail(`${f}.partition`, 'must be a list of groups or {from, to}');
    const groups = (o.partition as unknown[]).map((g, j) => nodeList(g, `${f}.partition[${j}]`, count));
    return { at, kind: 'partition', groups, until: until() };
  }
  if ('broker' in o) {
    only(o, ['at', 'broker', 'until'], f);
    if (o.broker !== 'down') fail(`${f}.broker`, 'must be "down"');
    return { at, kind: 'broker-down', until: until() };
  }
  if ('loss' in o) {
    only(o, ['at', 'loss', 'until'], f);
    return { at, kind: 'loss', loss: fraction(o.loss, `${f}.loss`), until: until() };
  }
  return fail(f, 'must have one of crash, restart, byzantine, partition, broker, loss');
}

function workload(v: unknown, i: number): Workload {
  const f = `workload[${i}]`;
  const o = obj(v, f);
  if ('rate' in o) {
    only(o, ['from', 'to', 'rate', 'command'], f);
    const m = typeof o.rate === 'string' ? /^(\d+(?:\.\d+)?)\/s$/.exec(o.rate) : null;
    const perSec = typeof o.rate === 'number' ? o.rate : m ? Number(m[1]) : fail(`${f}.rate`, 'must look like 20/s');
    if (!(perSec > 0 && perSec <= 10_000)) fail(`${f}.rate`, 'must be between 0 and 10000 per second');
    if (typeof o.command !== 'string') fail(`${f}.command`, 'must be a command type such as noop');
    return { kind: 'rate', from: duration(o.from, `${f}.from`), to: duration(o.to, `${f}.to`), perSec, command: o.command as string };
  }
  only(o, ['at', 'command'], f);
  const c = o.command;
  if (typeof c === 'string') return { kind: 'once', at: duration(o.at, `${f}.at`), command: c, args: {} };
  const co = obj(c, `${f}.command`);
  if (typeof co.type !== 'string') fail(`${f}.command.type`, 'must be a command type');
  const { type, ...args } = co;
  return { kind: 'once', at: duration(o.at, `${f}.at`), command: type as string, args };
}

function metres(v: unknown, field: string, min: number, max: number, unit = 'metres'): number {
  if (typeof v !== 'number' || !(v >= min && v <= max)) fail(field, `must be a number of ${unit} in ${min}..${max}`);
  return v as number;
}

/** world: { hazards: [{ at: [north, east], radius: 15, height: 60 }], batteryWh: 20,
 *  geofence: [[n, e], ...] } (metres). */
function world(v: unknown): NonNullable<Scenario['world']> {
  const o = obj(v, 'world');
  only(o, ['hazards', 'batteryWh', 'geofence'], 'world');
  let geofence: [number, number][] | undefined;
  if (o.geofence !== undefined) {
    if (!Array.isArray(o.geofence) || o.geofence.length < 3) fail('world.geofence', 'must be a list of at least 3 [north, east] points in metres');
    geofence = (o.geofence as unknown[]).map((p, i) => {
      if (!Array.isArray(p) || p.length !== 2) fail(`world.geofence[${i}]`, 'must be [north, east] in metres');
      const q = p as unknown[];
      return [metres(q[0], `world.geofence[${i}][0]`, -100_000, 100_000), metres(q[1], `world.geofence[${i}][1]`, -100_000, 100_000)];
    });
  }
  if (o.hazards !== undefined && !Array.isArray(o.hazards)) fail('world.hazards', 'must be a list');
  const hazards = ((o.hazards as unknown[] | undefined) ?? []).map((h, i) => {
    const f = `world.hazards[${i}]`;
    const ho = obj(h, f);
    only(ho, ['at', 'radius', 'height'], f);
    if (!Array.isArray(ho.at) || ho.at.length !== 2) fail(`${f}.at`, 'must be [north, east] in metres');
    const at = ho.at as unknown[];
    return {
      northM: metres(at[0], `${f}.at[0]`, -100_000, 100_000),
      eastM: metres(at[1], `${f}.at[1]`, -100_000, 100_000),
      radiusM: metres(ho.radius ?? 10, `${f}.radius`, 0.5, 1_000),
      heightM: metres(ho.height ?? 60, `${f}.height`, 1, 1_000),
    };
  });
  return {
    hazards,
    ...(o.batteryWh !== undefined ? { batteryWh: metres(o.batteryWh, 'world.batteryWh', 1, 10_000, 'watt-hours') } : {}),
    ...(geofence !== undefined ? { geofence } : {}),
  };
}

export function parseScenario(text: string, fileName = 'scenario'): Scenario {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (e) {
    throw new ScenarioError(`${fileName} is not valid YAML or JSON: ${(e as Error).message.split('\n')[0]}`);
  }
  const o = obj(doc, '(top level)');
  only(o, ['name', 'seed', 'duration', 'validators', 'followers', 'links', 'faults', 'workload', 'expect', 'consensus', 'liveness', 'world', 'hil'], '');
  if (typeof o.name !== 'string' || o.name === '') fail('name', 'must be a non-empty string');
  const validators = int(o.validators ?? 4, 'validators', 1, 64);
  const followers = int(o.followers ?? 0, 'followers', 0, 1_000);
  const count = validators + followers;
  const links = obj(o.links ?? {}, 'links');
  only(links, ['mqtt', 'radio'], 'links');
  const ex = obj(o.expect ?? {}, 'expect');
  only(ex, ['safety', 'committedFraction', 'maxStall'], 'expect');
  const cons = obj(o.consensus ?? {}, 'consensus');
  only(cons, ['proposeTimeout', 'commitWait', 'gossip', 'checkpointEvery', 'syncWindow', 'snapshotEvery'], 'consensus');
  const checkpointEvery = cons.checkpointEvery === undefined ? undefined : int(cons.checkpointEvery, 'consensus.checkpointEvery', 1, 100_000);
  const syncWindow = cons.syncWindow === undefined ? undefined : int(cons.syncWindow, 'consensus.syncWindow', 1, limits.recentBlocksMax);
  const snapshotEvery = cons.snapshotEvery === undefined ? undefined : int(cons.snapshotEvery, 'consensus.snapshotEvery', 1, 1_000_000);
  const every = checkpointEvery ?? defaultConsensusConfig.checkpointEveryHeights;
  if (snapshotEvery !== undefined && snapshotEvery % every !== 0) fail('consensus.snapshotEvery', `must be a multiple of consensus.checkpointEvery (${every})`);
  const live = obj(o.liveness ?? {}, 'liveness');
  only(live, ['budget'], 'liveness');
  if (o.faults !== undefined && !Array.isArray(o.faults)) fail('faults', 'must be a list');
  if (o.workload !== undefined && !Array.isArray(o.workload)) fail('workload', 'must be a list');
  return {
    name: o.name as string,
    seed: int(o.seed ?? 1, 'seed', 0, Number.MAX_SAFE_INTEGER),
    durationMs: duration(o.duration ?? '30s', 'duration'),
    validators,
    followers,
    mqtt: link(links.mqtt, 'links.mqtt'),
    ...(links.radio !== undefined ? { radio: radio(links.radio, 'links.radio') } : {}),
    ...(o.hil !== undefined ? { hil: hil(o.hil, count) } : {}),
    faults: ((o.faults as unknown[] | undefined) ?? []).map((x, i) => fault(x, i, count)),
    workload: ((o.workload as unknown[] | undefined) ?? []).map((x, i) => workload(x, i)),
    expect: {
      safety: ex.safety === undefined ? true : ex.safety === true ? true : fail('expect.safety', 'must be true'),
      ...(ex.committedFraction !== undefined ? { committedFraction: fraction(ex.committedFraction, 'expect.committedFraction') } : {}),
      ...(ex.maxStall !== undefined ? { maxStallMs: duration(ex.maxStall, 'expect.maxStall') } : {}),
    },
    consensus: {
      proposeMs: cons.proposeTimeout === undefined ? 300 : duration(cons.proposeTimeout, 'consensus.proposeTimeout'),
      commitWaitMs: cons.commitWait === undefined ? 100 : duration(cons.commitWait, 'consensus.commitWait'),
      gossipMs: cons.gossip === undefined ? 200 : duration(cons.gossip, 'consensus.gossip'),
      ...(checkpointEvery !== undefined ? { checkpointEveryHeights: checkpointEvery } : {}),
      ...(syncWindow !== undefined ? { syncWindowHeights: syncWindow } : {}),
      ...(snapshotEvery !== undefined ? { snapshotEveryHeights: snapshotEvery } : {}),
    },
    livenessBudgetMs: live.budget === undefined ? 20_000 : duration(live.budget, 'liveness.budget'),
    ...(o.world !== undefined ? { world: world(o.world) } : {}),
  };
}
