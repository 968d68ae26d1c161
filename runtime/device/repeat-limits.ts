// Bounds on what anyone who can publish on the fleet's topics can make a device do per message: log lines
// (RepeatLog: the first of a kind in full, then a count at most once a window), signed replies
// (AckBudget: token buckets per claimed sender and for the device), counts (CountedOnce: one per
// refused message, however many copies come), and the consensus shell's warnings (WarnBudget). Nothing
// here decides what is accepted: it only decides what is said about a refusal, how often, and how it is
// counted.

import { limits } from '../lib/limits.js';
import { bytesDigest, DedupCache } from '../links/dedup-cache.js';

/**
 * Which refused messages were counted already, by a digest of their bytes: a command comes as its link
 * copy and its control-plane copy (and again with an operator's resends), the same bytes each time, and
 * is one refusal. Before, the count went with the explanation, which is given again after 2 s and
 * remembers 1,024 keys: under a fast flood the second copy came later or after more, and was counted
 * again. Bounded: past `max` digests the oldest is forgotten (a copy that follows more refusals than
 * that is counted again).
 */
export class CountedOnce {
  private readonly seen: DedupCache;

  constructor(max: number = limits.refusalsCountedMax) {
    this.seen = new DedupCache(max);
  }

  /** True the first time these bytes come (now remembered), false for a copy of them. */
  first(bytes: Uint8Array): boolean {
    return this.seen.add(bytesDigest(bytes));
  }

  /** Digests remembered (at most max). */
  get size(): number {
    return this.seen.size;
  }
}

/** A token bucket: `burst` tokens, refilled at `perSecond`. */
export class TokenBucket {
  private tokens: number;
  private at: number;

  constructor(
    readonly burst: number,
    readonly perSecond: number,
    now: number,
  ) {
    this.tokens = burst;
    this.at = now;
  }

  private refill(now: number): void {
    // The callers' clock is the wall clock (Date.now()): stepped back (NTP after a boot with the clock
    // ahead), the bucket starts counting again from the new time, where it waited for the old one.
    if (now > this.at) this.tokens = Math.min(this.burst, this.tokens + ((now - this.at) / 1000) * this.perSecond);
    this.at = now;
  }

  /** Whether a token is there now (none taken). */
  has(now: number): boolean {
    this.refill(now);
    return this.tokens >= 1;
  }

  /** Takes a token; false (none taken) when there is none. */
  take(now: number): boolean {
    if (!this.has(now)) return false;
    this.tokens -= 1;
    return true;
  }

  /** Full again: not worth remembering. */
  full(now: number): boolean {
    this.refill(now);
    return this.tokens >= this.burst;
  }
}

export interface AckBudgetOptions {
  /** Each claimed sender's bucket. */
  readonly perSender: { readonly burst: number; readonly perSecond: number };
  /** The device's, over every sender (a flood under many made-up names). */
  readonly global: { readonly burst: number; readonly perSecond: number };
  /** Senders' buckets remembered at most; a full one is forgotten first, else the oldest. */
  readonly sendersMax: number;
}

/** Refusal acks of commands nobody in the fleet signed (a stranger's, a forged one): a few a second. */
export const refusalAckBudget: AckBudgetOptions = { perSender: { burst: 5, perSecond: 1 }, global: { burst: 20, perSecond: 5 }, sendersMax: 256 };

/** How many signed replies a device sends for refusals, per claimed sender and in all. */
export class AckBudget {
  private readonly senders = new Map<string, TokenBucket>();
  private readonly global: TokenBucket;

  constructor(
    private readonly o: AckBudgetOptions,
    now: number,
  ) {
    this.global = new TokenBucket(o.global.burst, o.global.perSecond, now);
  }

  /** Takes a token from `sender`'s bucket and the device's; false (none taken) when either is empty. */
  take(sender: string, now: number): boolean {
    let b = this.senders.get(sender);
    if (b === undefined) {
      if (this.senders.size >= this.o.sendersMax) this.forgetOne(now);
      b = new TokenBucket(this.o.perSender.burst, this.o.perSender.perSecond, now);
      this.senders.set(sender, b);
    }
    if (!b.has(now) || !this.global.has(now)) return false;
    b.take(now);
    this.global.take(now);
    return true;
  }

  /** Senders remembered (bounded by sendersMax). */
  get size(): number {
    return this.senders.size;
  }

  private forgetOne(now: number): void {
    for (const [k, b] of this.senders) {
      if (b.full(now)) {
        this.senders.delete(k);
        return;
      }
    }
    this.senders.delete(this.senders.keys().next().value as string);
  }
}

/** What a RepeatLog says about one occurrence, or a window's worth of them. */
export type RepeatVerdict<D> =
  /** The first of its key (or the first after a quiet window): log it in full. */
  | { readonly say: 'first'; readonly key: string }
  /** Counted, nothing to log now. */
  | { readonly say: 'quiet'; readonly key: string }
  /** Log a count: `count` more since `sinceMs` (the last at `lastAtMs`, with `last`'s detail). */
  | RepeatSummary<D>;

export interface RepeatSummary<D> {
  readonly say: 'summary';
  readonly key: string;
  readonly count: number;
  readonly sinceMs: number;
  readonly lastAtMs: number;
  readonly last: D;
  /** Distinct keys folded into this one (an overflow key: keys past firstsMax in one window). */
  readonly keys: number;
}

export interface RepeatLogOptions {
  /** A key's summaries come at most this often; a key not seen for this long is forgotten (its next
   *  occurrence is logged in full again). */
  readonly windowMs: number;
  /** Keys logged in full per window at most; the rest are counted under their overflow key (so a flood
   *  under made-up names is not one full line each). */
  readonly firstsMax: number;
}

export const repeatLogDefaults: RepeatLogOptions = { windowMs: 60_000, firstsMax: 16 };

interface Entry<D> {
  windowStart: number;
  count: number;
  lastAt: number;
  last: D;
  readonly folded: Set<string> | null;
}

/**
 * Rate-limited reporting of repeated events by key: the first occurrence of a key is reported in full,
 * the following ones counted and summarised at most once per window (by note() when one comes after the
 * window, or by due() from a timer, so the count of a flood that stopped is not lost). Bounded: at most
 * firstsMax new keys per window, the rest folded into an overflow key given by the caller.
 */
export class RepeatLog<D> {
  private readonly entries = new Map<string, Entry<D>>();
  private firsts = 0;
  private firstsSince = -Infinity;

  constructor(private readonly o: RepeatLogOptions = repeatLogDefaults) {}

  /** Whether a window that began at `start` is over at `now`; one that began after `now` is too (the wall
   *  clock stepped back: waiting for it to come round again could take hours). */
  private over(start: number, now: number): boolean {
    return now < start || now - start >= this.o.windowMs;
  }

  /** One occurrence of `key` (`n`: that many at once, e.g. a counter's growth since it was last read). */
  note(key: string, overflowKey: string, detail: D, now: number, n = 1): RepeatVerdict<D> {
    let e = this.entries.get(key);
    if (e === undefined) {
      if (this.over(this.firstsSince, now)) {
        this.firstsSince = now;
        this.firsts = 0;
      }
      if (this.firsts < this.o.firstsMax) {
        this.firsts++;
        this.entries.set(key, { windowStart: now, count: n - 1, lastAt: now, last: detail, folded: null });
        return { say: 'first', key };
      }
      const folded = key;
      key = overflowKey;
      e = this.entries.get(key);
      if (e === undefined) {
        e = { windowStart: now, count: 0, lastAt: now, last: detail, folded: new Set() };
        this.entries.set(key, e);
      }
      if (e.folded !== null && e.folded.size < 10_000) e.folded.add(folded);
    }
    e.count += n;
    e.lastAt = now;
    e.last = detail;
    if (this.over(e.windowStart, now)) return this.summarise(key, e, now);
    return { say: 'quiet', key };
  }

  /** Summaries whose window is over (call every few seconds); keys quiet for a whole window are forgotten. */
  due(now: number): RepeatSummary<D>[] {
    const out: RepeatSummary<D>[] = [];
    for (const [k, e] of this.entries) {
      if (!this.over(e.windowStart, now)) continue;
      if (e.count > 0) out.push(this.summarise(k, e, now));
      else this.entries.delete(k);
    }
    return out;
  }

  /** Keys remembered. */
  get size(): number {
    return this.entries.size;
  }

  private summarise(key: string, e: Entry<D>, now: number): RepeatSummary<D> {
    const s: RepeatSummary<D> = { say: 'summary', key, count: e.count, sinceMs: e.windowStart, lastAtMs: e.lastAt, last: e.last, keys: e.folded?.size ?? 1 };
    e.windowStart = now;
    e.count = 0;
    e.folded?.clear();
    return s;
  }
}

/** "in the last 60 s, the last at 12:00:01.234Z": a summary's span, for its log line. */
export function summarySpan(s: RepeatSummary<unknown>, now: number): string {
  return `in the last ${Math.round((now - s.sinceMs) / 1000)} s, the last at ${new Date(s.lastAtMs).toISOString()}`;
}

/**
 * Warnings the consensus shell logs for what peers send (a proposal from a validator not its round's
 * proposer, a refused sync block, an equivocation): one member sending such messages by the thousand
 * had each device log as many lines (13 junk proposals a second were 13 warnings a second). A burst is
 * logged in full, then one a second; the rest are counted and said in one line when their minute is
 * over (report).
 */
export class WarnBudget {
  private readonly bucket: TokenBucket;
  private unsaid = 0;
  private unsaidSince = 0;

  constructor(
    private readonly say: (line: string) => void,
    private readonly sayUnsaid: (count: number, sinceMs: number, now: number) => void,
    now: number,
    burst = 20,
    perSecond = 1,
  ) {
    this.bucket = new TokenBucket(burst, perSecond, now);
  }

  warn(line: string, now: number): void {
    if (!this.bucket.take(now)) {
      if (this.unsaid === 0) this.unsaidSince = now;
      this.unsaid++;
      return;
    }
    this.say(line);
  }

  /** Says the count of lines not logged once their minute is over (call every second or so). */
  report(now: number): void {
    // A count begun after `now` (the wall clock stepped back) is said too, as RepeatLog's windows are.
    if (this.unsaid === 0 || (now >= this.unsaidSince && now - this.unsaidSince < 60_000)) return;
    this.sayUnsaid(this.unsaid, this.unsaidSince, now);
    this.unsaid = 0;
  }
}
