// Builds the reference C firmware with the machine's compiler (as the issue asks: cc -std=c99 -Wall
// -Wextra -Werror) and runs it on a tty as its own process.

import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { repoRoot, type Started } from '../../firmware-bridge/tools/processes.js';

export const firmwareDir = join(repoRoot, 'firmware-bridge', 'c');
export const cflags = ['-std=c99', '-Wall', '-Wextra', '-Werror', '-pedantic', '-O2'];

/** Compiles the firmware into a temporary directory of its own (the caller removes `dirname(binary)`);
 *  `extra` adds flags (the fuzz test adds AddressSanitizer and UBSan). */
export function compileFirmware(extra: string[] = []): Promise<{ binary: string; stderr: string }> {
  const binary = join(mkdtempSync(join(tmpdir(), 'murmur-mcu-')), 'murmur-mcu');
  return new Promise((resolve, reject) => {
    execFile('cc', [...cflags, ...extra, '-o', binary, join(firmwareDir, 'main_posix.c'), join(firmwareDir, 'murmur_mcu.c')], { timeout: 60_000 }, (e, _out, stderr) => {
      if (e) {
        rmSync(dirname(binary), { recursive: true, force: true });
        reject(new Error(`cc failed: ${stderr}`));
      } else resolve({ binary, stderr });
    });
  });
}

export function startFirmware(binary: string, tty: string): Promise<Started> {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, [tty], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => reject(new Error(`firmware not ready in 5 s: ${err}`)), 5000);
    child.stdout?.once('data', () => {
      clearTimeout(timer);
      resolve({
        pid: child.pid as number,
        stop: () =>
          new Promise((res) => {
            if (child.exitCode !== null || child.signalCode !== null) return res();
            child.once('exit', () => res());
            process.kill(child.pid as number, 'SIGTERM');
          }),
      });
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`firmware exited with ${code}: ${err}`));
    });
  });
}
