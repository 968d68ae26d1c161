// Where `npm run bundle` writes (deploy/bundle.ts writeOutputs): each output under a .partial name in --out,
// renamed into place, and an --out that cannot take it (a file, a full or read-only filesystem) said in one
// line naming --out (exit 2) with nothing partial left. Fast: a tiny archive instead of a real bundle.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeOutputs } from '../../deploy/bundle.js';
import { CliError } from '../../runtime/cli/kit.js';
import { repoRoot } from './fixture-bundle.js';
import { runProcess } from './run-install.js';

let work: string;
let parent: string;
const name = 'murmur-9.9.9-test-linux-x64';
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'murmur-bundle-out-'));
  parent = join(work, 'scratch');
  mkdirSync(join(parent, name, 'release'), { recursive: true });
  writeFileSync(join(parent, name, 'release', 'noise.bin'), randomBytes(1048576)); // does not compress
  writeFileSync(join(parent, name, 'MANIFEST.tsv'), 'x\t1\trelease/noise.bin\n');
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

const builtAt = new Date(0).toISOString();

describe('bundle outputs', () => {
  it('renames each output into place and removes the .partial files killed runs left', async () => {
    const out = join(work, 'out');
    mkdirSync(out);
    writeFileSync(join(out, `${name}.tar.gz.partial-4000000`), 'half an archive');
    const file = await writeOutputs(parent, name, out, builtAt);
    expect(file).toBe(join(out, `${name}.tar.gz`));
    expect(readdirSync(out).sort()).toEqual([`${name}.manifest.tsv`, `${name}.tar.gz`]);
    expect(spawnSync('tar', ['-tzf', file], { encoding: 'utf8' }).stdout).toContain(`${name}/release/noise.bin`);
  });

  it('an --out that is a file, or below one, is one line naming --out (exit 2), from the CLI before any build', async () => {
    const existing = join(work, 'a-file');
    writeFileSync(existing, '');
    for (const [out, why] of [[existing, 'a file, not a directory: pass a directory'], [join(existing, 'sub'), 'not a directory (a file is in its path): pass a directory']] as const) {
      const e = await writeOutputs(parent, name, out, builtAt).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(CliError);
      expect({ message: (e as CliError).message, exitCode: (e as CliError).exitCode }).toEqual({ message: `--out ${out}: ${why}`, exitCode: 2 });
    }
    const cli = await runProcess(process.execPath, ['--import', 'tsx', join(repoRoot, 'deploy/bundle.ts'), '--target', 'linux-x64', '--out', existing]);
    expect({ code: cli.code, stderr: cli.stderr }).toEqual({ code: 2, stderr: `bundle: --out ${existing}: a file, not a directory: pass a directory\n` });
    expect(cli.wallMs).toBeLessThan(10_000);
  });

  it.skipIf(process.getuid?.() !== 0)('a full --out filesystem is one line naming --out (exit 2), and no .partial is left', async () => {
    const out = join(work, 'tight');
    mkdirSync(out);
    const script = `import { writeOutputs } from ${JSON.stringify(join(repoRoot, 'deploy/bundle.ts'))};
try { await writeOutputs(${JSON.stringify(parent)}, ${JSON.stringify(name)}, ${JSON.stringify(out)}, ${JSON.stringify(builtAt)}); console.log('written'); }
catch (e) { console.log(JSON.stringify({ message: e.message, exitCode: e.exitCode })); }
console.log(JSON.stringify((await import('node:fs')).readdirSync(${JSON.stringify(out)})));`;
    writeFileSync(join(work, 'tight.mts'), script);
    const r = await runProcess('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', `mount -t tmpfs -o size=256k tmpfs "${out}" && exec "${process.execPath}" --import tsx "${join(work, 'tight.mts')}"`], {}, 30_000);
    expect(r.stderr).toBe('');
    const [result, left] = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as unknown);
    expect(result).toEqual({ message: `--out ${out}: no space left on its filesystem: free some or pass another --out`, exitCode: 2 });
    expect(left).toEqual([]);
    expect(existsSync(join(out, `${name}.tar.gz`))).toBe(false);
  });
});
