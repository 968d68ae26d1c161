// A deterministic run split over threads (fleet-sim/sim/shards.ts): the followers run in worker threads
// in lockstep windows shorter than the broker's latency. It must commit what one thread commits, be a
// function of the seed and the thread count, check agreement across threads, and refuse what it
// cannot split with a reason. Seeds are in every failure message.

import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { hash, initCrypto } from '../../runtime/crypto/sodium.js';
import { utf8 } from '../../runtime/lib/bytes.js';
import type { Manifest } from '../../runtime/manifest/manifest.js';
import type { ChainState } from '../../runtime/consensus/chain-state.js';
import type { CommittedBlock } from '../../runtime/consensus/types.js';
import { signingBytes } from '../../runtime/wire/signing.js';
import { encodeVoteBody } from '../../runtime/wire/vote.js';
import { encodeProof } from '../../runtime/wire/proof.js';
import { Checkers } from '../../fleet-sim/sim/checkers.js';
import { createVerifier, makeFleet } from '../support/fleet-fixture.js';
import type { Report } from '../../fleet-sim/sim/run.js';
import { shardOwners, shardProblem } from '../../fleet-sim/sim/shards.js';
import { World, type WorldOptions } from '../../fleet-sim/sim/world.js';
import type { Scenario } from '../../fleet-sim/scenario/scenario.js';
import { explain, scenario } from './helpers.js';
import { cliEntry, cliRoot, repoRoot } from '../support/run-cli.js';

type Simulator = typeof import('../../fleet-sim/sim/run.js');
/**
 * The simulator these runs use: the run's compiled tree (test/support/built-cli.global.ts) when there is
 * one, so each worker thread loads built JavaScript as `fleet-sim run --threads` does on a device (about
 * a quarter of the CPU of tsx's loader in every worker, over the dozen workers here); the clone's
 * sources under MURMUR_TEST_CLI=source. test/scenarios/scenarios.test.ts splits runs from the sources.
 * Node's own require (ES modules without top-level await, Node >= 20.19): vitest's import() would
 * transform the whole compiled tree again.
 */
const { runScenario } = (cliRoot() === repoRoot ? await import('../../fleet-sim/sim/run.js') : createRequire(import.meta.url)(join(cliRoot(), 'dist/fleet-sim/sim/run.js'))) as Simulator;

async function runOk(s: Scenario, seed = s.seed, opts: WorldOptions = {}): Promise<Report> {
  const r = await runScenario(s, seed, opts);
  expect(r.safety.ok, explain(r)).toBe(true);
  expect(r.liveness.ok, explain(r)).toBe(true);
  return r;
}

/** A report without what may differ between two runs of one world (wall time) or two thread counts. */
function outcome(r: Report): unknown {
  const { wallMs: _w, threads: _t, replay: _r, ...rest } = r;
  return rest;
}

describe('a deterministic run split over threads', () => {
  it('commits on two threads what it commits on one, followers included', async () => {
    const s = scenario({ name: 'split-clean', seed: 4, validators: 4, followers: 14, durationMs: 3_000, workload: [{ kind: 'rate', from: 300, to: 2_700, perSec: 20, command: 'noop' }] });
    const one = await runOk(s, s.seed);
    const two = await runOk(s, s.seed, { threads: 2 });
    expect(two.threads).toBe(2);
    expect(two.replay, 'the replay command names the thread count').toContain('--threads 2');
    expect(one.liveness.commandsCommitted, explain(one)).toBe(one.liveness.commandsSubmitted);
    // The followers send nothing here, so the network's draws fall as on one thread: the same run.
    expect(outcome(two), explain(two)).toEqual(outcome(one));
  });

  it('is the same run again for one seed and thread count, with a crashed proposer, a partition and a lossy broker', async () => {
    const s = scenario({
      name: 'split-faults',
      seed: 9,
      validators: 4,
      followers: 12,
      durationMs: 4_000,
      mqtt: { latencyMs: 3, jitterMs: 2, loss: 0.05, duplicate: 0.02 },
      faults: [
        { at: 1_000, kind: 'crash', node: 'proposer' },
        { at: 1_500, kind: 'partition', groups: [[0, 1, 4, 5, 6], [2, 3, 7, 8, 9, 10, 11, 12, 13, 14, 15]], until: 2_500 },
        { at: 3_000, kind: 'restart', node: 'crashed', wal: 'torn' },
      ],
      workload: [{ kind: 'rate', from: 300, to: 3_500, perSec: 20, command: 'noop' }],
    });
    const a = await runOk(s, s.seed, { threads: 3 });
    const b = await runOk(s, s.seed, { threads: 3 });
    expect(outcome(b), explain(b)).toEqual(outcome(a));
    expect(a.nodes.crashed, explain(a)).toHaveLength(1);
    expect(a.liveness.commandsCommitted, explain(a)).toBeGreaterThan(0.9 * a.liveness.commandsSubmitted);
    // Every honest node, the workers' followers too, reached the height the liveness phase asks for.
    expect(a.liveness.progressAfterHealMs, explain(a)).not.toBeNull();
  });

  it('delivers on time what a validator restarted between windows sends (the liveness phase restarts a crashed one)', async () => {
    // A delivery due before its thread's clock throws (World.deliverAt): this run would fail on one.
    for (const seed of [1, 2, 3]) {
      const s = scenario({
        name: 'split-restart',
        seed,
        validators: 4,
        followers: 12,
        durationMs: 3_000,
        mqtt: { latencyMs: 3, jitterMs: 4, loss: 0, duplicate: 0 },
        faults: [{ at: 1_000, kind: 'crash', node: 'proposer' }], // no restart fault: run.ts restarts it
        workload: [{ kind: 'rate', from: 300, to: 2_700, perSec: 20, command: 'noop' }],
        consensus: { proposeMs: 300, commitWaitMs: 100, gossipMs: 200, followerSources: 0 },
      });
      const r = await runOk(s, seed, { threads: 2 });
      expect(r.nodes.crashed, explain(r)).toHaveLength(1);
    }
  });

  it('spends one step budget over all threads, and a failure of the main thread ends the workers', async () => {
    const s = scenario({ name: 'split-budget', seed: 3, validators: 4, followers: 8, durationMs: 3_000 });
    await expect(runScenario(s, s.seed, { threads: 2, stepsMax: 2_000 })).rejects.toThrow(/step budget of 2000 events ran out/);
    const failing = runScenario(s, s.seed, {
      threads: 2,
      onWorld: (w) => {
        const run = w.runUntil.bind(w);
        w.runUntil = (end, steps) => {
          if (end > 500) throw new Error('boom in the main thread');
          return run(end, steps);
        };
      },
    });
    await expect(failing).rejects.toThrow('boom in the main thread');
  });

  it('draws each thread its own network fates', async () => {
    await initCrypto(); // the worlds here are the sources', whose crypto no run above started
    const s = scenario({ followers: 4, mqtt: { latencyMs: 2, jitterMs: 1, loss: 0.2, duplicate: 0 } });
    const draws = (index: number): number[] => {
      const w = new World(s, 1, { shard: { index, threads: 2 } });
      const prng = (w.net as unknown as { prng: { next(): number } }).prng;
      return [prng.next(), prng.next(), prng.next()];
    };
    expect(draws(1)).not.toEqual(draws(0));
    expect(draws(1)).toEqual(draws(1));
  });

  it("catches a follower on another thread that committed a different block at a height", async () => {
    let world: World | null = null;
    const s = scenario({ name: 'split-check', seed: 2, validators: 4, followers: 6, durationMs: 1_500, workload: [{ kind: 'rate', from: 200, to: 1_200, perSec: 10, command: 'noop' }] });
    const r = await runScenario(s, s.seed, { threads: 2, onWorld: (w) => (world = w) });
    expect(r.safety.ok, explain(r)).toBe(true);
    const w = world as unknown as World;
    const decided = w.checkers.decided.get(3);
    expect(decided, 'height 3 committed').toBeDefined();
    w.checkers.onRemoteCommit('f05', 3, (decided?.hash ?? '').replace(/^./, (c) => (c === '0' ? '1' : '0')));
    w.checkers.onRemoteCommit('f05', 9_999, 'ab'.repeat(32)); // no node here has that height: held, not judged
    expect(w.checkers.violations).toHaveLength(1);
    expect(w.checkers.violations[0]).toMatchObject({ property: 'agreement' });
    expect(w.checkers.violations[0]?.detail).toContain('f05 committed');
  });

  it('gives the main thread fewer followers, for its validators, and every follower one thread', () => {
    const s = scenario({ validators: 16, followers: 984 });
    const owners = shardOwners(s, 2);
    const count = (t: number): number => owners.filter((o) => o === t).length;
    expect(owners.slice(0, 16).every((o) => o === 0)).toBe(true);
    expect(count(0) + count(1)).toBe(1000);
    expect(count(0)).toBeLessThan(count(1) + 16);
    expect(count(0)).toBeGreaterThan(400);
    const three = shardOwners(s, 3);
    expect([0, 1, 2].map((t) => three.filter((o) => o === t).length).every((c) => c > 250)).toBe(true);
  });

  it('refuses, with the reason, a scenario it cannot split', async () => {
    const base = scenario({ followers: 4 });
    expect(shardProblem(base, 2, {})).toBeNull();
    expect(shardProblem(base, 1.5, {})).toMatch(/threads must be an integer/);
    expect(shardProblem(scenario({ followers: 1 }), 2, {})).toMatch(/at least 2 followers/);
    expect(shardProblem({ ...base, faults: [{ at: 1_000, kind: 'crash', node: 6 }] }, 2, {})).toMatch(/aimed at follower 6/);
    expect(shardProblem({ ...base, mqtt: { ...base.mqtt, latencyMs: 0 } }, 2, {})).toMatch(/latency/);
    expect(shardProblem({ ...base, workload: [{ kind: 'fleet-update', at: 1_000, validators: [0, 1, 2, 3], followers: [4] }] }, 2, {})).toMatch(/validator set/);
    expect(shardProblem(base, 2, { crashPoint: { node: 5, point: 3, restartAfterMs: 10, mode: 'intact' } })).toMatch(/crash point on a follower/);
    await expect(runScenario(scenario({ followers: 1 }), 1, { threads: 2 })).rejects.toThrow(/at least 2 followers/);
  });

  it('fleet-sim run --threads: a bad count or a scenario that cannot split exits 2 naming why', () => {
    const run = (args: string[]): { status: number; stderr: string } => {
      try {
        execFileSync('node', [cliEntry('fleet-sim'), 'run', ...args], { encoding: 'utf8', stdio: 'pipe' });
        return { status: 0, stderr: '' };
      } catch (e) {
        const x = e as { status: number; stderr: string };
        return { status: x.status, stderr: x.stderr };
      }
    };
    const bad = run(['fleet-sim/scenarios/fleet-1000.yaml', '--threads', 'two']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('--threads must be a whole number from 1 to 16, got "two"');
    const radio = run(['fleet-sim/scenarios/lossy-radio.yaml', '--threads', '2']);
    expect(radio.status).toBe(2);
    expect(radio.stderr).toContain('lossy-radio.yaml: a scenario with a radio runs on one thread');
    expect(radio.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });

  it("the checkers' certificate memo answers only the same question: these signatures, this block, this validator set", async () => {
    const fx = await makeFleet({ validators: 4 });
    const other = await makeFleet({ validators: 4, seed: 99 });
    const hA = hash(utf8('block A'));
    const hB = hash(utf8('block B'));
    const msg = signingBytes('precommit', fx.fleet, encodeVoteBody({ height: 5, round: 0, blockHash: hA }));
    const cert = { height: 5, round: 0, blockHash: hA, signatures: ['v0', 'v1', 'v2'].map((id) => ({ validator: id, signature: fx.signer(id).sign(msg) })) };
    // The proof is what the memo compares: the block's bytes (here the text the hash is of) and the certificate.
    const commit = (h: Uint8Array): CommittedBlock => ({ block: { height: 5, txs: [], timeMs: 0 }, hash: h, certificate: cert, proof: encodeProof(utf8(h === hA ? 'block A' : 'block B'), cert) }) as unknown as CommittedBlock;
    const chainOf = (m: Manifest): ChainState => ({ manifestAt: () => m }) as unknown as ChainState;
    for (const order of [['A', 'B'], ['B', 'A']]) {
      const ck = new Checkers(fx.fleet, createVerifier(), () => 0);
      for (const x of order) ck.onCommit(`n${x}`, commit(x === 'A' ? hA : hB), chainOf(fx.manifest));
      expect(ck.violations.map((v) => v.property).sort(), `order ${order.join(',')}`).toEqual(['agreement', 'certificate']);
    }
    const ck = new Checkers(fx.fleet, createVerifier(), () => 0);
    ck.onCommit('n1', commit(hA), chainOf(fx.manifest));
    ck.onCommit('n2', commit(hA), chainOf(fx.manifest)); // the same question: not asked again, no violation
    expect(ck.violations).toEqual([]);
    ck.onCommit('n3', commit(hA), chainOf(other.manifest)); // another validator set: checked, and fails
    expect(ck.violations.map((v) => v.detail)).toEqual([expect.stringContaining('n3 committed height 5 with a certificate that does not verify')]);
  });
});
