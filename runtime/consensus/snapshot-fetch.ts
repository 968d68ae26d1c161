// Fetching a snapshot by state sync, pure like the rest of the core. A node further behind than block
// sync can serve asks for an offer, checks the proof against a validator set it trusts, then fetches
// chunks from every peer that offered the same snapshot, each chunk checked against its certified hash
// on arrival. Nothing touches the state until the whole snapshot has checked out (then state-sync.ts
// installs it); a peer that sent anything wrong is counted and ignored. A peer offering a snapshot
// proven under a validator set older than this node knows (offerStale) is not wrong, only early: its
// offer is ignored and the next request asks again. A source that stays silent is passed over, not
// judged (StateSync.quiet).

import { concatBytes, bytesEqual, toHex } from '../lib/bytes.js';
import { limits } from '../lib/limits.js';
import type { Manifest } from '../manifest/manifest.js';
import type { Block } from '../wire/block.js';
import { verifyCertificate, type CommitCertificate } from '../wire/certificate.js';
import { encodeChunkRequestBody, encodeSnapshotRequestBody } from '../wire/state-sync.js';
import type { ConsensusState } from './consensus-state.js';
import { hashOf, installSnapshot, verifiedManifests, verifierOf, type StateSync } from './state-sync.js';
import { chunkHashesOf, commitmentOf, decodeStateSnapshot } from './snapshot.js';
import type { Effect, SnapshotOffer } from './types.js';

/** A snapshot being fetched: its certified chunk hashes and proof, the chunks so far, and who serves them. */
export interface Fetch {
  readonly height: number;
  readonly commitment: Uint8Array;
  readonly chunkHashes: readonly Uint8Array[];
  readonly chunks: (Uint8Array | undefined)[];
  have: number;
  /** Every chunk below this index is here (where the search for missing ones starts). */
  firstMissing: number;
  /** Peers whose offer for this exact snapshot checked out; chunks are asked of them. */
  readonly sources: string[];
  /** The source whose request for each chunk last timed out, so it is asked of another. */
  readonly missedBy: (string | undefined)[];
  /** Outstanding chunk requests, at most one per source; `answered` once a chunk came from it since, and
   *  `atMs` the request's time or its last chunk's: a request still bringing chunks, however slowly (a
   *  range takes seconds on a slow radio), does not time out and is not asked of another source too. */
  readonly asked: Map<string, { readonly first: number; readonly count: number; atMs: number; answered: boolean }>;
  readonly proofBlock: Block;
  readonly proofBytes: Uint8Array;
  readonly proofCertificate: CommitCertificate;
  lastChunkAtMs: number;
}

/** On every gossip tick: ask for a snapshot when block sync cannot help, and keep a fetch moving. */
export function syncTick(s: ConsensusState, now: number, fx: Effect[]): void {
  const sync = s.sync;
  const gossip = s.p.config.gossipMs;
  const f = sync.fetch;
  if (f) {
    if (s.chain.height >= f.height) sync.fetch = null; // block sync got there first
    else if (now - f.lastChunkAtMs > limits.stateSyncFetchGossipsMax * gossip) abandon(s, `no chunk of snapshot ${f.height} for ${now - f.lastChunkAtMs} ms`, fx);
    else {
      for (const [peer, a] of f.asked) {
        if (now - a.atMs <= limits.stateSyncChunkTimeoutGossips * gossip) continue;
        f.asked.delete(peer);
        for (let i = a.first; i < a.first + a.count; i++) if (f.chunks[i] === undefined) f.missedBy[i] = peer;
        if (!a.answered) noteQuiet(s.sync, peer);
      }
      requestChunks(s, now, fx);
      // No chunk yet, or none for stateSyncQuietGossips: ask again, so that more peers offer this snapshot
      // and become its sources (a peer that answered first and then serves nothing must not be all this
      // node hears from), or offer a newer one (onOffer). Not while chunks come, however slowly: offers
      // are the largest state-sync messages, and on a radio they would crowd the chunks out.
      // At most every stateSyncReaskGossips: every peer answers each request with a full offer, and on
      // a slow radio a request per gossip interval filled the air with offers (567 offers, 3.4 MB, in
      // 95 s at 19200 baud, and no chunk got through in time).
      if ((f.have === 0 || fetchQuiet(s, f, now)) && now - sync.reaskedAtMs >= limits.stateSyncReaskGossips * gossip) {
        sync.reaskedAtMs = now;
        requestSnapshot(s, fx);
      }
      return;
    }
  }
  let ahead = 0;
  for (const p of s.peers.values()) ahead = Math.max(ahead, p.height);
  if (ahead <= s.height) return;
  // Peers work on `ahead`: we lack ahead - height blocks. Past the window nobody keeps them; a long
  // stall means block sync is not arriving for another reason (peers restarted with short windows).
  const far = ahead - s.height > s.p.config.syncWindowHeights;
  const stalled = now - sync.progressAtMs > limits.stateSyncStallGossips * gossip;
  if (far || stalled) requestSnapshot(s, fx);
}

/** Broadcasts a request for a snapshot above this node's height, and returns its nonce. */
export function requestSnapshot(s: ConsensusState, fx: Effect[]): number {
  const sync = s.sync;
  const nonce = sync.nonce++;
  sync.requested.push(nonce);
  if (sync.requested.length > limits.stateSyncRequestsRememberedMax) sync.requested.shift();
  fx.push({ type: 'send', to: null, kind: 'snapshot-request', body: encodeSnapshotRequestBody({ height: s.chain.height, nonce }) });
  return nonce;
}

function noteQuiet(sync: StateSync, peer: string): void {
  if (!sync.quiet.has(peer) && sync.quiet.size >= limits.stateSyncQuietPeersMax) sync.quiet.clear();
  sync.quiet.set(peer, (sync.quiet.get(peer) ?? 0) + 1);
}

/**
 * Why an offer, genuine as far as its manifest shows, is of no use to this node yet, or null. An honest
 * peer offers its newest proven checkpoint, which may be proven under a set older than the newest this
 * node knows: a new member started with the newest manifest asks before the fleet has proven a
 * checkpoint under it. offerProblem refuses such an offer too; this tells it apart from a forgery.
 */
export function offerStale(s: ConsensusState, o: SnapshotOffer): string | null {
  if (typeof o.manifest === 'string' || o.manifest.body.fleet !== s.p.fleet) return null;
  const known = s.chain.latestEpoch();
  return o.manifest.body.epoch < known ? `proven under epoch ${o.manifest.body.epoch}, older than the ${known} this node knows` : null;
}

/** Why an offer does not prove its snapshot, or null. Only a verified certificate makes a proof. */
export function offerProblem(s: ConsensusState, o: SnapshotOffer): string | null {
  const b = o.proofBlock.block;
  if (typeof o.manifest === 'string') return `its manifest does not verify: ${o.manifest}`;
  const m: Manifest = o.manifest;
  // Blocks C+1..C+k all carry checkpoint C's commitment: only the one after C proves a snapshot of C.
  if (!s.chain.isCheckpoint(o.height)) return `height ${o.height} is not a checkpoint height (every ${s.p.config.checkpointEveryHeights} heights)`;
  if (b.height !== o.height + 1) return `proof block is at height ${b.height}, not ${o.height + 1}`;
  if (o.proofCertificate.height !== b.height) return 'proof certificate is for another height';
  if (m.body.fleet !== s.p.fleet) return 'its manifest is for another fleet';
  if (!bytesEqual(m.hash, b.manifestHash)) return 'its manifest is not the one the proof block names';
  // A set older than one this node already knows could be one whose keys leaked since: never trust it.
  const known = s.chain.latestEpoch();
  if (m.body.epoch < known) return `its manifest has epoch ${m.body.epoch}, older than the ${known} this node knows`;
  if (m.body.epoch === known && !bytesEqual(m.hash, s.chain.latestManifest().hash)) return `its manifest differs from this node's of epoch ${known}`;
  const cert = verifyCertificate(o.proofCertificate, s.p.fleet, m.validators, verifierOf(s), o.proofBlock.hash);
  if (!cert.ok) return `proof certificate: ${cert.error}`;
  if (o.chunkHashes.length === 0) return 'it lists no chunks';
  if (!bytesEqual(commitmentOf(o.chunkHashes, hashOf(s)), b.appHash)) return 'its chunk hashes are not the commitment the certified block carries';
  if (b.lastCommit === null || b.lastCommit.height !== o.height || !bytesEqual(b.lastCommit.blockHash, b.parent)) return 'proof block lacks the certificate of the snapshot block';
  return null;
}

export function onOffer(s: ConsensusState, o: SnapshotOffer, now: number, fx: Effect[]): void {
  const sync = s.sync;
  // Only an answer to one of this node's newest requests counts: offers pushed unasked cannot keep
  // replacing a fetch that gets no chunks (and need no more than a glance before they are dropped).
  if (!sync.requested.includes(o.nonce) || sync.bad.has(o.from) || o.height <= s.chain.height) return;
  const f = sync.fetch;
  if (f && f.height === o.height && bytesEqual(o.proofBlock.hash, hashOf(s)(f.proofBytes)) && sameHashes(o.chunkHashes, f.chunkHashes)) {
    // The offer we already proved, from another peer: one more source to fetch from.
    if (!f.sources.includes(o.from) && f.sources.length < limits.validatorsMax) f.sources.push(o.from);
    requestChunks(s, now, fx);
    return;
  }
  // Keep a fetch under way unless this offer is newer and the fetch gets nothing: no chunk yet, or none
  // for stateSyncQuietGossips. Then its sources went quiet, most likely because they dropped the snapshot
  // (each serves only its newest, limits.snapshotsServedMax) and ignore requests for it: move on.
  if (f && (o.height <= f.height || (f.have > 0 && !fetchQuiet(s, f, now)))) return;
  const stale = offerStale(s, o);
  if (stale) {
    // Not a forgery: ignored without holding it against the peer, and asked again at the next tick.
    if (!sync.staleNoted) fx.push({ type: 'log', level: 'info', message: `${s.p.id}: state sync: waiting for a newer snapshot: ${o.from} offers ${o.height}, ${stale}` });
    sync.staleNoted = true;
    return;
  }
  const problem = offerProblem(s, o);
  if (problem) return markBad(s, o.from, `snapshot offer for height ${o.height}: ${problem}`, fx);
  const n = o.chunkHashes.length;
  const next: Fetch = {
    height: o.height,
    commitment: o.proofBlock.block.appHash,
    chunkHashes: o.chunkHashes,
    chunks: new Array<Uint8Array | undefined>(n).fill(undefined),
    missedBy: new Array<string | undefined>(n).fill(undefined),
    have: 0,
    firstMissing: 0,
    sources: [o.from],
    asked: new Map(),
    proofBlock: o.proofBlock.block,
    proofBytes: o.proofBlock.bytes,
    proofCertificate: o.proofCertificate,
    lastChunkAtMs: now,
  };
  const kept = f ? keepChunks(next, f) : 0;
  sync.fetch = next;
  sync.staleNoted = false;
  const keptNote = f && kept > 0 ? `, ${kept} of them kept from snapshot ${f.height}` : '';
  fx.push({ type: 'log', level: 'info', message: `${s.p.id}: state sync: fetching snapshot ${o.height} (${n} chunks${keptNote}) from ${o.from}; this node is at ${s.chain.height}` });
  if (next.have === n) return finish(s, next, now, fx);
  requestChunks(s, now, fx);
}

/** No chunk for stateSyncQuietGossips: its sources let their requests time out again and again. Longer
 *  than a few chunk timeouts: on a slow radio a range of chunks takes seconds, and a fetch called quiet
 *  sooner hopped from snapshot to snapshot and never finished. */
function fetchQuiet(s: ConsensusState, f: Fetch, now: number): boolean {
  return now - f.lastChunkAtMs > limits.stateSyncQuietGossips * s.p.config.gossipMs;
}

/**
 * Moves into a new fetch every chunk of the old one that the new snapshot lists (by hash, wherever it
 * is): the state changes little between checkpoints, so most chunks are the same bytes. Each was checked
 * against its certified hash on arrival, and the new offer's hashes are certified too. Returns how many.
 */
function keepChunks(to: Fetch, from: Fetch): number {
  const byHash = new Map<string, Uint8Array>();
  from.chunks.forEach((c, i) => {
    if (c !== undefined) byHash.set(toHex(from.chunkHashes[i] as Uint8Array), c);
  });
  to.chunkHashes.forEach((h, i) => {
    const c = byHash.get(toHex(h));
    if (c === undefined) return;
    to.chunks[i] = c;
    to.have++;
  });
  while (to.firstMissing < to.chunks.length && to.chunks[to.firstMissing] !== undefined) to.firstMissing++;
  return to.have;
}

function sameHashes(a: readonly Uint8Array[], b: readonly Uint8Array[]): boolean {
  return a.length === b.length && a.every((h, i) => bytesEqual(h, b[i] as Uint8Array));
}

/**
 * Asks each idle source for the next run of chunks nobody is asked for (up to snapshotChunksPerRequestMax).
 * Sources that let the fewest requests go unanswered (StateSync.quiet) choose first, and a chunk one
 * source let time out is not asked of it again while there is another source: a silent source cannot
 * hold a range, yet a source that missed a request once still helps when there is more to fetch.
 */
function requestChunks(s: ConsensusState, now: number, fx: Effect[]): void {
  const f = s.sync.fetch;
  if (!f) return;
  const busy = new Set<number>();
  for (const a of f.asked.values()) for (let i = a.first; i < a.first + a.count; i++) busy.add(i);
  const quiet = (peer: string) => s.sync.quiet.get(peer) ?? 0;
  const order = [...f.sources].sort((a, b) => quiet(a) - quiet(b)); // stable: ties in the order they offered
  for (const peer of order) {
    if (f.asked.has(peer)) continue;
    const free = (i: number) => f.chunks[i] === undefined && !busy.has(i) && (f.missedBy[i] !== peer || f.sources.length === 1);
    let first = f.firstMissing;
    while (first < f.chunks.length && !free(first)) first++;
    if (first >= f.chunks.length) continue;
    let end = first;
    while (end < f.chunks.length && end - first < limits.snapshotChunksPerRequestMax && free(end)) busy.add(end++);
    f.asked.set(peer, { first, count: end - first, atMs: now, answered: false });
    fx.push({ type: 'send', to: peer, kind: 'chunk-request', body: encodeChunkRequestBody({ height: f.height, first, count: end - first, nonce: s.sync.nonce++ }) });
  }
}

export function onChunk(s: ConsensusState, from: string, height: number, index: number, bytes: Uint8Array, now: number, fx: Effect[]): void {
  const f = s.sync.fetch;
  if (!f || height !== f.height || s.sync.bad.has(from)) return;
  // Only a source (a peer whose offer of this snapshot checked out) may fill a missing chunk, even one
  // it was asked for before its request timed out; anything else is ignored, not stored.
  if (!f.sources.includes(from) || index >= f.chunks.length || f.chunks[index] !== undefined) return;
  if (!bytesEqual(hashOf(s)(bytes), f.chunkHashes[index] as Uint8Array)) {
    markBad(s, from, `chunk ${index} of snapshot ${height} (${bytes.length} bytes) does not match its certified hash`, fx);
    if (f.sources.length === 0) return abandon(s, `every source of snapshot ${height} served bad chunks`, fx);
    return requestChunks(s, now, fx);
  }
  f.chunks[index] = bytes;
  f.have++;
  while (f.firstMissing < f.chunks.length && f.chunks[f.firstMissing] !== undefined) f.firstMissing++;
  f.lastChunkAtMs = now;
  s.sync.quiet.delete(from);
  const a = f.asked.get(from);
  if (a) {
    a.answered = true;
    a.atMs = now;
  }
  let done = true;
  for (let i = a?.first ?? 0; a && i < a.first + a.count && done; i++) done = f.chunks[i] !== undefined;
  if (a && done) f.asked.delete(from);
  if (f.have === f.chunks.length) return finish(s, f, now, fx);
  requestChunks(s, now, fx);
}

function markBad(s: ConsensusState, peer: string, reason: string, fx: Effect[]): void {
  const sync = s.sync;
  sync.rejected++;
  if (sync.bad.size >= limits.stateSyncBadPeersMax) sync.bad.clear();
  sync.bad.set(peer, (sync.bad.get(peer) ?? 0) + 1);
  const f = sync.fetch;
  if (f) {
    const i = f.sources.indexOf(peer);
    if (i >= 0) f.sources.splice(i, 1);
    f.asked.delete(peer);
  }
  fx.push({ type: 'log', level: 'warn', message: `${s.p.id}: state sync: ignoring ${peer} from now on: ${reason}` });
}

function abandon(s: ConsensusState, reason: string, fx: Effect[]): void {
  s.sync.fetch = null;
  s.sync.rejected++;
  fx.push({ type: 'log', level: 'warn', message: `${s.p.id}: state sync: gave up: ${reason}` });
}

/**
 * Every source offered this exact snapshot as the one after block f.height, and every chunk matched its
 * certified hash: a whole that then fails a check makes that claim false, so every source is counted and
 * ignored, and the fetch given up (else the same offer could be made again at the next request).
 */
function refuseWhole(s: ConsensusState, f: Fetch, reason: string, fx: Effect[]): void {
  for (const peer of [...f.sources]) markBad(s, peer, reason, fx);
  abandon(s, reason, fx);
}

/** Every chunk matched; the whole is checked again and against the proof block, then installed. */
function finish(s: ConsensusState, f: Fetch, now: number, fx: Effect[]): void {
  if (s.chain.height >= f.height) {
    // Block sync got there while the chunks came: the snapshot would move the chain back.
    s.sync.fetch = null;
    return;
  }
  const whole = concatBytes(...(f.chunks as Uint8Array[]));
  const hashes = chunkHashesOf(whole, hashOf(s));
  if (!bytesEqual(commitmentOf(hashes, hashOf(s)), f.commitment)) return refuseWhole(s, f, `snapshot ${f.height} does not hash to its commitment as a whole`, fx);
  const d = decodeStateSnapshot(whole);
  if (!d.ok) return refuseWhole(s, f, `certified snapshot ${f.height} does not decode: ${d.error}`, fx);
  const snap = d.value;
  const b = f.proofBlock;
  if (snap.height !== f.height || !bytesEqual(snap.lastHash, b.parent) || snap.lastTimeMs >= b.timeMs) return refuseWhole(s, f, `snapshot ${f.height} does not end at the proof block's parent`, fx);
  const manifests = verifiedManifests(s, snap);
  if (typeof manifests === 'string') return refuseWhole(s, f, `snapshot ${f.height}: ${manifests}`, fx);
  let inForce = manifests[0]?.manifest;
  for (const m of manifests) if (m.fromHeight <= b.height) inForce = m.manifest;
  if (!inForce || !bytesEqual(inForce.hash, b.manifestHash)) return refuseWhole(s, f, `snapshot ${f.height} names another validator set than its proof block`, fx);
  const lastCertificate = b.lastCommit as CommitCertificate;
  installSnapshot(s, { height: f.height, bytes: whole, app: snap.app, lastCertificate }, snap, manifests, hashes, { blockBytes: f.proofBytes, certificate: f.proofCertificate }, now, fx);
  s.sync.restored++;
  fx.push({ type: 'log', level: 'info', message: `${s.p.id}: state sync: installed snapshot ${f.height} (${whole.length} bytes, commitment ${toHex(f.commitment).slice(0, 12)}) from ${f.sources.join(', ')}` });
}
