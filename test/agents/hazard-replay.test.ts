// The hazard rule dates a device's word by the body it signed (basis, then observedAt), not by the
// block that commits it: anyone who can publish to the broker can have a recorded attestation
// committed again, and its signature still verifies. Review hazard-review.md, finding 1: a mast's
// recorded "present" words, replayed after the drones' "absent" words cleared it, committed it again.

import { describe, expect, it } from 'vitest';
import { applyHazardAttestations, committedHazards, emptyHazardState, type CommittedAttestation, type HazardEvent, type HazardState } from '../../agents/swarm/hazard-commit.js';

const f = 1;
const mast: [number, number] = [2, 1];
const word = (sender: string, present: boolean, basis: number, observedAt: number, cell: [number, number] = mast): CommittedAttestation => ({
  sender,
  body: { agent: 'hazard-detect', observedAt, basis, obs: { type: 'hazard', cell, present, confidencePerMille: 950 } },
});

/** Applies blocks from `height` on, one per list; returns the state and every event. */
function blocks(state: HazardState, height: number, ...txs: CommittedAttestation[][]): { state: HazardState; events: HazardEvent[] } {
  const events: HazardEvent[] = [];
  txs.forEach((t, i) => {
    const r = applyHazardAttestations(state, height + i, f, t);
    state = r.state;
    events.push(...r.events);
  });
  return { state, events };
}

describe('hazard words are ordered by their own dates', () => {
  it("the recorded 'present' words of a cleared mast, committed again, commit nothing", () => {
    // d1, d2 and d4 see the mast (basis 9, clock 1,000 s); d2 and d3 commit it at height 10. The mast
    // goes; the four deny it (basis 40); cleared at 41.
    const recorded = [word('d1', true, 9, 1_000_000), word('d2', true, 9, 1_000_010), word('d4', true, 9, 1_000_020)];
    let r = blocks(emptyHazardState, 10, [word('d2', true, 9, 1_000_010), word('d3', true, 9, 1_000_015)]);
    expect(r.events.map((e) => e.type)).toEqual(['hazard-committed']);
    r = blocks(r.state, 41, ['d1', 'd2', 'd3', 'd4'].map((d, i) => word(d, false, 40, 1_031_000 + i)));
    expect(r.events).toEqual([{ type: 'hazard-cleared', cell: mast, height: 41, attesters: ['d1', 'd2', 'd3', 'd4'] }]);
    // The replay, within the window of the recorded words and past it.
    const within = blocks(r.state, 44, recorded);
    expect(within.events).toEqual([]);
    expect(committedHazards(within.state)).toEqual([]);
    const past = blocks(within.state, 200, recorded);
    expect(past.events).toEqual([]);
  });

  it('the same word committed again changes nothing, not even how long it counts', () => {
    const seen = word('d1', true, 9, 1_000_000);
    let r = blocks(emptyHazardState, 10, [seen]);
    r = blocks(r.state, 11, [seen], [seen]);
    expect(r.state.cells['2,1']).toMatchObject({ present: { d1: 9 }, observedAt: { d1: 1_000_000 }, lastHeight: 10 });
    // It counts 120 heights from its basis, not from the last time it was committed: d2 alone at 130
    // does not make two.
    expect(blocks(r.state, 130, [seen], [word('d2', true, 129, 1_120_000)]).events).toEqual([]);
  });

  it('a word whose basis is past the window, or not yet committed, does not count', () => {
    const r = blocks(emptyHazardState, 200, [word('d1', true, 79, 1), word('d2', true, 200, 2)], [word('d3', true, 201, 3)]);
    expect(r.state.cells).toEqual({});
    expect(blocks(emptyHazardState, 200, [word('d1', true, 80, 1), word('d2', true, 199, 2)]).events.map((e) => e.type)).toEqual(['hazard-committed']);
  });

  it('a device whose clock ran far ahead is heard again from its next basis, not locked out', () => {
    // d1's clock was a year ahead when it saw the mast; fixed, it denies it at the next height. Its
    // later word wins (basis first); at the same basis a word with an earlier clock reading does not.
    const yearMs = 365 * 86_400_000;
    let r = blocks(emptyHazardState, 10, [word('d1', true, 9, 1_000_000 + yearMs)]);
    r = blocks(r.state, 11, [word('d1', false, 9, 1_000_500)]);
    expect(r.state.cells['2,1']?.present).toEqual({ d1: 9 });
    r = blocks(r.state, 12, [word('d1', false, 11, 1_002_000)]);
    expect(r.state.cells['2,1']).toMatchObject({ present: {}, absent: { d1: 11 }, observedAt: { d1: 1_002_000 } });
  });

  it("an older word committed after a device's newer one (late, or replayed) does not replace it", () => {
    const r = blocks(emptyHazardState, 20, [word('d1', false, 19, 5_000), word('d1', true, 18, 4_000), word('d1', true, 19, 4_999)]);
    expect(r.state.cells['2,1']).toMatchObject({ present: {}, absent: { d1: 19 } });
  });
});
