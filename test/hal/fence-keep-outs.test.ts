// Which keep-out circles go up with the fence (hal/mavlink/fence-keep-outs.ts): not one round the drone
// unless the FC holds it already, none while the drone's position is not known, and within the item
// budget the nearest the drone, kept in the order given.

import { describe, expect, it } from 'vitest';
import { circleKey, planKeepOuts } from '../../hal/mavlink/fence-keep-outs.js';
import type { GeoFence } from '../../hal/devices.js';
import { localToGeo } from '../../hal/geo.js';
import { defaultSimConfig } from '../../hal/sim/sim-config.js';

const origin = defaultSimConfig.origin;
const at = (northM: number, eastM: number) => localToGeo(origin, northM, eastM);
const keepOut = (northM: number, eastM: number, radiusM: number) => ({ ...at(northM, eastM), radiusM });
const square: GeoFence['polygon'] = [at(-100, -100), at(-100, 100), at(100, 100), at(100, -100)];

describe('the keep-outs that go up with the fence', () => {
  const around = keepOut(0, 0, 15);
  const ahead = keepOut(50, 0, 10);
  const fence: GeoFence = { polygon: square, altMaxM: null, keepOuts: [around, ahead] };

  it('one round the drone waits (it would breach at once); one the FC holds stays up even with the drone inside it (that breach is what it is for)', () => {
    const p = planKeepOuts(fence, at(5, 0), new Set());
    expect(p.fence.keepOuts).toEqual([ahead]);
    expect(p.waiting).toEqual([around]);
    expect(p.reason).toBe('1 keep-out left out: the drone is inside it (uploaded once it is out)');
    const held = planKeepOuts(fence, at(48, 0), new Set([circleKey(ahead), circleKey(around)]));
    expect(held.fence.keepOuts).toEqual([around, ahead]);
    expect(held.reason).toBeNull();
    expect(planKeepOuts(fence, at(-20, 0), new Set()).fence.keepOuts).toEqual([around, ahead]);
  });

  it('with the drone\'s position not known, none goes up that the FC does not hold already', () => {
    const p = planKeepOuts(fence, null, new Set([circleKey(ahead)]));
    expect(p.fence.keepOuts).toEqual([ahead]);
    expect(p.reason).toBe("1 keep-out left out: the drone's position is not known yet (uploaded once it is, outside them)");
  });

  it('past the item budget, the nearest the drone go up, in the order given; both reasons together', () => {
    const far = keepOut(90, 0, 5);
    const near = keepOut(-30, 0, 5);
    const mid = keepOut(0, 60, 5);
    const p = planKeepOuts({ polygon: square, altMaxM: null, keepOuts: [far, around, near, mid] }, at(0, 0), new Set(), 6);
    expect(p.fence.keepOuts).toEqual([near, mid]);
    expect(p.fence.polygon).toBe(square);
    expect([p.waiting.length, p.overBudget]).toEqual([1, 1]);
    expect(p.reason).toBe('1 keep-out left out: the drone is inside it (uploaded once it is out); 1 keep-out left out: the flight controller is given 6 fence items and the polygon takes 4 (the 2 nearest the drone kept)');
  });
});
