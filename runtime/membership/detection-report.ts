// Turns membership status changes plus the crashes a simulator injected into the `detection` field
// of the fleet-sim report (DESIGN.md): crashes detected, median time to detect, false positives.
// A detection is the first observer that marks the crashed node suspect; a false positive is a live
// node marked dead (a suspicion of a live node is a hint and is counted apart as falseSuspicions).

import { compareIds } from '../lib/ids.js';
import type { StatusChange } from './membership-view.js';

export interface DetectionReport {
  readonly crashesDetected: number;
  readonly crashesMissed: number;
  readonly detectMsP50: number | null;
  readonly falsePositives: number;
  readonly falseSuspicions: number;
}

interface Crash {
  readonly node: string;
  readonly atMs: number;
  detectedMs: number | undefined;
  endMs: number | undefined;
}

export class DetectionRecorder {
  private readonly crashes: Crash[] = [];
  private falsePositives = 0;
  private falseSuspicions = 0;

  crashed(node: string, atMs: number): void {
    this.crashes.push({ node, atMs, detectedMs: undefined, endMs: undefined });
  }

  /** The node runs again (a restart): later suspicions of it are judged as of a live node. */
  restarted(node: string, atMs: number): void {
    for (const c of this.crashes) if (c.node === node && c.endMs === undefined) c.endMs = atMs;
  }

  /** One status change seen by `observer` (a crashed observer's view is ignored). */
  observe(observer: string, ch: StatusChange): void {
    if (this.isDown(observer, ch.atMs)) return;
    const crash = this.crashes.find((c) => c.node === ch.id && c.atMs <= ch.atMs && (c.endMs === undefined || ch.atMs < c.endMs));
    if (crash) {
      const ms = ch.atMs - crash.atMs;
      // Observers may be replayed in any order: the earliest detection counts.
      if ((ch.to === 'suspect' || ch.to === 'dead') && (crash.detectedMs === undefined || ms < crash.detectedMs)) crash.detectedMs = ms;
      return;
    }
    if (ch.to === 'dead') this.falsePositives++;
    else if (ch.to === 'suspect') this.falseSuspicions++;
  }

  report(): DetectionReport {
    const times = this.crashes
      .filter((c) => c.detectedMs !== undefined)
      .map((c) => c.detectedMs as number)
      .sort((a, b) => a - b);
    const mid = times.length >> 1;
    const p50 = times.length === 0 ? null : times.length % 2 === 1 ? (times[mid] as number) : ((times[mid - 1] as number) + (times[mid] as number)) / 2;
    return {
      crashesDetected: times.length,
      crashesMissed: this.crashes.length - times.length,
      detectMsP50: p50,
      falsePositives: this.falsePositives,
      falseSuspicions: this.falseSuspicions,
    };
  }

  /** Crashed nodes by id, for a report's `nodes.crashed`. */
  crashedNodes(): string[] {
    return [...new Set(this.crashes.map((c) => c.node))].sort(compareIds);
  }

  private isDown(node: string, atMs: number): boolean {
    return this.crashes.some((c) => c.node === node && c.atMs <= atMs && (c.endMs === undefined || atMs < c.endMs));
  }
}
