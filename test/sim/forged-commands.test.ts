// The attacker of the forgedCommands fault: each forgery it makes gets, from the real intake and edge
// verifier, the refusal it is meant to get; the ledger counts a forgery refused only with that
// refusal, keeps wrong answers, and (real-time mode) ties refusals of unsigned payloads to the ones
// published before them or within a device's quiet window.

import { beforeAll, describe, expect, it } from 'vitest';
import { hash } from '../../runtime/crypto/sodium.js';
import { intakeCommand, type IntakeContext } from '../../runtime/device/intake.js';
import { EdgeVerifier } from '../../runtime/node/edge.js';
import { encodeCommandBody } from '../../runtime/wire/command.js';
import { sealEnvelope } from '../../runtime/wire/envelope.js';
import { commandRef, expectedRefusal, forgeCommand, ForgedCommandsLedger, forgeryKinds, type ForgeContext, type Forgery } from '../../fleet-sim/sim/forged-commands.js';
import { createVerifier, makeFleet, type FleetFixture } from '../support/fleet-fixture.js';

let f: FleetFixture;
let intake: IntakeContext;
let forge: ForgeContext;
const now = 1_800_000_000_000;
const committed = new Map<string, number>();
let real: Uint8Array;

beforeAll(async () => {
  f = await makeFleet({ operators: [{ id: 'op', roles: ['operator'] }, { id: 'viewer', roles: ['observer'] }, { id: 'eve', roles: ['operator'] }] });
  const edge = new EdgeVerifier({ fleet: f.fleet, verifier: createVerifier(), hash, manifestAt: () => f.manifest, currentHeight: () => 1, votes: () => true, authority: f.authority.publicKey });
  intake = { fleet: f.fleet, now: () => now, checkTx: (b) => edge.checkTx(b), committedAt: (k) => committed.get(k) };
  real = sealEnvelope('command', f.fleet, 'op', encodeCommandBody({ type: 'noop', nonce: new Uint8Array(16).fill(0xee), issuedAt: now - 5_000, expiresAt: now + 60_000, args: {} }), f.signer('op'));
  committed.set(commandRef(real) as string, 7);
  let n = 0;
  forge = {
    fleet: f.fleet,
    operatorId: 'op',
    operator: f.signer('op'),
    observerId: 'viewer',
    observer: f.signer('viewer'),
    // A key the manifest holds for someone else is as foreign to "op" as a key in no manifest.
    attacker: f.signer('eve'),
    nonce: () => new Uint8Array(16).fill(++n),
    now: () => now,
    committedCopy: () => real,
  };
});

const verdict = (bytes: Uint8Array): string => {
  const r = intakeCommand(bytes, intake);
  return r.verdict === 'pass' ? 'passed' : r.kind;
};

describe('forged commands', () => {
  it('each forgery gets its refusal from the real intake', () => {
    for (const k of forgeryKinds) {
      const g = forgeCommand(k, forge) as Forgery;
      expect(verdict(g.bytes), k).toBe(expectedRefusal[k]);
      expect(g.ref === null, k).toBe(k === 'unsigned');
    }
  });

  it('a replay is a copy of the committed bytes and names that command', () => {
    const g = forgeCommand('replayed', forge) as Forgery;
    expect(Buffer.from(g.bytes).equals(Buffer.from(real))).toBe(true);
    expect(g.bytes).not.toBe(real);
    expect(g.ref).toBe(commandRef(real));
    expect(forgeCommand('replayed', { ...forge, committedCopy: () => null })).toBeNull();
  });

  it('the ledger counts only the expected refusal, keeps wrong answers, and tells forged commands apart', () => {
    const l = new ForgedCommandsLedger();
    const bad = forgeCommand('bad-signature', forge) as Forgery;
    const old = forgeCommand('expired', forge) as Forgery;
    const again = forgeCommand('replayed', forge) as Forgery;
    const [a, b, c] = [l.onSent(bad, 0), l.onSent(old, 0), l.onSent(again, 0)];
    l.onVerdict(a, bad, 'unauthorized', 'v01');
    l.onVerdict(b, old, 'passed', 'v01');
    l.onVerdict(c, again, 'passed', 'v02'); // a device that has not committed the original yet
    l.onVerdict(a, bad, 'forged', 'v02');
    l.onVerdict(a, bad, 'forged', 'v03'); // counted once
    expect(l.report()).toEqual({
      sent: { 'bad-signature': 1, expired: 1, replayed: 1 },
      refused: { 'bad-signature': 1 },
      wrong: [`v01 answered unauthorized to bad-signature ${bad.ref}, expected forged`, `v01 answered passed to expired ${old.ref}, expected expired`],
      committed: 0,
    });
    expect(l.isForged(bad.ref as string)).toBe(true);
    expect(l.isForged(again.ref as string)).toBe(false); // the real command, committed once before
    l.onRefusalOf(again.ref as string, 'replayed', 'v03');
    expect(l.report().refused).toEqual({ 'bad-signature': 1, replayed: 1 });
  });

  it('real-time mode: an unsigned refusal answers those sent before it, and the quiet window after it', () => {
    const l = new ForgedCommandsLedger();
    const u = (): Forgery => forgeCommand('unsigned', forge) as Forgery;
    l.onSent(u(), 1_000);
    l.onSent(u(), 2_000);
    l.onUnsignedRefused('v00', 1_500);
    expect(l.report().refused).toEqual({ unsigned: 1 });
    l.onSent(u(), 9_000); // long after the last refusal: nobody answered it
    l.settleQuietUnsigned(2_000);
    expect(l.report().refused).toEqual({ unsigned: 2 });
    expect(l.report().sent).toEqual({ unsigned: 3 });
  });
});
