// murmur-rollback.service: murmur.service's OnFailure= runs `install.sh --rollback-unconfirmed` when systemd
// gives up on the device (a crash loop through its start limit). It switches back a release whose install
// never saw its health check pass (the installer killed during the check, as a power cut would), leaves a
// release that passed alone, and leaves the switch to an installer that is still running. systemd itself is
// not PID 1 here: the units are checked with systemd-analyze verify, the rollback run under --prefix.

import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { makeFixtureBundle } from './fixture-bundle.js';
import { runInstall, startProcess } from './run-install.js';

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'murmur-install-rollback-unit-'));
});
afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

/** A fixture health check that leaves `checking` in the data directory at each try, and fails while `block` is there. */
const blockable = `{ const fs = await import('node:fs'); const d = process.env.MURMUR_DATA; fs.writeFileSync(d + '/checking', ''); if (fs.existsSync(d + '/block')) { console.log('fixture: blocked'); process.exit(1); } }\n`;

async function waitForFile(file: string, timeoutMs = 20_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!existsSync(file)) {
    if (Date.now() > until) throw new Error(`${file} did not appear within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe.concurrent('murmur-rollback.service', () => {
  it('is written beside murmur.service, named by its OnFailure=, and systemd-analyze verify accepts both', async ({ expect }) => {
    const dir = join(work, 'units');
    const prefix = join(dir, 'root');
    const r = await runInstall(join(makeFixtureBundle(join(dir, 'bundles'), '1.0.0', 'pass'), 'install.sh'), ['--prefix', prefix, '--node', process.execPath]);
    expect(r.code, r.stderr).toBe(0);
    const units = join(prefix, 'etc/systemd/system');
    expect(readFileSync(join(units, 'murmur.service'), 'utf8').split('\n')).toContain('OnFailure=murmur-rollback.service');
    expect(readFileSync(join(units, 'murmur-rollback.service'), 'utf8').split('\n')).toContain(`ExecStart=/bin/sh /opt/murmur/current/deploy/install.sh --node ${process.execPath} --rollback-unconfirmed`);
    const verify = spawnSync('systemd-analyze', ['verify', join(units, 'murmur.service'), join(units, 'murmur-rollback.service')], { encoding: 'utf8', timeout: 30_000 });
    expect(verify.error).toBeUndefined();
    expect(`${verify.stdout}${verify.stderr}`).toBe('');
    expect(verify.status).toBe(0);
  });

  it('switches back a release whose installer was killed during its health check, and only that one; not while an installer runs', async ({ expect, onTestFinished }) => {
    const dir = join(work, 'unconfirmed');
    const prefix = join(dir, 'root');
    const bundles = join(dir, 'bundles');
    const data = join(prefix, 'var/lib/murmur');
    for (const v of ['0.9.0', '1.0.0']) expect((await runInstall(join(makeFixtureBundle(bundles, v, 'pass'), 'install.sh'), ['--prefix', prefix])).code).toBe(0);
    writeFileSync(join(data, 'block'), '');
    const { child, done } = startProcess('sh', [join(makeFixtureBundle(bundles, '2.0.0', 'pass', { healthScript: blockable }), 'install.sh'), '--prefix', prefix, '--health-timeout', '30']);
    await waitForFile(join(data, 'checking'));
    child.kill('SIGKILL');
    await done;
    const links = () => ['current', 'previous'].map((l) => readlinkSync(join(prefix, 'opt/murmur', l)));
    expect(links()).toEqual(['releases/2.0.0', 'releases/1.0.0']); // then 2.0.0 crash-loops until systemd gives up
    const unit = ['sh', join(prefix, 'opt/murmur/current/deploy/install.sh'), '--prefix', prefix, '--rollback-unconfirmed'] as const;

    // An installer holds the lock (it would check the switch itself): nothing is done. The holder keeps it
    // until its stdin is closed.
    const holder = spawn('flock', [join(prefix, 'opt/murmur/.install.lock'), '-c', 'read line'], { stdio: ['pipe', 'ignore', 'ignore'] });
    const holderExited = new Promise((resolve) => holder.once('exit', resolve));
    onTestFinished(() => {
      if (holder.pid !== undefined && holder.exitCode === null && holder.signalCode === null) process.kill(holder.pid, 'SIGKILL');
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    const locked = await runInstall(unit[1], unit.slice(2));
    expect({ code: locked.code, stdout: locked.stdout }).toEqual({ code: 0, stdout: `install: another install.sh is running on ${join(prefix, 'opt/murmur')}: it checks its switch itself\n` });
    expect(links()).toEqual(['releases/2.0.0', 'releases/1.0.0']);
    holder.stdin.end();
    await holderExited;

    const r = await runInstall(unit[1], unit.slice(2));
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 1, stderr: 'install: 2.0.0 stopped running before its health check passed (systemd gave up on murmur.service): switching back\ninstall: rolled back: current is 1.0.0 again; 2.0.0 stays in releases/ for inspection; the data directory was not touched\n' });
    expect(links()).toEqual(['releases/1.0.0', 'releases/0.9.0']);
    expect(existsSync(join(prefix, 'opt/murmur/.switch-pending'))).toBe(false);
    expect(existsSync(join(prefix, 'opt/murmur/releases/2.0.0/.failed-health-check'))).toBe(true);

    // 1.0.0 passed its check when it was installed: if it fails now, it stays (an operator decides).
    const again = await runInstall(unit[1], unit.slice(2));
    expect({ code: again.code, stdout: again.stdout }).toEqual({ code: 0, stdout: 'install: current release 1.0.0 is not waiting for its health check: it stays (to switch back anyway: install.sh --rollback)\n' });
    expect(links()).toEqual(['releases/1.0.0', 'releases/0.9.0']);
  });
});
