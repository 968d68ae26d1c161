// OwnModes: whose the flight controller's mode is, from the modes the executor's last action leaves the
// vehicle in (FlightControl.modesAfter) and the states read since the vehicle accepted it.

import { describe, expect, it } from 'vitest';
import { OwnModes, statesToShow } from '../../runtime/device/own-modes.js';

/** An OwnModes whose last action (modes `modes`) was accepted at state time 100. */
function accepted(modes: Parameters<OwnModes['sending']>[0]): OwnModes {
  const o = new OwnModes();
  o.outcome(o.sending(modes), true, 100);
  return o;
}

describe('OwnModes', () => {
  it("fresh (a device restarted with its vehicle in the air): a return, a landing, a manual mode, the FC's mission or an unnamed mode are someone else's; a hold or guided is not judged", () => {
    const o = new OwnModes();
    for (const m of ['return', 'land', 'manual', 'mission', 'unknown'] as const) expect(o.verdict(m, 1), m).toBe('other');
    for (const m of ['hold', 'guided', 'takeoff'] as const) expect(o.verdict(m, 2), m).toBe('undecided');
  });

  it("adopt (restarted under the swarm's hold): the hold's modes are its own at once and any other someone else's at once; a mode outside them is not adopted", () => {
    const o = new OwnModes();
    expect(o.adopt(['hold'], 'guided')).toBe(false);
    expect(o.verdict('guided', 1)).toBe('undecided'); // nothing changed: still fresh
    expect(o.adopt(['hold'], 'hold')).toBe(true);
    expect(o.verdict('hold', 2)).toBe('own');
    expect(o.verdict('guided', 2)).toBe('other'); // no states to wait for: the hold was already showing
    o.forget();
    expect(o.verdict('guided', 3)).toBe('undecided');
  });

  it('judges nothing before an action that sets a mode once a flying began or an action was sent, and after forget()', () => {
    const o = new OwnModes();
    o.outcome(o.sending(null), true, 2); // an arm
    for (let t = 3; t < 10; t++) expect(o.verdict('manual', t)).toBe('undecided');
    const f = new OwnModes();
    f.forget(); // a task's flying begins: it takes the vehicle from the FC's return
    expect(f.verdict('return', 1)).toBe('undecided');
    const g = accepted(['guided']);
    expect(g.verdict('guided', 101)).toBe('own');
    g.forget();
    expect(g.verdict('manual', 102)).toBe('undecided');
  });

  it("a mode of the action's is its own; once one showed, any other is someone else's at once", () => {
    const o = accepted(['guided']);
    expect(o.verdict('guided', 101)).toBe('own');
    expect(o.verdict('hold', 102)).toBe('other'); // a pilot's LOITER on ArduCopter
    expect(o.verdict('unknown', 103)).toBe('other'); // a mode Murmur does not name
    expect(o.verdict('guided', 104)).toBe('own');
  });

  it("the mode from before the action is not judged until it had time to change: the action's seen, or statesToShow states after the acceptance", () => {
    const o = new OwnModes();
    const t = o.sending(['guided']);
    // Sent, not answered yet (an ACK lost and resent): the old mode shows for as long as it takes.
    for (let ms = 1; ms <= 50; ms++) expect(o.verdict('hold', ms)).toBe('undecided');
    o.outcome(t, true, 50);
    expect(o.verdict('hold', 50)).toBe('undecided'); // the same state again
    for (let n = 1; n < statesToShow; n++) expect(o.verdict('hold', 50 + n)).toBe('undecided');
    // The FC never showed the goto's GUIDED: a pilot switched it just as the goto went.
    expect(o.verdict('hold', 50 + statesToShow)).toBe('other');
  });

  it('a refused action puts back what was expected before it; a same-modes action changes nothing', () => {
    const o = accepted(['guided']);
    expect(o.verdict('guided', 101)).toBe('own');
    const hold = o.sending(['hold']);
    expect(o.verdict('guided', 102)).toBe('undecided'); // the hold's mode may not show yet
    o.outcome(hold, false, 102); // refused: the vehicle stays in the goto's GUIDED
    expect(o.verdict('guided', 103)).toBe('own');
    expect(o.verdict('hold', 104)).toBe('other');
    const again = o.sending(['guided']); // a goto after a goto: nothing to wait for
    expect(o.verdict('land', 105)).toBe('other');
    o.outcome(again, false, 105);
    expect(o.verdict('guided', 106)).toBe('own');
  });

  it("an answer to an action a newer one followed is not the newer one's", () => {
    const o = accepted(['guided']);
    expect(o.verdict('guided', 101)).toBe('own');
    const goto = o.sending(['hold']); // PX4's reposition
    const rtl = o.sending(['return', 'land']); // a reflex's return before the goto's ACK
    o.outcome(goto, false, 102); // the goto superseded: not a refusal of the return
    expect(o.verdict('guided', 103)).toBe('undecided');
    o.outcome(rtl, true, 103);
    expect(o.verdict('return', 104)).toBe('own');
    expect(o.verdict('land', 105)).toBe('own');
    expect(o.verdict('manual', 106)).toBe('other');
  });
});
