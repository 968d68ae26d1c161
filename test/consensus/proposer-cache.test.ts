// The proposer schedule is remembered per validators array (runtime/consensus/proposer.ts), and only
// while the array holds the same ids and powers: an array changed in place, or another array with the
// same members, gets the schedule its members give, never one remembered for other members.

import { describe, expect, it } from 'vitest';
import { proposerSchedule } from '../../runtime/consensus/proposer.js';

describe('proposer schedule memo', () => {
  it('answers for the members the array holds now', () => {
    const vs = [
      { id: 'a', power: 1 },
      { id: 'b', power: 2 },
    ];
    const first = proposerSchedule(vs);
    expect(first).toEqual(['b', 'a', 'b']);
    expect(proposerSchedule(vs)).toBe(first);
    // Changed in place (a power, then an id, then a member more): each time the new members' schedule.
    vs[0] = { id: 'a', power: 2 };
    expect(proposerSchedule(vs)).toEqual(['a', 'b', 'a', 'b']);
    vs[1] = { id: 'c', power: 2 };
    expect(proposerSchedule(vs)).toEqual(['a', 'c', 'a', 'c']);
    vs.push({ id: 'd', power: 4 });
    expect(proposerSchedule(vs).filter((x) => x === 'd').length).toBe(4);
    // Another array with the first members: their schedule again.
    expect(proposerSchedule([{ id: 'a', power: 1 }, { id: 'b', power: 2 }])).toEqual(first);
  });
});
