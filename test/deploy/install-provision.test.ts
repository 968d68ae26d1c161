// install.sh --provision into a temporary prefix: a release and a device's provisioning bundle (made by
// the real `murmur provision`) installed in one go, offline; an identity is never replaced by accident;
// a damaged bundle is refused before anything is installed.

import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeFixtureBundle } from './fixture-bundle.js';
import { makeProvisionBundles } from './fixture-provision.js';
import { runInstall } from './run-install.js';

let work: string;
let bundles: Record<string, string>;
beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'murmur-install-provision-'));
  bundles = await makeProvisionBundles(work, ['v0', 'v1'], { mqttUrl: 'mqtt://10.0.0.1:1883', httpPort: 9470 });
}, 180_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

const fresh = (name: string): { prefix: string; releases: string } => {
  const dir = join(work, name);
  mkdirSync(join(dir, 'releases'), { recursive: true });
  return { prefix: join(dir, 'root'), releases: join(dir, 'releases') };
};
const mode = (f: string): number => statSync(f).mode & 0o777;

describe('install.sh --provision', () => {
  it('installs the release and the device\'s identity, manifest and config in one go', async () => {
    const { prefix, releases } = fresh('one-go');
    const r = await runInstall(join(makeFixtureBundle(releases, '1.0.0', 'pass'), 'install.sh'), ['--prefix', prefix, '--provision', bundles.v0 as string]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(readlinkSync(join(prefix, 'opt/murmur/current'))).toBe('releases/1.0.0');
    const etc = join(prefix, 'etc/murmur');
    for (const f of ['device.key', 'fleet.manifest', 'device.yaml']) expect(readFileSync(join(etc, f)), f).toEqual(readFileSync(join(bundles.v0 as string, f)));
    expect(mode(join(etc, 'device.key'))).toBe(0o600);
    expect(mode(join(etc, 'fleet.manifest'))).toBe(0o640);
    expect(mode(join(etc, 'device.yaml'))).toBe(0o640);
    expect(mode(etc)).toBe(0o750);
    expect(existsSync(join(etc, 'PROVISION.json'))).toBe(false);
    expect(r.stdout).toMatch(/provisioned v0 into .*etc\/murmur; the files are owned by \w+, not murmur/);
    expect(r.stdout).toContain('health check passed: fixture: healthy');
    expect(r.stdout).not.toContain('no /etc/murmur/device.yaml yet');
  });

  it('keeps an identity: the same bundle changes nothing, another one is refused unless --replace-identity', async () => {
    const { prefix, releases } = fresh('identity');
    const install = join(makeFixtureBundle(releases, '1.0.0', 'pass'), 'install.sh');
    expect((await runInstall(install, ['--prefix', prefix, '--provision', bundles.v0 as string])).code).toBe(0);
    const key = join(prefix, 'etc/murmur/device.key');
    const data = join(prefix, 'var/lib/murmur');
    writeFileSync(join(data, 'signer-state.json'), '{"height":7,"round":0,"step":"precommit"}\n');

    const same = await runInstall(install, ['--prefix', prefix, '--provision', bundles.v0 as string]);
    expect(same.code).toBe(0);
    expect(same.stdout).toContain('already holds this provisioning: nothing to do');
    // A mode changed by hand is put back (and the service restarted), not taken for "nothing to do".
    chmodSync(join(prefix, 'etc/murmur/device.yaml'), 0o644);
    const repaired = await runInstall(install, ['--prefix', prefix, '--provision', bundles.v0 as string]);
    expect(repaired.code).toBe(0);
    expect(repaired.stdout).not.toContain('nothing to do');
    expect(mode(join(prefix, 'etc/murmur/device.yaml'))).toBe(0o640);

    const other = await runInstall(install, ['--prefix', prefix, '--provision', bundles.v1 as string]);
    expect(other.code).toBe(3);
    expect(other.stderr).toBe(`install: ${prefix}/etc/murmur/device.key holds another identity ("v0"); --provision would make this device "v1": pass --replace-identity to replace it (the data directory is kept)\n`);
    expect(readFileSync(key)).toEqual(readFileSync(join(bundles.v0 as string, 'device.key')));

    const replaced = await runInstall(install, ['--prefix', prefix, '--provision', bundles.v1 as string, '--replace-identity']);
    expect(replaced.stderr).toBe('');
    expect(replaced.code).toBe(0);
    expect(replaced.stdout).toContain('provisioned v1 into');
    expect(readFileSync(key)).toEqual(readFileSync(join(bundles.v1 as string, 'device.key')));
    expect(mode(key)).toBe(0o600);
    expect(readFileSync(join(data, 'signer-state.json'), 'utf8')).toContain('"height":7');
  });

  it('refuses a damaged, incomplete or foreign provisioning bundle before installing anything', async () => {
    const { prefix, releases } = fresh('damaged');
    const install = join(makeFixtureBundle(releases, '1.0.0', 'pass'), 'install.sh');
    const copy = (name: string): string => {
      const d = join(work, 'damaged', name);
      cpSync(bundles.v0 as string, d, { recursive: true });
      return d;
    };
    const edited = copy('edited');
    appendFileSync(join(edited, 'device.yaml'), 'http: { port: 1 }\n');
    const missing = copy('missing');
    rmSync(join(missing, 'SHA256SUMS'));
    const foreign = copy('foreign');
    appendFileSync(join(foreign, 'SHA256SUMS'), `${'0'.repeat(64)}  ../../etc/shadow\n`);
    const cases: [string[], number, string][] = [
      [['--provision', edited], 2, `${edited} does not match its SHA256SUMS (failed: device.yaml; damaged or edited): provision the device again`],
      [['--provision', missing], 2, `${missing} is not a provisioning bundle (no PROVISION.json and SHA256SUMS): make one with murmur provision`],
      [['--provision', foreign], 2, `${foreign}/SHA256SUMS names "../../etc/shadow", which is not part of a provisioning bundle`],
      [['--provision', join(work, 'nowhere')], 2, `--provision ${join(work, 'nowhere')} is not a directory`],
      [['--provision', bundles.v0 as string, '--rollback'], 2, '--provision installs a release and provisions the device; it cannot be combined with --rollback'],
    ];
    for (const [args, code, message] of cases) {
      const r = await runInstall(install, ['--prefix', prefix, ...args]);
      expect(r.code, r.stderr).toBe(code);
      expect(r.stderr).toContain(message);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
    expect(existsSync(join(prefix, 'opt/murmur/current'))).toBe(false);
    expect(existsSync(join(prefix, 'etc/murmur'))).toBe(false);
  });
});

describe('install.sh of an installed release', () => {
  it('provisions the current release from /opt/murmur/current/deploy/install.sh, and says to pass --bundle to install', async () => {
    const { prefix, releases } = fresh('installed-script');
    expect((await runInstall(join(makeFixtureBundle(releases, '1.0.0', 'pass'), 'install.sh'), ['--prefix', prefix, '--provision', bundles.v0 as string])).code).toBe(0);
    const installed = join(prefix, 'opt/murmur/current/deploy/install.sh');
    const r = await runInstall(installed, ['--prefix', prefix, '--provision', bundles.v1 as string, '--replace-identity']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('provisioned v1 into');
    expect(readFileSync(join(prefix, 'etc/murmur/device.key'))).toEqual(readFileSync(join(bundles.v1 as string, 'device.key')));
    expect(readlinkSync(join(prefix, 'opt/murmur/current'))).toBe('releases/1.0.0');

    const plain = await runInstall(installed, ['--prefix', prefix]);
    expect({ code: plain.code, stderr: plain.stderr }).toEqual({ code: 2, stderr: `install: ${join(prefix, 'opt/murmur/releases/1.0.0/deploy')}/install.sh belongs to an installed release: to install or upgrade, pass --bundle FILE.tar.gz (from here, --provision DIR and --rollback work on the current release)\n` });
  });
});
