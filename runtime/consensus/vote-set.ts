// Votes of one height, tallied by (kind, round, value) in voting power. A second, different vote of
// one validator at one (kind, round) is equivocation: it is reported, and also counted for its value
// (at most two values per validator), because other honest nodes may have seen only that one. This is
// safe: two >2/3 quorums for different values in one tally would still need an honest double vote.

import type { VerifiedVote, VoteKind } from './types.js';

export interface Tally {
  /** Power per value key ('nil' or block hash hex). */
  readonly byValue: Map<string, number>;
  total: number;
  /** First vote per validator (what `total` counts). */
  readonly votes: Map<string, VerifiedVote>;
  /** A second, conflicting vote per validator (equivocation), counted for its own value. */
  readonly conflicting: Map<string, VerifiedVote>;
}

export type AddResult = { readonly status: 'added' } | { readonly status: 'duplicate' } | { readonly status: 'conflict'; readonly earlier: VerifiedVote };

export class VoteSet {
  private readonly rounds = new Map<string, Tally>();

  constructor(private readonly powerOf: (id: string) => number) {}

  private key(kind: VoteKind, round: number): string {
    return `${kind}/${round}`;
  }

  tally(kind: VoteKind, round: number): Tally | undefined {
    return this.rounds.get(this.key(kind, round));
  }

  add(v: VerifiedVote): AddResult {
    const k = this.key(v.kind, v.round);
    let t = this.rounds.get(k);
    if (!t) {
      t = { byValue: new Map(), total: 0, votes: new Map(), conflicting: new Map() };
      this.rounds.set(k, t);
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
      return { status: 'conflict', earlier };
    }
    t.votes.set(v.from, v);
    t.total += p;
    t.byValue.set(v.value, (t.byValue.get(v.value) ?? 0) + p);
    return { status: 'added' };
  }

  /** Every counted vote (first and conflicting) of one tally for `value`. */
  static forValue(t: Tally, value: string): VerifiedVote[] {
    return [...t.votes.values(), ...t.conflicting.values()].filter((v) => v.value === value);
  }

  /** Rounds above `round` in which any vote arrived, ascending. */
  roundsWithPowerAbove(round: number): number[] {
    const out: number[] = [];
    const rounds = new Set<number>();
    for (const k of this.rounds.keys()) rounds.add(Number(k.slice(k.indexOf('/') + 1)));
    for (const r of [...rounds].sort((a, b) => a - b)) if (r > round) out.push(r);
    return out;
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

  roundCount(): number {
    return this.rounds.size;
  }
}
