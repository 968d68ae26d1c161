// A part of a survey taken over from a lost drone (runtime/mission/reassign.ts) is flown, with the way
// to it, at the altitude the task's `joins` give (the drone's own return layer, above a lost drone that
// may still hover on its lane at the mission altitude): the executor climbs to it where it is first.

import { afterEach, describe, expect, it } from 'vitest';
import { executorRig, stopRigs, until } from './executor-rig.js';

afterEach(stopRigs);

describe('executor and a taken-over part', () => {
  it('flies its own route at the mission altitude and the joined part at the join altitude', async () => {
    const { vehicle, ex, reports } = await executorRig();
    const samples: { northM: number; eastM: number; upM: number }[] = [];
    const watch = setInterval(() => samples.push(vehicle.state()), 10);
    try {
      // Its own part: 20 m north, then 30 m east. The taken part: 40 m further north, at 30 m.
      ex.run('m1', { type: 'waypoints', mission: 'm1', waypoints: [{ n: 200, e: 0 }, { n: 200, e: 300 }, { n: 600, e: 300 }], altDm: 150, speedDmps: 80, then: 'hold', joins: [{ from: 2, to: 2, altDm: 300 }] });
      expect(await until(() => reports.some((r) => r.stage === 'done' || r.stage === 'failed'), 20_000), JSON.stringify(reports.slice(-2))).toBe(true);
      expect(reports.at(-1)?.stage).toBe('done');
      const own = samples.filter((p) => p.northM > 19 && p.northM < 21 && p.eastM > 5 && p.eastM < 25);
      expect(own.length).toBeGreaterThan(0);
      for (const p of own) expect(Math.abs(p.upM - 15)).toBeLessThan(3.5);
      // It climbed before leaving the end of its own part: on the way north it is at the join altitude.
      const joined = samples.filter((p) => p.northM > 25 && p.northM < 55);
      expect(joined.length).toBeGreaterThan(0);
      for (const p of joined) expect(p.upM).toBeGreaterThan(27);
    } finally {
      clearInterval(watch);
    }
  }, 40_000);
});
