// `fleet-sim start` (npm start) as a process: bad input is one line naming what is wrong, exit 2; a
// short run prints the dashboard address, progress, the summary and writes both reports.

import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/run-cli.js';

const dir = mkdtempSync(join(tmpdir(), 'murmur-start-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('fleet-sim start', () => {
  it('names the bad field of a scenario file and exits 2', async () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'name: bad\nvalidators: 4\nfaults:\n  - { at: 2s, crash: 9 }\n');
    const r = await runCli('fleet-sim', ['start', bad, '--no-dashboard', '--exit']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('faults[0].crash');
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });

  it('refuses --broker without --realtime, and a malformed broker URL', async () => {
    const a = await runCli('fleet-sim', ['start', '--broker', 'mqtt://127.0.0.1:1883', '--exit']);
    expect(a.code).toBe(2);
    expect(a.stderr).toContain('--broker needs --realtime');
    const b = await runCli('fleet-sim', ['start', '--realtime', '--broker', 'localhost', '--exit']);
    expect(b.code).toBe(2);
    expect(b.stderr).toContain('--broker must look like mqtt://host:port');
  });

  it('runs a short scenario flat out: dashboard address, progress, summary, JSON and HTML reports', async () => {
    const file = join(dir, 'short.yaml');
    writeFileSync(file, 'name: short\nseed: 5\nduration: 4s\nvalidators: 4\nfollowers: 2\nfaults:\n  - { at: 2s, crash: proposer }\nworkload:\n  - { from: 200ms, to: 3800ms, rate: 10/s, command: noop }\nexpect: { safety: true, committedFraction: 0.9 }\n');
    const r = await runCli('fleet-sim', ['start', file, '--speed', '0', '--port', '0', '--exit', '--reports', dir], { timeoutMs: 60_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/fleet-sim dashboard: http:\/\/127\.0\.0\.1:\d+\//);
    expect(r.stdout).toContain('100%');
    expect(r.stdout).toMatch(/safety\s+ok/);
    expect(r.stdout).toMatch(/expect\s+met/);
    const json = JSON.parse(readFileSync(join(dir, 'short-seed5.json'), 'utf8')) as { scenario: string; safety: { ok: boolean }; nodes: { crashed: number[] } };
    expect(json.scenario).toBe('short');
    expect(json.safety.ok).toBe(true);
    expect(json.nodes.crashed.length).toBe(1);
    expect(existsSync(join(dir, 'short-seed5.html'))).toBe(true);
    expect(readFileSync(join(dir, 'short-seed5.html'), 'utf8')).toContain('<script id="recording"');
  });
});
