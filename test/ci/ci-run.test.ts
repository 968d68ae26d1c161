// .ci/lib.sh (what .ci/run does on a fresh Debian machine) run by bash against fake `node`, `id`,
// `sudo`, `apt-get` and `apt-cache` on a PATH of their own: the real script logic, no real apt.

import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const lib = resolve('.ci/lib.sh');
const work = mkdtempSync(join(tmpdir(), 'murmur-ci-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

interface Fakes {
  node?: string; // what `node --version` prints
  npm?: string; // what `npm --version` prints
  npmUpgrades?: boolean; // `npm install --global npm@11` replaces it with 11.19.1
  uid?: number;
  sudo?: 'passwordless' | 'password';
  candidate?: string; // nodejs candidate in `apt-cache policy`
  aptInstallsNode?: string; // `apt-get install` puts a node of this version on PATH
}

let dirs = 0;
/** Runs `body` in bash after sourcing .ci/lib.sh, with only the fakes on PATH; returns status, stderr and the command log. */
function run(body: string, fakes: Fakes): { status: number | null; stderr: string; stdout: string; log: string } {
  const bin = join(work, `bin${dirs++}`);
  mkdirSync(bin);
  const log = join(bin, 'calls.log');
  const script = (name: string, text: string, dir = bin): void => {
    writeFileSync(join(dir, name), `#!/bin/sh\n${text}\n`);
    chmodSync(join(dir, name), 0o755);
  };
  // npm answers --version, logs anything else, and an `install --global npm@11` may upgrade it.
  const npm = (version: string, dir = bin): void =>
    script('npm', `[ "$1" = --version ] && { echo ${version}; exit 0; }\necho "npm $*" >> ${log}\n${fakes.npmUpgrades ? `printf '#!/bin/sh\\necho 11.19.1\\n' > ${bin}/npm` : ''}`, dir);
  for (const tool of ['env', 'true']) symlinkSync(`/usr/bin/${tool}`, join(bin, tool));
  if (fakes.node !== undefined) script('node', `echo ${fakes.node}`);
  if (fakes.npm !== undefined) npm(fakes.npm);
  script('id', `echo ${fakes.uid ?? 0}`);
  if (fakes.sudo === 'passwordless') script('sudo', `echo "sudo $*" >> ${log}\n[ "$1" = -n ] && shift\nexec "$@"`);
  if (fakes.sudo === 'password') script('sudo', `echo "sudo $*" >> ${log}\nexit 1`);
  script('apt-cache', `echo "nodejs:"\necho "  Installed: (none)"\necho "  Candidate: ${fakes.candidate ?? '(none)'}"`);
  // What `apt-get install nodejs npm` would bring: Debian's node and its npm 9.
  const debian = join(bin, 'debian');
  mkdirSync(debian);
  if (fakes.aptInstallsNode !== undefined) script('node', `echo ${fakes.aptInstallsNode}`, debian);
  npm('9.2.0', debian);
  script('apt-get', `echo "apt-get $* DEBIAN_FRONTEND=$DEBIAN_FRONTEND" >> ${log}\nif [ "$1" = install ]; then for p in "$@"; do case $p in nodejs) [ -e ${debian}/node ] && /bin/cp ${debian}/node ${bin}/ ;; npm) /bin/cp ${debian}/npm ${bin}/ ;; esac; done; fi\nexit 0`);
  const r = spawnSync('/bin/bash', ['-c', `set -euo pipefail; source ${lib}; ${body}`], { encoding: 'utf8', env: { PATH: bin, HOME: work }, stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 });
  return { status: r.status, stderr: r.stderr, stdout: r.stdout, log: existsSync(log) ? readFileSync(log, 'utf8') : '' };
}

describe('.ci/run: the Node.js check', () => {
  it("refuses bookworm's Node.js 18 and names what to install", () => {
    const r = run('check_node_version', { node: 'v18.20.4' });
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/needs Node\.js >= 20\.19, but .*\/node is v18\.20\.4/);
    expect(r.stderr).toMatch(/Debian 13 \(trixie\).*apt-get install nodejs npm/);
    expect(r.stderr).toMatch(/Debian 12 \(bookworm\) ships Node\.js 18/);
  });

  it.each([
    ['v20.18.3', 1],
    ['v20.19.0', 0],
    ['v20.20.2', 0],
    ['v21.0.0', 0],
    ['v22.12.0', 0],
    ['v100.1.0', 0],
    ['v9.99.0', 1],
    ['not-a-version', 1],
  ])('node %s: exit %i', (version, status) => {
    expect(run('check_node_version', { node: version }).status).toBe(status);
  });

  it('no node at all says so', () => {
    const r = run('check_node_version', {});
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/Node\.js is not installed\. Install Node\.js 20\.19 or newer/);
  });
});

describe('.ci/run: installing Node.js from Debian when there is none', () => {
  it("does not install bookworm's nodejs 18: it stops with the fix after apt-get update", () => {
    const r = run('ensure_node', { candidate: '18.20.4+dfsg-1~deb12u3' });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/this Debian's nodejs package is 18\.20\.4\+dfsg-1~deb12u3/);
    expect(r.log).toBe('apt-get update -qq DEBIAN_FRONTEND=noninteractive\n');
  });

  it("installs trixie's nodejs 20.19 and npm, then npm 11 from the npm registry over Debian's npm 9", () => {
    const r = run('ensure_node; npm --version', { candidate: '20.19.2+dfsg-1', aptInstallsNode: 'v20.19.2', npmUpgrades: true });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('11.19.1\n');
    expect(r.log).toBe(
      'apt-get update -qq DEBIAN_FRONTEND=noninteractive\napt-get install -y -qq --no-install-recommends nodejs npm DEBIAN_FRONTEND=noninteractive\nnpm install --global --no-audit --no-fund --loglevel=error npm@11\n',
    );
  });

  it('an npm that stays old after the upgrade is a clear failure', () => {
    const r = run('ensure_node', { node: 'v20.19.2', npm: '9.2.0' });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/npm is 9\.2\.0 after 'npm install --global npm@11'; put the new npm .* first on PATH/);
  });

  it('a good node without npm gets npm from Debian, then npm 11', () => {
    const r = run('ensure_node', { node: 'v20.19.2', npmUpgrades: true });
    expect(r.status).toBe(0);
    expect(r.log).toContain('apt-get install -y -qq --no-install-recommends npm DEBIAN_FRONTEND=noninteractive\nnpm install --global');
  });

  it('with a good node and npm present it touches nothing (idempotent)', () => {
    const r = run('ensure_node', { node: 'v20.20.2', npm: '11.19.1' });
    expect(r.status).toBe(0);
    expect(r.log).toBe('');
  });
});

describe('.ci/run: root for apt-get', () => {
  it('runs apt-get directly as root', () => {
    const r = run('apt_install socat', { uid: 0 });
    expect(r.status).toBe(0);
    expect(r.log).toBe('apt-get update -qq DEBIAN_FRONTEND=noninteractive\napt-get install -y -qq --no-install-recommends socat DEBIAN_FRONTEND=noninteractive\n');
  });

  it('goes through sudo -n when not root', () => {
    const r = run('apt_install socat', { uid: 1000, sudo: 'passwordless' });
    expect(r.status).toBe(0);
    expect(r.log).toContain('sudo -n env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends socat');
    expect(r.log).toContain('apt-get install -y -qq --no-install-recommends socat DEBIAN_FRONTEND=noninteractive');
  });

  it('fails clearly when sudo wants a password and there is no terminal', () => {
    const r = run('apt_install socat', { uid: 1000, sudo: 'password' });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^\.ci\/run: needs root for 'env DEBIAN_FRONTEND=noninteractive apt-get update -qq': sudo asks for a password and there is no terminal/);
    expect(r.log).not.toContain('apt-get update');
  });

  it('fails clearly when neither root nor sudo', () => {
    const r = run('apt_install socat', { uid: 1000 });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/not root and sudo is not installed; run as root/);
    expect(r.log).toBe('');
  });
});
