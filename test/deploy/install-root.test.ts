// install.sh as root on / (no --prefix), the path a real device takes: it creates the system user murmur in
// dialout, provisions the identity 0600 owned by murmur, restarts the service, and rolls a failed release
// back to a restarted old one. It runs in a private mount namespace whose /etc, /opt and /var are overlays
// on the host's (the changes land in a temp directory), so the host's users and units are never touched:
// the last test checks that. systemd is not PID 1 here, so --systemctl points at a script that records each
// call with the release `current` names at that moment, and stands in for systemd's start limit: while
// the file start-limit-hit is there (a release crash-looped through its 5 starts in 120 s), `restart` is
// refused as systemd refuses it, until `reset-failed`; a restart on the release named in crash-loops
// creates that file (it will crash-loop through the limit). The device is started as the unit's ExecStart would
// be, as the murmur user. Not exercised: systemd itself (the unit's sandbox, Restart=, the start limit).

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Mosquitto, freePort } from '../links/processes.js';
import { startDeviceProcess, type DeviceProcess } from '../support/device-process.js';
import { makeFixtureBundle, repoRoot } from './fixture-bundle.js';
import { makeProvisionBundles } from './fixture-provision.js';
import { runProcess } from './run-install.js';

/** Where the namespace binds this repository (in its /opt overlay, so the host never sees it). */
const repoInNs = '/opt/murmur-repo';
const hostPaths = ['/opt/murmur', '/etc/murmur', '/var/lib/murmur', '/etc/systemd/system/murmur.service', '/etc/systemd/system/murmur-rollback.service'];
const hostFiles = ['/etc/passwd', '/etc/group', '/etc/shadow', '/etc/gshadow'];

/** What the test must leave as it found it: no murmur user, no Murmur paths, the account files byte for byte, no mounts. */
function hostState(): Record<string, unknown> {
  let user = 'absent';
  try {
    user = execFileSync('getent', ['passwd', 'murmur'], { encoding: 'utf8' });
  } catch {
    // getent exits 2 when there is no such user
  }
  return {
    user,
    paths: hostPaths.filter((p) => existsSync(p)),
    files: Object.fromEntries(hostFiles.map((f) => [f, createHash('sha256').update(readFileSync(f)).digest('hex')])),
    overlays: readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => / \/(etc|opt|var) /.test(l)),
  };
}

let work: string;
let before: Record<string, unknown>;
let holder: ChildProcess | undefined;
let broker: Mosquitto | undefined;
let device: DeviceProcess | undefined;
let httpPort = 0;
let provision = '';
const calls = (): string[] => (existsSync(join(work, 'systemctl.log')) ? readFileSync(join(work, 'systemctl.log'), 'utf8').trim().split('\n') : []);

/** A command inside the namespace, as root. */
const inNs = (args: string[], timeoutMs = 120_000) => runProcess('nsenter', ['-t', String(holder?.pid), '-m', '--', ...args], {}, timeoutMs);
const install = (version: string, args: string[]) => inNs(['sh', join(work, 'releases', `murmur-${version}-fixture`, 'install.sh'), '--node', process.execPath, '--systemctl', join(work, 'systemctl'), ...args]);
const dataDigest = async (): Promise<string> => (await inNs(['sh', '-c', 'cd /var/lib/murmur && find . -type f -exec sha256sum {} + | sort'])).stdout;

beforeAll(async () => {
  expect(process.getuid?.(), 'this test drives install.sh as root, as on a device (CI runs as root)').toBe(0);
  before = hostState();
  expect(before, 'the host already has Murmur installed: this test needs a host without it').toMatchObject({ user: 'absent', paths: [], overlays: [] });
  work = mkdtempSync(join(tmpdir(), 'murmur-install-root-'));
  broker = await Mosquitto.start();
  httpPort = await freePort();
  provision = (await makeProvisionBundles(work, ['v0'], { mqttUrl: broker.url, httpPort })).v0 as string;
  const releases = join(work, 'releases');
  mkdirSync(releases);
  // The murmur user must read the repository the releases run, but a checkout may be (or sit below) a
  // directory only its owner can enter (mktemp -d): the namespace mounts it at a path everyone can reach.
  makeFixtureBundle(releases, '1.0.0', 'real', { runsRepo: true, repoPath: repoInNs });
  makeFixtureBundle(releases, '1.1.0', 'real', { runsRepo: true, repoPath: repoInNs });
  makeFixtureBundle(releases, '2.0.0', 'fail');
  writeFileSync(join(work, 'systemctl'), [
    '#!/bin/sh',
    '# Records each call and the release current names when it is made; refuses restart while the start limit is hit.',
    `printf '%s | current=%s\\n' "$*" "$(readlink /opt/murmur/current 2>/dev/null || echo none)" >> ${join(work, 'systemctl.log')}`,
    `limit=${join(work, 'start-limit-hit')} crashing=${join(work, 'crash-loops')}`,
    'case $1 in',
    '  reset-failed) rm -f "$limit" ;;',
    '  restart)',
    '    if [ -e "$limit" ]; then echo "Job for murmur.service failed because the start limit was hit" >&2; exit 1; fi',
    '    if [ -e "$crashing" ] && [ "$(readlink /opt/murmur/current)" = "releases/$(cat "$crashing")" ]; then : > "$limit"; fi ;;',
    'esac',
    '',
  ].join('\n'));
  chmodSync(join(work, 'systemctl'), 0o755);
  // The namespace lives as long as this holder; overlays keep the host's /etc, /opt and /var read-only to it.
  const mounts = ['etc', 'opt', 'var'].map((d) => `mkdir -p "$W/upper/${d}" "$W/work/${d}" && mount -t overlay overlay -o "lowerdir=/${d},upperdir=$W/upper/${d},workdir=$W/work/${d}" /${d}`);
  // An overlay rather than a bind: its root takes the mode of the (fresh, 0755) upper directory.
  mounts.push(`mkdir -p ${repoInNs} "$W/upper/repo" "$W/work/repo" && chmod 755 "$W/upper/repo" && mount -t overlay overlay -o "lowerdir=$REPO,upperdir=$W/upper/repo,workdir=$W/work/repo" ${repoInNs}`);
  holder = spawn('unshare', ['--mount', '--propagation', 'private', 'sh', '-euc', `${mounts.join('\n')}\necho mounted\nexec sleep 600`], { env: { ...process.env, W: join(work, 'ns'), REPO: repoRoot }, stdio: ['ignore', 'pipe', 'pipe'] });
  await new Promise<void>((resolve, reject) => {
    let err = '';
    holder?.stderr?.on('data', (b: Buffer) => (err += b.toString()));
    holder?.stdout?.once('data', () => resolve());
    holder?.once('exit', (code) => reject(new Error(`unshare exited with ${code}: ${err}`)));
  });
}, 240_000);

afterAll(async () => {
  await device?.stop();
  if (holder?.pid !== undefined && holder.exitCode === null && holder.signalCode === null) process.kill(holder.pid, 'SIGKILL');
  await broker?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('install.sh as root on / (private mount namespace)', () => {
  it('creates the system user murmur in dialout, provisions the key 0600 owned by murmur, enables and restarts the service', async () => {
    const r = await install('1.0.0', ['--provision', provision, '--skip-health-check']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('install: created system user murmur (groups: murmur, dialout)');
    expect(r.stdout).toContain('install: provisioned v0 into /etc/murmur (device.key 0600 owned by murmur)');
    const facts = await inNs(['sh', '-c', 'id murmur; getent passwd murmur; stat -c "%n %U:%G %a" /etc/murmur /etc/murmur/device.key /etc/murmur/fleet.manifest /etc/murmur/device.yaml /var/lib/murmur /etc/systemd/system/murmur.service; readlink /opt/murmur/current']);
    expect(facts.code, facts.stderr).toBe(0);
    const [id, passwd, ...rest] = facts.stdout.trim().split('\n');
    expect(id).toMatch(/^uid=(\d+)\(murmur\) gid=(\d+)\(murmur\) groups=\2\(murmur\),\d+\(dialout\)$/);
    const [, , uid, , , home, shell] = (passwd as string).split(':');
    expect(Number(uid)).toBeLessThan(1000); // a system user
    expect([home, shell]).toEqual(['/var/lib/murmur', '/usr/sbin/nologin']);
    expect(rest).toEqual([
      '/etc/murmur root:murmur 750',
      '/etc/murmur/device.key murmur:murmur 600',
      '/etc/murmur/fleet.manifest root:murmur 640',
      '/etc/murmur/device.yaml root:murmur 640',
      '/var/lib/murmur murmur:murmur 750',
      '/etc/systemd/system/murmur.service root:root 644',
      'releases/1.0.0',
    ]);
    expect((await inNs(['cat', '/etc/systemd/system/murmur-rollback.service'])).stdout).toContain(`\nExecStart=/bin/sh /opt/murmur/current/deploy/install.sh --node ${process.execPath} --rollback-unconfirmed\n`);
    expect(calls()).toEqual(['daemon-reload | current=none', 'enable murmur.service | current=none', 'reset-failed murmur.service | current=releases/1.0.0', 'restart murmur.service | current=releases/1.0.0']);
  });

  it('the murmur user runs the unit\'s ExecStart from the provisioned files and the device becomes ready', async () => {
    const unit = (await inNs(['cat', '/etc/systemd/system/murmur.service'])).stdout;
    const execStart = /^ExecStart=(.+)$/m.exec(unit)?.[1] ?? '';
    expect(execStart).toBe(`${process.execPath} --max-semi-space-size=1 --optimize-for-size /opt/murmur/current/bin/murmur.js start --config /etc/murmur/device.yaml`);
    expect(unit).toMatch(/^User=murmur$/m);
    // PrivateTmp's stand-in: a temp directory only murmur may use.
    expect((await inNs(['install', '-d', '-o', 'murmur', '-g', 'murmur', '-m', '0700', '/var/tmp/murmur-private'])).code).toBe(0);
    const env = 'env -i PATH=/usr/bin:/bin HOME=/var/lib/murmur TMPDIR=/var/tmp/murmur-private NODE_ENV=production';
    device = startDeviceProcess('nsenter', ['-t', String(holder?.pid), '-m', '--', 'sh', '-c', `cd /var/lib/murmur && exec setpriv --reuid=murmur --regid=murmur --init-groups -- ${env} ${execStart}`], { readyMs: 120_000 });
    await device.ready;
    const status = readFileSync(`/proc/${device.proc.pid}/status`, 'utf8');
    const murmurUid = (await inNs(['id', '-u', 'murmur'])).stdout.trim();
    expect(/^Uid:\s+(\d+)/m.exec(status)?.[1]).toBe(murmurUid);
    const health = await fetch(`http://127.0.0.1:${httpPort}/health`);
    expect(health.status).toBe(200);
    expect(device.output()).toContain('"role":"validator"');
  }, 180_000);

  it('an upgrade restarts the service on the new release and passes the real health check against the running device', async () => {
    // The release running before crash-looped into systemd's start limit: the new one is started all the same.
    writeFileSync(join(work, 'start-limit-hit'), '');
    const r = await install('1.1.0', []);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).not.toContain('systemctl restart murmur failed');
    expect(r.stdout).toContain(`health check passed: health: GET http://127.0.0.1:${httpPort}/health -> 200`);
    expect(calls().slice(-2)).toEqual(['reset-failed murmur.service | current=releases/1.1.0', 'restart murmur.service | current=releases/1.1.0']);
    expect(await device?.stop()).toBe(0);
  }, 180_000);

  it('a release that fails its health check is rolled back and the service restarted on the old one; the data directory is untouched', async () => {
    const data = await dataDigest();
    expect(data).toContain('./session'); // what the device wrote is there to lose
    // 2.0.0 crash-loops through systemd's start limit during its health check (a start every 2 s).
    writeFileSync(join(work, 'crash-loops'), '2.0.0');
    const r = await install('2.0.0', ['--health-timeout', '2']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('rolled back: current is 1.1.0 again');
    expect(r.stdout).not.toContain('systemctl restart murmur failed');
    // Stopped before the data format is checked (a failing release systemd keeps restarting could mark
    // the directory after the check), then switched back and started, its start limit reset first (the
    // failing release used up systemd's 5 starts in 120 s).
    expect(calls().slice(-5)).toEqual(['reset-failed murmur.service | current=releases/2.0.0', 'restart murmur.service | current=releases/2.0.0', 'stop murmur.service | current=releases/2.0.0', 'reset-failed murmur.service | current=releases/1.1.0', 'restart murmur.service | current=releases/1.1.0']);
    expect(existsSync(join(work, 'start-limit-hit'))).toBe(false);
    expect((await inNs(['readlink', '/opt/murmur/current'])).stdout.trim()).toBe('releases/1.1.0');
    expect(await dataDigest()).toBe(data);
  }, 180_000);

  it('leaves the host\'s users, units and mounts as they were', async () => {
    const h = holder as ChildProcess;
    if (h.exitCode === null && h.signalCode === null && h.pid !== undefined) {
      const exited = new Promise<void>((resolve) => h.once('exit', () => resolve()));
      process.kill(h.pid, 'SIGKILL');
      await exited;
    }
    expect(hostState()).toEqual(before);
    // The changes were real; they went to the overlays' upper directories.
    expect(readFileSync(join(work, 'ns/upper/etc/passwd'), 'utf8')).toMatch(/^murmur:x:\d+:\d+::\/var\/lib\/murmur:\/usr\/sbin\/nologin$/m);
  });
});
