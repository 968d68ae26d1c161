// Liveness after GST for a validator left far behind in rounds (review of the consensus core against
// Algorithm 1, 2026-12-07). Four validators, f = 1: C is cut off from the start (it waits in round 0 for
// prevotes that never come), while the other three fail round after round: Z, the Byzantine one, holds
// back its round-0 votes and then votes nil in every round, so A and B reach 2f+1 for nil and never for
// a block. Then the partition heals and Z goes silent. Line 55 (f+1 of the power in a later round moves
// a node there) must bring C to A's and B's round, or nothing commits again: three honest validators
// are exactly the 2f+1 left. A node drops votes more than consensusRoundsAheadMax (8) rounds ahead of
// its own, and C's peers relayed only those, so at a gap of more than 8 rounds C never moved: three
// honest validators stuck at height 0 for good. Now they relay the votes of the furthest round C takes.

import { describe, expect, it } from 'vitest';
import { initCrypto } from '../../runtime/crypto/sodium.js';
import { limits } from '../../runtime/lib/limits.js';
import { decodeCbor } from '../../runtime/wire/cbor.js';
import { decodeEnvelope, sealEnvelope } from '../../runtime/wire/envelope.js';
import { encodeVoteBody, parseVoteBody } from '../../runtime/wire/vote.js';
import { proposerOf } from '../../runtime/consensus/proposer.js';
import { World, type SimNode } from '../../fleet-sim/sim/world.js';
import { scenario } from '../sim/helpers.js';

const seed = 5;

/** The world above, run until A and B are `gapRounds` rounds on, then 120 s after GST: heights and rounds. */
async function afterGst(gapRounds: number): Promise<{ heights: number[]; log: string }> {
  await initCrypto();
  const w = new World(scenario({ name: 'round-gap', seed, followers: 0, workload: [], durationMs: 1e9 }), seed, {});
  // Z's sending, as a Byzantine validator would do it: the world's own send, with Z's votes replaced.
  const world = w as unknown as { send: (n: SimNode, to: string | null, b: Uint8Array) => void };
  const send = world.send.bind(w);
  w.start();
  const node = (i: number): SimNode => w.nodes[i] as SimNode;
  const core = (i: number) => {
    const shell = node(i).shell;
    if (!shell) throw new Error(`${node(i).id} is down`);
    return shell.core;
  };
  const validators = core(0).chain.manifestAt(1).validators;
  const C = w.nodes.findIndex((n) => n.id === proposerOf(validators, 1, 0));
  const others = [0, 1, 2, 3].filter((i) => i !== C);
  const Z = others.find((i) => node(i).id !== proposerOf(validators, 1, 1)) as number; // proposes neither round 0 nor 1
  const [A, B] = others.filter((i) => i !== Z) as [number, number];
  w.net.setPartition([[C], others]);
  let zSilent = false;
  world.send = (n, to, bytes) => {
    if (n.index !== Z) return send(n, to, bytes);
    if (zSilent) return;
    const e = decodeEnvelope(bytes);
    if (!e.ok || e.value.sender !== n.id) return send(n, to, bytes);
    if (e.value.kind === 'proposal') return;
    if (e.value.kind !== 'prevote' && e.value.kind !== 'precommit') return send(n, to, bytes);
    const d = decodeCbor(e.value.body, 1 << 16);
    if (!d.ok) return;
    const v = parseVoteBody(d.value);
    if (v.round === 0) return;
    send(n, to, sealEnvelope(e.value.kind, e.value.fleet, n.id, encodeVoteBody({ height: v.height, round: v.round, blockHash: null }), n.signer));
  };
  let t = 0;
  for (; t < 300_000 && Math.min(core(A).round, core(B).round) < gapRounds; t += 100) w.queue.runUntil(t, 1e9);
  const before = `seed ${seed}, at ${t} ms: C (${node(C).id}) round ${core(C).round}, A round ${core(A).round}, B round ${core(B).round}, heights ${[A, B, C].map((i) => core(i).chain.height).join(',')}`;
  expect(Math.min(core(A).round, core(B).round), before).toBeGreaterThanOrEqual(gapRounds);
  expect(core(C).round, before).toBe(0);
  w.net.heal(); // GST
  zSilent = true;
  for (const end = t + 120_000; t < end; t += 100) w.queue.runUntil(t, 1e9);
  const heights = [A, B, C].map((i) => core(i).chain.height);
  return { heights, log: `${before}; 120 s after GST: C round ${core(C).round}, A ${core(A).round}, B ${core(B).round}, heights ${heights.join(',')}` };
}

describe('an honest validator far behind in rounds after GST', () => {
  it(`a gap within the round window (6 of ${limits.consensusRoundsAheadMax}): the three honest validators commit again`, async () => {
    const r = await afterGst(6);
    expect(Math.min(...r.heights), r.log).toBeGreaterThan(10);
  });

  it(`a gap past it (14 rounds): C climbs to the others' round and the three commit again`, async () => {
    const r = await afterGst(14);
    expect(Math.min(...r.heights), r.log).toBeGreaterThan(10);
  });
});
