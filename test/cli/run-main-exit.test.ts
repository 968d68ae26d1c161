// A command that fails after it opened something (a dashboard server, a broker connection) must not
// leave the process running: runMain prints the one line and the process ends with the exit code.

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';

function run(script: string): Promise<{ code: number | null; stderr: string; ms: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'murmur-runmain-'));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'cli.mts');
  writeFileSync(file, script);
  const t0 = performance.now();
  const p = spawn(process.execPath, ['--import', 'tsx', file], { cwd: resolve('.'), stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  p.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  return new Promise((done) => {
    const kill = setTimeout(() => p.kill('SIGKILL'), 20_000);
    p.on('exit', (code) => {
      clearTimeout(kill);
      done({ code, stderr, ms: performance.now() - t0 });
    });
  });
}

const kit = JSON.stringify(resolve('runtime/cli/kit.ts'));

describe('runMain', () => {
  it('ends the process after an internal error even with a server still open (exit 70, one line)', async () => {
    const r = await run(`import { createServer } from 'node:net';
import { runMain } from ${kit};
runMain('demo', async () => {
  createServer().listen(0, '127.0.0.1');
  await new Promise((r) => setTimeout(r, 100));
  throw new Error('something broke');
});
`);
    expect(r.code, r.stderr).toBe(70);
    expect(r.stderr).toContain('demo: internal error: something broke');
    expect(r.stderr).not.toMatch(/\n\s+at /);
  }, 30_000);

  it('and after a usage error thrown with a connection open (its own exit code)', async () => {
    const r = await run(`import { createServer } from 'node:net';
import { CliError, runMain } from ${kit};
runMain('demo', async () => {
  createServer().listen(0, '127.0.0.1');
  throw new CliError('--port 1: bad', 2);
});
`);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr.trim()).toBe('demo: --port 1: bad');
  }, 30_000);
});
