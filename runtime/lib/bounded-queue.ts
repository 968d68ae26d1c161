// A FIFO with a hard capacity and an explicit overflow policy; every queue in Murmur is one of these.

import { assert } from './assert.js';

export type OverflowPolicy = 'drop-newest' | 'drop-oldest' | 'reject';

export class BoundedQueue<T> {
  private items: (T | undefined)[];
  private head = 0;
  private count = 0;
  /** How many items were dropped or rejected because the queue was full. */
  dropped = 0;

  constructor(
    readonly capacity: number,
    readonly policy: OverflowPolicy = 'reject',
  ) {
    assert(Number.isInteger(capacity) && capacity > 0, `queue capacity must be a positive integer, got ${capacity}`);
    this.items = new Array<T | undefined>(capacity);
  }

  get length(): number {
    return this.count;
  }

  isFull(): boolean {
    return this.count === this.capacity;
  }

  /** Returns false when the item was not enqueued (policy 'reject' or 'drop-newest' on a full queue). */
  push(item: T): boolean {
    if (this.count === this.capacity) {
      this.dropped++;
      if (this.policy !== 'drop-oldest') return false;
      this.shift();
    }
    this.items[(this.head + this.count) % this.capacity] = item;
    this.count++;
    return true;
  }

  shift(): T | undefined {
    if (this.count === 0) return undefined;
    const item = this.items[this.head];
    this.items[this.head] = undefined;
    this.head = (this.head + 1) % this.capacity;
    this.count--;
    return item;
  }

  peek(): T | undefined {
    return this.count === 0 ? undefined : this.items[this.head];
  }

  clear(): void {
    this.items = new Array<T | undefined>(this.capacity);
    this.head = 0;
    this.count = 0;
  }

  *[Symbol.iterator](): IterableIterator<T> {
    for (let i = 0; i < this.count; i++) yield this.items[(this.head + i) % this.capacity] as T;
  }
}
