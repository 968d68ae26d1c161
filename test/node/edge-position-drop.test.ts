// The edge drops, before the signature check, a proposal or vote that consensus would drop on its
// position or sender alone (EdgeVerifier.positionDrop): a member flooding far-future or long-past votes,
// votes for rounds far ahead, or junk proposals for rounds it does not propose, cost every receiver a
// signature check apiece, and a junk proposal its whole block decoded and each of its txs verified.
// Each case counts the signature checks the edge made, so a drop that still verified fails here.

import { beforeAll, describe, expect, it } from 'vitest';
import { hash } from '../../runtime/crypto/sodium.js';
import { limits } from '../../runtime/lib/limits.js';
import { proposerOf } from '../../runtime/consensus/proposer.js';
import { EdgeVerifier, type EdgeContext } from '../../runtime/node/edge.js';
import { encodeBlock, encodeProposalBody, proposalPositionOf } from '../../runtime/wire/block.js';
import { encodeCommandBody } from '../../runtime/wire/command.js';
import { sealEnvelope } from '../../runtime/wire/envelope.js';
import { encodeVoteBody, votePeekOf, votePositionOf } from '../../runtime/wire/vote.js';
import { encodeTelemetryBody } from '../../runtime/wire/telemetry.js';
import { VoteSet } from '../../runtime/consensus/vote-set.js';
import { toHex } from '../../runtime/lib/bytes.js';
import { createVerifier, makeFleet, type FleetFixture } from '../support/fleet-fixture.js';

const height = 20;
const round = 2;
let fx: FleetFixture;
let edge: EdgeVerifier;
let checks = 0;

/** An edge at `height`/`round` as node v0, counting its signature checks in `checks`. */
function edgeAt(extra: Partial<EdgeContext> = {}): EdgeVerifier {
  const v = createVerifier();
  return new EdgeVerifier({
    fleet: fx.fleet,
    verifier: { backend: v.backend, verify: (s, m, k) => (checks++, v.verify(s, m, k)) },
    hash,
    manifestAt: () => fx.manifest,
    currentHeight: () => height,
    currentRound: () => round,
    self: 'v0',
    votes: () => true,
    authority: fx.authority.publicKey,
    ...extra,
  });
}

beforeAll(async () => {
  fx = await makeFleet({ validators: 4 });
  edge = edgeAt();
});

const vote = (from: string, h: number, r: number, kind: 'prevote' | 'precommit' = 'precommit'): Uint8Array =>
  sealEnvelope(kind, fx.fleet, from, encodeVoteBody({ height: h, round: r, blockHash: new Uint8Array(32).fill(7) }), fx.signer(from));

/** A proposal whose block carries `txs` signed commands (each a signature check once its block is taken). */
const proposal = (from: string, h: number, r: number, txs = 3): Uint8Array => {
  const t = 1_700_000_000_000;
  const commands = Array.from({ length: txs }, (_, i) => sealEnvelope('command', fx.fleet, 'op', encodeCommandBody({ type: 'noop', nonce: new Uint8Array(16).fill(i + 1), issuedAt: t, expiresAt: t + 60_000, args: {} }), fx.signer('op')));
  const blockBytes = encodeBlock({ height: h, parent: new Uint8Array(32), timeMs: 1, proposer: from, txs: commands, lastCommit: null, manifestHash: new Uint8Array(32), appHash: new Uint8Array(32) });
  return sealEnvelope('proposal', fx.fleet, from, encodeProposalBody({ height: h, round: r, validRound: -1, blockBytes }), fx.signer(from));
};

/** The edge's verdict on `bytes` (the input's type, or the drop's code) and the signature checks it made. */
function judge(bytes: Uint8Array): { readonly verdict: string; readonly checks: number } {
  checks = 0;
  const i = edge.toInputOrDrop(bytes, 0);
  return { verdict: i.ok ? i.value.type : i.error.code, checks };
}

const proposerAt = (r: number): string => proposerOf(fx.manifest.validators, height, r);
const notProposerAt = (r: number): string => fx.manifest.validators.map((v) => v.id).find((id) => id !== proposerAt(r) && id !== 'v0') as string;

describe('proposals and votes dropped on their position before the signature check', () => {
  it("drops a proposal from a member that is not its round's proposer, block unread; its proposer's is taken with every tx checked", () => {
    const junk = judge(proposal(notProposerAt(round), height, round, 50));
    expect(junk).toEqual({ verdict: 'not-proposer', checks: 0 });
    expect(edge.toInputOrDrop(proposal(notProposerAt(round), height, round), 0)).toMatchObject({ ok: false, error: { message: `proposal for height ${height} round ${round} from ${notProposerAt(round)}, who is not its proposer` } });
    const real = judge(proposal(proposerAt(round), height, round, 3));
    expect(real).toEqual({ verdict: 'proposal', checks: 1 + 3 });
  });

  it('drops proposals and votes for another height, and votes older than the late-vote window; takes late votes inside it', () => {
    const from = notProposerAt(round);
    expect(judge(proposal(proposerOf(fx.manifest.validators, height + 1, 0), height + 1, 0))).toEqual({ verdict: 'not-needed', checks: 0 });
    expect(judge(proposal(proposerOf(fx.manifest.validators, height - 1, 0), height - 1, 0))).toEqual({ verdict: 'committed', checks: 0 });
    expect(judge(vote(from, height + 1, 0))).toEqual({ verdict: 'not-needed', checks: 0 });
    expect(judge(vote(from, height + 1000, 0, 'prevote'))).toEqual({ verdict: 'not-needed', checks: 0 });
    expect(judge(vote(from, height - limits.lateVoteHeightsMax - 1, 0))).toEqual({ verdict: 'committed', checks: 0 });
    expect(judge(vote(from, height - limits.lateVoteHeightsMax, 0))).toEqual({ verdict: 'vote', checks: 1 });
    expect(judge(vote(from, height, round))).toEqual({ verdict: 'vote', checks: 1 });
  });

  it('drops votes and proposals for rounds past consensusRoundsAheadMax ahead, and takes the last round inside', () => {
    const from = notProposerAt(round);
    const last = round + limits.consensusRoundsAheadMax;
    expect(judge(vote(from, height, last))).toEqual({ verdict: 'vote', checks: 1 });
    expect(judge(vote(from, height, last + 1))).toEqual({ verdict: 'not-needed', checks: 0 });
    expect(judge(vote(from, height, 0xffffffff, 'prevote'))).toEqual({ verdict: 'not-needed', checks: 0 });
    expect(judge(proposal(proposerAt(last + 1), height, last + 1))).toEqual({ verdict: 'not-needed', checks: 0 });
  });

  it("lets this node's own id through to its checks, wherever it is, for the shell's own-key look (NodeShell.ownKeyMessage)", () => {
    expect(notProposerAt(round)).not.toBe('v0');
    // v0 (this node) is not the proposer of every round: one of them it is not is checked, not dropped.
    const r = [0, 1, 2, 3, 4].find((x) => proposerAt(x) !== 'v0') as number;
    expect(judge(proposal('v0', height, r)).checks).toBeGreaterThan(0);
    expect(judge(vote('v0', height + 5, 0)).checks).toBe(1);
  });

  it('reads a forged sender or position only to drop that one message: a forged proposer still fails its signature', () => {
    // Signed by a non-proposer under the proposer's name: taken to the check, which refuses it.
    const forged = sealEnvelope('proposal', fx.fleet, proposerAt(round), encodeProposalBody({ height, round, validRound: -1, blockBytes: encodeBlock({ height, parent: new Uint8Array(32), timeMs: 1, proposer: proposerAt(round), txs: [], lastCommit: null, manifestHash: new Uint8Array(32), appHash: new Uint8Array(32) }) }), fx.signer(notProposerAt(round)));
    expect(judge(forged)).toEqual({ verdict: 'bad-signature', checks: 1 });
  });
});

describe("an equivocator's flood at one position", () => {
  it('costs two signature checks, not one per vote: the votes the vote set would not take are dropped unchecked', () => {
    const set = new VoteSet(() => 1);
    const e = edgeAt({ takesVote: (kind, h, r, from, value) => h === height && set.wouldTake(kind, r, from, value) });
    checks = 0;
    const liar = notProposerAt(round);
    const verdicts: string[] = [];
    for (let i = 0; i < 100; i++) {
      const bytes = sealEnvelope('precommit', fx.fleet, liar, encodeVoteBody({ height, round, blockHash: new Uint8Array(32).fill(i) }), fx.signer(liar));
      const input = e.toInputOrDrop(bytes, 0);
      verdicts.push(input.ok ? input.value.type : input.error.code);
      if (input.ok && input.value.type === 'vote') set.add(input.value.msg);
    }
    expect(verdicts.slice(0, 2)).toEqual(['vote', 'vote']); // its first vote, and the second that proves the equivocation
    expect(new Set(verdicts.slice(2))).toEqual(new Set(['not-needed']));
    expect(checks).toBe(2);
    // A value a proposal names (pinned) still counts beyond the two, as the vote set would take it.
    set.pin('precommit', round, toHex(new Uint8Array(32).fill(50)));
    const pinned = e.toInputOrDrop(sealEnvelope('precommit', fx.fleet, liar, encodeVoteBody({ height, round, blockHash: new Uint8Array(32).fill(50) }), fx.signer(liar)), 0);
    expect(pinned.ok ? pinned.value.type : pinned.error.code).toBe('vote');
    // An honest validator's vote at the same position is untouched.
    const honest = e.toInputOrDrop(vote(fx.manifest.validators.map((x) => x.id).find((id) => id !== liar && id !== 'v0') as string, height, round), 0);
    expect(honest.ok ? honest.value.type : honest.error.code).toBe('vote');
  });
});

describe('the position peeks', () => {
  it('read height and round as the encoders write them, for any size of each', () => {
    for (const h of [0, 23, 24, 255, 256, 65_535, 65_536, 2 ** 32, Number.MAX_SAFE_INTEGER]) {
      for (const r of [0, 1, 23, 24, 300, 0xffffffff]) {
        expect(votePositionOf(encodeVoteBody({ height: h, round: r, blockHash: null }))).toEqual({ height: h, round: r });
        expect(votePeekOf(encodeVoteBody({ height: h, round: r, blockHash: null }))).toEqual({ height: h, round: r, value: 'nil' });
        expect(votePeekOf(encodeVoteBody({ height: h, round: r, blockHash: new Uint8Array(32).fill(0xab) }))).toEqual({ height: h, round: r, value: 'ab'.repeat(32) });
        expect(proposalPositionOf(encodeProposalBody({ height: h, round: r, validRound: -1, blockBytes: new Uint8Array(3) }))).toEqual({ height: h, round: r });
      }
    }
  });

  it('give null for any other layout, so the full parse says what is wrong', () => {
    expect(votePositionOf(Uint8Array.of(0x83, 0x01))).toBe(null); // cut short
    expect(votePositionOf(Uint8Array.of(0x83, 0x01, 0x20))).toBe(null); // a negative round
    expect(proposalPositionOf(Uint8Array.of(0xa4))).toBe(null);
    const body = encodeVoteBody({ height: 5, round: 1, blockHash: new Uint8Array(32).fill(1) });
    expect(votePeekOf(body.subarray(0, body.length - 1))).toBe(null); // a hash cut short
    expect(votePeekOf(Uint8Array.of(...body, 0))).toBe(null); // a byte after it
    // The keys in another order (another encoder): not read.
    const other = Uint8Array.of(0xa4, 0x65, ...Buffer.from('round'), 0x01, 0x66, ...Buffer.from('height'), 0x05);
    expect(proposalPositionOf(other)).toBe(null);
    const proposalBody = encodeProposalBody({ height: 5, round: 1, validRound: -1, blockBytes: new Uint8Array(3) });
    expect(proposalPositionOf(proposalBody.subarray(0, 9))).toBe(null);
  });
});

describe("device reports the application calls superseded (EdgeContext.superseded)", () => {
  const report = (from: string, seq: number): Uint8Array =>
    sealEnvelope('telemetry', fx.fleet, from, encodeTelemetryBody({ node: from, session: 5, seq, northDm: 0, eastDm: 0, altDm: 0, batteryPermille: 900, completed: '' }), fx.signer(from));

  it('are dropped before their signature is checked, with the reason; the others go on to their check and the mempool', () => {
    const asked: string[] = [];
    const e = edgeAt({
      superseded: (kind, sender, body) => {
        asked.push(`${kind} ${sender}`);
        return sender === 'v2' ? `telemetry of v2 is not after its last committed report (${body.length} bytes)` : null;
      },
    });
    checks = 0;
    const old = e.toInputOrDrop(report('v2', 1), 0);
    expect(old.ok ? 'taken' : old.error.code).toBe('superseded');
    expect(old.ok ? '' : old.error.message).toMatch(/^telemetry of v2 is not after its last committed report/);
    expect(checks).toBe(0);
    const fresh = e.toInputOrDrop(report('v1', 2), 0);
    expect(fresh.ok ? fresh.value.type : fresh.error.code).toBe('tx');
    expect(checks).toBe(1);
    expect(asked).toEqual(['telemetry v2', 'telemetry v1']);
    // Without the hook (a simulated node), every report goes on to its check.
    checks = 0;
    const plain = edge.toInputOrDrop(report('v2', 3), 0);
    expect(plain.ok ? plain.value.type : plain.error.code).toBe('tx');
    expect(checks).toBe(1);
  });
});

describe('late votes of a validator a set change removed', () => {
  it("go through the same checks as a current validator's: 200 late precommits of far rounds, 0 signature checks either way", async () => {
    const oldSet = await makeFleet({ validators: 5 }); // v0..v4
    const newSet = await makeFleet({ validators: 4 }); // the same keys: v4 is removed from height 21 on
    const v = createVerifier();
    const e = new EdgeVerifier({
      fleet: oldSet.fleet,
      verifier: { backend: v.backend, verify: (s, m, k) => (checks++, v.verify(s, m, k)) },
      hash,
      manifestAt: (h) => (h >= 21 ? newSet.manifest : oldSet.manifest),
      currentHeight: () => 22,
      currentRound: () => 0,
      self: 'v0',
      takesVote: () => false, // as ConsensusState.takesVote answers for a position no tally of the height holds
      votes: () => true,
      authority: oldSet.authority.publicKey,
    });
    const flood = (from: string): { checks: number; verdicts: string[] } => {
      checks = 0;
      const verdicts = new Set<string>();
      for (let i = 0; i < 200; i++) {
        const bytes = sealEnvelope('precommit', oldSet.fleet, from, encodeVoteBody({ height: 20, round: 1000 + i, blockHash: new Uint8Array(32).fill(i & 255) }), oldSet.signer(from));
        const r = e.toInputOrDrop(bytes, 0);
        verdicts.add(r.ok ? r.value.type : r.error.code);
      }
      return { checks, verdicts: [...verdicts] };
    };
    expect(flood('v1')).toEqual({ checks: 0, verdicts: ['not-needed'] });
    expect(flood('v4')).toEqual({ checks: 0, verdicts: ['not-needed'] });
  });
});
