// The terminal's progress line. A real-time run hears commits through the broker, as an operator does:
// while the scenario has it down the height stands still though the fleet commits over its radios, and
// the line says why instead of looking stalled (a fresh-eyes run of npm start read it as a stall).

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Progress } from '../../fleet-sim/dashboard/live-run.js';
import { parseScenario } from '../../fleet-sim/scenario/parse.js';

const s = parseScenario(readFileSync(new URL('../../fleet-sim/scenarios/default.yaml', import.meta.url), 'utf8'), 'default.yaml');

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

  it('a deterministic run hears every commit from the world itself: no such note', () => {
    const lines: string[] = [];
    const p = new Progress(s, 'lines', (t) => lines.push(t));
    const outage = s.faults.find((f) => f.kind === 'broker-down');
    p.show((outage?.at ?? 0) + 1_000);
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toContain('broker down');
  });
});
