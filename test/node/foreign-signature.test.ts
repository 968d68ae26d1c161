// A proposal or vote signed with a node's own key that the node never signed proves another process
// holds the key (a copied device: identity-guard.ts). The signer guard is the proof: each position is
// durable there before its signature leaves, so a position past its last one, or another signature at
// a position it kept, was signed elsewhere; an echo of its own message, or an older position, proves
// nothing. The shell reports such a message through onForeignSignature and drops it, at the height it
// is at and has signed at (or the next): a node with nothing signed yet, or catching up, is sent votes
// of heights it passes through, its own earlier ones among them after its data directory was replaced.

import { beforeAll, describe, expect, it } from 'vitest';
import { hash } from '../../runtime/crypto/sodium.js';
import { ok } from '../../runtime/lib/result.js';
import { defaultConsensusConfig } from '../../runtime/consensus/types.js';
import { NodeShell, type ForeignSignature } from '../../runtime/node/shell.js';
import { SignerGuard } from '../../runtime/node/signer-guard.js';
import { silentLogger } from '../../runtime/node/ports.js';
import { signingBytes } from '../../runtime/wire/signing.js';
import { decodeEnvelope, sealEnvelope } from '../../runtime/wire/envelope.js';
import { encodeVoteBody, parseVoteBody } from '../../runtime/wire/vote.js';
import { decodeCbor } from '../../runtime/wire/cbor.js';
import { SimStorage } from '../../fleet-sim/sim/sim-storage.js';
import { createVerifier, makeFleet, type FleetFixture } from '../support/fleet-fixture.js';

let fx: FleetFixture;
beforeAll(async () => {
  fx = await makeFleet({ validators: 4 });
});

const voteBody = (height: number, round: number, fill: number | null): Uint8Array => encodeVoteBody({ height, round, blockHash: fill === null ? null : new Uint8Array(32).fill(fill) });
const vote = (from: string, kind: 'prevote' | 'precommit', height: number, round: number, fill: number | null): Uint8Array => sealEnvelope(kind, fx.fleet, from, voteBody(height, round, fill), fx.signer(from));

describe('SignerGuard.notSignedHere and holds', () => {
  it('a position past the last signed is proof; at a kept position only other bytes are; older positions and echoes are not', () => {
    const signer = fx.signer('v1');
    const guard = new SignerGuard(signer, new SimStorage(), hash);
    const digestOf = (kind: 'prevote' | 'precommit', h: number, r: number, fill: number | null): Uint8Array => guard.digestOf(signingBytes(kind, fx.fleet, voteBody(h, r, fill)));
    // Nothing signed yet: any position is past the last.
    expect(guard.notSignedHere(5, 0, 'prevote', digestOf('prevote', 5, 0, 7))).toBe(true);
    const body = voteBody(5, 0, 7);
    expect(guard.sign(5, 0, 'prevote', signingBytes('prevote', fx.fleet, body), body).ok).toBe(true);
    const mine = digestOf('prevote', 5, 0, 7);
    expect(guard.notSignedHere(5, 0, 'prevote', mine)).toBe(false); // its own, echoed
    expect(guard.holds(5, 0, 'prevote', mine)).toBe(true);
    expect(guard.notSignedHere(5, 0, 'prevote', digestOf('prevote', 5, 0, null))).toBe(true); // nil where it voted for a block
    expect(guard.holds(5, 0, 'prevote', digestOf('prevote', 5, 0, null))).toBe(false);
    expect(guard.notSignedHere(5, 0, 'precommit', digestOf('precommit', 5, 0, 7))).toBe(true); // a step it has not reached
    expect(guard.notSignedHere(5, 1, 'prevote', digestOf('prevote', 5, 1, 7))).toBe(true); // a round it has not reached
    expect(guard.notSignedHere(6, 0, 'prevote', digestOf('prevote', 6, 0, 7))).toBe(true); // a height it has not reached
    expect(guard.notSignedHere(4, 0, 'precommit', digestOf('precommit', 4, 0, 1))).toBe(false); // older, not kept: unknown
    expect(guard.holds(4, 0, 'precommit', digestOf('precommit', 4, 0, 1))).toBe(false);
    // A proposal kept at its position: another proposal there is proof too.
    const proposal = new Uint8Array([1, 2, 3]);
    expect(guard.sign(5, 2, 'proposal', proposal).ok).toBe(true);
    expect(guard.holds(5, 2, 'proposal', guard.digestOf(proposal))).toBe(true);
    expect(guard.notSignedHere(5, 2, 'proposal', guard.digestOf(new Uint8Array([1, 2, 4])))).toBe(true);
    // After a restart from its state file the proof stands.
    const again = new SignerGuard(signer, (guard as unknown as { storage: SimStorage }).storage, hash);
    expect(again.notSignedHere(5, 0, 'prevote', mine)).toBe(false);
    expect(again.notSignedHere(5, 0, 'prevote', digestOf('prevote', 5, 0, null))).toBe(true);
  });
});

/** Validator v1's shell, its timers fired by hand; what it signs and what it reports. */
function shellOfV1(onForeign: ((m: ForeignSignature) => boolean) | undefined) {
  let now = 1_000_000;
  const timers: { at: number; fire: () => void }[] = [];
  const signed: Uint8Array[] = [];
  const sent: string[] = [];
  const shell = new NodeShell({
    id: 'v1',
    genesis: fx.manifest,
    config: defaultConsensusConfig,
    clock: { now: () => now },
    scheduler: { at: (at, fire) => void timers.push({ at, fire }) },
    storage: new SimStorage(),
    send: (_to, b) => {
      const d = decodeEnvelope(b);
      if (d.ok) sent.push(`${d.value.kind}:${d.value.sender}`);
    },
    signer: fx.signer('v1'),
    verifier: createVerifier(),
    logger: silentLogger,
    app: { commit: () => {}, exportState: () => new Uint8Array(0), importState: () => ok(undefined) },
    onSigned: (e) => void signed.push(e),
    ...(onForeign ? { onForeignSignature: onForeign } : {}),
  });
  shell.boot();
  /** Fires timers in time order until v1 has signed a prevote (its propose timeout: nil), at most 20;
   *  undefined if it signed none. */
  const runToPrevote = (): Uint8Array | undefined => {
    for (let i = 0; i < 20; i++) {
      const p = signed.find((e) => decodeEnvelope(e).ok && (decodeEnvelope(e) as { value: { kind: string } }).value.kind === 'prevote');
      if (p) return p;
      timers.sort((a, b) => a.at - b.at);
      const t = timers.shift();
      if (!t) break;
      now = Math.max(now, t.at);
      t.fire();
    }
    return undefined;
  };
  const untilPrevote = (): Uint8Array => {
    const p = runToPrevote();
    if (!p) throw new Error('v1 signed no prevote');
    return p;
  };
  return { shell, untilPrevote, runToPrevote, signed, sent };
}

describe('NodeShell onForeignSignature', () => {
  it("a copy's vote before this node signed anything is not counted as its own, and stops it before its first signature at that height (no vote, no evidence against itself)", () => {
    const seen: ForeignSignature[] = [];
    const { shell, runToPrevote, signed, sent } = shellOfV1((m) => {
      seen.push(m);
      return true; // as a device: stop
    });
    const h = shell.core.height;
    expect(shell.receive(vote('v1', 'prevote', h, 0, 9))).toMatch(/signed with this node's key that its signer state does not hold: not counted as its own/);
    expect(shell.core.votes.tally('prevote', 0)?.votes.get('v1')).toBeUndefined();
    expect(seen).toEqual([]);
    // Its propose timer runs out: it would prevote nil at (h, 0), against the copy's prevote there.
    expect(runToPrevote()).toBeUndefined();
    expect(seen).toEqual([{ kind: 'prevote', height: h, round: 0 }]);
    expect(signed).toEqual([]);
    expect(sent.filter((k) => k.startsWith('evidence'))).toEqual([]);
  });

  it('reports and drops a vote of its own key it never signed, at a position past its last or another signature at one it signed; takes its own echo', () => {
    const seen: ForeignSignature[] = [];
    const { shell, untilPrevote } = shellOfV1((m) => {
      seen.push(m);
      return false; // reported, goes on (fleet-sim's twins)
    });
    const h = shell.core.height;
    const own = untilPrevote();
    const mine = decodeEnvelope(own);
    if (!mine.ok) throw new Error(mine.error.message);
    const myVote = parseVoteBody(unwrapCbor(mine.value.body));
    expect(myVote.height).toBe(h);
    // Its own prevote coming back (a broker, a radio relay) is no proof, and goes on to the core as before.
    expect(shell.receive(own)).toBeNull();
    // A different prevote at the position it signed, a precommit it has not signed, a prevote of the
    // next height: all proof.
    const other = vote('v1', 'prevote', h, myVote.round, myVote.blockHash === null ? 5 : null);
    expect(shell.receive(other)).toMatch(/prevote at .* signed with this node's key that this node never signed/);
    expect(shell.receive(vote('v1', 'precommit', h, myVote.round + 3, 5))).not.toBeNull();
    expect(shell.receive(vote('v1', 'prevote', h + 1, 0, 5))).not.toBeNull();
    expect(seen).toEqual([
      { kind: 'prevote', height: h, round: myVote.round },
      { kind: 'precommit', height: h, round: myVote.round + 3 },
      { kind: 'prevote', height: h + 1, round: 0 },
    ]);
    // Two heights past the last it signed at (it is behind): not counted, kept for later, not reported yet.
    expect(shell.receive(vote('v1', 'prevote', h + 2, 0, 5))).toMatch(/does not hold/);
    // Another validator's votes are not its business.
    expect(shell.receive(vote('v2', 'prevote', h, 0, 9))).toBeNull();
    expect(seen.length).toBe(3);
  });

  it('without the hook (fleet-sim\'s twins share a key by design) nothing is checked and the vote goes on to the core', () => {
    const { shell } = shellOfV1(undefined);
    expect(shell.receive(vote('v1', 'prevote', shell.core.height, 0, 9))).toBeNull();
  });
});

function unwrapCbor(b: Uint8Array): unknown {
  const d = decodeCbor(b, 4096);
  if (!d.ok) throw new Error(d.error);
  return d.value;
}
