// PX4's position-loss failsafe as a state machine (sim-fc/px4-failsafe.ts), step by step: which nav
// state it flies for which positions (failsafe.cpp checkModeFallback, framework.cpp getSelectedAction:
// RTL, then Land, then Descend), when PX4 tells the user (notifyUser: a new or a worse action), and
// that the position back (WhenConditionClears) or a user's switch ends it. And what it does not do in
// the user's Land: act on a lost data link (failsafe.cpp dll_loss_ignored_land), or climb back into a
// failsafe's Return (framework.cpp getSelectedAction, "If already landing, do not go into RTL").

import { describe, expect, it } from 'vitest';
import { Px4PositionFailsafe, px4KeepsLanding, px4LinkLossIgnored, px4ModeCanRun, px4SelectedAction, type Px4Position } from '../../firmware-bridge/sim-fc/px4-failsafe.js';

const all: Px4Position = { global: true, local: true };
const flow: Px4Position = { global: false, local: true }; // optical flow: a local position only
const none: Px4Position = { global: false, local: false };

describe("PX4's mode requirements, a multicopter's (mode_requirements.cpp)", () => {
  it('Mission, Hold and Return need both positions; Takeoff, Land and Offboard a local one; Manual and Descend none', () => {
    const modes = ['mission', 'hold', 'return', 'takeoff', 'land', 'guided', 'manual', 'descend'] as const;
    expect(modes.filter((m) => px4ModeCanRun(m, all))).toEqual([...modes]);
    expect(modes.filter((m) => px4ModeCanRun(m, flow))).toEqual(['takeoff', 'land', 'guided', 'manual', 'descend']);
    expect(modes.filter((m) => px4ModeCanRun(m, none))).toEqual(['manual', 'descend']);
  });
});

describe("PX4's failsafe action selected (getSelectedAction's fall-through), as for the fence's or a lost link's", () => {
  it('Hold and Return fly with both positions, Land with a local one, Descend without; Land falls to Descend only', () => {
    const asked = ['hold', 'return', 'land', 'descend'] as const;
    expect(asked.map((a) => px4SelectedAction(a, all))).toEqual(['hold', 'return', 'land', 'descend']);
    expect(asked.map((a) => px4SelectedAction(a, flow))).toEqual(['land', 'land', 'land', 'descend']);
    expect(asked.map((a) => px4SelectedAction(a, none))).toEqual(['descend', 'descend', 'descend', 'descend']);
  });
});

describe("PX4's failsafe for a mode that cannot run", () => {
  it('Hold: Land with a local position left, Descend without (told: worse), Land again (not told), the position back: Hold', () => {
    const f = new Px4PositionFailsafe();
    expect(f.step(true, 'hold', all)).toEqual({ type: 'none' });
    expect(f.step(true, 'hold', flow)).toEqual({ type: 'enter', action: 'land', notify: true });
    expect(f.intended()).toBe('hold');
    // The vehicle now shows the failsafe's mode; the user's is kept.
    expect(f.step(true, 'land', flow)).toEqual({ type: 'none' });
    expect(f.step(true, 'land', none)).toEqual({ type: 'enter', action: 'descend', notify: true });
    expect(f.step(true, 'land', flow)).toEqual({ type: 'enter', action: 'land', notify: false });
    expect(f.step(true, 'land', all)).toEqual({ type: 'exit', mode: 'hold' });
    expect(f.action()).toBeNull();
    expect(f.step(true, 'hold', all)).toEqual({ type: 'none' });
  });

  it("the user's Land without a local position: Descend; Manual needs none and takes over", () => {
    const f = new Px4PositionFailsafe();
    expect(f.step(true, 'land', none)).toEqual({ type: 'enter', action: 'descend', notify: true });
    f.userSwitched(); // a pilot's Manual (an accepted command)
    expect(f.step(true, 'manual', none)).toEqual({ type: 'none' });
    expect(f.action()).toBeNull();
  });

  it('disarmed, no failsafe acts, and one in flight is dropped', () => {
    const f = new Px4PositionFailsafe();
    expect(f.step(false, 'mission', none)).toEqual({ type: 'none' });
    expect(f.step(true, 'mission', none)).toEqual({ type: 'enter', action: 'descend', notify: true });
    expect(f.step(false, 'land', none)).toEqual({ type: 'none' });
    expect(f.action()).toBeNull();
    expect(f.intended()).toBeNull();
  });
});

describe("PX4 in the user's Land", () => {
  const modes = ['mission', 'hold', 'return', 'takeoff', 'land', 'guided', 'manual'] as const;

  it('ignores a lost data link in Land only, and in any mode disarmed (NAV_DLL_ACT not applied)', () => {
    expect(modes.filter((m) => px4LinkLossIgnored(true, m))).toEqual(['land']);
    expect(modes.filter((m) => px4LinkLossIgnored(false, m))).toEqual([...modes]);
  });

  it("a failsafe's Return only warns while Land can run; Land or Descend selected for want of a position are flown", () => {
    // Both positions: Return can run, and would climb out of the landing; a warning instead.
    expect(px4KeepsLanding('land', px4SelectedAction('return', all), all)).toBe(true);
    // Without a global position the fall-through already picks Land (a local one) or Descend: no climb.
    expect(px4SelectedAction('return', flow)).toBe('land');
    expect(px4KeepsLanding('land', px4SelectedAction('return', flow), flow)).toBe(false);
    expect(px4KeepsLanding('land', px4SelectedAction('return', none), none)).toBe(false);
    // Hold and Land asked are no Return: flown as selected (Hold stops the descent, as PX4 does).
    expect(px4KeepsLanding('land', px4SelectedAction('hold', all), all)).toBe(false);
    expect(px4KeepsLanding('land', px4SelectedAction('land', all), all)).toBe(false);
    // Any other user's mode: the Return is flown.
    expect(modes.filter((m) => px4KeepsLanding(m, 'return', all))).toEqual(['land']);
  });
});
