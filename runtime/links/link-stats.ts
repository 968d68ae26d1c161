// Counters shared by every link implementation: one place that knows how to count a drop.

import { trafficClasses, type LinkCountersDetail, type TrafficClass } from './link.js';

export class LinkStats {
  private readonly c: LinkCountersDetail = {
    framesSent: 0,
    bytesSent: 0,
    framesReceived: 0,
    bytesReceived: 0,
    droppedQueueFull: 0,
    droppedBadFrame: 0,
    droppedQueueFullByClass: { consensus: 0, heartbeat: 0, telemetry: 0 },
    droppedQueueBytesByClass: { consensus: 0, heartbeat: 0, telemetry: 0 },
    badFrameReasons: {},
    refusedOversize: 0,
    droppedDuplicate: 0,
    droppedStale: 0,
    relayed: 0,
    relaysSuppressed: 0,
    relaysRefused: 0,
    coalesced: 0,
  };

  sent(bytes: number): void {
    this.c.framesSent++;
    this.c.bytesSent += bytes;
  }

  /** The link went down after being up. */
  disconnected(): void {
    this.c.disconnects = (this.c.disconnects ?? 0) + 1;
  }

  received(bytes: number): void {
    this.c.framesReceived++;
    this.c.bytesReceived += bytes;
  }

  /** An item dropped or refused because its queue was full; `bound` 'bytes' when its byte bound was. */
  queueFull(cls: TrafficClass, n = 1, bound: 'count' | 'bytes' = 'count'): void {
    this.c.droppedQueueFull += n;
    this.c.droppedQueueFullByClass[cls] += n;
    if (bound === 'bytes') this.c.droppedQueueBytesByClass[cls] += n;
  }

  badFrame(reason: string): void {
    this.c.droppedBadFrame++;
    this.c.badFrameReasons[reason] = (this.c.badFrameReasons[reason] ?? 0) + 1;
  }

  /** Packets that waited too long in the queue and were dropped unsent. */
  stale(_cls: TrafficClass, n = 1): void {
    this.c.droppedStale += n;
  }

  oversize(): void {
    this.c.refusedOversize++;
  }

  duplicate(): void {
    this.c.droppedDuplicate++;
  }

  relayed(): void {
    this.c.relayed++;
  }

  /** A frame not relayed: its origin is no member of the fleet, or its relays took their share. */
  relayRefused(): void {
    this.c.relaysRefused++;
  }

  relaySuppressed(): void {
    this.c.relaysSuppressed++;
  }

  coalesced(): void {
    this.c.coalesced++;
  }

  snapshot(): LinkCountersDetail {
    const byClass = { ...this.c.droppedQueueFullByClass };
    for (const cls of trafficClasses) byClass[cls] ??= 0;
    return { ...this.c, droppedQueueFullByClass: byClass, droppedQueueBytesByClass: { ...this.c.droppedQueueBytesByClass }, badFrameReasons: { ...this.c.badFrameReasons } };
  }
}
