// keygen's refusals: a key file already there is a refusal (exit 3, an identity is never overwritten
// unasked); a path the user cannot write is the operator's to fix (exit 2), as for every file the CLIs
// write. It exited 3 with Node's "EACCES: permission denied, open ..." and no fix.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/run-cli.js';

const dir = mkdtempSync(join(tmpdir(), 'murmur-keygen-paths-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('keygen output paths', () => {
  for (const bin of ['murmur', 'murmurctl'] as const) {
    it(`${bin} keygen: a directory nobody may create files in (sysfs) is exit 2 with the fix; an existing key file is exit 3`, async () => {
      const denied = await runCli(bin, ['keygen', '--id', 'zz', '--out', '/sys/murmur-test.key']);
      expect([denied.code, denied.stderr]).toEqual([2, `${bin}: cannot create key file /sys/murmur-test.key: permission denied; give a path in a directory you can write\n`]);
      const out = join(dir, `${bin}.key`);
      expect((await runCli(bin, ['keygen', '--id', 'zz', '--out', out])).code).toBe(0);
      const again = await runCli(bin, ['keygen', '--id', 'zz', '--out', out]);
      expect([again.code, again.stderr]).toEqual([3, `${bin}: key file ${out} already exists; refusing to overwrite an identity (pass --force to replace it)\n`]);
    });
  }
});
