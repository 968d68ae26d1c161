// A source that offers a snapshot and then never serves a chunk (crashed, out of radio range, or a
// Byzantine validator doing it on purpose) must not keep a node that is behind from state-syncing. Found
// by the reviewer: offers were not matched to requests, so pushed offers kept replacing a fetch that got
// no chunks; no request went out during a fetch, so honest peers never became sources; and a timed-out
// range was asked again of the same silent first source until the fetch was given up.

import { expect, it } from 'vitest';
import { World, type SimNode } from '../../fleet-sim/sim/world.js';
import { hash, initCrypto } from '../../runtime/crypto/sodium.js';
import { limits } from '../../runtime/lib/limits.js';
import { createConsensus } from '../../runtime/consensus/core.js';
import { chunkOf } from '../../runtime/consensus/snapshot.js';
import { onChunk, onOffer, requestSnapshot, syncTick } from '../../runtime/consensus/snapshot-fetch.js';
import { defaultConsensusConfig, type Effect, type SnapshotOffer } from '../../runtime/consensus/types.js';
import { decodeBlockBytes } from '../../runtime/wire/block.js';
import { decodeCbor } from '../../runtime/wire/cbor.js';
import { decodeEnvelope, sealEnvelope } from '../../runtime/wire/envelope.js';
import { encodeSnapshotOfferBody, parseChunkRequestBody, parseSnapshotRequestBody } from '../../runtime/wire/state-sync.js';
import { scenario } from '../sim/helpers.js';

const noop = (from: number, to: number) => [{ kind: 'rate' as const, from, to, perSec: 10, command: 'noop' }];
function node(w: World, i: number): SimNode {
  const n = w.nodes[i];
  if (!n) throw new Error(`no node ${i}`);
  return n;
}

/** A fleet with a proven snapshot, and a fresh core (v02's identity, height 0) to fetch it. */
async function fetcher(seed: number, commandsPerSec = 0) {
  await initCrypto();
  const workload = commandsPerSec > 0 ? [{ kind: 'rate' as const, from: 100, to: 2_900, perSec: commandsPerSec, command: 'noop' }] : [];
  const w = new World(scenario({ name: 'silent-source', durationMs: 4_000, followers: 0, workload }), seed, { consensus: { checkpointEveryHeights: 8 } });
  w.start();
  w.queue.runUntil(3_000, 1e8);
  const server = node(w, 0).shell?.core;
  const snap = server?.sync.served.filter((x) => x.proof !== null).at(-1);
  if (!server || !snap?.proof) throw new Error('no proven snapshot yet');
  const proof = snap.proof;
  const offer = (from: string, nonce: number): SnapshotOffer => ({ from, height: snap.height, chunkHashes: snap.chunkHashes, proofBlock: decodeBlockBytes(proof.blockBytes), proofCertificate: proof.certificate, manifest: server.chain.manifestAt(snap.height + 1), nonce });
  const fresh = createConsensus({ id: 'v02', fleet: w.fleet, genesis: w.manifest, config: { ...defaultConsensusConfig, checkpointEveryHeights: 8 }, deps: { hash, verify: (sg, m, k) => w.verifier.verify(sg, m, k) } });
  fresh.peers.set('v00', { height: 1000, round: 0 }); // far ahead: syncTick keeps the fetch going
  return { snap, offer, fresh };
}

it('an offer that answers no request of this node is ignored (seed 26)', async () => {
  const { offer, fresh } = await fetcher(26);
  const fx: Effect[] = [];
  const nonce = requestSnapshot(fresh, fx);
  onOffer(fresh, offer('v03', nonce + 1000), 0, fx);
  expect(fresh.sync.fetch).toBe(null);
  onOffer(fresh, offer('v03', nonce), 0, fx);
  expect(fresh.sync.fetch?.sources).toEqual(['v03']);
});

it('a range the first source lets time out goes to another source, and the silent one is passed over from then on (seed 26)', async () => {
  const { snap, offer, fresh } = await fetcher(26);
  const asked: Record<string, number> = {};
  // v00 and v01 answer chunk requests at once; v03 never does.
  const serve = (fx: Effect[], now: number) => {
    for (const e of fx) {
      if (e.type !== 'send' || e.kind !== 'chunk-request' || e.to === null) continue;
      asked[e.to] = (asked[e.to] ?? 0) + 1;
      if (e.to === 'v03') continue;
      const d = decodeCbor(e.body, 1 << 16);
      const r = parseChunkRequestBody(d.ok ? d.value : null);
      const out: Effect[] = [];
      for (let i = r.first; i < r.first + r.count; i++) onChunk(fresh, e.to, r.height, i, chunkOf(snap.bytes, i), now, out);
      serve(out, now);
    }
  };
  let fx: Effect[] = [];
  const nonce = requestSnapshot(fresh, fx);
  for (const from of ['v03', 'v00', 'v01']) onOffer(fresh, offer(from, nonce), 0, fx); // the silent one answered first
  serve(fx, 0);
  let now = 0;
  for (let tick = 0; tick < 10 && fresh.sync.fetch !== null; tick++) {
    now += defaultConsensusConfig.gossipMs;
    fx = [];
    syncTick(fresh, now, fx);
    serve(fx, now);
  }
  expect(fresh.sync.restored, `chunk requests per peer: ${JSON.stringify(asked)}`).toBe(1);
  expect(now, 'installed within two chunk timeouts and a tick').toBeLessThanOrEqual(3 * defaultConsensusConfig.gossipMs);
  expect(asked.v03).toBe(1);
  expect(fresh.sync.quiet.get('v03')).toBe(1);
  expect(fresh.sync.bad.size, 'silence is no proof of a lie').toBe(0);
});

it('a source that let requests go unanswered in an earlier fetch is asked last, not never (seed 26)', async () => {
  // Live nonces make the snapshot span more than three requests' worth of chunks.
  const { snap, offer, fresh } = await fetcher(26, 500);
  expect(snap.chunkHashes.length).toBeGreaterThan(2 * limits.snapshotChunksPerRequestMax);
  fresh.sync.quiet.set('v01', 2);
  fresh.sync.quiet.set('v03', 1);
  const fx: Effect[] = [];
  const nonce = requestSnapshot(fresh, fx);
  for (const from of ['v00', 'v03', 'v01']) onOffer(fresh, offer(from, nonce), 0, fx);
  const asked = fx.flatMap((e) => {
    if (e.type !== 'send' || e.kind !== 'chunk-request') return [];
    const d = decodeCbor(e.body, 1 << 16);
    return [`${e.to}:${parseChunkRequestBody(d.ok ? d.value : null).first}`];
  });
  // Each is asked as it joins while there are chunks nobody is asked for, whatever it missed before.
  expect(asked).toEqual(['v00:0', 'v03:16', 'v01:32']);
});

it('a silent source is not asked again for the range it let time out while another source can take it (seed 26)', async () => {
  const { snap, offer, fresh } = await fetcher(26, 1_000);
  expect(snap.chunkHashes.length).toBeGreaterThan(3 * limits.snapshotChunksPerRequestMax);
  const requests: string[] = [];
  let pending: Effect[] = []; // v00 answers each chunk request one tick later; v03 never does
  const note = (fx: readonly Effect[]) => {
    for (const e of fx) {
      if (e.type !== 'send' || e.kind !== 'chunk-request') continue;
      const d = decodeCbor(e.body, 1 << 16);
      requests.push(`${e.to}:${parseChunkRequestBody(d.ok ? d.value : null).first}`);
      if (e.to === 'v00') pending.push(e);
    }
  };
  const fx: Effect[] = [];
  const nonce = requestSnapshot(fresh, fx);
  for (const from of ['v03', 'v00']) onOffer(fresh, offer(from, nonce), 0, fx);
  note(fx);
  let now = 0;
  for (let tick = 0; tick < 40 && fresh.sync.fetch !== null; tick++) {
    now += defaultConsensusConfig.gossipMs;
    const out: Effect[] = [];
    syncTick(fresh, now, out);
    note(out);
    const answering = pending;
    pending = [];
    for (const e of answering) {
      if (e.type !== 'send') continue;
      const d = decodeCbor(e.body, 1 << 16);
      const r = parseChunkRequestBody(d.ok ? d.value : null);
      const more: Effect[] = [];
      for (let i = r.first; i < r.first + r.count; i++) onChunk(fresh, 'v00', r.height, i, chunkOf(snap.bytes, i), now, more);
      note(more);
    }
  }
  expect(fresh.sync.restored).toBe(1);
  expect(requests.filter((r) => r === 'v03:0'), requests.join(' ')).toEqual(['v03:0']);
  expect(requests).toContain('v00:0');
});

it('a fetch whose only source is silent keeps asking for offers, and a peer that answers becomes a source (seed 26)', async () => {
  const { snap, offer, fresh } = await fetcher(26);
  // v00 answers each snapshot request with its offer, and each chunk request with the chunks; v03 is silent.
  const serve = (fx: readonly Effect[], now: number) => {
    for (const e of fx) {
      if (e.type !== 'send' || e.to === 'v03') continue;
      const d = decodeCbor(e.body, 1 << 16);
      const out: Effect[] = [];
      if (e.kind === 'snapshot-request') onOffer(fresh, offer('v00', parseSnapshotRequestBody(d.ok ? d.value : null).nonce), now, out);
      if (e.kind === 'chunk-request') {
        const r = parseChunkRequestBody(d.ok ? d.value : null);
        for (let i = r.first; i < r.first + r.count; i++) onChunk(fresh, 'v00', r.height, i, chunkOf(snap.bytes, i), now, out);
      }
      serve(out, now);
    }
  };
  const fx: Effect[] = [];
  onOffer(fresh, offer('v03', requestSnapshot(fresh, [])), 0, fx); // only the silent one's answer came
  serve(fx, 0);
  let now = 0;
  for (let tick = 0; tick < 10 && fresh.sync.fetch !== null; tick++) {
    now += defaultConsensusConfig.gossipMs;
    const out: Effect[] = [];
    syncTick(fresh, now, out);
    serve(out, now);
  }
  expect(fresh.sync.restored).toBe(1);
  expect(now, 'at the first tick after the silent source let its chunk request time out').toBe((limits.stateSyncChunkTimeoutGossips + 1) * defaultConsensusConfig.gossipMs);
});

it('a fetch that gets chunks, however slowly, asks for no more offers until it goes quiet (seed 26)', async () => {
  const { snap, offer, fresh } = await fetcher(26, 500);
  const gossip = defaultConsensusConfig.gossipMs;
  const fx: Effect[] = [];
  onOffer(fresh, offer('v00', requestSnapshot(fresh, fx)), 0, fx);
  onChunk(fresh, 'v00', snap.height, 0, chunkOf(snap.bytes, 0), 0, fx);
  const requestsAt = (now: number) => {
    const out: Effect[] = [];
    syncTick(fresh, now, out);
    return out.filter((e) => e.type === 'send' && e.kind === 'snapshot-request').length;
  };
  // A chunk every one and a half gossip intervals: slow, but coming.
  expect(requestsAt(1.5 * gossip)).toBe(0);
  onChunk(fresh, 'v00', snap.height, 1, chunkOf(snap.bytes, 1), 1.5 * gossip, fx);
  expect(requestsAt(3 * gossip)).toBe(0);
  // Then nothing for stateSyncQuietGossips: ask, and again only stateSyncReaskGossips later.
  const quietAt = (1.5 + limits.stateSyncQuietGossips) * gossip + 1;
  expect(requestsAt(quietAt - 2)).toBe(0);
  expect(requestsAt(quietAt)).toBe(1);
  expect(requestsAt(quietAt + gossip)).toBe(0);
  expect(requestsAt(quietAt + limits.stateSyncReaskGossips * gossip)).toBe(1);
});

it('one validator that answers every snapshot request first, pushes its offer every second and never serves a chunk does not keep a node behind from state-syncing (seed 32)', async () => {
  await initCrypto();
  const w = new World(scenario({ name: 'silent-source-sim', durationMs: 60_000, followers: 0, workload: noop(200, 59_000) }), 32, { consensus: { checkpointEveryHeights: 8, syncWindowHeights: 16 } });
  const world = w as unknown as { send: (n: SimNode, to: string | null, bytes: Uint8Array) => void };
  const send = world.send.bind(w);
  let lastNonce = 0;
  const push = (nonce: number) => {
    const n = node(w, 3);
    const core = n.shell?.core;
    const snap = core?.sync.served.filter((x) => x.proof !== null).at(-1);
    if (!core || !snap?.proof) return;
    const body = encodeSnapshotOfferBody({ height: snap.height, chunkHashes: snap.chunkHashes, proofBlock: snap.proof.blockBytes, proofCertificate: snap.proof.certificate, manifest: core.chain.manifestAt(snap.height + 1).bytes, nonce });
    send(n, 'v02', sealEnvelope('snapshot-offer', w.fleet, n.id, body, n.signer));
  };
  world.send = (n, to, bytes) => {
    const e = decodeEnvelope(bytes);
    if (n.id === 'v03' && e.ok && e.value.kind === 'snapshot-chunk') return; // never serves a chunk
    send(n, to, bytes);
    // v03 hears each of v02's requests (a broadcast) and answers it before anyone else can.
    if (n.id === 'v02' && e.ok && e.value.kind === 'snapshot-request') {
      const d = decodeCbor(e.value.body, 1 << 10);
      lastNonce = parseSnapshotRequestBody(d.ok ? d.value : null).nonce;
      push(lastNonce);
    }
  };
  w.start();
  w.queue.runUntil(1_000, 1e9);
  w.crash(node(w, 2), 'intact');
  w.queue.runUntil(15_000, 1e9);
  w.restart(node(w, 2));
  const tick = () => {
    push(0); // unasked
    push(lastNonce); // as if answering the newest request again
    if (w.queue.now < 39_000) w.queue.at(w.queue.now + 1_000, tick);
  };
  w.queue.at(15_000, tick);
  w.queue.runUntil(40_000, 1e9);
  const c = node(w, 2).shell?.core;
  expect(c?.sync.restored).toBeGreaterThanOrEqual(1);
  expect(c?.chain.height ?? 0).toBeGreaterThanOrEqual((node(w, 0).shell?.core.chain.height ?? 0) - 2);
  expect(w.checkers.violations).toEqual([]);
}, 60_000);
