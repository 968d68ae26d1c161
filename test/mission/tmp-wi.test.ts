import { it, expect } from 'vitest';
import { wayInside } from '../../runtime/mission/fence-cut.js';
const pt = (northM: number, eastM: number) => ({ northM, eastM });
it('x', () => {
  const u = [pt(0, 0), pt(0, 100), pt(100, 100), pt(100, 60), pt(20, 60), pt(20, 40), pt(100, 40), pt(100, 0)];
  console.log('OUT', JSON.stringify(wayInside(pt(50, 38), pt(50, 62), u, 2)));
  console.log('OUT', JSON.stringify(wayInside(pt(50, 30), pt(50, 70), u, 10)));
  console.log('OUT', JSON.stringify(wayInside(pt(50, 30), pt(50, 20), u, 10)));
  expect(1).toBe(1);
});
