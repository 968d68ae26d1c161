// A CLI run as a real process and sent Ctrl-C (SIGINT) once, when `when` first holds: checked on each
// piece of its stdout and every 50 ms. Killed by PID (SIGKILL) if it has not exited within `boundMs`.

import { spawn } from 'node:child_process';
import { cliEntry, repoRoot } from './run-cli.js';

export interface InterruptedRun {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  /** How much of stdout had come when SIGINT was sent; -1 if it never was. */
  readonly sentAt: number;
}

export function interruptCli(bin: 'fleet-sim' | 'murmur' | 'murmurctl', args: string[], when: (stdout: string, pid: number) => boolean, boundMs: number): Promise<InterruptedRun> {
  const child = spawn(process.execPath, [cliEntry(bin), ...args], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
  const pid = child.pid as number;
  let stdout = '';
  let stderr = '';
  let sentAt = -1;
  const check = (): void => {
    if (sentAt >= 0 || child.exitCode !== null || !when(stdout, pid)) return;
    sentAt = stdout.length;
    process.kill(pid, 'SIGINT');
  };
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  child.stdout.on('data', (b: Buffer) => {
    stdout += b.toString();
    check();
  });
  const poll = setInterval(check, 50);
  const killer = setTimeout(() => process.kill(pid, 'SIGKILL'), boundMs);
  return new Promise((resolve) =>
    child.once('exit', (code, signal) => {
      clearInterval(poll);
      clearTimeout(killer);
      resolve({ code, signal, stdout, stderr, sentAt });
    }),
  );
}
