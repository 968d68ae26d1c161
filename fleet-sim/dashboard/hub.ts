// The live side of the dashboard: records the run and fans events out to connected pages. A page that
// joins late first gets the recording so far. Frames go out at most every dashboardLiveFrameMsMin of
// wall time (a skipped frame is superseded by the next, and the newest is flushed before any other
// event), so a run at 100x real time never floods a browser.

import { limits } from '../../runtime/lib/limits.js';
import type { RunEvent, RunObserver } from '../report/events.js';
import { RunRecorder, type Recording } from '../report/recorder.js';

export type Send = (event: RunEvent) => void;

interface Subscriber {
  readonly send: Send;
  lastFrameWallMs: number;
  pendingFrame: RunEvent | null;
}

export class EventHub implements RunObserver {
  private readonly recorder = new RunRecorder();
  private readonly subscribers = new Set<Subscriber>();
  private flushTimer: NodeJS.Timeout | null = null;

  constructor(private readonly wallNow: () => number = () => performance.now()) {}

  onEvent(event: RunEvent): void {
    this.recorder.onEvent(event);
    const now = this.wallNow();
    for (const s of this.subscribers) {
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

  /** A new page: the recording so far, then live events. Returns the unsubscribe function. */
  subscribe(send: Send): () => void {
    for (const e of this.recorder.recording().events) send(e);
    const sub: Subscriber = { send, lastFrameWallMs: this.wallNow(), pendingFrame: null };
    this.subscribers.add(sub);
    return () => {
      this.subscribers.delete(sub);
    };
  }

  get subscriberCount(): number {
    return this.subscribers.size;
  }

  recording(): Recording {
    return this.recorder.recording();
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
