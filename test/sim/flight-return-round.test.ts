// fleet-sim's flight layer goes home as the device's executor does (runtime/device/executor.ts goHome):
// a return whose straight line home crosses a committed keep-out flies the way round it first, then the
// vehicle's own return. A mast taller than any return altitude stands on that line. Before, the layer
// sent the vehicle's return at once, straight through the mast (a strike).

import { describe, expect, it } from 'vitest';
import { FlightLayer } from '../../fleet-sim/flight/flight-layer.js';
import { Prng } from '../../runtime/lib/prng.js';
import type { MissionBlock, MissionTx } from '../../runtime/mission/types.js';

const members = { epoch: 1, devices: ['d1'], operators: [{ id: 'ops', roles: ['operator' as const] }] };
const cmd = (id: string, type: string, args: Record<string, unknown>): MissionTx => ({ kind: 'command', id, operator: 'ops', type, args, issuedAt: 0, expiresAt: 1e12 });
const mast = { northM: 40, eastM: 0, radiusM: 4, heightM: 60 };
// The 5 m cells round the mast, as the swarm commits them.
const hazards = { cellDm: 50, cells: [[7, -1], [7, 0], [8, -1], [8, 0]] as [number, number][] };

/** d1 flies out east, north past the mast and back west (ending 80 m north of its pad, the mast between
 *  it and home), the mast committed meanwhile; then `home` sends it home. */
function outThenHome(home: 'rtl' | 'abort' | 'survey-end') {
  const layer = new FlightLayer(['d1'], new Prng(3), 0, { hazards: [mast], pads: { spacingM: 6, columns: 1, origin: [0, 0] } });
  const d = layer.drones[0]!;
  let t = 1_000;
  let closest = Infinity;
  let northMost = -Infinity;
  const fly = (ms: number): void => {
    for (const end = t + ms; t < end; t += 100) {
      layer.step(t);
      const st = d.sim.state();
      northMost = Math.max(northMost, st.northM);
      if (northMost > 70 && st.upM > 1) closest = Math.min(closest, Math.hypot(st.northM - mast.northM, st.eastM - mast.eastM));
    }
  };
  const out = [[0, 30], [80, 30], [80, 0]];
  const first = home !== 'survey-end' ? cmd('g', 'mission.goto', { waypoints: out, node: 'd1' }) : cmd('s', 'mission.survey', { area: [[70, -10], [70, 10], [90, 10], [90, -10]], spacingM: 10 });
  layer.applyCommitted({ height: 1, timeMs: 1_000, members, txs: [first], hazards } as MissionBlock);
  if (home !== 'survey-end') {
    fly(60_000);
    expect(Math.hypot(d.sim.state().northM - 80, d.sim.state().eastM), layer.notes.join(' | ')).toBeLessThan(3);
    layer.applyCommitted({ height: 2, timeMs: t, members, txs: [cmd('r', home, {})] });
  }
  fly(120_000);
  // It flew what it was sent on to its end (the survey's lanes are north of the mast) before going home.
  expect(layer.notes.some((n) => n.includes(home === 'survey-end' ? 'mission.survey accepted' : `${home} accepted`)), layer.notes.join(' | ')).toBe(true);
  expect(northMost).toBeGreaterThan(75);
  return { layer, d, closest };
}

describe('flight layer: a return home across a committed keep-out', () => {
  // An abort sends every drone home, as a device's executor flies it (goHome); before, the flight layer
  // landed the drone where it was, 80 m north of its pad.
  for (const home of ['rtl', 'abort', 'survey-end'] as const) {
    it(`${home === 'survey-end' ? "a survey's end" : `a committed ${home}`} goes round it and lands on the pad`, () => {
      const { layer, d, closest } = outThenHome(home);
      const st = d.sim.state();
      expect(d.sim.strikes(), layer.notes.join(' | ')).toEqual([]);
      expect(d.mode, layer.notes.join(' | ')).toBe('landed');
      expect(Math.hypot(st.northM, st.eastM)).toBeLessThan(3);
      // It passed the mast outside the keep-out (radius 10.3 m, margin included), less position error.
      expect(closest).toBeGreaterThan(8);
    });
  }

  it('a failsafe return on its way round a keep-out goes on home through a re-plan, a hold, a resume and an rtl of its mission', () => {
    // Before, the re-plan emptied the way round, and the drone stopped at the corner it was flying to;
    // the resume left it holding; an rtl emptied the way round while the failsafe return went on.
    const layer = new FlightLayer(['d1'], new Prng(3), 0, { hazards: [mast], batteryWh: 3, pads: { spacingM: 6, columns: 1, origin: [0, 0] } });
    const d = layer.drones[0]!;
    layer.applyCommitted({ height: 1, timeMs: 1_000, members, txs: [cmd('g', 'mission.goto', { waypoints: [[0, 30], [80, 30], [80, 0], [200, 0]], node: 'd1' })], hazards });
    let replanned = false;
    let from = -1; // distance from home when the failsafe began
    let farthest = 0; // and the farthest after
    for (let t = 1_000; t < 200_000; t += 100) {
      layer.step(t);
      const here = Math.hypot(d.sim.state().northM, d.sim.state().eastM);
      if (from < 0 && d.mode === 'failsafe rtl') from = here;
      if (from >= 0) farthest = Math.max(farthest, here);
      if (!replanned && d.mode === 'failsafe rtl' && d.homeWay.length > 0) {
        // Its battery reflex sent it home round the mast; a second hazard on its route further out
        // re-plans the mission, and the operator holds and resumes the mission, then sends everyone home.
        const r = layer.applyCommitted({ height: 2, timeMs: t, members, txs: [], hazards: { cellDm: 50, cells: [...hazards.cells, [28, 0]] } });
        expect(r.some((e) => e.type === 'task' && e.node === 'd1' && e.task.type === 'waypoints' && e.task.replan === true)).toBe(true);
        const held = layer.applyCommitted({ height: 3, timeMs: t, members, txs: [cmd('h', 'hold', {}), cmd('r', 'resume', {}), cmd('x', 'rtl', {})] });
        expect(held.filter((e) => e.type === 'task' && e.node === 'd1').map((e) => e.type === 'task' && e.task.type)).toEqual(['hold', 'resume', 'rtl']);
        replanned = true;
      }
    }
    const st = d.sim.state();
    const why = layer.notes.join(' | ');
    expect(replanned, why).toBe(true);
    expect(d.mode, why).toBe('failsafe rtl');
    expect(layer.failsafes, why).toBe(1); // not sent out again and home on a second failsafe
    expect(farthest, why).toBeLessThan(from + 5);
    expect(d.sim.strikes(), why).toEqual([]);
    expect(Math.hypot(st.northM, st.eastM), why).toBeLessThan(3);
    expect(st.upM, why).toBeLessThan(0.3);
  });
});
