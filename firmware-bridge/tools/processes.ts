// Real processes for bridge tests, benchmarks and fleet-sim's real-time mode: socat pty pairs and the
// simulated flight controller, each started here and stopped by its PID, and ended with this process
// however it ends (spawnTied; fleet-sim ties its device processes the same way); and temporary directories
// that a later process removes when their owner was killed outright (ownedTempDir).

import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { installRoot } from '../../runtime/lib/install-root.js';

/** The clone's or the release's root (its bin/ starts the simulated flight controller, from source or built as this process). */
export const repoRoot = installRoot(import.meta.url);

export interface Started {
  readonly pid: number;
  stop(): Promise<void>;
}

function stopper(child: ChildProcess): () => Promise<void> {
  return () =>
    new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) {
        resolve();
        return;
      }
      const t = setTimeout(() => child.pid !== undefined && process.kill(child.pid, 'SIGKILL'), 3000);
      child.once('exit', () => {
        clearTimeout(t);
        resolve();
      });
      process.kill(child.pid, 'SIGTERM');
    });
}

let setprivWorks: boolean | undefined;

/**
 * spawn(cmd, args, options), with the child sent SIGTERM when this process dies, however it dies (kill -9,
 * a crash, the OOM killer): started through util-linux's setpriv --pdeathsig, which then execs `cmd` in
 * its place (same PID). Before, fleet-sim killed with -9 left its twenty socat pty pairs running, parented
 * to init, for good. Where setpriv is missing (not a Linux with util-linux) the child is started as it is,
 * untied; a `cmd` that is not there is then spawn's ENOENT, and setpriv's exit 127 otherwise. The tie is to
 * the spawning thread: spawn from the main thread only (fleet-sim's shards spawn nothing).
 */
export function spawnTied(cmd: string, args: readonly string[], options: SpawnOptions): ChildProcess {
  if (setprivWorks === undefined) {
    const r = spawnSync('setpriv', ['--pdeathsig', 'TERM', '--', 'true'], { stdio: 'ignore', timeout: 5_000 });
    setprivWorks = r.error === undefined && r.status === 0;
  }
  return setprivWorks ? spawn('setpriv', ['--pdeathsig', 'TERM', '--', cmd, ...args], options) : spawn(cmd, [...args], options);
}

/** The file in a directory made by ownedTempDir that names the process it belongs to. */
const ownerFile = '.owner';

/** A process's start time as /proc has it (clock ticks after boot): with its PID, which process it is
 *  (a PID is reused). Null off Linux, or when there is no such process. */
function procStart(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 22; counted after the command name's closing parenthesis (the name may hold spaces).
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

/** This process's PID namespace (Linux), or null: a PID means something only within its namespace. */
function pidNamespace(): string | null {
  try {
    return readlinkSync('/proc/self/ns/pid');
  } catch {
    return null;
  }
}

function ownerAlive(owner: { pid: number; start: string | null }): boolean {
  if (owner.start !== null) return procStart(owner.pid) === owner.start;
  try {
    process.kill(owner.pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes the PREFIX* directories in the temporary directory whose owning process is gone; one
 *  without an owner file (made otherwise, or being made) or of a process still running is left. */
function sweepOrphans(prefix: string): void {
  let names: string[];
  try {
    names = readdirSync(tmpdir()).filter((n) => n.startsWith(prefix));
  } catch {
    return;
  }
  for (const n of names.slice(0, 10_000)) {
    const dir = join(tmpdir(), n);
    try {
      const owner = JSON.parse(readFileSync(join(dir, ownerFile), 'utf8')) as { pid?: unknown; start?: unknown; ns?: unknown };
      if (typeof owner.pid !== 'number' || !Number.isInteger(owner.pid) || owner.pid <= 0) continue;
      // Made in another PID namespace (a container sharing this /tmp): its PID cannot be looked up here.
      if ((owner.ns ?? null) !== pidNamespace()) continue;
      if (ownerAlive({ pid: owner.pid, start: typeof owner.start === 'string' ? owner.start : null })) continue;
      rmSync(dir, { recursive: true, force: true });
    } catch {
      // Not ours to judge (no owner file, another user's) or already gone.
    }
  }
}

const swept = new Set<string>();

/**
 * A new directory PREFIXxxxxxx in the temporary directory, with an owner file naming this process. A
 * process killed outright (kill -9, the OOM killer) cannot remove its directories; the first call for a
 * prefix in a later process removes those whose owner is gone. fleet-sim's fleet directory (keys,
 * configs, the devices' data) and its pty pairs' directories were left in /tmp for good.
 */
export function ownedTempDir(prefix: string): string {
  if (!swept.has(prefix)) {
    swept.add(prefix);
    sweepOrphans(prefix);
  }
  const dir = mkdtempSync(join(tmpdir(), prefix));
  writeFileSync(join(dir, ownerFile), `${JSON.stringify({ pid: process.pid, start: procStart(process.pid), ns: pidNamespace() })}\n`);
  return dir;
}

/** Keeps a directory of ownedTempDir on purpose: no later sweep removes it. */
export function keepTempDir(dir: string): void {
  rmSync(join(dir, ownerFile), { force: true });
}

/** setpriv's exit status when the command it was to run is not there (it cannot exec it). */
const notFound = 127;

export interface PtyPair extends Started {
  readonly a: string;
  readonly b: string;
}

export const socatMissing = 'socat is not installed (Debian: apt-get install socat); simulated radios and flight controllers talk over its pty pairs';

/** Whether `socat` can be started (it makes the pty pairs of simulated radios and flight controllers). */
export function socatAvailable(): boolean {
  const r = spawnSync('socat', ['-V'], { stdio: 'ignore', timeout: 5_000 });
  return r.error === undefined && r.status === 0;
}

/** `socat pty,raw,echo=0,link=A pty,raw,echo=0,link=B`: two connected ptys. */
export async function startPtyPair(): Promise<PtyPair> {
  const dir = ownedTempDir('murmur-pty-');
  const a = join(dir, 'a');
  const b = join(dir, 'b');
  const child = spawnTied('socat', ['-d', '-d', `pty,raw,echo=0,link=${a}`, `pty,raw,echo=0,link=${b}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  let failed: Error | null = null;
  child.once('error', (e: NodeJS.ErrnoException) => (failed = e.code === 'ENOENT' ? new Error(socatMissing) : e));
  child.once('exit', (code) => {
    if (failed === null && code === notFound) failed = new Error(socatMissing);
  });
  child.stderr?.resume();
  // Stops socat, then removes the directory that held its pty links.
  const stop = async (): Promise<void> => {
    await stopper(child)();
    rmSync(dir, { recursive: true, force: true });
  };
  for (let i = 0; i < 200 && failed === null && !(existsSync(a) && existsSync(b)); i++) await new Promise((r) => setTimeout(r, 10));
  if (failed || !existsSync(a) || !existsSync(b)) {
    await stop();
    throw failed ?? new Error('socat did not create the pty pair within 2 s');
  }
  return { pid: child.pid as number, a, b, stop };
}

export interface SimFcProcess extends Started {
  readonly stderr: () => string;
  /** The ready line: {"ready":true,"transport":"udp:PORT"|"serial:PATH",...}. */
  readonly ready: { transport: string };
  /** The JSON lines it printed after the ready line (e.g. {"fence":{...}}), parsed, oldest first. */
  readonly lines: () => unknown[];
}

/** Starts `bin/sim-fc.js` (this tree's, or `entry`: a test's built one) and waits for its ready line. */
export function startSimFc(args: string[], entry = join(repoRoot, 'bin', 'sim-fc.js')): Promise<SimFcProcess> {
  return new Promise((resolve, reject) => {
    const child = spawnTied(process.execPath, [entry, ...args], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => reject(new Error(`sim-fc did not report ready in 20 s: ${err}`)), 20_000);
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n').find((l) => l.includes('"ready":true'));
      if (line !== undefined && out.includes('\n')) {
        clearTimeout(timer);
        const lines = (): unknown[] =>
          out
            .split('\n')
            .slice(out.split('\n').indexOf(line) + 1, -1)
            .flatMap((l) => {
              try {
                return [JSON.parse(l) as unknown];
              } catch {
                return [];
              }
            });
        resolve({ pid: child.pid as number, stop: stopper(child), stderr: () => err, ready: JSON.parse(line) as { transport: string }, lines });
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`sim-fc exited with ${code}: ${err}`));
    });
  });
}
