// What a device loads at start follows its config: the agents' modules only for a device that runs
// agents (runtime/device/device.ts loadAgentsSetup), as the MAVLink drivers only for hal.driver mavlink
// (test/hal/hal-config.test.ts). Each is checked in a fresh process, whose loader records every module
// it loads: this process's test files load them all anyway.

import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../support/run-cli.js';

/** The repository's modules (paths from its root) that `probe` loads in a fresh process under tsx. */
function modulesLoaded(probe: string): Promise<{ files: string[]; out: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'murmur-start-modules-'));
  const list = join(dir, 'loaded');
  // A loader hook that appends every URL it loads to `list`, before tsx's hooks (registered first).
  const hooks = `import { appendFileSync } from 'node:fs';
    export async function load(url, context, next) { appendFileSync(${JSON.stringify(list)}, url + '\\n'); return next(url, context); }`;
  const script = `import { register } from 'node:module';
    register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(hooks)}));
    ${probe}`;
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: repoRoot, encoding: 'utf8', timeout: 30_000 }, (e, stdout, stderr) => {
      try {
        if (e) return reject(new Error(`${e.message}\n${stdout}${stderr}`));
        const root = `file://${repoRoot}/`;
        const files = readFileSync(list, 'utf8').split('\n').filter((u) => u.startsWith(root) && !u.includes('/node_modules/')).map((u) => u.slice(root.length));
        resolve({ files, out: stdout.trim() });
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
}

describe.concurrent('the modules a device loads at start', () => {
  it('agents.enabled false: none of the agents\' modules, loadAgentsSetup loads nothing; enabled: they load', async () => {
    const probe = `const { openDevice, loadAgentsSetup } = await import('./runtime/device/device.ts');
      const off = await loadAgentsSetup({ agents: { enabled: false } });
      console.log(JSON.stringify({ openDevice: typeof openDevice, off }));`;
    const r = await modulesLoaded(probe);
    expect(JSON.parse(r.out)).toEqual({ openDevice: 'function', off: null });
    expect(r.files).toContain('runtime/device/device.ts');
    // (agents/swarm and mission-reflexes' rules are the mission's too: the executor and the committed
    // state use them, agents or not.)
    const agentsOnly = (f: string): boolean => f === 'runtime/device/agents-setup.ts' || /^agents\/(api|inference|models)\//.test(f) || /^agents\/builtin\/(hazard-detect|telemetry-anomaly)\.ts$/.test(f);
    expect(r.files.filter(agentsOnly)).toEqual([]);
    const on = await modulesLoaded(`const { loadAgentsSetup } = await import('./runtime/device/device.ts');
      console.log(typeof (await loadAgentsSetup({ agents: { enabled: true } }))?.DeviceAgents);`);
    expect(on.out).toBe('function');
    expect(on.files.filter(agentsOnly)).toEqual(expect.arrayContaining(['runtime/device/agents-setup.ts', 'agents/api/scheduler.ts', 'agents/inference/ort-worker.ts', 'agents/builtin/hazard-detect.ts']));
  }, 40_000);
});
