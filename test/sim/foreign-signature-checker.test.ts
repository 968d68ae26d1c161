// The deterministic simulator wires the copied-key check (runtime/node/shell.ts, onForeignSignature)
// into every node no Byzantine fault names: an honest node never meets a signature with its key that
// it did not make, so a report is a false positive a device would have stopped on, and the checkers
// count it as a violation that fails the run. Here one is forced, to show the wiring: a prevote with
// node 2's key at a position node 2 never signed, handed to node 2.

import { beforeAll, describe, expect, it } from 'vitest';
import { initCrypto } from '../../runtime/crypto/sodium.js';
import { sealEnvelope } from '../../runtime/wire/envelope.js';
import { encodeVoteBody } from '../../runtime/wire/vote.js';
import { World, type SimNode } from '../../fleet-sim/sim/world.js';
import { scenario } from './helpers.js';

beforeAll(async () => {
  await initCrypto();
});

describe("the simulator's copied-key checker", () => {
  it('an honest node that finds a vote with its key it never signed fails the run (seed 3)', () => {
    const w = new World(scenario({ name: 'foreign-checker', durationMs: 3_000 }), 3);
    w.start();
    w.queue.runUntil(1_500, 1e7);
    expect(w.checkers.violations, 'a clean run so far').toEqual([]);
    const n = w.nodes[2] as SimNode;
    if (!n.shell) throw new Error('no node 2');
    const h = n.shell.core.height;
    const forged = sealEnvelope('precommit', w.manifest.body.fleet, n.id, encodeVoteBody({ height: h, round: 7, blockHash: new Uint8Array(32).fill(3) }), n.signer);
    expect(n.shell.receive(forged)).toMatch(/never signed/);
    expect(w.checkers.violations.map((v) => [v.property, v.detail])).toEqual([['double-sign', `${n.id}, honest, found a precommit at ${h}/7 signed with its key that it never signed (it would have stopped)`]]);
  });
});
