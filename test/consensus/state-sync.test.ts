// State sync from the deterministic simulator: a node down for far longer than the block-sync window
// restores a snapshot whose commitment a certified block carries, then block-syncs the rest; forged,
// truncated or unproven snapshots are refused and their senders counted; the application state of a
// restored node agrees with everyone's (the checkers compare it after every block).

import { describe, expect, it } from 'vitest';
import { runScenario } from '../../fleet-sim/sim/run.js';
import { World, type SimNode } from '../../fleet-sim/sim/world.js';
import { hash, initCrypto } from '../../runtime/crypto/sodium.js';
import { signManifest } from '../../runtime/manifest/manifest.js';
import { unwrap } from '../../runtime/lib/result.js';
import { limits } from '../../runtime/lib/limits.js';
import { applyReplayed, createConsensus, recordCheckpoint } from '../../runtime/consensus/core.js';
import { chunkOf, commitmentOf } from '../../runtime/consensus/snapshot.js';
import { offerProblem, onChunk, onOffer, requestSnapshot } from '../../runtime/consensus/snapshot-fetch.js';
import { defaultConsensusConfig, type CommittedBlock, type Effect, type SnapshotOffer } from '../../runtime/consensus/types.js';
import { decodeBlockBytes, encodeBlock } from '../../runtime/wire/block.js';
import { signingBytes } from '../../runtime/wire/signing.js';
import { encodeVoteBody } from '../../runtime/wire/vote.js';
import { explain, scenario, sendFleetUpdate } from '../sim/helpers.js';

const noop = (from: number, to: number) => [{ kind: 'rate' as const, from, to, perSec: 10, command: 'noop' }];

function node(w: World | undefined, i: number): SimNode {
  const n = w?.nodes[i];
  if (!n) throw new Error(`no node ${i}`);
  return n;
}

describe('state sync', () => {
  it('a validator down for far longer than the 256-block window restarts and catches up by state sync', async () => {
    let w: World | undefined;
    let heightAtRestart = 0;
    let fleetAtRestart = 0;
    const s = scenario({
      name: 'far-behind',
      durationMs: 60_000,
      workload: noop(500, 59_000),
      faults: [
        { at: 1_000, kind: 'crash', node: 2 },
        { at: 55_000, kind: 'restart', node: 2, wal: 'intact' },
      ],
    });
    const r = await runScenario(s, 21, {
      onWorld: (x) => {
        w = x;
        x.queue.at(55_001, () => {
          heightAtRestart = node(x, 2).shell?.core.chain.height ?? -1;
          fleetAtRestart = node(x, 0).shell?.core.chain.height ?? -1;
        });
      },
    });
    expect(r.safety.ok && r.liveness.ok, explain(r)).toBe(true);
    expect(fleetAtRestart - heightAtRestart, 'the fleet moved past the block-sync window').toBeGreaterThan(256);
    const n2 = node(w, 2).shell;
    expect(n2?.core.sync.restored, explain(r)).toBeGreaterThanOrEqual(1);
    expect(n2?.core.sync.rejected).toBe(0);
    const n0 = node(w, 0).shell;
    expect(Math.abs((n2?.core.chain.height ?? 0) - (n0?.core.chain.height ?? 0))).toBeLessThanOrEqual(2);
    expect(node(w, 2).app?.commands, 'the restored application counted the commands it never saw').toBe(node(w, 0).app?.commands);
    // The live nonces make the snapshot span more chunks than one request asks for.
    expect(n0?.core.sync.served.at(-1)?.chunkHashes.length).toBeGreaterThan(limits.snapshotChunksPerRequestMax);
  });

  it('a follower that joins late and a validator past a small window both state-sync; nothing is refused', async () => {
    let w: World | undefined;
    const s = scenario({
      name: 'small-window',
      durationMs: 12_000,
      workload: noop(200, 11_500),
      faults: [
        { at: 300, kind: 'crash', node: 4 },
        { at: 1_000, kind: 'crash', node: 1 },
        { at: 7_000, kind: 'restart', node: 1, wal: 'torn' },
        { at: 9_000, kind: 'restart', node: 4, wal: 'intact' },
      ],
    });
    const r = await runScenario(s, 22, { onWorld: (x) => (w = x), consensus: { checkpointEveryHeights: 8, syncWindowHeights: 16 }, snapshotEveryHeights: 16 });
    expect(r.safety.ok && r.liveness.ok, explain(r)).toBe(true);
    for (const i of [1, 4]) {
      expect(node(w, i).shell?.core.sync.restored, `node ${i}: ${explain(r)}`).toBeGreaterThanOrEqual(1);
      expect(node(w, i).shell?.core.sync.rejected, `node ${i}: ${explain(r)}`).toBe(0);
    }
  });

  it('over 20% loss (50% while syncing), with every node dropping copies it saw within the router window (as a device router does), retries get through', async () => {
    let w: World | undefined;
    const s = scenario({
      name: 'lossy-dedup',
      durationMs: 20_000,
      followers: 0,
      mqtt: { latencyMs: 3, jitterMs: 2, loss: 0.2, duplicate: 0.02 },
      workload: noop(200, 19_500),
      faults: [
        { at: 500, kind: 'crash', node: 1 },
        { at: 14_000, kind: 'restart', node: 1, wal: 'intact' },
        // Half of everything is lost while node 1 syncs: requests, offers and chunks must be retried.
        { at: 14_000, kind: 'loss', loss: 0.5, until: 17_000 },
      ],
    });
    const r = await runScenario(s, 25, { onWorld: (x) => (w = x), routerDedup: true, consensus: { checkpointEveryHeights: 4, syncWindowHeights: 8 } });
    expect(r.safety.ok && r.liveness.ok, explain(r)).toBe(true);
    const n1 = node(w, 1);
    expect((n1.earlierSync.installs + (n1.shell?.core.sync.restored ?? 0)), explain(r)).toBeGreaterThanOrEqual(1);
    // The filter was at work: duplicated deliveries were dropped, and consensus still got its re-sends.
    expect(w?.dedupDropped ?? 0, explain(r)).toBeGreaterThan(0);
  });

  it('a Byzantine peer that alone serves forged and truncated snapshots never gets one applied; honest peers then sync it', async () => {
    let w: World | undefined;
    const seen: { height: number; rejected: number; restored: number }[] = [];
    const s = scenario({
      name: 'forge-snapshot',
      durationMs: 16_000,
      followers: 0,
      workload: noop(200, 15_500),
      faults: [
        { at: 500, kind: 'byzantine', node: 3, behavior: 'forge-snapshot' },
        { at: 1_000, kind: 'crash', node: 2 },
        { at: 6_000, kind: 'restart', node: 2, wal: 'intact' },
        // Node 2 hears only the Byzantine node until 11 s: every snapshot it could install is forged.
        { at: 5_500, kind: 'partition', groups: [[2, 3], [0, 1]], until: 11_000 },
      ],
    });
    const r = await runScenario(s, 23, {
      consensus: { checkpointEveryHeights: 8, syncWindowHeights: 16 },
      onWorld: (x) => {
        w = x;
        x.queue.at(10_900, () => {
          const c = node(x, 2).shell?.core;
          seen.push({ height: c?.chain.height ?? -1, rejected: c?.sync.rejected ?? -1, restored: c?.sync.restored ?? -1 });
        });
      },
    });
    expect(r.safety.ok && r.liveness.ok, explain(r)).toBe(true);
    const before = seen[0];
    expect(before?.restored, 'nothing installed while only the forger served').toBe(0);
    expect(before?.rejected, 'the forger was caught').toBeGreaterThanOrEqual(1);
    const c2 = node(w, 2).shell?.core;
    expect(c2?.sync.bad.has('v03')).toBe(true);
    expect(c2?.sync.restored, explain(r)).toBeGreaterThanOrEqual(1);
  });

  it('a validator that slept through a validator-set change state-syncs under the newer signed set; a snapshot proven by the old set is refused', async () => {
    await initCrypto();
    const w = new World(scenario({ name: 'set-change', durationMs: 12_000, workload: noop(200, 11_500), operatorRoles: ['operator', 'admin'] }), 27, { consensus: { checkpointEveryHeights: 8, syncWindowHeights: 16 } });
    w.start();
    w.queue.runUntil(500, 1e8);
    w.crash(node(w, 2), 'intact');
    w.queue.runUntil(1_400, 1e8);
    const before = node(w, 0).shell?.core.sync.served.find((x) => x.proof !== null);
    const old = w.manifest.body;
    const v03 = old.validators.find((v) => v.id === 'v03');
    const f00 = old.followers.find((f) => f.id === 'f00');
    if (!before || !v03 || !f00) throw new Error('setup');
    // Epoch 2: f00 votes instead of v03 (still four validators, three of them up).
    const next = unwrap(signManifest({ ...old, epoch: 2, validators: [...old.validators.filter((v) => v.id !== 'v03'), { id: 'f00', publicKey: f00.publicKey, power: 1 }], followers: [{ id: 'v03', publicKey: v03.publicKey }] }, w.authority));
    sendFleetUpdate(w, next.bytes);
    w.queue.runUntil(9_000, 1e8);
    w.restart(node(w, 2));
    w.queue.runUntil(12_000, 1e8);
    const c2 = node(w, 2).shell?.core;
    expect(w.checkers.violations).toEqual([]);
    expect(c2?.sync.restored).toBeGreaterThanOrEqual(1);
    expect(c2?.chain.latestEpoch()).toBe(2);
    expect(c2?.chain.height ?? 0).toBeGreaterThanOrEqual((node(w, 0).shell?.core.chain.height ?? 0) - 2);
    if (!c2 || !before.proof) throw new Error('node 2 down');
    const stale: SnapshotOffer = { from: 'v00', height: before.height, chunkHashes: before.chunkHashes, proofBlock: decodeBlockBytes(before.proof.blockBytes), proofCertificate: before.proof.certificate, manifest: w.manifest, nonce: 0 };
    expect(offerProblem(c2, stale)).toBe('its manifest has epoch 1, older than the 2 this node knows');
  });

  it('a fetch that block sync overtakes is dropped when its last chunk comes, never installed backwards', async () => {
    await initCrypto();
    const w = new World(scenario({ name: 'overtaken', durationMs: 4_000, followers: 0 }), 26, { consensus: { checkpointEveryHeights: 8 } });
    w.start();
    w.queue.runUntil(3_000, 1e8);
    const server = node(w, 0).shell?.core;
    const snap = server?.sync.served.find((x) => x.proof !== null);
    if (!server || !snap?.proof) throw new Error('no proven snapshot yet');
    // A fresh core of node 3's identity, at height 0, fetching the server's snapshot.
    const fresh = createConsensus({ id: 'v03', fleet: w.fleet, genesis: w.manifest, config: { ...defaultConsensusConfig, checkpointEveryHeights: 8 }, deps: { hash, verify: (sig, msg, pk) => w.verifier.verify(sig, msg, pk) } });
    const fx: Effect[] = [];
    const nonce = requestSnapshot(fresh, fx);
    const offer: SnapshotOffer = { from: 'v00', height: snap.height, chunkHashes: snap.chunkHashes, proofBlock: decodeBlockBytes(snap.proof.blockBytes), proofCertificate: snap.proof.certificate, manifest: server.chain.manifestAt(snap.height + 1), nonce };
    onOffer(fresh, offer, 0, fx);
    expect(fresh.sync.fetch?.height).toBe(snap.height);
    const last = snap.chunkHashes.length - 1;
    for (let i = 0; i < last; i++) onChunk(fresh, 'v00', snap.height, i, chunkOf(snap.bytes, i), 1, fx);
    // Block sync brings the same blocks (and one more) before the last chunk arrives.
    for (let h = 1; h <= snap.height + 1; h++) {
      applyReplayed(fresh, w.committedBlock(h) as CommittedBlock, 2);
      if (fresh.chain.checkpointDue !== null) recordCheckpoint(fresh, fresh.chain.checkpointDue, new Uint8Array([h]));
    }
    onChunk(fresh, 'v00', snap.height, last, chunkOf(snap.bytes, last), 3, fx);
    expect(fresh.sync.fetch).toBe(null);
    expect(fresh.sync.restored).toBe(0);
    expect(fresh.chain.height).toBe(snap.height + 1);
    expect(fx.filter((e) => e.type === 'install-snapshot')).toEqual([]);
  });

  it('every forged offer is refused for its own reason', async () => {
    await initCrypto();
    const w = new World(scenario({ name: 'offers', durationMs: 4_000, followers: 0 }), 24, { consensus: { checkpointEveryHeights: 8 } });
    w.start();
    w.queue.runUntil(3_000, 1e8);
    const server = node(w, 0).shell?.core;
    const judge = node(w, 1).shell?.core;
    if (!server || !judge) throw new Error('nodes down');
    const snap = server.sync.served.find((x) => x.proof !== null);
    if (!snap?.proof) throw new Error('no proven snapshot yet');
    const proofBlock = decodeBlockBytes(snap.proof.blockBytes);
    const honest: SnapshotOffer = { from: 'v00', height: snap.height, chunkHashes: snap.chunkHashes, proofBlock, proofCertificate: snap.proof.certificate, manifest: server.chain.manifestAt(snap.height + 1), nonce: 0 };
    const swapped = snap.chunkHashes.map((h, i) => (i === 0 ? hash(h) : h));
    const rewritten = decodeBlockBytes(encodeBlock({ ...proofBlock.block, appHash: commitmentOf(swapped, hash) }));
    const soloCert = { ...snap.proof.certificate, blockHash: rewritten.hash, signatures: [{ validator: 'v03', signature: node(w, 3).signer.sign(signingBytes('precommit', w.fleet, encodeVoteBody({ height: snap.height + 1, round: snap.proof.certificate.round, blockHash: rewritten.hash }))) }] };
    const verdicts = {
      honest: offerProblem(judge, honest),
      'swapped chunk hash': offerProblem(judge, { ...honest, chunkHashes: swapped }),
      'rewritten proof block': offerProblem(judge, { ...honest, chunkHashes: swapped, proofBlock: rewritten }),
      'self-signed certificate': offerProblem(judge, { ...honest, chunkHashes: swapped, proofBlock: rewritten, proofCertificate: soloCert }),
      'wrong height': offerProblem(judge, { ...honest, height: snap.height - 8 }),
      'not a checkpoint': offerProblem(judge, { ...honest, height: snap.height - 1 }),
      'truncated chunk list': offerProblem(judge, { ...honest, chunkHashes: snap.chunkHashes.slice(0, -1).concat(snap.chunkHashes.length > 1 ? [] : [hash(new Uint8Array(1))]) }),
      'unverified manifest': offerProblem(judge, { ...honest, manifest: 'bad' }),
    };
    expect(verdicts).toEqual({
      honest: null,
      'swapped chunk hash': 'its chunk hashes are not the commitment the certified block carries',
      'rewritten proof block': expect.stringMatching(/^proof certificate: certificate is for block/),
      'self-signed certificate': expect.stringMatching(/^proof certificate: certificate carries 1 of 4 voting power/),
      'wrong height': `proof block is at height ${snap.height + 1}, not ${snap.height - 7}`,
      'not a checkpoint': `height ${snap.height - 1} is not a checkpoint height (every 8 heights)`,
      'truncated chunk list': 'its chunk hashes are not the commitment the certified block carries',
      'unverified manifest': 'its manifest does not verify: bad',
    });
  });
});
