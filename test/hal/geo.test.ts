// The flat local frame (hal/geo.ts) near the antimeridian: a fix across it is a few metres away, not
// most of the way round the earth.

import { describe, expect, it } from 'vitest';
import { geoToLocal, localToGeo, originLatDegMax, wrapLonDeg } from '../../hal/geo.js';

describe('local frame', () => {
  it('sees a fix across the antimeridian as just east of an origin on the other side, both ways', () => {
    const fiji = { latDeg: -17.7, lonDeg: 179.9995 };
    // 110 m east: a longitude a receiver reports, within -180..180 (it was 180.0005).
    const target = localToGeo(fiji, 0, 110);
    expect(target.lonDeg).toBeGreaterThanOrEqual(-180);
    expect(target.lonDeg).toBeLessThan(-179.999);
    // Read back, it is 110 m east (it was 38 135 km west).
    expect(geoToLocal(fiji, target.latDeg, target.lonDeg).eastM).toBeCloseTo(110, 6);
    expect(geoToLocal({ latDeg: 65, lonDeg: -179.9999 }, 65, 179.9999).eastM).toBeCloseTo(-0.0002 * 111_194.93 * Math.cos((65 * Math.PI) / 180), 3);
  });

  it('leaves every longitude and difference within -180..180 as it is, bit for bit', () => {
    for (const d of [-180, -179.9995, -8.545594, 0, 8.545594, 47.397742, 180]) expect(wrapLonDeg(d)).toBe(d);
    expect(wrapLonDeg(180.0005)).toBeCloseTo(-179.9995, 9);
    expect(wrapLonDeg(-359.5)).toBeCloseTo(0.5, 9);
    expect(originLatDegMax).toBe(85);
  });
});
