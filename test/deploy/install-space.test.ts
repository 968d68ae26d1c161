// deploy/install.sh on a small disk (a tmpfs in a private mount namespace, as root): old releases are removed
// to make room only for a bundle that can be installed, and a disk that fills while unpacking is told in
// one line with nothing left behind.

import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it, type TestContext } from 'vitest';
import { makeFixtureBundle } from './fixture-bundle.js';
import { runProcess, type InstallRun } from './run-install.js';

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'murmur-install-space-'));
});
afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

const asRoot = process.getuid?.() === 0;

/**
 * A private mount namespace where /opt/murmur under `prefix` is a tmpfs of `size`, kept while the test runs;
 * returns a runner for commands inside it (nsenter). The namespace ends with its holder, killed by pid.
 */
async function smallDisk(onTestFinished: TestContext['onTestFinished'], prefix: string, size: string): Promise<(args: string[]) => Promise<InstallRun>> {
  const opt = join(prefix, 'opt/murmur');
  mkdirSync(opt, { recursive: true });
  const holder = spawn('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', `mount -t tmpfs -o size=${size} tmpfs "${opt}" || exit 99; echo mounted; exec sleep 120`], { stdio: ['ignore', 'pipe', 'pipe'] });
  onTestFinished(() => {
    if (holder.pid !== undefined && holder.exitCode === null && holder.signalCode === null) process.kill(holder.pid, 'SIGKILL');
  });
  await new Promise<void>((resolve, reject) => {
    holder.stdout.once('data', () => resolve());
    holder.once('exit', (code) => reject(new Error(`unshare exited with ${code}`)));
  });
  return (args) => runProcess('nsenter', ['-t', String(holder.pid), '-m', '--', ...args]);
}

const tarGz = (bundleDir: string, file: string): string => {
  const r = spawnSync('tar', ['-czf', file, '-C', join(bundleDir, '..'), basename(bundleDir)], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  return file;
};

/**
 * The bundle as a .tar.gz of two gzip members, the second holding only the tar's last 1024 bytes: gzip -l
 * reports the last member's size, so install.sh's free-space estimate is 1 KiB and passes.
 */
function tarGzUnderstated(bundleDir: string, file: string): string {
  const r = spawnSync('tar', ['-cf', '-', '-C', join(bundleDir, '..'), basename(bundleDir)], { maxBuffer: 64 * 1048576 });
  expect(r.status, String(r.stderr)).toBe(0);
  const tar = r.stdout;
  writeFileSync(file, Buffer.concat([gzipSync(tar.subarray(0, tar.length - 1024)), gzipSync(tar.subarray(tar.length - 1024))]));
  const listed = spawnSync('gzip', ['-l', file], { encoding: 'utf8' }).stdout.split('\n')[1]?.trim().split(/\s+/)[1];
  expect(listed, 'gzip -l understates the size').toBe('1024');
  return file;
}

describe.runIf(asRoot).concurrent('install.sh on a small disk', () => {
  it('removes the releases --keep would remove to make room only for a bundle it can install, and only when that makes the room (a bad manifest, a data format it cannot read, a bundle too big anyway keep them)', async ({ expect, onTestFinished }) => {
    const dir = join(work, 'make-room');
    const prefix = join(dir, 'root');
    const bundles = join(dir, 'bundles');
    const releases = join(prefix, 'opt/murmur/releases');
    const inNs = await smallDisk(onTestFinished, prefix, '6m');
    const install = (file: string) => inNs(['sh', join(bundles, 'murmur-0.0.0-fixture/install.sh'), '--prefix', prefix, '--bundle', file, '--keep', '3', '--skip-health-check']);
    makeFixtureBundle(bundles, '0.0.0', 'pass'); // the installer
    for (const v of ['0.1.0', '0.2.0', '0.3.0']) {
      const r = await install(tarGz(makeFixtureBundle(bundles, v, 'pass', { padBytes: 1_000_000 }), join(bundles, `${v}.tar.gz`)));
      expect(r.code, r.stderr).toBe(0);
    }
    const ls = async () => (await inNs(['ls', releases])).stdout.trim().split('\n');
    expect(await ls()).toEqual(['0.1.0', '0.2.0', '0.3.0']); // --keep 3 removes 0.1.0 (neither current nor previous) only when room is short

    // Too big for the free space, and refused from its records: 0.1.0 stays.
    const badManifest = makeFixtureBundle(join(bundles, 'bad-manifest'), '1.0.0', 'pass', { padBytes: 2_300_000 });
    const manifest = join(badManifest, 'MANIFEST.tsv');
    writeFileSync(manifest, readFileSync(manifest, 'utf8').split('\n').filter((l) => !l.endsWith('\trelease/bin/murmur.js')).join('\n'));
    const oldFormat = makeFixtureBundle(join(bundles, 'old-format'), '1.0.0', 'pass', { padBytes: 2_300_000, dataFormat: 1 });
    writeFileSync(join(prefix, 'var/lib/murmur/data-format'), '2\n');
    const refused: [string, number, string][] = [
      [tarGz(badManifest, join(bundles, 'bad-manifest.tar.gz')), 2, 'MANIFEST.tsv is not the manifest its BUNDLE.json names (cut short or edited): copy the bundle again'],
      [tarGz(oldFormat, join(bundles, 'old-format.tar.gz')), 3, 'release 1.0.0 reads data formats up to 1, but'],
    ];
    for (const [file, code, stderr] of refused) {
      const r = await install(file);
      expect({ file, code: r.code }).toEqual({ file, code });
      expect(r.stderr).toContain(stderr);
      expect(r.stderr.split('\n')).toHaveLength(2); // one line
      expect(r.stdout).not.toContain('removed old release');
      expect(await ls()).toEqual(['0.1.0', '0.2.0', '0.3.0']);
    }

    // Installable, but too big even without 0.1.0: 0.1.0 stays.
    writeFileSync(join(prefix, 'var/lib/murmur/data-format'), '1\n');
    const huge = await install(tarGz(makeFixtureBundle(join(bundles, 'huge'), '1.0.0', 'pass', { padBytes: 5_000_000 }), join(bundles, 'huge.tar.gz')));
    expect(huge.code).toBe(3);
    expect(huge.stderr).toMatch(new RegExp(`^install: [0-3] MB free on ${join(prefix, 'opt/murmur')}, need 6: remove old releases \\(ls ${join(prefix, 'opt/murmur')}/releases\\) or use --keep 2\\n$`));
    expect(huge.stdout).not.toContain('removed old release');
    expect(await ls()).toEqual(['0.1.0', '0.2.0', '0.3.0']);

    // The same size as the refused ones, installable: 0.1.0 goes to make room, then it is installed.
    const good = await install(tarGz(makeFixtureBundle(join(bundles, 'good'), '1.0.0', 'pass', { padBytes: 2_300_000 }), join(bundles, 'good.tar.gz')));
    expect(good.code, good.stderr).toBe(0);
    expect(good.stdout).toContain('install: removed old release 0.1.0\n');
    expect(await ls()).toEqual(['0.2.0', '0.3.0', '1.0.0']);
    expect((await inNs(['readlink', join(prefix, 'opt/murmur/current')])).stdout.trim()).toBe('releases/1.0.0');
  });

  it('a disk that fills while unpacking, after the free-space estimate passed, is told in one line; nothing is left and current is unchanged', async ({ expect, onTestFinished }) => {
    const dir = join(work, 'fills-while-unpacking');
    const prefix = join(dir, 'root');
    const bundles = join(dir, 'bundles');
    const opt = join(prefix, 'opt/murmur');
    const inNs = await smallDisk(onTestFinished, prefix, '3m');
    const script = join(makeFixtureBundle(bundles, '1.0.0', 'pass'), 'install.sh');
    expect((await inNs(['sh', script, '--prefix', prefix, '--skip-health-check'])).code).toBe(0);
    const file = tarGzUnderstated(makeFixtureBundle(bundles, '2.0.0', 'pass', { padBytes: 4 * 1048576 }), join(bundles, 'big.tar.gz'));
    const r = await inNs(['sh', script, '--prefix', prefix, '--bundle', file, '--skip-health-check']);
    expect({ code: r.code, stdout: r.stdout }).toMatchObject({ code: 3 });
    expect(r.stderr).toMatch(new RegExp(`^install: no space left on ${opt} while unpacking ${file}, though the 1 MB estimated fit; the part unpacked is removed \\([0-2] MB free now\\): remove old releases \\(ls ${opt}/releases\\) or use --keep 2\\n$`));
    expect((await inNs(['ls', '-A', join(opt, 'releases')])).stdout).toBe('1.0.0\n');
    expect((await inNs(['readlink', join(opt, 'current')])).stdout).toBe('releases/1.0.0\n');
  });
});
