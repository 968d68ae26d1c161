// Writes a finished run's report: the JSON of DESIGN.md (plus what the flight layer measured) and the
// self-contained HTML page, side by side, and formats the summary a terminal shows at the end.

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { CliError, exitCodes } from '../../runtime/cli/kit.js';
import { fleetPrefix } from '../../runtime/links/mqtt-topics.js';
import { writeFilesAtomic } from './atomic-file.js';
import { renderReportHtml } from './html.js';
import { rejectedText, type CommandRejection } from './rejections.js';
import type { Recording } from './recorder.js';
/** The real-time air's counters (fleet-sim/realtime/radio-medium.ts). */
import type { RadioCounters as AirCounters } from '../realtime/radio-medium.js';

export interface WrittenReport {
  readonly json: string;
  readonly html: string;
}

/** Where a real-time closest approach was measured: the simulated vehicles, or the GNSS positions the
 *  devices reported (about 1 m of noise between two of them). */
const from = (s: 'vehicles' | 'reports' | undefined): string => (s === 'reports' ? ' (from reported GNSS positions)' : '');

export function reportBaseName(scenario: string, seed: number): string {
  return `${scenario.replace(/[^A-Za-z0-9._-]/g, '_')}-seed${seed}`;
}

/** Writes both files whole or leaves the old ones (atomic-file.ts); a failure (a full disk, a directory
 *  that cannot be written) is a one-line CliError naming the directory. */
export function writeReport(dir: string, report: { scenario: string; seed: number }, recording: Recording): WrittenReport {
  const base = join(dir, reportBaseName(report.scenario, report.seed));
  const json = `${base}.json`;
  const html = `${base}.html`;
  try {
    mkdirSync(dir, { recursive: true });
    writeFilesAtomic([
      { path: json, data: JSON.stringify(report, null, 2) + '\n' },
      { path: html, data: renderReportHtml(recording, `${report.scenario} seed ${report.seed}`) },
    ]);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new CliError(`cannot write the report to ${dir}: ${err.code ?? ''}${err.code ? ' ' : ''}${err.message.replace(/^[A-Z]+: /, '')}; reports already there are left as they were`, exitCodes.failed);
  }
  return { json, html };
}

interface SummaryFields {
  scenario: string;
  mode?: string;
  /** A real-time run's fleet name (its MQTT topics). */
  fleet?: string;
  seed: number;
  simulatedMs: number;
  wallMs: number;
  safety: { ok: boolean; violations: readonly { property: string; detail: string }[] };
  liveness: { heights: number; commandsSubmitted: number; commandsCommitted: number; commandsRejected?: number; rejections?: readonly CommandRejection[]; maxStallMs: number };
  latencyMs: { commitP50: number | null; commitP99: number | null };
  throughput: { commandsPerSec: number };
  evidence: readonly { validator: number; height: number }[];
  nodes: { validators: number; followers: number; byzantine: readonly number[]; crashed: readonly number[] };
  expect: { met: boolean; failed: readonly string[] };
  /** Real-time mode counts fleet-sim's air; deterministic mode counts the simulated radios and routers. */
  radio?: AirCounters | SimRadioCounters | null;
  flight?: { surveyedFraction?: number | null; failsafes?: number; geofenceBreaches?: number; minSeparationM?: number | null; separationFrom?: 'vehicles' | 'reports'; hazardsFound?: number; obstacleStrikes?: number | null } | null;
  validatorSet?: { epoch: number; validators: readonly number[]; sinceHeight: number };
  stateSync?: { installs: number; refused: number };
  /** Deterministic mode: what honest nodes refused or dropped, by kind (scenario.ts refusedKinds). */
  refused?: { malformed: number; notProposer: number; invalidBlock: number; tornLogTails: number; replayedCommands?: number; badSignatures?: number };
  forgedCommands?: { sent: Partial<Record<string, number>>; refused: Partial<Record<string, number>>; committed: number } | null;
  hazards?: { sites: readonly { id: string; committedAtMs: number | null; committedHeight: number | null; attesters: readonly number[] }[]; spuriousCells: number; liesCommitted?: number } | null;
}

interface SimRadioCounters {
  packetsSent: number;
  bytesSent: number;
  relays: number;
  dropped: { loss: number; queueFull: number; queueBytes?: number };
  router: { firstByRadio: number; relayedDeliveries: number };
}

const ms = (v: number | null): string => (v === null ? '-' : `${v.toFixed(v < 10 ? 1 : 0)} ms`);

/** Evidence grouped by culprit: "validator 6: 180 conflicting votes from height 76". */
function evidenceText(evidence: readonly { validator: number; height: number }[]): string {
  if (evidence.length === 0) return 'none';
  const by = new Map<number, { count: number; first: number }>();
  for (const e of evidence) {
    const b = by.get(e.validator) ?? { count: 0, first: e.height };
    by.set(e.validator, { count: b.count + 1, first: Math.min(b.first, e.height) });
  }
  return [...by.entries()].map(([v, b]) => `validator ${v} (${b.count} from height ${b.first})`).join(', ');
}

/** "1 follower", "4 validators". */
const counted = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;

/** A few aligned lines a person reads at the end of a run. */
export function formatSummary(r: SummaryFields): string {
  const rows: [string, string][] = [
    ['scenario', `${r.scenario} (seed ${r.seed}), ${counted(r.nodes.validators, 'validator')} + ${counted(r.nodes.followers, 'follower')}`],
    ...(r.fleet !== undefined ? [['fleet', `${r.fleet} (its topics: ${fleetPrefix(r.fleet)}/#)`] as [string, string]] : []),
    ['time', `${(r.simulatedMs / 1000).toFixed(1)} s simulated in ${(r.wallMs / 1000).toFixed(1)} s`],
    ['safety', r.safety.ok ? (r.mode === 'realtime' ? 'ok: every device reported the same block hash for each committed decision' : 'ok: no two honest nodes disagreed, every certificate verified') : `VIOLATED: ${r.safety.violations[0]?.property}: ${r.safety.violations[0]?.detail}`],
    ['commits', `${r.liveness.heights} heights, ${r.liveness.commandsCommitted}/${r.liveness.commandsSubmitted} commands${rejectedText(r.liveness.commandsRejected, r.liveness.rejections)}, ${r.throughput.commandsPerSec}/s`],
    ['latency', `p50 ${ms(r.latencyMs.commitP50)}, p99 ${ms(r.latencyMs.commitP99)}, longest stall ${r.liveness.maxStallMs} ms`],
    ['faults', `crashed [${r.nodes.crashed.join(', ')}], byzantine [${r.nodes.byzantine.join(', ')}], evidence ${evidenceText(r.evidence)}`],
  ];
  const a = r.radio;
  if (a && 'copiesDelivered' in a) rows.push(['radio', `${a.packetsSent} packets on the air${'relays' in a ? ` (${String(a.relays)} of them relays)` : ''}, ${a.copiesDelivered} copies heard, ${a.copiesLost} lost, ${a.copiesCut} cut by partitions, ${a.copiesOutOfRange} out of range, ${a.packetsOverflowed} overflowed`]);
  else if (a) rows.push(['radio', `${a.packetsSent} packets (${(a.bytesSent / 1000).toFixed(0)} kB, ${a.relays} relays), ${a.dropped.loss} lost, ${a.dropped.queueFull} refused (queue full${a.dropped.queueBytes ? `, ${a.dropped.queueBytes} of them past its airtime bound` : ''}); first copy of ${a.router.firstByRadio} envelopes, ${a.router.relayedDeliveries} through relays`]);
  const f = r.flight;
  if (f && typeof f.surveyedFraction === 'number') rows.push(['survey', `${(f.surveyedFraction * 100).toFixed(0)}% of the area covered`]);
  // A real-time run where no drone took off has nothing to say here.
  const flew = f && (r.mode !== 'realtime' || typeof f.minSeparationM === 'number' || (f.failsafes ?? 0) > 0 || (f.geofenceBreaches ?? 0) > 0);
  if (f && flew && typeof f.failsafes === 'number') {
    // Real time counts every reflex return or landing the devices report; deterministic mode its battery ones.
    const parts = [r.mode === 'realtime' ? `${f.failsafes} failsafes (reflex returns and landings)` : `${f.failsafes} battery failsafes`, `${f.geofenceBreaches ?? 0} geofence breaches`];
    if (typeof f.hazardsFound === 'number') parts.push(`${counted(f.hazardsFound, 'hazard')} found`);
    if (typeof f.obstacleStrikes === 'number') parts.push(`${f.obstacleStrikes} obstacle strikes`);
    rows.push(['flight', `${parts.join(', ')}, closest approach ${f.minSeparationM ?? '-'} m${from(f.separationFrom)}`]);
  } else if (f && typeof f.minSeparationM === 'number') {
    rows.push(['flight', `closest approach ${f.minSeparationM} m${from(f.separationFrom)}`]);
  }
  if (r.stateSync && r.stateSync.installs + r.stateSync.refused > 0) rows.push(['state sync', `${counted(r.stateSync.installs, 'snapshot')} installed, ${r.stateSync.refused} offers or chunks refused`]);
  const rf = r.refused;
  if (rf) {
    const parts = [[rf.malformed, 'malformed message'], [rf.notProposer, 'proposal from a non-proposer', 'proposals from a non-proposer'], [rf.invalidBlock, 'invalid block'], [rf.tornLogTails, 'torn log tail'], [rf.replayedCommands ?? 0, 'replayed command'], [rf.badSignatures ?? 0, 'bad signature']] as const;
    const said = parts.filter(([n]) => n > 0).map(([n, one, many]) => counted(n, one, many));
    if (said.length > 0) rows.push(['refused', said.join(', ')]);
  }
  const fc = r.forgedCommands;
  if (fc) {
    const total = (x: Partial<Record<string, number>>): number => Object.values(x).reduce<number>((a, n) => a + (n ?? 0), 0);
    rows.push(['forged', `${total(fc.sent)} forged commands published, ${total(fc.refused)} refused as expected, ${fc.committed} committed`]);
  }
  if (r.validatorSet && r.validatorSet.epoch > 1) rows.push(['validators', `epoch ${r.validatorSet.epoch} since height ${r.validatorSet.sinceHeight}: [${r.validatorSet.validators.join(', ')}]`]);
  const hz = r.hazards;
  if (hz) {
    const sites = hz.sites.map((x) => (x.committedAtMs === null ? `${x.id} not committed` : `${x.id} committed at ${(x.committedAtMs / 1000).toFixed(1)} s (height ${x.committedHeight}, by ${x.attesters.length} devices)`));
    rows.push(['hazards', `${[...sites, `${hz.spuriousCells} cells committed with nothing there`].join(', ')}${(hz.liesCommitted ?? 0) > 0 ? `; ${hz.liesCommitted} lying attestations reached blocks` : ''}`]);
  }
  rows.push(['expect', r.expect.met ? 'met' : `FAILED: ${r.expect.failed.join('; ')}`]);
  const w = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `  ${k.padEnd(w)}  ${v}`).join('\n');
}
