// The hazard-detect agent on its own, with the rule engine: what counts as a sighting.

import { describe, expect, it } from 'vitest';
import type { AgentOutput, LocalPosition } from '../../agents/api/agent.js';
import { hazardDetectAgent } from '../../agents/builtin/hazard-detect.js';
import { hazardRangeRing } from '../../agents/features/range.js';
import type { RangeReading } from '../../hal/devices.js';

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
