// Ctrl-C at the very end of a paced `fleet-sim start` run: after the last paced slice, the liveness check
// and the reports run without a turn of the event loop, so the signal waited in libuv for a handler the
// run then removed. It was swallowed: the run carried on as if nothing was pressed (and on a terminal the
// dashboard then waited for a second Ctrl-C). Now it is heard, said, and ends the program (130).

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cliEntry, repoRoot } from '../support/run-cli.js';

const dir = mkdtempSync(join(tmpdir(), 'murmur-start-late-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('fleet-sim start, Ctrl-C as the paced run reaches its end', () => {
  it('is heard: the summary and reports stand, one line says so, exit 130', async () => {
    const reports = join(dir, 'reports');
    const child = spawn(process.execPath, [cliEntry('fleet-sim'), 'start', 'fleet-sim/scenarios/leader-crash.yaml', '--speed', '10', '--no-dashboard', '--reports', reports], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let sentAt = -1;
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    const killer = setTimeout(() => child.pid !== undefined && process.kill(child.pid, 'SIGKILL'), 60_000);
    child.stdout.on('data', (b: Buffer) => {
      stdout += b.toString();
      // The last paced slice printed its line (non-TTY progress: a line each 10 %); the liveness check
      // and the reports come next, ~0.8 s of work on an idle machine.
      if (sentAt < 0 && stdout.includes('100%  20/20 s') && child.pid !== undefined) {
        sentAt = stdout.length;
        process.kill(child.pid, 'SIGINT');
      }
    });
    const { code, signal } = await exited;
    clearTimeout(killer);
    const said = stdout + stderr;
    expect(sentAt, said).toBeGreaterThan(0);
    expect({ code, signal }, said).toEqual({ code: 130, signal: null });
    expect(stderr).toBe('fleet-sim: Ctrl-C came as the run finished: its summary and reports are above; the dashboard is closed\n');
    expect(stdout.slice(sentAt)).toContain('safety    ok');
    expect(readdirSync(reports).sort()).toEqual(['leader-crash-seed7.html', 'leader-crash-seed7.json']);
    expect(existsSync(join(reports, 'leader-crash-seed7.json'))).toBe(true);
  }, 90_000);
});
