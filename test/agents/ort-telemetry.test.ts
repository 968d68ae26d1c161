// onnxruntime-node's telemetry stays off: a device process that runs a shipped model through the
// inference worker leaves no event database or device id under $HOME/.cache/Microsoft and no .ses or
// mat-debug log in $TMPDIR (agents/inference/ort-worker.ts, disableOrtTelemetry). Run in a child
// process with a private HOME and TMPDIR, the environment of this one left as it is.

import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'murmur-ort-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// Loads the hazard model in the inference worker, runs one row, and prints the output's length.
const child = `
import { OrtWorker } from '${repo}agents/inference/ort-worker.ts';
import { loadVerifiedModel, shippedModelsDir } from '${repo}agents/models/registry.ts';
const v = loadVerifiedModel(shippedModelsDir, 'hazard-detect');
if (!v.ok) throw new Error(v.error);
const w = new OrtWorker();
const s = await w.load(v.value.bytes);
const out = await w.run(s, new Float32Array(v.value.meta.input.size), 1, v.value.meta.input.size);
await w.close();
console.log(JSON.stringify({ outputs: out.length }));
`;

function listAll(root: string): string[] {
  return readdirSync(root, { recursive: true }).map(String).sort();
}

describe('onnxruntime telemetry', () => {
  it('a device running a model through onnxruntime-node writes nothing of Microsoft telemetry to HOME or TMPDIR', () => {
    const home = join(dir, 'home');
    const tmp = join(dir, 'tmp');
    mkdirSync(home);
    mkdirSync(tmp);
    const env: NodeJS.ProcessEnv = { ...process.env, HOME: home, TMPDIR: tmp };
    delete env.ORT_DISABLE_TELEMETRY;
    const script = join(dir, 'run-model.mts');
    writeFileSync(script, child);
    const r = spawnSync(process.execPath, ['--import', 'tsx', script], { cwd: repo, env, encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    // The model really ran in onnxruntime (so the library was loaded and had its chance to write).
    expect(JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}')).toEqual({ outputs: 16 });
    expect(listAll(home).filter((f) => f.includes('Microsoft') || f.includes('onnxruntime'))).toEqual([]);
    expect(listAll(tmp).filter((f) => f.startsWith('mat-debug') || f === '.ses')).toEqual([]);
  }, 90_000);
});
