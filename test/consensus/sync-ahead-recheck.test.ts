// A certified block that arrives ahead of the chain is kept for its turn; its txs were checked on
// arrival, against what the node knew then, which for a height past a validator-set change it had not
// applied yet can be the wrong set. When its turn comes the core checks them again (CoreDeps.checkTxs)
// and applies what that check accepts, so the node applies the same txs as every other.

import { beforeAll, describe, expect, it } from 'vitest';
import { createConsensus, step } from '../../runtime/consensus/core.js';
import { defaultConsensusConfig, type CheckedTx, type RejectedTx } from '../../runtime/consensus/types.js';
import { hash } from '../../runtime/crypto/sodium.js';
import type { CommitCertificate } from '../../runtime/wire/certificate.js';
import { decodeBlockBytes, encodeBlock, type DecodedBlock } from '../../runtime/wire/block.js';
import { signingBytes } from '../../runtime/wire/signing.js';
import { encodeVoteBody } from '../../runtime/wire/vote.js';
import { createVerifier, makeFleet, type FleetFixture } from '../support/fleet-fixture.js';

let fx: FleetFixture;
beforeAll(async () => {
  fx = await makeFleet({ validators: 4, followers: 1 });
});

function certify(block: DecodedBlock): CommitCertificate {
  const height = block.block.height;
  const message = signingBytes('precommit', fx.fleet, encodeVoteBody({ height, round: 0, blockHash: block.hash }));
  const signatures = ['v0', 'v1', 'v2'].map((v) => ({ validator: v, signature: fx.signer(v).sign(message) }));
  return { height, round: 0, blockHash: block.hash, signatures };
}

describe('blocks kept ahead of the chain', () => {
  it("are checked again when their turn comes, and only that check's verdicts are applied", () => {
    const checked: number[] = [];
    const verifier = createVerifier();
    const core = createConsensus({
      id: 'f0',
      fleet: fx.fleet,
      genesis: fx.manifest,
      config: defaultConsensusConfig,
      deps: {
        hash,
        verify: (s, m, k) => verifier.verify(s, m, k),
        // The check at the block's turn refuses everything: what the arrival check said must not count.
        checkTxs: (b) => {
          checked.push(b.block.height);
          return b.block.txs.map((): RejectedTx => ({ kind: 'rejected', reason: 'refused at its turn' }));
        },
      },
    });
    step(core, { type: 'start', now: 0 });
    const make = (height: number, parent: Uint8Array, lastCommit: CommitCertificate | null, txs: Uint8Array[]) =>
      decodeBlockBytes(encodeBlock({ height, parent, timeMs: 1_700_000_000_000 + height, proposer: 'v1', txs, lastCommit, manifestHash: fx.manifest.hash, appHash: core.chain.appHash }));
    const b1 = make(1, new Uint8Array(32), null, []);
    const c1 = certify(b1);
    const tx = Uint8Array.of(1, 2, 3);
    const b2 = make(2, b1.hash, c1, [tx]);
    const c2 = certify(b2);
    // Arrival verdict of block 2's tx: accepted (as a node that did not know the set change yet might).
    const accepted: CheckedTx = { kind: 'other', bytes: tx, key: 'tx' };
    step(core, { type: 'sync-response', now: 10, from: 'v1', block: b2, txs: [accepted], certificate: c2 });
    expect(core.chain.height, 'kept for its turn').toBe(0);
    let applied: readonly CheckedTx[] | null = null;
    const r = step(core, { type: 'sync-response', now: 20, from: 'v1', block: b1, txs: [], certificate: c1 });
    for (const e of r.effects) if (e.type === 'commit' && e.committed.block.height === 2) applied = e.committed.txs;
    expect(core.chain.height).toBe(2);
    expect(checked).toEqual([2]);
    expect(applied, 'block 2 applied with the verdicts of its turn').toEqual([]);
  });
});
