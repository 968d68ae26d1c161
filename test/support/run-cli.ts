// Runs a Murmur CLI as a real OS process, as a user would from a clone.

import { execFile } from 'node:child_process';
import { join } from 'node:path';

export const repoRoot = join(import.meta.dirname, '..', '..');

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

export function runCli(bin: 'murmur' | 'murmurctl' | 'fleet-sim', args: string[], opts: { cwd?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<CliRun> {
  return new Promise((resolve) => {
    execFile(process.execPath, [join(repoRoot, 'bin', `${bin}.js`), ...args], { cwd: opts.cwd ?? repoRoot, timeout: opts.timeoutMs ?? 60_000, env: { ...process.env, ...opts.env } }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}
