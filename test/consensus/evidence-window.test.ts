// Committed evidence is bounded: the chain keeps one entry per validator and offence height, for the
// last limits.evidenceMaxAgeHeights heights, and its block rules refuse evidence past that window (it
// would be committed again as new) or of a height after the block. Before, every entry was kept
// forever and exported into every snapshot; past 8,192 entries no snapshot decoded, though the encoder
// wrote and certified them. A snapshot written then still loads: the chain keeps what it would have.

import { beforeAll, describe, expect, it } from 'vitest';
import { ChainState, evidenceKeptMax, type CommittedEvidence } from '../../runtime/consensus/chain-state.js';
import { decodeStateSnapshot, encodeStateSnapshot } from '../../runtime/consensus/snapshot.js';
import type { CheckedTx, CommittedBlock } from '../../runtime/consensus/types.js';
import { hash } from '../../runtime/crypto/sodium.js';
import { limits } from '../../runtime/lib/limits.js';
import type { VoteKind } from '../../runtime/consensus/types.js';
import { encodeCbor } from '../../runtime/wire/cbor.js';
import { createVerifier, makeFleet, type FleetFixture } from '../support/fleet-fixture.js';

let f: FleetFixture;
const t0 = 1_800_000_000_000;
const window = limits.evidenceMaxAgeHeights;

beforeAll(async () => {
  f = await makeFleet({});
});

/** A chain at `height` holding `evidence` (a snapshot's state, as written by any version). */
function chainAt(height: number, evidence: readonly CommittedEvidence[] = []): ChainState {
  const verifier = createVerifier();
  const chain = new ChainState(f.manifest, f.fleet, { hash, verify: (s, m, k) => verifier.verify(s, m, k) }, { checkpointEveryHeights: 1_000_000, syncWindowHeights: 16 });
  chain.importState({ height, lastHash: new Uint8Array(32).fill(1), lastTimeMs: t0 + height, manifests: [{ fromHeight: 1, bytes: f.manifest.bytes }], nonces: [], evidence }, [{ fromHeight: 1, manifest: f.manifest }], new Uint8Array(32), null);
  return chain;
}

const evidence = (culprit: string, height: number, round = 0, vote: VoteKind = 'prevote'): CheckedTx => ({ kind: 'evidence', bytes: new Uint8Array(0), culprit, height, round, vote, key: `${culprit}/${height}` });

/** Applies the next block with `txs` (committed already: apply checks no rule). */
function applyNext(chain: ChainState, txs: readonly CheckedTx[]): void {
  const height = chain.height + 1;
  const block = { height, parent: chain.lastHash, timeMs: t0 + height, proposer: 'v0', txs: [], lastCommit: null, manifestHash: f.manifest.hash, appHash: chain.appHash };
  chain.apply({ block, bytes: new Uint8Array(0), hash: new Uint8Array(32).fill(height % 256), certificate: { height, round: 0, blockHash: new Uint8Array(32), signatures: [] }, txs, proof: new Uint8Array(0) } as CommittedBlock);
}

/** What the chain before the bound kept: every evidence ever committed, in block order. */
function everyEntry(blocks: readonly (readonly CheckedTx[])[], from: number): CommittedEvidence[] {
  return blocks.flatMap((txs, i) => txs.flatMap((t) => (t.kind === 'evidence' ? [{ culprit: t.culprit, height: t.height, round: t.round, vote: t.vote, committedAt: from + i + 1 }] : [])));
}

describe('the evidence window as a block rule', () => {
  it(`refuses evidence more than ${window} heights before the block, of a height after it, and a second proof against a validator at one height`, () => {
    const chain = chainAt(1_000); // the next block is 1001
    expect(chain.txProblem(evidence('v3', 1_001 - window), t0, null)).toBeNull();
    expect(chain.txProblem(evidence('v3', 1_000 - window), t0, null)).toBe(`evidence of height ${1_000 - window} is too old for block 1001 (at most ${window} heights, limits.evidenceMaxAgeHeights)`);
    expect(chain.txProblem(evidence('v3', 1_001), t0, null)).toBeNull();
    expect(chain.txProblem(evidence('v3', 1_002), t0, null)).toBe('evidence names height 1002, after the block it would enter (1001)');
    const inBlock = new Set<string>();
    expect(chain.txProblem(evidence('v3', 990, 0, 'prevote'), t0, inBlock)).toBeNull();
    expect(chain.txProblem(evidence('v3', 990, 2, 'precommit'), t0, inBlock)).toBe('evidence against v3 at height 990 already committed');
    expect(chain.txProblem(evidence('v2', 990), t0, inBlock)).toBeNull();
    applyNext(chain, [evidence('v3', 990)]);
    expect(chain.txProblem(evidence('v3', 990, 5, 'precommit'), t0, null)).toBe('evidence against v3 at height 990 already committed');
    expect(chain.txProblem(evidence('v9', 990), t0, null)).toBe('evidence names v9, not a validator at height 990');
  });
});

describe('the evidence a chain keeps', () => {
  // Two validators caught at every height, each twice (prevote and precommit, as blocks committed
  // before the bound held them): 600 heights, more than twice the window.
  const blocks: CheckedTx[][] = [];
  for (let h = 1; h <= 600; h++) blocks.push([evidence('v3', h, 0, 'prevote'), evidence('v3', h, 0, 'precommit'), evidence('v2', h, 1, 'prevote')]);

  it('forgets the offences older than the window at each block, and the rules then refuse them as too old', () => {
    const chain = chainAt(0);
    let most = 0;
    for (const txs of blocks) {
      applyNext(chain, txs);
      most = Math.max(most, chain.evidence.length);
      expect(Math.min(...chain.evidence.map((e) => e.height))).toBeGreaterThanOrEqual(chain.height - window);
    }
    // One entry per validator and height, the window's heights: 2 x 257 at most.
    expect(most).toBe(2 * (window + 1));
    expect(chain.evidence.map((e) => `${e.culprit}/${e.height}/${e.vote}`).slice(0, 2)).toEqual([`v3/${600 - window}/prevote`, `v2/${600 - window}/prevote`]);
    expect(chain.evidenceSeen(`v3/${600 - window}`)).toBe(true);
    expect(chain.evidenceSeen(`v3/${599 - window}`)).toBe(false);
    expect(chain.txProblem(evidence('v3', 599 - window), t0, null)).toMatch(/^evidence of height \d+ is too old for block 601/);
  });

  it('from a snapshot written before the bound (every entry, 1,800 of them) keeps what the blocks would have, and goes on alike', () => {
    const applied = chainAt(0);
    for (const txs of blocks.slice(0, 400)) applyNext(applied, txs);
    const loaded = chainAt(400, everyEntry(blocks.slice(0, 400), 0));
    expect(loaded.exportState().evidence).toEqual(applied.exportState().evidence);
    for (const txs of blocks.slice(400)) {
      applyNext(applied, txs);
      applyNext(loaded, txs);
    }
    expect(loaded.exportState().evidence).toEqual(applied.exportState().evidence);
    expect(loaded.evidence).toHaveLength(2 * (window + 1));
  });
});

describe('evidence in a state snapshot', () => {
  const base = { height: 20_000, lastHash: new Uint8Array(32).fill(1), lastTimeMs: t0, manifests: [{ fromHeight: 1, bytes: Uint8Array.of(1, 2, 3) }], nonces: [], app: Uint8Array.of(9) };
  const entries = (n: number, top: number): CommittedEvidence[] => Array.from({ length: n }, (_, i) => ({ culprit: `v${i % 4}`, height: top - Math.floor(i / 4), round: 0, vote: 'prevote', committedAt: top }));

  it(`is never written past ${evidenceKeptMax} entries, the most a chain keeps`, () => {
    expect(evidenceKeptMax).toBe(limits.validatorsMax * (window + 1));
    const most = encodeStateSnapshot({ ...base, evidence: entries(evidenceKeptMax, 20_000) });
    const back = decodeStateSnapshot(most);
    expect(back.ok && back.value.evidence.length).toBe(evidenceKeptMax);
    expect(() => encodeStateSnapshot({ ...base, evidence: entries(evidenceKeptMax + 1, 20_000) })).toThrow(`the state at height 20000 holds ${evidenceKeptMax + 1} evidence entries; a snapshot holds at most ${evidenceKeptMax}`);
  });

  it('with every list at its bound at once (live nonces, evidence) still decodes', () => {
    const nonces = Array.from({ length: limits.seenNoncesMax }, (_, i) => [`o/${i.toString(16).padStart(8, '0')}`, t0] as const);
    const full = encodeStateSnapshot({ ...base, nonces, evidence: entries(evidenceKeptMax, 20_000) });
    const back = decodeStateSnapshot(full);
    expect(back.ok ? [back.value.nonces.length, back.value.evidence.length] : back.error).toEqual([limits.seenNoncesMax, evidenceKeptMax]);
  });

  it('written before the bound with 11,423 entries (the soak run\'s) still decodes, and a chain loads the window of it', () => {
    // The bytes the earlier encoder wrote (no bound): what a device upgraded from it finds on disk.
    const old = entries(11_423, 20_000);
    const bytes = encodeCbor([1, base.height, base.lastHash, base.lastTimeMs, base.manifests.map((m) => [m.fromHeight, m.bytes]), [], old.map((e) => [e.culprit, e.height, e.round, e.vote, e.committedAt]), base.app]);
    const d = decodeStateSnapshot(bytes);
    expect(d.ok ? d.value.evidence.length : d.error).toBe(11_423);
    if (!d.ok) return;
    const chain = chainAt(20_000, d.value.evidence);
    expect(chain.evidence).toHaveLength(4 * (window + 1));
    expect(Math.min(...chain.evidence.map((e) => e.height))).toBe(20_000 - window);
    // And the next snapshot it writes is one that decodes.
    expect(decodeStateSnapshot(encodeStateSnapshot({ ...chain.exportState(), app: base.app })).ok).toBe(true);
  });
});
