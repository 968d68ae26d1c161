// Real processes for bridge tests, benchmarks and fleet-sim's hardware-in-the-loop mode: socat pty
// pairs and the simulated flight controller, each started here and stopped by its PID, and ended with
// this process however it ends (tied).

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
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
 * `cmd args` as a child that is sent SIGTERM when this process dies, however it dies (kill -9, a crash,
 * the OOM killer), through util-linux's setpriv --pdeathsig, which then execs `cmd` in its place (same
 * PID). Before, fleet-sim killed with -9 left its twenty socat pty pairs running, parented to init, for
 * good. Where setpriv is missing (not a Linux with util-linux) the child is started as it is, untied.
 * The tie is to the spawning thread: spawn from the main thread only (fleet-sim's shards spawn nothing).
 */
export function tied(cmd: string, args: readonly string[]): { cmd: string; args: string[]; tied: boolean } {
  if (setprivWorks === undefined) {
    const r = spawnSync('setpriv', ['--pdeathsig', 'TERM', '--', 'true'], { stdio: 'ignore', timeout: 5_000 });
    setprivWorks = r.error === undefined && r.status === 0;
  }
  return setprivWorks ? { cmd: 'setpriv', args: ['--pdeathsig', 'TERM', '--', cmd, ...args], tied: true } : { cmd, args: [...args], tied: false };
}

/** setpriv's exit status when the command it was to run is not there (it cannot exec it). */
const setprivNotFound = 127;

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
  const dir = mkdtempSync(join(tmpdir(), 'murmur-pty-'));
  const a = join(dir, 'a');
  const b = join(dir, 'b');
  const t = tied('socat', ['-d', '-d', `pty,raw,echo=0,link=${a}`, `pty,raw,echo=0,link=${b}`]);
  const child = spawn(t.cmd, t.args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let failed: Error | null = null;
  child.once('error', (e: NodeJS.ErrnoException) => (failed = e.code === 'ENOENT' ? new Error(socatMissing) : e));
  child.once('exit', (code) => {
    if (failed === null && t.tied && code === setprivNotFound) failed = new Error(socatMissing);
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
    const t = tied(process.execPath, [entry, ...args]);
    const child = spawn(t.cmd, t.args, { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
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
