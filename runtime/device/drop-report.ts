// What a device says about the messages it drops before consensus: counted by reason
// (murmur_envelopes_dropped_total, murmur_link_bad_frames) and logged at warn at a bounded rate (the
// first per claimed sender or topic and reason in full, then a count at most once a minute:
// repeat-limits.ts). Before, forged, stranger's, other fleets' and malformed messages went to debug
// only, and the links' per-reason counts of bad frames reached neither /metrics nor any log.

import type { Logger as PinoLogger } from 'pino';
import type { DropCode, EdgeDrop } from '../node/edge.js';
import type { WireError } from '../wire/envelope.js';
import type { DroppedJson } from './control-topics.js';
import type { DeviceMetrics } from './observability.js';
import { RepeatLog, summarySpan, type RepeatSummary } from './repeat-limits.js';

/** A link's bad frames by reason (LinkCountersDetail.badFrameReasons; none for a link that does not
 *  count them by reason). */
export function badFramesOf(counters: object): Readonly<Record<string, number>> {
  return 'badFrameReasons' in counters ? (counters.badFrameReasons as Record<string, number>) : {};
}

/** The reasons murmur_envelopes_dropped_total counts. */
export type EnvelopeDropReason = 'malformed' | 'wrong-fleet' | 'unknown-sender' | 'bad-signature' | 'invalid' | 'own-key-not-sent' | 'not-proposer';

/**
 * The counted reason of an edge drop, or null for drops a healthy fleet makes all the time (a block
 * already committed here, a prevote a follower does not count): those stay at debug, uncounted.
 * This node's own echo (a proposal or vote its signer state holds, byte for byte) is no drop: it goes on
 * to the core. An `own-key` drop is one signed with this node's key that its signer state does not hold
 * (NodeShell.ownKeyMessage): another process with this key, or its data directory replaced. Before, it
 * was taken for the echo and kept at debug, uncounted.
 */
export function dropReason(code: DropCode): EnvelopeDropReason | null {
  switch (code) {
    case 'committed':
    case 'not-needed':
    case 'superseded':
      return null;
    case 'own-key':
      return 'own-key-not-sent';
    case 'wrong-fleet':
    case 'unknown-sender':
    case 'bad-signature':
    case 'invalid':
    case 'not-proposer':
      return code;
    case 'malformed':
    case 'too-large':
    case 'bad-version':
    case 'unknown-kind':
    case 'bad-field':
      return 'malformed';
  }
}

/** Where a dropped message came from, as far as this device can tell (nothing in it is verified). */
export interface DropSource {
  /** The link it came on (mqtt, a radio's name). */
  readonly link: string;
  /** The link-level sender (the node its MQTT topic names; a radio's header), if any. */
  readonly from: string | undefined;
  /** The sender its envelope claims, when it decodes. */
  readonly sender?: string | undefined;
  /** Its kind, when it decodes. */
  readonly kind?: string | undefined;
}

interface EnvelopeDetail {
  readonly who: string;
  readonly reason: EnvelopeDropReason;
  readonly message: string;
}

interface FrameDetail {
  readonly link: string;
  readonly reason: string;
}

export class DropReport {
  private readonly envelopes = new RepeatLog<EnvelopeDetail>();
  private readonly frames = new RepeatLog<FrameDetail>();
  /** Bad frames per link and reason as last read from the links' counters. */
  private readonly framesSeen = new Map<string, number>();
  /** The router's duplicates per link as last read (LinkState.duplicates). */
  private readonly duplicatesSeen = new Map<string, number>();
  private readonly counts: Partial<Record<EnvelopeDropReason, number>> = {};

  constructor(
    private readonly log: PinoLogger,
    private readonly metrics: DeviceMetrics,
  ) {}

  /** A message the edge (or the envelope decoder) dropped. */
  envelope(drop: EdgeDrop | WireError, src: DropSource, now: number = Date.now()): void {
    const reason = dropReason(drop.code);
    if (reason === null) {
      this.log.debug({ event: 'dropped', kind: src.kind, from: src.sender, reason: drop.message }, 'dropped a message');
      return;
    }
    this.metrics.envelopesDropped.inc({ reason });
    this.counts[reason] = (this.counts[reason] ?? 0) + 1;
    const who = src.sender !== undefined ? `"${src.sender}"` : src.from !== undefined ? `${src.link} topic of "${src.from}"` : `${src.link} commands topic`;
    const detail = { who, reason, message: drop.message };
    const v = this.envelopes.note(`${who} ${reason}`, `(others) ${reason}`, detail, now);
    if (v.say === 'first') {
      this.log.warn({ event: 'envelope-dropped', reason, link: src.link, from: src.from, sender: src.sender, kind: src.kind, detail: drop.message }, `dropped a ${src.kind ?? 'message'} from ${who} on ${src.link} (${reason}): ${drop.message}`);
    } else if (v.say === 'summary') this.logEnvelopes(v, now);
  }

  /** Reads the links' bad-frame counts by reason (LinkCountersDetail.badFrameReasons): their gauges,
   *  and a warning when one grows (bounded as envelope drops are); and the copies the router dropped per
   *  link (murmur_envelopes_duplicate_total: not logged, a fleet with a broker and a radio hears each
   *  envelope twice). Call every second or so. */
  linkFrames(links: readonly { readonly name: string; readonly counters: object; readonly duplicates?: number }[], now: number = Date.now()): void {
    for (const { name, counters, duplicates } of links) {
      if (duplicates !== undefined) {
        const grew = duplicates - (this.duplicatesSeen.get(name) ?? 0);
        if (grew > 0 || !this.duplicatesSeen.has(name)) this.metrics.envelopesDuplicate.inc({ link: name }, Math.max(0, grew));
        this.duplicatesSeen.set(name, duplicates);
      }
      for (const [reason, total] of Object.entries(badFramesOf(counters))) {
        this.metrics.linkBadFrames.set({ link: name, reason }, total);
        const k = `${name} ${reason}`;
        const grew = total - (this.framesSeen.get(k) ?? 0);
        this.framesSeen.set(k, total);
        // An oversized PUBLISH the MQTT link says itself, with its topic (mqtt-link.ts, at most every
        // 10 s): counted here, not said a second time.
        if (grew <= 0 || reason === 'oversized') continue;
        const v = this.frames.note(k, k, { link: name, reason }, now, grew);
        // A retained frame is one someone published retained on a fleet topic long ago, handed over
        // again at every (re)connection: said, but not as a warning each time.
        if (v.say === 'first') this.log[reason === 'retained' ? 'info' : 'warn']({ event: 'frames-dropped', link: name, reason, count: grew }, `link ${name} dropped ${grew === 1 ? 'a frame' : `${grew} frames`} (${reason})${frameHint(reason)}`);
        else if (v.say === 'summary') this.logFrames(v, now);
      }
    }
  }

  /** Logs the counts whose minute is over (call every second or so). */
  report(now: number = Date.now()): void {
    for (const s of this.envelopes.due(now)) this.logEnvelopes(s, now);
    for (const s of this.frames.due(now)) this.logFrames(s, now);
  }

  /** Envelopes dropped since start, by reason (for /health). */
  envelopeCounts(): Readonly<Partial<Record<EnvelopeDropReason, number>>> {
    return { ...this.counts };
  }

  private logEnvelopes(s: RepeatSummary<EnvelopeDetail>, now: number): void {
    const { who, reason, message } = s.last;
    const from = s.keys > 1 ? `${s.keys} other senders` : who;
    this.log.warn({ event: 'envelopes-dropped', reason, from: s.keys > 1 ? '(others)' : who, count: s.count, sinceMs: s.sinceMs, lastAtMs: s.lastAtMs, detail: message }, `${s.count} more messages from ${from} dropped (${reason}) ${summarySpan(s, now)}: ${message}`);
  }

  private logFrames(s: RepeatSummary<FrameDetail>, now: number): void {
    const { link, reason } = s.last;
    this.log[reason === 'retained' ? 'info' : 'warn']({ event: 'frames-dropped', link, reason, count: s.count, sinceMs: s.sinceMs, lastAtMs: s.lastAtMs }, `link ${link} dropped ${s.count} more frames (${reason}) ${summarySpan(s, now)}`);
  }
}

/** The status document's `dropped` (StatusJson): /health's `dropped` in totals, links summed. */
export function droppedTotals(envelopes: Readonly<Record<string, number>>, links: readonly { readonly counters: object; readonly duplicates?: number }[]): DroppedJson {
  const frames: Record<string, number> = {};
  let duplicates = 0;
  for (const { counters, duplicates: d } of links) {
    for (const [reason, n] of Object.entries(badFramesOf(counters))) if (n > 0) frames[reason] = (frames[reason] ?? 0) + n;
    duplicates += d ?? 0;
  }
  return { envelopes: Object.fromEntries(Object.entries(envelopes).filter(([, n]) => n > 0)), frames, duplicates };
}

function frameHint(reason: string): string {
  switch (reason) {
    case 'wrong-fleet':
      return ': a frame tagged for another fleet on this fleet\'s topics (another fleet on the same broker prefix, or a stranger)';
    case 'retained':
      return ': someone published a link frame retained on a fleet topic; clear it with an empty retained message';
    case 'own-topic-not-sent':
      return ': a frame on this device\'s own topic that it did not publish (another client publishing as this device, or a copy of it); the broker\'s ACL should let only this device publish there (docs/topics.md, "Access rules")';
    default:
      return '';
  }
}
