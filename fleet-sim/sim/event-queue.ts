// The simulated world's single time line: a binary heap of events ordered by (time, sequence number),
// so two events at the same virtual millisecond always run in the order they were scheduled.

import { MinHeap } from '../../runtime/lib/min-heap.js';

interface Event {
  readonly at: number;
  readonly seq: number;
  readonly fire: () => void;
}

export class EventQueue {
  private readonly heap = new MinHeap<Event>(less);
  private seq = 0;
  now = 0;
  /** Events run so far (a split run's step budget counts them across windows). */
  steps = 0;

  size(): number {
    return this.heap.size();
  }

  /** When the next event is due; Infinity when none is. */
  nextAt(): number {
    return this.heap.peek()?.at ?? Infinity;
  }

  at(at: number, fire: () => void): void {
    this.heap.push({ at: Math.max(at, this.now), seq: this.seq++, fire });
  }

  /** Runs events up to `until` (inclusive); returns false when the step budget ran out first. */
  runUntil(until: number, stepsMax: number, afterEach?: () => void): boolean {
    for (let n = 0; n < stepsMax; n++) {
      const top = this.heap.peek();
      if (!top || top.at > until) {
        this.now = Math.max(this.now, until);
        return true;
      }
      this.heap.pop();
      this.steps++;
      this.now = top.at;
      top.fire();
      afterEach?.();
    }
    return false;
  }
}

function less(a: Event, b: Event): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}
