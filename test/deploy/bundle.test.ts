// Real bundles: compile once, bundle linux-arm64 and linux-x64 from the npm cache, check the arm64 bundle
// holds only AArch64 binaries, then install the x64 bundle with install.sh and run a device from it here.

import { spawn, spawnSync, type ChildProcess, type SpawnSyncReturns } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { build } from '../../deploy/build.js';
import { makeBundle, type BundleResult } from '../../deploy/bundle.js';
import { dataFormat } from '../../runtime/device/data-format.js';
import { entryBytes, parseManifest } from '../../deploy/bundle-manifest.js';
import { findNativeFiles } from '../../deploy/elf.js';
import { targets } from '../../deploy/targets.js';
import { Mosquitto, freePort } from '../links/processes.js';
import { repoRoot } from './fixture-bundle.js';
import { runInstall } from './run-install.js';
import { cliRoot } from '../support/run-cli.js';

const mib = (n: number): string => `${(n / 1048576).toFixed(1)} MiB`;

/** Size budgets (.tar.gz): about 30% over the sizes measured when written, so a dependency that swells what
 * must be carried to the field is noticed here rather than on a device's SD card. */
const tarGzBytesMax = { arm64: 24 * 1048576, x64: 33 * 1048576 } as const;

let work: string;
let arm64: BundleResult;
let x64: BundleResult;
let arm64Root: string; // the unpacked arm64 bundle

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'murmur-bundle-'));
  // The run's own compiled tree (test/support/built-cli.global.ts) when there is one, else the test's own
  // dist/: either way it neither needs nor disturbs the repository's.
  const runBuilt = cliRoot() === repoRoot ? null : join(cliRoot(), 'dist');
  const built = runBuilt !== null ? { outDir: runBuilt } : build(repoRoot, join(work, 'dist'));
  if ('jsFiles' in built) console.log(`npm run build: ${built.jsFiles} files in ${built.wallMs} ms`);
  // Both targets at once: npm ci and tar are child processes, mostly waiting on the disk.
  const bundle = (cpu: 'arm64' | 'x64', version: string) => makeBundle({ repoRoot, target: targets[`linux-${cpu}`], outDir: join(work, 'out'), version, prebuiltDist: built.outDir });
  [arm64, x64] = await Promise.all([bundle('arm64', '9.9.1-test'), bundle('x64', '9.9.2-test')]);
  for (const r of [arm64, x64]) console.log(`bundle ${r.target}: ${mib(r.tarGzBytes)} .tar.gz, ${mib(r.unpackedBytes)} unpacked, ${r.files} files, built in ${r.wallMs} ms`);
  mkdirSync(join(work, 'unpacked'));
  const untar = spawnSync('tar', ['-xzf', arm64.file, '-C', join(work, 'unpacked')], { encoding: 'utf8', timeout: 60_000 });
  expect(untar.stderr).toBe('');
  arm64Root = join(work, 'unpacked', arm64.name);
}, 240_000);

afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

describe('offline bundles', () => {
  it('stay within their size budgets', () => {
    expect(arm64.tarGzBytes).toBeLessThan(tarGzBytesMax.arm64);
    expect(x64.tarGzBytes).toBeLessThan(tarGzBytesMax.x64);
    expect(arm64.tarGzBytes).toBeGreaterThan(1048576); // and hold the dependencies at all
  });

  it('the arm64 bundle holds only AArch64 native binaries, serialport, sodium-native and onnxruntime among them', () => {
    const files = findNativeFiles(arm64Root);
    expect(files.map((f) => [f.path, f.header?.machine])).toEqual(files.map((f) => [f.path, 183]));
    const paths = files.map((f) => f.path);
    for (const required of ['@serialport/bindings-cpp/prebuilds/linux-arm64/', 'sodium-native/prebuilds/linux-arm64/sodium-native.node', 'onnxruntime-node/bin/napi-v6/linux/arm64/onnxruntime_binding.node', 'onnxruntime-node/bin/napi-v6/linux/arm64/libonnxruntime.so.1']) {
      expect(paths.some((p) => p.includes(required))).toBe(true);
    }
  });

  it('carries built JavaScript only: no TypeScript sources, no tsx, no dev dependencies', () => {
    const paths = parseManifest(readFileSync(join(arm64Root, 'MANIFEST.tsv'), 'utf8')).map((e) => e.path);
    expect(paths.filter((p) => p.endsWith('.ts') && !p.endsWith('.d.ts') && !p.includes('/node_modules/'))).toEqual([]);
    expect(paths).toContain('release/dist/runtime/cli/murmur.js');
    expect(paths).toContain('release/deploy/murmur-rollback.service'); // murmur.service's OnFailure=
    for (const absent of ['tsx', 'esbuild', 'vitest', 'eslint', 'fast-check', 'playwright-core']) {
      expect(paths.some((p) => p.startsWith(`release/node_modules/${absent}/`))).toBe(false);
    }
  });

  it('lists every file with its size in a manifest, inside the bundle and beside it', () => {
    const entries = parseManifest(readFileSync(join(arm64Root, 'MANIFEST.tsv'), 'utf8'));
    expect(entries.length).toBe(arm64.files);
    for (const e of entries.filter((_, i) => i % 97 === 0)) expect(statSync(join(arm64Root, e.path)).size).toBe(entryBytes(e));
    expect(readFileSync(join(work, 'out', `${arm64.name}.manifest.tsv`), 'utf8')).toBe(readFileSync(join(arm64Root, 'MANIFEST.tsv'), 'utf8'));
  });
});

describe('the x64 bundle, installed by install.sh and run on this machine', () => {
  let current: string; // <prefix>/opt/murmur/current
  let dir: string; // the device's keys, manifest, config and data
  let broker: Mosquitto | undefined;
  let device: ChildProcess | undefined;
  let httpPort = 0;
  const murmur = (args: string[]): SpawnSyncReturns<string> => spawnSync(process.execPath, [join(current, 'bin/murmur.js'), ...args], { cwd: dir, encoding: 'utf8', timeout: 30_000 });
  const ok = (args: string[]): void => {
    const r = murmur(args);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  };

  beforeAll(async () => {
    const prefix = join(work, 'root');
    // The bundle's own install.sh (taken out of the .tar.gz alone), installing from the .tar.gz itself.
    expect(spawnSync('tar', ['-xzf', x64.file, '-C', work, `${x64.name}/install.sh`], { timeout: 30_000 }).status).toBe(0);
    const r = await runInstall(join(work, x64.name, 'install.sh'), ['--prefix', prefix, '--bundle', x64.file]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    console.log(`install.sh of the x64 .tar.gz into a prefix: ${r.wallMs} ms`);
    current = join(prefix, 'opt/murmur/current');
    // A one-validator fleet made with the bundle's own CLI: enough for the device to run on its own.
    dir = join(work, 'device');
    mkdirSync(dir);
    ok(['keygen', '--id', 'authority', '--out', 'authority.key']);
    ok(['keygen', '--id', 'd1', '--out', 'd1.key']);
    ok(['fleet', 'init', '--fleet', 'bundle', '--authority', 'authority.key', '--out', 'fleet.draft.json']);
    ok(['fleet', 'add', 'fleet.draft.json', '--validator', '--key', 'd1.key.pub']);
    ok(['fleet', 'sign', 'fleet.draft.json', '--authority', 'authority.key', '--out', 'fleet.manifest']);
  }, 120_000);

  afterAll(async () => {
    const proc = device;
    if (proc?.pid !== undefined && proc.exitCode === null && proc.signalCode === null) {
      const exited = new Promise<void>((r) => proc.once('exit', () => r()));
      process.kill(proc.pid, 'SIGKILL');
      await exited;
    }
    await broker?.stop();
  });

  it('declares in RELEASE.json the data format its runtime reads (install.sh checks it before making the release current)', () => {
    const info = JSON.parse(readFileSync(join(current, 'RELEASE.json'), 'utf8')) as { dataFormat?: unknown };
    expect(info.dataFormat).toBe(dataFormat);
  });

  it('installs only x86-64 native binaries', () => {
    const files = findNativeFiles(join(current, '/'));
    expect(files.length).toBeGreaterThanOrEqual(4);
    expect(files.filter((f) => f.header?.machine !== 62)).toEqual([]);
  });

  it('answers murmur --help from dist/ (no TypeScript in the release)', () => {
    const r = murmur(['--help']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('Usage: murmur <command>');
  });

  it('verifies the signed fleet manifest with the bundled sodium-native', () => {
    const r = murmur(['fleet', 'verify', 'fleet.manifest', '--authority-key', 'authority.key.pub']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const probe = spawnSync(process.execPath, ['-e', "import('sodium-native').then((s) => console.log(typeof s.default.crypto_sign_detached))"], { cwd: current, encoding: 'utf8', timeout: 30_000 });
    expect(probe.stdout.trim()).toBe('function');
  });

  it('loads every production dependency from the installed release (nothing a device needs was pruned)', () => {
    const script = [
      "import { readFileSync } from 'node:fs';",
      "const deps = Object.keys(JSON.parse(readFileSync('package.json', 'utf8')).dependencies).filter((d) => d !== 'tsx');",
      'const failed = [];',
      'for (const d of deps) { try { await import(d); } catch (e) { failed.push(`${d}: ${String(e).split("\\n")[0]}`); } }',
      'console.log(JSON.stringify({ deps, failed }));',
    ].join('\n');
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: current, encoding: 'utf8', timeout: 60_000 });
    expect(r.stderr).toBe('');
    const out = JSON.parse(r.stdout) as { deps: string[]; failed: string[] };
    expect(out.deps).toEqual(expect.arrayContaining(['serialport', 'sodium-native', 'onnxruntime-node', 'node-mavlink', 'mavlink-mappings']));
    expect(out.failed).toEqual([]);
  });

  it('starts a device (murmur start) that becomes ready and passes the release\'s own health check', async () => {
    broker = await Mosquitto.start();
    httpPort = await freePort();
    writeFileSync(join(dir, 'device.yaml'), ['id: d1', 'key: d1.key', 'manifest: fleet.manifest', 'dataDir: data', `mqtt: { url: "${broker.url}" }`, `http: { port: ${httpPort} }`, ''].join('\n'));
    const t0 = performance.now();
    const proc = spawn(process.execPath, [join(current, 'bin/murmur.js'), 'start', '--config', join(dir, 'device.yaml')], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    device = proc;
    let output = '';
    const readyMs = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`not ready within 30 s:\n${output.slice(-2000)}`)), 30_000);
      const onData = (b: Buffer): void => {
        output += b.toString('utf8');
        if (output.includes('"event":"ready"')) {
          clearTimeout(timer);
          resolve(Math.round(performance.now() - t0));
        }
      };
      proc.stdout.on('data', onData);
      proc.stderr.on('data', onData);
      proc.once('exit', (code) => reject(new Error(`murmur start exited with ${code} before ready:\n${output.slice(-2000)}`)));
    });
    console.log(`device from the x64 bundle: start to ready ${readyMs} ms`);
    const res = await fetch(`http://127.0.0.1:${httpPort}/health`);
    expect(res.status).toBe(200);
    expect((await res.json()) as { node: string; ready: boolean }).toMatchObject({ node: 'd1', ready: true });
    // install.sh's default health check, from the installed release, against the running device.
    const check = spawnSync(process.execPath, [join(current, 'deploy/health-check.mjs'), '--config', join(dir, 'device.yaml')], { encoding: 'utf8', timeout: 30_000 });
    expect(check.stdout).toContain(`GET http://127.0.0.1:${httpPort}/health -> 200`);
    expect(check.status).toBe(0);
  }, 60_000);

  it('runs at rest in bounded memory, and stops cleanly on SIGTERM', async () => {
    const proc = device as ChildProcess;
    await new Promise((r) => setTimeout(r, 3_000));
    const rssKb = Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${proc.pid}/status`, 'utf8'))?.[1]);
    console.log(`device from the x64 bundle: resident memory after 3 s at rest ${(rssKb / 1024).toFixed(1)} MiB`);
    expect(rssKb).toBeGreaterThan(10 * 1024);
    expect(rssKb).toBeLessThan(150 * 1024);
    const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
    process.kill(proc.pid as number, 'SIGTERM');
    expect(await exited).toBe(0);
  });
});
