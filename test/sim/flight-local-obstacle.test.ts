// A drone alone with an obstacle: no other drone sees it, so the swarm never commits it (f+1 devices must
// attest a hazard). Its obstacle back-off stops it in front; the point its range beam hit becomes a
// keep-out of its own (runtime/mission/hazards.ts withLocalKeepOut), which its next leg goes round, as a
// device's executor does (sawObstacle). Before, released, it flew at the mast again, backed off again,
// and never finished its route.

import { describe, expect, it } from 'vitest';
import { FlightLayer } from '../../fleet-sim/flight/flight-layer.js';
import { Prng } from '../../runtime/lib/prng.js';
import type { MissionTx } from '../../runtime/mission/types.js';

const members = { epoch: 1, devices: ['d1'], operators: [{ id: 'ops', roles: ['operator' as const] }] };
const cmd = (id: string, type: string, args: Record<string, unknown>): MissionTx => ({ kind: 'command', id, operator: 'ops', type, args, issuedAt: 0, expiresAt: 1e12 });

describe('flight layer: an obstacle only this drone sees', () => {
  for (const mast of [{ northM: 0, eastM: 100, radiusM: 1.5, heightM: 60 }, { northM: 0, eastM: 100, radiusM: 8, heightM: 60 }]) {
    it(`a mast of radius ${mast.radiusM} m on its route, never committed: it gets round and finishes, without a strike`, () => {
      const layer = new FlightLayer(['d1'], new Prng(3), 0, { hazards: [mast], pads: { spacingM: 6, columns: 1, origin: [0, 0] } });
      const d = layer.drones[0]!;
      layer.applyCommitted({ height: 1, timeMs: 1_000, members, txs: [cmd('g', 'mission.goto', { waypoints: [[0, 200]], node: 'd1' })] });
      let t = 1_000;
      let closest = Infinity;
      for (; t < 150_000 && d.completed !== 'g'; t += 100) {
        layer.step(t);
        const st = d.sim.state();
        closest = Math.min(closest, Math.hypot(st.northM - mast.northM, st.eastM - mast.eastM) - mast.radiusM);
      }
      const why = layer.notes.join(' | ');
      expect(d.completed, why).toBe('g');
      expect(d.sim.strikes(), why).toEqual([]);
      expect(layer.missionState().hazards?.cells ?? [], 'nothing was committed').toEqual([]);
      expect(d.localZones.length, why).toBeGreaterThan(0);
      expect(layer.notes.filter((n) => n.includes('backing away')).length, why).toBeLessThan(4);
      expect(closest).toBeGreaterThan(1);
    });
  }

  // A building wider than a local keep-out: the way round the first circle meets it again, in that
  // circle's outer half, and the circle grows (withLocalKeepOut). Before, nothing was added and the
  // drone flew the same way round into the building again, for good: it backed off some 170 times in
  // 900 s and never finished (26 of 60 runs of radius 2 to 50 m, three offsets, two seeds).
  for (const building of [{ northM: 0, eastM: 100, radiusM: 20, heightM: 60 }, { northM: -10, eastM: 100, radiusM: 30, heightM: 60 }]) {
    it(`a building of radius ${building.radiusM} m across its route, never committed: it gets round and finishes, without a strike`, () => {
      const layer = new FlightLayer(['d1'], new Prng(3), 0, { hazards: [building], pads: { spacingM: 6, columns: 1, origin: [0, 0] } });
      const d = layer.drones[0]!;
      layer.applyCommitted({ height: 1, timeMs: 1_000, members, txs: [cmd('g', 'mission.goto', { waypoints: [[0, 200]], node: 'd1' })] });
      for (let t = 1_000; t < 600_000 && d.completed !== 'g'; t += 100) layer.step(t);
      const why = layer.notes.join(' | ');
      expect(d.completed, why).toBe('g');
      expect(d.sim.strikes(), why).toEqual([]);
      expect(layer.notes.filter((n) => n.includes('backing away')).length, why).toBeLessThan(10);
    });
  }
});
