// The operator's outbox: which signed commands go out again, when, and when they stop.

import { describe, expect, it } from 'vitest';
import { Outbox } from '../../runtime/cli/outbox.js';

const frame = (n: number): Uint8Array => Uint8Array.of(n);

describe('Outbox', () => {
  it('publishes again 3 s after, then after 6 s and 10 s waits, until settled', () => {
    const o = new Outbox();
    o.add('ops/a', frame(1), 60_000, 0);
    expect(o.due(2_999)).toEqual([]);
    const at = (t: number): string[] => o.due(t).map((e) => e.ref);
    expect(at(3_000)).toEqual(['ops/a']);
    expect(at(8_999)).toEqual([]);
    expect(at(9_000)).toEqual(['ops/a']);
    expect(at(18_999)).toEqual([]);
    expect(at(19_000)).toEqual(['ops/a']);
    expect(at(29_000)).toEqual(['ops/a']); // capped at 10 s
    o.settle('ops/a');
    expect(at(60_000)).toEqual([]);
    expect(o.size).toBe(0);
  });

  it('drops a command at its expiry (no device would take it) and keeps the same bytes until then', () => {
    const o = new Outbox();
    o.add('ops/a', frame(7), 5_000, 0);
    o.add('ops/b', frame(8), 50_000, 0);
    const first = o.due(3_000);
    expect(first.map((e) => [e.ref, [...e.frame]])).toEqual([['ops/a', [7]], ['ops/b', [8]]]);
    expect(o.due(9_000).map((e) => e.ref)).toEqual(['ops/b']);
    expect(o.size).toBe(1);
  });

  it('bounds what it keeps and what one call returns', () => {
    const o = new Outbox({ firstMs: 1, maxMs: 10, entriesMax: 3 });
    for (let i = 0; i < 5; i++) o.add(`ops/${i}`, frame(i), 1_000, 0);
    expect(o.size).toBe(3);
    expect(o.due(1, 2).map((e) => e.ref)).toEqual(['ops/2', 'ops/3']); // the oldest two were given up
    expect(o.due(1, 2).map((e) => e.ref)).toEqual(['ops/4']);
  });

  it('back on the broker, what waits goes out again within 3 s, then backs off from the start', () => {
    const o = new Outbox();
    o.add('ops/a', frame(1), 120_000, 0);
    const at = (t: number): string[] => o.due(t).map((e) => e.ref);
    expect(at(3_000)).toEqual(['ops/a']);
    expect(at(9_000)).toEqual(['ops/a']); // next due at 19 s
    o.reconnected(10_000);
    expect(at(12_999)).toEqual([]);
    expect(at(13_000)).toEqual(['ops/a']); // not 19 s
    expect(at(18_999)).toEqual([]);
    expect(at(19_000)).toEqual(['ops/a']); // 6 s later: the backoff started again
    o.add('ops/b', frame(2), 120_000, 20_000); // due at 23 s already: a reconnect does not delay it
    o.reconnected(21_000);
    expect(at(23_000)).toEqual(['ops/b']);
  });
});

