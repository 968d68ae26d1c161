// An offer for a height that is not a checkpoint, proven by a real certified block (whose appHash is the
// commitment of the checkpoint before it) and listing that checkpoint's chunk hashes, used to pass every
// check and outrank the honest offer; its chunks then failed the whole-snapshot check, which gave up
// without counting the sender, so one Byzantine peer could repeat it forever (found by the reviewer).

import { expect, it } from 'vitest';
import { World, type SimNode } from '../../fleet-sim/sim/world.js';
import { hash, initCrypto } from '../../runtime/crypto/sodium.js';
import { createConsensus } from '../../runtime/consensus/core.js';
import { chunkOf } from '../../runtime/consensus/snapshot.js';
import { offerProblem, onChunk, onOffer, requestSnapshot } from '../../runtime/consensus/snapshot-fetch.js';
import { defaultConsensusConfig, type Effect, type SnapshotOffer } from '../../runtime/consensus/types.js';
import { decodeBlockBytes } from '../../runtime/wire/block.js';
import { decodeCbor } from '../../runtime/wire/cbor.js';
import { decodeEnvelope, sealEnvelope } from '../../runtime/wire/envelope.js';
import { encodeSnapshotOfferBody, parseSnapshotOfferBody } from '../../runtime/wire/state-sync.js';
import { scenario } from '../sim/helpers.js';

const noop = (from: number, to: number) => [{ kind: 'rate' as const, from, to, perSec: 10, command: 'noop' }];
function node(w: World, i: number): SimNode {
  const n = w.nodes[i];
  if (!n) throw new Error(`no node ${i}`);
  return n;
}

/** A fleet with a proven checkpoint C, and offers of C (honest, from v00) and of tip-1 > C (from v03). */
async function offers(seed: number) {
  await initCrypto();
  const w = new World(scenario({ name: 'offer-height', durationMs: 4_000, followers: 0 }), seed, { consensus: { checkpointEveryHeights: 8 } });
  w.start();
  w.queue.runUntil(3_000, 1e8);
  const server = node(w, 0).shell?.core;
  const snap = server?.sync.served.filter((x) => x.proof !== null).at(-1);
  if (!server || !snap?.proof) throw new Error('no proven snapshot yet');
  const H = server.chain.height - 1;
  const proof = w.committedBlock(H + 1);
  if (!proof || H % 8 === 0) throw new Error(`height ${H} is a checkpoint: pick another seed`);
  const honest: SnapshotOffer = { from: 'v00', height: snap.height, chunkHashes: snap.chunkHashes, proofBlock: decodeBlockBytes(snap.proof.blockBytes), proofCertificate: snap.proof.certificate, manifest: server.chain.manifestAt(snap.height + 1), nonce: 0 };
  const byzantine: SnapshotOffer = { from: 'v03', height: H, chunkHashes: snap.chunkHashes, proofBlock: decodeBlockBytes(proof.bytes), proofCertificate: proof.certificate, manifest: server.chain.manifestAt(H + 1), nonce: 0 };
  const fresh = (checkpointEveryHeights: number) => createConsensus({ id: 'v02', fleet: w.fleet, genesis: w.manifest, config: { ...defaultConsensusConfig, checkpointEveryHeights }, deps: { hash, verify: (sg, m, k) => w.verifier.verify(sg, m, k) } });
  return { snap, H, honest, byzantine, fresh };
}

it('an offer of a height that is not a checkpoint is refused as a forgery and its sender ignored; the honest one is fetched (seed 26)', async () => {
  const { snap, H, honest, byzantine, fresh } = await offers(26);
  const c = fresh(8);
  expect(offerProblem(c, byzantine)).toBe(`height ${H} is not a checkpoint height (every 8 heights)`);
  const fx: Effect[] = [];
  const nonce = requestSnapshot(c, fx);
  onOffer(c, { ...honest, nonce }, 0, fx);
  onOffer(c, { ...byzantine, nonce }, 1, fx);
  expect(c.sync.bad.has('v03')).toBe(true);
  expect(c.sync.fetch?.height).toBe(snap.height);
  for (let i = 0; i < snap.chunkHashes.length; i++) onChunk(c, 'v00', snap.height, i, chunkOf(snap.bytes, i), 2, fx);
  expect(c.sync.restored).toBe(1);
  expect(c.chain.height).toBe(snap.height);
});

it('a certified snapshot that does not end at the height its offer claimed gets every source of it ignored (seed 26)', async () => {
  const { snap, H, byzantine, fresh } = await offers(26);
  // A node that takes every height for a checkpoint lets the offer through: the whole-snapshot check in
  // finish is then what finds the lie, and it must count it against the senders, not only give up.
  const c = fresh(1);
  const fx: Effect[] = [];
  const nonce = requestSnapshot(c, fx);
  onOffer(c, { ...byzantine, nonce }, 0, fx);
  onOffer(c, { ...byzantine, from: 'v01', nonce }, 0, fx);
  expect(c.sync.fetch?.sources).toEqual(['v03', 'v01']);
  for (let i = 0; i < snap.chunkHashes.length; i++) onChunk(c, 'v03', H, i, chunkOf(snap.bytes, i), 1, fx);
  expect(c.sync.fetch).toBe(null);
  expect(c.sync.restored).toBe(0);
  expect([...c.sync.bad.keys()].sort()).toEqual(['v01', 'v03']);
  const logs = fx.flatMap((e) => (e.type === 'log' && e.level === 'warn' ? [e.message] : []));
  expect(logs).toContain(`v02: state sync: ignoring v03 from now on: snapshot ${H} does not end at the proof block's parent`);
});

it('one validator answering every snapshot request with an offer of a non-checkpoint height does not keep a node behind from state-syncing (seed 31)', async () => {
  await initCrypto();
  const w = new World(scenario({ name: 'offer-height-sim', durationMs: 60_000, followers: 0, workload: noop(200, 59_000) }), 31, { consensus: { checkpointEveryHeights: 8, syncWindowHeights: 16 } });
  const world = w as unknown as { send: (n: SimNode, to: string | null, bytes: Uint8Array) => void };
  const send = world.send.bind(w);
  let forged = 0;
  // v03 votes honestly, but its every offer is of tip-1, proven by the certified block at its tip.
  world.send = (n, to, bytes) => {
    const e = decodeEnvelope(bytes);
    const core = n.shell?.core;
    if (n.id === 'v03' && core && e.ok && e.value.kind === 'snapshot-offer') {
      const d = decodeCbor(e.value.body, 1 << 22);
      const o = parseSnapshotOfferBody(d.ok ? d.value : null);
      const tip = core.chain.height;
      const snap = core.sync.served.filter((x) => x.height < tip).at(-1);
      const blk = w.committedBlock(tip);
      if (snap && blk && tip - 1 > snap.height) {
        forged++;
        const body = encodeSnapshotOfferBody({ ...o, height: tip - 1, chunkHashes: snap.chunkHashes, proofBlock: blk.bytes, proofCertificate: blk.certificate });
        return send(n, to, sealEnvelope('snapshot-offer', w.fleet, n.id, body, n.signer));
      }
    }
    return send(n, to, bytes);
  };
  w.start();
  w.queue.runUntil(1_000, 1e9);
  w.crash(node(w, 2), 'intact');
  w.queue.runUntil(15_000, 1e9);
  w.restart(node(w, 2));
  w.queue.runUntil(40_000, 1e9);
  const c = node(w, 2).shell?.core;
  expect(forged, 'v03 forged offers').toBeGreaterThan(0);
  expect(c?.sync.restored).toBeGreaterThanOrEqual(1);
  expect(c?.sync.bad.has('v03')).toBe(true);
  expect(c?.chain.height ?? 0).toBeGreaterThanOrEqual((node(w, 0).shell?.core.chain.height ?? 0) - 2);
  expect(w.checkers.violations).toEqual([]);
}, 60_000);
