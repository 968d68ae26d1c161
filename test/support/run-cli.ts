// Runs a Murmur CLI as a real OS process: built, as on a device, or from the clone's sources (cliEntry).

import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { inject } from 'vitest';

export const repoRoot = join(import.meta.dirname, '..', '..');

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** `opts.source`: from the clone's bin/ through tsx whatever the run builds, as `npm start` runs it. */
export function runCli(bin: 'murmur' | 'murmurctl' | 'fleet-sim', args: string[], opts: { cwd?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv; source?: boolean } = {}): Promise<CliRun> {
  return new Promise((resolve) => {
    execFile(process.execPath, [opts.source === true ? join(repoRoot, 'bin', `${bin}.js`) : cliEntry(bin), ...args], { cwd: opts.cwd ?? repoRoot, timeout: opts.timeoutMs ?? 60_000, env: { ...process.env, ...opts.env } }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/**
 * The file to start for one of Murmur's launchers in a test: bin/BIN.js of the release tree that
 * test/support/built-cli.global.ts compiled for this run (built JavaScript, as on a device), or of the
 * clone (through tsx) under MURMUR_TEST_CLI=source, or outside vitest (a benchmark script).
 */
export function cliEntry(bin: 'murmur' | 'murmurctl' | 'fleet-sim' | 'sim-fc'): string {
  return join(cliRoot(), 'bin', `${bin}.js`);
}

let root: string | undefined;
/** The root whose bin/ cliEntry starts: what fleet-sim's FleetProcs and realtimeRun take as launchRoot. */
export function cliRoot(): string {
  if (root !== undefined) return root;
  try {
    root = inject('cliRoot');
  } catch {
    root = repoRoot; // not under vitest
  }
  return root ?? repoRoot;
}
