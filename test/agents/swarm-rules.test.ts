// The pure swarm rules consensus applies to committed attestations: hazard commit (f+1 distinct
// devices at a cell or its neighbours) and Byzantine-robust aggregation. Property tests are seeded.
// (Model rollout is the mission machine's: test/mission/models.test.ts.)

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { aggregateEstimate, median, trimmedMean } from '../../agents/swarm/aggregate.js';
import { limits } from '../../runtime/lib/limits.js';
import { applyHazardAttestations, clearHazards, committedHazards, defaultHazardRule, emptyHazardState, type CellRecord, type CommittedAttestation, type HazardRuleConfig, type HazardState } from '../../agents/swarm/hazard-commit.js';

const fcSeed = Number(process.env.MURMUR_AGENT_SEED ?? 7);
const hz = (sender: string, cell: [number, number], present: boolean, confidencePerMille = 900): CommittedAttestation => ({
  sender,
  body: { agent: 'hazard-detect', observedAt: 0, basis: 0, obs: { type: 'hazard', cell, present, confidencePerMille } },
});
/** Words as devices date them, committed at `height`: each with the block before as its basis and a
 *  clock reading later than the one before it (agents/api/scheduler.ts stamps both). */
const dated = (height: number, txs: readonly CommittedAttestation[]): CommittedAttestation[] => txs.map((a, i) => ({ ...a, body: { ...a.body, basis: height - 1, observedAt: height * 1000 + i } }));
/** applyHazardAttestations with the words `dated` at `height`. */
const apply = (state: HazardState, height: number, f: number, txs: readonly CommittedAttestation[], cfg?: HazardRuleConfig): ReturnType<typeof applyHazardAttestations> => applyHazardAttestations(state, height, f, dated(height, txs), cfg);
const est = (sender: string, value: number, quantity = 'wind.speed-mps'): CommittedAttestation => ({ sender, body: { agent: 'wind', observedAt: 0, basis: 0, obs: { type: 'estimate', quantity, value } } });

function applyBlocks(blocks: CommittedAttestation[][], f: number): { state: HazardState; committed: string[]; cleared: string[] } {
  let state = emptyHazardState;
  const committed: string[] = [];
  const cleared: string[] = [];
  blocks.forEach((txs, i) => {
    const r = apply(state, i + 1, f, txs);
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
    let state = apply(emptyHazardState, 1, f, [hz('v0', [2, 2], true), hz('v1', [2, 2], true)]).state;
    state = apply(state, 2, f, [hz('v2', [2, 2], false)]).state; // one denier: nothing
    expect(committedHazards(state)).toEqual([[2, 2]]);
    const r = apply(state, 3, f, [hz('v0', [2, 2], false), hz('v3', [2, 2], false)]);
    // v1 still sees it (1 < f+1) and three devices deny it after the commit: cleared
    expect(r.events.map((e) => e.type)).toEqual(['hazard-cleared']);
    expect(committedHazards(r.state)).toEqual([]);
  });

  it('a device flooding sightings of fake cells past the cell limit loses its own, not the honest sighting of a real hazard', () => {
    // f = 1, n = 4. h0 sees the mast at height 1; the liar's 64 fresh cells a block (what the mempool
    // lets one device have waiting) fill the 4,096 tracked cells by height 65; h1 sees the mast at 90,
    // inside the 120-height window of h0's sighting. Least-recently-attested-first eviction dropped h0's
    // cell at height 66, so h1 alone was one short of f + 1 and the mast was never committed.
    const f = 1;
    const mast: [number, number] = [500, 500];
    let state = apply(emptyHazardState, 1, f, [hz('h0', mast, true)]).state;
    let cell = 0;
    for (let h = 2; h < 90; h++) {
      const lies = Array.from({ length: 64 }, () => hz('b0', [Math.floor(cell / 100), cell++ % 100], true));
      state = apply(state, h, f, lies).state;
      expect(Object.keys(state.cells).length).toBeLessThanOrEqual(limits.hazardCellsMax);
    }
    expect(Object.keys(state.cells).length).toBe(limits.hazardCellsMax);
    expect(state.cells['500,500']?.present).toEqual({ h0: 0 }); // its basis: the block before height 1
    const r = apply(state, 90, f, [hz('h1', mast, true)]);
    expect(r.events).toEqual([{ type: 'hazard-committed', cell: mast, height: 90, attesters: ['h0', 'h1'] }]);
    // The liar kept its newest cells: what it lost was its oldest.
    expect(state.cells['0,0']).toBeUndefined();
    expect(state.cells[`${Math.floor((cell - 1) / 100)},${(cell - 1) % 100}`]?.present).toEqual({ b0: 88 });
  });

  it('past the cell limit, the device with the most entries loses its oldest, whoever else is honest', () => {
    // Two honest devices sharing a cell with the flooder keep their word there; only the flooder's
    // entries go, oldest first, and a cell goes only once no device's word is left in it (f = 2, so
    // two devices do not commit the shared cell, which would keep it for good).
    const f = 2;
    let state = apply(emptyHazardState, 1, f, [hz('h0', [-1, -1], true), hz('b0', [-1, -1], true)]).state;
    let cell = 0;
    for (let h = 2; h <= 70; h++) state = apply(state, h, f, Array.from({ length: 64 }, () => hz('b0', [Math.floor(cell / 100), cell++ % 100], true))).state;
    expect(Object.keys(state.cells).length).toBe(limits.hazardCellsMax);
    expect(state.cells['-1,-1']?.present).toEqual({ h0: 0 });
  });

  it('property: judging only changed neighbourhoods decides as judging every cell each block does (f changes, restored snapshots)', () => {
    // The reference is the rule as first written: prune and judge every cell at every block. Cells on
    // a 6 x 6 grid so neighbourhoods overlap; a window of 4 heights so words expire; f moves between
    // blocks (a validator set change); some blocks start from a deep copy (a state restored from a
    // snapshot, which the fast path must judge in full). Words come late (basis up to 6 behind, so some
    // are past the window on arrival) and out of order (a device's clock readings jump about).
    const cfg = { confidencePerMilleMin: 850, windowHeights: 4 };
    const reference = (state: HazardState, height: number, f: number, txs: readonly CommittedAttestation[]): { state: HazardState; events: unknown[] } => {
      const cells: Record<string, CellRecord> = structuredClone({ ...state.cells });
      for (const a of txs) {
        const o = a.body.obs;
        if (o.type !== 'hazard' || o.confidencePerMille < cfg.confidencePerMilleMin) continue;
        const k = `${o.cell[0]},${o.cell[1]}`;
        const { basis, observedAt } = a.body;
        if (basis >= height || basis < height - cfg.windowHeights) continue;
        const prev = cells[k] ?? { cell: [o.cell[0], o.cell[1]] as const, present: {}, absent: {}, observedAt: {}, committedAt: null, lastHeight: height };
        const held = prev.present[a.sender] ?? prev.absent[a.sender];
        if (held !== undefined && (basis < held || (basis === held && observedAt <= (prev.observedAt[a.sender] as number)))) continue;
        const present = { ...prev.present };
        const absent = { ...prev.absent };
        const [to, from] = o.present ? [present, absent] : [absent, present];
        to[a.sender] = basis;
        delete from[a.sender];
        cells[k] = { ...prev, present, absent, observedAt: { ...prev.observedAt, [a.sender]: observedAt }, lastHeight: height };
      }
      const live = (r: Readonly<Record<string, number>>): Record<string, number> => Object.fromEntries(Object.entries(r).filter(([, h]) => h >= height - cfg.windowHeights));
      for (const k of Object.keys(cells)) {
        const r = cells[k] as CellRecord;
        const present = live(r.present);
        const absent = live(r.absent);
        cells[k] = { ...r, present, absent, observedAt: Object.fromEntries(Object.entries(r.observedAt).filter(([d]) => d in present || d in absent)) };
      }
      const support = (r: CellRecord): string[] => {
        const out = new Set<string>();
        for (let dn = -1; dn <= 1; dn++) for (let de = -1; de <= 1; de++) for (const d of Object.keys(cells[`${r.cell[0] + dn},${r.cell[1] + de}`]?.present ?? {})) if (!(d in r.absent)) out.add(d);
        return [...out].sort();
      };
      const events: unknown[] = [];
      for (const k of Object.keys(cells).sort()) {
        const r = cells[k] as CellRecord;
        const sup = support(r);
        if (r.committedAt === null && Object.keys(r.present).length > 0 && sup.length >= f + 1) {
          cells[k] = { ...r, committedAt: height, committedBy: sup };
          events.push({ type: 'hazard-committed', cell: r.cell, height, attesters: sup });
        } else if (r.committedAt !== null) {
          const committedAt = r.committedAt;
          const deniers = Object.keys(r.absent).sort().filter((d) => (r.absent[d] as number) >= committedAt);
          if (deniers.length >= f + 1 && sup.length < f + 1) {
            const { committedBy: _, ...rest } = r;
            cells[k] = { ...rest, committedAt: null };
            events.push({ type: 'hazard-cleared', cell: r.cell, height, attesters: deniers });
          }
        }
      }
      for (const k of Object.keys(cells)) {
        const r = cells[k] as CellRecord;
        if (r.committedAt === null && Object.keys(r.present).length === 0 && Object.keys(r.absent).length === 0) delete cells[k];
      }
      return { state: { cells }, events };
    };
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            f: fc.integer({ min: 1, max: 3 }),
            restored: fc.boolean(),
            txs: fc.array(fc.tuple(fc.integer({ min: 0, max: 7 }), fc.integer({ min: 0, max: 5 }), fc.integer({ min: 0, max: 5 }), fc.boolean(), fc.integer({ min: 0, max: 6 }), fc.integer({ min: 0, max: 3 })), { maxLength: 6 }),
          }),
          { minLength: 1, maxLength: 40 },
        ),
        (blocks) => {
          let fast: HazardState = emptyHazardState;
          let slow: HazardState = emptyHazardState;
          blocks.forEach((b, i) => {
            const height = i + 1;
            const txs = b.txs.map(([who, n, e, present, lag, clock]) => {
              const a = hz(`d${who}`, [n, e], present);
              return { ...a, body: { ...a.body, basis: Math.max(0, height - 1 - lag), observedAt: clock } };
            });
            const want = reference(slow, i + 1, b.f, txs);
            const got = applyHazardAttestations(b.restored && i % 5 === 0 ? structuredClone(fast) : fast, i + 1, b.f, txs, cfg);
            expect(got.events, `block ${i + 1} (seed ${fcSeed})`).toEqual(want.events);
            expect(got.state.cells, `block ${i + 1} (seed ${fcSeed})`).toEqual(want.state.cells);
            fast = got.state;
            slow = want.state;
          });
        },
      ),
      { seed: fcSeed, numRuns: 400 },
    );
  });

  it("an operator's clear takes the cell off for good: its old sightings do not commit it again, fresh ones do", () => {
    let s = apply(emptyHazardState, 1, 1, [hz('v0', [3, 3], true), hz('v1', [3, 3], true), hz('v2', [5, 5], true)]).state;
    expect(committedHazards(s)).toEqual([[3, 3]]);
    const c = clearHazards(s, 2, [[3, 3]], 'boss', 'boss/01');
    expect(c.events).toEqual([{ type: 'hazard-cleared', cell: [3, 3], height: 2, attesters: [], by: 'boss', command: 'boss/01' }]);
    expect(committedHazards(c.state)).toEqual([]);
    // Neither on the next block nor from a restored snapshot (every cell judged again) do v0's and
    // v1's sightings from before the clear commit it again.
    const next = apply(c.state, 3, 1, [hz('v2', [3, 4], true)]);
    expect(next.events).toEqual([]);
    // Nor does anyone on the broker replaying the recorded sightings (their bytes, so their dates):
    // made before the clear, they do not count at the cell.
    const replayed = applyHazardAttestations(next.state, 4, 1, dated(1, [hz('v0', [3, 3], true), hz('v1', [3, 3], true)]));
    expect(replayed.events).toEqual([]);
    expect(replayed.state.cells['3,3']).toMatchObject({ present: {}, clearedAt: 2 });
    const restored = apply(structuredClone(replayed.state), 5, 1, [hz('v3', [9, 9], true)]);
    expect(restored.events).toEqual([]);
    // Two fresh sightings do (v2's at the neighbour counts, so one more at the cell; and the two
    // commit the neighbour too, as any two sightings a cell apart do).
    s = apply(restored.state, 6, 1, [hz('v0', [3, 3], true)]).state;
    expect(committedHazards(s)).toEqual([[3, 3], [3, 4]]);
    expect(s.cells['3,3']?.committedBy).toEqual(['v0', 'v2']);
  });

  it("a cleared cell's record goes once no word from before the clear can count (the window past it)", () => {
    const s = apply(emptyHazardState, 1, 1, [hz('v0', [3, 3], true), hz('v1', [3, 3], true)]).state;
    let t = clearHazards(s, 2, [[3, 3]], 'boss', 'boss/01').state;
    const last = 2 + defaultHazardRule.windowHeights;
    for (let h = 3; h <= last; h++) t = apply(t, h, 1, []).state;
    expect(t.cells['3,3']?.clearedAt, `at ${last}: a word of basis 1 would still be in the window`).toBe(2);
    t = apply(t, last + 1, 1, []).state;
    expect(t.cells['3,3']).toBeUndefined();
  });

  it('a state handed to the next block cannot be applied again', () => {
    const s1 = apply(emptyHazardState, 1, 1, [hz('v0', [3, 3], true)]).state;
    apply(s1, 2, 1, [hz('v1', [3, 3], true)]);
    expect(() => apply(s1, 2, 1, [])).toThrow(/applied twice/);
    expect(emptyHazardState.cells).toEqual({}); // the shared empty state is copied, never written
  });

  it('attestations expire after the window, so stale sightings do not add up', () => {
    const s1 = apply(emptyHazardState, 1, 1, [hz('v0', [3, 3], true)]).state;
    const s2 = apply(s1, 200, 1, [hz('v1', [3, 3], true)]);
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
