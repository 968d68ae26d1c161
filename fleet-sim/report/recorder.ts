// Records a run's event stream for the HTML report and for replay in the dashboard. Every event except
// frames is kept (up to a bound); frames are thinned to a period chosen from the run's length and size
// so a 1000-device hour stays a file a browser opens.

import { limits } from '../../runtime/lib/limits.js';
import type { RunEvent, RunObserver } from './events.js';

export interface Recording {
  readonly version: 1;
  readonly events: readonly RunEvent[];
  /** Events left out because the recording was full (overflow policy: keep the earliest, drop later ones,
   *  except the final frame and 'end', which are always kept). */
  readonly dropped: number;
  readonly framePeriodMs: number;
}

export interface RecorderOptions {
  /** Node samples (frames x nodes) the recording may hold. */
  readonly frameSamplesMax?: number;
  readonly eventsMax?: number;
}

type FrameEvent = Extract<RunEvent, { t: 'frame' }>;

/** The recording as it was at one moment, without a copy of its events: a reader takes them one by one
 *  (recordingJson) while the run goes on. Events are only ever appended, and a new run starts a new
 *  list, so the first `count` of the list it holds stay as they were. */
export interface RecordingSnapshot {
  readonly version: 1;
  readonly count: number;
  eventAt(index: number): RunEvent | undefined;
  readonly dropped: number;
  readonly framePeriodMs: number;
}

/** A recording's JSON, the same bytes as JSON.stringify(recording()) at the snapshot's moment, in pieces
 *  of about chunkChars characters: one piece is stringified at a time, never the whole recording (an
 *  hour of 1,000 drones is 50 MB). */
export function* recordingJson(r: RecordingSnapshot, chunkChars: number): Generator<string, void, undefined> {
  // The envelope with an empty list, in Recording's key order; the events go between its brackets.
  const shell = JSON.stringify({ version: r.version, events: [], dropped: r.dropped, framePeriodMs: r.framePeriodMs } satisfies Recording);
  const cut = shell.indexOf('"events":[]') + '"events":['.length;
  let piece = shell.slice(0, cut);
  for (let i = 0; i < r.count; i++) {
    piece += (i === 0 ? '' : ',') + JSON.stringify(r.eventAt(i));
    if (piece.length >= chunkChars) {
      yield piece;
      piece = '';
    }
  }
  yield piece + shell.slice(cut);
}

export class RunRecorder implements RunObserver {
  private events: RunEvent[] = [];
  private dropped = 0;
  /** Where the dropped events belong in the list (its length when the first was dropped), or null. */
  private droppedFrom: number | null = null;
  private framePeriodMs = 250;
  private lastFrameAt = -Infinity;
  private lastFrame: FrameEvent | null = null;
  private lastFrameKept = true;
  private endReport: unknown = null;
  /** Bumped by every 'run' event, which starts a new recording: a reader of the old one starts over. */
  private generationCount = 0;
  private readonly frameSamplesMax: number;
  private readonly eventsMax: number;

  constructor(options: RecorderOptions = {}) {
    this.frameSamplesMax = options.frameSamplesMax ?? limits.recordingFrameSamplesMax;
    this.eventsMax = options.eventsMax ?? limits.recordingEventsMax;
  }

  onEvent(event: RunEvent): void {
    switch (event.t) {
      case 'run': {
        this.events = [];
        this.generationCount++;
        this.dropped = 0;
        this.droppedFrom = null;
        this.lastFrameAt = -Infinity;
        this.lastFrame = null;
        this.lastFrameKept = true;
        this.endReport = null;
        const samples = Math.max(1, event.nodes.length) * Math.max(1, event.durationMs);
        // Period in whole 50 ms steps, never finer than 200 ms (5 frames a second reads as motion).
        this.framePeriodMs = Math.max(200, Math.ceil(samples / this.frameSamplesMax / 50) * 50);
        this.events.push(event);
        return;
      }
      case 'frame':
        this.lastFrame = event;
        if (event.at - this.lastFrameAt >= this.framePeriodMs) {
          this.lastFrameAt = event.at;
          this.lastFrameKept = this.push(event);
        } else {
          this.lastFrameKept = false;
        }
        return;
      case 'end':
        // The final state must be in the recording, whatever was thinned or dropped before.
        if (this.lastFrame !== null && !this.lastFrameKept) this.events.push(this.lastFrame);
        this.lastFrameKept = true;
        this.endReport = event.report;
        this.events.push(event);
        return;
      default:
        this.push(event);
    }
  }

  private push(event: RunEvent): boolean {
    if (this.events.length >= this.eventsMax) {
      this.droppedFrom ??= this.events.length;
      this.dropped++;
      return false;
    }
    this.events.push(event);
    return true;
  }

  /** Which recording is being kept (see generationCount). */
  get generation(): number {
    return this.generationCount;
  }

  /** Events dropped so far, and the index in the kept list they would have followed (null: none yet).
   *  Only the final frame and 'end' are kept past that index, once the run is over. */
  get droppedCount(): number {
    return this.dropped;
  }

  get droppedAt(): number | null {
    return this.droppedFrom;
  }

  /** The index-th event kept so far, without copying the recording (a late page reads it in turns). */
  eventAt(index: number): RunEvent | undefined {
    return this.events[index];
  }

  recording(): Recording {
    return { version: 1, events: this.events.slice(), dropped: this.dropped, framePeriodMs: this.framePeriodMs };
  }

  /** The recording now, for reading in turns (recordingJson): the event list is shared, not copied. */
  snapshot(): RecordingSnapshot {
    const events = this.events;
    const count = events.length;
    return { version: 1, count, eventAt: (i) => (i < count ? events[i] : undefined), dropped: this.dropped, framePeriodMs: this.framePeriodMs };
  }

  /** The report carried by the 'end' event, or null while the run goes on. */
  report(): unknown {
    return this.endReport;
  }
}
