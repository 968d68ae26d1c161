// Runs deploy/install.sh as a real process (POSIX sh) and returns its exit code and output. Asynchronous,
// so a health endpoint served by the test process itself keeps answering while the installer runs.

import { spawn } from 'node:child_process';

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
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal === null ? -1 : 128), stdout, stderr, wallMs: Math.round(performance.now() - started) });
    });
  });
}
