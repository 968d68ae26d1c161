// A liar that signs three or more votes in one round (junk to some nodes first, its real vote to others)
// made nodes disagree for good on whether a value had a polka: a vote set keeps at most two values per
// validator, so one node counted the liar's vote for a value and another dropped it. A value a
// proposal names is now pinned and its votes count beyond the two (runtime/consensus/vote-set.ts).
// `fleet-sim seeds` found it in a 30 s world (seed 21030): five honest validators, two locked on one
// value and three on another, 20 s without a height.

import { describe, expect, it } from 'vitest';
import { VoteSet } from '../../runtime/consensus/vote-set.js';
import { unsignedVote } from '../support/unsigned-vote.js';
import { keptWorld } from './worlds/kept.js';
import { runScenario } from '../../fleet-sim/sim/run.js';

const vote = unsignedVote;

describe('a vote set counts a liar\'s vote for a value a proposal names, beyond its two', () => {
  it('a third value is dropped unless pinned; pinned, it counts once, for that value and round only', () => {
    const set = new VoteSet(() => 1);
    for (const v of ['v0', 'v1', 'v2']) set.add(vote(v, 'aa'));
    // The liar v5: junk first (nil, then a made-up value), its vote for aa third.
    expect(set.add(vote('v5', 'nil')).status).toBe('added');
    expect(set.add(vote('v5', 'ff')).status).toBe('conflict');
    expect(set.add(vote('v5', 'aa')).status).toBe('conflict');
    expect(set.tally('prevote', 1)?.byValue.get('aa'), 'unpinned: dropped, as before').toBe(3);
    set.pin('prevote', 1, 'aa');
    expect(set.add(vote('v5', 'aa')).status).toBe('conflict'); // still evidence of equivocation
    const t = set.tally('prevote', 1);
    expect(t?.byValue.get('aa'), 'pinned: counted').toBe(4);
    expect(set.add(vote('v5', 'aa')).status, 'once').toBe('duplicate');
    expect(t?.byValue.get('aa')).toBe(4);
    expect(t?.total, 'the validators who voted: counted once each, as before').toBe(4);
    if (t) expect(VoteSet.forValue(t, 'aa').map((v) => v.from).sort(), 'what a polka relay or a certificate takes').toEqual(['v0', 'v1', 'v2', 'v5']);
    // Another value, another round, another kind: not pinned.
    expect(set.add(vote('v5', 'bb')).status).toBe('conflict');
    expect(t?.byValue.get('bb')).toBeUndefined();
    set.add(vote('v5', 'nil', 'prevote', 2));
    set.add(vote('v5', 'ff', 'prevote', 2));
    set.add(vote('v5', 'aa', 'prevote', 2));
    expect(set.tally('prevote', 2)?.byValue.get('aa')).toBeUndefined();
    set.add(vote('v5', 'nil', 'precommit'));
    set.add(vote('v5', 'ff', 'precommit'));
    set.add(vote('v5', 'aa', 'precommit'));
    expect(set.tally('precommit', 1)?.byValue.get('aa')).toBeUndefined();
  });

  it('world 21030 over 30 s (found by fleet-sim seeds) is live again', async () => {
    // The world as `fleet-sim seeds --seconds 30` drew it then (randomScenario(21030, 30_000)), kept whole:
    // later draws (power cuts) change what this seed makes now.
    const { world, path } = keptWorld('random-21030-30s.json');
    const report = await runScenario(world, world.seed);
    expect(report.expect.failed, `the 30 s world in ${path}`).toEqual([]);
  });
});
