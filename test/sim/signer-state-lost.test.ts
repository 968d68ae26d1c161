// A validator restarted without its signer state (the file deleted after a crash, a data directory
// restored from a backup) cannot know what it signed: README and device-config.md promise it stops
// before its first vote while its last precommits are in blocks proposed within
// consensus.ownVotesWindowMs (10 s) of its clock. In the deterministic simulator a fast fleet commits
// about ten heights a second: node 3 crashes, loses signer-state, and is back 1 s later, by which time
// the three others committed more than four heights without it. The check looked at the last four
// blocks only, found none of node 3's precommits there and let it vote; it must look at every held
// block in the window. The simulator counts a report by an honest node as a double-sign violation
// (foreign-signature-checker.test.ts), which is here the stop a device would make; with its signer
// state kept, the same crash and restart reports nothing (no false positive from the wider look).

import { beforeAll, describe, expect, it } from 'vitest';
import { initCrypto } from '../../runtime/crypto/sodium.js';
import { signerStateFile } from '../../runtime/node/signer-guard.js';
import { World, type SimNode } from '../../fleet-sim/sim/world.js';
import { scenario } from './helpers.js';

beforeAll(async () => {
  await initCrypto();
});

function crashAndRestart(seed: number, loseSignerState: boolean): { world: World; node: SimNode; heightsWithout: number } {
  const w = new World(scenario({ name: 'signer-state-lost', durationMs: 8_000, followers: 0 }), seed);
  w.start();
  w.queue.runUntil(2_000, 1e7);
  expect(w.checkers.violations, `seed ${seed}: a clean run so far`).toEqual([]);
  const n = w.nodes[3] as SimNode;
  const others = w.nodes[0] as SimNode;
  w.crash(n, 'intact');
  if (loseSignerState) n.storage.forget((name) => name !== signerStateFile);
  const h0 = w.heightOf(others) ?? 0;
  w.queue.runUntil(3_000, 1e7);
  const heightsWithout = (w.heightOf(others) ?? 0) - h0;
  w.restart(n);
  w.queue.runUntil(5_000, 1e7);
  return { world: w, node: n, heightsWithout };
}

describe('a validator back 1 s after a crash, in a fleet that committed on without it', () => {
  for (const seed of [1, 2, 3]) {
    it(`without its signer state: stopped before its first vote (seed ${seed})`, () => {
      const { world, node, heightsWithout } = crashAndRestart(seed, true);
      // More than the four blocks the check used to look at were committed without it.
      expect(heightsWithout, `seed ${seed}`).toBeGreaterThan(4);
      const reports = world.checkers.violations.filter((v) => v.property === 'double-sign' && v.detail.startsWith(`${node.id}, honest, found a precommit`));
      expect(reports.length, `seed ${seed}: replay with new World(scenario(...), ${seed}); violations ${JSON.stringify(world.checkers.violations.slice(0, 3))}`).toBeGreaterThan(0);
    });

    it(`with its signer state: runs on, nothing reported (seed ${seed})`, () => {
      const { world, node } = crashAndRestart(seed, false);
      expect(world.checkers.violations, `seed ${seed}`).toEqual([]);
      expect(world.heightOf(node), `seed ${seed}`).toBeGreaterThan(0);
    });
  }
});
