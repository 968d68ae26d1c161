// installRoot (runtime/lib/install-root.ts): where the launchers are, seen from a module of Murmur's own,
// in the clone (TypeScript sources) and in a release laid out as deploy/bundle.ts lays it out (bin/,
// dist/, package.json), so fleet-sim's device processes and simulated FCs start as their parent runs.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it, onTestFinished } from 'vitest';
import { installRoot } from '../../runtime/lib/install-root.js';
import { repoRoot } from '../support/run-cli.js';

describe('installRoot', () => {
  it("from the clone's sources: the clone", () => {
    expect(installRoot(pathToFileURL(join(repoRoot, 'fleet-sim', 'realtime', 'fleet-procs.ts')).href)).toBe(repoRoot);
    expect(installRoot(pathToFileURL(join(repoRoot, 'firmware-bridge', 'tools', 'processes.ts')).href)).toBe(repoRoot);
  });

  it("from a release's compiled modules (dist/ beside bin/): the release, not dist/", () => {
    const release = mkdtempSync(join(tmpdir(), 'murmur-release-'));
    onTestFinished(() => rmSync(release, { recursive: true, force: true }));
    mkdirSync(join(release, 'bin'));
    writeFileSync(join(release, 'bin', 'murmur.js'), '');
    for (const d of ['fleet-sim/realtime', 'firmware-bridge/tools']) mkdirSync(join(release, 'dist', d), { recursive: true });
    const module = join(release, 'dist', 'fleet-sim', 'realtime', 'fleet-procs.js');
    writeFileSync(module, '');
    expect(installRoot(pathToFileURL(module).href)).toBe(release);
    expect(installRoot(pathToFileURL(join(release, 'dist', 'firmware-bridge', 'tools', 'processes.js')).href)).toBe(release);
  });

  it('with no bin/murmur.js above the module: an error naming the module', () => {
    const stray = mkdtempSync(join(tmpdir(), 'murmur-stray-'));
    onTestFinished(() => rmSync(stray, { recursive: true, force: true }));
    const module = join(stray, 'a', 'b', 'c.js');
    expect(() => installRoot(pathToFileURL(module).href)).toThrow(`no bin/murmur.js above ${module}: Murmur's files are not laid out as a clone or a release`);
  });
});
