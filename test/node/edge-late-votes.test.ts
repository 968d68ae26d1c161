// The edge checks a vote against the validator set of the height it names when that height is a few
// behind (a late vote can still complete an equivocation, core.ts onLateVote), and evidence against the
// set of its votes' height: a validator that a set change dropped since must not get away with an
// equivocation because its key is no longer in the current set. A block's txs are checked against the
// set of the block's height, whatever the checking node's height, so every honest node reaches the
// same verdicts on a certified block; the verdict cache never answers across a set change.

import { beforeAll, describe, expect, it } from 'vitest';
import { createSigner, hash } from '../../runtime/crypto/sodium.js';
import { limits } from '../../runtime/lib/limits.js';
import { unwrap } from '../../runtime/lib/result.js';
import { signManifest, type Manifest } from '../../runtime/manifest/manifest.js';
import { EdgeVerifier } from '../../runtime/node/edge.js';
import { encodeEvidenceBody } from '../../runtime/wire/consensus-aux.js';
import { decodeBlockBytes, encodeBlock } from '../../runtime/wire/block.js';
import { encodeCommandBody } from '../../runtime/wire/command.js';
import { peekEnvelope, sealEnvelope } from '../../runtime/wire/envelope.js';
import { kinds } from '../../runtime/wire/kinds.js';
import { encodeVoteBody, voteHeightOf } from '../../runtime/wire/vote.js';
import { encodeSyncResponseBody, syncResponseHeightOf } from '../../runtime/wire/consensus-aux.js';
import { createVerifier, makeFleet, type FleetFixture } from '../support/fleet-fixture.js';

// v3 is a validator up to height 9; from height 10 on the set is v0..v2.
const changeAt = 10;
const current = 12;
let fx: FleetFixture;
let later: Manifest;
let edge: EdgeVerifier;

beforeAll(async () => {
  fx = await makeFleet({ validators: 4 });
  const b = fx.manifest.body;
  // From height 10 on, v3 is no validator and the operator 'op' is gone.
  later = unwrap(signManifest({ ...b, epoch: 2, validators: b.validators.filter((v) => v.id !== 'v3'), operators: [] }, createSigner(fx.authority)));
  edge = new EdgeVerifier({
    fleet: fx.fleet,
    verifier: createVerifier(),
    hash,
    manifestAt: (h) => (h < changeAt ? fx.manifest : later),
    currentHeight: () => current, currentRound: () => 0, self: 'this-node',
    votes: () => true,
    authority: fx.authority.publicKey,
  });
});

const vote = (from: string, height: number, fill: number | null, kind: 'prevote' | 'precommit' = 'prevote'): Uint8Array =>
  sealEnvelope(kind, fx.fleet, from, encodeVoteBody({ height, round: 0, blockHash: fill === null ? null : new Uint8Array(32).fill(fill) }), fx.signer(from));

describe('late votes and evidence of a dropped validator', () => {
  it('takes a vote of a validator dropped since, for a height within the late-vote window, and no older', () => {
    const late = edge.toInput(vote('v3', changeAt - 1, 1), 0);
    expect(late.ok ? late.value.type : late.error).toBe('vote');
    const tooOld = current - limits.lateVoteHeightsMax - 1;
    expect(tooOld).toBeLessThan(changeAt);
    const old = edge.toInput(vote('v3', tooOld, 1), 0);
    expect(old.ok).toBe(false);
    // At the current height the current set rules: v3 is no validator there.
    const now = edge.toInput(vote('v3', current, 1), 0);
    expect(now.ok).toBe(false);
  });

  it('accepts evidence of an equivocation by a validator dropped since, checked against its height\'s set', () => {
    const body = encodeEvidenceBody({ first: vote('v3', 3, 1, 'precommit'), second: vote('v3', 3, null, 'precommit') });
    const tx = edge.checkTx(sealEnvelope('evidence', fx.fleet, 'v0', body, fx.signer('v0')));
    expect(tx.kind === 'rejected' ? tx.reason : tx.kind).toBe('evidence');
    if (tx.kind === 'evidence') expect(tx.key).toBe('v3/3'); // one proof per validator and height (chain-state.ts evidenceKeyOf)
  });

  it('still refuses evidence whose votes do not verify against that set', () => {
    // v3 signs as if it were v2 (the key is v2's in every set): the signature is not v2's.
    const forged = (fill: number | null) => sealEnvelope('precommit', fx.fleet, 'v2', encodeVoteBody({ height: 3, round: 0, blockHash: fill === null ? null : new Uint8Array(32).fill(fill) }), fx.signer('v3'));
    const body = encodeEvidenceBody({ first: forged(1), second: forged(null) });
    const tx = edge.checkTx(sealEnvelope('evidence', fx.fleet, 'v0', body, fx.signer('v0')));
    expect(tx.kind === 'rejected' ? tx.reason : tx.kind).toMatch(/does not verify/);
  });
});

describe("a block's txs against its own height's set", () => {
  const command = (): Uint8Array => {
    const t = 1_700_000_000_000;
    const body = encodeCommandBody({ type: 'noop', nonce: new Uint8Array(16).fill(9), issuedAt: t, expiresAt: t + 60_000, args: {} });
    return sealEnvelope('command', fx.fleet, 'op', body, fx.signer('op'));
  };
  const blockAt = (height: number, txs: Uint8Array[]) =>
    decodeBlockBytes(encodeBlock({ height, parent: new Uint8Array(32), timeMs: 1, proposer: 'v0', txs, lastCommit: null, manifestHash: new Uint8Array(32), appHash: new Uint8Array(32) }));

  it("takes a command of an operator removed since in a block of a height when it was one, refuses it in a later block, and the cache never mixes the two", () => {
    const tx = command();
    // The node is at height 12 (op removed at 10): as a tx of its own height, refused.
    expect(edge.checkTx(tx).kind).toBe('rejected');
    expect(edge.checkTxs(blockAt(9, [tx]))[0]?.kind).toBe('command');
    expect(edge.checkTxs(blockAt(11, [tx]))[0]?.kind).toBe('rejected');
    expect(edge.checkTxs(blockAt(9, [tx]))[0]?.kind).toBe('command');
    expect(edge.checkTx(tx).kind).toBe('rejected');
  });
});

describe('voteHeightOf', () => {
  it('reads the height of every integer width encodeVoteBody writes, and nothing else', () => {
    for (const h of [0, 23, 24, 255, 256, 65_535, 65_536, 2 ** 32 - 1, 2 ** 32, Number.MAX_SAFE_INTEGER]) {
      expect(voteHeightOf(encodeVoteBody({ height: h, round: 3, blockHash: null })), `height ${h}`).toBe(h);
    }
    expect(voteHeightOf(Uint8Array.of(0x82, 0x01, 0x00))).toBe(null); // not a 3-array
    expect(voteHeightOf(Uint8Array.of(0x83, 0x20))).toBe(null); // a negative integer
    expect(voteHeightOf(Uint8Array.of(0x83, 0x19, 0x01))).toBe(null); // cut short
    expect(voteHeightOf(Uint8Array.of(0x83, 0x1b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff))).toBe(null); // past 2^53
  });
});

describe('a sync response for a block this node has', () => {
  const cert = (height: number) => ({ height, round: 0, blockHash: new Uint8Array(32).fill(4), signatures: [{ validator: 'v0', signature: new Uint8Array(64).fill(5) }] });

  it('syncResponseHeightOf reads the certificate height past blocks of every length-head width, and nothing else', () => {
    for (const blockLen of [0, 23, 24, 255, 256, 70_000]) {
      for (const h of [0, 23, 24, 65_536, 2 ** 32]) {
        expect(syncResponseHeightOf(encodeSyncResponseBody({ blockBytes: new Uint8Array(blockLen).fill(1), certificate: cert(h) })), `block ${blockLen} bytes, height ${h}`).toBe(h);
      }
    }
    expect(syncResponseHeightOf(Uint8Array.of(0x83, 0x40, 0x84, 0x01))).toBe(null); // not a 2-array
    expect(syncResponseHeightOf(Uint8Array.of(0x82, 0x01, 0x84, 0x01))).toBe(null); // block not a byte string
    expect(syncResponseHeightOf(Uint8Array.of(0x82, 0x42, 0x00, 0x00, 0x83, 0x01))).toBe(null); // certificate not a 4-array
    expect(syncResponseHeightOf(Uint8Array.of(0x82, 0x45, 0x00))).toBe(null); // cut short
    expect(syncResponseHeightOf(Uint8Array.of(0x82, 0x40, 0x84, 0x20))).toBe(null); // a negative height
  });

  it('is dropped on the height its body names before its signature is checked; one for the current height still is', () => {
    const forged = (height: number): Uint8Array => sealEnvelope('sync-response', fx.fleet, 'v1', encodeSyncResponseBody({ blockBytes: new Uint8Array(8), certificate: cert(height) }), fx.signer('v2'));
    const old = edge.toInput(forged(current - 1), 0);
    expect(old.ok ? old.value.type : old.error).toBe(`block ${current - 1} is already committed here`);
    const now = edge.toInput(forged(current), 0);
    expect(now.ok ? now.value.type : now.error).toMatch(/signature/);
    // Before the envelope is decoded, too: a signature field of the wrong length would be refused there.
    const env = forged(current - 1);
    const cut = Uint8Array.from([...env.subarray(0, env.length - 66), 0x58, 63, ...env.subarray(env.length - 63)]);
    expect(edge.toInput(cut, 0)).toEqual({ ok: false, error: `block ${current - 1} is already committed here` });
    const cutNow = forged(current);
    const cutNowBytes = Uint8Array.from([...cutNow.subarray(0, cutNow.length - 66), 0x58, 63, ...cutNow.subarray(cutNow.length - 63)]);
    expect(edge.toInput(cutNowBytes, 0)).toEqual({ ok: false, error: 'envelope signature must be 64 bytes' });
  });

  it('peekEnvelope reads the kind and body of what sealEnvelope writes, and of nothing else', () => {
    const body = encodeSyncResponseBody({ blockBytes: new Uint8Array(300).fill(1), certificate: cert(9) });
    const env = sealEnvelope('sync-response', fx.fleet, 'v1', body, fx.signer('v1'));
    const p = peekEnvelope(env);
    expect(p?.code).toBe(kinds['sync-response'].code);
    expect(Array.from(p?.body ?? [])).toEqual(Array.from(body));
    expect(peekEnvelope(env.subarray(0, 40)), 'cut inside the body').toBe(null);
    expect(peekEnvelope(Uint8Array.of(0x85, 0x01)), 'not a 6-array').toBe(null);
    expect(peekEnvelope(Uint8Array.of(0x86, 0x01, 0x0a, 0x41, 0x61)), 'fleet not a text string').toBe(null);
  });

  it('hands its body on as the block proof the node keeps, when the body is written as encodeProof writes it', () => {
    const blockBytes = encodeBlock({ height: current, parent: new Uint8Array(32), timeMs: 1, proposer: 'v0', txs: [], lastCommit: null, manifestHash: new Uint8Array(32), appHash: new Uint8Array(32) });
    const body = encodeSyncResponseBody({ blockBytes, certificate: cert(current) });
    const proofOf = (b: Uint8Array): Uint8Array | undefined | string => {
      const r = edge.toInput(sealEnvelope('sync-response', fx.fleet, 'v1', b, fx.signer('v1')), 0);
      return !r.ok ? r.error : r.value.type === 'sync-response' ? r.value.proof : r.value.type;
    };
    expect(Array.from(proofOf(body) as Uint8Array)).toEqual(Array.from(body));
    // The same values with the array's length in a second byte: read alike, but not kept as they came
    // (the WAL's commit record embeds a proof's items after its one-byte head): encoded again at commit.
    const wide = Uint8Array.from([0x98, 0x02, ...body.subarray(1)]);
    expect(proofOf(wide)).toBe(undefined);
  });
});
