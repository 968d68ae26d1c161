// The clock a device's consensus runs on (runtime/device/steady-clock.ts): Unix time that follows the
// wall clock forward and never goes back, so a correction of the wall clock (NTP or GNSS on a board
// without a real-time clock) does not stop the rules consensus measures as intervals.

import { describe, expect, it } from 'vitest';
import { SteadyClock } from '../../runtime/device/steady-clock.js';
import { runScenario } from '../../fleet-sim/sim/run.js';
import type { World } from '../../fleet-sim/sim/world.js';
import { step } from '../../runtime/consensus/core.js';
import { scenario } from '../sim/helpers.js';

/** A wall clock and a monotonic clock the test moves: `pass` moves both, `setWall` steps the wall only. */
function clocks(): { wall: () => number; mono: () => number; pass: (ms: number) => void; stepWall: (ms: number) => void } {
  let wall = Date.UTC(2026, 11, 4, 12);
  let mono = 5_000;
  return { wall: () => wall, mono: () => mono, pass: (ms) => ((wall += ms), (mono += ms)), stepWall: (ms) => (wall += ms) };
}

describe('steady clock', () => {
  it('follows the wall clock forward, counts on through a step back, and says so once per step', () => {
    const c = clocks();
    const steps: [number, number][] = [];
    const clock = new SteadyClock(c.wall, c.mono, (stepMs, aheadMs) => steps.push([stepMs, aheadMs]));
    const t0 = clock.now();
    expect(t0).toBe(c.wall());
    const sub = clocks();
    const fine = new SteadyClock(sub.wall, sub.mono);
    sub.stepWall(-1); // the wall clock read a millisecond back; the monotonic clock moves on 0.6 ms
    sub.pass(0.6);
    expect(fine.now()).toBe(sub.wall() + 0.4); // whole milliseconds, as Date.now() gives them
    c.pass(1_000);
    expect(clock.now()).toBe(t0 + 1_000);
    c.stepWall(-60_000); // NTP pulls the wall clock back a minute
    expect(clock.now()).toBe(t0 + 1_000);
    c.pass(500);
    expect(clock.now()).toBe(t0 + 1_500); // on from before, not 58.5 s back
    expect(steps).toEqual([[60_000, 60_000]]);
    c.stepWall(-200); // a small one more: no line, still counted
    c.pass(100);
    expect(clock.now()).toBe(t0 + 1_600);
    expect(steps).toHaveLength(1);
    c.stepWall(3_600_000); // forward: taken at once
    expect(clock.now()).toBe(c.wall());
    const later = clock.now();
    c.pass(10);
    expect(clock.now()).toBe(later + 10);
  });

  it("keeps a validator answering block sync after the wall clock steps back (on the wall clock it answered nothing for the step's length)", async () => {
    // A validator with blocks answers a peer behind at most once per gossip interval. Its own clock
    // read 12:00:01 when it answered; NTP then set it back a minute. On the wall clock, "less than a
    // gossip interval since the last answer" held for that minute, and the peer got no block.
    let world: World | null = null;
    await runScenario(scenario({ name: 'clock', seed: 4, validators: 4, durationMs: 3_000 }), 4, { onWorld: (w) => (world = w) });
    const core = (world as unknown as World).nodes[0]?.shell?.core;
    if (!core) throw new Error('no core');
    expect(core.chain.height).toBeGreaterThan(3);
    const c = clocks();
    const clock = new SteadyClock(c.wall, c.mono);
    const answers = (now: number): number => step(core, { type: 'status', now, from: 'v-behind', height: 1, round: 0 }).effects.filter((e) => e.type === 'send' && e.kind === 'sync-response').length;
    const base = core.committedAtMs + 10_000; // well after its last commit, on the sim's time line
    const at = (): number => base + (clock.now() - Date.UTC(2026, 11, 4, 12));
    expect(answers(at())).toBeGreaterThan(0);
    c.pass(1_000);
    c.stepWall(-60_000);
    const gossipMs = core.p.config.gossipMs;
    c.pass(gossipMs);
    expect(answers(at()), 'steady clock').toBeGreaterThan(0);
    // The same on the wall clock: nothing for the step's length.
    c.pass(gossipMs);
    expect(answers(base + (c.wall() - Date.UTC(2026, 11, 4, 12))), 'wall clock').toBe(0);
  });
});
