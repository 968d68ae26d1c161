// Hazards attested through consensus in the deterministic world: the drones' own hazard agents sign
// attestations from their range rings, the swarm commits a cell once f+1 distinct devices attested a
// hazard there or in a neighbouring cell with confidence >= 0.85, and the committed hazard re-routes the survey. Lying devices (fake sightings,
// denials) sign with their real keys and their lies reach blocks, but never decide anything.
// A failure prints the seed and the command that replays the scenario.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseScenario } from '../../fleet-sim/scenario/parse.js';
import type { Scenario } from '../../fleet-sim/scenario/scenario.js';
import { runScenario, type Report } from '../../fleet-sim/sim/run.js';
import { WorldObserver } from '../../fleet-sim/report/observe-world.js';
import type { RunEvent } from '../../fleet-sim/report/events.js';
import type { WorldFlight } from '../../fleet-sim/flight/world-flight.js';

function load(name: string): { s: Scenario; file: string } {
  const file = `fleet-sim/scenarios/${name}.yaml`;
  return { s: parseScenario(readFileSync(file, 'utf8')), file };
}

const why = (r: Report): string => `seed ${r.seed} of ${r.scenario}: failed=${r.expect.failed.join('; ')} hazards=${JSON.stringify(r.hazards)}\n  replay: ${r.replay}`;

describe('hazards through consensus (deterministic mode)', () => {
  it('hazard-detection: f+1 drones attest the mast, the swarm commits it, the survey is re-routed, the map says when', async () => {
    const { s, file } = load('hazard-detection');
    const events: RunEvent[] = [];
    const r = await runScenario(s, s.seed, { file, onWorld: (w) => void new WorldObserver(w, { onEvent: (e) => events.push(e) }) });
    expect(r.expect.failed, why(r)).toEqual([]);
    const site = r.hazards?.sites[0];
    const f = Math.floor((s.validators - 1) / 3);
    expect(site?.committedAtMs, why(r)).not.toBeNull();
    expect(new Set(site?.attesters).size, why(r)).toBeGreaterThanOrEqual(f + 1);
    expect(site?.sightedBy, why(r)).not.toBeNull();
    expect(r.flight?.replans ?? 0, why(r)).toBeGreaterThan(0);
    expect(r.hazards?.spuriousCells, why(r)).toBe(0);
    const committed = events.find((e): e is Extract<RunEvent, { t: 'hazard' }> => e.t === 'hazard' && e.status === 'committed');
    expect(committed, why(r)).toMatchObject({ id: 'h0', n: 40, e: 40 });
    expect(committed?.at ?? 0, why(r)).toBeGreaterThanOrEqual(site?.committedAtMs ?? Infinity);
    expect(events.some((e) => e.t === 'log' && /re-routed \d+ drones/.test(e.text)), why(r)).toBe(true);
    expect(r.flight?.obstacleStrikes, why(r)).toBe(0);
  }, 180_000);

  it("an admin's hazard.clear takes the committed mast off the swarm's map in fleet-sim too, and says who", async () => {
    // The mast is committed at 29.6 s (seed 21); the clear at 31 s must reach the agents' committed
    // view (world-flight's swarm state), not only the mission machine's set.
    const { s } = load('hazard-detection');
    const cleared: Scenario = {
      ...s,
      name: 'hazard-clear',
      durationMs: 32_000,
      operatorRoles: ['operator', 'admin'],
      workload: [...s.workload.filter((w) => w.kind === 'once'), { kind: 'once', at: 31_000, command: 'hazard.clear', args: { all: true } }],
      expect: { safety: true },
    };
    const got: { flight: WorldFlight | null } = { flight: null };
    const events: RunEvent[] = [];
    const r = await runScenario(cleared, cleared.seed, {
      onWorld: (w) => {
        got.flight = w.ensureFlight();
        new WorldObserver(w, { onEvent: (e) => events.push(e) });
      },
    });
    expect(r.expect.failed, why(r)).toEqual([]);
    const f = got.flight as WorldFlight;
    expect(f.hazardEvents.some((e) => e.type === 'hazard-committed'), why(r)).toBe(true);
    expect(f.hazardEvents.flatMap((e) => (e.type === 'hazard-cleared' ? [e.by] : [])), why(r)).toContain('op');
    // Every cell committed before the clear was cleared; one committed now was committed again after it
    // (the mast still stands, so fresh sightings may).
    const at = f.hazardEvents.findIndex((e) => e.type === 'hazard-cleared' && e.by === 'op');
    const before = new Set(f.hazardEvents.slice(0, at).filter((e) => e.type === 'hazard-committed').map((e) => e.cell.join(',')));
    const clearedCells = new Set(f.hazardEvents.filter((e) => e.type === 'hazard-cleared' && e.by === 'op').map((e) => e.cell.join(',')));
    expect([...before].filter((k) => !clearedCells.has(k)), why(r)).toEqual([]);
    const again = new Set(f.hazardEvents.slice(at).filter((e) => e.type === 'hazard-committed').map((e) => e.cell.join(',')));
    const committedNow = Object.entries(f.swarm.hazards.cells).filter(([, c]) => c.committedAt !== null).map(([k]) => k);
    expect(committedNow.filter((k) => !again.has(k)), why(r)).toEqual([]);
    // The dashboard's map takes the mast off (the page drops a cleared site), and its timeline says who.
    const shown = events.filter((e): e is Extract<RunEvent, { t: 'hazard' }> => e.t === 'hazard' && e.status !== 'detected');
    expect(shown.slice(0, 2).map((e) => [e.id, e.status]), why(r)).toEqual([['h0', 'committed'], ['h0', 'cleared']]);
    expect(shown[1]?.how, why(r)).toMatch(/^by op \(hazard\.clear op\/[0-9a-f]+\)$/);
    expect(events.some((e) => e.t === 'log' && /^hazard h0 cleared by op \(hazard\.clear op\/[0-9a-f]+\) at height \d+$/.test(e.text)), why(r)).toBe(true);
  }, 180_000);

  it('a drone sent straight at a mast nobody has seen backs away short of it (the obstacle reflex), never into it', async () => {
    // A goto issued at 1 s crosses the mast before any attestation can be committed: only the local
    // reflex (agents/builtin/mission-reflexes.ts obstacleToAvoid, the flight layer's too) can stop it,
    // within its stopping distance at 8 m/s. Before, it flew into the mast (the report now counts strikes).
    const { s } = load('hazard-detection');
    const through: Scenario = {
      ...s,
      name: 'hazard-straight-at',
      durationMs: 40_000,
      workload: [{ kind: 'once', at: 1_000, command: 'mission.goto', args: { waypoints: [[40, 25], [40, 60]], altM: 30, speedMps: 8, node: 'v00' } }],
      expect: { safety: true, obstacleStrikesMax: 0 },
    };
    const events: RunEvent[] = [];
    const r = await runScenario(through, through.seed, { onWorld: (w) => void new WorldObserver(w, { onEvent: (e) => events.push(e) }) });
    expect(r.flight?.obstacleStrikes, why(r)).toBe(0);
    expect(r.expect.failed, why(r)).toEqual([]);
    expect(events.some((e) => e.t === 'log' && /^v00: obstacle at [\d.]+ m: backing away$/.test(e.text)), why(r)).toBe(true);
  }, 180_000);

  it('byzantine-fake-hazard: two colluding liars (f = 2) get their lies into blocks but never a fake cell committed', async () => {
    const { s, file } = load('byzantine-fake-hazard');
    const r = await runScenario(s, s.seed, { file });
    expect(r.expect.failed, why(r)).toEqual([]);
    const h = r.hazards;
    expect(h?.lies ?? 0, why(r)).toBeGreaterThan(100);
    expect(h?.liesCommitted ?? 0, why(r)).toBeGreaterThan(100); // the rule, not censorship, stopped them
    expect(h?.spuriousCells, why(r)).toBe(0);
    // The real mast is committed by honest devices alone.
    expect(h?.sites[0]?.committedAtMs, why(r)).not.toBeNull();
    expect(h?.sites[0]?.attesters.filter((a) => a === 5 || a === 6), why(r)).toEqual([]);
  }, 180_000);

  it('a device denying the real mast cannot hide it', async () => {
    const { s } = load('hazard-detection');
    // v02 is not among the mast's attesters with this seed: its denials are all it says about the mast.
    const denier: Scenario = { ...s, name: 'hazard-denied', faults: [{ at: 2_000, kind: 'byzantine', node: 2, behavior: 'deny-hazard' }] };
    const r = await runScenario(denier, denier.seed);
    expect(r.safety.ok, why(r)).toBe(true);
    expect(r.hazards?.lies ?? 0, why(r)).toBeGreaterThan(10);
    expect(r.hazards?.liesCommitted ?? 0, why(r)).toBeGreaterThan(10);
    expect(r.hazards?.sites[0]?.committedAtMs, why(r)).not.toBeNull();
    expect(r.hazards?.sites[0]?.cells ?? 0, why(r)).toBeGreaterThan(0); // still committed at the end
  }, 180_000);

  it('one seed decides the agents too: the same seed gives the same report', async () => {
    const { s } = load('hazard-detection');
    const short = { ...s, durationMs: 28_000 }; // the first attestations come at about 25 s
    const a = await runScenario(short, 5);
    const b = await runScenario(short, 5);
    expect(a.hazards?.attested ?? 0).toBeGreaterThan(0);
    expect({ ...a, wallMs: 0 }).toEqual({ ...b, wallMs: 0 });
  }, 180_000);
});
