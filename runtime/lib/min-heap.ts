// A binary min-heap ordered by a caller's `less`: the simulator's time line and the chain's nonce
// expiries both pop their smallest entry in O(log n). Unbounded here: callers bound what they push.

export class MinHeap<T> {
  private readonly items: T[] = [];

  constructor(private readonly less: (a: T, b: T) => boolean) {}

  size(): number {
    return this.items.length;
  }

  peek(): T | undefined {
    return this.items[0];
  }

  push(x: T): void {
    const h = this.items;
    let i = h.length;
    h.push(x);
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = h[p] as T;
      if (!this.less(x, parent)) break;
      h[i] = parent;
      i = p;
    }
    h[i] = x;
  }

  pop(): T | undefined {
    const h = this.items;
    const top = h[0];
    const last = h.pop();
    if (top === undefined || last === undefined || h.length === 0) return top;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      let best: T = last;
      if (l < h.length && this.less(h[l] as T, best)) {
        m = l;
        best = h[l] as T;
      }
      if (r < h.length && this.less(h[r] as T, best)) m = r;
      if (m === i) break;
      h[i] = h[m] as T;
      i = m;
    }
    h[i] = last;
    return top;
  }

  clear(): void {
    this.items.length = 0;
  }
}
