// What a device loads at start follows its config: the agents' modules only for a device that runs
// agents (runtime/device/device.ts loadAgentsSetup), as the MAVLink drivers only for hal.driver mavlink
// (test/hal/hal-config.test.ts); and no CommonJS package is imported from an ES module (required
// instead: runtime/lib/require-cjs.ts). Each is checked in a fresh process, whose loader records every
// module it loads and in which format: this process's test files load them all anyway.

import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../support/run-cli.js';

/** The repository's modules (paths from its root) that `probe` loads in a fresh process under tsx, and
 *  the packages' modules that Node's ES module loader loaded as CommonJS (imported, not required). */
function modulesLoaded(probe: string): Promise<{ files: string[]; importedCjs: string[]; out: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'murmur-start-modules-'));
  const list = join(dir, 'loaded');
  // A loader hook that appends every URL it loads, and the format it loads as, to `list`, before tsx's
  // hooks (registered first).
  const hooks = `import { appendFileSync } from 'node:fs';
    export async function load(url, context, next) { const r = await next(url, context); appendFileSync(${JSON.stringify(list)}, r.format + ' ' + url + '\\n'); return r; }`;
  const script = `import { register } from 'node:module';
    register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(hooks)}));
    ${probe}`;
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: repoRoot, encoding: 'utf8', timeout: 30_000 }, (e, stdout, stderr) => {
      try {
        if (e) return reject(new Error(`${e.message}\n${stdout}${stderr}`));
        const root = `file://${repoRoot}/`;
        const loads = readFileSync(list, 'utf8').split('\n').filter((l) => l !== '').map((l) => l.split(' ') as [string, string]);
        const files = loads.filter(([, u]) => u.startsWith(root) && !u.includes('/node_modules/')).map(([, u]) => u.slice(root.length));
        const importedCjs = loads.filter(([f, u]) => f === 'commonjs' && u.includes('/node_modules/')).map(([, u]) => u.replace(/.*\/node_modules\//, ''));
        resolve({ files, importedCjs, out: stdout.trim() });
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

  it('no CommonJS package is imported from an ES module: mqtt, pino and prom-client are required', async () => {
    const r = await modulesLoaded(`const { startCommand } = await import('./runtime/cli/start.ts');
      const { requireCjs } = await import('./runtime/lib/require-cjs.ts');
      console.log(JSON.stringify({ start: typeof startCommand, mqtt: typeof requireCjs('mqtt').connect, pino: typeof requireCjs('pino').pino }));`);
    expect(JSON.parse(r.out)).toEqual({ start: 'function', mqtt: 'function', pino: 'function' });
    expect(r.files).toEqual(expect.arrayContaining(['runtime/links/mqtt-connect.ts', 'runtime/device/observability.ts']));
    expect(r.importedCjs).toEqual([]);
  }, 40_000);
});
