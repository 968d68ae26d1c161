// A manifest changes the fleet only through a committed fleet.update an admin sent: the chain keeps the
// hash of the manifest each such command names (pendingManifests) and a manifest tx counts only if it
// is one of those. Before, any manifest the authority signed, published on the broker by anyone (a
// fleet.update rejected because an operator without the admin role sent it carries one to every
// subscriber), entered a block and changed the fleet with no trace in the decision log.

import { describe, expect, it } from 'vitest';
import { initCrypto } from '../../runtime/crypto/sodium.js';
import { toHex } from '../../runtime/lib/bytes.js';
import { unwrap } from '../../runtime/lib/result.js';
import { signManifest, type Manifest } from '../../runtime/manifest/manifest.js';
import type { ChainState } from '../../runtime/consensus/chain-state.js';
import { decodeStateSnapshot, encodeStateSnapshot } from '../../runtime/consensus/snapshot.js';
import { World, type SimNode } from '../../fleet-sim/sim/world.js';
import { scenario, sendFleetUpdate } from '../sim/helpers.js';

const epochTwo = (w: World): Manifest => unwrap(signManifest({ ...w.manifest.body, epoch: 2, createdAt: w.manifest.body.createdAt + 1 }, w.authority));
const chainOf = (w: World, i = 0) => {
  const c = (w.nodes[i] as SimNode).shell?.core.chain;
  if (!c) throw new Error(`node ${i} down`);
  return c;
};

describe('a manifest tx counts only when a committed fleet.update named it', () => {
  it('an authority-signed manifest published on the broker with no fleet.update never enters a block; the block rule says why', async () => {
    await initCrypto();
    const w = new World(scenario({ name: 'raw-manifest', durationMs: 3_000 }), 31);
    w.start();
    w.queue.runUntil(1_000, 1e8);
    const next = epochTwo(w);
    w.publish(next.bytes);
    w.queue.runUntil(3_000, 1e8);
    expect(chainOf(w).latestEpoch()).toBe(1);
    expect(w.checkers.violations).toEqual([]);
    // What a block holding it meets (valid(v)), at the next height: the reason, naming the epoch.
    const shell = (w.nodes[0] as SimNode).shell;
    const tx = shell?.edge.checkTx(next.bytes, undefined, chainOf(w).height + 1);
    if (tx?.kind !== 'manifest') throw new Error('the edge should pass the authority-signed manifest on');
    expect(chainOf(w).txProblem(tx, chainOf(w).lastTimeMs + 1, new Set())).toBe(`manifest epoch 2 (${toHex(next.hash).slice(0, 16)}…) is not named by a fleet.update an admin committed and not yet applied; send it with \`murmurctl send fleet.update\``);
  });

  it('the manifest of a fleet.update rejected for want of the admin role, published by anyone after, never enters a block', async () => {
    await initCrypto();
    const w = new World(scenario({ name: 'non-admin-update', durationMs: 4_000 }), 32); // op: role operator only
    w.start();
    w.queue.runUntil(1_000, 1e8);
    const next = epochTwo(w);
    sendFleetUpdate(w, next.bytes);
    w.queue.runUntil(2_000, 1e8);
    expect(chainOf(w).pendingManifest(next.hash)).toBeUndefined();
    w.publish(next.bytes);
    w.queue.runUntil(4_000, 1e8);
    expect(chainOf(w).latestEpoch()).toBe(1);
    expect(w.checkers.violations).toEqual([]);
  });

  it("an admin's fleet.update makes its manifest pending; committed, it is applied on every node and pending no more", async () => {
    await initCrypto();
    const w = new World(scenario({ name: 'admin-update', durationMs: 4_000, operatorRoles: ['operator', 'admin'] }), 33);
    w.start();
    w.queue.runUntil(1_000, 1e8);
    const next = epochTwo(w);
    const command = sendFleetUpdate(w, next.bytes);
    // The step between: the command committed, the manifest not yet (it is submitted after the commit).
    let seen: string | undefined;
    for (let t = 1_010; t < 3_000 && seen === undefined; t += 10) {
      w.queue.runUntil(t, 1e8);
      seen = chainOf(w).pendingManifest(next.hash)?.command;
    }
    expect(seen).toBe(command);
    // The block that commits it says which fleet.update named it (the decision log's entry: manifest-decision.ts).
    let applied: ChainState['lastAppliedManifests'] = [];
    for (let t = w.queue.now + 5; t < 3_500 && chainOf(w).latestEpoch() === 1; t += 5) {
      w.queue.runUntil(t, 1e8);
      applied = chainOf(w).lastAppliedManifests;
    }
    expect(applied.map((m) => ({ command: m.command, epoch: m.epoch, fromHeight: m.fromHeight }))).toEqual([{ command, epoch: 2, fromHeight: chainOf(w).height + 2 }]);
    w.queue.runUntil(4_000, 1e8);
    for (const i of [0, 1, 2, 3]) {
      expect(chainOf(w, i).latestEpoch()).toBe(2);
      expect(chainOf(w, i).pendingManifest(next.hash)).toBeUndefined();
    }
    expect(w.checkers.violations).toEqual([]);
  });
});

describe('pending manifests in a state snapshot', () => {
  const base = { height: 9, lastHash: new Uint8Array(32).fill(1), lastTimeMs: 5, manifests: [], nonces: [], evidence: [], app: new Uint8Array([7]) };

  it('a state with none is written as before they existed (eight elements: the same appHash)', () => {
    expect(encodeStateSnapshot(base)[0]).toBe(0x88);
    expect(unwrap(decodeStateSnapshot(encodeStateSnapshot(base))).pendingManifests).toBeUndefined();
  });

  it('a state with some keeps them, in order', () => {
    const pending = [
      { hash: new Uint8Array(32).fill(2), command: 'admin/00' },
      { hash: new Uint8Array(32).fill(3), command: 'admin/01' },
    ];
    const bytes = encodeStateSnapshot({ ...base, pendingManifests: pending });
    expect(bytes[0]).toBe(0x89);
    const read = unwrap(decodeStateSnapshot(bytes)).pendingManifests ?? [];
    expect(read.map((p) => [toHex(p.hash), p.command])).toEqual(pending.map((p) => [toHex(p.hash), p.command]));
  });
});
