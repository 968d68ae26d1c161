// fleet-sim's flight layer flies a leg that its world's geofence cuts (legCut) from where it comes in to
// where it goes out, as the device's executor does: a re-plan of the mission that keeps that leg (a
// hazard committed on a later one) does not send the drone back to where the leg came in, and a leg
// out through a concave fence's notch is flown round it inside the fence, or, with no way, no further.

import { describe, expect, it } from 'vitest';
import { FlightLayer } from '../../fleet-sim/flight/flight-layer.js';
import { Prng } from '../../runtime/lib/prng.js';
import type { MissionTx } from '../../runtime/mission/types.js';

const members = { epoch: 1, devices: ['d1'], operators: [{ id: 'ops', roles: ['operator' as const] }] };
const cmd = (id: string, type: string, args: Record<string, unknown>): MissionTx => ({ kind: 'command', id, operator: 'ops', type, args, issuedAt: 0, expiresAt: 1e12 });

describe('flight layer: legs cut at the world geofence', () => {
  it('a re-plan in the middle of one: flies on to where the leg goes out, not back to where it came in', () => {
    // The drones' own fence: east from -60 to 100 m. The leg from -200 to 200 m east is flown from
    // -50 to 90 m east.
    const layer = new FlightLayer(['d1'], new Prng(3), 0, { pads: { spacingM: 6, columns: 1, origin: [0, -2] }, geofence: [[-60, -60], [-60, 100], [60, 100], [60, -60]] });
    layer.applyCommitted({ height: 1, timeMs: 1_000, members, txs: [cmd('g', 'mission.goto', { waypoints: [[0, -200], [0, 200], [150, 200]], node: 'd1' })] });
    const d = layer.drones[0]!;
    let t = 1_000;
    const fly = (ms: number, until: () => boolean = () => false): void => {
      for (const end = t + ms; t < end && !until(); t += 100) layer.step(t);
    };
    fly(120_000, () => d.route?.next === 1 && d.sim.state().eastM > 10);
    const at = d.sim.state();
    expect(at.eastM, layer.notes.join(' | ')).toBeGreaterThan(10);
    expect(at.eastM).toBeLessThan(40);
    // A hazard on the later leg (north along 200 m east, outside the fence): the route is re-planned
    // round it; the leg the drone is on stays.
    const effects = layer.applyCommitted({ height: 2, timeMs: t, members, txs: [], hazards: { cellDm: 50, cells: [[15, 40]] } });
    expect(effects.some((e) => e.type === 'replan'), JSON.stringify(effects)).toBe(true);
    let westMost = Infinity;
    fly(60_000, () => {
      westMost = Math.min(westMost, d.sim.state().eastM);
      return d.route === null || d.route.next > 1;
    });
    const st = d.sim.state();
    // Before: back west to -50 m, where the leg came in, then east again.
    expect(westMost, `west-most ${westMost}, at ${st.northM}, ${st.eastM}; ${layer.notes.join(' | ')}`).toBeGreaterThan(at.eastM - 5);
    expect(Math.hypot(st.northM, st.eastM - 90)).toBeLessThan(5);
    expect(layer.geofenceBreaches).toBe(0);
  });

  /** Two arms north of a notch between east 40 and 80 m, from `notchFromM` north; the bar south of it
   *  reaches down to -20 m north. */
  const uFence = (notchFromM: number): Array<readonly [number, number]> => [[-20, -20], [-20, 140], [150, 140], [150, 80], [notchFromM, 80], [notchFromM, 40], [150, 40], [150, -20]];
  const flyU = (notchFromM: number, waypoints: Array<[number, number]>) => {
    const layer = new FlightLayer(['d1'], new Prng(3), 0, { pads: { spacingM: 6, columns: 1, origin: [0, -2] }, geofence: uFence(notchFromM) });
    layer.applyCommitted({ height: 1, timeMs: 1_000, members, txs: [cmd('g', 'mission.goto', { waypoints, node: 'd1' })] });
    const d = layer.drones[0]!;
    let eastMost = -Infinity;
    /** How far north it went while between the arms (east 40 to 80 m). */
    let northBetween = -Infinity;
    for (let t = 1_000; t < 300_000 && d.completed !== 'g'; t += 100) {
      layer.step(t);
      const s = d.sim.state();
      eastMost = Math.max(eastMost, s.eastM);
      if (s.eastM > 40 && s.eastM < 80) northBetween = Math.max(northBetween, s.northM);
    }
    return { layer, d, eastMost, northBetween, why: JSON.stringify(layer.reflexes.slice(0, 6)) };
  };

  /** East through the west arm (to its notch side), then back west from past the east arm. */
  const twoLanes: Array<[number, number]> = [
    [100, -100],
    [100, 200],
    [120, 200],
    [120, -100],
  ];

  it('a leg out through the notch of a U-shaped fence: flown round the notch inside the fence, on through the other arm', () => {
    const { layer, d, eastMost, northBetween, why } = flyU(40, [
      [100, 0],
      [100, 200],
    ]);
    // Before: flown to 30 m east and no further (the east arm never flown); earlier still, on across
    // the notch, outside the fence at 40 m east (1 breach), and held there.
    expect(layer.geofenceBreaches, why).toBe(0);
    expect(d.completed, why).toBe('g');
    expect(eastMost, why).toBeGreaterThan(125);
    expect(northBetween, why).toBeLessThan(31); // round the notch's corners, 10 m in from them
  });

  it('the next lane in through the other arm of a U-shaped fence: flown to round the notch', () => {
    const { layer, d, eastMost, northBetween, why } = flyU(40, twoLanes);
    expect(layer.geofenceBreaches, why).toBe(0);
    expect(d.completed, why).toBe('g');
    expect(eastMost, why).toBeGreaterThan(125);
    expect(northBetween, why).toBeLessThan(31);
  });

  it('a notch with no way round it that keeps 10 m from the fence (a bar 15 m wide): nothing past it is flown', () => {
    const { layer, d, eastMost, why } = flyU(-5, twoLanes);
    expect(layer.geofenceBreaches, why).toBe(0);
    expect(d.completed, why).toBe('g');
    expect(eastMost, why).toBeLessThan(36);
    expect(layer.reflexes.some((r) => r.detail.includes('no way inside the geofence')), why).toBe(true);
  });

  it('a waypoint inside the fence with no way to it that keeps 10 m from the fence is said to be that, not outside the fence', () => {
    // From the west arm to the east arm, both inside, across the notch above a bar 15 m wide.
    const { layer, d, eastMost, why } = flyU(-5, [
      [100, 10],
      [100, 120],
    ]);
    expect(layer.geofenceBreaches, why).toBe(0);
    expect(d.completed, why).toBe('g');
    expect(eastMost, why).toBeLessThan(36);
    // Before: "waypoint [100, 120] is outside the geofence, and no part of the leg to it inside: skipped".
    expect(layer.reflexes.filter((r) => r.detail.includes('[100, 120] is outside')), why).toEqual([]);
    expect(layer.reflexes.some((r) => r.detail.includes('no way inside the geofence') && r.detail.includes('[100, 120]')), why).toBe(true);
  });
});
