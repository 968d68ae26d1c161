// The simulated world's signature memo (runtime/crypto/memo-verifier.ts, tested in
// test/crypto/memo-verifier.test.ts): every signer of the world seeds it, so a signature made in the
// world is never checked for real; without it each node remembers what a device does.

import { beforeAll, describe, expect, it } from 'vitest';
import { initCrypto } from '../../runtime/crypto/sodium.js';
import { scenario } from './helpers.js';
import { World } from '../../fleet-sim/sim/world.js';

beforeAll(async () => {
  await initCrypto();
});

describe('the world counts its signature work (bench:sim prints the floor it sets)', () => {
  const s = scenario({ name: 'crypto-count', seed: 5, durationMs: 2_000, followers: 0, workload: [{ kind: 'rate', from: 200, to: 1_800, perSec: 20, command: 'noop' }] });
  const run = (memo: boolean): World['crypto'] & { byNodes: number } => {
    const w = new World(s, s.seed, { memo });
    w.start();
    w.queue.runUntil(s.durationMs, 1e7);
    expect(w.checkers.violations, `seed ${s.seed}`).toEqual([]);
    return { ...w.crypto, byNodes: w.nodeVerifications };
  };

  it('with the memo no signature the world made is checked for real; without it every receiver checks it', () => {
    const memo = run(true);
    const every = run(false);
    // The same seed makes the same messages either way.
    expect(every.signed).toBe(memo.signed);
    expect(memo.signed).toBeGreaterThan(100);
    // Each signature is remembered as its signer makes it, so none is checked for real.
    expect(memo.verified).toBe(0);
    // Each of 4 validators hears the other 3 (and the checkers look too).
    expect(every.verified).toBeGreaterThan(memo.signed * 3);
    // Without the world's memo a node remembers what a device does: it checks none of its own
    // signatures and no precommit again in the next block's certificate, so at most the other three
    // validators check each signature (the operator's commands by all four): 3.1 checks per signature
    // here, 4.7 when nodes remembered nothing.
    expect(every.byNodes).toBeLessThan(every.signed * 3.5);
  });
});
