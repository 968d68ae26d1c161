// The simulated world's single time line: a binary heap of events ordered by (time, sequence number),
// so two events at the same virtual millisecond always run in the order they were scheduled.

interface Event {
  readonly at: number;
  readonly seq: number;
  readonly fire: () => void;
}

export class EventQueue {
  private readonly heap: Event[] = [];
  private seq = 0;
  now = 0;

  size(): number {
    return this.heap.length;
  }

  at(at: number, fire: () => void): void {
    const e = { at: Math.max(at, this.now), seq: this.seq++, fire };
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!less(e, h[p] as Event)) break;
      h[i] = h[p] as Event;
      i = p;
    }
    h[i] = e;
  }

  /** Runs events up to `until` (inclusive); returns false when the step budget ran out first. */
  runUntil(until: number, stepsMax: number, afterEach?: () => void): boolean {
    for (let n = 0; n < stepsMax; n++) {
      const top = this.heap[0];
      if (!top || top.at > until) {
        this.now = Math.max(this.now, until);
        return true;
      }
      this.pop();
      this.now = top.at;
      top.fire();
      afterEach?.();
    }
    return false;
  }

  private pop(): void {
    const h = this.heap;
    const last = h.pop() as Event;
    if (h.length === 0) return;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      let best = last;
      if (l < h.length && less(h[l] as Event, best)) {
        m = l;
        best = h[l] as Event;
      }
      if (r < h.length && less(h[r] as Event, best)) m = r;
      if (m === i) break;
      h[i] = h[m] as Event;
      i = m;
    }
    h[i] = last;
  }
}

function less(a: Event, b: Event): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}
