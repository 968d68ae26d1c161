// One `murmur start` as a real OS process, for tests that start a device from files they did not write
// themselves (a provisioning bundle, an installed release): wait for its "ready" log line, stop it by PID.

import { spawn, type ChildProcess } from 'node:child_process';

export interface DeviceProcess {
  readonly proc: ChildProcess;
  /** Resolves with the ms from spawn to the "ready" log line; rejects if the process exits first or takes longer than readyMs. */
  readonly ready: Promise<number>;
  output(): string;
  /** SIGTERM by PID, SIGKILL after 10 s; resolves with the exit code (null after a signal). */
  stop(): Promise<number | null>;
}

export function startDeviceProcess(command: string, args: readonly string[], opts: { env?: NodeJS.ProcessEnv; readyMs?: number; cwd?: string } = {}): DeviceProcess {
  const t0 = Date.now();
  const proc = spawn(command, args, { env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'], ...(opts.cwd !== undefined ? { cwd: opts.cwd } : {}) });
  let output = '';
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const ready = new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not ready after ${opts.readyMs ?? 45_000} ms:\n${output.slice(-2_000)}`)), opts.readyMs ?? 45_000);
    const onData = (b: Buffer): void => {
      if (output.length < 1_000_000) output += b.toString('utf8');
      if (output.includes('"event":"ready"')) {
        clearTimeout(timer);
        resolve(Date.now() - t0);
      }
    };
    proc.stdout.on('data', onData);
    proc.stderr.on('data', onData);
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code} before ready:\n${output.slice(-2_000)}`));
    });
  });
  ready.catch(() => undefined);
  return {
    proc,
    ready,
    output: () => output,
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null || proc.pid === undefined) return proc.exitCode;
      process.kill(proc.pid, 'SIGTERM');
      const t = setTimeout(() => proc.pid !== undefined && proc.exitCode === null && proc.signalCode === null && process.kill(proc.pid, 'SIGKILL'), 10_000);
      const code = await exited;
      clearTimeout(t);
      return code;
    },
  };
}
