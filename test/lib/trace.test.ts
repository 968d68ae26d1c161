// runtime/lib/trace.ts: message-path timestamps, written only when MURMUR_TRACE_DIR names a directory.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

const traceModule = fileURLToPath(new URL('../../runtime/lib/trace.ts', import.meta.url));
const script = `const t = await import(${JSON.stringify(traceModule)});
t.trace('rx', Uint8Array.from([9, 1, 2, 3, 4, 5, 6, 7, 8]), 'd1 1.000');
t.traceMark('fsync', 'fsync', '0.250');
console.log(t.tracing);`;
// By its full path: one run starts in a directory outside the repository.
const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function run(env: Record<string, string>, cwd?: string): string {
  return execFileSync(process.execPath, ['--import', tsx, '--input-type=module', '-e', script], { env: { ...process.env, MURMUR_TRACE_DIR: '', ...env }, encoding: 'utf8', timeout: 30_000, ...(cwd ? { cwd } : {}) }).trim();
}

describe('trace', () => {
  it('writes each event with the envelope key (its last 8 bytes) and the epoch time at exit', () => {
    const dir = mkdtempSync(join(tmpdir(), 'murmur-trace-test-'));
    dirs.push(dir);
    const before = Date.now();
    expect(run({ MURMUR_TRACE_DIR: dir })).toBe('true');
    const files = readdirSync(dir);
    expect(files).toHaveLength(1);
    const lines = readFileSync(join(dir, files[0] as string), 'utf8').trim().split('\n');
    expect(lines).toHaveLength(2);
    const [ev, key, at, node, data] = (lines[0] as string).split(' ');
    expect([ev, key, node, data]).toEqual(['rx', '0102030405060708', 'd1', '1.000']);
    expect(Number(at)).toBeGreaterThanOrEqual(before - 50);
    expect(Number(at)).toBeLessThanOrEqual(Date.now() + 50);
    expect((lines[1] as string).split(' ')).toEqual(['fsync', 'fsync', expect.stringMatching(/^\d+\.\d{3}$/), files[0]?.replace('.trace', ''), '0.250']);
  });

  it('is off, and writes nothing, without MURMUR_TRACE_DIR', () => {
    const dir = mkdtempSync(join(tmpdir(), 'murmur-trace-test-'));
    dirs.push(dir);
    // Where a trace would go if the empty name were taken for a directory: the working directory.
    expect(run({ TMPDIR: dir }, dir)).toBe('false');
    expect(readdirSync(dir).filter((f) => f.endsWith('.trace'))).toEqual([]);
  });
});
