// What one member's flood costs a receiver's edge, per message, with the position check
// (EdgeVerifier.positionDrop) and without it, in one run: junk proposals from a member that is not the
// round's proposer (each block full of signed commands, so each tx is a signature check once the block
// is taken) and an equivocator's distinct precommits at one position (each a signature check once
// taken). Usage: npm run bench:edge-flood -- [proposals=20] [votes=3000]

import { createVerifier, hash } from '../../runtime/crypto/sodium.js';
import { proposerOf } from '../../runtime/consensus/proposer.js';
import { VoteSet } from '../../runtime/consensus/vote-set.js';
import { limits } from '../../runtime/lib/limits.js';
import { EdgeVerifier } from '../../runtime/node/edge.js';
import { encodeBlock, encodeProposalBody } from '../../runtime/wire/block.js';
import { encodeCommandBody } from '../../runtime/wire/command.js';
import { sealEnvelope } from '../../runtime/wire/envelope.js';
import { encodeVoteBody } from '../../runtime/wire/vote.js';
import { makeFleet } from '../support/fleet-fixture.js';

const proposalCount = Number(process.argv[2] ?? 20);
const voteCount = Number(process.argv[3] ?? 3000);
const fx = await makeFleet({ validators: 4 });
const height = 20;
const round = 0;
const liar = fx.manifest.validators.map((v) => v.id).find((id) => id !== proposerOf(fx.manifest.validators, height, round) && id !== 'v0') as string;
const t = 1_700_000_000_000;
const txsPerBlock = limits.blockTxCountMax;

const proposals = Array.from({ length: proposalCount }, (_, j) => {
  const txs = Array.from({ length: txsPerBlock }, (_, i) => sealEnvelope('command', fx.fleet, 'op', encodeCommandBody({ type: 'noop', nonce: Uint8Array.from([j, i >> 8, i & 255, ...new Uint8Array(13)]), issuedAt: t, expiresAt: t + 60_000, args: {} }), fx.signer('op')));
  const blockBytes = encodeBlock({ height, parent: new Uint8Array(32), timeMs: 1, proposer: liar, txs, lastCommit: null, manifestHash: new Uint8Array(32), appHash: new Uint8Array(32) });
  return sealEnvelope('proposal', fx.fleet, liar, encodeProposalBody({ height, round, validRound: -1, blockBytes }), fx.signer(liar));
});
const votes = Array.from({ length: voteCount }, (_, i) => sealEnvelope('precommit', fx.fleet, liar, encodeVoteBody({ height, round, blockHash: Uint8Array.from({ length: 32 }, (_, k) => (i >> ((k % 3) * 8)) & 255) }), fx.signer(liar)));

function run(check: boolean): { proposalMs: number; voteUs: number; verified: number } {
  const set = new VoteSet(() => 1);
  const e = new EdgeVerifier({ fleet: fx.fleet, verifier: createVerifier(), hash, manifestAt: () => fx.manifest, currentHeight: () => height, currentRound: () => round, self: 'v0', votes: () => true, authority: fx.authority.publicKey, takesVote: (_k, h, r, f, v) => h === height && set.wouldTake(_k, r, f, v) });
  // Without the check: the edge as it was, every message opened and every tx of a block checked.
  if (!check) (e as unknown as { positionDrop: () => null }).positionDrop = () => null;
  let t0 = performance.now();
  for (const p of proposals) e.toInputOrDrop(p, 0);
  const proposalMs = (performance.now() - t0) / proposals.length;
  t0 = performance.now();
  for (const v of votes) {
    const i = e.toInputOrDrop(v, 0);
    if (i.ok && i.value.type === 'vote') set.add(i.value.msg);
  }
  return { proposalMs, voteUs: ((performance.now() - t0) / votes.length) * 1000, verified: e.verifications };
}

run(true); // warm-up
const off = run(false);
const on = run(true);
console.log(`junk proposals: ${proposalCount} of ${proposals[0]?.length ?? 0} bytes, ${txsPerBlock} signed commands each, from ${liar}, not the proposer of ${height}/${round}`);
console.log(`  without the check ${off.proposalMs.toFixed(2)} ms each, with it ${on.proposalMs.toFixed(3)} ms: ${(off.proposalMs / on.proposalMs).toFixed(0)}x less`);
console.log(`an equivocator's distinct precommits at one position: ${voteCount}`);
console.log(`  without the check ${off.voteUs.toFixed(1)} µs each, with it ${on.voteUs.toFixed(1)} µs: ${(off.voteUs / on.voteUs).toFixed(1)}x less`);
console.log(`envelopes opened (signature checked): ${off.verified} without, ${on.verified} with`);
