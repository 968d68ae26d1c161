// The edge drops a vote before its signature check when the vote set says it could change nothing
// (VoteSet.wouldTake, asked through ConsensusState.takesVote): a copy of a vote held, or an
// equivocator's third value or more that no proposal pinned. That check must agree with add exactly:
// a vote it turns away must leave every tally as it was and be no first conflict (which reports the
// equivocation), and a vote it lets through must count or report. Checked over random sequences of
// votes and pins from honest validators and equivocators.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { VoteSet, type Tally } from '../../runtime/consensus/vote-set.js';
import type { VerifiedVote, VoteKind } from '../../runtime/consensus/types.js';
import { unsignedVote } from '../support/unsigned-vote.js';


/** Everything a tally counts, as plain data. */
function snapshot(t: Tally | undefined): unknown {
  if (t === undefined) return null;
  const ids = (m: Map<string, VerifiedVote>): [string, string][] => [...m].map(([k, v]) => [k, v.value]).sort() as [string, string][];
  return {
    total: t.total,
    byValue: [...t.byValue].sort(),
    votes: ids(t.votes),
    conflicting: ids(t.conflicting),
    pinnedExtra: [...t.pinnedExtra].map(([value, m]) => [value, [...m.keys()].sort()]).sort(),
  };
}

const op = fc.oneof(
  fc.record({ t: fc.constant('vote' as const), from: fc.constantFrom('v0', 'v1', 'v2', 'v3'), kind: fc.constantFrom<VoteKind>('prevote', 'precommit'), round: fc.integer({ min: 0, max: 2 }), value: fc.constantFrom('nil', 'aa', 'bb', 'cc', 'dd') }),
  fc.record({ t: fc.constant('pin' as const), kind: fc.constantFrom<VoteKind>('prevote', 'precommit'), round: fc.integer({ min: 0, max: 2 }), value: fc.constantFrom('aa', 'bb', 'cc', 'dd') }),
);

describe('VoteSet.wouldTake agrees with add', () => {
  it('turns away exactly the votes that change nothing', () => {
    let turnedAway = 0;
    let taken = 0;
    fc.assert(
      fc.property(fc.array(op, { minLength: 1, maxLength: 60, size: 'max' }), (ops) => {
        const set = new VoteSet((id) => (id === 'v3' ? 2 : 1));
        for (const o of ops) {
          if (o.t === 'pin') {
            set.pin(o.kind, o.round, o.value);
            continue;
          }
          const before = snapshot(set.tally(o.kind, o.round));
          const hadConflict = set.tally(o.kind, o.round)?.conflicting.has(o.from) === true;
          const would = set.wouldTake(o.kind, o.round, o.from, o.value);
          const r = set.add(unsignedVote(o.from, o.value, o.kind, o.round));
          const changed = JSON.stringify(before) !== JSON.stringify(snapshot(set.tally(o.kind, o.round)));
          const firstConflict = r.status === 'conflict' && !hadConflict;
          if (would) taken++;
          else turnedAway++;
          // Turned away: nothing counted, nothing to report. Let through: something counted or reported.
          expect(would, `${o.from} ${o.kind} r${o.round} ${o.value}: add said ${r.status}, changed ${changed}`).toBe(changed || firstConflict);
        }
      }),
      { seed: 20261207, numRuns: 400 },
    );
    // Both answers were exercised, hundreds of times.
    expect(turnedAway).toBeGreaterThan(300);
    expect(taken).toBeGreaterThan(3000);
  });
});
