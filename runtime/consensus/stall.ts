// What a validator can say when its fleet commits nothing: at which height and round it is, and who it
// has heard there. A fleet with too few validators up waits for good (that is the protocol: more than
// two thirds of the voting power must vote), and until now an operator saw only a height that stopped
// moving. The view names the validators whose votes are missing, and those a status puts at an earlier
// height (catching up); when the voting power it heard is enough for a quorum and still nothing
// commits, that says so too (then the validators' logs hold the why). Pure: the device's status and
// health, and `murmurctl status`, read it.

import type { ConsensusConfig } from './types.js';
import type { ConsensusState } from './consensus-state.js';

export interface StallView {
  /** Seconds since the last block (or since the device started, before its first). */
  readonly forS: number;
  /** The height being decided, and this validator's round there. */
  readonly height: number;
  readonly round: number;
  /** Validators whose heartbeats stopped (the device's failure detector: suspect or dead), sorted: a
   *  vote they cast here before they went counts for nothing more. */
  readonly down: readonly string[];
  /** The others with a vote at this height that this one holds (itself included), sorted. */
  readonly voting: readonly string[];
  /** The others whose last status put them at an earlier height (catching up). */
  readonly behind: readonly { readonly id: string; readonly height: number }[];
  /** The others whose last status put them at a later height: the fleet commits on, and it is this
   *  device that is behind (cut off from their votes, or its block sync not getting through). Absent in
   *  the status documents of devices from before it was added. */
  readonly ahead?: readonly { readonly id: string; readonly height: number }[];
  /** The rest: up, as far as heartbeats tell, but neither voting here nor behind, sorted. */
  readonly silent: readonly string[];
  /** The voting power of `voting`. */
  readonly votingPower: number;
  /** The least voting power that is more than two thirds of the total. */
  readonly quorumPower: number;
  readonly totalPower: number;
  /** This device's own links that are down or keep dropping (the device's watch: "mqtt down", "mqtt
   *  dropped 4 times in 60 s"): then it may be the one cut off, not the others gone. */
  readonly ownLinks?: readonly string[];
}

/** Rounds 0 to 3 at their timeouts, and the commit wait: a fleet that takes longer than that for a
 *  block is not having one slow round (a crashed proposer costs one). 14.1 s with the defaults. */
export function stallAfterMs(c: ConsensusConfig): number {
  let ms = c.commitWaitMs;
  for (let r = 0; r <= 3; r++) ms += c.proposeMs + c.prevoteMs + c.precommitMs + r * (c.proposeDeltaMs + c.prevoteDeltaMs + c.precommitDeltaMs);
  return ms;
}

/** The view of a validator whose chain has not moved for `forMs`; null for a follower. `down`: the
 *  validators its failure detector holds suspect or dead. */
export function stallView(s: ConsensusState, forMs: number, down: ReadonlySet<string>): StallView | null {
  if (!s.isValidator()) return null;
  const validators = s.chain.manifestAt(s.height).validators;
  const voted = new Set<string>();
  for (const round of s.votes.rounds()) {
    for (const kind of ['prevote', 'precommit'] as const) for (const id of s.votes.tally(kind, round)?.votes.keys() ?? []) voted.add(id);
  }
  const voting: string[] = [];
  const behind: { id: string; height: number }[] = [];
  const ahead: { id: string; height: number }[] = [];
  const silent: string[] = [];
  const gone: string[] = [];
  let votingPower = 0;
  let totalPower = 0;
  for (const v of validators) {
    totalPower += v.power;
    const peer = s.peers.get(v.id);
    // A status from a later height says the fleet went on without this device, whatever its heartbeats
    // say (on a radio that consensus fills they may not get through while statuses do).
    if (v.id !== s.p.id && peer !== undefined && peer.height > s.height) ahead.push({ id: v.id, height: peer.height });
    else if (v.id !== s.p.id && down.has(v.id)) gone.push(v.id);
    else if (voted.has(v.id)) {
      voting.push(v.id);
      votingPower += v.power;
    } else if (peer !== undefined && peer.height < s.height) behind.push({ id: v.id, height: peer.height });
    else silent.push(v.id);
  }
  return {
    forS: Math.floor(forMs / 1000),
    height: s.height,
    round: s.round,
    down: gone.sort(),
    voting: voting.sort(),
    behind: behind.sort((a, b) => (a.id < b.id ? -1 : 1)),
    ahead: ahead.sort((a, b) => (a.id < b.id ? -1 : 1)),
    silent: silent.sort(),
    votingPower,
    quorumPower: Math.floor((2 * totalPower) / 3) + 1,
    totalPower,
  };
}

/** One line for people: the health reason, and `murmurctl status` under its table. */
export function describeStall(v: StallView): string {
  const at = `no block for ${v.forS} s at height ${v.height} (round ${v.round})`;
  // This device's own links down or flapping: said first, and what it heard of the others only as that
  // (a broker gone made every device call the others behind and tell the operator to start them).
  const own = v.ownLinks !== undefined && v.ownLinks.length > 0 ? `this device's own links are not steady (${v.ownLinks.join(', ')}): it may be the one cut off from the others, so look at its broker connection and radios first` : null;
  const ahead = v.ahead ?? [];
  if (ahead.length > 0) {
    // The others commit on: naming them as missing would send the operator to mend healthy devices.
    const top = Math.max(...ahead.map((a) => a.height));
    const behind = `this device is behind: ${ahead.map((a) => `${a.id} at height ${a.height}`).join(', ')}; it catches up by block sync (${top - v.height + 1} heights to go)`;
    return own !== null ? `${at}: ${own}; ${behind}` : `${at}: ${behind}: if that does not move, its links do not carry the others' blocks to it`;
  }
  const heard = v.voting.length > 0 ? `votes at this height from ${v.voting.join(', ')} (${v.votingPower} of ${v.totalPower} voting power; ${v.quorumPower} needed)` : `no votes at this height (${v.quorumPower} of ${v.totalPower} voting power needed)`;
  const parts = [heard];
  if (v.down.length > 0) parts.push(`down (no heartbeat): ${v.down.join(', ')}`);
  if (v.behind.length > 0) parts.push(`behind: ${v.behind.map((b) => `${b.id} at height ${b.height}`).join(', ')}`);
  if (v.silent.length > 0) parts.push(`no vote here from: ${v.silent.join(', ')}`);
  if (own !== null) return `${at}: ${own}; what it heard of the others: ${parts.join('; ')}`;
  const why =
    v.votingPower >= v.quorumPower
      ? 'enough validators vote here, yet nothing commits: they disagree or lose messages (their logs say more)'
      : `too few validators vote: ${[...v.down, ...v.behind.map((b) => b.id), ...v.silent].sort().join(', ')} must come back (start them, or mend their links)`;
  return `${at}: ${parts.join('; ')}; ${why}`;
}
