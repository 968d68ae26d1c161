// The hazard-detect agent on its own, with the rule engine: what counts as a sighting.

import { describe, expect, it } from 'vitest';
import type { AgentOutput, LocalPosition } from '../../agents/api/agent.js';
import { hazardDetectAgent } from '../../agents/builtin/hazard-detect.js';
import { hazardRangeRing } from '../../agents/features/range.js';
import type { RangeReading } from '../../hal/devices.js';
import { keepOuts, routeAround } from '../../runtime/mission/hazards.js';

const pos: LocalPosition = { timeMs: 0, northM: 2.5, eastM: 2.5, altM: 30, headingRad: 0, velocityNorthMps: 0, velocityEastMps: 0 };
/** A ring scan taken at `timeMs`, clear except beam 0 (dead ahead), which returns at `aheadM`. */
const scan = (timeMs: number, aheadM: number): RangeReading[] =>
  hazardRangeRing.beamsRad.map((bearingRad, i) => ({ timeMs, distanceM: i === 0 ? aheadM : hazardRangeRing.maxM, minM: hazardRangeRing.minM, maxM: hazardRangeRing.maxM, bearingRad }));

describe('hazard-detect', () => {
  it('a range sensor that stops updating is not a new sighting every tick', async () => {
    // One spurious 8 m return, then the sensor repeats that scan (frozen driver, a sensor slower than
    // the agent's 5 Hz). The model compares each scan with the one before, so the same scan twice looks
    // like a return seen twice, and three ticks of it made an attested hazard out of one return.
    const a = hazardDetectAgent({ prefer: ['rules'] });
    let s = await a.start({ nowMs: 0, restored: undefined });
    const outputs: AgentOutput[] = [];
    const frozen = scan(200, 8);
    for (let t = 0; t <= 2_000; t += 200) {
      const r = await a.tick(s, { nowMs: t, position: pos, range: t === 0 ? scan(0, 20) : frozen });
      s = r.state;
      outputs.push(...(r.outputs ?? []));
    }
    expect(outputs).toEqual([]);
    // Fresh scans that keep seeing it are attested, on the third.
    for (let t = 2_200; t <= 2_600; t += 200) {
      const r = await a.tick(s, { nowMs: t, position: pos, range: scan(t, 8) });
      s = r.state;
      outputs.push(...(r.outputs ?? []));
    }
    expect(outputs.map((o) => (o.type === 'attest' && o.obs.type === 'hazard' ? o.obs.cell : null))).toEqual([[2, 0]]);
    await a.stop?.();
  });
});

describe('hazard-detect denials on a mission route', () => {
  it('a drone flying the route planned round a committed cell denies it when the cell is clear', async () => {
    // Routes keep hazardMarginDm from a committed cell's edge (11.6 m from its centre for one cell);
    // with a denial range of 8 m from the centre no drone on a mission ever came close enough to deny
    // a cell whose obstacle was gone, so it stayed committed for good.
    const cell = [2, 1] as const;
    const zones = keepOuts({ cellDm: 50, cells: [cell] });
    const { route } = routeAround([{ n: -100, e: 75 }, { n: 350, e: 75 }], zones, null);
    expect(route.length).toBeGreaterThan(2); // it goes round the cell
    const a = hazardDetectAgent({ prefer: ['rules'] });
    let s = await a.start({ nowMs: 0, restored: undefined });
    const denials: (readonly [number, number])[] = [];
    let t = 0;
    // Fly the route at 1 m steps, one clear scan a step (nothing is there any more).
    for (let k = 1; k < route.length && t < 1_000_000; k++) {
      const p = route[k - 1] as { n: number; e: number };
      const q = route[k] as { n: number; e: number };
      const steps = Math.max(1, Math.ceil(Math.hypot(q.n - p.n, q.e - p.e) / 10));
      for (let i = 0; i < steps && i < 1_000; i++, t += 200) {
        const position: LocalPosition = { ...pos, timeMs: t, northM: (p.n + ((q.n - p.n) * i) / steps) / 10, eastM: (p.e + ((q.e - p.e) * i) / steps) / 10 };
        const committed = { height: 1, f: 1, hazards: [cell], cellM: 5, geofence: null, home: null, models: {} };
        const r = await a.tick(s, { nowMs: t, position, range: scan(t, hazardRangeRing.maxM), committed });
        s = r.state;
        for (const o of r.outputs ?? []) if (o.type === 'attest' && o.obs.type === 'hazard' && !o.obs.present) denials.push(o.obs.cell);
      }
    }
    expect(denials).toContainEqual(cell);
    await a.stop?.();
  });
});
