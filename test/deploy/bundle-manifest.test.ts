// The bundle manifest's symbolic links: listed with their targets, read back, and a link out of release/
// refused when the bundle is made (install.sh refuses it again on the device: install-symlinks.test.ts).

import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatManifest, listFiles, parseManifest, writeBundleRecords } from '../../deploy/bundle-manifest.js';

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'murmur-bundle-manifest-'));
});
afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

/** A bundle top with release/bin/murmur.js and the given links (path under top -> target). */
function top(name: string, links: Record<string, string>): string {
  const dir = join(work, name);
  mkdirSync(join(dir, 'release/bin'), { recursive: true });
  mkdirSync(join(dir, 'release/lib'), { recursive: true });
  writeFileSync(join(dir, 'release/bin/murmur.js'), 'console.log("murmur");\n');
  writeFileSync(join(dir, 'install.sh'), '#!/bin/sh\n');
  for (const [path, target] of Object.entries(links)) symlinkSync(target, join(dir, path));
  return dir;
}

describe('symbolic links in the bundle manifest', () => {
  it('lists a link with its target, and reads it back', () => {
    const dir = top('inside', { 'release/lib/m.js': '../bin/murmur.js', 'release/lib/bin': '../bin' });
    const entries = writeBundleRecords(dir, { version: '1.0.0' });
    expect(entries.filter((e) => e.kind === 'symlink')).toEqual([
      { kind: 'symlink', path: 'release/lib/bin', target: '../bin' },
      { kind: 'symlink', path: 'release/lib/m.js', target: '../bin/murmur.js' },
    ]);
    const text = formatManifest(entries);
    expect(text).toContain('symlink\t../bin/murmur.js\trelease/lib/m.js\n');
    expect(parseManifest(text)).toEqual(entries);
    expect(listFiles(dir).filter((e) => e.kind === 'symlink')).toHaveLength(2);
  });

  it('refuses a link that points outside release/ (by its text or through another link), leads nowhere, or sits outside release/', () => {
    const cases: [Record<string, string>, string][] = [
      [{ 'release/lib/passwd': '/etc/passwd' }, 'symbolic link release/lib/passwd -> /etc/passwd points outside release/'],
      [{ 'release/lib/up': '../../install.sh' }, 'symbolic link release/lib/up -> ../../install.sh points outside release/'],
      // release/lib/here is release/ itself, so here/.. is the bundle's top, though the text reads release/lib.
      [{ 'release/lib/here': '..', 'release/lib/sneaky': 'here/../install.sh' }, 'symbolic link release/lib/sneaky -> here/../install.sh points outside release/'],
      [{ 'release/lib/gone': '../bin/gone.js' }, 'symbolic link release/lib/gone -> ../bin/gone.js leads nowhere'],
      [{ 'run.sh': 'release/bin/murmur.js' }, 'symbolic link run.sh is outside release/'],
    ];
    cases.forEach(([links, message], i) => {
      expect(() => writeBundleRecords(top(`outside-${i}`, links), { version: '1.0.0' })).toThrow(`${message}: a bundle's links stay inside the release`);
    });
  });

});
