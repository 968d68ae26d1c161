// The agents' part of the consensus application layer: what every device derives from committed
// blocks. Attestations feed the hazard-commit rule, the degraded-device rule and the estimate table.
// (`agent.model` commands are the mission machine's: runtime/mission/models.ts.) Pure and
// deterministic: the runtime calls applyAgentBlock with each committed block's txs (already verified
// at the edge), in block order.

import { decodeCbor } from '../../runtime/wire/cbor.js';
import { decodeEnvelope } from '../../runtime/wire/envelope.js';
import { parseWith } from '../../runtime/wire/fields.js';
import { kinds } from '../../runtime/wire/kinds.js';
import { parseAttestationBody, type AttestationBody } from '../../runtime/wire/attestation.js';
import { limits } from '../../runtime/lib/limits.js';
import { aggregateEstimate, type AggregateMethod, type EstimateResult } from './aggregate.js';
import { applyHazardAttestations, defaultHazardRule, emptyHazardState, type CommittedAttestation, type HazardEvent, type HazardRuleConfig, type HazardState } from './hazard-commit.js';

export interface AgentTx {
  readonly kind: 'attestation';
  readonly sender: string;
  readonly body: AttestationBody;
}

/** Decodes one committed tx; attestations are ours, anything else is null. */
export function agentTxOf(bytes: Uint8Array): AgentTx | null {
  const raw = decodeEnvelope(bytes);
  if (!raw.ok || raw.value.kind !== 'attestation') return null;
  const e = raw.value;
  const d = decodeCbor(e.body, kinds[e.kind].bodyBytesMax);
  if (!d.ok) return null;
  const a = parseWith('attestation', d.value, parseAttestationBody);
  return a.ok ? { kind: 'attestation', sender: e.sender, body: a.value } : null;
}

export interface DegradedRecord {
  readonly severity: 'minor' | 'severe';
  readonly height: number;
  /** True when the device said so itself; otherwise f+1 other devices did. */
  readonly selfReported: boolean;
}

export interface SwarmAgentState {
  readonly hazards: HazardState;
  readonly degraded: Readonly<Record<string, DegradedRecord>>;
  /** Reports about other devices: device -> reporter -> severity, until f+1 agree. */
  readonly degradedReports: Readonly<Record<string, Readonly<Record<string, 'minor' | 'severe'>>>>;
  /** quantity -> each device's latest committed estimate attestation (newerEstimate), the one updated
   *  longest ago first (bounded: estimateSamplesMax). */
  readonly estimates: Readonly<Record<string, readonly CommittedAttestation[]>>;
}

export const emptySwarmAgentState: SwarmAgentState = { hazards: emptyHazardState, degraded: {}, degradedReports: {}, estimates: {} };

export type AgentEvent =
  | HazardEvent
  | { readonly type: 'device-degraded'; readonly device: string; readonly severity: 'minor' | 'severe'; readonly height: number };

export interface AgentBlock {
  readonly height: number;
  /** Byzantine faults tolerated by the manifest in force. */
  readonly f: number;
  /** Validators and followers of the manifest in force. */
  readonly devices: readonly string[];
  readonly txs: readonly AgentTx[];
}

export function applyAgentBlock(state: SwarmAgentState, b: AgentBlock, hazardRule: HazardRuleConfig = defaultHazardRule): { state: SwarmAgentState; events: AgentEvent[] } {
  const events: AgentEvent[] = [];
  const attestations: CommittedAttestation[] = [];
  const degraded = { ...state.degraded };
  const reports: Record<string, Record<string, 'minor' | 'severe'>> = { ...state.degradedReports };
  const estimates: Record<string, CommittedAttestation[]> = { ...state.estimates } as Record<string, CommittedAttestation[]>;
  const member = new Set(b.devices);
  for (const tx of b.txs) {
    if (!member.has(tx.sender)) continue;
    const a = { sender: tx.sender, body: tx.body };
    const o = tx.body.obs;
    if (o.type === 'hazard') attestations.push(a);
    else if (o.type === 'estimate') {
      const list = estimates[o.quantity] ?? [];
      const latest = list.find((x) => x.sender === tx.sender);
      // A replay by anyone on the broker (the device's signature verifies) or an older estimate committed
      // late: its device's latest value stands.
      if (latest && !newerEstimate(tx.body, latest.body)) continue;
      const others = list.filter((x) => x.sender !== tx.sender);
      estimates[o.quantity] = [...others, a].slice(-limits.estimateSamplesMax); // overflow: longest unheard device dropped
    } else if (o.type === 'degraded' && member.has(o.device)) {
      // A device is believed about itself; about another device, only when f+1 distinct devices agree.
      const self = o.device === tx.sender;
      const r = { ...(reports[o.device] ?? {}), [tx.sender]: o.severity };
      reports[o.device] = r;
      const agreeing = Object.keys(r).filter((k) => k !== o.device).length;
      if (self || agreeing >= b.f + 1) {
        const severe = self ? o.severity === 'severe' : Object.values(r).filter((s) => s === 'severe').length >= b.f + 1;
        const severity = severe ? 'severe' : 'minor';
        const prev = degraded[o.device];
        if (!prev || (prev.severity === 'minor' && severity === 'severe')) {
          degraded[o.device] = { severity, height: b.height, selfReported: self };
          events.push({ type: 'device-degraded', device: o.device, severity, height: b.height });
        }
      }
    }
  }
  const h = applyHazardAttestations(state.hazards, b.height, b.f, attestations, hazardRule);
  return { state: { hazards: h.state, degraded, degradedReports: reports, estimates }, events: [...h.events, ...events] };
}

/** Whether a device's estimate `body` is after its `latest` one: a later basis (the height the device had
 *  applied), or the same basis and a later observedAt, as the hazard rule orders a device's words
 *  (hazard-commit.ts isNewWord). Basis first: a device whose clock was set back still moves on by height.
 *  Estimates carry no boot session and sequence number (as telemetry does), so these order them. */
function newerEstimate(body: AttestationBody, latest: AttestationBody): boolean {
  return body.basis > latest.basis || (body.basis === latest.basis && body.observedAt > latest.observedAt);
}

/** The robust estimate of a quantity from committed attestations. */
export function estimateOf(state: SwarmAgentState, quantity: string, f: number, method: AggregateMethod = 'median'): EstimateResult {
  return aggregateEstimate(state.estimates[quantity] ?? [], quantity, f, method);
}
