// Byzantine-robust aggregation of attested numeric estimates (wind, a target's position): each device
// counts once (its latest value), then the median or a trimmed mean that drops the f highest and f
// lowest. With at most f liars among n >= 2f + 1 values, the result lies within the honest values' range.
// Pure and deterministic: values are sorted before any arithmetic.

import { limits } from '../../runtime/lib/limits.js';
import type { CommittedAttestation } from './hazard-commit.js';

export type AggregateMethod = 'median' | 'trimmed-mean';

export function median(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/** Drops the `trim` lowest and highest; null when fewer than 2 * trim + 1 values remain to average. */
export function trimmedMean(values: readonly number[], trim: number): number | null {
  if (values.length < 2 * trim + 1) return null;
  const s = [...values].sort((a, b) => a - b).slice(trim, values.length - trim);
  let sum = 0;
  for (const v of s) sum += v;
  return sum / s.length;
}

export interface EstimateResult {
  readonly quantity: string;
  /** null when fewer than 2f + 1 devices attested: too few to outvote f liars. */
  readonly value: number | null;
  readonly devices: number;
  readonly method: AggregateMethod;
}

/** Latest value per device for one quantity (later attestations in the list replace earlier ones). */
export function latestPerDevice(attestations: readonly CommittedAttestation[], quantity: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const a of attestations) {
    if (a.body.obs.type !== 'estimate' || a.body.obs.quantity !== quantity) continue;
    out.delete(a.sender);
    out.set(a.sender, a.body.obs.value);
    if (out.size > limits.estimateSamplesMax) out.delete(out.keys().next().value as string); // overflow: oldest device dropped
  }
  return out;
}

export function aggregateEstimate(attestations: readonly CommittedAttestation[], quantity: string, f: number, method: AggregateMethod = 'median'): EstimateResult {
  const values = [...latestPerDevice(attestations, quantity).values()];
  const enough = values.length >= 2 * f + 1;
  const value = !enough ? null : method === 'median' ? median(values) : trimmedMean(values, f);
  return { quantity, value, devices: values.length, method };
}
