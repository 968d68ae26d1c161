// The scenario's `expect` beyond safety and liveness: flight, hazard, radio and validator-set
// expectations, checked against the finished report. Each failure is one line naming the field.

import type { FlightReport } from '../flight/world-flight.js';
import { refusedKinds, type Expect, type RefusedKind } from '../scenario/scenario.js';
import { forgedExpectFailures, type ForgedCommandsReport } from './forged-commands.js';
import type { RadioReport } from './sim-links.js';

export interface ExpectInputs {
  readonly flight: FlightReport | null;
  readonly radio: RadioReport | null;
  readonly epoch: number;
  readonly hazardsCommitted: number;
  readonly forged: ForgedCommandsReport | null;
  readonly evidence: readonly { readonly validator: number }[];
  readonly stateSync: { readonly installs: number; readonly refused: number };
  readonly refused: Readonly<Record<RefusedKind, number>>;
  readonly blockTimeAheadMaxMs: number | null;
}

export function expectFailures(e: Expect, r: ExpectInputs): string[] {
  const failed: string[] = [];
  failed.push(...flightExpectFailures(e, r.flight));
  failed.push(...hazardExpectFailures(e, r.hazardsCommitted));
  failed.push(...epochExpectFailures(e, r.epoch));
  failed.push(...relayExpectFailures(e, r.radio?.router.relayedDeliveries ?? 0));
  failed.push(...evidenceExpectFailures(e, r.evidence));
  failed.push(...stateSyncExpectFailures(e, r.stateSync));
  failed.push(...refusedExpectFailures(e, r.refused));
  failed.push(...blockTimeExpectFailures(e, r.blockTimeAheadMaxMs));
  if (e.forgedRefused) failed.push(...forgedExpectFailures(r.forged));
  return failed;
}

/** The flight expectations (real-time mode measures these from what the devices report: positions and
 *  their failsafe counts, which cover every reflex return or landing, not the battery ones alone). */
export function flightExpectFailures(
  e: Expect,
  f: (Pick<FlightReport, 'surveyedFraction' | 'geofenceBreaches' | 'failsafes' | 'minSeparationM'> & { readonly obstacleStrikes: number | null }) | null,
  failsafesAre = 'battery failsafes',
): string[] {
  const failed: string[] = [];
  const surveyedFraction = f?.surveyedFraction ?? null;
  const minSeparationM = f?.minSeparationM ?? null;
  if (e.geofenceBreachesMax !== undefined && (f?.geofenceBreaches ?? 0) > e.geofenceBreachesMax) failed.push(`geofenceBreachesMax: ${f?.geofenceBreaches} breaches > ${e.geofenceBreachesMax}`);
  if (e.failsafesMin !== undefined && (f?.failsafes ?? 0) < e.failsafesMin) failed.push(`failsafesMin: ${f?.failsafes ?? 0} ${failsafesAre} < ${e.failsafesMin}`);
  if (e.minSeparationM !== undefined && minSeparationM !== null && minSeparationM < e.minSeparationM) failed.push(`minSeparationM: drones came within ${minSeparationM} m < ${e.minSeparationM} m`);
  // Unknown (devices in their own processes: fleet-sim does not see their vehicles) is not a pass.
  if (e.obstacleStrikesMax !== undefined && (f?.obstacleStrikes ?? null) === null) failed.push('obstacleStrikesMax: not measured (the simulated vehicles run in other processes)');
  else if (e.obstacleStrikesMax !== undefined && (f?.obstacleStrikes ?? 0) > e.obstacleStrikesMax) failed.push(`obstacleStrikesMax: drones flew into obstacles ${f?.obstacleStrikes} times > ${e.obstacleStrikesMax}`);
  if (e.surveyedFractionMin !== undefined && (surveyedFraction ?? 0) < e.surveyedFractionMin) failed.push(`surveyedFractionMin: ${surveyedFraction ?? 0} of the area surveyed < ${e.surveyedFractionMin}`);
  return failed;
}

/** The multi-hop expectation: envelopes some device received first through a radio relay (real-time
 *  mode sums what the devices' routers count, StatusJson.relayedFirst). */
export function relayExpectFailures(e: Expect, relayed: number): string[] {
  return e.relayedDeliveriesMin !== undefined && relayed < e.relayedDeliveriesMin ? [`relayedDeliveriesMin: ${relayed} envelopes first delivered through a radio relay < ${e.relayedDeliveriesMin}`] : [];
}

/** The evidence expectation: committed evidence names each listed validator, and no other. */
export function evidenceExpectFailures(e: Expect, evidence: readonly { readonly validator: number }[]): string[] {
  if (e.evidenceAgainst === undefined) return [];
  const named = new Set(evidence.map((x) => x.validator));
  const failed: string[] = [];
  const missed = e.evidenceAgainst.filter((v) => !named.has(v));
  if (missed.length > 0) failed.push(`evidenceAgainst: no committed evidence names validator ${missed.join(', ')}`);
  const framed = [...named].filter((v) => !e.evidenceAgainst?.includes(v)).sort((a, b) => a - b);
  if (framed.length > 0) failed.push(`evidenceAgainst: committed evidence names validator ${framed.join(', ')}, not expected to lie`);
  return failed;
}

/** The state-sync expectations: snapshots installed, and offers or chunks refused (a forger caught). */
export function stateSyncExpectFailures(e: Expect, s: { readonly installs: number; readonly refused: number }): string[] {
  const failed: string[] = [];
  if (e.stateSyncInstallsMin !== undefined && s.installs < e.stateSyncInstallsMin) failed.push(`stateSyncInstallsMin: ${s.installs} snapshots installed < ${e.stateSyncInstallsMin}`);
  if (e.stateSyncRefusedMin !== undefined && s.refused < e.stateSyncRefusedMin) failed.push(`stateSyncRefusedMin: ${s.refused} snapshot offers or chunks refused < ${e.stateSyncRefusedMin}`);
  return failed;
}

const refusedWhat: Record<RefusedKind, string> = {
  malformed: 'malformed messages (no envelope) dropped at the edge',
  notProposer: "proposals dropped, their signer not the round's proposer",
  invalidBlock: 'proposed blocks found invalid',
  tornLogTails: 'torn or damaged log tails dropped at a start',
  replayedCommands: 'commands replayed after their commit (each refused)',
  badSignatures: 'signed messages whose signature does not verify, dropped at the edge',
};

/** The refusal expectations: honest nodes refused at least so many of each kind named. */
export function refusedExpectFailures(e: Expect, refused: Readonly<Record<RefusedKind, number>>): string[] {
  const want = e.refusedMin;
  if (want === undefined) return [];
  return refusedKinds.flatMap((k) => {
    const min = want[k];
    return min !== undefined && refused[k] < min ? [`refusedMin.${k}: ${refused[k]} ${refusedWhat[k]} < ${min}`] : [];
  });
}

/** The block-time expectation: no committed block's time ran further ahead of true time. */
export function blockTimeExpectFailures(e: Expect, aheadMaxMs: number | null): string[] {
  if (e.blockTimeAheadMaxMs === undefined || aheadMaxMs === null || aheadMaxMs <= e.blockTimeAheadMaxMs) return [];
  return [`blockTimeAheadMax: a committed block's time ran ${Math.round(aheadMaxMs)} ms ahead of true time > ${e.blockTimeAheadMaxMs} ms`];
}

/** The validator-set expectation: the manifest epoch in force at the end. */
export function epochExpectFailures(e: Expect, epoch: number | null): string[] {
  return e.epoch !== undefined && epoch !== e.epoch ? [`epoch: manifest epoch ${epoch ?? 'unknown'} in force at the end, expected ${e.epoch}`] : [];
}

/** The hazard expectations alone (real-time mode checks these and the commit ones, not flight's). */
export function hazardExpectFailures(e: Expect, committed: number): string[] {
  const failed: string[] = [];
  if (e.hazardsCommittedMin !== undefined && committed < e.hazardsCommittedMin) failed.push(`hazardsCommittedMin: ${committed} hazards committed < ${e.hazardsCommittedMin}`);
  if (e.hazardsCommittedMax !== undefined && committed > e.hazardsCommittedMax) failed.push(`hazardsCommittedMax: ${committed} hazards committed > ${e.hazardsCommittedMax}`);
  return failed;
}
