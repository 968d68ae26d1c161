// Command intake: every way a command can be refused at the edge names its kind and reason
// (unsigned, forged, unauthorized, expired, replayed), checked with the real edge verifier.

import { beforeAll, describe, expect, it } from 'vitest';
import { hash } from '../../runtime/crypto/sodium.js';
import { toHex } from '../../runtime/lib/bytes.js';
import { limits } from '../../runtime/lib/limits.js';
import { intakeCommand, type IntakeContext } from '../../runtime/device/intake.js';
import { EdgeVerifier } from '../../runtime/node/edge.js';
import { encodeCommandBody } from '../../runtime/wire/command.js';
import { sealEnvelope } from '../../runtime/wire/envelope.js';
import { createVerifier, makeFleet, type FleetFixture } from '../support/fleet-fixture.js';

let f: FleetFixture;
const now = 1_800_000_000_000;
let ctx: IntakeContext;
const committed = new Map<string, number>();
let live = 0;

beforeAll(async () => {
  f = await makeFleet({ operators: [{ id: 'op', roles: ['operator'] }, { id: 'viewer', roles: ['observer'] }] });
  const edge = new EdgeVerifier({ fleet: f.fleet, verifier: createVerifier(), hash, manifestAt: () => f.manifest, currentHeight: () => 1, currentRound: () => 0, self: 'this-node', votes: () => true, authority: f.authority.publicKey });
  ctx = { fleet: f.fleet, now: () => now, checkTx: (b) => edge.checkTx(b), committedAt: (k) => (committed.has(k) ? { height: committed.get(k) ?? 0, exact: true } : undefined), liveCommands: () => live };
});

function command(sender: string, opts: { nonce?: number; expiresAt?: number; signAs?: string; issuedAt?: number } = {}): Uint8Array {
  const body = encodeCommandBody({ type: 'noop', nonce: new Uint8Array(16).fill(opts.nonce ?? 1), issuedAt: opts.issuedAt ?? now - 1_000, expiresAt: opts.expiresAt ?? now + 60_000, args: {} });
  return sealEnvelope('command', f.fleet, sender, body, f.signer(opts.signAs ?? sender));
}

describe('command intake', () => {
  it('passes a good command', () => {
    expect(intakeCommand(command('op'), ctx)).toEqual({ verdict: 'pass' });
  });

  it('says invalid for a good command that came without its link frame, naming the frame', () => {
    const r = intakeCommand(command('op', { nonce: 7 }), { ...ctx, unframed: true });
    expect(r).toMatchObject({ verdict: 'refused', kind: 'invalid', operator: 'op', signed: true });
    if (r.verdict === 'refused') expect(r.reason).toMatch(/^invalid: the command came without its link frame, and devices take a command only inside one \(docs\/topics\.md, "Link frame"/);
  });

  it('says unsigned for bytes that are not an envelope', () => {
    const r = intakeCommand(new TextEncoder().encode('{"type":"noop"}'), ctx);
    expect(r).toMatchObject({ verdict: 'unreadable', kind: 'unsigned', reason: 'unsigned: not a signed Murmur envelope (bare JSON; sign commands with `murmurctl send`)' });
    const junk = intakeCommand(new Uint8Array([0x82, 0x01]), ctx);
    expect(junk).toMatchObject({ verdict: 'unreadable', kind: 'unsigned' });
    if (junk.verdict !== 'pass') expect(junk.reason).toMatch(/^unsigned: not a signed Murmur envelope \(envelope: /);
  });

  it('says forged when the signature is not the sender key', () => {
    const r = intakeCommand(command('op', { signAs: 'viewer' }), ctx);
    expect(r).toMatchObject({ verdict: 'refused', kind: 'forged', operator: 'op', signed: false });
    if (r.verdict === 'refused') expect(r.reason).toMatch(/^forged: the signature does not verify against op's key/);
  });

  it('says unauthorized for an observer', () => {
    const r = intakeCommand(command('viewer'), ctx);
    // Its signature verified (a member lacking the role): answered every time, not as a stranger's.
    expect(r).toMatchObject({ verdict: 'refused', kind: 'unauthorized', reason: 'unauthorized: "viewer" may not issue commands (needs role operator)', signed: true });
  });

  it('says unauthorized for a sender not in the manifest, whose signature nothing checks (signed: false)', () => {
    const r = intakeCommand(sealEnvelope('command', f.fleet, 'stranger', encodeCommandBody({ type: 'noop', nonce: new Uint8Array(16).fill(9), issuedAt: now - 1_000, expiresAt: now + 60_000, args: {} }), f.signer('op')), ctx);
    expect(r).toMatchObject({ verdict: 'refused', kind: 'unauthorized', operator: 'stranger', signed: false });
    if (r.verdict === 'refused') expect(r.reason).toMatch(/^unauthorized: sender "stranger" is not in the fleet manifest/);
  });

  it('says issued in the future, naming both clocks that may be off', () => {
    const r = intakeCommand(command('op', { nonce: 3, issuedAt: now + 90_000, expiresAt: now + 120_000 }), ctx);
    expect(r).toMatchObject({ verdict: 'refused', kind: 'invalid', reason: "invalid: the command is issued 90000 ms ahead of this device's clock; check the operator's clock, or this device's (its health names a clock off the fleet's block times)" });
  });

  it('says expired, with when', () => {
    const r = intakeCommand(command('op', { nonce: 2, expiresAt: now - 5 }), ctx);
    expect(r).toMatchObject({ verdict: 'refused', kind: 'expired' });
    if (r.verdict === 'refused') expect(r.reason).toContain('5 ms ago');
    // The same refusal is what an operator whose clock is behind sees for every new command: it says so.
    if (r.verdict === 'refused') expect(r.reason).toContain(`the operator's clock is behind this device's by more than its 1 s lifetime: it was signed at ${new Date(now - 1_000).toISOString()} by the operator's clock`);
  });

  it('says replayed, with the height it was committed at', () => {
    const c = command('op', { nonce: 3 });
    committed.set(`op/${toHex(new Uint8Array(16).fill(3))}`, 42);
    const r = intakeCommand(c, ctx);
    expect(r).toMatchObject({ verdict: 'refused', kind: 'replayed', nonceHex: '03'.repeat(16) });
    if (r.verdict === 'refused') expect(r.reason).toContain('already committed at height 42');
    // Known only from the chain's nonces (after a restore): a height by which it was committed.
    const byChain = intakeCommand(c, { ...ctx, committedAt: () => ({ height: 900, exact: false }) });
    if (byChain.verdict === 'refused') expect(byChain.reason).toContain('already committed by height 900');
    expect(byChain.verdict).toBe('refused');
  });

  it('says full while the fleet keeps the most live commands it holds, and passes again below', () => {
    live = limits.seenNoncesMax;
    const r = intakeCommand(command('op', { nonce: 4 }), ctx);
    expect(r).toMatchObject({ verdict: 'refused', kind: 'full' });
    if (r.verdict === 'refused') expect(r.reason).toBe(`full: the fleet keeps ${limits.seenNoncesMax} commands within their lifetime, the most it holds (${limits.seenNoncesMax}); send it again once some expire, and give commands a shorter --ttl`);
    live = limits.seenNoncesMax - 1;
    expect(intakeCommand(command('op', { nonce: 4 }), ctx)).toEqual({ verdict: 'pass' });
    live = 0;
  });
});

describe('tx verdict cache at the edge', () => {
  it('verifies a tx once, forgets the oldest past its bound, and keeps no view of the caller\'s buffer', () => {
    const edge = new EdgeVerifier({ fleet: f.fleet, verifier: createVerifier(), hash, manifestAt: () => f.manifest, currentHeight: () => 1, currentRound: () => 0, self: 'this-node', votes: () => true, authority: f.authority.publicKey });
    const tx = (i: number): Uint8Array => {
      const body = encodeCommandBody({ type: 'noop', nonce: new Uint8Array(16).map((_, j) => (j < 4 ? (i >>> (8 * j)) & 0xff : 7)), issuedAt: now - 1_000, expiresAt: now + 60_000, args: {} });
      return sealEnvelope('command', f.fleet, 'op', body, f.signer('op'));
    };
    // The first tx arrives inside a larger buffer (as a tx inside a proposal does).
    const first = tx(0);
    const carrier = new Uint8Array(first.length + 1000);
    carrier.set(first, 500);
    const verdict = edge.checkTx(carrier.subarray(500, 500 + first.length));
    expect(verdict.kind).toBe('command');
    // A copy (in Node's small-buffer pool), never a view that would pin the carrier.
    if (verdict.kind === 'command') {
      expect(verdict.bytes.buffer).not.toBe(carrier.buffer);
      expect(Uint8Array.from(verdict.bytes)).toEqual(Uint8Array.from(first));
    }
    expect(edge.verifications).toBe(1);
    expect(edge.checkTx(first)).toBe(verdict); // a hit: same verdict, no new verification
    expect(edge.verifications).toBe(1);
    for (let i = 1; i < limits.verifiedTxCacheMax; i++) edge.checkTx(tx(i));
    expect(edge.verifications).toBe(limits.verifiedTxCacheMax);
    edge.checkTx(first); // still remembered: the cache holds exactly verifiedTxCacheMax verdicts
    expect(edge.verifications).toBe(limits.verifiedTxCacheMax);
    edge.checkTx(tx(limits.verifiedTxCacheMax)); // one more evicts the oldest (the first tx) ...
    edge.checkTx(first); // ... which is verified again
    expect(edge.verifications).toBe(limits.verifiedTxCacheMax + 2);
  });
});
