// murmur fleet add/remove/show on a draft: --power in digits only and for validators only, an id not in
// the draft a usage error naming how to list it, and an unreadable file said with its reason.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/run-cli.js';

const dir = mkdtempSync(join(tmpdir(), 'murmur-fleet-draft-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const p = (f: string): string => join(dir, f);
const murmur = (...args: string[]) => runCli('murmur', args, { cwd: dir });

beforeAll(async () => {
  for (const id of ['authority', 'v1', 'f1', 'ops']) expect((await murmur('keygen', '--id', id, '--out', p(`keys/${id}.key`))).code).toBe(0);
  expect((await murmur('fleet', 'init', '--fleet', 'demo', '--authority', p('keys/authority.key'), '--out', p('draft.json'))).code).toBe(0);
}, 60_000);

describe('murmur fleet add, remove and show', () => {
  it('--power: a whole number from 1 to 1000000 in digits, for a validator only; the draft is left as it was', async () => {
    const before = readFileSync(p('draft.json'), 'utf8');
    const cases: [string[], string][] = [
      [['--validator', '--key', p('keys/v1.key.pub'), '--power', '1e3'], 'murmur: --power must be a whole number from 1 to 1000000, got "1e3"\n'],
      [['--validator', '--key', p('keys/v1.key.pub'), '--power', '1e30'], 'murmur: --power must be a whole number from 1 to 1000000, got "1e30"\n'],
      [['--validator', '--key', p('keys/v1.key.pub'), '--power', '0'], 'murmur: --power must be a whole number from 1 to 1000000, got "0"\n'],
      [['--follower', '--key', p('keys/f1.key.pub'), '--power', '3'], "murmur: --power is a validator's voting power; a follower has none (drop --power, or add it with --validator)\n"],
      [['--operator', '--key', p('keys/ops.key.pub'), '--power', '3'], "murmur: --power is a validator's voting power; an operator has none (drop --power, or add it with --validator)\n"],
    ];
    for (const [args, want] of cases) {
      const r = await murmur('fleet', 'add', p('draft.json'), ...args);
      expect([r.code, r.stderr], args.join(' ')).toEqual([2, want]);
    }
    expect(readFileSync(p('draft.json'), 'utf8')).toBe(before);
    const ok = await murmur('fleet', 'add', p('draft.json'), '--validator', '--key', p('keys/v1.key.pub'), '--power', '1000000');
    expect(ok.code, ok.stderr).toBe(0);
    expect(JSON.parse(readFileSync(p('draft.json'), 'utf8')).validators).toEqual([expect.objectContaining({ id: 'v1', power: 1_000_000 })]);
  });

  it('remove of an id not in the draft is a usage error naming how to list it; show of a missing file says why', async () => {
    const gone = await murmur('fleet', 'remove', p('draft.json'), '--id', 'nobody');
    expect([gone.code, gone.stderr]).toEqual([2, `murmur: "nobody" is not in ${p('draft.json')} (murmur fleet show ${p('draft.json')} lists who is)\n`]);
    const missing = await murmur('fleet', 'show', p('nonexistent.json'));
    expect([missing.code, missing.stderr]).toEqual([2, `murmur: cannot read ${p('nonexistent.json')}: no such file or directory\n`]);
  });
});
