// A drone taking over a lost drone's lanes flies the way there and the taken part at an altitude of
// its own choosing (reassign.ts, deconflict.ts joinAltitude); that altitude must keep the separation
// the mission's planner keeps: no other drone's leg to its route still to be flown, nor another part
// taken over, in the same layer within separationM horizontally. Here the field is far from the pads,
// so the drones are still on their way to it when one, crashed at 3 s, is found lost (lostAfterS 30):
// the drone taking its lanes gets its altitude while the others' legs are in the air; and the fence's
// 39 m ceiling leaves three layers above the 30 m mission, so ten drones' return layers wrap and the
// taker's own (33 m for v00) is a layer the legs use (a 42 m ceiling: four layers). Before the taken
// part was planned like a leg it flew at the taker's return altitude: seed 1 with v01 crashed put
// v00's at 33 m, across the 33 m legs of f00, v02 and v03. Checked on the committed state at every re-task, in the deterministic
// world, against a drone on its way home too (its return layer, its path unknown); a failure prints
// the seed and the replay.

import { describe, expect, it } from 'vitest';
import { parseScenario } from '../../fleet-sim/scenario/parse.js';
import { runScenario, type Report } from '../../fleet-sim/sim/run.js';
import type { World } from '../../fleet-sim/sim/world.js';
import { segSeg2 } from '../../runtime/mission/deconflict.js';
import { returnAltitudeDm } from '../../runtime/mission/machine.js';
import type { MissionEffect, MissionState, PointDm } from '../../runtime/mission/types.js';

const yaml = (crash: number, ceilingM: number): string => `
name: survey-lost-drone-crossing
seed: 1
duration: 70s
validators: 4
followers: 6
operator: { roles: [operator, admin] }
faults:
  - { at: 3s, crash: ${crash} }
workload:
  - { at: 500ms, command: { type: param.set, key: lostAfterS, value: 30 } }
  - { at: 700ms, command: { type: geofence.set, polygon: [[-100, -150], [-100, 300], [500, 300], [500, -150]], altMaxM: ${ceilingM} } }
  - { at: 1s, command: { type: mission.survey, area: [[250, -60], [250, 240], [400, 240], [400, -60]], spacingM: 30, altM: 30, speedMps: 5 } }
  - { from: 2s, to: 68s, rate: 2/s, command: noop }
expect: { safety: true, committedFraction: 0.9 }
`;

type Seg = { a: PointDm; b: PointDm };
const segs = (ps: readonly PointDm[]): Seg[] => ps.slice(1).map((b, i) => ({ a: ps[i] as PointDm, b }));

/** Each conflict of a taken part's altitude at this committed state, described; [] when it keeps clear. */
function conflicts(s: MissionState, node: string): string[] {
  const m = s.mission;
  if (!m) return [];
  const sep = Math.round((s.params.separationM ?? 3) * 10);
  const legsAt = new Map<number, { who: string; segs: Seg[] }[]>();
  const add = (alt: number, who: string, ss: Seg[]): void => void legsAt.set(alt, [...(legsAt.get(alt) ?? []), { who, segs: ss }]);
  const mine: { alt: number; segs: Seg[] }[] = [];
  for (const a of m.assignments) {
    if (m.done.includes(a.node)) continue;
    const pos = s.drones.find((d) => d.id === a.node)?.pos;
    if ((a.flown ?? 0) === 0 && pos && a.waypoints[0] && a.node !== node) add(a.transitAltDm, `${a.node}'s leg to its route at ${a.transitAltDm / 10} m`, [{ a: pos, b: a.waypoints[0] }]);
    (a.joins ?? []).forEach((j, k) => {
      const end = a.joins?.[k + 1]?.at ?? a.waypoints.length;
      const path = a.waypoints.slice(Math.max(0, j.at - 1), end);
      if (a.node === node) mine.push({ alt: j.altDm, segs: segs(path) });
      else add(j.altDm, `${a.node}'s taken part at ${j.altDm / 10} m`, segs(path));
    });
  }
  const out: string[] = [];
  s.drones.forEach((d, slot) => {
    if (d.id === node || !(d.activity === 'returning' || (m.kind === 'survey' && m.done.includes(d.id)))) return;
    const alt = returnAltitudeDm(s, slot);
    if (mine.some((p) => p.alt === alt)) out.push(`${node}'s taken part at ${alt / 10} m is in the return layer of ${d.id}, on its way home`);
  });
  for (const p of mine) {
    for (const o of legsAt.get(p.alt) ?? []) {
      if (p.segs.some((x) => o.segs.some((y) => segSeg2(x, y) < sep * sep))) out.push(`${node}'s taken part at ${p.alt / 10} m comes within ${sep / 10} m of ${o.who}`);
    }
  }
  return out;
}

async function run(seed: number, crash: number, ceilingM: number): Promise<{ r: Report; found: string[]; joins: number }> {
  const s = parseScenario(yaml(crash, ceilingM));
  const found: string[] = [];
  let joins = 0;
  const r = await runScenario(s, seed, {
    onWorld: (w: World) => {
      const layer = w.flight?.layer;
      if (!layer) return;
      const apply = layer.applyCommitted.bind(layer);
      layer.applyCommitted = (block) => {
        const fx: readonly MissionEffect[] = apply(block);
        for (const e of fx) {
          if (e.type !== 'task' || e.task.type !== 'waypoints' || !e.task.joins) continue;
          joins++;
          found.push(...conflicts(layer.missionState(), e.node).map((c) => `height ${block.height}: ${c}`));
        }
        return fx;
      };
    },
  });
  return { r, found, joins };
}

describe('a part taken over from a lost drone keeps clear of the legs still flown (deterministic mode)', () => {
  // Each failed before: v00 at 33 m across the legs of f00, v02, v03 (seeds 1, 2); v03 at 36 m across v01's.
  for (const [seed, crash, ceilingM] of [[1, 1, 39], [2, 1, 39], [3, 2, 42]] as const) {
    it(`seed ${seed}, node ${crash} crashed on its way, ceiling ${ceilingM} m: the taker's altitude crosses no other leg in its layer`, async () => {
      const { r, found, joins } = await run(seed, crash, ceilingM);
      const why = `seed ${seed}: ${found.join(' | ')}\n  replay: ${r.replay}`;
      expect(r.safety.ok, why).toBe(true);
      expect(joins, why).toBeGreaterThan(0);
      expect(found, why).toEqual([]);
    }, 120_000);
  }
});
