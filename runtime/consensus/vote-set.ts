// Votes of one height, tallied by (kind, round, value) in voting power. At most one vote per
// validator per (kind, round) is counted; a second, different one is returned as equivocation.

import type { VerifiedVote, VoteKind } from './types.js';

export interface Tally {
  /** Power per value key ('nil' or block hash hex). */
  readonly byValue: Map<string, number>;
  total: number;
  readonly votes: Map<string, VerifiedVote>;
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
      t = { byValue: new Map(), total: 0, votes: new Map() };
      this.rounds.set(k, t);
    }
    const earlier = t.votes.get(v.from);
    if (earlier) return earlier.value === v.value ? { status: 'duplicate' } : { status: 'conflict', earlier };
    const p = this.powerOf(v.from);
    t.votes.set(v.from, v);
    t.total += p;
    t.byValue.set(v.value, (t.byValue.get(v.value) ?? 0) + p);
    return { status: 'added' };
  }

  /** Rounds above `round` in which validators holding `power` or more voted (any kind). */
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
