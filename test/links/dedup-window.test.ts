// DedupWindow: the router's duplicate filter forgets a key once its window has passed, so
// byte-identical re-broadcasts reach consensus, and it stays bounded.

import { describe, expect, it } from 'vitest';
import { DedupWindow } from '../../runtime/links/dedup-cache.js';

describe('DedupWindow', () => {
  it('drops copies inside the window of the first sighting, passes the next one after it', () => {
    const d = new DedupWindow(10, 150);
    expect(d.add('v', 0)).toBe(true);
    expect(d.add('v', 149)).toBe(false);
    expect(d.add('v', 150)).toBe(true); // a new window starts here
    expect(d.add('v', 200)).toBe(false);
    expect(d.add('v', 300)).toBe(true);
  });

  it('forgets the oldest key past its capacity', () => {
    const d = new DedupWindow(3, 1_000);
    for (const k of ['a', 'b', 'c', 'd']) expect(d.add(k, 0)).toBe(true);
    expect(d.size).toBe(3);
    expect(d.add('a', 1)).toBe(true); // forgotten: looks new
    expect(d.add('d', 1)).toBe(false);
  });
});
