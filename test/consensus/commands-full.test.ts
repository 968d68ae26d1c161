// The block rule that keeps the seen-nonce table bounded: a chain that keeps limits.seenNoncesMax live
// commands refuses another in a block (and in a proposal built from the mempool), with a reason that
// names the bound, instead of every node failing its table's assertion at the same height; below the
// bound commands enter as before. Before the rule, about a million commands within their lifetime from
// one operator key stopped every node at once, and again on every restart from its WAL.

import { beforeAll, describe, expect, it } from 'vitest';
import { ChainState } from '../../runtime/consensus/chain-state.js';
import type { CheckedTx } from '../../runtime/consensus/types.js';
import { hash } from '../../runtime/crypto/sodium.js';
import { limits } from '../../runtime/lib/limits.js';
import { createVerifier, makeFleet, type FleetFixture } from '../support/fleet-fixture.js';

let f: FleetFixture;
const t0 = 1_800_000_000_000;

beforeAll(async () => {
  f = await makeFleet({ operators: [{ id: 'op', roles: ['operator'] }] });
});

/** A chain at height 10 holding `live` commands that expire at t0 + 60 s (a snapshot's state). */
function chainWith(live: number): ChainState {
  const verifier = createVerifier();
  const chain = new ChainState(f.manifest, f.fleet, { hash, verify: (s, m, k) => verifier.verify(s, m, k) }, { checkpointEveryHeights: 32, syncWindowHeights: 16 });
  const nonces: [string, number][] = [];
  for (let i = 0; i < live; i++) nonces.push([`op/${i.toString(16).padStart(32, '0')}`, t0 + 60_000]);
  nonces.sort((a, b) => (a[0] < b[0] ? -1 : 1));
  chain.importState({ height: 10, lastHash: new Uint8Array(32).fill(1), lastTimeMs: t0, manifests: [{ fromHeight: 1, bytes: f.manifest.bytes }], nonces, evidence: [] }, [{ fromHeight: 1, manifest: f.manifest }], new Uint8Array(32), null);
  return chain;
}

const command = (n: number): CheckedTx => ({ kind: 'command', bytes: new Uint8Array(0), operator: 'op', nonceKey: `op/new-${n}`, issuedAt: t0, expiresAt: t0 + 30_000 });

describe('the live-command bound as a block rule', () => {
  it('takes a command below the bound and refuses one at it, alone or after others in the same block', () => {
    const below = chainWith(limits.seenNoncesMax - 2);
    expect(below.liveCommands).toBe(limits.seenNoncesMax - 2);
    expect(below.txProblem(command(1), t0 + 1_000, null)).toBeNull();
    const inBlock = new Set<string>();
    expect(below.txProblem(command(1), t0 + 1_000, inBlock)).toBeNull();
    expect(below.txProblem(command(2), t0 + 1_000, inBlock)).toBeNull();
    // The table would be full after these two: the third in the block is refused.
    expect(below.txProblem(command(3), t0 + 1_000, inBlock)).toBe(`the fleet keeps ${limits.seenNoncesMax - 2} commands within their lifetime, the most it holds (${limits.seenNoncesMax}); send it again once some expire, and give commands a shorter --ttl`);

    const full = chainWith(limits.seenNoncesMax);
    expect(full.txProblem(command(1), t0 + 1_000, null)).toMatch(/^the fleet keeps 64000 commands within their lifetime, the most it holds \(64000\)/);
    // Other txs are not commands and still enter (evidence, for one).
    expect(full.txProblem({ kind: 'evidence', bytes: new Uint8Array(0), culprit: f.manifest.validators[0]?.id ?? '', height: 5, round: 0, vote: 'prevote', key: 'e1' }, t0 + 1_000, new Set())).toBeNull();
  });
});

describe('a block whose appHash is not the latest checkpoint\'s', () => {
  it('names the checkpoint interval this device uses, the setting a misconfigured device differs in', () => {
    const chain = chainWith(0);
    const block = { height: 11, parent: new Uint8Array(32).fill(1), timeMs: t0 + 1, proposer: f.manifest.validators[0]?.id as string, txs: [], lastCommit: null, manifestHash: f.manifest.hash, appHash: new Uint8Array(32).fill(9) };
    expect(chain.blockProblem(block, [])).toBe('block appHash differs from the commitment of the latest checkpoint (this device takes one every 32 heights, consensus.checkpointEveryHeights, which must be the same on every device of the fleet; and every validator must run a release that keeps the same state)');
  });
});
