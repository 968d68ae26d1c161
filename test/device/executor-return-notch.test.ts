// A return to launch from one arm of a U-shaped (concave) committed geofence, home in its base: the
// straight line home crosses the notch between the arms, outside the fence. The executor flies round
// the notch's inner corner inside the fence (fence-cut.ts wayInside) and hands the last, clear leg to
// the flight controller's own return. A tall post stands in the notch on that straight line: the
// simulated vehicle counts any entry into it. Before, the return flew straight across the notch (no
// keep-outs, so no way round was worked out), and on a real fleet the fence reflex then held the drone
// at the notch's edge for good.

import { describe, it } from 'vitest';
import { testRig, until } from './executor-rig.js';

// [north, east] in metres: the base n -10..40, the arms e -10..30 and 70..110 up to n 110; the notch
// between the arms is outside the fence.
const fenceM = [[-10, -10], [-10, 110], [110, 110], [110, 70], [40, 70], [40, 30], [110, 30], [110, -10]];
const fence = fenceM.map(([n, e]) => ({ n: n! * 10, e: e! * 10 }));
// In the notch, on the straight line from the right arm's [100, 90] to the pad.
const post = { northM: 60, eastM: 50, radiusM: 12, heightM: 100 };

// A committed keep-out far from the way home (in the left arm): the way round the keep-outs inside the
// fence finds nothing across the notch, and the notch's way is flown all the same. Before, any keep-out
// at all sent the return straight across the notch.
const farKeepOut = [{ n: 900, e: 100, r: 30 }];

describe.concurrent('executor: a return to launch across a concave geofence\'s notch', () => {
  for (const zones of [[], farKeepOut]) {
  it(`goes round the notch inside the fence and lands on its pad${zones.length > 0 ? ', a keep-out elsewhere committed' : ''}`, async ({ expect, onTestFinished }) => {
    const { vehicle, ex, reports, logs } = await testRig(onTestFinished, [post]);
    ex.keepFence(fence, 1_200, zones);
    // Out along the base, up the right arm.
    ex.run('m1', { type: 'waypoints', mission: 'm1', waypoints: [{ n: 0, e: 900 }, { n: 1_000, e: 900 }], altDm: 200, speedDmps: 80, then: 'hold' });
    expect(await until(() => reports.some((x) => x.command === 'm1' && (x.stage === 'done' || x.stage === 'failed')), 25_000)).toBe(true);
    expect(reports.filter((x) => x.command === 'm1').map((x) => x.stage)).toContain('done');
    ex.run('r1', { type: 'rtl' });
    const home = await until(() => vehicle.state().upM < 0.3 && !vehicle.state().armed, 30_000);
    const st = vehicle.state();
    expect(home, `landed and disarmed; at [${st.northM.toFixed(1)}, ${st.eastM.toFixed(1)}] mode ${st.mode}; logs ${JSON.stringify(logs)}`).toBe(true);
    expect(vehicle.strikes()).toEqual([]);
    expect(Math.hypot(st.northM, st.eastM)).toBeLessThan(3);
    expect(logs.some((l) => l.startsWith("return to launch round the geofence's notch"))).toBe(true);
    expect(reports.filter((x) => x.command === 'r1').map((x) => x.stage)).toEqual(['started', 'done']);
  }, 60_000);
  }
});
