// `murmurctl status | watch | log`: read the devices' JSON topics. These are reports from devices, not
// proofs: `send` verifies commits itself; these views show what each device says, side by side.

import { fleetPrefix } from '../links/mqtt-topics.js';
import { redactBrokerUrl } from '../links/broker-url.js';
import { closeMqtt } from '../links/mqtt-connect.js';
import { withinMs } from '../lib/within.js';
import { controlTopics, type AgentStatusJson, type DecisionJson } from '../device/control-topics.js';
import { readLog, readStatus, type ReadStatus } from './ctl-documents.js';
import { brokerUrl, closeBoundMs, commonHelp, commonOptions, connect, followedLine, loadManifest, ManifestChanges, otherEpochLine, parseDuration, stallLine, timeoutMsMax } from './ctl-common.js';
import { CliError, exitCodes, noStrayArguments, parse, printable, printJson } from './kit.js';
import { initCrypto } from '../crypto/sodium.js';
import type { Manifest } from '../manifest/manifest.js';
import { copyOnly, type FollowedManifest } from '../manifest/successors.js';

const viewExitCodes = `Exit codes: 0 ok, 2 usage, 4 timeout (no device answered), 5 broker unreachable. With --json, a
failure that ends the command (a bad flag, the broker unreachable) is one JSON object on stdout too:
{"outcome":"error","exitCode":N,"reason":"..."}.`;

/** Each verb's own help page: what it shows, its options, and its own --timeout default. */
export const viewUsages = {
  status: `Usage: murmurctl status [options]     one row per device (retained status)

LIVENESS: alive, suspect, dead or recovered as most of the other devices' failure detectors see it;
offline (the device said so, or the broker did for it); dead (its status is older than 5 s and no
device sees it alive); self-only (only its own status, no other device's view); unknown (never heard
from: no status and no device has seen it). Under the table, while validators say their fleet has
committed no block for longer than rounds 0-3 of their timeouts take (14.1 s by default), one line:
who votes at that height, who is down, behind or not heard, and the voting power missing. An
--manifest older than the fleet's is followed through the changes the devices' proofs show (each
checked with keys the copy trusts): the table shows the members in force, and a line on stderr says
so. When devices report another epoch in force than that, a line on stderr says so too. A status
document that does not fit (a field of another kind, not JSON) shows as "(malformed status: why)".

${commonHelp('how long to listen for the devices\' retained status (default 0.8s)')}

${viewExitCodes}`,
  watch: `Usage: murmurctl watch [--count N] [options]   stream every JSON topic of the fleet

  --count N          stop after N messages

${commonHelp('stop after this long (default: no timeout, watch until Ctrl-C or --count);\n                     nothing published by then is a timeout (exit 4)')}

${viewExitCodes.replace('no device answered', 'nothing published within --timeout')}`,
  log: `Usage: murmurctl log [--node ID] [options]     committed commands, rejected ones included

Merges the devices' logs: DEVICES counts the devices that reported each row; where devices report
one height and tx differently, each version gets its own row and a line on stderr says so. Decisions
that do not fit (a field of another kind) are left out, with a line on stderr naming each.

  --node ID          one device's log (an id in the manifest)

${commonHelp('how long to listen for the devices\' retained logs (default 0.8s)')}

${viewExitCodes}`,
} as const;

const inWords = (ms: number): string => (ms < 1_000 ? `${ms} ms` : `${ms / 1_000} s`);

/** The one line on stderr when nothing came: what was waited for, and what to check. */
function silence(what: string, ms: number, url: string, fleet: string): number {
  process.stderr.write(`murmurctl: ${what} within ${inWords(ms)} on ${redactBrokerUrl(url)} (fleet "${fleet}"): are the devices running and connected to this broker? (a longer --timeout waits more)\n`);
  return exitCodes.timeout;
}

/** Collects retained messages on `topics` for `ms` (retained ones arrive right after subscribing). */
async function collect(url: string, topics: readonly string[], ms: number): Promise<Map<string, Buffer>> {
  const client = await connect(url, 'murmurctl-view', Math.min(ms + 4_000, 5_000));
  const got = new Map<string, Buffer>();
  try {
    client.on('message', (t, payload) => got.set(t, payload));
    // Bounded: a broker that stops acknowledging (frozen, or hostile) held status and log for ever.
    const subscribed = client.subscribeAsync(Object.fromEntries(topics.map((t) => [t, { qos: 1 as const }])));
    if (!(await withinMs(subscribed, 5_000))) throw new CliError(`the broker at ${redactBrokerUrl(url)} did not acknowledge the subscription to ${topics[0] ?? ''} within 5 s`, exitCodes.unavailable);
    await subscribed;
    await new Promise((r) => setTimeout(r, ms));
  } finally {
    await closeMqtt(client, closeBoundMs);
  }
  return got;
}

/** `rows` in columns; a cell is anything a document held (a number, a string), said as String() says it,
 *  its control characters escaped (a device's text reaches every operator's terminal). */
function table(rows: unknown[][]): string {
  const cells = rows.map((r) => r.map((c) => printable(String(c))));
  const widths = (cells[0] ?? []).map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  return cells.map((r) => r.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd()).join('\n');
}

/** One line of text that holds what devices or the broker said: its control characters escaped, so
 *  none reaches the terminal (nor a newline that starts a line of their making). */
const line = (text: string): string => `${printable(text)}\n`;

/** The device whose `json/<node>/...` topic `topic` is, when `topicOf(node)` gives it back. */
function nodeOfTopic(topic: string, topicOf: (node: string) => string): string | null {
  const node = topic.split('/').at(-2);
  return node !== undefined && topicOf(node) === topic ? node : null;
}

export async function viewCommand(verb: 'status' | 'watch' | 'log', argv: string[]): Promise<number> {
  const usage = viewUsages[verb];
  const a = parse(argv, { ...commonOptions, count: { type: 'string' }, node: { type: 'string' } }, usage);
  if (a.values.help) return void process.stdout.write(usage + '\n'), exitCodes.ok;
  // Each verb takes only its own options: one it would ignore is a mistake worth saying.
  if (a.values.count !== undefined && verb !== 'watch') throw new CliError(`--count is an option of watch, not of ${verb}`, exitCodes.usage);
  noStrayArguments(a.positionals, 0, (w) => (verb === 'log' ? `one device's log is --node ${w}` : verb === 'status' ? 'status shows every device of the manifest' : ''));
  if (a.values.node !== undefined && verb !== 'log') throw new CliError(`--node is an option of log, not of ${verb}`, exitCodes.usage);
  // watch: no timeout unless given (0), and then watch until Ctrl-C.
  const waitMs = verb === 'watch' ? parseDuration(a.values.timeout, 0, 'timeout', timeoutMsMax, ' (or leave --timeout out: watch then runs until Ctrl-C)') : parseDuration(a.values.timeout, 800);
  await initCrypto();
  const loaded = loadManifest(a.values.manifest);
  const { path } = loaded;
  let manifest = loaded.manifest;
  const url = brokerUrl(a.values.broker);
  const topics = controlTopics(manifest.body.fleet);
  const json = a.values.json === true;
  const fleet = manifest.body.fleet;
  const devicesOf = (m: Manifest): { id: string; role: string }[] => [...m.validators.map((v) => ({ id: v.id, role: 'validator' })), ...m.body.followers.map((f) => ({ id: f.id, role: 'follower' }))];
  let devices = devicesOf(manifest);
  if (a.values.node !== undefined && !devices.some((d) => d.id === a.values.node)) {
    throw new CliError(`--node "${a.values.node}" is not a device of fleet "${fleet}"; its devices: ${devices.map((d) => d.id).join(', ')}`, exitCodes.usage);
  }
  if (verb === 'watch') return watch(url, fleet, a.values.count, waitMs, json);
  if (verb === 'status') {
    const got = await collect(url, [topics.statusAll, topics.manifestsAll], waitMs);
    // A copy older than the fleet's: the changes the devices' proofs lead to give the members in force.
    const changes = new ManifestChanges(manifest, loaded.verifier);
    for (const [t, payload] of got) if (topics.isManifests(t)) changes.add(new Uint8Array(payload));
    const followed = changes.follow();
    const chain = followed.ok ? followed.value : copyOnly(manifest);
    if (chain.length > 1) {
      manifest = (chain[chain.length - 1] as FollowedManifest).manifest;
      devices = devicesOf(manifest);
      process.stderr.write(`murmurctl: ${followedLine(chain, path, 'the table shows its members')}\n`);
    }
    const byNode = new Map<string, ReadStatus>();
    // Status documents that do not fit StatusJson (ctl-documents.ts): what is wrong with each, by device.
    const malformed = new Map<string, string>();
    for (const [t, payload] of got) {
      const node = nodeOfTopic(t, (n) => topics.status(n));
      if (node === null) continue;
      const read = readStatus(payload.toString('utf8'), node);
      if (read.ok) byNode.set(node, read.status);
      else malformed.set(node, read.problem);
    }
    const now = Date.now();
    const rows = devices.map((d) => {
      const s = byNode.get(d.id);
      // Liveness as the other devices' failure detectors see it (majority view), else from the status age.
      const views = [...byNode.values()].map((o) => o.peers?.[d.id]).filter((x): x is NonNullable<typeof x> => x !== undefined);
      const seen = views.length > 0 ? mostCommon(views) : s === undefined ? 'unknown' : 'self-only';
      const stale = s?.timeMs === undefined || now - s.timeMs > 5_000;
      // Never heard of (no status of its own, and no device has seen it) is unknown, not dead: a device
      // that never started, or one on another broker.
      const liveness = s?.state === 'offline' || s?.state === 'stopping' ? 'offline' : seen === 'unknown' ? 'unknown' : stale && seen !== 'alive' ? 'dead' : seen;
      const bad = malformed.get(d.id);
      return { node: d.id, role: d.role, liveness, status: s ?? null, ...(bad !== undefined ? { malformed: bad } : {}) };
    });
    if (json) printJson(rows);
    else {
      const head = ['NODE', 'ROLE', 'LIVENESS', 'HEIGHT', 'ROUND', 'PROPOSER', 'BATTERY', 'POSITION (N,E,UP m)', 'MISSION', 'AGENTS (name:engine@model)'];
      const body = rows.map((r) => {
        const s = r.status;
        // What the document holds is not shown: only that it cannot be read, and why.
        if (r.malformed !== undefined) return [r.node, r.role, r.liveness, '-', '-', '-', '-', '-', '-', `(malformed status: ${r.malformed})`];
        const pos = s?.position ? `${s.position.northM},${s.position.eastM},${s.position.upM ?? '?'}` : '-';
        // A drone a pilot (or its FC's failsafe) took: its part of the mission waits for a new task.
        const mission = (s?.mission ? `${s.mission.id.slice(0, 20)} ${s.mission.status} ${s.mission.progressPct}%` : '-') + (s?.handedOver ? ' (handed over)' : '');
        return [r.node, r.role, r.liveness, String(s?.height ?? '-'), String(s?.round ?? '-'), s?.proposer ?? '-', s?.batteryPct !== null && s?.batteryPct !== undefined ? `${s.batteryPct}%` : '-', pos, mission, agentsCell(s?.agents)];
      });
      process.stdout.write(table([head, ...body]) + '\n');
      const stall = stallLine(rows.map((r) => r.status), manifest.validators.length, now);
      if (stall !== null) process.stdout.write(line(stall));
      // A device that stopped because the manifest in force drops it or lists another key for it: its
      // last status says why (listed or not in this --manifest copy).
      for (const st of byNode.values()) if (typeof st.notMember === 'string') process.stdout.write(line(`${st.node} stopped: ${st.notMember}`));
    }
    // A copy older than the fleet's showed the old members only, and said nothing of it.
    const other = otherEpochLine([...byNode.values()], manifest.body.epoch, path);
    const strangers = [...byNode.keys()].filter((n) => !devices.some((d) => d.id === n)).sort();
    if (other !== null) process.stderr.write(line(`murmurctl: ${other}${strangers.length > 0 ? `; heard from devices not in it: ${strangers.join(', ')}` : ''}`));
    return byNode.size === 0 && malformed.size === 0 ? silence('no device published its status', waitMs, url, fleet) : exitCodes.ok;
  }
  const got = await collect(url, [a.values.node !== undefined ? topics.log(a.values.node) : topics.logAll], waitMs);
  const merged = new Map<string, DecisionJson & { reportedBy: string[] }>();
  for (const [t, payload] of got) {
    const node = nodeOfTopic(t, (n) => topics.log(n));
    if (node === null) continue;
    const { decisions, problems } = readLog(payload.toString('utf8'), node);
    // Left out, and said: a malformed log (or row of one) is no device's word on the decision.
    if (problems.length > 0) process.stderr.write(line(`murmurctl: ${node}'s log (${t}) is malformed, left out: ${problems.join('; ')}`));
    for (const d of decisions) {
      // One row per version of a decision: devices that report the same height and tx differently
      // (a faulty or lying one; the log is unsigned JSON for people) are shown apart, not merged.
      const k = JSON.stringify([d.height, d.index, d.command, d.operator, d.type, d.outcome, d.reason, d.blockHash]);
      const e = merged.get(k) ?? { ...d, reportedBy: [] };
      e.reportedBy.push(node);
      merged.set(k, e);
    }
  }
  const list = [...merged.values()].sort((x, y) => x.height - y.height || x.index - y.index || y.reportedBy.length - x.reportedBy.length);
  for (const e of list) e.reportedBy.sort();
  const versions = new Map<string, number>();
  for (const d of list) versions.set(`${d.height}/${d.index}`, (versions.get(`${d.height}/${d.index}`) ?? 0) + 1);
  for (const [at, n] of versions) {
    if (n < 2) continue;
    const [h, i] = at.split('/');
    const says = list.filter((d) => `${d.height}/${d.index}` === at).map((d) => `${d.reportedBy.join(',')}: ${d.command} ${d.outcome}${d.reason ? ` (${d.reason})` : ''}`);
    process.stderr.write(line(`devices disagree on height ${h} tx ${i}: ${says.join('; ')}; \`murmurctl send\` checks a commit's certificate, this log does not`));
  }
  if (json) printJson(list);
  else if (got.size === 0) return silence(`no device${a.values.node !== undefined ? ` (--node ${a.values.node})` : ''} published its log`, waitMs, url, fleet);
  else {
    const head = ['HEIGHT', 'TX', 'COMMAND', 'TYPE', 'OUTCOME', 'REASON', 'DEVICES'];
    process.stdout.write(table([head, ...list.map((d) => [String(d.height), String(d.index), d.command, d.type, d.outcome, d.reason, String(d.reportedBy.length)])]) + '\n');
  }
  return got.size === 0 ? silence(`no device${a.values.node !== undefined ? ` (--node ${a.values.node})` : ''} published its log`, waitMs, url, fleet) : exitCodes.ok;
}

/**
 * One device's agents in a table cell: `name:engine@version`, then what needs attention: a refused
 * model (the reason is in --json), a state other than running, restarts.
 */
export function agentsCell(agents: readonly AgentStatusJson[] | undefined): string {
  if (!agents || agents.length === 0) return '-';
  return agents
    .map((a) => {
      const version = a.model ? `@${a.model.slice(a.model.lastIndexOf('@') + 1)}` : '';
      const notes = [a.modelRefused !== null ? 'model refused' : '', a.state !== 'running' ? a.state : '', a.restarts > 0 ? `${a.restarts} restarts` : ''].filter((x) => x !== '');
      return `${a.name}:${a.engine}${version}${notes.length > 0 ? ` (${notes.join(', ')})` : ''}`;
    })
    .join(' ');
}

function mostCommon(xs: readonly string[]): string {
  const n = new Map<string, number>();
  for (const x of xs) n.set(x, (n.get(x) ?? 0) + 1);
  return [...n.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))[0]?.[0] ?? 'unknown';
}

async function watch(url: string, fleet: string, count: string | undefined, timeoutMs: number, json: boolean): Promise<number> {
  const max = count === undefined ? Infinity : Number(count);
  if (!(Number.isInteger(max) && max > 0) && max !== Infinity) throw new CliError(`--count must be a whole number of messages, at least 1, is "${count}"`, exitCodes.usage);
  const client = await connect(url, 'murmurctl-watch', 5_000);
  const prefix = `${fleetPrefix(fleet)}/json/`;
  let seen = 0;
  // A broker that went away ended the watch without a word, exit 0 (nothing kept the process up): it
  // says so and reconnects, as send does, and says when it hears the broker again.
  client.options.reconnectPeriod = 1_000;
  let lost = false;
  let ending = false;
  client.on('close', () => {
    if (lost || ending) return;
    lost = true;
    process.stderr.write(`murmurctl: lost the broker at ${redactBrokerUrl(url)}; reconnecting every second (Ctrl-C to stop)\n`);
  });
  client.on('connect', () => {
    if (!lost) return;
    lost = false;
    process.stderr.write(`murmurctl: the broker at ${redactBrokerUrl(url)} answers again; watching on\n`);
  });
  await new Promise<void>((resolve) => {
    // Whichever comes first ends the watch, and the others are let go: a --timeout timer left running
    // kept the process up until it fired (watch --count 1 --timeout 1h sat there an hour after its message).
    const timer = timeoutMs > 0 ? setTimeout(() => stop(), timeoutMs) : undefined;
    const stop = (): void => {
      clearTimeout(timer);
      process.off('SIGINT', stop);
      resolve();
    };
    process.once('SIGINT', stop);
    client.on('message', (t, payload) => {
      if (seen >= max) return;
      const text = payload.toString('utf8');
      if (json) process.stdout.write(JSON.stringify({ topic: t, message: safeJson(text) }) + '\n');
      else process.stdout.write(line(`${t.slice(prefix.length)}  ${text}`));
      if (++seen >= max) stop();
    });
    void client.subscribeAsync(`${prefix}#`, { qos: 0 });
  });
  ending = true;
  await closeMqtt(client, closeBoundMs);
  return seen === 0 && timeoutMs > 0 ? silence(`nothing was published on ${prefix}#`, timeoutMs, url, fleet) : exitCodes.ok;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}
