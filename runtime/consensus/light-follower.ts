// Light followers. A follower never votes, so it needs no vote: only each committed block and the
// certificate that proves it (more than 2/3 of the power signed it). Every validator announces that
// pair once per height on a topic of its own; a follower takes it from a few validators (its
// sources, config.followerSources) and hears none of the proposals, prevotes, precommits and
// statuses of the rest. At 16 validators that is 2 messages a height instead of about 40, which is
// what makes a fleet of a thousand devices cheap to run (docs/benchmarks.md, bench:sim).
//
// The sources are this follower's first validators in rendezvous order (a hash of both ids), so a
// fleet's followers spread over the validators and a validator-set change moves few of them. Safety
// rests on the certificate alone, never on the source. Liveness without trusting them: a follower
// that commits nothing for lightStallGossips gossip intervals asks for blocks (block sync: one peer
// known to be ahead, or everyone), and when its sources gave it no block in that time while another
// peer did (the chain went on without them; a fleet-wide stall, such as a crashed proposer's round, is
// no reason to leave them) it moves on to the next validators in its order. With followerSources > f no fault of at most f validators can
// make it wait for that.
//
// Pure, like the rest of the core: the shell turns `follow` into link subscriptions and `announce`
// into one publish.

import { limits } from '../lib/limits.js';
import { encodeSyncRequestBody } from '../wire/consensus-aux.js';
import type { ConsensusState } from './consensus-state.js';
import type { CommittedBlock, Effect } from './types.js';

/** Gossip intervals with no commit before a light follower asks everyone for blocks. */
export const lightStallGossips = 2;
/** The longest wait between a stalled light follower's requests, in gossip intervals. */
export const lightStallGossipsMax = 16;

/** A light follower's state: where it takes blocks from, and whether they still come. */
export class LightFollowing {
  /** The plan last handed to the shell ('' = hear every vote), or undefined before the first. */
  plan: string | undefined = undefined;
  sources: readonly string[] = [];
  /** How many times the sources moved on to the next validators in this follower's order. */
  rotations = 0;
  /** When a block from a source was last applied, or the sources last changed. */
  heardAtMs = 0;
  /** When a block from a peer that is not a source was last applied (block sync). */
  othersAtMs = 0;
  /** Block requests sent (askForBlocks turns through the peers ahead with it). */
  asks = 0;
  /** Gossip intervals without a commit since the last request (or the last commit). */
  stuckGossips = 0;
  /** Intervals to wait before the next request while the stall lasts (doubles, from lightStallGossips). */
  waitGossips = lightStallGossips;
  /** When this follower last asked for the heights missing below a block that arrived ahead (askForGap). */
  gapAskAtMs = -Infinity;
  private ranked: { readonly key: unknown; readonly ids: readonly string[] } | null = null;

  /** The validators of `key`'s set in this follower's rendezvous order (computed once per set). */
  rankedFor(key: unknown, rank: () => readonly string[]): readonly string[] {
    if (this.ranked === null || this.ranked.key !== key) this.ranked = { key, ids: rank() };
    return this.ranked.ids;
  }
}

/** Whether this node takes announced blocks instead of votes at its current height. */
export function isLight(s: ConsensusState): boolean {
  return s.p.config.followerSources > 0 && !s.isValidator();
}

const encoder = new TextEncoder();

/** Validators ordered by a hash of (follower, validator): highest rendezvous weight first. */
function rendezvous(s: ConsensusState, ids: readonly string[]): string[] {
  const weight = (v: string): number => {
    const h = s.p.deps.hash(encoder.encode(`${s.p.id}/${v}`));
    return (((h[0] as number) << 24) | ((h[1] as number) << 16) | ((h[2] as number) << 8) | (h[3] as number)) >>> 0;
  };
  const scored = ids.map((id) => ({ id, w: weight(id) }));
  scored.sort((a, b) => b.w - a.w || (a.id < b.id ? -1 : 1));
  return scored.map((x) => x.id);
}

/** The sources for the current height and rotation: followerSources validators, wrapping around. */
function sourcesOf(s: ConsensusState): readonly string[] {
  const m = s.chain.manifestAt(s.height);
  const ranked = s.light.rankedFor(m, () => rendezvous(s, m.validators.map((v) => v.id)));
  const k = Math.min(s.p.config.followerSources, ranked.length);
  const out: string[] = [];
  for (let i = 0; i < k; i++) out.push(ranked[(s.light.rotations * k + i) % ranked.length] as string);
  return out;
}

/** Tells the shell where to listen whenever that changes: at start, after a commit or a snapshot that
 *  changed this node's role or the validator set, and after a rotation. New sources get a stall's time
 *  to deliver before they are judged. */
export function follow(s: ConsensusState, now: number, fx: Effect[]): void {
  const sources = isLight(s) ? sourcesOf(s) : null;
  const plan = sources === null ? '' : sources.join(',');
  if (plan === s.light.plan) return;
  s.light.plan = plan;
  s.light.sources = sources ?? [];
  s.light.heardAtMs = now;
  fx.push({ type: 'follow', sources });
}

/** A validator's announcement of a block it decided by votes, for the followers that take blocks from
 *  it (whatever this validator's own followerSources); none in a fleet without followers. */
export function announce(s: ConsensusState, c: CommittedBlock, fx: Effect[]): void {
  if (s.chain.manifestAt(c.block.height).body.followers.length === 0) return;
  fx.push({ type: 'announce', body: c.proof }); // a sync-response body is a block proof
}

/**
 * A block from a peer (announced or a sync answer) at `height`: that peer works on height + 1. Only a
 * light follower learns heights this way; everyone else hears statuses. `verified`: the block was just
 * applied under its certificate. An unverified one (out of order, kept for later) counts only a few
 * heights ahead, so a peer sending bogus far heights cannot make the follower think it is far behind
 * (a snapshot request every interval), and it never counts as a source delivering.
 */
export function noteBlockFrom(s: ConsensusState, from: string, height: number, verified: boolean, now: number): void {
  if (!isLight(s)) return;
  if (verified && s.light.sources.includes(from)) s.light.heardAtMs = now;
  else if (verified) s.light.othersAtMs = now;
  const works = verified ? height + 1 : Math.min(height + 1, s.chain.height + 2 + limits.syncAheadBlocksMax);
  const known = s.peers.get(from);
  if (known !== undefined && known.height >= works) return;
  if (s.peers.size < limits.validatorsMax * 2 || known !== undefined) s.peers.set(from, { height: works, round: 0 });
}

/**
 * A follower's request for the blocks from its height on. To one peer known to be ahead, a different
 * one each time (in id order), so one peer answers with up to limits.syncBlocksPerAnswerMax blocks
 * instead of every peer ahead (on a slow radio, seven validators' answers were 56 blocks of airtime for
 * one lagging device); one that does not answer is passed over at the next request. To everyone when
 * it knows of no peer ahead, and every third time: the heights it knows are claims, and peers that only
 * claim to be ahead must not be all it ever asks.
 */
export function askForBlocks(s: ConsensusState, fx: Effect[]): void {
  const ahead: string[] = [];
  for (const [id, p] of s.peers) if (p.height > s.height) ahead.push(id);
  ahead.sort();
  const n = s.light.asks++;
  const to = ahead.length === 0 || n % 3 === 2 ? null : (ahead[n % ahead.length] as string);
  fx.push({ type: 'send', to, kind: 'sync-request', body: encodeSyncRequestBody({ height: s.height }) });
}

/**
 * An announcement from `from` arrived ahead of this follower's chain (it missed the heights between: it
 * started or caught up while they were announced): it asks that peer, which has them, for the blocks
 * from its height on at once, instead of waiting out the stall rule's two gossip intervals. At most once
 * per gossip interval, as often as a peer answers one peer (serveSync), so bogus far heights cannot make
 * it flood; a gap wider than one answer takes one interval per answer. Announcements only: a block-sync
 * answer that arrives ahead lost an earlier block of the same answer, and its sender will not answer
 * again within the interval (on a radio, two thirds of such requests were refused: airtime for nothing).
 */
export function askForGap(s: ConsensusState, from: string, now: number, fx: Effect[]): void {
  if (!isLight(s) || now - s.light.gapAskAtMs < s.p.config.gossipMs) return;
  s.light.gapAskAtMs = now;
  fx.push({ type: 'send', to: from, kind: 'sync-request', body: encodeSyncRequestBody({ height: s.height }) });
}

/** A light follower's gossip tick: nothing while blocks come. Stuck while a peer is known to be ahead,
 *  it asks for blocks at once, as any follower does. Stuck with no news at all, it asks everyone after
 *  lightStallGossips intervals, then after twice as long each time (to lightStallGossipsMax) while the
 *  stall lasts, so a fleet-wide stall (a crashed proposer, a radio-only outage) does not fill the links
 *  with requests nobody can answer; and it takes new sources when its own said nothing meanwhile and
 *  another peer's blocks came since theirs (block sync answered what they did not send). */
export function lightGossip(s: ConsensusState, stuck: boolean, now: number, fx: Effect[]): void {
  const l = s.light;
  if (!stuck) {
    l.stuckGossips = 0;
    l.waitGossips = lightStallGossips;
    return;
  }
  if (now - l.heardAtMs > lightStallGossips * s.p.config.gossipMs && l.othersAtMs > l.heardAtMs) {
    l.rotations++;
    follow(s, now, fx);
  }
  const ahead = [...s.peers.values()].some((p) => p.height > s.height);
  if (!ahead && ++l.stuckGossips < l.waitGossips) return;
  if (!ahead) {
    l.stuckGossips = 0;
    l.waitGossips = Math.min(2 * l.waitGossips, lightStallGossipsMax);
  }
  askForBlocks(s, fx);
}
