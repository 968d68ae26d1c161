// The edge's tx verdict cache is keyed by the end of a tx's signature and confirmed by the whole
// bytes: a forged tx that shares the signature (and so the key) with a verified one must still be
// refused, the verified one must still pass after the forgery displaced it, and a caller that changes
// its buffer afterwards cannot change what was verified. And a follower's edge drops prevotes unverified.

import { beforeAll, describe, expect, it } from 'vitest';
import { hash } from '../../runtime/crypto/sodium.js';
import { EdgeVerifier } from '../../runtime/node/edge.js';
import { encodeCommandBody } from '../../runtime/wire/command.js';
import { encodeVoteBody } from '../../runtime/wire/vote.js';
import { encodeTelemetryBody } from '../../runtime/wire/telemetry.js';
import { sealEnvelope } from '../../runtime/wire/envelope.js';
import { createVerifier, makeFleet, type FleetFixture } from '../support/fleet-fixture.js';

let fx: FleetFixture;
let edge: EdgeVerifier;
let verifications = 0;
let voting = true;

beforeAll(async () => {
  fx = await makeFleet({ validators: 4 });
  const real = createVerifier();
  edge = new EdgeVerifier({
    fleet: fx.fleet,
    verifier: { backend: real.backend, verify: (s, m, k) => (verifications++, real.verify(s, m, k)) },
    hash,
    manifestAt: () => fx.manifest,
    currentHeight: () => 1, currentRound: () => 0, self: 'this-node',
    votes: () => voting,
    authority: fx.authority.publicKey,
  });
});

function command(nonceByte: number): Uint8Array {
  const t = 1_700_000_000_000;
  const body = encodeCommandBody({ type: 'noop', nonce: new Uint8Array(16).fill(nonceByte), issuedAt: t, expiresAt: t + 60_000, args: {} });
  return sealEnvelope('command', fx.fleet, 'op', body, fx.signer('op'));
}

describe('edge tx cache', () => {
  it('refuses a forgery that shares the key of a cached tx, and still accepts the original', () => {
    const good = command(1);
    const forged = Uint8Array.from(good);
    // The nonce sits in the body, before the signature: same last bytes, different signed bytes.
    const at = forged.indexOf(1, 20);
    forged[at] = 2;
    expect(edge.checkTx(good).kind).toBe('command');
    const v = verifications;
    expect(edge.checkTx(good).kind).toBe('command');
    expect(verifications).toBe(v); // a hit: not verified again
    const f = edge.checkTx(forged);
    expect(f.kind).toBe('rejected');
    if (f.kind === 'rejected') expect(f.reason).toMatch(/does not verify/);
    expect(edge.checkTx(good).kind).toBe('command');
    expect(edge.checkTx(forged).kind).toBe('rejected');
  });

  it("names the device a telemetry or attestation tx is from, as its signature proves (the mempool's per-device cap)", () => {
    const body = encodeTelemetryBody({ node: 'v2', session: 1, seq: 1, northDm: 0, eastDm: 0, altDm: 0, batteryPermille: 900, completed: '' });
    const tx = edge.checkTx(sealEnvelope('telemetry', fx.fleet, 'v2', body, fx.signer('v2')));
    expect(tx.kind).toBe('other');
    if (tx.kind === 'other') expect(tx.sender).toBe('v2');
  });

  it("forgets a committed block's txs, and only them: one that comes again is checked again", () => {
    const committed = command(5);
    const pending = command(6);
    expect(edge.checkTx(committed).kind).toBe('command');
    expect(edge.checkTx(pending).kind).toBe('command');
    // A tx sharing the committed one's key (its last bytes) but not its bytes is not what is forgotten.
    const lookalike = Uint8Array.from(committed);
    lookalike[lookalike.indexOf(5, 20)] = 7;
    edge.forgetCommitted([{ bytes: lookalike }]);
    let v = verifications;
    expect(edge.checkTx(committed).kind).toBe('command');
    expect(verifications, 'still cached').toBe(v);
    edge.forgetCommitted([{ bytes: committed }]);
    v = verifications;
    expect(edge.checkTx(pending).kind).toBe('command');
    expect(verifications, 'the pending tx is still cached').toBe(v);
    expect(edge.checkTx(committed).kind).toBe('command');
    expect(verifications, 'the committed tx is verified again').toBe(v + 1);
    expect(edge.checkTx(committed).kind).toBe('command');
    expect(verifications, 'and cached again').toBe(v + 1);
  });

  it('keeps its own copy of a verified tx', () => {
    const good = command(3);
    const buf = Uint8Array.from(good);
    const first = edge.checkTx(buf);
    expect(first.kind).toBe('command');
    buf[buf.indexOf(3, 20)] = 4; // the caller reuses its buffer
    if (first.kind === 'command') expect(Uint8Array.from(first.bytes)).toEqual(Uint8Array.from(good));
    expect(edge.checkTx(buf).kind).toBe('rejected');
    expect(edge.checkTx(good).kind).toBe('command');
  });

  it('a follower drops prevotes before checking their signature, and still takes precommits', () => {
    const vote = (kind: 'prevote' | 'precommit'): Uint8Array => sealEnvelope(kind, fx.fleet, 'v1', encodeVoteBody({ height: 1, round: 0, blockHash: new Uint8Array(32).fill(7) }), fx.signer('v1'));
    voting = false;
    try {
      const v = verifications;
      const pre = edge.toInput(vote('prevote'), 0);
      expect(pre.ok ? pre.value.type : pre.error).toBe('prevote not needed: this node is a follower');
      expect(verifications).toBe(v);
      const commit = edge.toInput(vote('precommit'), 0);
      expect(commit.ok ? commit.value.type : commit.error).toBe('vote');
      expect(verifications).toBe(v + 1);
    } finally {
      voting = true;
    }
    const validator = edge.toInput(vote('prevote'), 0);
    expect(validator.ok ? validator.value.type : validator.error).toBe('vote');
  });
});
