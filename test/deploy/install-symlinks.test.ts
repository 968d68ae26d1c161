// deploy/install.sh and the symbolic links of a bundle: each is listed in MANIFEST.tsv with its target, so
// an added or changed link is refused like an added or changed file, and a link out of release/ is refused
// even when the manifest lists it (a manifest made by hand, which the bundler would not write).

import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { formatManifest, listFiles, recordNames, writeBundleRecords } from '../../deploy/bundle-manifest.js';
import { makeFixtureBundle } from './fixture-bundle.js';
import { runInstall } from './run-install.js';

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'murmur-install-links-'));
});
afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

/** The bundle's records written again, as the bundler does, after its tree changed. */
function rebundle(top: string): void {
  const { manifestSha256: _, ...info } = JSON.parse(readFileSync(join(top, 'BUNDLE.json'), 'utf8')) as Record<string, unknown>;
  writeBundleRecords(top, info);
}

/** The same by hand, without the bundler's refusal of links out of release/: a manifest anyone can write. */
function recordsByHand(top: string): void {
  const entries = listFiles(top).filter((e) => !(recordNames as readonly string[]).includes(e.path));
  const info = { ...(JSON.parse(readFileSync(join(top, 'BUNDLE.json'), 'utf8')) as Record<string, unknown>), manifestSha256: createHash('sha256').update(formatManifest(entries)).digest('hex') };
  for (const path of recordNames) writeFileSync(join(top, path), JSON.stringify(info, null, 2) + '\n');
  writeFileSync(join(top, 'MANIFEST.tsv'), formatManifest(listFiles(top)));
}

describe.concurrent('symbolic links in a bundle', () => {
  it('installs a link the manifest lists; refuses one added after bundling or pointed elsewhere, and a FIFO', async ({ expect }) => {
    const bundles = join(work, 'listed');
    const good = makeFixtureBundle(join(bundles, 'good'), '1.0.0', 'pass');
    symlinkSync('murmur.js', join(good, 'release/bin/murmur'));
    rebundle(good);
    const prefix = join(bundles, 'root');
    const r = await runInstall(join(good, 'install.sh'), ['--prefix', prefix]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(readlinkSync(join(prefix, 'opt/murmur/releases/1.0.0/bin/murmur'))).toBe('murmur.js');

    const added = makeFixtureBundle(join(bundles, 'added'), '1.1.0', 'pass');
    symlinkSync('../deploy/install.sh', join(added, 'release/bin/extra'));
    const changed = makeFixtureBundle(join(bundles, 'changed'), '1.1.0', 'pass');
    symlinkSync('murmur.js', join(changed, 'release/bin/murmur'));
    rebundle(changed);
    rmSync(join(changed, 'release/bin/murmur'));
    symlinkSync('../deploy/install.sh', join(changed, 'release/bin/murmur'));
    const fifo = makeFixtureBundle(join(bundles, 'fifo'), '1.1.0', 'pass');
    expect(spawnSync('mkfifo', [join(fifo, 'release/bin/pipe')]).status).toBe(0);
    const cases: [string, string][] = [
      [fifo, `install: ${fifo} holds release/bin/pipe, which is neither a file, a directory nor a symbolic link: copy the bundle again\n`],
      [added, `install: ${added} does not hold the files its MANIFEST.tsv lists (not in MANIFEST.tsv: release/bin/extra -> ../deploy/install.sh): copy the bundle again\n`],
      [changed, `install: ${changed} does not hold the files its MANIFEST.tsv lists (not in MANIFEST.tsv: release/bin/murmur -> ../deploy/install.sh): copy the bundle again\n`],
    ];
    for (const [bundle, stderr] of cases) {
      const refused = await runInstall(join(bundle, 'install.sh'), ['--prefix', prefix]);
      expect({ code: refused.code, stderr: refused.stderr }).toEqual({ code: 2, stderr });
      expect(existsSync(join(prefix, 'opt/murmur/releases/1.1.0'))).toBe(false);
    }
  });

  it('refuses a link out of release/ that a hand-made manifest lists: absolute, by its text, or through another link', async ({ expect }) => {
    const bundles = join(work, 'outside');
    const cases: [Record<string, string>, string][] = [
      [{ 'release/bin/passwd': '/etc/passwd' }, 'release/bin/passwd -> /etc/passwd'],
      [{ 'release/bin/up': '../../install.sh' }, 'release/bin/up -> ../../install.sh'],
      // release/bin/here is release/ itself, so here/.. is the bundle's top, though the text reads release/bin.
      [{ 'release/bin/here': '..', 'release/bin/sneaky': 'here/../install.sh' }, 'release/bin/sneaky -> here/../install.sh'],
    ];
    for (const [i, [links, named]] of cases.entries()) {
      const top = makeFixtureBundle(join(bundles, String(i)), '1.0.0', 'pass');
      for (const [path, target] of Object.entries(links)) symlinkSync(target, join(top, path));
      recordsByHand(top);
      const prefix = join(bundles, `root-${i}`);
      const r = await runInstall(join(top, 'install.sh'), ['--prefix', prefix]);
      expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 2, stderr: `install: ${top} holds the symbolic link ${named}, which points outside release/: refused\n` });
      expect(existsSync(join(prefix, 'opt/murmur/current'))).toBe(false);
    }
  });
});
