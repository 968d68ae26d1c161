// An equivocation whose second vote arrives after the height was decided (a twin that lags, a liar
// whose other vote travelled slower) is still caught: a validator keeps the vote sets of the last
// few heights it left (limits.lateVoteHeightsMax) and checks late votes against them. Late votes
// join only tallies that exist, so made-up rounds cannot grow memory. Seeded world; the seed is in
// the name.

import { describe, expect, it } from 'vitest';
import { step } from '../../runtime/consensus/core.js';
import type { Effect, VerifiedVote } from '../../runtime/consensus/types.js';
import { initCrypto } from '../../runtime/crypto/sodium.js';
import { limits } from '../../runtime/lib/limits.js';
import { sealEnvelope } from '../../runtime/wire/envelope.js';
import { encodeVoteBody } from '../../runtime/wire/vote.js';
import { World } from '../../fleet-sim/sim/world.js';
import { scenario } from '../sim/helpers.js';

const evidence = (fx: Effect[]): number => fx.filter((e) => e.type === 'send' && e.kind === 'evidence').length;

describe('late equivocation (seed 1)', () => {
  it('a conflicting vote for a height decided already is reported as evidence; one for a round nobody voted in is dropped', async () => {
    await initCrypto();
    const w = new World(scenario({ name: 'late-equivocation', seed: 1 }), 1, {});
    w.start();
    w.queue.runUntil(2_000, 1e8);
    const node = w.nodes[0];
    const shell = node?.shell;
    const liar = w.nodes[1];
    expect(shell && liar, 'nodes 0 and 1 are up').toBeTruthy();
    if (!shell || !liar) return;
    const core = shell.core;
    const fleet = core.p.fleet;
    // A height node 0 left lately, and validator 1's precommit there.
    const h = core.chain.height - 1;
    const past = core.pastVotes.find((p) => p.height === h);
    expect(past, `node 0 kept the votes of height ${h} (it is at ${core.height})`).toBeDefined();
    const first = past?.votes.tally('precommit', 0)?.votes.get(liar.id) as VerifiedVote | undefined;
    expect(first?.value, 'validator 1 precommitted a block at round 0').toMatch(/^[0-9a-f]{64}$/);
    const now = w.queue.now;
    const vote = (round: number): Uint8Array => sealEnvelope('precommit', fleet, liar.id, encodeVoteBody({ height: h, round, blockHash: null }), liar.signer);
    const input = (bytes: Uint8Array) => {
      const i = shell.edge.toInput(bytes, now);
      if (!i.ok) throw new Error(i.error);
      return i.value;
    };
    // Its memory of reports is full of heights no vote can reach any more (a liar equivocating in
    // every round): those are forgotten first, so this one is still reported.
    for (let k = 0; core.evidenceSent.size < limits.evidenceSentMax; k++) core.evidenceSent.add(`v09/1/${k}/prevote`);
    // A nil precommit at the same position: equivocation, reported once.
    const nil = input(vote(0));
    expect(evidence(step(core, nil).effects)).toBe(1);
    expect(core.evidenceSent.size).toBe(1);
    expect(evidence(step(core, nil).effects)).toBe(0);
    // Its copy is dropped at the edge now, before its signature is checked (edge.ts positionDrop): the
    // vote set holds it.
    expect(shell.edge.toInputOrDrop(vote(0), now)).toMatchObject({ ok: false, error: { code: 'not-needed' } });
    // Round 5 of that height had no tally: nothing is kept or reported (the core, given it; the edge
    // drops it unchecked).
    if (nil.type !== 'vote') throw new Error('a vote');
    expect(evidence(step(core, { ...nil, msg: { ...nil.msg, round: 5 } }).effects)).toBe(0);
    expect(past?.votes.tally('precommit', 5)).toBeUndefined();
    expect(shell.edge.toInputOrDrop(vote(5), now)).toMatchObject({ ok: false, error: { code: 'not-needed' } });
    // Only the last few heights are kept.
    expect(core.pastVotes.length).toBeLessThanOrEqual(limits.lateVoteHeightsMax);
    expect(core.pastVotes.some((p) => p.height === core.height - limits.lateVoteHeightsMax - 1)).toBe(false);
  });
});
