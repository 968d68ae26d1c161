// Validator-set changes happen only through a committed, authority-signed manifest and take effect
// two heights after the block that commits it; certificates after that verify against the new set.

import { describe, expect, it } from 'vitest';
import { initCrypto } from '../../runtime/crypto/sodium.js';
import { bytesEqual } from '../../runtime/lib/bytes.js';
import { signManifest } from '../../runtime/manifest/manifest.js';
import { unwrap } from '../../runtime/lib/result.js';
import { sealEnvelope } from '../../runtime/wire/envelope.js';
import { encodeCommandBody } from '../../runtime/wire/command.js';
import { decodeProof } from '../../runtime/wire/proof.js';
import { readFileSync } from 'node:fs';
import { World } from '../../fleet-sim/sim/world.js';
import { parseScenario } from '../../fleet-sim/scenario/parse.js';
import { runScenario } from '../../fleet-sim/sim/run.js';
import { scenario, sendFleetUpdate } from '../sim/helpers.js';
import { limits } from '../../runtime/lib/limits.js';

/** A seeded world (seed 21) whose admin, at 1.5 s, sends a fleet.update to a manifest with no operators. */
async function removingOperators(name: string, durationMs: number): Promise<World> {
  await initCrypto();
  const w = new World(scenario({ name, durationMs, operatorRoles: ['operator', 'admin'] }), 21);
  w.start();
  w.queue.runUntil(1_500, 1e8);
  sendFleetUpdate(w, unwrap(signManifest({ ...w.manifest.body, epoch: 2, operators: [] }, w.authority)).bytes);
  return w;
}

describe('validator-set change through the manifest', () => {
  it('v03 becomes a follower two heights after the manifest commits; the fleet stays live and safe', async () => {
    await initCrypto();
    const w = new World(scenario({ name: 'set-change', durationMs: 6_000, operatorRoles: ['operator', 'admin'] }), 21);
    w.start();
    w.queue.runUntil(1_500, 1e8);
    const old = w.manifest.body;
    const v03 = old.validators.find((v) => v.id === 'v03');
    if (!v03) throw new Error('no v03');
    const next = unwrap(
      signManifest({ ...old, epoch: 2, validators: old.validators.filter((v) => v.id !== 'v03'), followers: [...old.followers, { id: 'v03', publicKey: v03.publicKey }] }, w.authority),
    );
    sendFleetUpdate(w, next.bytes);
    w.queue.runUntil(3_000, 1e8);
    // Once the new set is in force v03's vote is not needed: crash it; three of three carry on.
    const v3 = w.nodes[3];
    if (!v3) throw new Error('no node 3');
    w.crash(v3, 'intact');
    w.queue.runUntil(6_000, 1e8);
    expect(w.checkers.violations).toEqual([]);
    const chain = w.nodes[0]?.shell?.core.chain;
    if (!chain) throw new Error('node 0 down');
    // Find the height whose block committed the manifest; the set changes at that height + 2.
    let changedAt = 0;
    for (let h = 1; h <= chain.height; h++) if (chain.manifestAt(h).body.epoch === 2) {
      changedAt = h;
      break;
    }
    expect(changedAt).toBeGreaterThan(2);
    expect(chain.manifestAt(changedAt - 1).body.epoch).toBe(1);
    // From the node's window of proofs, as block sync serves them.
    const proofAt = (h: number) => unwrap(decodeProof(chain.recentProof(h) ?? new Uint8Array(0)));
    expect(bytesEqual(proofAt(changedAt - 1).block.block.manifestHash, w.manifest.hash)).toBe(true);
    expect(bytesEqual(proofAt(changedAt).block.block.manifestHash, next.hash)).toBe(true);
    expect(chain.height).toBeGreaterThan(changedAt + 5);
    // Every honest node, the follower included, reached the same heights without a violation.
    for (const n of w.nodes.slice(0, 3).concat(w.nodes.slice(4))) expect(n.shell?.core.chain.height ?? 0).toBeGreaterThan(changedAt + 5);
  });

  it("a command admitted just before its operator was removed does not stall the fleet: proposers drop it from their mempools", async () => {
    const w = await removingOperators('stale-mempool', 8_000);
    w.queue.runUntil(3_000, 1e8);
    const chainOf = (i: number) => {
      const c = w.nodes[i]?.shell?.core.chain;
      if (!c) throw new Error(`node ${i} down`);
      return c;
    };
    let changedAt = 0;
    for (let h = 1; h <= chainOf(0).height && changedAt === 0; h++) if (chainOf(0).manifestAt(h).body.epoch === 2) changedAt = h;
    expect(changedAt, 'the set without the operator is in force').toBeGreaterThan(0);
    // What the race leaves: 'op' signed a command, every node admitted it under the old set (its
    // verdict at the height before the change), and it sits in every mempool.
    const t = w.now();
    const body = encodeCommandBody({ type: 'noop', nonce: new Uint8Array(16).fill(5), issuedAt: t, expiresAt: t + 600_000, args: {} });
    const env = sealEnvelope('command', w.fleet, 'op', body, w.operatorSigner());
    for (const n of w.nodes) {
      const shell = n.shell;
      if (!shell) continue;
      const tx = shell.edge.checkTx(env, undefined, changedAt - 1);
      if (tx.kind !== 'command') throw new Error(`admitted before the change: ${tx.kind === 'rejected' ? tx.reason : tx.kind}`);
      shell.input({ type: 'tx', now: w.now(), tx });
    }
    const before = chainOf(0).height;
    w.queue.runUntil(5_000, 1e8);
    expect(w.checkers.violations).toEqual([]);
    expect(chainOf(0).height, 'heights go on').toBeGreaterThan(before + 5);
  });

  it('a set change empties a follower\'s mempool too of the txs the new set refuses (it never builds a block)', async () => {
    const w = await removingOperators('stale-follower-mempool', 5_000);
    // While the old set is in force: a command of 'op' that only the follower holds (it reached no
    // validator, so no block takes it before the change).
    const t = w.now();
    const body = encodeCommandBody({ type: 'noop', nonce: new Uint8Array(16).fill(6), issuedAt: t, expiresAt: t + 600_000, args: {} });
    const env = sealEnvelope('command', w.fleet, 'op', body, w.operatorSigner());
    const holders = () => w.nodes.filter((n) => n.shell && [...n.shell.core.mempool.values()].some((tx) => tx.kind === 'command' && tx.operator === 'op')).map((n) => n.id);
    const follower = w.nodes.find((n) => n.shell && !n.shell.core.isValidator());
    const shell = follower?.shell;
    if (!follower || !shell) throw new Error('no follower');
    const tx = shell.edge.checkTx(env, undefined, shell.core.height);
    if (tx.kind !== 'command') throw new Error(`admitted before the change: ${tx.kind === 'rejected' ? tx.reason : tx.kind}`);
    expect(shell.core.mempool.add(tx)).toBe(null);
    expect(holders()).toEqual([follower.id]);
    w.queue.runUntil(3_000, 1e8);
    const c = follower.shell?.core.chain;
    expect(c && c.manifestAt(c.height + 1).body.epoch, 'the new set is in force').toBe(2);
    expect(holders(), 'no mempool holds it').toEqual([]);
    expect(w.checkers.violations).toEqual([]);
  });

  it('a manifest signed by anyone but the authority never enters a block', async () => {
    await initCrypto();
    const w = new World(scenario({ name: 'rogue-manifest', durationMs: 3_000 }), 22);
    w.start();
    w.queue.runUntil(1_000, 1e8);
    const rogue = signManifest({ ...w.manifest.body, epoch: 5, authority: w.operatorSigner().publicKey, validators: w.manifest.body.validators.slice(0, 1) }, w.operatorSigner());
    w.publish(unwrap(rogue).bytes);
    w.queue.runUntil(3_000, 1e8);
    expect(w.nodes[0]?.shell?.core.chain.latestEpoch()).toBe(1);
    expect(w.checkers.violations).toEqual([]);
  });

  it('an observer (no operator role) and a forged command never commit', async () => {
    await initCrypto();
    const w = new World(scenario({ name: 'unauthorized', durationMs: 3_000 }), 23);
    w.start();
    w.queue.runUntil(500, 1e8);
    const key = w.submit('noop', {}, 'watcher');
    // A command in the operator's name signed with another key: its signature cannot verify.
    const t = w.now();
    const nonce = new Uint8Array(16).fill(0xab);
    w.publish(sealEnvelope('command', w.fleet, 'op', encodeCommandBody({ type: 'noop', nonce, issuedAt: t, expiresAt: t + 60_000, args: {} }), w.authority));
    w.queue.runUntil(3_000, 1e8);
    const committed = [...w.checkers.decided.values()].flatMap((d) => d.commands);
    expect(committed).not.toContain(key);
    expect(committed).not.toContain(`op/${'ab'.repeat(16)}`);
    expect(committed.length).toBeGreaterThan(0);
    expect(w.checkers.violations).toEqual([]);
  });

  it('scenario validator-set-change: the admin operator\'s fleet.update swaps validator 3 for follower 4; the report shows the set in force', async () => {
    const file = 'fleet-sim/scenarios/validator-set-change.yaml';
    const s = parseScenario(readFileSync(file, 'utf8'));
    let notes: readonly string[] = [];
    let changedAt = 0;
    const r = await runScenario(s, s.seed, {
      file,
      onWorld: (w) => {
        notes = w.flight?.layer.notes ?? [];
        // Whatever the block that commits the manifest, the node the old set needed is gone after it.
        w.queue.at(7_900, () => (changedAt = w.honestChainNode()?.shell?.core.chain.latestEpoch() ?? 0));
      },
    });
    const why = `seed ${r.seed}: ${r.expect.failed.join('; ')} ${r.safety.violations[0]?.detail ?? ''}; replay: ${r.replay}`;
    expect(r.expect.failed, why).toEqual([]);
    expect(r.validatorSet, why).toMatchObject({ epoch: 2, validators: [0, 1, 2, 4], followers: [3, 5] });
    expect(r.validatorSet.sinceHeight, why).toBeGreaterThan(2);
    expect(changedAt, 'the new manifest was committed before validator 3 crashed').toBe(2);
    expect(notes.some((n) => /fleet\.update accepted/.test(n)), why).toBe(true);
    expect(r.nodes.crashed, why).toEqual([3]);
    // The chain kept growing after the crash: the new set commits without the old validator.
    expect(r.liveness.maxStallMs, why).toBeLessThan(3_000);
  });

  it('a fleet of 200 changes its validator set by fleet.update: the manifest (10 KB, over the 3 KB of an ordinary command) commits', async () => {
    // Its args carry the whole signed manifest of the next epoch, about 53 bytes a member: refused by
    // every node beyond about 55 members before (command.args at most 3,072 bytes, a block's tx 4,096).
    const followers = Array.from({ length: 196 }, (_, i) => i + 4).filter((i) => i !== 4);
    const s = parseScenario(
      ['name: big-set-change', 'duration: 6s', 'validators: 4', 'followers: 196', 'operator: { roles: [operator, admin] }', 'workload:', `  - { at: 1s, command: { type: fleet.update, manifest: { validators: [0, 1, 2, 4], followers: [3, ${followers.join(', ')}] } } }`, '  - { from: 500ms, to: 5s, rate: 10/s, command: noop }', 'expect: { safety: true, epoch: 2 }'].join('\n'),
    );
    let manifestBytes = 0;
    const r = await runScenario(s, s.seed, { onWorld: (w) => w.queue.at(5_900, () => (manifestBytes = w.honestChainNode()?.shell?.core.chain.manifestAt(Number.MAX_SAFE_INTEGER).bytes.length ?? 0)) });
    const why = `seed ${r.seed}: ${r.expect.failed.join('; ')} ${r.safety.violations[0]?.detail ?? ''}; replay: ${r.replay}`;
    expect(r.expect.failed, why).toEqual([]);
    expect(r.validatorSet, why).toMatchObject({ epoch: 2, validators: [0, 1, 2, 4] });
    expect(r.validatorSet.followers, why).toHaveLength(196);
    expect(manifestBytes, why).toBeGreaterThan(limits.commandBytesMax);
    expect(r.liveness.commandsCommitted, why).toBe(r.liveness.commandsSubmitted);
  });
});
