// The README's quickstart, run as a new user would: its shell block, taken from README.md as it stands,
// in a fresh directory beside a link to this checkout's bin/, against Debian's /usr/sbin/mosquitto.
// Only the ports change (a free broker port for 1883, with MURMUR_BROKER set as the README says for
// another port, and free HTTP ports for 9471-9474), so the test runs beside others; every substitution
// must find its text, so a README that changes them fails here first.
// The block ends by stopping its devices and broker itself; whatever it started and did not stop (a
// failed step) is ended by the PIDs it wrote.

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freeDecade, freePort } from '../links/processes.js';
import { repoRoot } from '../support/run-cli.js';

/** The first ```sh block after the "## Quickstart" heading. */
function quickstartBlock(readme: string): string {
  const at = readme.indexOf('\n## Quickstart');
  if (at < 0) throw new Error('README.md has no "## Quickstart" section');
  const open = readme.indexOf('```sh\n', at);
  const close = readme.indexOf('\n```', open + 6);
  if (open < 0 || close < 0) throw new Error('the quickstart section has no ```sh block');
  return readme.slice(open + 6, close + 1);
}

/** Replaces every `from` in `text` and insists there were exactly `count`. */
function replaceExactly(text: string, from: string, to: string, count: number): string {
  const n = text.split(from).length - 1;
  if (n !== count) throw new Error(`the quickstart holds "${from}" ${n} times, the test expects ${count}: update test/cli/readme-quickstart.test.ts with the README`);
  return text.split(from).join(to);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const dir = mkdtempSync(join(tmpdir(), 'murmur-quickstart-'));
const demo = join(dir, 'demo');
let started: number[] = [];

/** The PIDs the block wrote (devices.pid, mosquitto.pid), read while they exist. */
function pidsWritten(): number[] {
  const read = (f: string): number[] =>
    existsSync(join(demo, f))
      ? readFileSync(join(demo, f), 'utf8')
          .split('\n')
          .map(Number)
          .filter((n) => Number.isInteger(n) && n > 0)
      : [];
  return [...read('devices.pid'), ...read('mosquitto.pid')];
}

afterAll(async () => {
  for (const pid of new Set([...started, ...pidsWritten()])) if (alive(pid)) process.kill(pid, 'SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

describe('README quickstart', () => {
  it('runs as written: four devices commit and fly a survey, the operator sees it, admin sets a parameter, all stop', async () => {
    const brokerPort = await freePort();
    const http = await freeDecade();
    let script = quickstartBlock(readFileSync(join(repoRoot, 'README.md'), 'utf8'));
    script = replaceExactly(script, 'listener 1883 127.0.0.1', `listener ${brokerPort} 127.0.0.1`, 1);
    script = replaceExactly(script, 'mqtt://127.0.0.1:1883', `mqtt://127.0.0.1:${brokerPort}`, 1);
    script = replaceExactly(script, 'port: 947$i', `port: ${http}$i`, 1);
    script = replaceExactly(script, '127.0.0.1:947$i/health', `127.0.0.1:${http}$i/health`, 1);
    script = replaceExactly(script, '127.0.0.1:9471/health', `127.0.0.1:${http}1/health`, 1);
    // The devices' PIDs are read before step 5 removes the file, so a device that outlives its SIGTERM is seen.
    script = replaceExactly(script, '# 5. clean up', 'cp devices.pid ../devices.started; cp mosquitto.pid ../mosquitto.started\n# 5. clean up', 1);
    writeFileSync(join(dir, 'quickstart.sh'), script);
    symlinkSync(join(repoRoot, 'bin'), join(dir, 'bin'));

    // A new user's shell: none of murmurctl's MURMUR_* settings from the environment the tests run in.
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('MURMUR_')));
    const child = spawn('bash', ['-e', 'quickstart.sh'], {
      cwd: dir,
      // Another port than 1883, so murmurctl is told where, as the README says for that case.
      env: { ...env, PATH: `${process.env.PATH ?? ''}:/usr/sbin:/sbin`, MURMUR_BROKER: `mqtt://127.0.0.1:${brokerPort}` },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | null>((resolve) => {
      const timer = setTimeout(() => {
        started = pidsWritten();
        child.kill('SIGKILL');
      }, 150_000);
      child.once('exit', (c) => {
        clearTimeout(timer);
        resolve(c);
      });
    });
    // On a failure, what each device and the broker logged too (they go with the directory after).
    const logTail = (f: string): string => (existsSync(join(demo, f)) ? readFileSync(join(demo, f), 'utf8').slice(-1500) : '(none)');
    const logs = ['d1.log', 'd2.log', 'd3.log', 'd4.log', 'mosquitto.log'].map((f) => `\n--- ${f} (last 1500 characters) ---\n${logTail(f)}`).join('');
    const tail = `\n--- quickstart output (last 4000 characters) ---\n${out.slice(-4000)}${logs}`;
    expect(code, `the quickstart exited ${code}${tail}`).toBe(0);

    // Step 4: the survey committed with a certificate murmurctl checked, and every device flew its part.
    expect(out, tail).toMatch(/committed mission\.survey ops\/[0-9a-f]{32} at height \d+ \(round \d+\), block [0-9a-f]{16}/);
    const cert = /certificate verified: signed by ([d1-4, ]+) \((\d) of 4 voting power\)/.exec(out);
    expect(cert, tail).not.toBeNull();
    expect(Number(cert?.[2])).toBeGreaterThanOrEqual(3);
    expect(out, tail).toMatch(/accepted; assigned to d1, d2, d3, d4/);
    for (const d of ['d1', 'd2', 'd3', 'd4']) expect(out, `${d} did not finish its lanes${tail}`).toMatch(new RegExp(`\\n  ${d}: done\\n`));
    // status: one row per device, each alive; log: the survey, accepted.
    for (const d of ['d1', 'd2', 'd3', 'd4']) expect(out, tail).toMatch(new RegExp(`\\n${d} +validator +alive +\\d+`));
    expect(out, tail).toMatch(/\n\d+ +\d+ +ops\/[0-9a-f]{32} +mission\.survey +accepted/);
    // watch: JSON a person can read, from the devices.
    expect(out, tail).toMatch(/\nd[1-4]\/status +\{"node":"d[1-4]"/);
    // The admin's param.set committed (ops alone would be rejected: test/cli/cli-errors.test.ts).
    expect(out, tail).toMatch(/committed param\.set admin\/[0-9a-f]{32} at height \d+/);

    // Step 5 stopped every process it started.
    const pids = ['devices.started', 'mosquitto.started'].flatMap((f) =>
      readFileSync(join(dir, f), 'utf8')
        .split('\n')
        .map(Number)
        .filter((n) => n > 0),
    );
    started = pids;
    expect(pids).toHaveLength(5);
    const deadline = Date.now() + 10_000;
    while (pids.some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(pids.filter(alive), 'processes still running after the quickstart stopped them').toEqual([]);
  }, 180_000);
});
