// The checkers are not vacuous (they do flag a double sign, a fork, a bad certificate and each kind of
// invalid command committed), and the mempool keeps its
// bounds: one operator cannot fill it.

import { beforeAll, describe, expect, it } from 'vitest';
import { createSigner, createVerifier, hash, initCrypto, keyPairFromSeed, type Signer } from '../../runtime/crypto/sodium.js';
import { encodeCommandBody } from '../../runtime/wire/command.js';
import { Mempool } from '../../runtime/consensus/mempool.js';
import type { CheckedTx, CommittedBlock } from '../../runtime/consensus/types.js';
import { sealEnvelope } from '../../runtime/wire/envelope.js';
import { encodeVoteBody } from '../../runtime/wire/vote.js';
import { encodeBlock, zeroHash } from '../../runtime/wire/block.js';
import { encodeProof } from '../../runtime/wire/proof.js';
import { Checkers } from '../../fleet-sim/sim/checkers.js';
import { World } from '../../fleet-sim/sim/world.js';
import { scenario } from '../sim/helpers.js';

beforeAll(async () => {
  await initCrypto();
});

describe('checkers', () => {
  it('flag an honest node signing two different prevotes at one height and round', () => {
    const c = new Checkers('sim', createVerifier(), () => 0);
    const s = createSigner(keyPairFromSeed(new Uint8Array(32).fill(3)));
    c.onSigned('v00', sealEnvelope('prevote', 'sim', 'v00', encodeVoteBody({ height: 4, round: 1, blockHash: null }), s));
    c.onSigned('v00', sealEnvelope('prevote', 'sim', 'v00', encodeVoteBody({ height: 4, round: 1, blockHash: null }), s));
    expect(c.violations).toEqual([]);
    c.onSigned('v00', sealEnvelope('prevote', 'sim', 'v00', encodeVoteBody({ height: 4, round: 1, blockHash: new Uint8Array(32).fill(1) }), s));
    expect(c.violations.map((v) => v.property)).toEqual(['double-sign']);
  });

  it('place a vote by the height and round its body gives, read from its heads or opened in full alike', () => {
    const c = new Checkers('sim', createVerifier(), () => 0);
    const s = createSigner(keyPairFromSeed(new Uint8Array(32).fill(3)));
    const vote = (height: number, round: number, blockHash: Uint8Array | null): Uint8Array => sealEnvelope('precommit', 'sim', 'v00', encodeVoteBody({ height, round, blockHash }), s);
    const a = new Uint8Array(32).fill(1);
    const b = new Uint8Array(32).fill(2);
    // Heights and rounds across the head sizes (1 to 9 bytes), each signed twice alike and once apart.
    const positions: [number, number][] = [[1, 0], [23, 24], [255, 256], [65_536, 65_535], [2 ** 33, 0xffffffff]];
    for (const [h, r] of positions) {
      c.onSigned('v00', vote(h, r, a));
      c.onSigned('v00', vote(h, r, a));
      c.onSigned('v00', vote(h + 1, r, b)); // another height: no conflict
    }
    expect(c.violations).toEqual([]);
    c.onSigned('v00', vote(2 ** 33, 0xffffffff, null));
    // A body in a longer form than encodeVoteBody's (the hash's length in a three-byte head) is opened in
    // full, and is still the vote at 5/0.
    c.onSigned('v00', vote(5, 0, a));
    const long = Uint8Array.of(0x83, 0x18, 5, 0x00, 0x59, 0, 32, ...b);
    c.onSigned('v00', sealEnvelope('precommit', 'sim', 'v00', long, s));
    expect(c.violations.map((v) => v.detail)).toEqual(['honest v00 signed two different precommits at height 8589934592 round 4294967295', 'honest v00 signed two different precommits at height 5 round 0']);
  });

  it('flag two honest nodes committing different blocks at one height (and the bad certificate)', () => {
    const w = new World(scenario({ name: 'fork' }), 1);
    w.start();
    const shell = w.nodes[0]?.shell;
    if (!shell) throw new Error('node 0 down');
    const block = (t: number): CommittedBlock => {
      const b = { height: 1, parent: zeroHash, timeMs: t, proposer: 'v00', txs: [], lastCommit: null, manifestHash: w.manifest.hash, appHash: zeroHash };
      const bytes = encodeBlock(b);
      const certificate = { height: 1, round: 0, blockHash: hash(bytes), signatures: [] };
      return { block: b, bytes, hash: hash(bytes), certificate, txs: [], proof: encodeProof(bytes, certificate) };
    };
    w.checkers.onCommit('v00', block(1), shell.core.chain);
    w.checkers.onCommit('v01', block(2), shell.core.chain);
    const props = w.checkers.violations.map((v) => v.property);
    expect(props).toContain('agreement');
    expect(props).toContain('certificate');
  });

  it('flag a committed command that does not verify, is not an operator’s, commits twice or has expired', () => {
    const w = new World(scenario({ name: 'validity' }), 1);
    w.start();
    const shell = w.nodes[0]?.shell;
    const device = w.nodes[1]?.signer;
    if (!shell || !device) throw new Error('nodes 0 and 1 down');
    const command = (sender: string, signer: Signer, n: number, expiresAt = 600_000): Uint8Array =>
      sealEnvelope('command', w.fleet, sender, encodeCommandBody({ type: 'noop', nonce: new Uint8Array(16).fill(n), issuedAt: 0, expiresAt, args: {} }), signer);
    const block = (height: number, txs: Uint8Array[], timeMs: number): CommittedBlock => {
      const b = { height, parent: zeroHash, timeMs, proposer: 'v00', txs, lastCommit: null, manifestHash: w.manifest.hash, appHash: zeroHash };
      const bytes = encodeBlock(b);
      const certificate = { height, round: 0, blockHash: hash(bytes), signatures: [] };
      return { block: b, bytes, hash: hash(bytes), certificate, txs: [], proof: encodeProof(bytes, certificate) };
    };
    const op = w.operatorSigner();
    const good = command('op', op, 1);
    const flipped = command('op', op, 2);
    flipped[flipped.length - 1] = (flipped[flipped.length - 1] as number) ^ 1;
    const validity = (): string[] => w.checkers.violations.filter((v) => v.property === 'validity').map((v) => v.detail);
    w.checkers.onCommit('v00', block(1, [good], 1_000), shell.core.chain);
    expect(validity()).toEqual([]);
    w.checkers.onCommit('v00', block(2, [good], 2_000), shell.core.chain);
    w.checkers.onCommit('v00', block(3, [flipped], 3_000), shell.core.chain);
    w.checkers.onCommit('v00', block(4, [command('v01', device, 3)], 4_000), shell.core.chain);
    // The world's observer (roles: observer), a member who may sign commands but not have them run.
    const watcher = (w as unknown as { watcher: Signer }).watcher;
    w.checkers.onCommit('v00', block(5, [command('watcher', watcher, 5)], 5_000), shell.core.chain);
    w.checkers.onCommit('v00', block(6, [command('op', op, 4, 6_000)], 6_000), shell.core.chain);
    expect(validity()).toEqual([
      `height 2 commits command op/${'01'.repeat(16)} a second time`,
      'height 3 holds a command that does not verify: command from "op" has a signature that does not verify',
      'height 4 holds a command that does not verify: a validator ("v01") may not send command messages',
      'height 5 holds a command from unauthorized "watcher"',
      `height 6 commits expired command op/${'04'.repeat(16)}`,
    ]);
  });
});

describe('mempool', () => {
  const cmd = (operator: string, i: number): CheckedTx => ({ kind: 'command', bytes: Uint8Array.of(i), operator, nonceKey: `${operator}/${i}`, issuedAt: 0, expiresAt: 1 });

  it('refuses duplicates, caps each operator, and caps the whole pool', () => {
    const m = new Mempool({ txsMax: 10, perOperatorMax: 4 });
    expect(m.add(cmd('a', 1))).toBe(null);
    expect(m.add(cmd('a', 1))).toBe('duplicate');
    for (let i = 2; i <= 4; i++) expect(m.add(cmd('a', i))).toBe(null);
    expect(m.add(cmd('a', 5))).toMatch(/operator a has 4 commands waiting/);
    for (let i = 0; i < 6; i++) expect(m.add(cmd(`b${i}`, i))).toBe(null);
    expect(m.add(cmd('c', 1))).toBe('mempool full');
    m.remove('a/1');
    expect(m.add(cmd('a', 5))).toBe(null);
    expect(m.size()).toBe(10);
  });

  it("caps each device's attestations and telemetry, and all devices' together below the pool, so commands still get in", () => {
    const m = new Mempool({ txsMax: 10, perOperatorMax: 4, perDeviceMax: 3, deviceTxsMax: 6 });
    const att = (sender: string, i: number): CheckedTx => ({ kind: 'other', bytes: Uint8Array.of(i), key: `${sender}#${i}`, sender });
    // One faulty device signing attestations as fast as it can gets three places.
    for (let i = 0; i < 3; i++) expect(m.add(att('liar', i))).toBe(null);
    expect(m.add(att('liar', 3))).toBe('device liar has 3 attestations and telemetry waiting (limit 3)');
    for (let i = 0; i < 3; i++) expect(m.add(att(`d${i}`, i))).toBe(null);
    expect(m.add(att('d9', 9))).toMatch(/^devices have 6 attestations and telemetry waiting \(limit 6/);
    // The rest of the pool is the operators'.
    for (let i = 0; i < 4; i++) expect(m.add(cmd('op', i))).toBe(null);
    expect(m.size()).toBe(10);
    m.remove('liar#0');
    expect(m.add(att('liar', 4))).toBe(null); // a place freed by a block is the device's again
    m.remove('op/0');
    expect(m.add(att('liar', 5))).toMatch(/device liar has 3/);
  });
});
