// The temporary directories fleet-sim makes (its fleet's keys, configs and data; its pty pairs' links)
// carry an owner file: a process killed outright cannot remove them, so the next process to make one of
// the same kind removes those whose owner is gone, and only those.

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { keepTempDir, ownedTempDir } from '../../firmware-bridge/tools/processes.js';
import { repoRoot } from '../support/run-cli.js';

// A prefix of this run's own, so that no other test's or run's directories take part.
const prefix = `murmur-owned-test-${process.pid}-${Date.now()}-`;
const ours = (): string[] => readdirSync(tmpdir()).filter((n) => n.startsWith(prefix)).map((n) => join(tmpdir(), n)).sort();
const started: number[] = [];

afterAll(() => {
  for (const pid of started) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  for (const d of ours()) rmSync(d, { recursive: true, force: true });
});

/** A process that makes one directory with ownedTempDir(prefix), prints it and runs until killed. */
function owner(): Promise<{ pid: number; dir: string; exited: Promise<void> }> {
  const script = `import { ownedTempDir } from './firmware-bridge/tools/processes.ts';\nprocess.stdout.write(ownedTempDir(${JSON.stringify(prefix)}) + '\\n');\nsetInterval(() => {}, 1_000);\n`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'inherit'] });
  started.push(child.pid as number);
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return new Promise((resolve, reject) => {
    let out = '';
    const t = setTimeout(() => reject(new Error(`no directory printed in 20 s: ${out}`)), 20_000);
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString();
      if (out.includes('\n')) {
        clearTimeout(t);
        resolve({ pid: child.pid as number, dir: out.trim(), exited });
      }
    });
  });
}

it('removes the directories of a process killed outright, and leaves those of a running process, without an owner, of another PID namespace, or kept', async () => {
  const killed = await owner();
  const running = await owner();
  const unowned = mkdtempSync(join(tmpdir(), prefix));
  process.kill(killed.pid, 'SIGKILL');
  await killed.exited;
  // The same dead PID, but written in another PID namespace (a container sharing /tmp): not judged here.
  const elsewhere = mkdtempSync(join(tmpdir(), prefix));
  writeFileSync(join(elsewhere, '.owner'), `${JSON.stringify({ pid: killed.pid, start: '1', ns: 'pid:[1]' })}\n`);
  // Before: nothing removed it (fleet-sim killed with -9 left its fleet directory in /tmp for good).
  expect(existsSync(killed.dir)).toBe(true);
  const keeper = await owner();
  const kept = keeper.dir;
  keepTempDir(kept); // as MURMUR_KEEP_FLEET keeps a fleet's directory; its owner then ends
  process.kill(keeper.pid, 'SIGKILL');
  await keeper.exited;
  const mine = ownedTempDir(prefix); // this process's first for the prefix: it sweeps
  expect(ours()).toEqual([running.dir, unowned, elsewhere, kept, mine].sort());
  expect(existsSync(killed.dir)).toBe(false);
}, 60_000);
