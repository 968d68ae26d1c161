// Light followers (runtime/consensus/light-follower.ts) in the deterministic simulator: they take each
// block and its certificate from a few validators instead of hearing every vote, stay on the chain,
// and keep up when their sources crash or fall silent. Seeds are in every failure message.

import { describe, expect, it } from 'vitest';
import type { Fault } from '../../fleet-sim/scenario/scenario.js';
import { runScenario, type Report } from '../../fleet-sim/sim/run.js';
import { World, type WorldOptions } from '../../fleet-sim/sim/world.js';
import { createConsensus, step, type ConsensusState } from '../../runtime/consensus/core.js';
import { askForBlocks, lightStallGossips, noteBlockFrom } from '../../runtime/consensus/light-follower.js';
import { limits } from '../../runtime/lib/limits.js';
import { defaultConsensusConfig, type Effect, type Input } from '../../runtime/consensus/types.js';
import { hash, initCrypto } from '../../runtime/crypto/sodium.js';
import { decodeCbor } from '../../runtime/wire/cbor.js';
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
    // The announcements kept them up, not the fallback: no follower stalled, asked or changed sources.
    for (let i = 4; i < 10; i++) expect(light.w.nodes[i]?.shell?.core.light, `follower ${i}: ${why}`).toMatchObject({ rotations: 0, asks: 0 });
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
    // Looked at before the run's end restarts the crashed (then the follower may take them back).
    const w = new World(scenario({ ...base, faults }), base.seed, {});
    w.start();
    w.queue.runUntil(9_500, 1e8);
    const why = `seed ${base.seed} of ${base.name} at 9.5 s (crashed at 3 s: sources ${victims.join(', ')} of follower ${follower}; replay: npx fleet-sim run <scenario> --seed ${base.seed})`;
    expect(w.checkers.violations, why).toEqual([]);
    const light = w.nodes[follower]?.shell?.core.light;
    expect(light?.rotations ?? 0, why).toBeGreaterThan(0);
    expect(light?.sources.some((s) => victims.includes(ids.indexOf(s))), why).toBe(false);
    const top = Math.max(...w.nodes.map((_, i) => chainHeight(w, i)));
    expect(top, why).toBeGreaterThan(30);
    expect(chainHeight(w, follower), why).toBeGreaterThanOrEqual(top - 1);
  });

  it('catch up after a restart 20 heights behind in one gossip interval per answer, not after the stall rule (seeds 1-5)', async () => {
    await initCrypto();
    for (const seed of [1, 2, 3, 4, 5]) {
      const w = new World(scenario({ name: 'restart-behind', durationMs: 10_000, followers: 1, faults: [{ at: 2_000, kind: 'crash', node: 4 }, { at: 4_000, kind: 'restart', node: 4, wal: 'intact' }] }), seed);
      w.start();
      w.queue.runUntil(4_000, 1e7);
      const target = chainHeight(w, 0);
      const behind = target - chainHeight(w, 4); // restarted from its WAL, at the height it crashed at
      let t = 4_000;
      for (; t < 8_000 && chainHeight(w, 4) < target; t += 5) w.queue.runUntil(t, 1e7);
      // The gap is three answers of limits.syncBlocksPerAnswerMax blocks, one gossip interval (200 ms)
      // apart. Waiting for the stall rule first took 1,205-1,210 ms.
      expect(behind, `seed ${seed}: more than two answers behind`).toBeGreaterThan(limits.syncBlocksPerAnswerMax * 2);
      expect(t - 4_000, `seed ${seed}: follower back at height ${target}`).toBeLessThanOrEqual(600);
    }
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

describe('a follower\'s core, step by step', () => {
  async function followerCore(): Promise<{ core: ConsensusState; validators: string[] }> {
    await initCrypto();
    const w = new World(scenario({ name: 'core', followers: 1 }), 1);
    const core = createConsensus({ id: 'f00', fleet: w.fleet, genesis: w.manifest, config: defaultConsensusConfig, deps: { hash, verify: (sig, msg, pk) => w.verifier.verify(sig, msg, pk) } });
    return { core, validators: w.manifest.validators.map((v) => v.id) };
  }
  const requests = (fx: readonly Effect[]): (string | null)[] => fx.flatMap((e) => (e.type === 'send' && e.kind === 'sync-request' ? [e.to] : []));
  const follows = (fx: readonly Effect[]): (readonly string[] | null)[] => fx.flatMap((e) => (e.type === 'follow' ? [e.sources] : []));

  it('asks one peer ahead at a time, in turn, and everyone every third time or when it knows of none', async () => {
    const { core } = await followerCore();
    const none: Effect[] = [];
    askForBlocks(core, none);
    expect(requests(none)).toEqual([null]);
    core.light.asks = 0;
    core.peers.set('v02', { height: 9, round: 0 });
    core.peers.set('v00', { height: 1, round: 0 }); // not ahead of height 1
    core.peers.set('v01', { height: 7, round: 0 });
    const fx: Effect[] = [];
    for (let i = 0; i < 6; i++) askForBlocks(core, fx);
    expect(requests(fx)).toEqual(['v01', 'v02', null, 'v02', 'v01', null]);
  });

  it('asks the sender of an announcement that arrived ahead of its chain for the heights between, at most once per gossip interval; not for a block-sync answer, and never a validator', async () => {
    const { core } = await followerCore();
    step(core, { type: 'start', now: 1_000 });
    // Only the heights matter before a block ahead is kept: its certificate is checked when its turn comes.
    const ahead = (from: string, height: number, now: number, announced = true): Effect[] =>
      step(core, { type: 'sync-response', now, from, block: { block: { height }, bytes: new Uint8Array(0), hash: new Uint8Array(32) }, txs: [], certificate: { height, round: 0, blockHash: new Uint8Array(32), signatures: [] }, announced } as unknown as Input).effects;
    const gossipMs = defaultConsensusConfig.gossipMs;
    const asked = (fx: readonly Effect[]) => fx.flatMap((e) => (e.type === 'send' && e.kind === 'sync-request' ? [`${e.to} from ${(decodeCbor(e.body, 64) as { ok: true; value: [number] }).value[0]}`] : []));
    expect(asked(ahead('v01', 5, 2_000, false)), 'an answer of block sync').toEqual([]);
    expect(asked(ahead('v01', 5, 2_000))).toEqual([`v01 from ${core.height}`]);
    expect(asked(ahead('v02', 6, 2_000 + gossipMs - 1)), 'within the interval').toEqual([]);
    expect(asked(ahead('v02', 7, 2_000 + gossipMs))).toEqual([`v02 from ${core.height}`]);
    // A validator (or a follower hearing every vote) learns heights from statuses instead: it never asks so.
    const w = new World(scenario({ name: 'core', followers: 1 }), 1);
    const validator = createConsensus({ id: 'v01', fleet: w.fleet, genesis: w.manifest, config: defaultConsensusConfig, deps: { hash, verify: (sig, msg, pk) => w.verifier.verify(sig, msg, pk) } });
    step(validator, { type: 'start', now: 1_000 });
    const block = { block: { height: 5 }, bytes: new Uint8Array(0), hash: new Uint8Array(32) };
    const fx = step(validator, { type: 'sync-response', now: 2_000, from: 'v02', block, txs: [], certificate: { height: 5, round: 0, blockHash: new Uint8Array(32), signatures: [] }, announced: true } as unknown as Input).effects;
    expect(asked(fx), 'a validator').toEqual([]);
  });

  it('run no round timers and start no height early for a command: they vote in no round and propose nothing', async () => {
    const { core } = await followerCore();
    const timers = (fx: readonly Effect[]) => fx.flatMap((e) => (e.type === 'schedule' ? [e.timer] : []));
    expect(timers(step(core, { type: 'start', now: 1_000 }).effects)).toEqual(['gossip']);
    // In a running fleet: the timers that reach each follower, a height at a time, while commands arrive.
    const w = new World(scenario({ name: 'quiet', seed: 5, validators: 4, followers: 3, durationMs: 3_000, workload: [{ kind: 'rate', from: 100, to: 2_900, perSec: 20, command: 'noop' }] }), 5);
    w.start();
    const fired = new Map<string, number>();
    for (const n of w.nodes.slice(4)) {
      const shell = n.shell;
      if (!shell) throw new Error(`${n.id} down`);
      const input = shell.input.bind(shell);
      shell.input = (i: Input) => {
        if (i.type === 'timeout') fired.set(i.timer, (fired.get(i.timer) ?? 0) + 1);
        input(i);
      };
    }
    expect(w.queue.runUntil(3_000, 1e8)).toBe(true);
    const heights = chainHeight(w, 4);
    expect(heights).toBeGreaterThan(15);
    expect(w.checkers.violations).toEqual([]);
    expect(fired.get('propose') ?? 0).toBe(0);
    // One next-height timer per commit (its commit wait), none more for the commands that came meanwhile.
    expect(fired.get('next-height') ?? 0).toBeLessThanOrEqual(3 * (heights + 2));
    expect(fired.get('gossip') ?? 0).toBeGreaterThan(0);
  });

  it('takes an unverified far height as a claim a few heights ahead, and not as its source delivering', async () => {
    const { core } = await followerCore();
    step(core, { type: 'start', now: 1_000 });
    const source = core.light.sources[0] as string;
    const heard = core.light.heardAtMs;
    noteBlockFrom(core, source, 1_000_000, false, 5_000);
    expect(core.peers.get(source)?.height).toBe(core.chain.height + 2 + limits.syncAheadBlocksMax);
    expect(core.light.heardAtMs).toBe(heard);
  });

  it('says where to listen at start; stalled, asks after 2, 4, 8 ... gossip intervals; moves to new sources only once another peer delivered', async () => {
    const { core, validators } = await followerCore();
    const gossipMs = defaultConsensusConfig.gossipMs;
    let now = 1_000_000;
    const start = step(core, { type: 'start', now }).effects;
    const first = follows(start);
    expect(first).toHaveLength(1);
    expect(first[0]).toHaveLength(2);
    for (const v of first[0] ?? []) expect(validators).toContain(v);
    // No block ever arrives (a fleet-wide stall): the requests come at growing intervals, and the
    // sources stay (they are no more silent than anyone).
    const askedAt: number[] = [];
    const sources: (readonly string[] | null)[] = [];
    const tick = (): Effect[] => {
      now += gossipMs;
      return step(core, { type: 'timeout', now, timer: 'gossip', height: core.height, round: 0 }).effects;
    };
    for (let t = 1; t <= 50; t++) {
      const fx = tick();
      if (requests(fx).length > 0) askedAt.push(t);
      sources.push(...follows(fx));
    }
    expect(askedAt).toEqual([lightStallGossips + 1, 3 + 4, 7 + 8, 15 + 16, 31 + 16]); // then every 16 (lightStallGossipsMax)
    expect(sources).toEqual([]);
    expect(core.light.rotations).toBe(0);
    // Block sync applied a block from a peer that is not a source (what noteBlockFrom records): the
    // chain went on without the sources, so the next stalled tick moves to the next two in its order,
    // and those get a stall's time before the next move.
    core.light.othersAtMs = now;
    const moved = follows(tick());
    expect(moved).toHaveLength(1);
    expect(moved[0], 'the next two validators in its order').not.toEqual(first[0]);
    expect(core.light.rotations).toBe(1);
    expect(follows(tick())).toEqual([]);
  });
});
