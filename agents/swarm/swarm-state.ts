// The agents' part of the consensus application layer: what every device derives from committed
// blocks. Attestations feed the hazard-commit rule, the degraded-device rule and the estimate table;
// `agent.model` commands drive the model rollout. Pure and deterministic: the runtime calls
// applyAgentBlock with each committed block's txs (already verified at the edge), in block order.

import { decodeCbor } from '../../runtime/wire/cbor.js';
import { parseCommandBody } from '../../runtime/wire/command.js';
import { decodeEnvelope } from '../../runtime/wire/envelope.js';
import { parseWith } from '../../runtime/wire/fields.js';
import { kinds } from '../../runtime/wire/kinds.js';
import { parseAttestationBody, type AttestationBody } from '../../runtime/wire/attestation.js';
import { limits } from '../../runtime/lib/limits.js';
import { aggregateEstimate, type AggregateMethod, type EstimateResult } from './aggregate.js';
import { applyHazardAttestations, committedHazards, defaultHazardRule, emptyHazardState, type CommittedAttestation, type HazardEvent, type HazardRuleConfig, type HazardState } from './hazard-commit.js';
import { applyModelCommand, assignedModel, emptyRollout, parseModelCommand, type RolloutState } from './rollout.js';
import type { CommittedModel } from '../models/registry.js';

export type AgentTx =
  | { readonly kind: 'attestation'; readonly sender: string; readonly body: AttestationBody }
  | { readonly kind: 'model-command'; readonly sender: string; readonly args: Readonly<Record<string, unknown>> };

/** Decodes one committed tx; attestations and `agent.model` commands are ours, anything else is null. */
export function agentTxOf(bytes: Uint8Array): AgentTx | null {
  const raw = decodeEnvelope(bytes);
  if (!raw.ok || (raw.value.kind !== 'attestation' && raw.value.kind !== 'command')) return null;
  const e = raw.value;
  const d = decodeCbor(e.body, kinds[e.kind].bodyBytesMax);
  if (!d.ok) return null;
  if (e.kind === 'attestation') {
    const a = parseWith('attestation', d.value, parseAttestationBody);
    return a.ok ? { kind: 'attestation', sender: e.sender, body: a.value } : null;
  }
  const c = parseWith('command', d.value, parseCommandBody);
  return c.ok && c.value.type === 'agent.model' ? { kind: 'model-command', sender: e.sender, args: c.value.args } : null;
}

export interface DegradedRecord {
  readonly severity: 'minor' | 'severe';
  readonly height: number;
  /** True when the device said so itself; otherwise f+1 other devices did. */
  readonly selfReported: boolean;
}

export interface SwarmAgentState {
  readonly hazards: HazardState;
  readonly rollout: RolloutState;
  readonly degraded: Readonly<Record<string, DegradedRecord>>;
  /** Reports about other devices: device -> reporter -> severity, until f+1 agree. */
  readonly degradedReports: Readonly<Record<string, Readonly<Record<string, 'minor' | 'severe'>>>>;
  /** quantity -> the committed estimate attestations, oldest first (bounded: estimateSamplesMax). */
  readonly estimates: Readonly<Record<string, readonly CommittedAttestation[]>>;
}

export const emptySwarmAgentState: SwarmAgentState = { hazards: emptyHazardState, rollout: emptyRollout, degraded: {}, degradedReports: {}, estimates: {} };

export type AgentEvent =
  | HazardEvent
  | { readonly type: 'device-degraded'; readonly device: string; readonly severity: 'minor' | 'severe'; readonly height: number }
  | { readonly type: 'model-rollout'; readonly model: string; readonly action: string; readonly version: string; readonly height: number }
  | { readonly type: 'model-command-refused'; readonly reason: string; readonly height: number };

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
  let rollout = state.rollout;
  const degraded = { ...state.degraded };
  const reports: Record<string, Record<string, 'minor' | 'severe'>> = { ...state.degradedReports };
  const estimates: Record<string, CommittedAttestation[]> = { ...state.estimates } as Record<string, CommittedAttestation[]>;
  const member = new Set(b.devices);
  for (const tx of b.txs) {
    if (tx.kind === 'model-command') {
      const cmd = parseModelCommand(tx.args);
      const next = cmd.ok ? applyModelCommand(rollout, cmd.value, b.devices, b.height) : cmd;
      if (next.ok && cmd.ok) {
        rollout = next.value;
        events.push({ type: 'model-rollout', model: cmd.value.model, action: cmd.value.action, version: cmd.value.version, height: b.height });
      } else if (!next.ok) events.push({ type: 'model-command-refused', reason: next.error, height: b.height });
      continue;
    }
    if (!member.has(tx.sender)) continue;
    const a = { sender: tx.sender, body: tx.body };
    const o = tx.body.obs;
    if (o.type === 'hazard') attestations.push(a);
    else if (o.type === 'estimate') {
      const list = [...(estimates[o.quantity] ?? []), a];
      estimates[o.quantity] = list.slice(-limits.estimateSamplesMax); // overflow: oldest dropped
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
  return { state: { hazards: h.state, rollout, degraded, degradedReports: reports, estimates }, events: [...h.events, ...events] };
}

/** The robust estimate of a quantity from committed attestations. */
export function estimateOf(state: SwarmAgentState, quantity: string, f: number, method: AggregateMethod = 'median'): EstimateResult {
  return aggregateEstimate(state.estimates[quantity] ?? [], quantity, f, method);
}

/** The parts of an agent's CommittedView this state decides, for one device. */
export function agentViewOf(state: SwarmAgentState, device: string, modelNames: readonly string[]): { hazards: (readonly [number, number])[]; models: Record<string, CommittedModel | null> } {
  const models: Record<string, CommittedModel | null> = {};
  for (const m of modelNames) models[m] = assignedModel(state.rollout, m, device);
  return { hazards: committedHazards(state.hazards), models };
}
