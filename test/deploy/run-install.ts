// Runs deploy/install.sh as a real process (POSIX sh) and returns its exit code and output. Asynchronous,
// so a health endpoint served by the test process itself keeps answering while the installer runs.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface InstallRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly wallMs: number;
}

export function runInstall(script: string, args: string[], env: Record<string, string> = {}, timeoutMs = 60_000): Promise<InstallRun> {
  return runProcess('sh', [script, ...args], env, timeoutMs);
}

/** Any command, the same way (the root-path test runs the installer through nsenter). */
export function runProcess(command: string, args: string[], env: Record<string, string> = {}, timeoutMs = 60_000): Promise<InstallRun> {
  return startProcess(command, args, env, timeoutMs).done;
}

/** The same, with the child at hand while it runs (a test signals the installer midway). The exit code
 *  of a child ended by a signal is 128 + its number, as a shell reports it. */
export function startProcess(command: string, args: string[], env: Record<string, string> = {}, timeoutMs = 60_000): { child: ChildProcess; done: Promise<InstallRun> } {
  const started = performance.now();
  // Its own TMPDIR, removed when it ends: the installer's health-check output file (mktemp) outlived
  // every run a test killed with SIGKILL, in the machine's /tmp.
  const scratch = env.TMPDIR === undefined ? mkdtempSync(join(tmpdir(), 'murmur-install-tmp-')) : undefined;
  const child = spawn(command, args, { env: { ...process.env, ...(scratch !== undefined ? { TMPDIR: scratch } : {}), ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  if (scratch !== undefined) child.once('close', () => rmSync(scratch, { recursive: true, force: true }));
  const done = new Promise<InstallRun>((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr?.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal === null ? -1 : 128 + signalNumber(signal)), stdout, stderr, wallMs: Math.round(performance.now() - started) });
    });
  });
  return { child, done };
}

const signalNumber = (s: NodeJS.Signals): number => ({ SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 } as Record<string, number>)[s] ?? 0;
