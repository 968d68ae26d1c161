// Light followers (runtime/consensus/light-follower.ts) in the deterministic simulator: they take each
// block and its certificate from a few validators instead of hearing every vote, stay on the chain,
// and keep up when their sources crash or fall silent. Seeds are in every failure message.

import { describe, expect, it } from 'vitest';
import type { Fault } from '../../fleet-sim/scenario/scenario.js';
import { runScenario, type Report } from '../../fleet-sim/sim/run.js';
import type { World, WorldOptions } from '../../fleet-sim/sim/world.js';
import { explain, scenario } from '../sim/helpers.js';

async function run(over: Parameters<typeof scenario>[0], opts: WorldOptions = {}): Promise<{ r: Report; w: World }> {
  let world: World | null = null;
  const r = await runScenario(scenario(over), over.seed ?? 1, { ...opts, onWorld: (w) => (world = w) });
  expect(r.safety.ok, explain(r)).toBe(true);
  expect(r.liveness.ok, explain(r)).toBe(true);
  return { r, w: world as unknown as World };
}

const chainHeight = (w: World, i: number): number => w.nodes[i]?.shell?.core.chain.height ?? -1;
const sourcesOf = (w: World, i: number): readonly string[] => w.nodes[i]?.shell?.core.light.sources ?? [];

describe('light followers', () => {
  it('stay on the chain while the broker carries them a few messages a height instead of every vote', async () => {
    const over = { name: 'light', seed: 3, validators: 4, followers: 6 };
    const light = await run(over);
    const full = await run({ ...over, consensus: { proposeMs: 300, commitWaitMs: 100, gossipMs: 200, followerSources: 0 } });
    const why = explain(light.r);
    const top = Math.max(...light.w.nodes.map((_, i) => chainHeight(light.w, i)));
    for (let i = 4; i < 10; i++) {
      expect(sourcesOf(light.w, i), `follower ${i}: ${why}`).toHaveLength(2);
      expect(chainHeight(light.w, i), `follower ${i}: ${why}`).toBeGreaterThanOrEqual(top - 1);
      expect(sourcesOf(full.w, i), 'followerSources 0 makes full followers').toHaveLength(0);
    }
    expect(light.r.liveness.commandsCommitted, why).toBe(light.r.liveness.commandsSubmitted);
    // Six of ten devices hear two announcements a height instead of ~4 proposals/votes per validator.
    expect(light.w.net.delivered, why).toBeLessThan(0.6 * full.w.net.delivered);
  });

  it('spread over the validators: rendezvous order gives each follower different sources', async () => {
    const { w, r } = await run({ name: 'spread', seed: 5, validators: 16, followers: 48, durationMs: 1_500, workload: [] });
    const uses = new Map<string, number>();
    for (let i = 16; i < 64; i++) for (const v of sourcesOf(w, i)) uses.set(v, (uses.get(v) ?? 0) + 1);
    expect([...uses.values()].reduce((a, b) => a + b, 0), explain(r)).toBe(96);
    expect(uses.size, `validators used as sources: ${JSON.stringify([...uses])}`).toBeGreaterThanOrEqual(13);
    expect(Math.max(...uses.values()), `validators used as sources: ${JSON.stringify([...uses])}`).toBeLessThanOrEqual(16);
  });

  it('keep up when both their sources crash: block sync after the stall, then new sources', async () => {
    const base = { name: 'sources-crash', seed: 7, validators: 7, followers: 3, durationMs: 10_000 };
    const first = await run(base);
    const follower = 7;
    const ids = first.w.nodes.map((n) => n.id);
    const victims = sourcesOf(first.w, follower).map((id) => ids.indexOf(id));
    expect(victims, explain(first.r)).toHaveLength(2);
    const faults: Fault[] = victims.map((node) => ({ at: 3_000, kind: 'crash', node }));
    const { r, w } = await run({ ...base, faults });
    const why = `${explain(r)}\n  crashed sources ${victims.join(', ')} of follower ${follower}`;
    const light = w.nodes[follower]?.shell?.core.light;
    expect(light?.rotations ?? 0, why).toBeGreaterThan(0);
    expect(light?.sources.some((s) => victims.includes(ids.indexOf(s))), why).toBe(false);
    const top = Math.max(...w.nodes.map((_, i) => chainHeight(w, i)));
    expect(chainHeight(w, follower), why).toBeGreaterThanOrEqual(top - 1);
  });

  it('keep up with one source that goes silent (Byzantine: withholds its blocks and votes)', async () => {
    const base = { name: 'source-silent', seed: 9, validators: 4, followers: 2, durationMs: 10_000, consensus: { proposeMs: 300, commitWaitMs: 100, gossipMs: 200, followerSources: 1 } };
    const first = await run(base);
    const follower = 4;
    const ids = first.w.nodes.map((n) => n.id);
    const source = ids.indexOf(sourcesOf(first.w, follower)[0] as string);
    expect(source, explain(first.r)).toBeGreaterThanOrEqual(0);
    const { r, w } = await run({ ...base, faults: [{ at: 2_000, kind: 'byzantine', node: source, behavior: 'silent' }] });
    const why = `${explain(r)}\n  silent source ${source} of follower ${follower}`;
    expect(w.nodes[follower]?.shell?.core.light.sources, why).not.toContain(ids[source]);
    const top = Math.max(...w.nodes.map((_, i) => (i === source ? -1 : chainHeight(w, i))));
    expect(chainHeight(w, follower), why).toBeGreaterThanOrEqual(top - 1);
  });
});
