// Ctrl-C (SIGINT to fleet-sim's PID) during a real-time run with --processes: whether it comes while
// the devices are still starting or while the scenario runs, every `murmur start` child is stopped and
// the fleet's temporary directory (keys, configs, data) removed before fleet-sim exits; a run cut short
// says so in its report and fails its expectations, rather than reporting a partial run as met. Killed
// with SIGKILL (nothing of fleet-sim runs), its device processes and radios' socat pty pairs end with it.

import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, describe, expect, it, onTestFinished } from 'vitest';
import { cliEntry, repoRoot } from '../support/run-cli.js';
import { realtimeRun, RunInterrupted } from '../../fleet-sim/realtime/realtime-run.js';
import type { Scenario } from '../../fleet-sim/scenario/scenario.js';

const dir = mkdtempSync(join(tmpdir(), 'murmur-interrupt-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The processes whose parent is `pid` and whose command line `args` matches, each with the directory
 *  the match's first group names. */
function childrenOf(pid: number, args: RegExp): { pid: number; dir: string }[] {
  const rows = execFileSync('ps', ['-eo', 'pid=,ppid=,args='], { encoding: 'utf8' }).split('\n');
  return rows.flatMap((r) => {
    const m = /^\s*(\d+)\s+(\d+)\s+(.*)$/.exec(r);
    const a = m ? args.exec(m[3] as string) : null;
    return m && a && Number(m[2]) === pid ? [{ pid: Number(m[1]), dir: a[1] as string }] : [];
  });
}

/** The socat pty pairs whose parent is `pid`, with the directory of their links. */
const socatChildren = (pid: number): { pid: number; ptyDir: string }[] => childrenOf(pid, /socat -d -d pty,raw,echo=0,link=(\S+)\/a /).map((c) => ({ pid: c.pid, ptyDir: c.dir }));

/** `murmur start` processes whose parent is `pid`, with the fleet directory their config lies in. */
const deviceChildren = (pid: number): { pid: number; fleetDir: string }[] => childrenOf(pid, /bin\/murmur\.js start --config (\S+)\/[^/\s]+\.yaml/).map((c) => ({ pid: c.pid, fleetDir: c.dir }));

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function until(what: string, ok: () => boolean, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (let i = 0; i < 10_000 && !ok(); i++) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Starts leader-crash in real time with --processes, interrupts it once `ready` holds, and returns
 *  what it printed, its exit code and the device processes it had. */
async function interruptWhen(name: string, ready: (stdout: string, children: number) => boolean): Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string; devices: { pid: number; fleetDir: string }[] }> {
  const reports = join(dir, name);
  const child = spawn(process.execPath, [cliEntry('fleet-sim'), 'start', 'fleet-sim/scenarios/leader-crash.yaml', '--realtime', '--processes', '--port', '0', '--exit', '--reports', reports], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
  const pid = child.pid as number;
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  const exited = new Promise<{ code: number | null; signal: string | null }>((r) => child.once('exit', (code, signal) => r({ code, signal })));
  const seen = new Map<number, { pid: number; fleetDir: string }>();
  onTestFinished(() => {
    // Whatever the outcome, nothing this test started outlives it: by PID only.
    for (const p of [pid, ...seen.keys()]) if (alive(p)) process.kill(p, 'SIGKILL');
    for (const d of seen.values()) rmSync(d.fleetDir, { recursive: true, force: true });
  });
  await until(`${name}: the moment to interrupt (stdout so far: ${JSON.stringify(stdout)})`, () => {
    for (const d of deviceChildren(pid)) seen.set(d.pid, d);
    return ready(stdout, seen.size);
  }, 90_000);
  process.kill(pid, 'SIGINT');
  const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${name}: fleet-sim still running 30 s after SIGINT`)), 30_000).unref());
  const end = await Promise.race([exited, timeout]);
  return { ...end, stdout, stderr, devices: [...seen.values()] };
}

describe('fleet-sim start --realtime --processes, interrupted', () => {
  it('during the devices\' start-up: stops the devices started so far, removes their directory, exits 130', async () => {
    const r = await interruptWhen('startup', (out, children) => children >= 1 && !out.includes('the scenario starts'), );
    expect(r.devices.length).toBeGreaterThan(0);
    expect(r.devices.filter((d) => alive(d.pid)).map((d) => d.pid), 'device processes left behind').toEqual([]);
    expect(existsSync(r.devices[0]?.fleetDir as string), 'the fleet directory with its keys is left behind').toBe(false);
    expect(r.stderr).toContain('fleet-sim: interrupted before the scenario started; the fleet is stopped, no report written');
    expect(r.stderr).not.toContain('internal error');
    expect(r.code).toBe(130);
  }, 150_000);

  it('while the scenario runs: stops every device, and the report says the run was cut short (exit 1)', async () => {
    const r = await interruptWhen('running', (out) => /\]\s+\d+%\s+[1-9]\d*\/20 s/.test(out));
    expect(r.devices.length).toBe(5);
    expect(r.devices.filter((d) => alive(d.pid)).map((d) => d.pid), 'device processes left behind').toEqual([]);
    expect(existsSync(r.devices[0]?.fleetDir as string)).toBe(false);
    const report = JSON.parse(readFileSync(join(dir, 'running', 'leader-crash-seed7.json'), 'utf8')) as { simulatedMs: number; liveness: { commandsCommitted: number }; throughput: { commandsPerSec: number }; expect: { met: boolean; failed: string[] } };
    expect(report.simulatedMs).toBeLessThan(20_000);
    // The rate over the time it ran, not over the 20 s it was meant to run.
    expect(report.liveness.commandsCommitted).toBeGreaterThan(0);
    expect(report.throughput.commandsPerSec).toBeCloseTo(report.liveness.commandsCommitted / (report.simulatedMs / 1000), 1);
    expect(report.expect.met).toBe(false);
    expect(report.expect.failed.join('; ')).toMatch(/^interrupted at \d+\.\d s of 20 s/);
    expect(r.stdout).toMatch(/expect\s+FAILED: interrupted at/);
    // Each device process's log stays beside the report (the fleet's directory is gone), named in the
    // report and at the end of the output, with the device's own lines up to its SIGTERM.
    const logs = (JSON.parse(readFileSync(join(dir, 'running', 'leader-crash-seed7.json'), 'utf8')) as { deviceLogs: string[] }).deviceLogs;
    expect(logs.map((l) => basename(l)).sort()).toEqual(['f00', 'v00', 'v01', 'v02', 'v03'].map((id) => `leader-crash-seed7.${id}.log`));
    for (const l of logs) {
      expect(readFileSync(l, 'utf8'), l).toContain('"event":"ready"');
      expect(r.stdout).toContain(l);
    }
    expect(r.code).toBe(1);
  }, 150_000);

  it('killed with SIGKILL while the scenario runs: its device processes and its radios\' socat pty pairs end with it', async () => {
    // Before, all of them ran on, parented to init: `npm start` killed with -9 left twenty socat pty
    // pairs behind for good, and --processes nineteen murmur processes reconnecting to a broker that
    // was gone. They are started through setpriv --pdeathsig now (firmware-bridge/tools/processes.ts).
    const scenario = join(dir, 'radio-kill.yaml');
    writeFileSync(scenario, 'name: radio-kill\nseed: 5\nduration: 60s\nvalidators: 4\nfollowers: 0\nlinks:\n  radio: { baud: 115200, mtu: 252, rangeM: 800 }\nexpect: { safety: true }\n');
    const child = spawn(process.execPath, [cliEntry('fleet-sim'), 'start', scenario, '--realtime', '--processes', '--port', '0', '--exit', '--reports', join(dir, 'kill')], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    const pid = child.pid as number;
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    const devices = new Map<number, string>();
    const ptys = new Map<number, string>();
    onTestFinished(() => {
      for (const p of [pid, ...devices.keys(), ...ptys.keys()]) if (alive(p)) process.kill(p, 'SIGKILL');
      for (const d of [...devices.values(), ...ptys.values()]) rmSync(d, { recursive: true, force: true });
    });
    await until(`radio-kill: the scenario running (stdout so far: ${JSON.stringify(stdout)}, stderr: ${JSON.stringify(stderr)})`, () => {
      for (const d of deviceChildren(pid)) devices.set(d.pid, d.fleetDir);
      for (const p of socatChildren(pid)) ptys.set(p.pid, p.ptyDir);
      return stdout.includes('the scenario starts') && devices.size === 4 && ptys.size === 4;
    }, 90_000);
    process.kill(pid, 'SIGKILL');
    await exited;
    await until('the devices and socat processes of the killed fleet-sim to end', () => [...devices.keys(), ...ptys.keys()].every((p) => !alive(p)), 15_000);
    expect([...devices.keys(), ...ptys.keys()].filter(alive)).toEqual([]);
  }, 150_000);

  it('while a device never gets ready: the interrupt stops the start-up at once, not after the 90 s a device is given', async () => {
    // Devices that start and never say ready (a murmur.js of the test's that waits for ever, SIGTERM
    // its only way out). Before, the interrupt waited for the batch of four being started: 90 s here.
    const root = join(dir, 'never-ready');
    mkdirSync(join(root, 'bin'), { recursive: true });
    writeFileSync(join(root, 'bin', 'murmur.js'), "process.on('SIGTERM', () => process.exit(0));\nprocess.stdout.write('starting\\n');\nsetInterval(() => {}, 1_000);\n");
    const s: Scenario = {
      name: 'never-ready',
      seed: 3,
      durationMs: 10_000,
      validators: 4,
      followers: 0,
      mqtt: { latencyMs: 0, jitterMs: 0, loss: 0, duplicate: 0 },
      faults: [],
      workload: [],
      expect: { safety: true },
      consensus: { proposeMs: 300, commitWaitMs: 100, gossipMs: 200 },
      livenessBudgetMs: 5_000,
    };
    const seen = new Map<number, { pid: number; fleetDir: string }>();
    onTestFinished(() => {
      for (const p of seen.keys()) if (alive(p)) process.kill(p, 'SIGKILL');
      for (const d of seen.values()) rmSync(d.fleetDir, { recursive: true, force: true });
    });
    const run = realtimeRun(s, { brokerUrl: null, processes: true, launchRoot: root, observer: { onEvent: () => {} } });
    const outcome = run.then(
      () => 'finished',
      (e: unknown) => e,
    );
    await until('the first device processes', () => {
      for (const d of deviceChildren(process.pid)) seen.set(d.pid, d);
      return seen.size >= 1;
    }, 30_000);
    process.emit('SIGINT', 'SIGINT');
    const e = await outcome;
    expect(e).toBeInstanceOf(RunInterrupted);
    expect([...seen.keys()].filter(alive), 'device processes left behind').toEqual([]);
    expect(existsSync([...seen.values()][0]?.fleetDir as string)).toBe(false);
  }, 30_000);
});
