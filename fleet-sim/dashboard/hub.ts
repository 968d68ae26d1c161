// The live side of the dashboard: records the run and fans events out to connected pages. A page that
// joins late first gets the recording so far, which its reader takes in turns (join(): the server sends
// it in bounded chunks between which the run goes on), then live events. Frames go out at most every dashboardLiveFrameMsMin of
// wall time (a skipped frame is superseded by the next, and the newest is flushed before any other
// event), so a run at 100x real time never floods a browser. A page that joins after the recorder
// filled up (it keeps the earliest events) is told how many it will not see, where they belong.

import { limits } from '../../runtime/lib/limits.js';
import type { RunEvent, RunObserver } from '../report/events.js';
import { RunRecorder, type Recording, type RecorderOptions, type RecordingSnapshot } from '../report/recorder.js';

export type Send = (event: RunEvent) => void;

/** Where the recording's kept events stop: `count` events of the run that a page which joined late
 *  will never get (the recorder dropped them, and they happened before the page went live). */
export interface DroppedNotice {
  readonly t: 'dropped';
  readonly count: number;
}

interface Subscriber {
  readonly send: Send;
  lastFrameWallMs: number;
  pendingFrame: RunEvent | null;
  /** Still reading the recording (join()): live events reach it through the recording, not send. */
  catchingUp: boolean;
  /** The next recorded event it reads, of the recording of this generation. */
  cursor: number;
  generation: number;
  /** The DroppedNotice of this generation went out. */
  toldDropped: boolean;
}

/** A page that joined: the recording so far, one event per next(), then live events through its send. */
export interface Joined {
  /** The next event of the recording, or undefined once it has them all: from then on every event goes
   *  to send as it happens. Events that happen meanwhile are read here, in order, as they are recorded.
   *  Where the recorder dropped events, a DroppedNotice counting them. */
  next(): RunEvent | DroppedNotice | undefined;
  unsubscribe(): void;
}

export class EventHub implements RunObserver {
  private readonly recorder: RunRecorder;
  private readonly subscribers = new Set<Subscriber>();
  private flushTimer: NodeJS.Timeout | null = null;

  /** recorderOptions: smaller bounds than limits.ts's, for tests that fill the recording. */
  constructor(
    private readonly wallNow: () => number = () => performance.now(),
    recorderOptions: RecorderOptions = {},
  ) {
    this.recorder = new RunRecorder(recorderOptions);
  }

  onEvent(event: RunEvent): void {
    this.recorder.onEvent(event);
    const now = this.wallNow();
    for (const s of this.subscribers) {
      if (s.catchingUp) continue;
      if (event.t === 'frame') {
        if (now - s.lastFrameWallMs >= limits.dashboardLiveFrameMsMin) {
          s.lastFrameWallMs = now;
          s.pendingFrame = null;
          s.send(event);
        } else {
          s.pendingFrame = event;
          this.armFlush();
        }
        continue;
      }
      this.flush(s, now);
      s.send(event);
    }
  }

  /** A new page that reads the recording so far at its own pace (next()), then gets live events. A page
   *  joining an hour into a big run has tens of MB to take: sent in one go, it stalled the event loop
   *  the run and the devices share for seconds. */
  join(send: Send): Joined {
    const sub: Subscriber = { send, lastFrameWallMs: this.wallNow(), pendingFrame: null, catchingUp: true, cursor: 0, generation: this.recorder.generation, toldDropped: false };
    this.subscribers.add(sub);
    const goLive = (): void => {
      sub.catchingUp = false;
      sub.lastFrameWallMs = this.wallNow();
    };
    return {
      next: () => {
        if (!sub.catchingUp) return undefined;
        // A new run started while the page read the old one: it reads the new one from its start.
        if (sub.generation !== this.recorder.generation) {
          sub.generation = this.recorder.generation;
          sub.cursor = 0;
          sub.toldDropped = false;
        }
        if (sub.cursor === this.recorder.droppedAt && !sub.toldDropped) {
          sub.toldDropped = true;
          // The run goes on and nothing is kept past this point: the page goes live in this same call,
          // so the count covers every event between the kept ones and its first live one, those the
          // recorder dropped while the page read the recording included (they reach no page that is
          // still reading). Once the run is over only its final frame and end follow, and no more drops.
          if (this.recorder.eventAt(sub.cursor) === undefined) goLive();
          return { t: 'dropped', count: this.recorder.droppedCount };
        }
        const e = this.recorder.eventAt(sub.cursor);
        if (e !== undefined) {
          sub.cursor++;
          return e;
        }
        goLive();
        return undefined;
      },
      unsubscribe: () => {
        this.subscribers.delete(sub);
      },
    };
  }

  get subscriberCount(): number {
    return this.subscribers.size;
  }

  recording(): Recording {
    return this.recorder.recording();
  }

  /** The recording now, without copying it: /recording.json streams it from this. */
  recordingSnapshot(): RecordingSnapshot {
    return this.recorder.snapshot();
  }

  report(): unknown {
    return this.recorder.report();
  }

  close(): void {
    if (this.flushTimer !== null) clearTimeout(this.flushTimer);
    this.flushTimer = null;
    this.subscribers.clear();
  }

  private flush(s: Subscriber, now: number): void {
    if (s.pendingFrame === null) return;
    const f = s.pendingFrame;
    s.pendingFrame = null;
    s.lastFrameWallMs = now;
    s.send(f);
  }

  /** A paused or slow run still shows its newest frame. */
  private armFlush(): void {
    if (this.flushTimer !== null) return;
    this.flushTimer = setTimeout(() => {
      this.flushTimer = null;
      const now = this.wallNow();
      for (const s of this.subscribers) this.flush(s, now);
    }, limits.dashboardLiveFrameMsMin);
    this.flushTimer.unref();
  }
}
