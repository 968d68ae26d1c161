// The terminal's progress line. A real-time run hears commits through the broker, as an operator does:
// while the scenario has it down the height stands still though the fleet commits over its radios, and
// the line says why instead of looking stalled (a fresh-eyes run of npm start read it as a stall).

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Progress } from '../../fleet-sim/dashboard/live-run.js';
import { parseScenario } from '../../fleet-sim/scenario/parse.js';

const s = parseScenario(readFileSync(new URL('../../fleet-sim/scenarios/default.yaml', import.meta.url), 'utf8'));

describe('progress line', () => {
  it('says the broker is down while a real-time run cannot hear the fleet, and only then', () => {
    const outage = s.faults.find((f) => f.kind === 'broker-down');
    expect(outage).toBeDefined();
    const lines: string[] = [];
    const p = new Progress(s, 'bar', (t) => lines.push(t), true);
    p.onEvent({ t: 'commit', at: 1_000, height: 12, round: 0, proposer: 0, latencyMs: 5, txs: 3, commands: 3 });
    p.show((outage?.at ?? 0) - 1_000);
    p.show((outage?.at ?? 0) + 1_000);
    p.finish(s.durationMs);
    expect(lines[0]).toContain('height 12  commands 3');
    expect(lines[0]).not.toContain('broker down');
    expect(lines[1]).toContain('(broker down: heard again when it is back)');
    expect(lines[2]).not.toContain('broker down');
    // Redrawn in place: each clears what a longer line before it left.
    for (const l of lines) expect(l.startsWith('\r') && l.includes('\x1b[K')).toBe(true);
  });

  it('shows the height the devices report, not only heights that carried this operator\'s commands', () => {
    // Right after the outage the fleet is heights ahead, but the blocks it committed meanwhile carry
    // none of the operator's commands (they waited in its offline queue): npm start showed the height
    // of before the outage for 8 s after the broker was back.
    const lines: string[] = [];
    const p = new Progress(s, 'lines', (t) => lines.push(t), true);
    p.onEvent({ t: 'commit', at: 1_000, height: 156, round: 0, proposer: 0, latencyMs: 5, txs: 3, commands: 3 });
    const sample = (i: number, h: number) => ({ i, n: 0, e: 0, u: 0, bat: 90, h, r: 0, health: 'alive' as const, byz: null, mode: 'survey' });
    p.onEvent({ t: 'frame', at: 2_000, nodes: [sample(0, 171), sample(1, 174), sample(2, 3)], proposer: 0, radio: [], broker: 'up' });
    p.show(s.durationMs * 0.7);
    expect(lines[0]).toContain('height 174  commands 3');
    // A frame of older samples (a device behind, a stale status) never takes the height back.
    p.onEvent({ t: 'frame', at: 3_000, nodes: [sample(0, 160)], proposer: 0, radio: [], broker: 'up' });
    p.show(s.durationMs * 0.9);
    expect(lines[1]).toContain('height 174  commands 3');
  });

  it('a deterministic run hears every commit from the world itself: no such note', () => {
    const lines: string[] = [];
    const p = new Progress(s, 'lines', (t) => lines.push(t));
    const outage = s.faults.find((f) => f.kind === 'broker-down');
    p.show((outage?.at ?? 0) + 1_000);
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toContain('broker down');
  });
});
