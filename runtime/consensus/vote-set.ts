// Votes of one height, tallied by (kind, round, value) in voting power. A second, different vote of
// one validator at one (kind, round) is equivocation: it is reported, and also counted for its value
// (at most two values per validator), because other honest nodes may have seen only that one. This is
// safe: two >2/3 quorums for different values in one tally would still need an honest double vote.
//
// Two values per validator bound what a liar can make a node keep, but a liar that signs three or more
// (junk to some nodes first, its real vote to others) could make one node count its vote for a value
// that another node dropped, so the two disagree for good on whether that value has a polka: seen in
// `fleet-sim seeds` (a 30 s world, seed 21030: five honest validators, two locked on one value and three
// on another, none able to verify the others' polka again). So a value a proposal names is pinned
// (pin: the proposal's own round, and its validRound, the polka line 28 checks), and a validator's vote
// for a pinned value counts even beyond its two, as CometBFT's vote set does for a block a peer claims
// a +2/3 majority for. Bounded: one proposal per round, so a few pins per round and one more vote per
// validator each. The votes it dropped before a pin come again: the proposer sends the polka with its
// proposal and every node relays it at each gossip.

import type { VerifiedVote, VoteKind } from './types.js';

export interface Tally {
  /** Power per value key ('nil' or block hash hex). */
  readonly byValue: Map<string, number>;
  total: number;
  /** First vote per validator (what `total` counts). */
  readonly votes: Map<string, VerifiedVote>;
  /** A second, conflicting vote per validator (equivocation), counted for its own value. */
  readonly conflicting: Map<string, VerifiedVote>;
  /** Further votes of equivocators for pinned values, by value and then validator (see above). */
  readonly pinnedExtra: Map<string, Map<string, VerifiedVote>>;
}

export type AddResult = { readonly status: 'added' } | { readonly status: 'duplicate' } | { readonly status: 'conflict'; readonly earlier: VerifiedVote };

export class VoteSet {
  // One map per kind, keyed by round, and the rounds with any vote in ascending order: the upon-rules
  // read these after every input, so a lookup builds no key string and a walk sorts nothing.
  private readonly prevotes = new Map<number, Tally>();
  private readonly precommits = new Map<number, Tally>();
  private readonly roundList: number[] = [];
  /** `kind/round/value` of the values proposals name (pin). */
  private readonly pinned = new Set<string>();

  constructor(private readonly powerOf: (id: string) => number) {}

  tally(kind: VoteKind, round: number): Tally | undefined {
    return (kind === 'prevote' ? this.prevotes : this.precommits).get(round);
  }

  add(v: VerifiedVote): AddResult {
    const byRound = v.kind === 'prevote' ? this.prevotes : this.precommits;
    let t = byRound.get(v.round);
    if (!t) {
      t = { byValue: new Map(), total: 0, votes: new Map(), conflicting: new Map(), pinnedExtra: new Map() };
      byRound.set(v.round, t);
      this.noteRound(v.round);
    }
    const earlier = t.votes.get(v.from);
    const p = this.powerOf(v.from);
    if (earlier) {
      if (earlier.value === v.value) return { status: 'duplicate' };
      const second = t.conflicting.get(v.from);
      if (!second) {
        t.conflicting.set(v.from, v);
        t.byValue.set(v.value, (t.byValue.get(v.value) ?? 0) + p);
      } else if (second.value === v.value) return { status: 'duplicate' };
      else if (this.pinned.has(`${v.kind}/${v.round}/${v.value}`)) {
        let byFrom = t.pinnedExtra.get(v.value);
        if (!byFrom) t.pinnedExtra.set(v.value, (byFrom = new Map()));
        if (byFrom.has(v.from)) return { status: 'duplicate' };
        byFrom.set(v.from, v);
        t.byValue.set(v.value, (t.byValue.get(v.value) ?? 0) + p);
      }
      return { status: 'conflict', earlier };
    }
    t.votes.set(v.from, v);
    t.total += p;
    t.byValue.set(v.value, (t.byValue.get(v.value) ?? 0) + p);
    return { status: 'added' };
  }

  /**
   * Whether add would count or report a vote of `from` for `value` at (kind, round): false for a copy of
   * a vote held, and for a third value or more of an equivocator (reported already) that no proposal
   * pinned. The edge asks before it checks a vote's signature (EdgeContext.takesVote), so one
   * validator's flood of distinct votes costs each receiver two checks per position, not one per vote.
   */
  wouldTake(kind: VoteKind, round: number, from: string, value: string): boolean {
    const t = this.tally(kind, round);
    const earlier = t?.votes.get(from);
    if (t === undefined || earlier === undefined) return true;
    if (earlier.value === value) return false;
    const second = t.conflicting.get(from);
    if (second === undefined) return true;
    if (second.value === value) return false;
    return this.pinned.has(`${kind}/${round}/${value}`) && t.pinnedExtra.get(value)?.has(from) !== true;
  }

  private noteRound(round: number): void {
    const l = this.roundList;
    let i = l.length;
    while (i > 0 && (l[i - 1] as number) > round) i--;
    if (i > 0 && l[i - 1] === round) return;
    l.splice(i, 0, round);
  }

  /** Every counted vote (first, conflicting and pinned) of one tally for `value`. */
  static forValue(t: Tally, value: string): VerifiedVote[] {
    return [...t.votes.values(), ...t.conflicting.values(), ...(t.pinnedExtra.get(value)?.values() ?? [])].filter((v) => v.value === value);
  }

  /** Counts validators' votes of `kind` in `round` for `value` beyond their two values from now on: a
   *  value a proposal names (see the top of this file). */
  pin(kind: VoteKind, round: number, value: string): void {
    this.pinned.add(`${kind}/${round}/${value}`);
  }

  /** Every round in which any vote arrived, ascending (the set's own list: read, never change it). */
  rounds(): readonly number[] {
    return this.roundList;
  }

  /** Power of distinct validators voting in `round`, either kind (Algorithm 1, line 55). */
  powerInRound(round: number): number {
    const seen = new Set<string>();
    let p = 0;
    for (const kind of ['prevote', 'precommit'] as const) {
      const t = this.tally(kind, round);
      if (!t) continue;
      for (const id of t.votes.keys()) {
        if (!seen.has(id)) {
          seen.add(id);
          p += this.powerOf(id);
        }
      }
    }
    return p;
  }
}
