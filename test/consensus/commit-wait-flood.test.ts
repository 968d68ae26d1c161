// During the commit wait a node keeps the new height's proposal and votes for its start (the `future`
// buffer, 512 messages). The edge asked the core only whether there was room, so one validator's
// distinct votes for the new height each passed to a signature check (512 a height, against two per
// position once the height starts) and filled the buffer, whose overflow then dropped the honest
// validators' proposal and votes unread (protocol review, 2026-12-07). Now the buffer takes a vote as
// the vote set would: not a copy of one held, and at most a sender's second value at a position.

import { describe, expect, it } from 'vitest';
import { initCrypto } from '../../runtime/crypto/sodium.js';
import { sealEnvelope } from '../../runtime/wire/envelope.js';
import { encodeVoteBody } from '../../runtime/wire/vote.js';
import { encodeBlock, encodeProposalBody } from '../../runtime/wire/block.js';
import { proposerOf } from '../../runtime/consensus/proposer.js';
import { World, type SimNode } from '../../fleet-sim/sim/world.js';
import { scenario } from '../sim/helpers.js';

const seed = 7;

describe('a validator flooding the next height during the commit wait', () => {
  it("gets two values per position through, not 512; an honest validator's vote is still taken after it", async () => {
    await initCrypto();
    const w = new World(scenario({ name: 'commit-wait-flood', seed, followers: 0, consensus: { proposeMs: 300, commitWaitMs: 1000, gossipMs: 200 } }), seed, {});
    w.start();
    const n0 = w.nodes[0] as SimNode;
    const shell = () => {
      if (!n0.shell) throw new Error(`seed ${seed}: ${n0.id} is down`);
      return n0.shell;
    };
    for (let t = 500; t < 20_000 && !shell().core.waiting; t += 1) w.queue.runUntil(t, 1e9);
    const core = shell().core;
    expect(core.waiting, `seed ${seed}: ${n0.id} never in a commit wait`).toBe(true);
    const h = core.height;
    const z = w.nodes[1] as SimNode;
    let taken = 0;
    const drops = new Map<string, number>();
    for (let i = 0; i < 600; i++) {
      const value = new Uint8Array(32);
      value[0] = i & 255;
      value[1] = i >> 8;
      const d = shell().receiveOrDrop(sealEnvelope('prevote', core.p.fleet, z.id, encodeVoteBody({ height: h, round: i % 9, blockHash: value }), z.signer));
      if (d === null) taken++;
      else drops.set(d.code, (drops.get(d.code) ?? 0) + 1);
    }
    const said = `seed ${seed}, height ${h}: 600 distinct prevotes from ${z.id}, ${taken} taken, drops ${JSON.stringify([...drops])}`;
    expect(taken, said).toBe(18); // 9 rounds, two values each
    expect(drops.get('not-needed'), said).toBe(600 - 18);
    // A copy of one taken is not taken again.
    const copy = new Uint8Array(32);
    expect(shell().receiveOrDrop(sealEnvelope('prevote', core.p.fleet, z.id, encodeVoteBody({ height: h, round: 0, blockHash: copy }), z.signer))?.code, said).toBe('not-needed');
    const honest = w.nodes[2] as SimNode;
    const vote = sealEnvelope('prevote', core.p.fleet, honest.id, encodeVoteBody({ height: h, round: 0, blockHash: null }), honest.signer);
    expect(shell().receiveOrDrop(vote), said).toBeNull();
    expect(core.future.length, said).toBe(19);
  });

  it("a round's proposer's distinct proposals: the first is kept, the rest dropped unchecked; an honest vote after them is taken", async () => {
    await initCrypto();
    const w = new World(scenario({ name: 'commit-wait-flood', seed, followers: 0, consensus: { proposeMs: 300, commitWaitMs: 1000, gossipMs: 200 } }), seed, {});
    w.start();
    const n0 = w.nodes[0] as SimNode;
    const shell = () => {
      if (!n0.shell) throw new Error('down');
      return n0.shell;
    };
    let h = -1;
    let z: SimNode | undefined;
    let round = -1;
    for (let t = 500; t < 20_000; t += 1) {
      w.queue.runUntil(t, 1e9);
      const c = shell().core;
      if (!c.waiting) continue;
      const vs = c.chain.manifestAt(c.height).validators;
      for (let r = 1; r <= 8 && z === undefined; r++) {
        const p = proposerOf(vs, c.height, r);
        const i = w.nodes.findIndex((n) => n.id === p);
        if (i > 0 && p !== proposerOf(vs, c.height, 0)) {
          z = w.nodes[i] as SimNode;
          round = r;
        }
      }
      if (z) {
        h = c.height;
        break;
      }
    }
    if (!z) throw new Error('no commit wait found');
    const core = shell().core;
    let taken = 0;
    const drops = new Map<string, number>();
    for (let i = 0; i < 600; i++) {
      const blockBytes = encodeBlock({ height: h, parent: new Uint8Array(32), timeMs: 1 + i, proposer: z.id, txs: [], lastCommit: null, manifestHash: new Uint8Array(32), appHash: new Uint8Array(32) });
      const d = shell().receiveOrDrop(sealEnvelope('proposal', core.p.fleet, z.id, encodeProposalBody({ height: h, round, validRound: -1, blockBytes }), z.signer));
      if (d === null) taken++;
      else drops.set(d.code, (drops.get(d.code) ?? 0) + 1);
    }
    const honest = w.nodes.find((n) => n !== z && n !== n0) as SimNode;
    const vote = sealEnvelope('prevote', core.p.fleet, honest.id, encodeVoteBody({ height: h, round: 0, blockHash: null }), honest.signer);
    const d = shell().receiveOrDrop(vote);
    const said = `seed ${seed}, height ${h}: 600 distinct proposals from ${z.id} for round ${round}: ${taken} taken, drops ${JSON.stringify([...drops])}, future ${core.future.length}; an honest prevote after them: ${d === null ? 'taken' : `${d.code}: ${d.message}`}`;
    expect(taken, said).toBe(1);
    expect(drops.get('not-needed'), said).toBe(599);
    expect(d, said).toBeNull();
  });
});
