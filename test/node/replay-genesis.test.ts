// A node replays its WAL from the genesis it is given. Given another than the chain's (a device whose
// data directory kept none, started with a newer manifest), it decided old blocks under the newer set
// and computed another state for good; now the first replayed block that names another manifest than
// the one in force stops the replay, naming both. The WAL comes from the deterministic simulator.

import { describe, expect, it } from 'vitest';
import { createVerifier, initCrypto } from '../../runtime/crypto/sodium.js';
import { ok } from '../../runtime/lib/result.js';
import type { Manifest } from '../../runtime/manifest/manifest.js';
import { defaultConsensusConfig } from '../../runtime/consensus/types.js';
import { GenesisMismatchError, NodeShell } from '../../runtime/node/shell.js';
import { World, type SimNode } from '../../fleet-sim/sim/world.js';
import { scenario } from '../sim/helpers.js';

/** A shell over `n`'s disk with `genesis`, booted (nothing sent, no timer fired). */
function bootOver(w: World, n: SimNode, genesis: Manifest): NodeShell {
  const shell = new NodeShell({
    id: n.id,
    genesis,
    config: defaultConsensusConfig,
    clock: { now: () => w.now() },
    scheduler: { at: () => {} },
    storage: n.storage,
    send: () => {},
    signer: n.signer,
    verifier: createVerifier(),
    logger: { info: () => {}, warn: () => {}, error: () => {} },
    app: { commit: () => {}, exportState: () => new Uint8Array(0), importState: () => ok(undefined) },
  });
  shell.boot();
  return shell;
}

describe('WAL replay from a genesis other than the chain\'s', () => {
  it('v03 becomes a follower in epoch 2; v01 replayed with epoch 2 as genesis stops at block 1, with epoch 1 it rebuilds the chain', async () => {
    await initCrypto();
    const w = new World(scenario({ name: 'replay-genesis', durationMs: 4_000, operatorRoles: ['operator', 'admin'], workload: [{ kind: 'fleet-update', at: 1_000, validators: [0, 1, 2], followers: [3, 4] }] }), 21);
    w.start();
    w.queue.runUntil(3_000, 1e8);
    const v01 = w.nodes[1] as SimNode;
    const chain = v01.shell?.core.chain;
    if (!chain) throw new Error('v01 down');
    expect(chain.committedManifests().map((m) => m.body.epoch)).toEqual([1, 2]);
    const height = chain.height;
    const e2 = chain.committedManifests()[1] as Manifest;
    w.crash(v01, 'intact');

    expect(() => bootOver(w, v01, e2)).toThrow(/^consensus\.wal: block 1 names fleet manifest [0-9a-f]{16}…, but replayed from this node's genesis \(epoch 2\) the manifest in force there is epoch 2 \([0-9a-f]{16}…\): this chain did not start from that genesis; refusing to replay it$/);
    // Its own kind: a device adds the fix for a directory that keeps no genesis to this refusal only.
    expect(() => bootOver(w, v01, e2)).toThrow(GenesisMismatchError);
    const replayed = bootOver(w, v01, w.manifest).core.chain;
    expect(replayed.height).toBe(height);
    expect(replayed.committedManifests().map((m) => m.body.epoch)).toEqual([1, 2]);
  });
});
