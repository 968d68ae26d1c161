// The devices' status and log documents as murmurctl reads them: unsigned JSON from the broker, so
// anyone who can publish there (or a device of another release) decides their shape. Each field
// murmurctl uses is checked before use; a document that does not fit is named as such by `status` and
// `log`, never taken for a well-formed one (one malformed retained status crashed status for the fleet).
//
// Fields missing are tolerated (older devices lack newer ones; views show '-'), and so are fields this
// release does not know (newer devices); a field present with another type than StatusJson's is not.

import type { DecisionJson, StatusJson } from '../device/control-topics.js';

/** What is wrong with a value, as the rest of a sentence after its path (" is not a number",
 *  "[2] is not an object", ".northM is not a number"), or null when it fits. */
type Check = (v: unknown) => string | null;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

const text: Check = (v) => (typeof v === 'string' ? null : ' is not a string');
const number: Check = (v) => (typeof v === 'number' ? null : ' is not a number');
/** `check`, or null; a value of neither kind " is not a string or null". */
const nullOr =
  (check: Check): Check =>
  (v) => {
    if (v === null) return null;
    const problem = check(v);
    return problem?.startsWith(' is not ') === true ? `${problem} or null` : problem;
  };
const listOf =
  (check: Check): Check =>
  (v) => {
    if (!Array.isArray(v)) return ' is not a list';
    for (const [i, item] of v.entries()) {
      const problem = check(item);
      if (problem !== null) return `[${i}]${problem}`;
    }
    return null;
  };
/** An object whose `required` fields are present and fit, and whose `optional` ones fit when present. */
const shape =
  (required: Record<string, Check>, optional: Record<string, Check> = {}): Check =>
  (v) => {
    if (!isObject(v)) return ' is not an object';
    for (const [key, check] of Object.entries(required)) {
      if (!(key in v)) return `.${key} is missing`;
      const problem = check(v[key]);
      if (problem !== null) return `.${key}${problem}`;
    }
    for (const [key, check] of Object.entries(optional)) {
      const problem = key in v ? check(v[key]) : null;
      if (problem !== null) return `.${key}${problem}`;
    }
    return null;
  };
/** An object of any keys whose values all fit `check` (peers: id to liveness). */
const recordOf =
  (check: Check): Check =>
  (v) => {
    if (!isObject(v)) return ' is not an object';
    for (const [key, value] of Object.entries(v)) {
      const problem = check(value);
      if (problem !== null) return `.${key}${problem}`;
    }
    return null;
  };
const anyObject: Check = (v) => (isObject(v) ? null : ' is not an object');

const heightOf = shape({ id: text, height: number });
const stall = shape(
  { forS: number, height: number, round: number, down: listOf(text), voting: listOf(text), behind: listOf(heightOf), silent: listOf(text), votingPower: number, quorumPower: number, totalPower: number },
  { ahead: listOf(heightOf), ownLinks: listOf(text) },
);
const agent = shape({ name: text, engine: text, state: text, model: nullOr(text), modelRefused: nullOr(text), engineReasons: listOf(text), restarts: number, ticks: number, overruns: number, lastError: nullOr(text) });

/** Every field of StatusJson but `node` (checked against the topic): the ones the views show in full,
 *  the others (shown by --json only) as far as their kind. */
const status = shape(
  {},
  {
    role: text,
    state: text,
    height: number,
    round: number,
    proposer: text,
    epoch: number,
    peers: recordOf(text),
    batteryPct: nullOr(number),
    position: nullOr(shape({ northM: number, eastM: number }, { upM: nullOr(number) })),
    mission: nullOr(shape({ id: text, status: text, progressPct: number })),
    handedOver: text,
    evidence: listOf(anyObject),
    hazards: listOf(anyObject),
    failsafes: number,
    relayedFirst: number,
    dropped: anyObject,
    notMember: text,
    stateSync: anyObject,
    blockSources: nullOr(listOf(text)),
    fcFence: anyObject,
    agents: listOf(agent),
    stall,
    timeMs: number,
  },
);

const decision = shape({ height: number, index: number, command: text, operator: text, type: text, outcome: text, reason: text, blockHash: text });

/** A status document that fits: its node, and any of StatusJson's other fields. */
export type ReadStatus = Partial<StatusJson> & { readonly node: string };

/** The status document `text` retained on the status topic of `node`, or what is wrong with it
 *  (`mission is not an object`, `not JSON`). */
export function readStatus(text: string, node: string): { ok: true; status: ReadStatus } | { ok: false; problem: string } {
  const doc = readNamed(text, node);
  if (!doc.ok) return doc;
  const problem = status(doc.value);
  // The problem starts with the top field's "." (".mission is not an object").
  if (problem !== null) return { ok: false, problem: problem.slice(1) };
  return { ok: true, status: doc.value as ReadStatus };
}

/** The log document (`{node, decisions}`) retained on the log topic of `node`: the decisions that fit,
 *  and what is wrong with each one that does not (`decisions[0] is not an object`), or with the whole. */
export function readLog(text: string, node: string): { decisions: DecisionJson[]; problems: string[] } {
  const doc = readNamed(text, node);
  if (!doc.ok) return { decisions: [], problems: [doc.problem] };
  const list = doc.value.decisions ?? [];
  if (!Array.isArray(list)) return { decisions: [], problems: ['decisions is not a list'] };
  const decisions: DecisionJson[] = [];
  const problems: string[] = [];
  for (const [i, d] of list.entries()) {
    const problem = decision(d);
    if (problem === null) decisions.push(d as DecisionJson);
    else problems.push(`decisions[${i}]${problem}`);
  }
  return { decisions, problems };
}

/** A JSON object that names `node`, the device whose topic it came on. */
function readNamed(text: string, node: string): { ok: true; value: Record<string, unknown> } | { ok: false; problem: string } {
  let doc: unknown;
  try {
    doc = JSON.parse(text) as unknown;
  } catch {
    return { ok: false, problem: 'not JSON' };
  }
  if (!isObject(doc)) return { ok: false, problem: 'not a JSON object' };
  if (doc.node !== node) return { ok: false, problem: typeof doc.node === 'string' ? `it names node "${doc.node}", not ${node} (its topic's)` : 'node is missing or not a string' };
  return { ok: true, value: doc };
}
