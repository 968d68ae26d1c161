// Byzantine behaviours as plain options on a node's outgoing traffic. The node runs the honest code;
// these wrappers lie on its behalf with its real key (equivocate, invalid-block, wrong-proposer,
// forge, replay, flood, silent, forge-snapshot). Twins and amnesia live in the world (they are about
// identity and disk).

import type { Signer } from '../../runtime/crypto/sodium.js';
import type { Prng } from '../../runtime/lib/prng.js';
import { decodeCbor, encodeCbor } from '../../runtime/wire/cbor.js';
import { encodeBlock, encodeProposalBody, parseBlock } from '../../runtime/wire/block.js';
import { encodeStatusBody } from '../../runtime/wire/consensus-aux.js';
import { decodeEnvelope, sealEnvelope } from '../../runtime/wire/envelope.js';
import { signingBytes } from '../../runtime/wire/signing.js';
import { encodeVoteBody, parseVoteBody } from '../../runtime/wire/vote.js';
import { encodeSnapshotChunkBody, encodeSnapshotOfferBody, parseSnapshotChunkBody, parseSnapshotOfferBody } from '../../runtime/wire/state-sync.js';
import { hash } from '../../runtime/crypto/sodium.js';
import { toHex } from '../../runtime/lib/bytes.js';
import { commitmentOf } from '../../runtime/consensus/snapshot.js';
import type { Behavior } from '../scenario/scenario.js';

export interface ByzantineContext {
  readonly behavior: Behavior;
  readonly id: string;
  readonly fleet: string;
  readonly signer: Signer;
  readonly prng: Prng;
  readonly peers: readonly number[];
  readonly otherIds: readonly string[];
  readonly sendRaw: (to: number | null, bytes: Uint8Array) => void;
  readonly received: Uint8Array[];
  /** Proposal bodies already re-signed (wrong-proposer), so two such nodes do not re-sign each other's
   *  copies forever (fleet-sim seed 123400147 never finished before this). */
  readonly resigned: Set<string>;
  /** Told of each message a replayer sends again (the world counts the commands among them that were
   *  committed already: every honest node must refuse those). */
  readonly onReplay?: (bytes: Uint8Array) => void;
}

const receivedMax = 256;

export function rememberReceived(ctx: ByzantineContext, bytes: Uint8Array): void {
  if (ctx.behavior !== 'replay' && ctx.behavior !== 'wrong-proposer') return;
  ctx.received.push(bytes);
  if (ctx.received.length > receivedMax) ctx.received.shift();
  if (ctx.behavior === 'wrong-proposer') {
    const raw = decodeEnvelope(bytes);
    // Re-sign someone else's proposal as our own: a proposal from a validator that is not the proposer.
    if (!raw.ok || raw.value.kind !== 'proposal' || raw.value.sender === ctx.id) return;
    const key = toHex(hash(raw.value.body));
    if (ctx.resigned.has(key)) return;
    if (ctx.resigned.size >= receivedMax) ctx.resigned.clear();
    ctx.resigned.add(key);
    ctx.sendRaw(null, sealEnvelope('proposal', ctx.fleet, ctx.id, raw.value.body, ctx.signer));
  }
}

function alteredProposal(ctx: ByzantineContext, body: Uint8Array, mode: 'time' | 'app-hash'): Uint8Array | null {
  const d = decodeCbor(body, 1 << 20);
  if (!d.ok) return null;
  const p = d.value as { height: number; round: number; validRound: number; block: Uint8Array };
  const bd = decodeCbor(p.block, 1 << 20);
  if (!bd.ok) return null;
  const b = parseBlock(bd.value);
  const changed = mode === 'time' ? { ...b, timeMs: b.timeMs + 1 } : { ...b, appHash: ctx.prng.bytes(32) };
  return sealEnvelope('proposal', ctx.fleet, ctx.id, encodeProposalBody({ height: p.height, round: p.round, validRound: p.validRound, blockBytes: encodeBlock(changed) }), ctx.signer);
}

/**
 * A snapshot offer that lies: a chunk hash swapped (the list no longer hashes to the certified appHash),
 * a proof block rewritten to carry the commitment of forged chunks (its certificate no longer matches),
 * the same forged block with a certificate signed by this node alone, or the honest offer (so this
 * node becomes a chunk source, and its chunks lie instead).
 */
function forgedOffer(ctx: ByzantineContext, body: Uint8Array): Uint8Array | null {
  const d = decodeCbor(body, 1 << 20);
  if (!d.ok) return null;
  const o = parseSnapshotOfferBody(d.value);
  const mode = ctx.prng.pick(['hashes', 'proof', 'self-cert', 'honest'] as const);
  if (mode === 'honest') return null;
  const hashes = o.chunkHashes.map((h) => Uint8Array.from(h));
  (hashes[ctx.prng.int(hashes.length)] as Uint8Array).set(ctx.prng.bytes(32));
  let forged = { ...o, chunkHashes: hashes };
  if (mode !== 'hashes') {
    const bd = decodeCbor(o.proofBlock, 1 << 20);
    if (!bd.ok) return null;
    const proofBlock = encodeBlock({ ...parseBlock(bd.value), appHash: commitmentOf(hashes, hash) });
    const cert = mode === 'proof' ? o.proofCertificate : { ...o.proofCertificate, blockHash: hash(proofBlock), signatures: [{ validator: ctx.id, signature: ctx.signer.sign(signingBytes('precommit', ctx.fleet, encodeVoteBody({ height: o.proofCertificate.height, round: o.proofCertificate.round, blockHash: hash(proofBlock) }))) }] };
    forged = { ...forged, proofBlock, proofCertificate: cert };
  }
  return sealEnvelope('snapshot-offer', ctx.fleet, ctx.id, encodeSnapshotOfferBody(forged), ctx.signer);
}

/** A chunk with one byte flipped, or cut short (a truncated snapshot). */
function forgedChunk(ctx: ByzantineContext, body: Uint8Array): Uint8Array | null {
  const d = decodeCbor(body, 1 << 16);
  if (!d.ok) return null;
  const c = parseSnapshotChunkBody(d.value);
  let out = Uint8Array.from(c.bytes);
  if (ctx.prng.chance(0.5) && out.length > 1) out = out.subarray(0, out.length >> 1);
  else {
    const i = ctx.prng.int(out.length);
    out[i] = (out[i] as number) ^ (1 + ctx.prng.int(255));
  }
  return sealEnvelope('snapshot-chunk', ctx.fleet, ctx.id, encodeSnapshotChunkBody({ ...c, bytes: out }), ctx.signer);
}

function half(ctx: ByzantineContext): [number[], number[]] {
  const shuffled = ctx.prng.shuffle([...ctx.peers]);
  const k = Math.ceil(shuffled.length / 2);
  return [shuffled.slice(0, k), shuffled.slice(k)];
}

/** Sends `bytes` (signed by the honest code) the Byzantine way. */
export function byzantineSend(ctx: ByzantineContext, to: number | null, bytes: Uint8Array): void {
  const raw = decodeEnvelope(bytes);
  const kind = raw.ok ? raw.value.kind : undefined;
  switch (ctx.behavior) {
    case 'silent':
      return;
    case 'equivocate':
      if (to === null && raw.ok && (kind === 'prevote' || kind === 'precommit' || kind === 'proposal')) {
        let other: Uint8Array | null;
        if (kind === 'proposal') other = alteredProposal(ctx, raw.value.body, 'time');
        else {
          const d = decodeCbor(raw.value.body, 512);
          const v = d.ok ? parseVoteBody(d.value) : null;
          other = v ? sealEnvelope(kind, ctx.fleet, ctx.id, encodeVoteBody({ ...v, blockHash: v.blockHash ? null : ctx.prng.bytes(32) }), ctx.signer) : null;
        }
        const [a, b] = half(ctx);
        for (const p of a) ctx.sendRaw(p, bytes);
        for (const p of b) ctx.sendRaw(p, other ?? bytes);
        return;
      }
      return ctx.sendRaw(to, bytes);
    case 'invalid-block':
      if (kind === 'proposal' && raw.ok) return ctx.sendRaw(to, alteredProposal(ctx, raw.value.body, 'app-hash') ?? bytes);
      return ctx.sendRaw(to, bytes);
    case 'forge':
      ctx.sendRaw(to, bytes);
      if (raw.ok && (kind === 'prevote' || kind === 'precommit')) {
        // A bad signature on our own vote, and a vote signed by us in another validator's name.
        const bad = Uint8Array.from(bytes);
        bad[bad.length - 1] = (bad[bad.length - 1] as number) ^ 0x01;
        ctx.sendRaw(null, bad);
        ctx.sendRaw(null, sealEnvelope(kind, ctx.fleet, ctx.prng.pick(ctx.otherIds), raw.value.body, ctx.signer));
      }
      return;
    case 'replay':
      ctx.sendRaw(to, bytes);
      for (let i = 0; i < 2 && ctx.received.length > 0; i++) {
        const again = ctx.prng.pick(ctx.received);
        ctx.onReplay?.(again);
        ctx.sendRaw(null, again);
      }
      return;
    case 'flood':
      ctx.sendRaw(to, bytes);
      for (let i = 0; i < 2; i++) {
        ctx.sendRaw(null, ctx.prng.bytes(1 + ctx.prng.int(300)));
        ctx.sendRaw(null, sealEnvelope('prevote', ctx.fleet, ctx.id, encodeVoteBody({ height: 1 + ctx.prng.int(1_000_000), round: ctx.prng.int(1_000_000), blockHash: null }), ctx.signer));
        ctx.sendRaw(null, sealEnvelope('status', ctx.fleet, ctx.id, encodeStatusBody({ height: ctx.prng.int(1_000), round: 0 }), ctx.signer));
      }
      ctx.sendRaw(null, encodeCbor([1, 99, ctx.fleet, ctx.id, new Uint8Array(10), new Uint8Array(64)]));
      return;
    case 'forge-snapshot':
      if (raw.ok && kind === 'snapshot-offer') return ctx.sendRaw(to, forgedOffer(ctx, raw.value.body) ?? bytes);
      if (raw.ok && kind === 'snapshot-chunk') return ctx.sendRaw(to, forgedChunk(ctx, raw.value.body) ?? bytes);
      return ctx.sendRaw(to, bytes);
    case 'wrong-proposer':
    case 'twins':
    case 'amnesia':
    // Agent lies (fleet-sim/flight/world-agents.ts) leave consensus traffic honest.
    case 'fake-hazard':
    case 'deny-hazard':
      return ctx.sendRaw(to, bytes);
  }
}
