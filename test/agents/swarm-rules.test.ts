// The pure swarm rules consensus applies to committed attestations: hazard commit (f+1 distinct
// devices at a cell or its neighbours) and Byzantine-robust aggregation. Property tests are seeded.
// (Model rollout is the mission machine's: test/mission/models.test.ts.)

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { aggregateEstimate, median, trimmedMean } from '../../agents/swarm/aggregate.js';
import { applyHazardAttestations, committedHazards, emptyHazardState, type CommittedAttestation, type HazardState } from '../../agents/swarm/hazard-commit.js';

const fcSeed = Number(process.env.MURMUR_AGENT_SEED ?? 7);
const hz = (sender: string, cell: [number, number], present: boolean, confidencePerMille = 900): CommittedAttestation => ({
  sender,
  body: { agent: 'hazard-detect', observedAt: 0, basis: 0, obs: { type: 'hazard', cell, present, confidencePerMille } },
});
const est = (sender: string, value: number, quantity = 'wind.speed-mps'): CommittedAttestation => ({ sender, body: { agent: 'wind', observedAt: 0, basis: 0, obs: { type: 'estimate', quantity, value } } });

function applyBlocks(blocks: CommittedAttestation[][], f: number): { state: HazardState; committed: string[]; cleared: string[] } {
  let state = emptyHazardState;
  const committed: string[] = [];
  const cleared: string[] = [];
  blocks.forEach((txs, i) => {
    const r = applyHazardAttestations(state, i + 1, f, txs);
    state = r.state;
    for (const e of r.events) (e.type === 'hazard-committed' ? committed : cleared).push(`${e.cell[0]},${e.cell[1]}`);
  });
  return { state, committed, cleared };
}

describe('hazard-commit rule', () => {
  it('commits at f+1 distinct devices with confidence >= 0.85, never on one device repeating itself', () => {
    const f = 1;
    const r = applyBlocks([[hz('v0', [1, 1], true), hz('v0', [1, 1], true)], [hz('v0', [1, 1], true), hz('v1', [1, 1], true, 849)], [hz('v2', [1, 1], true, 850)]], f);
    expect(r.committed).toEqual(['1,1']);
    expect(committedHazards(r.state)).toEqual([[1, 1]]);
  });

  it('property: f Byzantine devices alone never commit a cell, and their denials never clear or hide a real hazard', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 3 }),
        fc.array(fc.array(fc.tuple(fc.integer({ min: 0, max: 9 }), fc.integer({ min: -3, max: 3 }), fc.integer({ min: -3, max: 3 }), fc.boolean(), fc.integer({ min: 0, max: 1000 })), { maxLength: 8 }), { minLength: 1, maxLength: 30 }),
        (f, lies) => {
          const n = 3 * f + 1;
          const byz = Array.from({ length: f }, (_, i) => `b${i}`);
          const honest = Array.from({ length: n - f }, (_, i) => `h${i}`);
          const real: [number, number] = [9, 9]; // honest devices see it in every block; liars never attest that cell
          const blocks = lies.map((txs) => [
            ...txs.map(([who, a, b, present, conf]) => hz(byz[who % f] as string, [a, b], present, conf)),
            ...txs.filter(([, , , present]) => !present).map(([who]) => hz(byz[who % f] as string, real, false, 1000)),
            ...honest.map((h) => hz(h, real, true, 900)),
          ]);
          const r = applyBlocks(blocks, f);
          expect(r.committed).toEqual(['9,9']);
          expect(r.cleared).toEqual([]);
        },
      ),
      { seed: fcSeed, numRuns: 200 },
    );
  });

  it('neighbouring cells corroborate: two drones on opposite faces of one mast commit the cells they named', () => {
    // What real-time hazard-detection saw: each drone names the 5 m cells just behind the face its beams
    // hit, so the two sides share no cell. f = 1 needs two devices.
    const f = 1;
    const a = [hz('d1', [6, 7], true), hz('d1', [6, 8], true), hz('d1', [7, 9], true)];
    const b = [hz('d2', [8, 6], true), hz('d2', [9, 7], true), hz('d2', [8, 9], true)];
    const r = applyBlocks([a, b], f);
    // Only [7,9] and [8,9] lie within one cell of a cell the other drone named.
    expect(r.committed.sort()).toEqual(['7,9', '8,9']);
    // No cell was named by both, so the old rule (the cell itself only) committed nothing here.
    const named = (xs: CommittedAttestation[]): string[] => xs.map((x) => (x.body.obs.type === 'hazard' ? `${x.body.obs.cell[0]},${x.body.obs.cell[1]}` : ''));
    expect(named(a).filter((c) => named(b).includes(c))).toEqual([]);
    // A cell nobody named itself never commits, however many neighbours see something.
    // [0,1] has a record (d3 denies it) and two supporters next to it, but nobody saw a hazard there.
    const between = applyBlocks([[hz('d1', [0, 0], true), hz('d2', [0, 2], true), hz('d3', [0, 1], false)]], f);
    expect(between.committed).toEqual([]);
    expect(between.state.cells['0,1']).toBeDefined();
  });

  it('a device whose latest word on a cell is "absent" does not support it from a neighbour', () => {
    const f = 1;
    const r = applyBlocks([[hz('d1', [4, 4], true), hz('d2', [4, 5], true), hz('d2', [4, 4], false)]], f);
    expect(r.committed).toEqual(['4,5']);
  });

  it('property: f liars anywhere, even next to a real hazard, commit only cells within one cell of an honest sighting', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 3 }),
        fc.array(fc.array(fc.tuple(fc.integer({ min: 0, max: 9 }), fc.integer({ min: 6, max: 12 }), fc.integer({ min: 6, max: 12 }), fc.boolean()), { maxLength: 8 }), { minLength: 1, maxLength: 20 }),
        (f, lies) => {
          const byz = Array.from({ length: f }, (_, i) => `b${i}`);
          const seen: [number, number] = [9, 9]; // one honest device sees the real hazard here, alone
          const blocks = lies.map((txs) => [...txs.map(([who, a, b, present]) => hz(byz[who % f] as string, [a, b], present, 1000)), hz('h0', seen, true)]);
          const r = applyBlocks(blocks, f);
          for (const c of r.committed) {
            const [n, e] = c.split(',').map(Number) as [number, number];
            expect(Math.max(Math.abs(n - seen[0]), Math.abs(e - seen[1]))).toBeLessThanOrEqual(1);
          }
        },
      ),
      { seed: fcSeed, numRuns: 300 },
    );
  });

  it('clears a committed hazard only when f+1 devices deny it after the commit and fewer than f+1 still see it', () => {
    const f = 1;
    let state = applyHazardAttestations(emptyHazardState, 1, f, [hz('v0', [2, 2], true), hz('v1', [2, 2], true)]).state;
    state = applyHazardAttestations(state, 2, f, [hz('v2', [2, 2], false)]).state; // one denier: nothing
    expect(committedHazards(state)).toEqual([[2, 2]]);
    const r = applyHazardAttestations(state, 3, f, [hz('v0', [2, 2], false), hz('v3', [2, 2], false)]);
    // v1 still sees it (1 < f+1) and three devices deny it after the commit: cleared
    expect(r.events.map((e) => e.type)).toEqual(['hazard-cleared']);
    expect(committedHazards(r.state)).toEqual([]);
  });

  it('attestations expire after the window, so stale sightings do not add up', () => {
    const s1 = applyHazardAttestations(emptyHazardState, 1, 1, [hz('v0', [3, 3], true)]).state;
    const s2 = applyHazardAttestations(s1, 200, 1, [hz('v1', [3, 3], true)]);
    expect(s2.events).toEqual([]);
  });
});

describe('Byzantine-robust aggregation', () => {
  it('median and trimmed mean of small sets', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 2, 3])).toBe(2.5);
    expect(trimmedMean([100, 1, 2, 3, -100], 1)).toBe(2);
    expect(trimmedMean([1, 2], 1)).toBeNull();
  });

  it('property: with at most f liars among n >= 3f+1 devices, the result stays within the honest range', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4 }),
        fc.array(fc.double({ min: 0, max: 30, noNaN: true }), { minLength: 13, maxLength: 13 }),
        fc.array(fc.double({ min: -1e9, max: 1e9, noNaN: true }), { minLength: 4, maxLength: 4 }),
        fc.constantFrom('median' as const, 'trimmed-mean' as const),
        (f, honestValues, lies, method) => {
          const n = 3 * f + 1;
          const honest = honestValues.slice(0, n - f);
          const txs = [...honest.map((v, i) => est(`h${i}`, v)), ...lies.slice(0, f).map((v, i) => est(`b${i}`, v)), est('b0', 5, 'other.quantity')];
          const r = aggregateEstimate(txs, 'wind.speed-mps', f, method);
          expect(r.devices).toBe(n);
          expect(r.value).not.toBeNull();
          expect(r.value!).toBeGreaterThanOrEqual(Math.min(...honest));
          expect(r.value!).toBeLessThanOrEqual(Math.max(...honest));
        },
      ),
      { seed: fcSeed, numRuns: 300 },
    );
  });

  it('counts a device once (its latest value) and refuses to answer with fewer than 2f+1 devices', () => {
    const r = aggregateEstimate([est('a', 1), est('a', 1000), est('a', 2), est('b', 3)], 'wind.speed-mps', 1);
    expect(r).toEqual({ quantity: 'wind.speed-mps', value: null, devices: 2, method: 'median' });
    expect(aggregateEstimate([est('a', 1), est('b', 2), est('a', 9), est('c', 3)], 'wind.speed-mps', 1).value).toBe(3);
  });
});
