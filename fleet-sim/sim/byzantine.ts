// Byzantine behaviours as plain options on a node's outgoing traffic. The node runs the honest code;
// these wrappers lie on its behalf with its real key (equivocate, invalid-block, wrong-proposer,
// forge, replay, flood, silent). Twins and amnesia live in the world (they are about identity and disk).

import type { Signer } from '../../runtime/crypto/sodium.js';
import type { Prng } from '../../runtime/lib/prng.js';
import { decodeCbor, encodeCbor } from '../../runtime/wire/cbor.js';
import { encodeBlock, encodeProposalBody, parseBlock } from '../../runtime/wire/block.js';
import { encodeStatusBody } from '../../runtime/wire/consensus-aux.js';
import { decodeEnvelope, sealEnvelope } from '../../runtime/wire/envelope.js';
import { encodeVoteBody, parseVoteBody } from '../../runtime/wire/vote.js';
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
}

const receivedMax = 256;

export function rememberReceived(ctx: ByzantineContext, bytes: Uint8Array): void {
  if (ctx.behavior !== 'replay' && ctx.behavior !== 'wrong-proposer') return;
  ctx.received.push(bytes);
  if (ctx.received.length > receivedMax) ctx.received.shift();
  if (ctx.behavior === 'wrong-proposer') {
    const raw = decodeEnvelope(bytes);
    // Re-sign someone else's proposal as our own: a proposal from a validator that is not the proposer.
    if (raw.ok && raw.value.kind === 'proposal' && raw.value.sender !== ctx.id) ctx.sendRaw(null, sealEnvelope('proposal', ctx.fleet, ctx.id, raw.value.body, ctx.signer));
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
      for (let i = 0; i < 2 && ctx.received.length > 0; i++) ctx.sendRaw(null, ctx.prng.pick(ctx.received));
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
    case 'wrong-proposer':
    case 'twins':
    case 'amnesia':
    // Agent lies (fleet-sim/flight/world-agents.ts) leave consensus traffic honest.
    case 'fake-hazard':
    case 'deny-hazard':
      return ctx.sendRaw(to, bytes);
  }
}
