// The mission machine's own return for a lost drone (runtime/mission/machine.ts loseDrones): a goto of
// `node` committed, then its report with the battery below the reserve (25 %, the default), as the
// executor tests hand it to a device's executor. What they check a device does with an automatic task.

import { applyBlock, initialMissionState } from '../../runtime/mission/machine.js';
import type { MissionEffect, MissionTx } from '../../runtime/mission/types.js';

const members = (node: string) => ({ epoch: 1, devices: [node], operators: [{ id: 'ops', roles: ['operator' as const] }] });
const report = (node: string, batteryPermille: number): MissionTx => ({ kind: 'telemetry', node, pos: { n: 0, e: 100 }, altDm: 200, batteryPermille, completed: null, progress: null });

/** The task effect the machine emits for `node` (mission `mission`) when its committed battery falls to
 *  10 %: an rtl, its origin automatic. Throws when the machine emits no such task. */
export function lostDroneRtl(node: string, mission = 'ops/01'): Extract<MissionEffect, { type: 'task' }> {
  const goto: MissionTx = { kind: 'command', id: mission, operator: 'ops', type: 'mission.goto', args: { waypoints: [[0, 400]], node }, issuedAt: 1, expiresAt: 1_000_000 };
  const s = applyBlock(initialMissionState(), { height: 1, timeMs: 1_000, members: members(node), txs: [report(node, 900), goto] }).state;
  if (s.mission?.id !== mission) throw new Error(`the goto was not accepted: ${JSON.stringify(s.mission)}`);
  const r = applyBlock(s, { height: 2, timeMs: 2_000, members: members(node), txs: [report(node, 100)] });
  const rtl = r.effects.find((e): e is Extract<MissionEffect, { type: 'task' }> => e.type === 'task' && e.node === node);
  if (!rtl || rtl.task.type !== 'rtl') throw new Error(`the machine sent ${node} no rtl: ${JSON.stringify(r.effects)}`);
  return rtl;
}
