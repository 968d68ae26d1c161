// A stop signal at the earliest moment any of Murmur's code can have run: bin/murmur.js's first
// statements install its early handlers before any module of Murmur's loads, so a SIGTERM while the
// launcher (bin/launch.js, the first module it loads) is still loading is a clean stop (exit 0), not a
// death by the signal (143). A module loader hook (node --import) holds launch.js back until the test
// has signalled, so the moment is exact, not a guess at timing. Before, launch.js was a static import,
// evaluated before murmur.js's body, and the process died by the signal. The time before murmur.js runs
// at all is Node's own start-up, which no code in the process can shorten: `npm run bench:early-signal`
// measures it (README, "Exit codes").

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, expect, it } from 'vitest';
import { repoRoot } from '../support/run-cli.js';

const dir = mkdtempSync(join(tmpdir(), 'murmur-early-signal-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it("SIGTERM while murmur start's first module loads: exit 0 by its early handler, not death by the signal", async () => {
  const reached = join(dir, 'launch-requested');
  const release = join(dir, 'release');
  // The hooks (their own thread): a request for bin/launch.js is noted, then held until `release` exists (at most 10 s).
  const hooks = join(dir, 'hold-launch.mjs');
  writeFileSync(
    hooks,
    `import { existsSync, writeFileSync } from 'node:fs';
export async function resolve(specifier, context, next) {
  if (/(^|\\/)launch\\.js$/.test(specifier)) {
    writeFileSync(${JSON.stringify(reached)}, '');
    for (let i = 0; i < 200 && !existsSync(${JSON.stringify(release)}); i++) await new Promise((r) => setTimeout(r, 50));
  }
  return next(specifier, context);
}
`,
  );
  const register = join(dir, 'register.mjs');
  writeFileSync(register, `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(hooks).href)});\n`);
  const proc = spawn(process.execPath, ['--import', pathToFileURL(register).href, join(repoRoot, 'bin', 'murmur.js'), 'start', '--config', join(dir, 'none.yaml')], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout.on('data', (b: Buffer) => (out += b.toString('utf8')));
  proc.stderr.on('data', (b: Buffer) => (out += b.toString('utf8')));
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
  const guard = setTimeout(() => proc.exitCode === null && proc.pid !== undefined && process.kill(proc.pid, 'SIGKILL'), 15_000);
  try {
    for (let i = 0; i < 200 && !existsSync(reached) && proc.exitCode === null; i++) await new Promise((r) => setTimeout(r, 25));
    expect(existsSync(reached), out).toBe(true);
    if (proc.pid !== undefined) process.kill(proc.pid, 'SIGTERM');
    await new Promise((r) => setTimeout(r, 200)); // the signal handled while launch.js is still held
    writeFileSync(release, '');
    // Before: { code: null, signal: 'SIGTERM' } (a shell says 143).
    expect(await exited, out).toEqual({ code: 0, signal: null });
    expect(out).toBe('');
  } finally {
    clearTimeout(guard);
    if (proc.exitCode === null && proc.signalCode === null && proc.pid !== undefined) process.kill(proc.pid, 'SIGKILL');
  }
}, 20_000);
