// The manifest workflow through the real CLIs: keygen, a fleet of 4 validators, 2 followers and
// 1 operator, verify, tamper, verify again.

import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/run-cli.js';

const dir = mkdtempSync(join(tmpdir(), 'murmur-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const p = (f: string) => join(dir, f);

describe('murmur keygen and murmur fleet', () => {
  beforeAll(async () => {
    const ids = ['authority', 'v0', 'v1', 'v2', 'v3', 'f0', 'f1'];
    const runs = await Promise.all(ids.map((id) => runCli('murmur', ['keygen', '--id', id, '--out', p(`${id}.key`)])));
    for (const r of runs) expect(r.code, r.stderr).toBe(0);
    const op = await runCli('murmurctl', ['keygen', '--id', 'alice', '--out', p('alice.key'), '--json']);
    expect(op.code, op.stderr).toBe(0);
    expect(JSON.parse(op.stdout).id).toBe('alice');
  }, 180_000); // eight CLI processes at once: over 60 s when test/deploy runs beside it on a loaded machine

  it('keygen writes a 0600 secret and a public file, and refuses to overwrite', async () => {
    expect(statSync(p('v0.key')).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(p('v0.key.pub'), 'utf8')).publicKey).toMatch(/^[0-9a-f]{64}$/);
    const again = await runCli('murmur', ['keygen', '--id', 'v0', '--out', p('v0.key')]);
    expect(again.code).toBe(3);
    expect(again.stderr).toContain('already exists');
  });

  it('creates, signs, shows and verifies a fleet; a tampered manifest is refused', async () => {
    const draft = p('fleet.json');
    expect((await runCli('murmur', ['fleet', 'init', '--fleet', 'demo', '--authority', p('authority.key'), '--out', draft])).code).toBe(0);
    for (const v of ['v0', 'v1', 'v2', 'v3']) expect((await runCli('murmur', ['fleet', 'add', draft, '--validator', '--key', p(`${v}.key.pub`)])).code).toBe(0);
    for (const f of ['f0', 'f1']) expect((await runCli('murmur', ['fleet', 'add', draft, '--follower', '--key', p(`${f}.key.pub`)])).code).toBe(0);
    expect((await runCli('murmur', ['fleet', 'add', draft, '--operator', '--key', p('alice.key.pub'), '--roles', 'operator,observer'])).code).toBe(0);
    const dup = await runCli('murmur', ['fleet', 'add', draft, '--follower', '--key', p('v1.key.pub')]);
    expect(dup.code).toBe(3);
    expect(dup.stderr).toContain('"v1" is already in the draft');

    const signed = await runCli('murmur', ['fleet', 'sign', draft, '--authority', p('authority.key'), '--out', p('fleet.manifest')]);
    expect(signed.code, signed.stderr).toBe(0);
    expect(signed.stdout).toContain('4 validators, 2 followers, 1 operator,');

    // Tamper: change one validator's power byte inside the signed body.
    const bytes = readFileSync(p('fleet.manifest'));
    const at = bytes.indexOf(Buffer.from('power'));
    bytes[at + 5] = 0x05;
    writeFileSync(p('tampered.manifest'), bytes);
    // Reads of the signed manifest and its tampered copy, independent of each other: all at once.
    const [ok, show, wrongPin, bad] = await Promise.all([
      runCli('murmur', ['fleet', 'verify', p('fleet.manifest'), '--authority-key', p('authority.key.pub'), '--json']),
      runCli('murmur', ['fleet', 'show', p('fleet.manifest'), '--json']),
      runCli('murmur', ['fleet', 'verify', p('fleet.manifest'), '--authority-key', p('v0.key.pub')]),
      runCli('murmur', ['fleet', 'verify', p('tampered.manifest')]),
    ]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ ok: true, fleet: 'demo', epoch: 1, validators: 4, followers: 2, operators: 1 });

    expect(JSON.parse(show.stdout).operators[0]).toMatchObject({ id: 'alice', roles: ['operator', 'observer'] });

    // Pinned to another authority: refused even though the signature itself is consistent.
    expect(wrongPin.code).toBe(1);
    expect(wrongPin.stderr).toContain(`is signed by authority ${JSON.parse(readFileSync(p('authority.key.pub'), 'utf8')).publicKey.slice(0, 16)}…, not by --authority-key ${p('v0.key.pub')}`);

    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('signature does not verify');
    expect(bad.stderr).not.toMatch(/\n\s+at /); // no stack trace

    // Re-sign with a member removed: the epoch must go up against the previous manifest.
    expect((await runCli('murmur', ['fleet', 'remove', draft, '--id', 'f1'])).code).toBe(0);
    const stale = await runCli('murmur', ['fleet', 'sign', draft, '--authority', p('authority.key'), '--out', p('fleet2.manifest'), '--previous', p('fleet.manifest')]);
    expect(stale.code).toBe(3);
    expect(stale.stderr).toContain('--epoch 2');
    // This fleet has no admin operator: the successor would freeze it (no fleet.update could be sent),
    // refused unless --force.
    const frozen = await runCli('murmur', ['fleet', 'sign', draft, '--authority', p('authority.key'), '--out', p('fleet2.manifest'), '--previous', p('fleet.manifest'), '--epoch', '2']);
    expect(frozen.code).toBe(3);
    expect(frozen.stderr).toContain('no operator has the admin role');
    const next = await runCli('murmur', ['fleet', 'sign', draft, '--authority', p('authority.key'), '--out', p('fleet2.manifest'), '--previous', p('fleet.manifest'), '--epoch', '2', '--force']);
    expect(next.code, next.stderr).toBe(0);
    expect(next.stdout).toContain('epoch 2');
  }, 240_000); // thirteen CLI processes in a row and four at once: several seconds each when the machine is loaded

  it('a key file readable by others is refused with the fix', async () => {
    chmodSync(p('v3.key'), 0o644);
    const r = await runCli('murmur', ['fleet', 'init', '--fleet', 'x', '--authority', p('v3.key'), '--out', p('x.json')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('chmod 600');
  });

  it('every CLI answers --help, and a bad option is one line, exit 2', async () => {
    const bins = ['murmur', 'murmurctl', 'fleet-sim'] as const;
    const [bad, ...helps] = await Promise.all([runCli('murmur', ['keygen', '--bogus']), ...bins.map((bin) => runCli(bin, ['--help']))]);
    helps.forEach((h, i) => {
      expect(h.code).toBe(0);
      expect(h.stdout).toContain(`Usage: ${bins[i]}`);
    });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe('murmur: unknown option --bogus (--help lists the options)\n'); // one line, not the usage after it
  });
});
