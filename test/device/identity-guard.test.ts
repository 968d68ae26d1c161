// One identity, one process (runtime/device/identity-guard.ts). Another instance's state, signed with
// this device's key, for a connection made since this process started, is a conflict when it comes as
// published (that process is connected now) or for a newer connection of that instance than heard
// before (it connected again while this one ran). What an earlier run left, a broker's older save and
// a replayed genuine state are not.

import { beforeAll, describe, expect, it } from 'vitest';
import { createSigner, createVerifier, generateKeyPair, initCrypto, type KeyPair } from '../../runtime/crypto/sodium.js';
import { IdentityGuard } from '../../runtime/device/identity-guard.js';
import { encodeNodeState, parseNodeState, type NodeState } from '../../runtime/links/mqtt-topics.js';

beforeAll(async () => {
  await initCrypto();
});

let clock = 1_000_000;
const guard = (key: KeyPair) => new IdentityGuard({ fleet: 'f', node: 'd2', signer: createSigner(key), verifier: createVerifier(), startedAtMs: clock, now: () => clock });
/** A state of d2 as it travels: JSON on the retained state topic. */
const stateOf = (g: IdentityGuard, state: 'online' | 'offline' = 'online'): NodeState => parseNodeState(encodeNodeState({ node: 'd2', state, session: 3, ...g.birth() })) as NodeState;

describe('IdentityGuard', () => {
  it('another process connecting again while this one runs (one client id: each finds the other retained): a conflict, reported once', () => {
    const key = generateKeyPair();
    const me = guard(key);
    const other = guard(key);
    clock += 100;
    const first = stateOf(other, 'offline'); // its Will, retained after the broker dropped it for us
    expect(me.check(first, true), 'one connection heard once: it may be an earlier run').toBeNull();
    expect(me.check(first, true), 'the same connection heard again').toBeNull();
    clock += 300;
    const again = stateOf(other); // it connected again
    expect(me.check(again, true)).toEqual({ seen: 'birth', instance: other.instance, since: again.since });
    expect(me.check(stateOf(other), false), 'reported once').toBeNull();
  });

  it('another process connected right now (a client id of its own): its birth arrives as published, a conflict at once', () => {
    const key = generateKeyPair();
    const me = guard(key);
    const other = guard(key);
    expect(me.check(stateOf(other), false)).toEqual({ seen: 'birth', instance: other.instance, since: expect.any(Number) });
  });

  it('is not fooled: its own state, an earlier run (even one whose clock was ahead), a broker handing back an older save, a replayed state, another key, a changed or missing signature, another node', () => {
    const key = generateKeyPair();
    const earlierRun = guard(key);
    clock += 50;
    const replayable = stateOf(earlierRun); // public on the broker: anyone may keep a copy
    clock += 1_000;
    const me = guard(key);
    expect(me.check(stateOf(me), false), 'its own birth').toBeNull();
    expect(me.check(replayable, false), 'a genuine state from before this process, published again').toBeNull();
    expect(me.check(replayable, true)).toBeNull();
    clock += 86_400_000; // an earlier run whose clock was ahead of this one's (a Pi booting with an old time)
    const ahead = guard(key);
    const newer = stateOf(ahead, 'offline');
    clock -= 1_000;
    const older = stateOf(ahead, 'offline');
    clock -= 86_400_000 - 1_000;
    expect(me.check(newer, true), 'an earlier run, retained').toBeNull();
    expect(me.check(older, true), 'the same run, older: a broker restarted from an earlier save').toBeNull();
    const stranger = guard(generateKeyPair());
    expect(me.check(stateOf(stranger), false), 'signed with another key (anyone may publish on the topic)').toBeNull();
    const real = stateOf(guard(key));
    expect(me.check({ ...real, since: (real.since as number) + 1 }, false), 'since changed after signing').toBeNull();
    const { sig: _sig, ...unsigned } = real;
    expect(me.check(unsigned, false), 'unsigned').toBeNull();
    expect(me.check({ ...real, sig: 'zz' }, false), 'not hex').toBeNull();
    expect(me.check({ ...real, node: 'd3' }, false), 'another node').toBeNull();
    // ...and the genuine one still counts after all of those.
    expect(me.check(real, false)).not.toBeNull();
  });
});
