// The attestation body (kind 7): an agent's signed observation carried to consensus (docs/wire.md,
// "attestation"). Confidence is an integer in per-mille so commit rules never compare floats.

import { limits } from '../lib/limits.js';
import { encodeCbor } from './cbor.js';
import { array, bytes, fail, id, int, map, num, oneOf, onlyKeys, optional, text, uint } from './fields.js';

/** Map cells are integer (north, east) indexes in the fleet's local grid; this bounds them. */
export const cellIndexMax = 10_000_000;
export const confidencePerMilleMax = 1000;
export const quantityPattern = /^[a-z][a-z0-9]*(?:\.[a-z][a-z0-9-]*)*$/;

export type Observation =
  /** Something dangerous (an obstacle, a person, fire) occupies a map cell, or (present false) it does not. */
  | { readonly type: 'hazard'; readonly cell: readonly [number, number]; readonly present: boolean; readonly confidencePerMille: number }
  /** A device (usually the sender itself) is degraded; severe means it has left the mission. */
  | { readonly type: 'degraded'; readonly device: string; readonly severity: 'minor' | 'severe'; readonly reason: string }
  /** A numeric estimate such as "wind.speed-mps" or "target.north-m", aggregated robustly. */
  | { readonly type: 'estimate'; readonly quantity: string; readonly value: number };

export type ObservationType = Observation['type'];

/** Which model produced the observation, so a rollout can be audited. */
export interface ModelRef {
  readonly name: string;
  readonly version: string;
  /** sha256 of the model file. */
  readonly hash: Uint8Array;
}

export interface AttestationBody {
  /** The agent that made the observation ("hazard-detect"). */
  readonly agent: string;
  /** Device clock time of the observation, ms. */
  readonly observedAt: number;
  /** The highest committed height the device had applied: attestations expire by height. */
  readonly basis: number;
  readonly obs: Observation;
  readonly model?: ModelRef;
}

function parseObservation(v: unknown): Observation {
  const m = map(v, 'attestation.obs');
  const type = oneOf(m.type, 'attestation.obs.type', ['hazard', 'degraded', 'estimate'] as const);
  switch (type) {
    case 'hazard': {
      onlyKeys(m, ['type', 'cell', 'present', 'confidence'], 'attestation.obs');
      const c = array(m.cell, 'attestation.obs.cell', 2, 2);
      const cell = [int(c[0], 'attestation.obs.cell[0]', -cellIndexMax, cellIndexMax), int(c[1], 'attestation.obs.cell[1]', -cellIndexMax, cellIndexMax)] as const;
      if (typeof m.present !== 'boolean') fail('attestation.obs.present must be true or false');
      return { type, cell, present: m.present, confidencePerMille: uint(m.confidence, 'attestation.obs.confidence', confidencePerMilleMax) };
    }
    case 'degraded':
      onlyKeys(m, ['type', 'device', 'severity', 'reason'], 'attestation.obs');
      return {
        type,
        device: id(m.device, 'attestation.obs.device'),
        severity: oneOf(m.severity, 'attestation.obs.severity', ['minor', 'severe'] as const),
        reason: text(m.reason, 'attestation.obs.reason', 128),
      };
    case 'estimate': {
      onlyKeys(m, ['type', 'quantity', 'value'], 'attestation.obs');
      const quantity = text(m.quantity, 'attestation.obs.quantity', 64);
      if (!quantityPattern.test(quantity)) fail('attestation.obs.quantity must look like "wind.speed-mps" (lowercase words joined by dots)');
      return { type, quantity, value: num(m.value, 'attestation.obs.value', -1e12, 1e12) };
    }
  }
}

function parseModelRef(v: unknown): ModelRef {
  const m = map(v, 'attestation.model');
  onlyKeys(m, ['name', 'version', 'hash'], 'attestation.model');
  return { name: id(m.name, 'attestation.model.name'), version: text(m.version, 'attestation.model.version', 32), hash: Uint8Array.from(bytes(m.hash, 'attestation.model.hash', 32)) };
}

export function parseAttestationBody(v: unknown): AttestationBody {
  const m = map(v, 'attestation');
  onlyKeys(m, ['agent', 'observedAt', 'basis', 'obs', 'model'], 'attestation');
  const model = optional(m.model, parseModelRef);
  const body = {
    agent: id(m.agent, 'attestation.agent'),
    observedAt: uint(m.observedAt, 'attestation.observedAt'),
    basis: uint(m.basis, 'attestation.basis'),
    obs: parseObservation(m.obs),
  };
  return model ? { ...body, model } : body;
}

function observationToCbor(o: Observation): Record<string, unknown> {
  switch (o.type) {
    case 'hazard':
      return { type: o.type, cell: [o.cell[0], o.cell[1]], present: o.present, confidence: o.confidencePerMille };
    case 'degraded':
      return { type: o.type, device: o.device, severity: o.severity, reason: o.reason };
    case 'estimate':
      return { type: o.type, quantity: o.quantity, value: o.value };
  }
}

/** Key order is fixed here; the signature covers exactly these bytes. */
export function encodeAttestationBody(a: AttestationBody): Uint8Array {
  const out: Record<string, unknown> = { agent: a.agent, observedAt: a.observedAt, basis: a.basis, obs: observationToCbor(a.obs) };
  if (a.model) out.model = { name: a.model.name, version: a.model.version, hash: a.model.hash };
  const encoded = encodeCbor(out);
  if (encoded.length > limits.attestationBytesMax) throw new RangeError(`attestation body is ${encoded.length} bytes (limit ${limits.attestationBytesMax})`);
  return encoded;
}
