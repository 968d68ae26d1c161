// One table entry per wire kind (runtime/wire/kinds.ts): who may send it, a fast-check generator of
// bodies, and the body encoder. The round-trip and fuzz tests in test/wire run over this table, and a
// kind missing from it fails both the type check (the mapped type) and a test (Object.keys equality).

import fc from 'fast-check';
import { createSigner, hash } from '../../runtime/crypto/sodium.js';
import { limits } from '../../runtime/lib/limits.js';
import { authoritySenderId } from '../../runtime/manifest/manifest.js';
import { ackStages, encodeAckBody } from '../../runtime/wire/ack.js';
import { encodeAttestationBody, type AttestationBody, type Observation } from '../../runtime/wire/attestation.js';
import { encodeBlock, encodeProposalBody, type Block } from '../../runtime/wire/block.js';
import { encodeCbor } from '../../runtime/wire/cbor.js';
import type { CommitCertificate } from '../../runtime/wire/certificate.js';
import { encodeCommandBody } from '../../runtime/wire/command.js';
import { encodeEvidenceBody, encodeStatusBody, encodeSyncRequestBody, encodeSyncResponseBody } from '../../runtime/wire/consensus-aux.js';
import { sealEnvelope } from '../../runtime/wire/envelope.js';
import { encodeHeartbeatBody, healthStates } from '../../runtime/wire/heartbeat.js';
import type { BodyOf, KindName } from '../../runtime/wire/kinds.js';
import { manifestToCbor, operatorRoles, type ManifestBody } from '../../runtime/wire/manifest-body.js';
import { encodeChunkRequestBody, encodeSnapshotChunkBody, encodeSnapshotOfferBody, encodeSnapshotRequestBody } from '../../runtime/wire/state-sync.js';
import { encodeTelemetryBody } from '../../runtime/wire/telemetry.js';
import { encodeVoteBody, type VoteBody } from '../../runtime/wire/vote.js';
import type { FleetFixture } from './fleet-fixture.js';

export interface KindCase<K extends KindName> {
  /** A sender and a body; the sender is one the fixture's manifest allows to send this kind. */
  readonly arb: fc.Arbitrary<{ readonly sender: string; readonly body: BodyOf<K> }>;
  readonly encode: (body: BodyOf<K>) => Uint8Array;
}

export type KindCases = { readonly [K in KindName]: KindCase<K> };

/** The manifest's sender id; its key is the fleet authority's, not a member's. */
export const manifestSender = authoritySenderId;

const u32 = 0xffffffff;
const idArb = fc.stringMatching(/^[a-z0-9][a-z0-9._-]{0,63}$/);
const hashArb = fc.uint8Array({ minLength: 32, maxLength: 32 });
const sigArb = fc.uint8Array({ minLength: 64, maxLength: 64 });
const uintArb = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });
const heightArb = fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER });
const roundArb = fc.integer({ min: 0, max: u32 });
// -0 survives CBOR as -0 and toEqual tells it from 0; no Murmur field gives it a meaning, so use 0.
const finite = (abs: number): fc.Arbitrary<number> => fc.double({ min: -abs, max: abs, noNaN: true }).map((x) => (Object.is(x, -0) ? 0 : x));
const argsArb = fc.dictionary(
  fc.stringMatching(/^[a-z][a-zA-Z0-9]{0,11}$/),
  fc.oneof(fc.integer(), fc.string({ maxLength: 20 }), fc.boolean(), fc.array(finite(1e9), { maxLength: 4 })),
  { maxKeys: 6 },
);

function certificateArb(validators: readonly string[]): fc.Arbitrary<CommitCertificate> {
  return fc.record({
    height: heightArb,
    round: roundArb,
    blockHash: hashArb,
    signatures: fc.subarray([...validators].sort(), { minLength: 1 }).chain((ids) => fc.tuple(...ids.map(() => sigArb)).map((sigs) => ids.map((validator, i) => ({ validator, signature: sigs[i] as Uint8Array })))),
  });
}

export function kindCases(fx: FleetFixture): KindCases {
  const validators = fx.manifest.validators.map((v) => v.id);
  const devices = [...validators, ...fx.manifest.body.followers.map((f) => f.id)];
  const validatorArb = fc.constantFrom(...validators);
  const deviceArb = fc.constantFrom(...devices);
  const operatorArb = fc.constantFrom(...fx.manifest.body.operators.map((o) => o.id));

  const commandBodyArb = fc.record({
    type: fc.constantFrom('noop', 'mission.survey', 'hold', 'param.set'),
    nonce: fc.uint8Array({ minLength: 16, maxLength: 16 }),
    issuedAt: fc.integer({ min: 0, max: 2 ** 45 }),
    life: fc.integer({ min: 1, max: 3_600_000 }),
    args: argsArb,
  }).map(({ life, ...c }) => ({ ...c, expiresAt: c.issuedAt + life }));
  const signedCommandArb = fc.tuple(operatorArb, commandBodyArb).map(([op, c]) => sealEnvelope('command', fx.fleet, op, encodeCommandBody(c), fx.signer(op)));

  const blockArb = (height: fc.Arbitrary<number>): fc.Arbitrary<{ block: Block; bytes: Uint8Array }> =>
    fc.record({
      height,
      parent: hashArb,
      timeMs: fc.integer({ min: 0, max: 2 ** 45 }),
      proposer: validatorArb,
      txs: fc.array(signedCommandArb, { maxLength: 6 }),
      lastCommit: fc.option(certificateArb(validators), { nil: null }),
      manifestHash: fc.constant(fx.manifest.hash),
      appHash: hashArb,
    }).map((block) => ({ block, bytes: encodeBlock(block) }));

  const voteArb = fc.record({ sender: validatorArb, body: fc.record({ height: uintArb, round: roundArb, blockHash: fc.option(hashArb, { nil: null }) }) });

  const observationArb: fc.Arbitrary<Observation> = fc.oneof(
    fc.record({ type: fc.constant('hazard' as const), cell: fc.tuple(fc.integer({ min: -1e7, max: 1e7 }), fc.integer({ min: -1e7, max: 1e7 })), present: fc.boolean(), confidencePerMille: fc.integer({ min: 0, max: 1000 }) }),
    fc.record({ type: fc.constant('degraded' as const), device: idArb, severity: fc.constantFrom('minor' as const, 'severe' as const), reason: fc.string({ maxLength: 128 }) }),
    fc.record({ type: fc.constant('estimate' as const), quantity: fc.stringMatching(/^[a-z][a-z0-9]{0,9}(?:\.[a-z][a-z0-9-]{0,9}){0,3}$/), value: finite(1e12) }),
  );

  const manifestArb: fc.Arbitrary<ManifestBody> = fc
    .record({
      epoch: uintArb,
      ids: fc.uniqueArray(idArb.filter((i) => i !== manifestSender), { minLength: 1, maxLength: 12 }),
      split: fc.tuple(fc.nat(), fc.nat()),
      keys: fc.array(fc.uint8Array({ minLength: 32, maxLength: 32 }), { minLength: 12, maxLength: 12 }),
      powers: fc.array(fc.integer({ min: 1, max: 1_000_000 }), { minLength: 12, maxLength: 12 }),
      roles: fc.array(fc.subarray([...operatorRoles]), { minLength: 12, maxLength: 12 }),
      createdAt: uintArb,
    })
    .map(({ epoch, ids, split, keys, powers, roles, createdAt }) => {
      const nv = 1 + (split[0] % ids.length);
      const nf = nv + (split[1] % (ids.length - nv + 1));
      const key = (i: number): Uint8Array => keys[i] as Uint8Array;
      return {
        fleet: fx.fleet,
        epoch,
        authority: fx.authority.publicKey,
        validators: ids.slice(0, nv).map((id, i) => ({ id, publicKey: key(i), power: powers[i] as number })),
        followers: ids.slice(nv, nf).map((id, i) => ({ id, publicKey: key(nv + i) })),
        operators: ids.slice(nf).map((id, i) => ({ id, publicKey: key(nf + i), roles: roles[i] as (typeof operatorRoles)[number][] })),
        createdAt,
      };
    });

  return {
    manifest: { arb: manifestArb.map((body) => ({ sender: manifestSender, body })), encode: (b) => encodeCbor(manifestToCbor(b)) },
    command: { arb: fc.record({ sender: operatorArb, body: commandBodyArb }), encode: encodeCommandBody },
    proposal: {
      arb: fc
        .record({ sender: validatorArb, round: fc.integer({ min: 0, max: 50 }), vr: fc.nat(), b: blockArb(heightArb) })
        .map(({ sender, round, vr, b }) => ({ sender, body: { height: b.block.height, round, validRound: (vr % (round + 1)) - 1, block: { block: b.block, bytes: b.bytes, hash: hash(b.bytes) } } })),
      encode: (p) => encodeProposalBody({ height: p.height, round: p.round, validRound: p.validRound, blockBytes: p.block.bytes }),
    },
    prevote: { arb: voteArb, encode: (v: VoteBody) => encodeVoteBody(v) },
    precommit: { arb: voteArb, encode: (v: VoteBody) => encodeVoteBody(v) },
    heartbeat: {
      arb: fc
        .record({
          sender: deviceArb,
          seq: uintArb,
          session: fc.integer({ min: 0, max: u32 }),
          height: uintArb,
          round: roundArb,
          health: fc.constantFrom(...healthStates),
          position: fc.option(fc.tuple(finite(1e6), finite(1e6), finite(1e6)), { nil: null }),
          batteryPct: fc.option(fc.integer({ min: 0, max: 100 }), { nil: null }),
        })
        .map(({ sender, ...h }) => ({ sender, body: { node: sender, ...h } })),
      encode: encodeHeartbeatBody,
    },
    attestation: {
      arb: fc
        .record({
          sender: deviceArb,
          agent: idArb,
          observedAt: uintArb,
          basis: uintArb,
          obs: observationArb,
          model: fc.option(fc.record({ name: idArb, version: fc.string({ maxLength: 32 }), hash: hashArb }), { nil: null }),
        })
        .map(({ sender, model, ...a }): { sender: string; body: AttestationBody } => ({ sender, body: model === null ? a : { ...a, model } })),
      encode: encodeAttestationBody,
    },
    status: { arb: fc.record({ sender: deviceArb, body: fc.record({ height: uintArb, round: roundArb }) }), encode: encodeStatusBody },
    'sync-request': { arb: fc.record({ sender: deviceArb, body: fc.record({ height: uintArb }) }), encode: encodeSyncRequestBody },
    'sync-response': {
      arb: fc
        .record({ sender: deviceArb, b: blockArb(heightArb), cert: certificateArb(validators) })
        .map(({ sender, b, cert }) => ({ sender, body: { blockBytes: b.bytes, certificate: { ...cert, height: b.block.height, blockHash: hash(b.bytes) } } })),
      encode: encodeSyncResponseBody,
    },
    evidence: {
      // Two votes of one validator at one (height, round, step) for different blocks, as the core reports them.
      arb: fc
        .record({ sender: validatorArb, step: fc.constantFrom('prevote' as const, 'precommit' as const), height: heightArb, round: roundArb, a: hashArb, b: fc.option(hashArb, { nil: null }) })
        .map(({ sender, step, height, round, a, b }) => {
          const vote = (blockHash: Uint8Array | null): Uint8Array => sealEnvelope(step, fx.fleet, sender, encodeVoteBody({ height, round, blockHash }), fx.signer(sender));
          return { sender, body: { first: vote(a), second: vote(b) } };
        }),
      encode: encodeEvidenceBody,
    },
    ack: {
      arb: fc
        .record({ sender: deviceArb, op: operatorArb, nonce: fc.uint8Array({ minLength: 16, maxLength: 16 }), stage: fc.constantFrom(...ackStages), height: uintArb, reason: fc.string({ maxLength: 60 }), progress: fc.integer({ min: 0, max: 1000 }), assigned: fc.subarray(devices), h: hashArb })
        .map(({ sender, op, nonce, stage, h, ...a }) => ({
          sender,
          body: { command: `${op}/${Buffer.from(nonce).toString('hex')}`, node: sender, stage, blockHash: stage === 'accepted' || stage === 'rejected' ? h : null, ...a },
        })),
      encode: encodeAckBody,
    },
    telemetry: {
      arb: fc
        .record({
          sender: deviceArb,
          session: fc.integer({ min: 0, max: u32 }),
          seq: uintArb,
          northDm: fc.integer({ min: -1e7, max: 1e7 }),
          eastDm: fc.integer({ min: -1e7, max: 1e7 }),
          altDm: fc.integer({ min: -1e7, max: 1e7 }),
          batteryPermille: fc.integer({ min: -1, max: 1000 }),
          completed: fc.oneof(fc.constant(''), fc.string({ maxLength: 100 })),
          progress: fc.option(fc.record({ mission: fc.string({ maxLength: 40 }), flown: fc.integer({ min: 0, max: 0xffff }) }), { nil: undefined }),
          // The tenth and eleventh elements: "" is no handover (it reads back absent), so one has text.
          handedOver: fc.option(fc.string({ minLength: 1, maxLength: 40 }), { nil: undefined }),
          heightUnknown: fc.option(fc.constant(true as const), { nil: undefined }),
        })
        .map(({ sender, progress, handedOver, heightUnknown, ...t }) => ({ sender, body: { node: sender, ...t, ...(progress ? { progress } : {}), ...(handedOver !== undefined ? { handedOver } : {}), ...(heightUnknown ? { heightUnknown } : {}) } })),
      encode: encodeTelemetryBody,
    },
    'snapshot-request': { arb: fc.record({ sender: deviceArb, body: fc.record({ height: uintArb, nonce: uintArb }) }), encode: encodeSnapshotRequestBody },
    'snapshot-offer': {
      arb: fc
        .record({ sender: deviceArb, b: blockArb(heightArb), cert: certificateArb(validators), chunkHashes: fc.array(hashArb, { maxLength: 8 }), nonce: uintArb })
        .map(({ sender, b, cert, chunkHashes, nonce }) => ({
          sender,
          body: { height: b.block.height - 1, chunkHashes, proofBlock: b.bytes, proofCertificate: { ...cert, height: b.block.height, blockHash: hash(b.bytes) }, manifest: fx.manifest.bytes, nonce },
        })),
      encode: encodeSnapshotOfferBody,
    },
    'chunk-request': {
      arb: fc.record({ sender: deviceArb, body: fc.record({ height: uintArb, first: fc.integer({ min: 0, max: limits.snapshotChunksMax - 1 }), count: fc.integer({ min: 1, max: limits.snapshotChunksPerRequestMax }), nonce: uintArb }) }),
      encode: encodeChunkRequestBody,
    },
    'snapshot-chunk': {
      arb: fc.record({ sender: deviceArb, body: fc.record({ height: uintArb, index: fc.integer({ min: 0, max: limits.snapshotChunksMax - 1 }), bytes: fc.uint8Array({ maxLength: limits.snapshotChunkBytes }), nonce: uintArb }) }),
      encode: encodeSnapshotChunkBody,
    },
  };
}

/** Seals one generated case, so callers need not narrow the mapped type themselves. */
export function sealCase(fx: FleetFixture, cases: KindCases, kind: KindName, value: { readonly sender: string; readonly body: unknown }): Uint8Array {
  const c = cases[kind] as unknown as KindCase<KindName>;
  const signer = value.sender === manifestSender ? createSigner(fx.authority) : fx.signer(value.sender);
  return sealEnvelope(kind, fx.fleet, value.sender, c.encode(value.body as BodyOf<KindName>), signer);
}
