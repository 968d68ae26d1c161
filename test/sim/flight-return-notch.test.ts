// fleet-sim's flight layer goes home across a concave committed geofence as the device's executor does
// (runtime/device/executor.ts goHome, test/device/executor-return-notch.test.ts): from one arm of a U
// to the pad in its base, round the notch's inner corner inside the fence, not straight across the notch
// (outside the fence), where a post stands here. Before, the layer flew the vehicle's own return at once.

import { describe, expect, it } from 'vitest';
import { FlightLayer } from '../../fleet-sim/flight/flight-layer.js';
import { Prng } from '../../runtime/lib/prng.js';
import type { MissionTx } from '../../runtime/mission/types.js';

const members = { epoch: 1, devices: ['d1'], operators: [{ id: 'ops', roles: ['operator' as const, 'admin' as const] }] };
const cmd = (id: string, type: string, args: Record<string, unknown>): MissionTx => ({ kind: 'command', id, operator: 'ops', type, args, issuedAt: 0, expiresAt: 1e12 });
// [north, east] in metres: the base n -10..40, the arms e -10..30 and 70..110 up to n 110.
const polygon = [[-10, -10], [-10, 110], [110, 110], [110, 70], [40, 70], [40, 30], [110, 30], [110, -10]];
const post = { northM: 60, eastM: 50, radiusM: 12, heightM: 100 };

describe('flight layer: a return home across a concave geofence\'s notch', () => {
  it('goes round the notch inside the fence and lands on the pad', () => {
    const layer = new FlightLayer(['d1'], new Prng(3), 0, { hazards: [post], pads: { spacingM: 6, columns: 1, origin: [0, 0] } });
    const d = layer.drones[0]!;
    layer.applyCommitted({ height: 1, timeMs: 1_000, members, txs: [cmd('f', 'geofence.set', { polygon }), cmd('g', 'mission.goto', { waypoints: [[0, 90], [100, 90]], node: 'd1' })] });
    let t = 1_000;
    for (; t < 90_000; t += 100) layer.step(t);
    const out = d.sim.state();
    expect(Math.hypot(out.northM - 100, out.eastM - 90), layer.notes.join(' | ')).toBeLessThan(3);
    layer.applyCommitted({ height: 2, timeMs: t, members, txs: [cmd('r', 'rtl', {})] });
    expect(d.homeWay.length, layer.notes.join(' | ')).toBeGreaterThan(0);
    for (const end = t + 150_000; t < end; t += 100) layer.step(t);
    const st = d.sim.state();
    expect(d.sim.strikes(), layer.notes.join(' | ')).toEqual([]);
    expect(d.mode, layer.notes.join(' | ')).toBe('landed');
    expect(Math.hypot(st.northM, st.eastM)).toBeLessThan(3);
  });
});
