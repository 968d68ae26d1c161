// Validators whose clocks are off true time, in the deterministic world (a `clock` fault): a board
// without a real-time clock that booted with an old time and has no NTP in the field, or one whose clock
// runs ahead. A block's time may be at most limits.clockSkewMsMax ahead of a validator's clock for it to
// prevote the block; but a block 2f+1 validators prevoted or precommitted is locked on and decided by
// everyone, whatever their own clock says (timeliness, which the quorum has vouched for, is not
// validity). Before, a validator two minutes slow found every block invalid ("too far in the future"),
// so it never decided one on its precommits and kept up only through block sync, a gossip interval or
// more behind; and nothing told its operator that its vote was lost to the fleet. Now each node keeps
// how far the blocks it decides run ahead of its clock (core.ts clockAheadOfNode; the device's health
// names it). A failure prints the seed and how to replay it.

import { describe, expect, it } from 'vitest';
import { parseScenario } from '../../fleet-sim/scenario/parse.js';
import { runScenario, type Report } from '../../fleet-sim/sim/run.js';
import type { World } from '../../fleet-sim/sim/world.js';
import { clockAheadOfNode, clockSetter } from '../../runtime/consensus/core.js';
import { assessHealth } from '../../runtime/device/device-health.js';

const scenario = (faults: string): string => `
name: clock-offset
seed: 7
duration: 20s
validators: 4
faults: ${faults}
workload:
  - { from: 1s, to: 19s, rate: 5/s, command: noop }
expect: { safety: true, committedFraction: 0.95 }
`;

async function run(faults: string, seed: number): Promise<{ r: Report; heights: number[]; ahead: (number | null)[]; log: string[]; health: string[][] }> {
  const s = parseScenario(scenario(faults));
  let world: World | null = null;
  const log: string[] = [];
  const r = await runScenario(s, seed, { onWorld: (w) => void (world = w), log: { info: () => {}, warn: (m: string) => void (log.length < 200 && log.push(m)), error: (m: string) => void log.push(m) } });
  const w = world as World | null;
  const heights = (w?.nodes ?? []).map((n) => n.shell?.core.chain.height ?? -1);
  const ahead = (w?.nodes ?? []).map((n) => (n.shell ? clockAheadOfNode(n.shell.core) : null));
  // Each validator's health reasons as its device computes them (device.ts health()).
  const health = (w?.nodes ?? []).map((n) => (n.shell ? assessHealth({ links: [], agents: null, failsafe: null, selfDegraded: null, hal: [], battery: null, clockAheadMs: clockAheadOfNode(n.shell.core), clockSetBy: clockSetter(n.shell.core) }).reasons.slice() : []));
  return { r, heights, ahead, log, health };
}

const why = (r: Report, heights: number[], ahead: (number | null)[], log: string[]): string => `seed ${r.seed}: failed=${r.expect.failed.join('; ')} heights=${heights.join(',')} ahead=${ahead.join(',')} safety=${JSON.stringify(r.safety)}\n  log: ${log.slice(-3).join(' | ')}\n  replay: ${r.replay}`;

describe('validators whose clocks are off true time (deterministic mode)', () => {
  for (const seed of [7, 8]) {
    it(`seed ${seed}: one validator 2 minutes slow from boot keeps deciding the fleet's blocks`, async () => {
      const { r, heights, ahead, log } = await run('[{ at: 0s, clock: 3, offset: -2m }]', seed);
      const w = why(r, heights, ahead, log);
      expect(r.safety.ok, w).toBe(true);
      expect(r.expect.failed, w).toEqual([]);
      const top = Math.max(...heights);
      expect(top, w).toBeGreaterThan(50);
      // The slow one is at most a height or two behind: it decides what the others precommitted.
      expect(heights[3] ?? -1, w).toBeGreaterThanOrEqual(top - 2);
      // It does not prevote those blocks (they are ahead of its clock), and says why.
      expect(log.some((l) => l.startsWith('v03') && l.includes('prevotes nil') && l.includes('too far in the future')), w).toBe(true);
      // It decides them on their precommits, as the others do: the blocks run 2 minutes ahead of its
      // clock, less the moment from proposal to decision; the others' clocks are in step.
      expect(ahead[3] ?? 0, w).toBeGreaterThan(115_000);
      expect(ahead[3] ?? 0, w).toBeLessThanOrEqual(120_000);
      for (const i of [0, 1, 2]) expect(Math.abs(ahead[i] ?? Infinity), w).toBeLessThan(2_000);
    });
  }

  // One validator 25 s fast (within the 30 s a block may be ahead: nothing refuses its blocks) and one
  // 10 s slow. Each block must be later than its parent, so after each of the fast one's blocks the
  // others' carry its time on: the fleet's block times stay ~25 s ahead of true time, 35 s ahead of the
  // slow one, which prevotes nil on them all. Its health said 'set its clock' as if its clock were the
  // one 35 s off; the fast one, whose clock the blocks follow, looked healthy. Now the slow one's health
  // names the fast one (clockSetter); and with a lone slow clock (above) no one is named.
  for (const seed of [7, 8]) {
    it(`seed ${seed}: block times dragged ahead by one fast clock name that validator in the slow one's health`, async () => {
      const { r, heights, ahead, log, health } = await run('[{ at: 0s, clock: 1, offset: 25s }, { at: 0s, clock: 3, offset: -10s }]', seed);
      const w = `${why(r, heights, ahead, log)}\n  health: ${JSON.stringify(health)}`;
      expect(r.safety.ok, w).toBe(true);
      expect(ahead[3] ?? 0, w).toBeGreaterThan(30_000); // dragged: 35 s ahead of a clock 10 s slow
      expect(health[3]?.find((x) => x.startsWith('clock')), w).toMatch(/follow v01's clock.*check v01's clock/);
      expect(health[1], w).toEqual([]); // the fast one's own blocks are in step with its clock
    });
  }

  it('a lone slow clock names no other validator', async () => {
    const { r, heights, ahead, log, health } = await run('[{ at: 0s, clock: 3, offset: -2m }]', 7);
    expect(health[3]?.find((x) => x.startsWith('clock')), `${why(r, heights, ahead, log)}\n  health: ${JSON.stringify(health)}`).toMatch(/^clock 1[12]\d s behind the fleet's block times \(a block may be at most 30 s ahead\).*set its clock/);
  });

  it('a validator 2 minutes fast: its proposals are refused as too far in the future, the fleet commits on', async () => {
    const { r, heights, ahead, log } = await run('[{ at: 0s, clock: 1, offset: 2m }]', 9);
    const w = why(r, heights, ahead, log);
    expect(r.safety.ok, w).toBe(true);
    expect(r.expect.failed, w).toEqual([]);
    const top = Math.max(...heights);
    expect(heights[1] ?? -1, w).toBeGreaterThanOrEqual(top - 2);
    expect(log.some((l) => l.includes('prevotes nil on the block from v01') && l.includes('too far in the future')), w).toBe(true);
    expect(ahead[1] ?? 0, w).toBeLessThan(-118_000);
  });

  it('says nothing from fewer than 5 live decisions: the first after a stall may carry an old round\'s time', () => {
    expect(clockAheadOfNode({ clockSamples: [-90_000] })).toBeNull();
    expect(clockAheadOfNode({ clockSamples: [-90_000, -20, -25, -30] })).toBeNull();
    expect(clockAheadOfNode({ clockSamples: [-90_000, -20, -25, -30, -22] })).toBe(-25);
  });
});
