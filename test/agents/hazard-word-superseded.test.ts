// A device drops, before checking its signature, a hazard word the rule can never count again
// (hazardWordSuperseded): outside the window, made before an operator's clear, or not after the sender's
// word the cell holds. That must never drop a word that could still change something: over random
// histories of words and clears, a word it calls superseded changes nothing when a block takes it at
// that height or any of the next window's (compared with the same block without it), and a word it
// lets through is one the rule takes at that height.

import { describe, expect, it } from 'vitest';
import { applyHazardAttestations, clearHazards, defaultHazardRule, emptyHazardState, hazardWordSuperseded, type CommittedAttestation, type HazardState } from '../../agents/swarm/hazard-commit.js';
import { Prng } from '../../runtime/lib/prng.js';

const f = 1;
const senders = ['d1', 'd2', 'd3', 'd4'];
const window = defaultHazardRule.windowHeights;

function word(rng: Prng, height: number): CommittedAttestation {
  const basis = Math.max(0, height - 1 - rng.int(window + 40));
  return {
    sender: senders[rng.int(senders.length)] as string,
    body: { agent: 'hazard-detect', observedAt: 1_000 + rng.int(50), basis, obs: { type: 'hazard', cell: [rng.int(3), rng.int(2)], present: rng.chance(0.6), confidencePerMille: 950 } },
  };
}

/** A copy the rule does not take over (it updates a state it returned in place). */
const copy = (s: HazardState): HazardState => JSON.parse(JSON.stringify(s)) as HazardState;

/** The state after one block at `height` holding `txs`, from a copy of `s`. */
const after = (s: HazardState, height: number, txs: readonly CommittedAttestation[]): string => JSON.stringify(applyHazardAttestations(copy(s), height, f, txs).state);

describe('hazard words superseded', () => {
  it('names each reason', () => {
    const seen = { sender: 'd1', body: { agent: 'hazard-detect', observedAt: 500, basis: 10, obs: { type: 'hazard' as const, cell: [1, 1] as const, present: true, confidencePerMille: 950 } } };
    const s = applyHazardAttestations(emptyHazardState, 11, f, [seen, { ...seen, sender: 'd3' }]).state; // committed: f + 1 devices
    expect(hazardWordSuperseded(s, 'd1', seen.body, 12)).toBe("d1's word about the cell held is as late or later");
    expect(hazardWordSuperseded(s, 'd1', { ...seen.body, observedAt: 501 }, 12)).toBeNull();
    expect(hazardWordSuperseded(s, 'd2', seen.body, 12)).toBeNull();
    expect(hazardWordSuperseded(s, 'd2', seen.body, 10 + window + 1)).toBe(`its basis 10 is more than ${window} heights behind ${10 + window + 1}`);
    const cleared = clearHazards(copy(s), 20, [[1, 1]], 'boss', 'boss/01').state;
    expect(hazardWordSuperseded(cleared, 'd2', { ...seen.body, basis: 19 }, 21)).toBe('it was made before an operator cleared the cell at height 20');
    expect(hazardWordSuperseded(cleared, 'd2', { ...seen.body, basis: 20 }, 21)).toBeNull();
  });

  it('over 300 random histories: a superseded word changes nothing at that height or the next 130; any other is taken', () => {
    const failures: string[] = [];
    for (let seed = 1; seed <= 300 && failures.length === 0; seed++) {
      const rng = new Prng(seed);
      let s: HazardState = emptyHazardState;
      let height = 1;
      for (let b = 0; b < 40; b++, height++) {
        const txs = Array.from({ length: rng.int(4) }, () => word(rng, height));
        s = applyHazardAttestations(s, height, f, txs).state;
        if (rng.chance(0.05)) s = clearHazards(s, height, [[rng.int(3), rng.int(2)]], 'boss', `boss/${b}`).state;
        if (rng.chance(0.2)) height += rng.int(60); // idle heights: words age out
      }
      for (let k = 0; k < 20; k++) {
        const w = rng.chance(0.5) ? word(rng, height) : { ...word(rng, height), body: { ...word(rng, height).body, basis: height - 1 } };
        const why = hazardWordSuperseded(s, w.sender, w.body, height);
        if (why === null) {
          // Let through: the rule takes it here (something about the cell changes: the sender's word).
          if (after(s, height, [w]) === after(s, height, [])) failures.push(`seed ${seed}: ${JSON.stringify(w)} let through at ${height} but changes nothing`);
          continue;
        }
        for (const h of [height, height + 1, height + 7, height + window, height + window + 10]) {
          if (after(s, h, [w]) !== after(s, h, [])) failures.push(`seed ${seed}: ${JSON.stringify(w)} superseded at ${height} (${why}) but changes the state at ${h}`);
        }
      }
    }
    expect(failures).toEqual([]);
  });
});
