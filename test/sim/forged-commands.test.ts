// The attacker of the forgedCommands fault: each forgery it makes gets, from the real intake and edge
// verifier, the refusal it is meant to get; the ledger counts a forgery refused only with that
// refusal, keeps wrong answers, and (real-time mode) ties refusals of unsigned payloads to the ones
// published near them in time, a replay is not repeated within a device's quiet window, and the
// deterministic world counts any forgery that reaches a block.

import { beforeAll, describe, expect, it } from 'vitest';
import { hash } from '../../runtime/crypto/sodium.js';
import { intakeCommand, type IntakeContext } from '../../runtime/device/intake.js';
import { EdgeVerifier } from '../../runtime/node/edge.js';
import { encodeCommandBody } from '../../runtime/wire/command.js';
import { sealEnvelope } from '../../runtime/wire/envelope.js';
import { commandRef, CommittedCopies, expectedRefusal, forgeCommand, ForgedCommandsLedger, forgeryKinds, forgerySchedule, type ForgeContext, type Forgery } from '../../fleet-sim/sim/forged-commands.js';
import { rateTimes } from '../../fleet-sim/scenario/scenario.js';
import { WorldForgery } from '../../fleet-sim/sim/world-forgery.js';
import { Prng } from '../../runtime/lib/prng.js';
import { createVerifier, makeFleet, type FleetFixture } from '../support/fleet-fixture.js';

let f: FleetFixture;
let intake: IntakeContext;
let forge: ForgeContext;
const now = 1_800_000_000_000;
const committed = new Map<string, number>();
let real: Uint8Array;

beforeAll(async () => {
  f = await makeFleet({ operators: [{ id: 'op', roles: ['operator'] }, { id: 'viewer', roles: ['observer'] }, { id: 'eve', roles: ['operator'] }] });
  const edge = new EdgeVerifier({ fleet: f.fleet, verifier: createVerifier(), hash, manifestAt: () => f.manifest, currentHeight: () => 1, currentRound: () => 0, self: 'this-node', votes: () => true, authority: f.authority.publicKey });
  intake = { fleet: f.fleet, now: () => now, checkTx: (b) => edge.checkTx(b), committedAt: (k) => (committed.has(k) ? { height: committed.get(k) ?? 0, exact: true } : undefined), liveCommands: () => 0 };
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
    const [a, b, c] = [l.onSent(bad, 0), l.onSent(old, 0), l.onSent(again, 100)];
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
    l.onRefusalOf(again.ref as string, 'replayed', 'v03', 50); // an ack that arrived before the replay went out
    expect(l.report().refused).toEqual({ 'bad-signature': 1 });
    l.onRefusalOf(again.ref as string, 'replayed', 'v03', 150);
    expect(l.report().refused).toEqual({ 'bad-signature': 1, replayed: 1 });
  });

  it('real-time mode: an unsigned payload is answered by a refusal soon after it, or one just before it (the quiet window)', () => {
    const l = new ForgedCommandsLedger();
    const u = (): Forgery => forgeCommand('unsigned', forge) as Forgery;
    l.onSent(u(), 1_000); // answered at 1,500
    l.onSent(u(), 2_000); // within the 2 s quiet window after the refusal at 1,500
    l.onSent(u(), 9_000); // long after the last refusal and none after it: nobody answered
    l.onSent(u(), 20_000); // answered at 24,000 (within 5 s)
    l.onUnsignedRefused(1_500);
    l.onUnsignedRefused(24_000);
    l.settleUnsigned(2_000, 5_000);
    expect(l.report()).toMatchObject({ sent: { unsigned: 4 }, refused: { unsigned: 3 } });
  });

  it('a command replayed is not picked again within the quiet window, and only once committed', () => {
    const copies = new CommittedCopies(3_000);
    const first = <T>(xs: readonly T[]): T => xs[0] as T;
    copies.onSubmitted('op/aa', Uint8Array.of(1));
    expect(copies.pick(0, first)).toBeNull(); // published, not committed yet
    copies.onCommitted('op/aa');
    expect(copies.pick(1_000, first)).toEqual(Uint8Array.of(1));
    expect(copies.pick(2_000, first)).toBeNull();
    expect(copies.pick(4_000, first)).toEqual(Uint8Array.of(1));
  });

  it('the deterministic world counts a committed forgery, unverified, and a command committed twice', () => {
    const w = new WorldForgery({ fleet: f.fleet, now: () => now, at: () => undefined, after: () => undefined, publish: () => undefined, operator: f.signer('op'), observer: f.signer('viewer'), prng: new Prng(1) });
    const forged = forgeCommand('bad-signature', forge) as Forgery;
    w.ledger.onSent(forged, now);
    w.onCommitted([real]);
    expect(w.ledger.report().committed).toBe(0);
    w.onCommitted([forged.bytes, real]); // the forgery, and the real command a second time
    expect(w.ledger.report().committed).toBe(2);
  });

  it('a rate sends as many as the parser counts: 6/s from 2 s until 13 s is 66 forgeries, not 67', () => {
    // forged-commands.yaml's fault. Adding up 166.66... ms gaps ended at 12,999.999... ms, below
    // `until`, and published a 67th (the README and the parser's cap count 66).
    const s = forgerySchedule({ at: 2_000, until: 13_000, perSec: 6, kinds: forgeryKinds });
    expect(s.length).toBe(66);
    expect(s[0]).toEqual({ at: 2_000, kind: forgeryKinds[0] });
    expect(s.at(-1)?.at).toBe(2_000 + (65 * 1000) / 6);
    expect(s.every((x, k) => x.kind === forgeryKinds[k % forgeryKinds.length])).toBe(true);
    // Every rate whose gap is no whole number of ms, over whole seconds: exactly perSec * seconds.
    for (const perSec of [3, 6, 7, 9, 11, 13, 30, 45]) for (const seconds of [1, 7, 11, 60]) expect([...rateTimes(1_000, 1_000 + seconds * 1000, perSec, 1_000_000)].length, `${perSec}/s for ${seconds} s`).toBe(perSec * seconds);
    // A whole-ms gap gives the times the running sum gave (shipped workloads: 5, 10, 20/s), and the cap holds.
    expect([...rateTimes(1_000, 13_000, 20, 1_000_000)]).toEqual(Array.from({ length: 240 }, (_, k) => 1_000 + k * 50));
    expect([...rateTimes(0, 10_000, 100, 7)].length).toBe(7);
  });
});
