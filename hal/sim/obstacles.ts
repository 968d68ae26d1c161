// Simulated obstacles (vertical cylinders: masts, trees, buildings) and the ray cast a range beam makes.

export interface Obstacle {
  readonly northM: number;
  readonly eastM: number;
  readonly radiusM: number;
  readonly heightM: number;
}

/** Distance along a horizontal ray from (n, e) at height upM, heading bearingRad (clockwise from
 *  north), to the nearest obstacle taller than upM; maxM when nothing is hit. */
export function rangeToObstacles(obstacles: readonly Obstacle[], n: number, e: number, upM: number, bearingRad: number, maxM: number): number {
  const dn = Math.cos(bearingRad);
  const de = Math.sin(bearingRad);
  let best = maxM;
  for (const o of obstacles) {
    if (o.heightM < upM) continue;
    // Solve |p + t d - c|^2 = r^2 for the smallest t >= 0.
    const pn = n - o.northM;
    const pe = e - o.eastM;
    const b = pn * dn + pe * de;
    const c = pn * pn + pe * pe - o.radiusM * o.radiusM;
    if (c <= 0) return 0; // inside the obstacle
    const disc = b * b - c;
    if (disc < 0) continue;
    const t = -b - Math.sqrt(disc);
    if (t >= 0 && t < best) best = t;
  }
  return best;
}
