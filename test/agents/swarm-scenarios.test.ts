// Agent scenarios in the deterministic agent world (agents/sim/world.ts): n = 4 validators (f = 1)
// and followers flying past a real obstacle, one Byzantine device lying about hazards. Every failure
// message carries the seed; replay with MURMUR_AGENT_SEED=<seed> npx vitest run test/agents.

import { beforeAll, describe, expect, it } from 'vitest';
import type { Agent } from '../../agents/api/agent.js';
import { cellOf } from '../../agents/builtin/hazard-detect.js';
import { AgentWorld, type SimDeviceSpec } from '../../agents/sim/world.js';
import type { Obstacle } from '../../agents/sim/sensors.js';
import { initCrypto } from '../../runtime/crypto/sodium.js';

beforeAll(async () => {
  await initCrypto();
});

const seed = Number(process.env.MURMUR_AGENT_SEED ?? 7);
const obstacle: Obstacle = { northM: 42.5, eastM: 2.5, radiusM: 1.5 }; // fills the middle of cell [8, 0]
const realCell = cellOf(obstacle.northM, obstacle.eastM, 5);
const lane = (eastM: number, speedMps = 4): SimDeviceSpec => ({ start: { northM: 0, eastM }, waypoints: [{ northM: 90, eastM }], speedMps, scanFaults: { spuriousP: 0.01, dropoutP: 0.02, noiseM: 0.05 } });

/** When a device flying its straight lane north first comes within 20 m of the obstacle. */
function inRangeMs(d: SimDeviceSpec): number {
  const lateral = Math.abs(d.start.eastM - obstacle.eastM);
  return ((obstacle.northM - Math.sqrt(Math.max(0, 400 - lateral * lateral))) / d.speedMps) * 1000;
}

/** A cell is real when some obstacle overlaps it. */
function cellIsReal(cell: readonly [number, number], cellM = 5): boolean {
  const n0 = cell[0] * cellM;
  const e0 = cell[1] * cellM;
  const dn = Math.max(n0 - obstacle.northM, 0, obstacle.northM - (n0 + cellM));
  const de = Math.max(e0 - obstacle.eastM, 0, obstacle.eastM - (e0 + cellM));
  return Math.hypot(dn, de) <= obstacle.radiusM;
}

/** A cell that holds the obstacle or touches one that does (Chebyshev distance 1). */
function nearReal(cell: readonly [number, number]): boolean {
  for (let dn = -1; dn <= 1; dn++) for (let de = -1; de <= 1; de++) if (cellIsReal([cell[0] + dn, cell[1] + de])) return true;
  return false;
}

describe(`hazards with a Byzantine device (n=4, f=1, seed ${seed})`, () => {
  it('fake hazards are never committed away from the obstacle, a denied real hazard is committed anyway and stays, within a stated bound', async () => {
    const honest = [lane(-9), lane(12), lane(-14), lane(9, 3), lane(15, 5)];
    const world = new AgentWorld({
      seed,
      validators: 4,
      followers: 2,
      obstacles: [obstacle],
      devices: [...honest.slice(0, 3), { ...lane(30), byzantine: ['fake-hazards', 'deny-hazards'] }, ...honest.slice(3)],
    });
    await world.start();
    await world.run(40_000);
    await world.stop();
    const committed = world.hazardEvents.filter((e) => e.type === 'hazard-committed');
    const msg = `seed ${seed}: ${JSON.stringify(world.hazardEvents.map((e) => [e.type, e.cell, e.atMs, e.attesters]))}`;
    // Safety: nothing the Byzantine device invented is committed away from the obstacle. Neighbouring
    // cells corroborate each other (agents/swarm/hazard-commit.ts), so a liar naming the cell next to a
    // real sighting can add that cell, never one further away.
    for (const e of committed) expect(nearReal(e.cell), msg).toBe(true);
    for (const e of committed) expect(e.attesters.filter((a) => a !== 'v3').length, msg).toBeGreaterThanOrEqual(world.f + 1 - 1);
    // The real obstacle is committed despite v3 denying it every second, and never cleared.
    const real = committed.find((e) => e.cell[0] === realCell[0] && e.cell[1] === realCell[1]);
    expect(real, msg).toBeDefined();
    expect(world.hazardEvents.some((e) => e.type === 'hazard-cleared'), msg).toBe(false);
    // Bound: committed within 5 s of the moment a second honest device came within sensor range (20 m).
    const inRangeAtMs = honest.map(inRangeMs).sort((a, b) => a - b)[1]!;
    expect(real!.atMs - inRangeAtMs, msg).toBeLessThanOrEqual(5_000);
    console.log(`seed ${seed}: obstacle cell ${realCell} committed at ${real!.atMs} ms by ${real!.attesters.join(',')}; ${committed.length} committed cells, all within one cell of it`);
  });

  it('the same seed gives the same committed history', async () => {
    const run = async (): Promise<string> => {
      const w = new AgentWorld({ seed, validators: 4, followers: 0, obstacles: [obstacle], devices: [lane(-6), lane(6), lane(-10), { ...lane(20), byzantine: ['fake-hazards'] }] });
      await w.start();
      await w.run(15_000);
      await w.stop();
      return JSON.stringify(w.hazardEvents);
    };
    expect(await run()).toBe(await run());
  });
});

describe(`local reflexes (seed ${seed})`, () => {
  it('a device that loses its links holds after T (5 s), then returns to launch after T2 (30 s)', async () => {
    const world = new AgentWorld({ seed, validators: 4, followers: 0, obstacles: [], devices: [{ ...lane(0, 2), linkDown: { fromMs: 10_000, untilMs: 120_000 } }, lane(-20, 2), lane(20, 2), lane(40, 2)] });
    await world.start();
    await world.run(50_000);
    await world.stop();
    const d = world.devices[0]!;
    const acts = d.actions.map((a) => `${a.action}@${a.atMs}`);
    const hold = d.actions.find((a) => a.action === 'hold');
    const rtl = d.actions.find((a) => a.action === 'return-to-launch');
    expect(hold, `seed ${seed}: ${acts}`).toBeDefined();
    expect(rtl, `seed ${seed}: ${acts}`).toBeDefined();
    // The last block it heard came at or just before 10 s, so the reflexes fire within one tick of T and T2.
    expect(hold!.atMs).toBeGreaterThanOrEqual(14_500);
    expect(hold!.atMs).toBeLessThanOrEqual(15_100);
    expect(rtl!.atMs).toBeGreaterThanOrEqual(39_500);
    expect(rtl!.atMs).toBeLessThanOrEqual(40_100);
    expect(d.mode === 'return-to-launch' || d.mode === 'land').toBe(true);
    for (const other of world.devices.slice(1)) expect(other.actions.filter((a) => a.action !== 'velocity'), `seed ${seed}`).toEqual([]);
  });

  it('a motor failure (severe telemetry anomaly) lands the device at once and its degraded attestation is committed', async () => {
    const world = new AgentWorld({ seed, validators: 4, followers: 0, obstacles: [], devices: [lane(0, 2), { ...lane(-20, 2), telemetry: { fromMs: 6_000, condition: 'severe', fault: 'motor' } }, lane(20, 2), lane(40, 2)] });
    await world.start();
    await world.run(12_000);
    await world.stop();
    const sick = world.devices[1]!;
    const land = sick.actions.find((a) => a.action === 'land');
    expect(land, `seed ${seed}: ${JSON.stringify(sick.actions)}`).toBeDefined();
    // At once: within 2 s of the fault (the anomaly window is 2 s), without waiting for any block.
    expect(land!.atMs - 6_000, `seed ${seed}`).toBeLessThanOrEqual(2_000);
    expect(land!.agent).toBe('telemetry-anomaly');
    const degraded = world.committedOther.find((a) => a.body.obs.type === 'degraded' && a.body.obs.severity === 'severe' && a.sender === sick.id);
    expect(degraded?.body.obs, `seed ${seed}`).toMatchObject({ type: 'degraded', device: sick.id, severity: 'severe' });
    for (const d of world.devices) if (d !== sick) expect(d.actions.filter((a) => a.action === 'land'), `seed ${seed}: false alarm on ${d.id}`).toEqual([]);
  });

  it('a crashing agent is isolated: restarted with growing backoff, reported, and the other agents keep working', async () => {
    let starts = 0;
    const flaky = (): Agent<unknown>[] => [
      { name: 'flaky', inputs: ['range'], periodMs: 100, budgetMs: 5, start: () => (starts++, {}), tick: () => { throw new Error('flaky agent exploded'); } },
    ];
    const world = new AgentWorld({ seed, validators: 4, followers: 0, obstacles: [], devices: [{ ...lane(0, 2), extraAgents: flaky, linkDown: { fromMs: 5_000, untilMs: 60_000 } }, lane(-20, 2), lane(20, 2), lane(40, 2)] });
    await world.start();
    await world.run(20_000);
    const d = world.devices[0]!;
    const st = Object.fromEntries(d.scheduler.status().map((s) => [s.name, s]));
    await world.stop();
    const crashes = d.reports.filter((r) => r.kind === 'crashed' && r.agent === 'flaky');
    expect(crashes.length).toBeGreaterThanOrEqual(4);
    expect(crashes[0]!.message).toContain('flaky agent exploded');
    const gaps = crashes.slice(1).map((c, i) => c.atMs - crashes[i]!.atMs);
    for (let i = 1; i < Math.min(gaps.length, 5); i++) expect(gaps[i]!).toBeGreaterThan(gaps[i - 1]!); // exponential backoff
    expect(starts).toBe(1 + st.flaky!.restarts);
    expect(st.flaky!.status).toBe('backoff');
    // The node kept flying: the link-loss hold still fired on time and the other agents ticked throughout.
    expect(d.actions.find((a) => a.action === 'hold')?.atMs).toBeLessThanOrEqual(10_100);
    expect(st['mission-reflexes']!.ticks).toBeGreaterThanOrEqual(199);
    expect(st['mission-reflexes']!.restarts).toBe(0);
    expect(st['hazard-detect']!.engine).toBe('pure-ts');
    expect(st.flaky!.lastError).toContain('exploded');
  });
});
