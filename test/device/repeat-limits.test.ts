// The bounds on what a flood can make a device say (runtime/device/repeat-limits.ts): the first of a
// key in full, then at most one count a window; acks a few a second per claimed sender and in all.

import { describe, expect, it } from 'vitest';
import { AckBudget, CountedOnce, RepeatLog, TokenBucket, WarnBudget, summarySpan } from '../../runtime/device/repeat-limits.js';

const t0 = 1_800_000_000_000;

describe('RepeatLog', () => {
  it('says the first of a key in full, then one summary a minute with the count, and the last of a flood that stopped', () => {
    const r = new RepeatLog<string>({ windowMs: 60_000, firstsMax: 16 });
    const says: string[] = [];
    for (let i = 0; i < 5_000; i++) says.push(r.note('rogue forged', '* forged', `#${i}`, t0 + i * 20).say); // 100 s of 50 a second
    expect(says[0]).toBe('first');
    expect(says.filter((s) => s === 'first')).toHaveLength(1);
    const summaries = says.filter((s) => s === 'summary');
    expect(summaries).toHaveLength(1); // at 60 s
    const at60 = r.note('rogue forged', '* forged', 'x', t0 + 100_000);
    expect(at60.say).toBe('quiet');
    // The flood stopped at 100 s: the timer's due() says the rest once its minute is over, not before.
    expect(r.due(t0 + 110_000)).toEqual([]);
    const end = r.due(t0 + 121_000);
    expect(end).toHaveLength(1);
    expect(end[0]).toMatchObject({ key: 'rogue forged', count: 5_000 - 3_000, last: 'x', keys: 1 });
    expect(summarySpan(end[0]!, t0 + 121_000)).toMatch(/^in the last 61 s, the last at 20\d\d-/);
    // Quiet for a whole window: forgotten, and the next one is said in full again.
    expect(r.due(t0 + 190_000)).toEqual([]);
    expect(r.size).toBe(0);
    expect(r.note('rogue forged', '* forged', 'y', t0 + 200_000).say).toBe('first');
  });

  it('counts the whole flood: firsts plus summaries add up to every occurrence', () => {
    const r = new RepeatLog<number>({ windowMs: 1_000, firstsMax: 4 });
    let said = 0;
    for (let i = 0; i < 1_000; i++) {
      const v = r.note(`k${i % 3}`, 'other', i, t0 + i * 7);
      if (v.say === 'first') said += 1;
      if (v.say === 'summary') said += v.count;
    }
    for (const s of r.due(t0 + 100_000)) said += s.count;
    expect(said).toBe(1_000);
  });

  it('folds keys past firstsMax in a window into the overflow key, so made-up names are not a line each', () => {
    const r = new RepeatLog<string>({ windowMs: 60_000, firstsMax: 3 });
    const firsts = Array.from({ length: 1_000 }, (_, i) => r.note(`stranger${i} unauthorized`, '(others) unauthorized', `stranger${i}`, t0 + i)).filter((v) => v.say === 'first');
    expect(firsts.map((v) => v.key)).toEqual(['stranger0 unauthorized', 'stranger1 unauthorized', 'stranger2 unauthorized']);
    expect(r.size).toBe(4);
    const due = r.due(t0 + 61_000);
    expect(due).toHaveLength(1);
    expect(due[0]).toMatchObject({ key: '(others) unauthorized', count: 997, keys: 997, last: 'stranger999' });
  });

  it('a count handed in at once (a counter that grew by n) is summarised whole', () => {
    const r = new RepeatLog<string>({ windowMs: 60_000, firstsMax: 16 });
    expect(r.note('mqtt wrong-fleet', 'mqtt wrong-fleet', '', t0, 200).say).toBe('first');
    r.note('mqtt wrong-fleet', 'mqtt wrong-fleet', '', t0 + 1_000, 200);
    expect(r.due(t0 + 60_000)[0]).toMatchObject({ count: 399 });
  });
});

describe('CountedOnce', () => {
  it('counts the same bytes once, remembers at most max of them, and forgets the oldest first', () => {
    const c = new CountedOnce(100);
    const msg = (i: number) => Buffer.from(`command ${i}`);
    expect(c.first(msg(0))).toBe(true);
    expect(c.first(Buffer.from('command 0'))).toBe(false); // another copy of the same bytes
    for (let i = 1; i < 1_000; i++) expect(c.first(msg(i))).toBe(true);
    expect(c.size).toBe(100);
    expect(c.first(msg(999))).toBe(false);
    expect(c.first(msg(900))).toBe(false);
    expect(c.first(msg(899))).toBe(true); // forgotten: counted again
  });
});

describe('TokenBucket and AckBudget', () => {
  it('a bucket gives its burst at once, then its rate', () => {
    const b = new TokenBucket(3, 2, t0);
    expect([b.take(t0), b.take(t0), b.take(t0), b.take(t0)]).toEqual([true, true, true, false]);
    expect(b.take(t0 + 499)).toBe(false);
    expect(b.take(t0 + 500)).toBe(true);
    expect(b.full(t0 + 10_000)).toBe(true);
  });

  it('caps one sender\'s acks and the device\'s, and still answers a new sender\'s first', () => {
    const a = new AckBudget({ perSender: { burst: 5, perSecond: 1 }, global: { burst: 20, perSecond: 5 }, sendersMax: 4 }, t0);
    // 5,000 from one claimed sender over 10 s: its burst and its rate, nothing like 5,000.
    let rogue = 0;
    for (let i = 0; i < 5_000; i++) if (a.take('rogue', t0 + i * 2)) rogue++;
    expect(rogue).toBeGreaterThanOrEqual(5);
    expect(rogue).toBeLessThanOrEqual(5 + 10);
    // An honest operator whose one command is refused is answered.
    expect(a.take('stranger', t0 + 10_000)).toBe(true);
    // Many made-up names: the device's own bucket caps them, and few buckets are kept.
    let many = 0;
    for (let i = 0; i < 1_000; i++) if (a.take(`s${i}`, t0 + 10_001)) many++;
    expect(many).toBeLessThanOrEqual(20);
    expect(a.size).toBeLessThanOrEqual(4);
  });
});

describe('a wall clock stepped back (NTP after a boot with the clock ahead)', () => {
  it('the ack budget refills from the new time on, where it waited for the old one to come round', () => {
    const a = new AckBudget({ perSender: { burst: 5, perSecond: 1 }, global: { burst: 20, perSecond: 5 }, sendersMax: 4 }, t0);
    for (let i = 0; i < 100; i++) a.take('rogue', t0);
    expect(a.take('rogue', t0)).toBe(false);
    const back = t0 - 5 * 365 * 86_400_000; // five years back
    expect(a.take('rogue', back)).toBe(false); // no tokens for the step itself
    expect(a.take('rogue', back + 2_000)).toBe(true); // two seconds later: refilled
  });

  it('the log windows end and quiet keys are forgotten on the new clock', () => {
    const r = new RepeatLog<string>({ windowMs: 60_000, firstsMax: 1 });
    expect(r.note('a', '*', 'x', t0).say).toBe('first');
    expect(r.note('a', '*', 'x', t0 + 1).say).toBe('quiet');
    const back = t0 - 3_600_000;
    // Its window began "in the future": over now, so the count is said, not held for an hour.
    expect(r.note('a', '*', 'x', back).say).toBe('summary');
    expect(r.due(back + 61_000)).toEqual([]);
    expect(r.size).toBe(0);
    // The firsts window started anew too: a new key is said in full.
    expect(r.note('b', '*', 'y', back + 62_000).say).toBe('first');
  });
});

describe('WarnBudget: the consensus shell\'s warnings under a peer\'s flood', () => {
  it('logs a burst, then one a second, and says how many it left out once their minute is over', () => {
    const t0 = 1_800_000_000_000;
    const said: string[] = [];
    const unsaid: [number, number][] = [];
    const w = new WarnBudget((l) => said.push(l), (count, since, now) => unsaid.push([count, now - since]), t0);
    // 13 junk proposals a second for 10 s: 130 warnings, before 130 lines.
    for (let i = 0; i < 130; i++) w.warn(`proposal ${i} from a non-proposer`, t0 + Math.floor((i * 1000) / 13));
    expect(said.length).toBeGreaterThanOrEqual(20);
    expect(said.length).toBeLessThanOrEqual(20 + 10);
    expect(said.slice(0, 20)).toEqual(Array.from({ length: 20 }, (_, i) => `proposal ${i} from a non-proposer`));
    w.report(t0 + 30_000);
    expect(unsaid).toEqual([]); // not before the minute is over
    w.report(t0 + 62_000);
    expect(unsaid).toHaveLength(1);
    expect(unsaid[0]![0]).toBe(130 - said.length);
    // Said once: nothing more to say until more are left out.
    w.report(t0 + 130_000);
    expect(unsaid).toHaveLength(1);
  });
});
