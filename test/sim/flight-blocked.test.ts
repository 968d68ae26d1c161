// fleet-sim's flight layer flies what the device's executor flies: a leg the mission machine found no
// way round the committed hazards inside the geofence for (the task's `blocked`) is never flown; the
// drone holds before it, inside the fence.

import { describe, expect, it } from 'vitest';
import { FlightLayer } from '../../fleet-sim/flight/flight-layer.js';
import { Prng } from '../../runtime/lib/prng.js';
import type { MissionBlock, MissionTx } from '../../runtime/mission/types.js';

const members = { epoch: 1, devices: ['d1'], operators: [{ id: 'ops', roles: ['operator' as const] }, { id: 'boss', roles: ['admin' as const] }] };
const cmd = (id: string, operator: string, type: string, args: Record<string, unknown>): MissionTx => ({ kind: 'command', id, operator, type, args, issuedAt: 0, expiresAt: 1e12 });

describe('flight layer and a blocked leg', () => {
  it('holds before a leg whose keep-out spans the corridor the fence leaves, and never leaves the fence', () => {
    const layer = new FlightLayer(['d1'], new Prng(3), 0, { pads: { spacingM: 6, columns: 1, origin: [0, -2] } });
    const b1: MissionBlock = { height: 1, timeMs: 1_000, members, txs: [cmd('f', 'boss', 'geofence.set', { polygon: [[-6, -5], [-6, 300], [6, 300], [6, -5]] }), cmd('g', 'ops', 'mission.goto', { waypoints: [[0, 0], [0, 200]], node: 'd1' })] };
    layer.applyCommitted(b1);
    const d = layer.drones[0]!;
    let eastMost = -Infinity;
    let t = 1_000;
    const fly = (ms: number): void => {
      for (const end = t + ms; t < end; t += 100) {
        layer.step(t);
        eastMost = Math.max(eastMost, d.sim.state().eastM);
      }
    };
    fly(5_000); // airborne, on its way east
    expect(d.sim.state().upM).toBeGreaterThan(1);
    // A 5 m hazard cell on its line at 100 m east: its keep-out (11.6 m) spans the 12 m corridor.
    layer.applyCommitted({ height: 2, timeMs: 6_000, members, txs: [], hazards: { cellDm: 50, cells: [[0, 20]] } });
    fly(60_000);
    expect(d.mode).toBe('hold (blocked leg)');
    expect(eastMost).toBeLessThan(85); // short of the keep-out's west edge (102.5 - 11.6 m), never through it
    expect(layer.geofenceBreaches).toBe(0);
    expect(layer.notes.some((n) => n.includes('no way round the committed hazards from [0, 0] m to [0, 200] m'))).toBe(true);
  });

  it("a hazard committed on a goto's only waypoint while the drone flies to it: it holds where it is, naming the cell, never done; cleared, it flies on", () => {
    const layer = new FlightLayer(['d1'], new Prng(3), 0, { pads: { spacingM: 6, columns: 1, origin: [0, -2] } });
    layer.applyCommitted({ height: 1, timeMs: 1_000, members, txs: [cmd('g', 'ops', 'mission.goto', { waypoints: [[0, 200]], node: 'd1' })] });
    const d = layer.drones[0]!;
    let t = 1_000;
    const fly = (ms: number): void => {
      for (const end = t + ms; t < end; t += 100) layer.step(t);
    };
    fly(5_000);
    expect(d.sim.state().upM).toBeGreaterThan(1);
    layer.applyCommitted({ height: 2, timeMs: t, members, txs: [], hazards: { cellDm: 50, cells: [[0, 40]] } });
    fly(20_000);
    expect(d.mode).toBe('hold (blocked leg)');
    expect(d.completed).toBe('');
    expect(d.sim.state().eastM).toBeLessThan(150);
    expect(layer.notes.some((n) => n.includes('every waypoint left for d1 lies inside the keep-out round committed hazard cell 0,40'))).toBe(true);
    layer.applyCommitted({ height: 3, timeMs: t, members, txs: [], hazards: { cellDm: 50, cells: [] } });
    fly(60_000);
    expect(d.completed, layer.notes.join(' | ')).toBe('g');
    expect(Math.hypot(d.sim.state().northM, d.sim.state().eastM - 200)).toBeLessThan(3);
  });

  // Held before the blocked leg, the drone flies on by itself when a committed change gives it a way.
  for (const change of ['the hazard leaves the committed set', 'a new geofence leaves room round it'] as const) {
    it(`flies on round or through when ${change}`, () => {
      const layer = new FlightLayer(['d1'], new Prng(3), 0, { pads: { spacingM: 6, columns: 1, origin: [0, -2] } });
      layer.applyCommitted({ height: 1, timeMs: 1_000, members, txs: [cmd('f', 'boss', 'geofence.set', { polygon: [[-6, -5], [-6, 300], [6, 300], [6, -5]] }), cmd('g', 'ops', 'mission.goto', { waypoints: [[0, 0], [0, 200]], node: 'd1' })] });
      const d = layer.drones[0]!;
      let t = 1_000;
      const fly = (ms: number): void => {
        for (const end = t + ms; t < end; t += 100) layer.step(t);
      };
      fly(5_000);
      layer.applyCommitted({ height: 2, timeMs: 6_000, members, txs: [], hazards: { cellDm: 50, cells: [[0, 20]] } });
      fly(40_000);
      expect(d.mode).toBe('hold (blocked leg)');
      if (change === 'the hazard leaves the committed set') layer.applyCommitted({ height: 3, timeMs: t, members, txs: [], hazards: { cellDm: 50, cells: [] } });
      else layer.applyCommitted({ height: 3, timeMs: t, members, txs: [cmd('f2', 'boss', 'geofence.set', { polygon: [[-40, -5], [-40, 300], [6, 300], [6, -5]] })] });
      fly(60_000);
      const st = d.sim.state();
      expect(d.mode, layer.notes.join(' | ')).toBe('hold');
      expect(d.completed).toBe('g');
      expect(Math.hypot(st.northM, st.eastM - 200)).toBeLessThan(3);
      expect(layer.geofenceBreaches).toBe(0);
      expect(layer.notes.some((n) => n.startsWith('d1: resumed'))).toBe(true);
    });
  }
});
