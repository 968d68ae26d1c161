// A fetch that outlasts its servers' retention: each keeps only its newest snapshots
// (limits.snapshotsServedMax) and ignores chunk requests for one it dropped. Found by the reviewer: the
// fetch sat idle for 40 gossip intervals, ignoring newer offers because it had chunks, then started
// again from zero, and over a slow radio never finished. Now a fetch whose sources all went quiet moves
// to a newer offer and keeps the chunks the newer snapshot lists too.

import { expect, it } from 'vitest';
import { parseScenario } from '../../fleet-sim/scenario/parse.js';
import { runScenario } from '../../fleet-sim/sim/run.js';
import { World, type SimNode } from '../../fleet-sim/sim/world.js';
import { hash, initCrypto } from '../../runtime/crypto/sodium.js';
import { limits } from '../../runtime/lib/limits.js';
import { createConsensus } from '../../runtime/consensus/core.js';
import { chunkOf } from '../../runtime/consensus/snapshot.js';
import { onChunk, onOffer, requestSnapshot, syncTick } from '../../runtime/consensus/snapshot-fetch.js';
import type { ServedSnapshot } from '../../runtime/consensus/state-sync.js';
import { defaultConsensusConfig, type Effect, type SnapshotOffer } from '../../runtime/consensus/types.js';
import { decodeBlockBytes } from '../../runtime/wire/block.js';
import { decodeCbor } from '../../runtime/wire/cbor.js';
import { parseChunkRequestBody, parseSnapshotRequestBody } from '../../runtime/wire/state-sync.js';
import { explain, scenario } from '../sim/helpers.js';

function node(w: World, i: number): SimNode {
  const n = w.nodes[i];
  if (!n) throw new Error(`no node ${i}`);
  return n;
}

it('a fetch whose sources all went quiet moves to a newer offer and keeps the chunks both snapshots hold (seed 26)', async () => {
  await initCrypto();
  const workload = [{ kind: 'rate' as const, from: 100, to: 2_900, perSec: 1_000, command: 'noop' }];
  const w = new World(scenario({ name: 'retention', durationMs: 8_000, followers: 0, workload }), 26, { consensus: { checkpointEveryHeights: 8 } });
  w.start();
  w.queue.runUntil(4_000, 1e8);
  const server = node(w, 0).shell?.core;
  if (!server) throw new Error('v00 down');
  const proven = () => server.sync.served.filter((x) => x.proof !== null).at(-1);
  const older = proven();
  let t = 4_000;
  while (proven() === older && t < 8_000) w.queue.runUntil((t += 50), 1e8);
  const newer = proven();
  if (!older || !newer || newer === older) throw new Error('no two proven snapshots');
  const offer = (snap: ServedSnapshot, from: string, nonce: number): SnapshotOffer => {
    if (!snap.proof) throw new Error('unproven');
    return { from, height: snap.height, chunkHashes: snap.chunkHashes, proofBlock: decodeBlockBytes(snap.proof.blockBytes), proofCertificate: snap.proof.certificate, manifest: server.chain.manifestAt(snap.height + 1), nonce };
  };
  const fresh = createConsensus({ id: 'v02', fleet: w.fleet, genesis: w.manifest, config: { ...defaultConsensusConfig, checkpointEveryHeights: 8 }, deps: { hash, verify: (sg, m, k) => w.verifier.verify(sg, m, k) } });
  fresh.peers.set('v00', { height: 1000, round: 0 });
  const gossip = defaultConsensusConfig.gossipMs;
  /** Answers the chunk requests in fx for `snap` (servers hold only it), and what they ask on. */
  let served = 0;
  const serve = (fx: readonly Effect[], snap: ServedSnapshot, now: number, follow = true) => {
    for (const e of fx) {
      if (e.type !== 'send' || e.kind !== 'chunk-request' || e.to === null) continue;
      const d = decodeCbor(e.body, 1 << 16);
      const r = parseChunkRequestBody(d.ok ? d.value : null);
      if (r.height !== snap.height) continue; // a snapshot the server dropped: ignored, as a server does
      const out: Effect[] = [];
      for (let i = r.first; i < r.first + r.count && i < snap.chunkHashes.length; i++, served++) onChunk(fresh, e.to, r.height, i, chunkOf(snap.bytes, i), now, out);
      if (follow) serve(out, snap, now);
    }
  };
  const logs: string[] = [];
  const answer = (fx: readonly Effect[], snap: ServedSnapshot, now: number) => {
    for (const e of fx) {
      if (e.type === 'log') logs.push(e.message);
      if (e.type !== 'send' || e.kind !== 'snapshot-request') continue;
      const d = decodeCbor(e.body, 1 << 10);
      const out: Effect[] = [];
      onOffer(fresh, offer(snap, 'v00', parseSnapshotRequestBody(d.ok ? d.value : null).nonce), now, out);
      answer(out, snap, now);
      serve(out, snap, now);
    }
  };

  // The older snapshot's first chunk request is answered; then its servers drop it.
  const fx: Effect[] = [];
  onOffer(fresh, offer(older, 'v00', requestSnapshot(fresh, fx)), 0, fx);
  serve(fx, older, 0, false);
  expect(fresh.sync.fetch?.have).toBe(limits.snapshotChunksPerRequestMax);

  // A newer offer while the fetch still gets chunks is not taken.
  onOffer(fresh, offer(newer, 'v01', requestSnapshot(fresh, [])), gossip, []);
  expect(fresh.sync.fetch?.height).toBe(older.height);

  // The fetch goes quiet, asks again, and moves to the newer snapshot, which the servers answer for.
  served = 0;
  let now = 0;
  for (let tick = 0; tick < 40 && fresh.sync.fetch !== null; tick++) {
    now += gossip;
    const out: Effect[] = [];
    syncTick(fresh, now, out);
    answer(out, newer, now);
    serve(out, newer, now);
  }
  expect(fresh.sync.restored, logs.join('\n')).toBe(1);
  expect(fresh.chain.height).toBe(newer.height);
  const moved = logs.find((m) => m.includes(`fetching snapshot ${newer.height}`)) ?? '';
  const kept = Number(/(\d+) of them kept from snapshot/.exec(moved)?.[1] ?? 0);
  expect(kept, moved).toBeGreaterThan(0);
  expect(served, 'only the chunks not kept were fetched').toBe(newer.chunkHashes.length - kept);
  expect(now, 'at the first tick after it went quiet, and the time the newer chunks took').toBeLessThanOrEqual((limits.stateSyncQuietGossips + 3) * gossip);
});

// The reviewer's radio-retention scenario, smaller: a ~200 KB snapshot (1,500 live nonces) over 115200
// baud radios only, with checkpoints every 8 heights, so the servers drop a snapshot every few seconds,
// well before a fetch of it can finish.
const radioRetention = `
name: radio-retention
seed: 7
duration: 90s
validators: 4
followers: 0
links:
  mqtt: { latency: 2ms, jitter: 1ms, loss: 0 }
  radio: { baud: 115200, mtu: 252, loss: 0, rangeM: 2000, hopLimit: 1 }
consensus: { gossip: 1s, proposeTimeout: 1500ms, checkpointEvery: 8, syncWindow: 16 }
faults:
  - { at: 5s, crash: 1 }
  - { at: 15s, broker: down, until: 90s }
  - { at: 25s, restart: 1, wal: intact }
workload:
  - { from: 1s, to: 15s, rate: 300/s, command: noop }
expect: { safety: true, maxStall: 10s }
`;

it('a validator that restarts with only radios ahead of it state-syncs a snapshot larger than the servers keep long enough to send (seed 7)', async () => {
  let w: World | undefined;
  const r = await runScenario(parseScenario(radioRetention), 7, { onWorld: (x) => (w = x) });
  expect(r.safety.ok && r.liveness.ok, explain(r)).toBe(true);
  const c = w?.nodes[1]?.shell?.core;
  expect(c?.sync.restored, explain(r)).toBeGreaterThanOrEqual(1);
  expect(c?.chain.height ?? 0).toBeGreaterThanOrEqual((w?.nodes[0]?.shell?.core.chain.height ?? 0) - 2);
}, 60_000);
