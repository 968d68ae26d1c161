// Weighted round-robin proposer rotation. CometBFT's priority algorithm (tendermint PR #3140) run
// once over a validator set gives a schedule of length totalPower in which each validator appears
// exactly `power` times, spread evenly; proposer(h, r) = schedule[(h + r) mod length]. Being a pure
// function of (set, height, round) it needs no state carried between heights.

import { assert } from '../lib/assert.js';

export interface WeightedValidator {
  readonly id: string;
  readonly power: number;
}

export const scheduleLengthMax = 100_000;

const cache = new Map<string, readonly string[]>();
const cacheEntriesMax = 16; // sets seen by one process; overflow: the cache is cleared (recomputed)

/** Validators must be sorted by id (the manifest does this), so ties break the same way everywhere. */
export function proposerSchedule(validators: readonly WeightedValidator[]): readonly string[] {
  const key = validators.map((v) => `${v.id}:${v.power}`).join(',');
  const hit = cache.get(key);
  if (hit) return hit;
  let total = 0;
  for (const v of validators) total += v.power;
  assert(total > 0 && total <= scheduleLengthMax, `total voting power must be in 1..${scheduleLengthMax}, is ${total}`);
  const priority = validators.map(() => 0);
  const out: string[] = [];
  for (let k = 0; k < total; k++) {
    let best = 0;
    for (let i = 0; i < validators.length; i++) {
      priority[i] = (priority[i] as number) + (validators[i] as WeightedValidator).power;
      if ((priority[i] as number) > (priority[best] as number)) best = i;
    }
    priority[best] = (priority[best] as number) - total;
    out.push((validators[best] as WeightedValidator).id);
  }
  if (cache.size >= cacheEntriesMax) cache.clear();
  cache.set(key, out);
  return out;
}

export function proposerOf(validators: readonly WeightedValidator[], height: number, round: number): string {
  const s = proposerSchedule(validators);
  return s[(height + round) % s.length] as string;
}
