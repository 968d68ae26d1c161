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

/** The schedule last given for a validators array, with the ids and powers it held then: a node asks
 *  with its manifest's array several times a height, and comparing those is cheaper than building the
 *  string key. Answered only while every id and power is still the same. */
const byArray = new WeakMap<readonly WeightedValidator[], { readonly ids: readonly string[]; readonly powers: readonly number[]; readonly schedule: readonly string[] }>();

/** Validators must be sorted by id (the manifest does this), so ties break the same way everywhere. */
export function proposerSchedule(validators: readonly WeightedValidator[]): readonly string[] {
  const seen = byArray.get(validators);
  if (seen !== undefined && sameSet(seen, validators)) return seen.schedule;
  const schedule = scheduleFor(validators);
  byArray.set(validators, { ids: validators.map((v) => v.id), powers: validators.map((v) => v.power), schedule });
  return schedule;
}

function sameSet(seen: { readonly ids: readonly string[]; readonly powers: readonly number[] }, validators: readonly WeightedValidator[]): boolean {
  if (seen.ids.length !== validators.length) return false;
  for (let i = 0; i < validators.length; i++) {
    const v = validators[i] as WeightedValidator;
    if (v.id !== seen.ids[i] || v.power !== seen.powers[i]) return false;
  }
  return true;
}

function scheduleFor(validators: readonly WeightedValidator[]): readonly string[] {
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
