// One identity, one process (runtime/device/identity-guard.ts): a birth or Will of this device's id,
// signed with its key, by another instance, for a connection made after this process started, is a
// conflict; anything else is not (this process's own, an earlier run's, unsigned, signed with another key).

import { beforeAll, describe, expect, it } from 'vitest';
import { createSigner, createVerifier, generateKeyPair, initCrypto } from '../../runtime/crypto/sodium.js';
import { IdentityGuard } from '../../runtime/device/identity-guard.js';
import { parseNodeState, encodeNodeState } from '../../runtime/links/mqtt-topics.js';

beforeAll(async () => {
  await initCrypto();
});

describe('IdentityGuard', () => {
  it('a signed birth of another instance after this one started is a conflict, once', () => {
    const key = generateKeyPair();
    let clock = 1_000_000;
    const mk = (startedAtMs: number) => new IdentityGuard({ fleet: 'f', node: 'd2', signer: createSigner(key), verifier: createVerifier(), startedAtMs, now: () => clock });
    const me = mk(1_000_000);
    const other = mk(999_000);
    clock = 1_000_500;
    // As it travels: JSON on the retained state topic.
    const heard = parseNodeState(encodeNodeState({ node: 'd2', state: 'online', session: 3, ...other.birth() }));
    expect(heard?.instance).toBe(other.instance);
    expect(me.check(heard!)).toEqual({ instance: other.instance, since: 1_000_500 });
    expect(me.check(heard!), 'reported once').toBeNull();
  });

  it('is not fooled: its own birth, an earlier run, another key, a forged or missing signature, another node', () => {
    const key = generateKeyPair();
    let clock = 2_000_000;
    const guard = (k = key, startedAtMs = 2_000_000) => new IdentityGuard({ fleet: 'f', node: 'd2', signer: createSigner(k), verifier: createVerifier(), startedAtMs, now: () => clock });
    const me = guard();
    const birth = (g: IdentityGuard, over: Record<string, unknown> = {}) => ({ node: 'd2', state: 'online' as const, session: 1, ...g.birth(), ...over });
    clock = 2_000_100;
    expect(me.check(birth(me)), 'its own').toBeNull();
    clock = 1_999_000;
    expect(me.check(birth(guard(key, 1_990_000))), 'made before this process started: an earlier run').toBeNull();
    clock = 2_000_200;
    expect(me.check(birth(guard(generateKeyPair()))), 'signed with another key (anyone may publish on the topic)').toBeNull();
    const real = birth(guard());
    expect(me.check({ ...real, since: real.since! + 1 }), 'since changed after signing').toBeNull();
    const { sig: _sig, ...unsigned } = real;
    expect(me.check(unsigned), 'unsigned').toBeNull();
    expect(me.check({ ...real, sig: 'zz' }), 'not hex').toBeNull();
    expect(me.check({ ...real, node: 'd3' }), 'another node').toBeNull();
    // ...and the genuine one still counts after all of those, as its Will (what the broker publishes
    // when it drops that connection for the next one with the same client id) does.
    expect(me.check({ ...real, state: 'offline' })).not.toBeNull();
  });
});
