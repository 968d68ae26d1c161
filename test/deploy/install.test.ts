// deploy/install.sh into a temporary prefix: layout and atomic links, the hardened unit (systemd-analyze
// verify), the Node.js check, a damaged bundle, and upgrades gated by a real health check with rollback.

import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, utimesSync, writeFileSync, chmodSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, type TestContext } from 'vitest';
import { makeFixtureBundle } from './fixture-bundle.js';
import { runInstall, runProcess, startProcess } from './run-install.js';

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'murmur-install-'));
});
afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

const fresh = (name: string): { prefix: string; bundles: string } => {
  const dir = join(work, name);
  mkdirSync(join(dir, 'bundles'), { recursive: true });
  return { prefix: join(dir, 'root'), bundles: join(dir, 'bundles') };
};
const link = (prefix: string, name: string): string => readlinkSync(join(prefix, 'opt/murmur', name));

/** sha256 of every file under dir, by relative path: the data directory must come out byte-identical. */
function treeDigest(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) out[join(e.parentPath, e.name).slice(dir.length)] = createHash('sha256').update(readFileSync(join(e.parentPath, e.name))).digest('hex');
  }
  return out;
}

// Each case installs into a prefix of its own (and serves its own health endpoint), so the cases of a
// describe run at once: the health checks that must fail wait out --health-timeout meanwhile.

describe.concurrent('install.sh into a temporary prefix', () => {
  it('installs a release, links current to it, writes the unit and the data directory, and explains what it skipped', async ({ expect }) => {
    const { prefix, bundles } = fresh('first');
    const bundle = makeFixtureBundle(bundles, '1.0.0', 'real');
    const r = await runInstall(join(bundle, 'install.sh'), ['--prefix', prefix, '--node', process.execPath]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(link(prefix, 'current')).toBe('releases/1.0.0');
    expect(existsSync(join(prefix, 'opt/murmur/previous'))).toBe(false);
    expect(readFileSync(join(prefix, 'opt/murmur/current/bin/murmur.js'), 'utf8')).toContain('murmur 1.0.0');
    expect(existsSync(join(prefix, 'var/lib/murmur'))).toBe(true);
    expect(r.stdout).toMatch(/not creating the system user murmur \(in group dialout\): --prefix is not \//);
    expect(r.stdout).toMatch(/health check skipped: .*not provisioned/);
    const unit = readFileSync(join(prefix, 'etc/systemd/system/murmur.service'), 'utf8');
    for (const line of ['Restart=on-failure', 'RestartPreventExitStatus=3', 'NoNewPrivileges=yes', 'ProtectSystem=strict', 'ProtectHome=yes', 'PrivateTmp=yes', 'ReadWritePaths=/var/lib/murmur', 'User=murmur', 'SupplementaryGroups=dialout']) {
      expect(unit.split('\n')).toContain(line);
    }
    expect(unit.split('\n').filter((l) => l.startsWith('ReadWritePaths='))).toEqual(['ReadWritePaths=/var/lib/murmur']);
    expect(unit).toContain(`ExecStart=${process.execPath} --max-semi-space-size=1 --optimize-for-size /opt/murmur/current/bin/murmur.js start --config /etc/murmur/device.yaml`);

    // Installing the current version again changes nothing.
    const again = await runInstall(join(bundle, 'install.sh'), ['--prefix', prefix]);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('already installed and current');

    // The same version from another build is refused, not taken for the installed one.
    const rebuilt = makeFixtureBundle(join(bundles, 'rebuilt'), '1.0.0', 'pass');
    const other = await runInstall(join(rebuilt, 'install.sh'), ['--prefix', prefix]);
    expect(other.code).toBe(3);
    expect(other.stderr).toContain('release 1.0.0 is installed from a different build');
    const forced = await runInstall(join(bundle, 'install.sh'), ['--prefix', prefix, '--force']);
    expect(forced.code).toBe(3);
    expect(forced.stderr).toContain('release 1.0.0 is current: --rollback first');
    expect(readdirSync(join(prefix, 'opt/murmur/releases'))).toEqual(['1.0.0']); // no partial copies left
  });

  it('writes a unit that systemd-analyze verify accepts without a single warning', async ({ expect }) => {
    const { prefix, bundles } = fresh('unit');
    const r = await runInstall(join(makeFixtureBundle(bundles, '1.0.0', 'real'), 'install.sh'), ['--prefix', prefix]);
    expect(r.code).toBe(0);
    const unitPath = join(prefix, 'etc/systemd/system/murmur.service');
    const verify = (path: string) => spawnSync('systemd-analyze', ['verify', path], { encoding: 'utf8', timeout: 30_000 });
    const ok = verify(unitPath);
    expect(ok.error).toBeUndefined();
    expect(`${ok.stdout}${ok.stderr}`).toBe('');
    expect(ok.status).toBe(0);
    // The check has teeth: a misspelt hardening key is reported (systemd ignores it with a warning, exit 0).
    const broken = join(prefix, 'broken.service');
    writeFileSync(broken, readFileSync(unitPath, 'utf8').replace('ProtectSystem=strict', 'ProtectSystm=strict'));
    expect(verify(broken).stderr).toContain("Unknown key 'ProtectSystm'");
  });

  it('refuses a Node.js older than 20 with a clear message, before touching the prefix', async ({ expect }) => {
    const { prefix, bundles } = fresh('old-node');
    const fakeNode = join(bundles, 'node18');
    writeFileSync(fakeNode, '#!/bin/sh\necho 18.19.0\n');
    chmodSync(fakeNode, 0o755);
    const r = await runInstall(join(makeFixtureBundle(bundles, '1.0.0', 'real'), 'install.sh'), ['--prefix', prefix, '--node', fakeNode]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/Node\.js 20 or newer is required; .*node18 is v18\.19\.0/);
    expect(existsSync(join(prefix, 'opt'))).toBe(false);
  });

  it('refuses a bundle whose files do not match its manifest', async ({ expect }) => {
    const { prefix, bundles } = fresh('damaged');
    const bundle = makeFixtureBundle(bundles, '1.0.0', 'real');
    appendFileSync(join(bundle, 'release/bin/murmur.js'), '// edited after bundling\n');
    const r = await runInstall(join(bundle, 'install.sh'), ['--prefix', prefix]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('does not match its MANIFEST.tsv');
    expect(existsSync(join(prefix, 'opt/murmur/current'))).toBe(false);
  });

  it('refuses a bundle holding a file its manifest does not list, or a manifest cut short', async ({ expect }) => {
    const { prefix, bundles } = fresh('manifest-list');
    const extra = makeFixtureBundle(join(bundles, 'extra'), '1.0.0', 'pass');
    writeFileSync(join(extra, 'release/bin/extra.js'), 'console.log("not in the manifest");\n');
    const cut = makeFixtureBundle(join(bundles, 'cut'), '1.0.0', 'pass');
    const manifest = join(cut, 'MANIFEST.tsv');
    writeFileSync(manifest, readFileSync(manifest, 'utf8').split('\n')[0] + '\n');
    appendFileSync(join(cut, 'release/bin/murmur.js'), '// edited after bundling\n');
    const cases: [string, string][] = [
      [extra, `install: ${extra} does not hold the files its MANIFEST.tsv lists (not in MANIFEST.tsv: release/bin/extra.js): copy the bundle again\n`],
      [cut, `install: ${cut}/MANIFEST.tsv is not the manifest its BUNDLE.json names (cut short or edited): copy the bundle again\n`],
    ];
    for (const [bundle, stderr] of cases) {
      const r = await runInstall(join(bundle, 'install.sh'), ['--prefix', prefix]);
      expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 2, stderr });
    }
    expect(existsSync(join(prefix, 'opt/murmur/current'))).toBe(false);
  });

  it('rejects bad options with a usage error', async ({ expect }) => {
    const { prefix, bundles } = fresh('usage');
    const r = await runInstall(join(makeFixtureBundle(bundles, '1.0.0', 'real'), 'install.sh'), ['--prefix', prefix, '--health-timeout', 'soon']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--health-timeout must be whole seconds');
  });
});

describe.concurrent('upgrades gated by the health check', () => {
  /** A device's health endpoint for one test: 200 while `healthy()`, else 503; closed when the test ends. */
  async function healthEndpoint(onTestFinished: TestContext['onTestFinished'], healthy: () => boolean = () => true): Promise<number> {
    const server: Server = createServer((_req, res) => {
      const ok = healthy();
      res.writeHead(ok ? 200 : 503).end(ok ? '{"status":"ok"}' : '{"status":"starting"}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())));
    return (server.address() as AddressInfo).port;
  }

  /** A provisioned device: a config naming the health endpoint, and a data directory with a WAL and signer state. */
  const provision = (prefix: string, port: number): string => {
    mkdirSync(join(prefix, 'etc/murmur'), { recursive: true });
    writeFileSync(join(prefix, 'etc/murmur/device.yaml'), `id: d1\ndataDir: /var/lib/murmur\nhttp:\n  host: 127.0.0.1\n  port: ${port}\n`);
    const data = join(prefix, 'var/lib/murmur');
    mkdirSync(join(data, 'wal'), { recursive: true });
    writeFileSync(join(data, 'wal/000001.wal'), Buffer.from('records before the upgrade'));
    writeFileSync(join(data, 'signer-state.json'), '{"height":41,"round":0,"step":"precommit"}\n');
    return data;
  };

  it('rolls back to the old release when the new one fails its health check, with the data directory intact', async ({ expect, onTestFinished }) => {
    const { prefix, bundles } = fresh('rollback');
    const data = provision(prefix, await healthEndpoint(onTestFinished));
    expect((await runInstall(join(makeFixtureBundle(bundles, '1.0.0', 'real'), 'install.sh'), ['--prefix', prefix])).code).toBe(0);
    expect(link(prefix, 'current')).toBe('releases/1.0.0');
    const before = treeDigest(data);

    const r = await runInstall(join(makeFixtureBundle(bundles, '2.0.0', 'fail'), 'install.sh'), ['--prefix', prefix, '--health-timeout', '2']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/health check of 2\.0\.0 failed after \d+ attempt\(s\) in 2 s: fixture: this release is broken/);
    // A --prefix install starts no service: the failure says so and how an image skips the check.
    expect(r.stderr).toContain(`install: no service was started here (--prefix ${prefix}), so only a device started by hand could answer the check; for an SD-card image or a test directory pass --skip-health-check\n`);
    expect(r.stderr).toContain('rolled back: current is 1.0.0 again');
    expect(link(prefix, 'current')).toBe('releases/1.0.0');
    expect(existsSync(join(prefix, 'opt/murmur/releases/2.0.0/.failed-health-check'))).toBe(true);
    expect(readdirSync(join(prefix, 'opt/murmur/releases')).sort()).toEqual(['1.0.0', '2.0.0']);
    expect(treeDigest(data)).toEqual(before);
  });

  it('keeps the new release when the device answers its health endpoint, and --rollback switches back', async ({ expect, onTestFinished }) => {
    const { prefix, bundles } = fresh('upgrade');
    const port = await healthEndpoint(onTestFinished);
    const data = provision(prefix, port);
    expect((await runInstall(join(makeFixtureBundle(bundles, '1.0.0', 'real'), 'install.sh'), ['--prefix', prefix])).code).toBe(0);
    const before = treeDigest(data);
    const up = await runInstall(join(makeFixtureBundle(bundles, '1.1.0', 'real'), 'install.sh'), ['--prefix', prefix]);
    expect(up.stderr).toBe('');
    expect(up.code).toBe(0);
    expect(up.stdout).toContain(`health check passed: health: GET http://127.0.0.1:${port}/health -> 200`);
    expect(link(prefix, 'current')).toBe('releases/1.1.0');
    expect(link(prefix, 'previous')).toBe('releases/1.0.0');

    const back = await runInstall(join(bundles, 'murmur-1.1.0-fixture/install.sh'), ['--prefix', prefix, '--rollback']);
    expect(back.code).toBe(0);
    expect(link(prefix, 'current')).toBe('releases/1.0.0');
    expect(treeDigest(data)).toEqual(before);
  });

  it('never makes a release current on a data directory in a newer data format: --rollback, an older install and the health gate all refuse', async ({ expect }) => {
    const { prefix, bundles } = fresh('data-format');
    const data = join(prefix, 'var/lib/murmur');
    expect((await runInstall(join(makeFixtureBundle(bundles, '1.0.0', 'pass'), 'install.sh'), ['--prefix', prefix])).code).toBe(0);
    expect((await runInstall(join(makeFixtureBundle(bundles, '2.0.0', 'pass', { dataFormat: 2 }), 'install.sh'), ['--prefix', prefix])).code).toBe(0);
    // 2.0.0 ran and wrote its format; 1.0.0 (from before the field: format 1) must not run on it.
    writeFileSync(join(data, 'data-format'), '2\n');
    const back = await runInstall(join(bundles, 'murmur-2.0.0-fixture/install.sh'), ['--prefix', prefix, '--rollback']);
    expect({ code: back.code, stderr: back.stderr }).toEqual({ code: 3, stderr: `install: cannot roll back to 1.0.0: ${data} holds data format 2, and 1.0.0 reads formats up to 1; 2.0.0 stays current\n` });
    expect(link(prefix, 'current')).toBe('releases/2.0.0');
    // A data-format file that holds no format number is one no release can be sure of reading.
    for (const garbage of ['two\n', '', '00000000000000002\n']) {
      writeFileSync(join(data, 'data-format'), garbage);
      const r = await runInstall(join(bundles, 'murmur-2.0.0-fixture/install.sh'), ['--prefix', prefix, '--rollback']);
      expect({ garbage, code: r.code, stderr: r.stderr }).toEqual({ garbage, code: 3, stderr: `install: cannot roll back to 1.0.0: ${data} holds a data-format file with no format number in it (restore it: the release that wrote the directory knows its format), and 1.0.0 reads formats up to 1; 2.0.0 stays current\n` });
    }
    writeFileSync(join(data, 'data-format'), '2\n');
    const old = await runInstall(join(makeFixtureBundle(bundles, '1.5.0', 'pass', { dataFormat: 1 }), 'install.sh'), ['--prefix', prefix]);
    expect({ code: old.code, stderr: old.stderr }).toEqual({ code: 3, stderr: `install: release 1.5.0 reads data formats up to 1, but ${data} holds data format 2: install a release that reads it\n` });
    expect(existsSync(join(prefix, 'opt/murmur/releases/1.5.0'))).toBe(false);
    // A release that reads format 2 may still go back to one that reads it too.
    expect((await runInstall(join(makeFixtureBundle(bundles, '2.1.0', 'pass', { dataFormat: 2 }), 'install.sh'), ['--prefix', prefix])).code).toBe(0);
    expect((await runInstall(join(bundles, 'murmur-2.1.0-fixture/install.sh'), ['--prefix', prefix, '--rollback'])).code).toBe(0);
    expect(link(prefix, 'current')).toBe('releases/2.0.0');

    // The health gate: a new release that moved the directory to its format and then failed stays current.
    const gate = fresh('data-format-gate');
    const gateData = join(gate.prefix, 'var/lib/murmur');
    expect((await runInstall(join(makeFixtureBundle(gate.bundles, '1.0.0', 'pass'), 'install.sh'), ['--prefix', gate.prefix])).code).toBe(0);
    const bump = `(await import('node:fs')).writeFileSync(process.env.MURMUR_DATA + '/data-format', '3\\n');\n`;
    const r = await runInstall(join(makeFixtureBundle(gate.bundles, '3.0.0', 'fail', { dataFormat: 3, healthScript: bump }), 'install.sh'), ['--prefix', gate.prefix, '--health-timeout', '1']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`install: 3.0.0 fails its health check, and ${gateData} now holds data format 3, which 1.0.0 cannot read: 3.0.0 stays current (journalctl -u murmur says why)`);
    expect(link(gate.prefix, 'current')).toBe('releases/3.0.0');
  });

  it('rolls back when the endpoint keeps answering 503 past the timeout', async ({ expect, onTestFinished }) => {
    const { prefix, bundles } = fresh('unhealthy-endpoint');
    let healthy = true;
    provision(prefix, await healthEndpoint(onTestFinished, () => healthy));
    expect((await runInstall(join(makeFixtureBundle(bundles, '1.0.0', 'real'), 'install.sh'), ['--prefix', prefix])).code).toBe(0);
    healthy = false;
    const r = await runInstall(join(makeFixtureBundle(bundles, '1.2.0', 'real'), 'install.sh'), ['--prefix', prefix, '--health-timeout', '2']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('-> 503');
    expect(link(prefix, 'current')).toBe('releases/1.0.0');
  });

  it('keeps at most --keep releases, never the current or previous one', async ({ expect }) => {
    const { prefix, bundles } = fresh('prune');
    for (const v of ['1.0.0', '1.1.0', '1.2.0', '1.3.0']) {
      const r = await runInstall(join(makeFixtureBundle(bundles, v, 'pass'), 'install.sh'), ['--prefix', prefix, '--keep', '2']);
      expect(r.code).toBe(0);
    }
    expect(readdirSync(join(prefix, 'opt/murmur/releases')).sort()).toEqual(['1.2.0', '1.3.0']);
    expect(link(prefix, 'current')).toBe('releases/1.3.0');
    expect(link(prefix, 'previous')).toBe('releases/1.2.0');
  });
});

/** Resolves once `file` exists (polled), so a test acts while the installer is at a known step. */
async function waitForFile(file: string, timeoutMs = 20_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!existsSync(file)) {
    if (Date.now() > until) throw new Error(`${file} did not appear within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A fixture health check that leaves `checking` in the data directory at each try, and fails while `block` is there. */
const blockable = `{ const fs = await import('node:fs'); const d = process.env.MURMUR_DATA; fs.writeFileSync(d + '/checking', ''); if (fs.existsSync(d + '/block')) { console.log('fixture: blocked'); process.exit(1); } }\n`;

/** install.sh in a private mount namespace where each of `readOnly` is a read-only bind mount of itself. */
function installWithReadOnly(readOnly: string[], script: string, args: string[]) {
  const mounts = readOnly.map((d) => `mount --bind "${d}" "${d}" && mount -o remount,bind,ro "${d}"`).join(' && ');
  return runProcess('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', `${mounts} && exec sh "$0" "$@"`, script, ...args]);
}
const asRoot = process.getuid?.() === 0;

describe.concurrent('interrupted installs', () => {
  const setup = async (name: string): Promise<{ prefix: string; bundles: string; data: string }> => {
    const { prefix, bundles } = fresh(name);
    expect((await runInstall(join(makeFixtureBundle(bundles, '1.0.0', 'pass'), 'install.sh'), ['--prefix', prefix])).code).toBe(0);
    const data = join(prefix, 'var/lib/murmur');
    writeFileSync(join(data, 'block'), '');
    return { prefix, bundles, data };
  };

  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
    it(`${signal} during the health check switches back to the old release at once`, async ({ expect }) => {
      const { prefix, bundles, data } = await setup(`signal-${signal}`);
      const { child, done } = startProcess('sh', [join(makeFixtureBundle(bundles, '2.0.0', 'pass', { healthScript: blockable }), 'install.sh'), '--prefix', prefix, '--health-timeout', '30']);
      await waitForFile(join(data, 'checking'));
      expect(link(prefix, 'current')).toBe('releases/2.0.0');
      const sent = Date.now();
      child.kill(signal);
      const r = await done;
      expect(Date.now() - sent).toBeLessThan(3000);
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(`install: interrupted before the health check of 2.0.0 passed: switching back\ninstall: rolled back: current is 1.0.0 again; 2.0.0 stays in releases/ for inspection; the data directory was not touched\n`);
      expect(link(prefix, 'current')).toBe('releases/1.0.0');
      expect(existsSync(join(prefix, 'opt/murmur/.switch-pending'))).toBe(false);
    });
  }

  it('kill -9 during the health check: the next run checks the switched release again, and rolls back or keeps it', async ({ expect }) => {
    const killed = async (name: string) => {
      const s = await setup(name);
      const script = join(makeFixtureBundle(s.bundles, '2.0.0', 'pass', { healthScript: blockable }), 'install.sh');
      const { child, done } = startProcess('sh', [script, '--prefix', s.prefix, '--health-timeout', '30']);
      await waitForFile(join(s.data, 'checking'));
      child.kill('SIGKILL');
      await done;
      expect(link(s.prefix, 'current')).toBe('releases/2.0.0'); // what a power cut leaves
      expect(readFileSync(join(s.prefix, 'opt/murmur/.switch-pending'), 'utf8')).toBe('2.0.0\n1.0.0\n\n'); // switched to, from, and previous before (none)
      return { ...s, script };
    };
    const [failing, passing] = await Promise.all([killed('kill9-fails'), killed('kill9-passes')]);

    // Still failing: rolled back, where it used to say "already installed and current: nothing to do".
    const again = await runInstall(failing.script, ['--prefix', failing.prefix, '--health-timeout', '1']);
    expect(again.stdout).toContain('install: an earlier install switched to 2.0.0 (from 1.0.0) and stopped before its health check passed: checking it now');
    expect(again.stdout).not.toContain('nothing to do');
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('rolled back: current is 1.0.0 again');
    expect(link(failing.prefix, 'current')).toBe('releases/1.0.0');
    expect(existsSync(join(failing.prefix, 'opt/murmur/.switch-pending'))).toBe(false);

    // Healthy by now: kept, and the marker cleared.
    rmSync(join(passing.data, 'block'));
    const kept = await runInstall(passing.script, ['--prefix', passing.prefix]);
    expect(kept.stderr).toBe('');
    expect(kept.code).toBe(0);
    expect(kept.stdout).toContain('checking it now');
    expect(kept.stdout).toContain('health check passed: fixture: healthy');
    expect(kept.stdout).toContain('release 2.0.0 is already installed and current: nothing to do');
    expect([link(passing.prefix, 'current'), link(passing.prefix, 'previous')]).toEqual(['releases/2.0.0', 'releases/1.0.0']);
    expect(existsSync(join(passing.prefix, 'opt/murmur/.switch-pending'))).toBe(false);
  });

  it.skipIf(!asRoot)('a release placed but never switched to (unit directory read-only) is switched to by the same install run again', async ({ expect }) => {
    const { prefix, bundles, data } = await setup('placed-not-switched');
    rmSync(join(data, 'block'));
    const script = join(makeFixtureBundle(bundles, '2.0.0', 'pass', { healthScript: blockable }), 'install.sh');
    const unitDir = join(prefix, 'etc/systemd/system');
    const ro = await installWithReadOnly([unitDir], script, ['--prefix', prefix]);
    expect(ro.code).toBe(3);
    expect(ro.stderr).toBe(`install: cannot write ${unitDir}/murmur.service (Read-only file system): remount it read-write (sudo mount -o remount,rw ${unitDir}) and run install.sh again; release 2.0.0 is in place in releases/ and current is unchanged\n`);
    expect(link(prefix, 'current')).toBe('releases/1.0.0');
    expect(existsSync(join(prefix, 'opt/murmur/releases/2.0.0'))).toBe(true);

    const r = await runInstall(script, ['--prefix', prefix]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('release 2.0.0 is already in releases/ (an earlier install stopped before switching to it): switching to it now');
    expect(r.stdout).not.toContain('--rollback');
    expect([link(prefix, 'current'), link(prefix, 'previous')]).toEqual(['releases/2.0.0', 'releases/1.0.0']);
  });

  it('a release that failed its health check before is tried again when its install is run again, saying so', async ({ expect }) => {
    const { prefix, bundles, data } = await setup('failed-before');
    const script = join(makeFixtureBundle(bundles, '2.0.0', 'pass', { healthScript: blockable }), 'install.sh');
    expect((await runInstall(script, ['--prefix', prefix, '--health-timeout', '1'])).code).toBe(1);
    const failed = join(prefix, 'opt/murmur/releases/2.0.0/.failed-health-check');
    expect(existsSync(failed)).toBe(true);
    rmSync(join(data, 'block'));
    const r = await runInstall(script, ['--prefix', prefix]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/install: note: release 2\.0\.0 failed its health check before \(\d{4}-\d\d-\d\d \d\d:\d\d\): switching to it again; it is rolled back if it fails again\n/);
    expect(r.stdout).toContain('health check passed');
    expect(existsSync(failed)).toBe(false);
    expect(link(prefix, 'current')).toBe('releases/2.0.0');
  });
});

/** install.sh in a private mount namespace after `setup` (mounts); `after` runs there once it has exited. */
function installInMountNs(setup: string, script: string, args: string[], after = '') {
  return runProcess('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', `${setup} || exit 99; sh "$0" "$@"; rc=$?; ${after} exit $rc`, script, ...args]);
}
const tarGz = (bundleDir: string, file: string): string => {
  const r = spawnSync('tar', ['-czf', file, '-C', join(bundleDir, '..'), basename(bundleDir)], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  return file;
};

describe.concurrent('full, truncated, missing and unwritable', () => {
  it.skipIf(!asRoot)('a bundle larger than the free space is refused in one line before anything is written, from a tarball or a directory', async ({ expect }) => {
    const { prefix, bundles } = fresh('disk-full');
    const bundle = makeFixtureBundle(bundles, '2.0.0', 'pass', { padBytes: 3 * 1048576 });
    const file = tarGz(bundle, join(bundles, 'b.tar.gz'));
    const opt = join(prefix, 'opt/murmur');
    mkdirSync(opt, { recursive: true });
    const tmpfs = `mount -t tmpfs -o size=2m tmpfs "${opt}"`;
    for (const args of [['--bundle', file], []]) {
      const r = await installInMountNs(tmpfs, join(bundle, 'install.sh'), ['--prefix', prefix, '--skip-health-check', ...args], `ls -A "${opt}/releases";`);
      expect(r.code, r.stderr).toBe(3);
      expect(r.stderr).toMatch(new RegExp(`^install: [0-2] MB free on ${opt}, need 4: remove old releases \\(ls ${opt}/releases\\) or use --keep 2\\n$`));
      expect(r.stdout.trim().split('\n').filter((l) => l !== '' && !l.startsWith('install: ')), 'nothing left in releases/').toEqual([]);
    }
  });

  it('a truncated tarball, a missing one and a file that is not one each say so in one line', async ({ expect }) => {
    const { prefix, bundles } = fresh('truncated');
    const bundle = makeFixtureBundle(bundles, '2.0.0', 'pass', { padBytes: 1048576 });
    const file = tarGz(bundle, join(bundles, 'b.tar.gz'));
    const cut = join(bundles, 'cut.tar.gz');
    writeFileSync(cut, readFileSync(file).subarray(0, Math.floor(readFileSync(file).length / 2)));
    const cases: [string, string][] = [
      [cut, `install: ${cut} is truncated (gzip: unexpected end of file): copy it again\n`],
      [join(bundles, 'nope.tar.gz'), `install: --bundle ${join(bundles, 'nope.tar.gz')}: no such file\n`],
      [join(bundle, 'BUNDLE.json'), `install: cannot unpack ${join(bundle, 'BUNDLE.json')}: not a .tar.gz bundle (not in gzip format)\n`],
    ];
    for (const [arg, stderr] of cases) {
      const r = await runInstall(join(bundle, 'install.sh'), ['--prefix', prefix, '--bundle', arg]);
      expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 2, stderr });
    }
    expect(readdirSync(join(prefix, 'opt/murmur/releases'))).toEqual([]);
  });

  it.skipIf(!asRoot)('a read-only /opt/murmur is named with the fix', async ({ expect }) => {
    const { prefix, bundles } = fresh('read-only-opt');
    const script = join(makeFixtureBundle(bundles, '1.0.0', 'pass'), 'install.sh');
    expect((await runInstall(script, ['--prefix', prefix])).code).toBe(0);
    const opt = join(prefix, 'opt/murmur');
    const r = await installWithReadOnly([opt], join(makeFixtureBundle(bundles, '1.1.0', 'pass'), 'install.sh'), ['--prefix', prefix]);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 3, stderr: `install: cannot write ${opt}/.install.lock (Read-only file system): remount it read-write (sudo mount -o remount,rw ${opt}) and run install.sh again\n` });
  });

  it('removes what interrupted installs left in releases/ (.unpack-*, .partial-*)', async ({ expect }) => {
    const { prefix, bundles } = fresh('stale-scratch');
    expect((await runInstall(join(makeFixtureBundle(bundles, '1.0.0', 'pass'), 'install.sh'), ['--prefix', prefix])).code).toBe(0);
    const releases = join(prefix, 'opt/murmur/releases');
    for (const d of ['.unpack-4000000', `.unpack-${process.pid}`, '.partial-1.1.0-4000001']) {
      mkdirSync(join(releases, d, 'release'), { recursive: true });
      writeFileSync(join(releases, d, 'release', 'big'), 'x');
    }
    const r = await runInstall(join(makeFixtureBundle(bundles, '1.1.0', 'pass'), 'install.sh'), ['--prefix', prefix]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('install: removed releases/.unpack-4000000, left by an interrupted install\n');
    expect(readdirSync(releases).sort()).toEqual(['1.0.0', '1.1.0']);
  });
});

describe('--keep', () => {
  it('keeps by install time, not directory time, and removes releases that failed their health check first', async () => {
    const { prefix, bundles } = fresh('keep-by-install-time');
    // Tarballs carry their build's times; the failed release is touched when it is rolled back.
    const tarball = (version: string, health: 'pass' | 'fail', builtYear: number): string => {
      const dir = makeFixtureBundle(bundles, version, health);
      const t = Date.UTC(builtYear, 0, 1) / 1000;
      utimesSync(join(dir, 'release'), t, t);
      return tarGz(dir, join(bundles, `${version}.tar.gz`));
    };
    const script = join(makeFixtureBundle(join(bundles, 'installer'), '0.0.0', 'pass'), 'install.sh');
    const install = (file: string) => runInstall(script, ['--prefix', prefix, '--bundle', file, '--keep', '2', '--health-timeout', '1']);
    expect((await install(tarball('0.1.1', 'pass', 2020))).code).toBe(0);
    expect((await install(tarball('0.2.1', 'fail', 2021))).code).toBe(1);
    const r030 = await install(tarball('0.3.0', 'pass', 2022));
    expect(r030.code).toBe(0);
    expect(r030.stdout).toContain('removed old release 0.2.1');
    expect((await install(tarball('0.3.1', 'pass', 2023))).code).toBe(0);
    expect(readdirSync(join(prefix, 'opt/murmur/releases')).sort()).toEqual(['0.3.0', '0.3.1']);
    expect([link(prefix, 'current'), link(prefix, 'previous')]).toEqual(['releases/0.3.1', 'releases/0.3.0']);
  });
});
