// Parses a scenario file (YAML or JSON) into a Scenario, with errors that name the bad field.
// The CLI turns a ScenarioError into exit status 2.

import { parseDocument } from 'yaml';
import { defaultConsensusConfig } from '../../runtime/consensus/types.js';
import { limits } from '../../runtime/lib/limits.js';
import { ArgError, pointsArg } from '../../runtime/mission/args.js';
import { missionLimits } from '../../runtime/mission/commands.js';
import { decodeCbor, encodeCbor } from '../../runtime/wire/cbor.js';
import { commandTypePattern, encodeCommandBody, parseCommandBody } from '../../runtime/wire/command.js';
import { kinds } from '../../runtime/wire/kinds.js';
import { duration, fail, fraction, int, isObj, obj, only, ScenarioError } from './parse-fields.js';
import { expectations, linkPolicy, operatorRoles, radio, world } from './parse-world.js';
import { forgeriesPerFaultMax, forgeryKinds, type ForgeryKind } from '../sim/forged-commands.js';
import { agentBehaviors, behaviors, rateCommandsMax, type Behavior, type Fault, type HilModel, type LinkModel, type NodeRef, type Scenario, type Workload } from './scenario.js';

export { ScenarioError } from './parse-fields.js';

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

const allBehaviors: readonly string[] = [...behaviors, ...agentBehaviors];

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
    if (wal !== 'torn' && wal !== 'intact' && wal !== 'holes') fail(`${f}.wal`, 'must be intact, torn or holes');
    const which = o.restart === 'crashed' ? 'crashed' : (node(o.restart, `${f}.restart`, count, false) as number);
    return { at, kind: 'restart', node: which, wal: wal as 'intact' | 'torn' | 'holes' };
  }
  if ('byzantine' in o) {
    only(o, ['at', 'byzantine', 'behavior'], f);
    if (!allBehaviors.includes(o.behavior as string)) fail(`${f}.behavior`, `must be one of ${allBehaviors.join(', ')}`);
    return { at, kind: 'byzantine', node: node(o.byzantine, `${f}.byzantine`, count, false) as number, behavior: o.behavior as Behavior };
  }
  if ('partition' in o) {
    only(o, ['at', 'partition', 'until'], f);
    // Each set names someone, and a node is in one group only (the network keeps the last it is given).
    const some = (xs: number[], field: string): number[] => (xs.length > 0 ? xs : fail(field, 'must name at least one node'));
    if (isObj(o.partition)) {
      const p = o.partition;
      only(p, ['from', 'to'], `${f}.partition`);
      return { at, kind: 'one-way', from: some(nodeList(p.from, `${f}.partition.from`, count), `${f}.partition.from`), to: some(nodeList(p.to, `${f}.partition.to`, count), `${f}.partition.to`), until: until() };
    }
    if (!Array.isArray(o.partition)) fail(`${f}.partition`, 'must be a list of groups or {from, to}');
    if ((o.partition as unknown[]).length === 0) fail(`${f}.partition`, 'must name at least one group');
    const groups = (o.partition as unknown[]).map((g, j) => some(nodeList(g, `${f}.partition[${j}]`, count), `${f}.partition[${j}]`));
    const seen = new Set<number>();
    groups.forEach((g, j) => g.forEach((x, k) => (seen.has(x) ? fail(`${f}.partition[${j}][${k}]`, `node ${x} is listed twice (a node is in one group)`) : seen.add(x))));
    return { at, kind: 'partition', groups, until: until() };
  }
  if ('broker' in o) {
    only(o, ['at', 'broker', 'until'], f);
    if (o.broker !== 'down') fail(`${f}.broker`, 'must be "down"');
    return { at, kind: 'broker-down', until: until() };
  }
  if ('forgedCommands' in o) {
    only(o, ['at', 'forgedCommands', 'until', 'kinds'], f);
    const kinds = o.kinds === undefined ? [...forgeryKinds] : Array.isArray(o.kinds) && o.kinds.length > 0 ? (o.kinds as unknown[]) : fail(`${f}.kinds`, `must be a non-empty list of ${forgeryKinds.join(', ')}`);
    kinds.forEach((k, j) => (forgeryKinds as readonly unknown[]).includes(k) || fail(`${f}.kinds[${j}]`, `must be one of ${forgeryKinds.join(', ')}`));
    const perSec = rate(o.forgedCommands, `${f}.forgedCommands`, 50);
    const end = until();
    atMostCount(perSec, end - at, forgeriesPerFaultMax, 'forgeries', `${f}.forgedCommands`);
    return { at, kind: 'forged-commands', perSec, until: end, kinds: kinds as ForgeryKind[] };
  }
  if ('loss' in o) {
    only(o, ['at', 'loss', 'until'], f);
    return { at, kind: 'loss', loss: fraction(o.loss, `${f}.loss`), until: until() };
  }
  if ('clock' in o) {
    only(o, ['at', 'clock', 'offset'], f);
    // A signed duration: "-2m" is two minutes behind true time, "30s" thirty seconds ahead.
    const neg = typeof o.offset === 'string' && o.offset.trim().startsWith('-');
    if (typeof o.offset === 'number' && o.offset !== 0) fail(`${f}.offset`, `is the bare number ${o.offset}: give it a unit, such as ${o.offset}s or ${o.offset}ms`);
    const size = duration(neg ? (o.offset as string).trim().slice(1) : o.offset, `${f}.offset`);
    const offsetMs = neg ? -size : size;
    return { at, kind: 'clock', node: node(o.clock, `${f}.clock`, count, false) as number, offsetMs };
  }
  // Name what the user wrote: "crahs" is a typo of crash, not a missing fault.
  const unknown = Object.keys(o).filter((k) => !['at', 'until'].includes(k));
  return fail(unknown.length > 0 ? `${f}.${unknown[0]}` : f, `${unknown.length > 0 ? 'unknown key; a fault ' : ''}must have one of crash, restart, byzantine, partition, broker, loss, forgedCommands, clock`);
}

/** { type: fleet.update, manifest: { validators: [0, 1, 2, 4], followers: [3, 5] } }: the next epoch's
 *  sets by node index; every index at most once, at least one validator. */
function fleetUpdate(co: Record<string, unknown>, f: string, at: number, count: number): Workload {
  only(co, ['type', 'manifest'], f);
  const m = obj(co.manifest, `${f}.manifest`);
  only(m, ['validators', 'followers'], `${f}.manifest`);
  const validators = nodeList(m.validators, `${f}.manifest.validators`, count);
  const followers = m.followers === undefined ? [] : nodeList(m.followers, `${f}.manifest.followers`, count);
  if (validators.length === 0) fail(`${f}.manifest.validators`, 'must name at least one validator');
  const seen = new Set<number>();
  [...validators, ...followers].forEach((x) => (seen.has(x) ? fail(`${f}.manifest`, `node ${x} is listed twice`) : seen.add(x)));
  return { kind: 'fleet-update', at, validators, followers };
}

/** In time order: a numbered node crashed while it is down, or given a second Byzantine behaviour: the
 *  run did nothing at that fault, or kept only the last behaviour, and passed. */
function downAndUp(faults: readonly Fault[]): void {
  const down = new Map<number, number>();
  const liar = new Map<number, number>();
  let latest: number | 'proposer' | null = null;
  const order = faults.map((x, i) => ({ x, i })).sort((a, b) => a.x.at - b.x.at || a.i - b.i);
  for (const { x, i } of order) {
    if (x.kind === 'crash') latest = typeof x.node === 'number' ? x.node : 'proposer';
    if (x.kind === 'crash' && typeof x.node === 'number') {
      const j = down.get(x.node);
      if (j !== undefined) fail(`faults[${i}].crash`, `node ${x.node} is down already (faults[${j}] crashed it); restart it before crashing it again`);
      down.set(x.node, i);
    } else if (x.kind === 'restart' && typeof x.node === 'number') {
      // A running node restarted is a power cut or kill -9 and a start (its disk as `wal` says).
      down.delete(x.node);
    } else if (x.kind === 'restart') {
      // `crashed`: the node of the latest crash (one comes before: checked in parse), up again.
      if (typeof latest === 'number') down.delete(latest);
    } else if (x.kind === 'byzantine') {
      const j = liar.get(x.node);
      if (j !== undefined) fail(`faults[${i}].byzantine`, `node ${x.node} already turned byzantine (faults[${j}]); a node has one behaviour`);
      liar.set(x.node, i);
    }
  }
}

/** Windows of one kind must not overlap or meet: the simulator keeps one partition, one set of one-way
 *  cuts, one broker state and one loss override, and ends it when any window of that kind ends (the
 *  outer of two nested partitions ended with the inner one), while real time kept the latest partition
 *  and crashed on a second broker outage ("listen EADDRINUSE"). Meeting windows raced at the shared time. */
function oneWindowAtATime(faults: readonly Fault[]): void {
  const names: Partial<Record<Fault['kind'], string>> = { partition: 'partition', 'one-way': 'one-way partition', 'broker-down': 'broker outage', loss: 'loss window' };
  const s = (ms: number): string => `${ms / 1000}s`;
  faults.forEach((b, j) => {
    if (!('until' in b) || names[b.kind] === undefined) return;
    faults.forEach((a, i) => {
      if (i === j || a.kind !== b.kind || !('until' in a)) return;
      // Each pair is reported once, naming the one that starts later (or comes later in the file).
      const later = b.at > a.at || (b.at === a.at && j > i);
      if (later && b.at <= a.until) fail(`faults[${j}]`, `${names[b.kind]} from ${s(b.at)} until ${s(b.until)} overlaps faults[${i}] (${names[a.kind]} from ${s(a.at)} until ${s(a.until)}); one ${names[b.kind]} at a time: start it after ${s(a.until)}`);
    });
  });
}

const positive = (ms: number, field: string, why: string): number => (ms > 0 ? ms : fail(field, `must be more than 0 (${why})`));

/** "20/s" or a bare number per second, more than 0 and at most `max`. */
function rate(v: unknown, field: string, max: number): number {
  const m = typeof v === 'string' ? /^(\d+(?:\.\d+)?)\/s$/.exec(v) : null;
  const perSec = typeof v === 'number' ? v : m ? Number(m[1]) : fail(field, 'must look like 20/s');
  return perSec > 0 && perSec <= max ? perSec : fail(field, `must be between 0 and ${max} per second`);
}

/** A consensus timeout within device.yaml's bounds (runtime/config/device-config.ts): a gossip period
 *  of 0 re-armed itself at the same virtual time and the run never ended. */
function timeout(v: unknown, field: string, minMs: number): number {
  const ms = duration(v, field);
  return ms >= minMs && ms <= 60_000 ? ms : fail(field, `is ${ms} ms; must be in ${minMs}..60000 ms (as in device.yaml)`);
}

/** The simulator stops a rate at `max` sends (world.ts, forged-commands.ts): more would be cut off unsaid. */
function atMostCount(perSec: number, windowMs: number, max: number, what: string, field: string): void {
  const n = Math.ceil((perSec * windowMs) / 1000);
  if (n > max) fail(field, `${perSec}/s for ${windowMs} ms is ${n} ${what}; at most ${max}`);
}

/** A command type every validator takes (runtime/wire/command.ts): others were submitted, refused by
 *  every node, and the run passed without them. */
function commandType(v: unknown, field: string): string {
  return typeof v === 'string' && v.length <= 64 && commandTypePattern.test(v) ? v : fail(field, 'must be a command type such as noop or mission.survey (lowercase words joined by dots, at most 64 characters)');
}

function workload(v: unknown, i: number, count: number): Workload {
  const f = `workload[${i}]`;
  const o = obj(v, f);
  if ('rate' in o) {
    only(o, ['from', 'to', 'rate', 'command'], f);
    const perSec = rate(o.rate, `${f}.rate`, 10_000);
    const command = commandType(o.command, `${f}.command`);
    const from = duration(o.from, `${f}.from`);
    const to = duration(o.to, `${f}.to`);
    if (to <= from) fail(`${f}.to`, 'must be after "from"');
    atMostCount(perSec, to - from, rateCommandsMax, 'commands', `${f}.rate`);
    return { kind: 'rate', from, to, perSec, command };
  }
  only(o, ['at', 'command'], f);
  const c = o.command;
  const at = duration(o.at, `${f}.at`);
  if (typeof c === 'string') return { kind: 'once', at, command: commandType(c, `${f}.command`), args: {} };
  const co = obj(c, `${f}.command`);
  const type = commandType(co.type, `${f}.command.type`);
  if (type === 'fleet.update') return fleetUpdate(co, `${f}.command`, at, count);
  const { type: _type, ...args } = co;
  const argsBytes = encodeCbor(args).length;
  if (argsBytes > limits.commandArgsBytesMax) fail(`${f}.command`, `its arguments are ${argsBytes} bytes encoded; at most ${limits.commandArgsBytesMax}`);
  // What every validator does with it (runtime/wire/envelope.ts): the CBOR scan (nesting, sizes), then the parse.
  const body = decodeCbor(encodeCommandBody({ type, nonce: new Uint8Array(limits.nonceBytes), issuedAt: 1, expiresAt: 2, args }), kinds.command.bodyBytesMax);
  if (!body.ok) return fail(`${f}.command`, `the wire would refuse it: ${body.error}`);
  try {
    parseCommandBody(body.value);
  } catch (e) {
    fail(`${f}.command`, `the wire would refuse it: ${(e as Error).message}`);
  }
  if (type === 'mission.survey') surveyArea(args, `${f}.command.area`);
  return { kind: 'once', at, command: type, args };
}

/** A survey's area, as the mission machine reads it (runtime/mission/commands.ts): fleet-sim reads it
 *  too, for the coverage it reports, and an area of two corners ended the run in "internal error". */
function surveyArea(args: Record<string, unknown>, field: string): void {
  try {
    pointsArg(args, 'area', 3, missionLimits.polygonVerticesMax);
  } catch (e) {
    if (!(e instanceof ArgError)) throw e;
    // "args.area[2] must be two numbers ...": the machine's words, with the scenario's field name.
    const m = /^args\.area(\[\d+\])? (.*)$/.exec(e.message);
    fail(`${field}${m?.[1] ?? ''}`, m?.[2] ?? e.message);
  }
}

/** The Byzantine behaviours that sign two different votes at one height and round (sim/byzantine.ts,
 *  world-faults.ts): the only ones committed evidence can name. */
const evidenceBehaviors: readonly string[] = ['equivocate', 'twins', 'amnesia'];

/** A key written with no value (`duration:`) is YAML's null: it ran with the default, unsaid. Command
 *  arguments are the mission machine's to judge, as on a device (but a survey's area, which fleet-sim
 *  reads too: surveyArea). */
function noEmptyValues(v: unknown, path: string): void {
  if (v === null) fail(path, 'has no value: give one, or leave the key out for its default');
  if (/^workload\[\d+\]\.command$/.test(path)) return;
  if (Array.isArray(v)) v.forEach((x, i) => noEmptyValues(x, `${path}[${i}]`));
  else if (typeof v === 'object' && v !== null) for (const [k, x] of Object.entries(v)) noEmptyValues(x, path ? `${path}.${k}` : k);
}

/** A scenario from its YAML or JSON text; a ScenarioError says what is wrong (the callers name the file). */
export function parseScenario(text: string): Scenario {
  if (text.trim() === '') throw new ScenarioError(`the file is empty; a scenario has at least a name (fleet-sim/scenarios/leader-crash.yaml is the shortest)`);
  let doc: unknown;
  try {
    // Warnings (an unknown tag such as !foo, a map used as a key) were printed by Node as process
    // warnings and the run went on with the text read some other way: here they are errors.
    const parsed = parseDocument(text, { logLevel: 'silent', prettyErrors: true });
    const problem = parsed.errors[0] ?? parsed.warnings[0];
    if (problem) throw problem;
    doc = parsed.toJS({ maxAliasCount: 100 });
  } catch (e) {
    // The callers name the file first. The library's first line ends "at line L, column C:" before a
    // picture of the text over several lines: the line's own text is said instead of the colon.
    const first = ((e as Error).message.split('\n')[0] ?? '').replace(/:\s*$/, '');
    const line = (e as { linePos?: readonly { line: number }[] }).linePos?.[0]?.line;
    const src = line !== undefined ? text.split('\n')[line - 1]?.trim() : undefined;
    throw new ScenarioError(`not valid YAML or JSON: ${first}${src ? ` (${JSON.stringify(src.length > 60 ? `${src.slice(0, 60)}…` : src)})` : ''}`);
  }
  const o = obj(doc, '(top level)');
  noEmptyValues(o, '');
  only(o, ['name', 'seed', 'duration', 'validators', 'followers', 'links', 'operator', 'faults', 'workload', 'expect', 'consensus', 'liveness', 'world', 'hil'], '');
  const name = typeof o.name === 'string' && o.name !== '' ? o.name : fail('name', 'must be a non-empty string');
  // It names the report files (reports/<name>-seed<N>.json) and the real-time device log.
  if (name.length > 100) fail('name', `must be at most 100 characters, is ${name.length}`);
  if (/[/\\\u0000-\u001f\u007f]/.test(name)) fail('name', 'must not contain /, \\ or control characters (it names the report files)');
  const validators = int(o.validators ?? 4, 'validators', 1, 64);
  const followers = int(o.followers ?? 0, 'followers', 0, 1_000);
  const count = validators + followers;
  const durationMs = duration(o.duration ?? '30s', 'duration');
  if (durationMs === 0) fail('duration', 'must be more than 0');
  const links = obj(o.links ?? {}, 'links');
  only(links, ['mqtt', 'radio', 'policy'], 'links');
  const cons = obj(o.consensus ?? {}, 'consensus');
  only(cons, ['proposeTimeout', 'commitWait', 'gossip', 'checkpointEvery', 'syncWindow', 'snapshotEvery', 'followerSources'], 'consensus');
  const followerSources = cons.followerSources === undefined ? undefined : int(cons.followerSources, 'consensus.followerSources', 0, limits.validatorsMax);
  // device.yaml's bounds (runtime/config/device-config.ts): in real time these go into every device's
  // device.yaml, which refuses anything else.
  const checkpointEvery = cons.checkpointEvery === undefined ? undefined : int(cons.checkpointEvery, 'consensus.checkpointEvery', 2, 4_096);
  const syncWindow = cons.syncWindow === undefined ? undefined : int(cons.syncWindow, 'consensus.syncWindow', 4, limits.recentBlocksMax);
  const snapshotEvery = cons.snapshotEvery === undefined ? undefined : int(cons.snapshotEvery, 'consensus.snapshotEvery', 1, 1_000_000);
  const every = checkpointEvery ?? defaultConsensusConfig.checkpointEveryHeights;
  if (snapshotEvery !== undefined && snapshotEvery % every !== 0) fail('consensus.snapshotEvery', `must be a multiple of consensus.checkpointEvery (${every})`);
  const window = syncWindow ?? defaultConsensusConfig.syncWindowHeights;
  if (window < 2 * every) fail('consensus.syncWindow', `is ${window}; must be at least twice consensus.checkpointEvery (${2 * every}), as in device.yaml`);
  const live = obj(o.liveness ?? {}, 'liveness');
  only(live, ['budget'], 'liveness');
  if (o.faults !== undefined && !Array.isArray(o.faults)) fail('faults', 'must be a list');
  if (o.workload !== undefined && !Array.isArray(o.workload)) fail('workload', 'must be a list');
  const roles = o.operator === undefined ? undefined : operatorRoles(o.operator);
  const work = ((o.workload as unknown[] | undefined) ?? []).map((x, i) => workload(x, i, count));
  const faults = ((o.faults as unknown[] | undefined) ?? []).map((x, i) => fault(x, i, count));
  // A fault or command after the end never happens: the run would pass without the story it tells.
  const late = (at: number, field: string): void => void (at >= durationMs && fail(field, `is ${at} ms, at or after the end of the scenario (duration ${durationMs} ms)`));
  faults.forEach((x, i) => late(x.at, `faults[${i}].at`));
  // `restart: crashed` restarts the node the latest crash took down; with none before it, it restarted
  // node 0, which was running (world-faults.ts).
  faults.forEach((x, i) => {
    const crashBefore = faults.some((c, j) => c.kind === 'crash' && (c.at < x.at || (c.at === x.at && j < i)));
    if (x.kind === 'restart' && x.node === 'crashed' && !crashBefore) fail(`faults[${i}].restart`, 'is "crashed" but no crash fault comes before it');
  });
  downAndUp(faults);
  oneWindowAtATime(faults);
  work.forEach((w, i) => (w.kind === 'rate' ? late(w.from, `workload[${i}].from`) : late(w.at, `workload[${i}].at`)));
  // A rate past the end sends nothing after it: the count the report compares against would be unsaid.
  work.forEach((w, i) => void (w.kind === 'rate' && w.to > durationMs && fail(`workload[${i}].to`, `is ${w.to} ms, after the end of the scenario (duration ${durationMs} ms)`)));
  // n validators tolerate f = floor((n - 1) / 3) Byzantine ones; with more, the safety every scenario
  // expects would hold by luck (followers do not vote; a node counts once whatever it does).
  const tolerated = Math.floor((validators - 1) / 3);
  // These lie only in a node's own votes and proposals (sim/byzantine.ts), which a follower never
  // sends: aimed at one, the run printed "f00 turns byzantine: equivocate" and nothing happened.
  const votesOnly = ['equivocate', 'invalid-block', 'forge'];
  faults.forEach((x, i) => {
    if (x.kind === 'byzantine' && x.node >= validators && votesOnly.includes(x.behavior)) fail(`faults[${i}].byzantine`, `node ${x.node} is a follower, which sends no votes or proposals: ${x.behavior} would change nothing (validators are 0..${validators - 1})`);
  });
  const liars = new Set<number>();
  faults.forEach((x, i) => {
    if (x.kind !== 'byzantine' || x.node >= validators || liars.has(x.node)) return;
    liars.add(x.node);
    if (liars.size > tolerated) fail(`faults[${i}].byzantine`, `node ${x.node} makes ${liars.size} Byzantine validators; ${validators} validators tolerate at most ${tolerated}`);
  });
  const expect = expectations(o.expect);
  if (expect.forgedRefused && !faults.some((x) => x.kind === 'forged-commands')) fail('expect.forgedRefused', 'needs a fault that publishes them, such as { at: 2s, forgedCommands: 3/s, until: 12s }');
  // Evidence can name only a validator, and only one that lies: an honest one named is a failure.
  expect.evidenceAgainst?.forEach((n, i) => {
    if (n >= validators) fail(`expect.evidenceAgainst[${i}]`, `must be a validator index in 0..${validators - 1}`);
    const lies = faults.flatMap((x) => (x.kind === 'byzantine' && x.node === n ? [x.behavior] : []));
    if (lies.length === 0) fail(`expect.evidenceAgainst[${i}]`, `node ${n} has no byzantine fault that could be caught`);
    // Evidence is two conflicting votes signed by one key: only these behaviours sign them.
    if (!lies.some((b) => evidenceBehaviors.includes(b))) fail(`expect.evidenceAgainst[${i}]`, `node ${n} is ${lies.join(' and ')}, which signs no conflicting votes, so no evidence can name it (${evidenceBehaviors.join(', ')} do)`);
  });
  const updateAt = work.findIndex((w) => w.kind === 'fleet-update');
  if (updateAt >= 0 && !roles?.includes('admin')) fail(`workload[${updateAt}].command`, 'fleet.update needs the operator to hold the admin role: add operator: { roles: [operator, admin] }');
  return {
    name,
    seed: int(o.seed ?? 1, 'seed', 0, Number.MAX_SAFE_INTEGER),
    durationMs,
    validators,
    followers,
    mqtt: link(links.mqtt, 'links.mqtt'),
    ...(links.radio !== undefined ? { radio: radio(links.radio) } : {}),
    ...(links.policy !== undefined ? { linkPolicy: linkPolicy(links.policy) } : {}),
    ...(roles !== undefined ? { operatorRoles: roles } : {}),
    ...(o.hil !== undefined ? { hil: hil(o.hil, count) } : {}),
    faults,
    workload: work,
    expect,
    consensus: {
      proposeMs: cons.proposeTimeout === undefined ? 300 : timeout(cons.proposeTimeout, 'consensus.proposeTimeout', 50),
      commitWaitMs: cons.commitWait === undefined ? 100 : timeout(cons.commitWait, 'consensus.commitWait', 0),
      gossipMs: cons.gossip === undefined ? 200 : timeout(cons.gossip, 'consensus.gossip', 20),
      ...(checkpointEvery !== undefined ? { checkpointEveryHeights: checkpointEvery } : {}),
      ...(syncWindow !== undefined ? { syncWindowHeights: syncWindow } : {}),
      ...(snapshotEvery !== undefined ? { snapshotEveryHeights: snapshotEvery } : {}),
      ...(followerSources !== undefined ? { followerSources } : {}),
    },
    livenessBudgetMs: live.budget === undefined ? 20_000 : positive(duration(live.budget, 'liveness.budget'), 'liveness.budget', 'the time the fleet has after the scenario to commit what is left; 0 fails every run'),
    ...(o.world !== undefined ? { world: world(o.world) } : {}),
  };
}
